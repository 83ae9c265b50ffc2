//! Region files: permissions on creation, exclusivity, and every way a file
//! can be unfit to map, each with its own error.

mod shm_common;

use std::fs::{self, OpenOptions};
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};

use memwire::layout::LayoutError;
use memwire_std::shm::{ShmError, ShmRegion, ShmWriter};
use shm_common::{SCHEMA, TempRoot};

/// Creates `t/<name>` and returns the file's path.
fn region_file(root: &TempRoot, name: &str) -> std::path::PathBuf {
    let path = format!("t/{name}");
    drop(ShmWriter::create(&root.root, &path, SCHEMA.as_schema()).unwrap());
    root.root.file_of(&path).unwrap()
}

fn patch(file: &std::path::Path, offset: u64, bytes: &[u8]) {
    OpenOptions::new()
        .write(true)
        .open(file)
        .unwrap()
        .write_all_at(bytes, offset)
        .unwrap();
}

fn open_err(root: &TempRoot, name: &str) -> ShmError {
    let path = format!("t/{name}");
    let err = ShmRegion::open(&root.root, &path).expect_err("the open must fail");
    // A writer open checks the same things.
    let writer_err = ShmWriter::open(&root.root, &path).expect_err("the writer open must fail");
    assert_eq!(err.to_string(), writer_err.to_string());
    println!("{name}: {err}");
    err
}

fn bad_header(err: ShmError) -> LayoutError {
    match err {
        ShmError::BadHeader { source, .. } => source,
        other => panic!("expected BadHeader, got {other:?}"),
    }
}

