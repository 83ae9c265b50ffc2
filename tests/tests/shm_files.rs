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
    // One name: the temporary one is gone, so opens accept the file.
    assert_eq!(fs::metadata(&file).unwrap().nlink(), 1);
    ShmRegion::open(&root.root, "t/open").expect("our own file opens");
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
    patch(&f, 8, &1u16.to_le_bytes());
    assert_eq!(
        bad_header(open_err(&root, "version")),
        LayoutError::UnsupportedVersion(1)
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

    // Readable by others: the values would be open to them.
    for (name, mode) in [("group-read", 0o640), ("world-read", 0o604)] {
        let f = region_file(&root, name);
        fs::set_permissions(&f, fs::Permissions::from_mode(mode)).unwrap();
        let err = open_err(&root, name);
        assert!(
            matches!(&err, ShmError::Readable { mode: m, .. } if *m == mode),
            "{mode:o}: {err:?}"
        );
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }

    // A second name for one region's file: neither name opens, so no
    // region is served under another's name.
    let f = region_file(&root, "linked");
    fs::hard_link(&f, f.with_file_name("alias")).unwrap();
    for name in ["linked", "alias"] {
        let err = open_err(&root, name);
        assert!(
            matches!(&err, ShmError::HardLinked { links: 2, .. }),
            "{name}: {err:?}"
        );
    }
    fs::remove_file(f.with_file_name("alias")).unwrap();
    ShmRegion::open(&root.root, "t/linked").expect("one name again");

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
        Err(ShmError::SchemaMismatch { .. })
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

/// Set to `1` to skip [`foreign_owner_is_refused`] where the tests do not
/// run as root (only root can give a file to another user).
const SKIP_CHOWN: &str = "MEMWIRE_SKIP_CHOWN";

#[test]
fn foreign_owner_is_refused() {
    if !rustix::process::geteuid().is_root() {
        let skip = std::env::var(SKIP_CHOWN).is_ok_and(|v| v == "1");
        let banner = "!".repeat(72);
        // Past the harness's capture, so a skip shows in a plain `cargo test`.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            if skip {
                format!(
                    "\n{banner}\nforeign_owner_is_refused SKIPPED ({SKIP_CHOWN}=1): \
                     not root, cannot chown.\n{banner}\n"
                )
            } else {
                format!(
                    "\n{banner}\nforeign_owner_is_refused CANNOT RUN: not root, cannot chown.\n\
                     Set {SKIP_CHOWN}=1 to skip it where the tests cannot run as root.\n{banner}\n"
                )
            }
            .as_bytes(),
        );
        assert!(
            skip,
            "foreign_owner_is_refused needs root to chown (set {SKIP_CHOWN}=1 to skip it)"
        );
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

/// The root may be any mode without write bits for group or others; with
/// either, opening and creating are refused.
#[test]
fn a_group_or_world_writable_root_is_refused() {
    let root = TempRoot::new("root-mode");
    region_file(&root, "r");
    for mode in [0o770, 0o702, 0o777] {
        fs::set_permissions(root.dir(), fs::Permissions::from_mode(mode)).unwrap();
        let refused = ShmRegion::open(&root.root, "t/r");
        assert!(
            matches!(&refused, Err(ShmError::OpenDirectory { mode: m, path }) if *m == mode && path == root.dir()),
            "{mode:o}: {refused:?}"
        );
        let refused = ShmWriter::create(&root.root, "t/other", SCHEMA.as_schema());
        assert!(
            matches!(&refused, Err(ShmError::OpenDirectory { mode: m, .. }) if *m == mode),
            "{mode:o}: {refused:?}"
        );
    }
    // Read and search bits for others are the user's choice.
    fs::set_permissions(root.dir(), fs::Permissions::from_mode(0o755)).unwrap();
    ShmRegion::open(&root.root, "t/r").unwrap();
}

/// Marks the run of [`root_from_env_picks_in_order`] in a child process,
/// whose environment the parent sets; the child prints the root it picked.
const ROOT_CHILD: &str = "MEMWIRE_ROOT_FROM_ENV_CHILD";

/// `Root::from_env` in a child process with `MEMWIRE_ROOT` and
/// `XDG_RUNTIME_DIR` as given (`None`: unset).
fn root_from_env(memwire_root: Option<&str>, xdg: Option<&str>) -> std::path::PathBuf {
    let mut child = std::process::Command::new(std::env::current_exe().unwrap());
    child
        .args(["root_from_env_picks_in_order", "--exact", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(ROOT_CHILD, "1")
        .env_remove(memwire_std::shm::Root::ENV)
        .env_remove("XDG_RUNTIME_DIR");
    if let Some(dir) = memwire_root {
        child.env(memwire_std::shm::Root::ENV, dir);
    }
    if let Some(dir) = xdg {
        child.env("XDG_RUNTIME_DIR", dir);
    }
    let out = child.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the child failed:\n{stdout}");
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("root: "))
        .unwrap_or_else(|| panic!("the child printed no root:\n{stdout}"));
    line.into()
}

/// The documented order: `$MEMWIRE_ROOT`, then `$XDG_RUNTIME_DIR/memwire`,
/// then `/dev/shm/memwire-<uid>` on Linux, else `<temp dir>/memwire-<uid>`;
/// an empty variable counts as unset.
#[test]
fn root_from_env_picks_in_order() {
    if std::env::var_os(ROOT_CHILD).is_some() {
        // On a line of its own: the harness prints the test name before it.
        println!(
            "\nroot: {}",
            memwire_std::shm::Root::from_env().dir().display()
        );
        return;
    }
    assert_eq!(
        root_from_env(Some("/srv/mw"), Some("/run/user/7")),
        std::path::Path::new("/srv/mw")
    );
    assert_eq!(
        root_from_env(None, Some("/run/user/7")),
        std::path::Path::new("/run/user/7/memwire")
    );
    assert_eq!(
        root_from_env(Some(""), Some("/run/user/7")),
        std::path::Path::new("/run/user/7/memwire")
    );
    let uid = rustix::process::geteuid().as_raw();
    let last = if cfg!(target_os = "linux") && std::path::Path::new("/dev/shm").is_dir() {
        std::path::PathBuf::from(format!("/dev/shm/memwire-{uid}"))
    } else {
        std::env::temp_dir().join(format!("memwire-{uid}"))
    };
    assert_eq!(root_from_env(None, None), last);
    assert_eq!(root_from_env(Some(""), Some("")), last);
}