#[test]
fn files_are_owner_only_whatever_the_umask() {
    let root = TempRoot::new("umask");
    let old = rustix::process::umask(rustix::fs::Mode::empty());
    let file = region_file(&root, "open");
    rustix::process::umask(old);
    assert_eq!(fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
    assert_eq!(
        fs::metadata(file.parent().unwrap()).unwrap().mode() & 0o777,
        0o700
    );
    // Creation leaves no temporary file behind.
    let names: Vec<_> = fs::read_dir(file.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["open"]);
    // Space is reserved, not sparse.
    let meta = fs::metadata(&file).unwrap();
    assert!(
        meta.blocks() * 512 >= meta.len(),
        "{} blocks for {} bytes",
        meta.blocks(),
        meta.len()
    );
}

#[test]
fn creation_never_replaces_and_one_writer_at_a_time() {
    let root = TempRoot::new("excl");
    let writer = ShmWriter::create(&root.root, "t/r", SCHEMA.as_schema()).unwrap();
    assert!(matches!(
        ShmWriter::create(&root.root, "t/r", SCHEMA.as_schema()),
        Err(ShmError::AlreadyExists { .. })
    ));
    assert!(matches!(
        ShmWriter::open(&root.root, "t/r"),
        Err(ShmError::WriterBusy { pid, .. }) if pid == std::process::id()
    ));
    writer.set_by_name("mode", 5u32).unwrap();
    drop(writer);
    // The lock went with the writer; the data stayed.
    let again = ShmWriter::open_or_create(&root.root, "t/r", SCHEMA.as_schema()).unwrap();
    assert!(again.recovered().is_none());
    assert_eq!(again.get_by_name::<u32>("mode").unwrap(), 5);
}

#[test]
fn paths_are_checked() {
    let root = TempRoot::new("paths");
    for bad in [
        "",
        "t",
        "t/",
        "/r",
        "t/r/x",
        "../r",
        "t/..",
        "t/.hidden",
        "t/a b",
        "t/r\0",
    ] {
        assert!(
            matches!(ShmRegion::open(&root.root, bad), Err(ShmError::BadPath(_))),
            "{bad:?}"
        );
    }
    assert!(matches!(
        ShmRegion::open(&root.root, "t/none"),
        Err(ShmError::NotFound { .. })
    ));
}

#[test]
fn every_unfit_file_has_its_own_error() {
    let root = TempRoot::new("matrix");
    let total = region_file(&root, "good").metadata().unwrap().len();

    let f = region_file(&root, "magic");
    patch(&f, 0, b"NOTMEMW\0");
    assert_eq!(bad_header(open_err(&root, "magic")), LayoutError::BadMagic);

    let f = region_file(&root, "version");
    patch(&f, 8, &2u16.to_le_bytes());
    assert_eq!(
        bad_header(open_err(&root, "version")),
        LayoutError::UnsupportedVersion(2)
    );

    let f = region_file(&root, "checksum");
    patch(&f, 64, &[0x55]);
    assert_eq!(
        bad_header(open_err(&root, "checksum")),
        LayoutError::ChecksumMismatch
    );

    let f = region_file(&root, "table");
    patch(&f, 40, &0x1000_0000u32.to_le_bytes());
    assert_eq!(
        bad_header(open_err(&root, "table")),
        LayoutError::TableOutOfBounds
    );

    let f = region_file(&root, "index");
    patch(&f, 44, &0x1000_0000u32.to_le_bytes());
    assert_eq!(
        bad_header(open_err(&root, "index")),
        LayoutError::IndexOutOfBounds
    );

    // The data area moved back over the table and index.
    let f = region_file(&root, "data");
    patch(&f, 48, &192u32.to_le_bytes());
    assert_eq!(
        bad_header(open_err(&root, "data")),
        LayoutError::DataOutOfBounds
    );

    // Sections that no longer add up to the declared length.
    let f = region_file(&root, "total");
    patch(&f, 56, &0x7fff_ffc0u32.to_le_bytes());
    assert_eq!(
        bad_header(open_err(&root, "total")),
        LayoutError::BadTotalLen
    );

    // Declared length larger than the file: the file lost its last 64 bytes.
    let f = region_file(&root, "short");
    OpenOptions::new()
        .write(true)
        .open(&f)
        .unwrap()
        .set_len(total - 64)
        .unwrap();
    assert_eq!(bad_header(open_err(&root, "short")), LayoutError::Truncated);

    let f = region_file(&root, "empty");
    OpenOptions::new()
        .write(true)
        .open(&f)
        .unwrap()
        .set_len(0)
        .unwrap();
    assert!(matches!(
        open_err(&root, "empty"),
        ShmError::TooShort { len: 0, .. }
    ));

    let f = region_file(&root, "public");
    fs::set_permissions(&f, fs::Permissions::from_mode(0o606)).unwrap();
    assert!(matches!(
        open_err(&root, "public"),
        ShmError::Writable { mode: 0o606, .. }
    ));

    let f = region_file(&root, "group");
    fs::set_permissions(&f, fs::Permissions::from_mode(0o620)).unwrap();
    assert!(matches!(
        open_err(&root, "group"),
        ShmError::Writable { mode: 0o620, .. }
    ));

    let good = root.root.file_of("t/good").unwrap();
    std::os::unix::fs::symlink(&good, good.with_file_name("link")).unwrap();
    assert!(matches!(open_err(&root, "link"), ShmError::Symlink { .. }));

    fs::create_dir(good.with_file_name("dir")).unwrap();
    assert!(matches!(
        open_err(&root, "dir"),
        ShmError::WrongFileType { .. }
    ));

    // A schema other than the one expected.
    #[derive(memwire::Schema, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    #[repr(C)]
    struct Other {
        x: u32,
    }
    assert!(matches!(
        ShmRegion::<Other>::open_record(&root.root, "t/good"),
        Err(ShmError::BadHeader {
            source: LayoutError::SchemaMismatch,
            ..
        })
    ));

    // The good file still opens.
    ShmRegion::open(&root.root, "t/good").unwrap();
}

#[test]
fn tenant_directories_are_checked() {
    let root = TempRoot::new("tenants");
    let file = region_file(&root, "r");
    let tenant = file.parent().unwrap();

    std::os::unix::fs::symlink(tenant, root.dir().join("alias")).unwrap();
    assert!(matches!(
        ShmRegion::open(&root.root, "alias/r"),
        Err(ShmError::Symlink { .. })
    ));

    fs::set_permissions(tenant, fs::Permissions::from_mode(0o750)).unwrap();
    assert!(matches!(
        ShmRegion::open(&root.root, "t/r"),
        Err(ShmError::OpenDirectory { mode: 0o750, .. })
    ));
}

#[test]
fn foreign_owner_is_refused() {
    if !rustix::process::geteuid().is_root() {
        println!("note: not root, cannot chown; the foreign-owner check is not exercised");
        return;
    }
    let root = TempRoot::new("owner");
    let file = region_file(&root, "theirs");
    std::os::unix::fs::chown(&file, Some(65534), Some(65534)).unwrap();
    match open_err(&root, "theirs") {
        ShmError::ForeignOwner {
            owner, expected, ..
        } => {
            assert_eq!(owner, 65534);
            assert_eq!(expected, 0);
        }
        other => panic!("expected ForeignOwner, got {other:?}"),
    }
}
