//! What the hub refuses, as `docs/hub.md` says: a remote write while a
//! local writer holds the region (`Busy`, nothing written), a write larger
//! than the hub keeps of a write in parts (`LimitExceeded`), a region file it cannot open (another
//! schema, a corrupt header, a link: that region's subscribers get the
//! reason, the other regions are served), and an unusable root at start.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{Raw, options, toml_path};
use memwire::codec::{ErrorCode, Frame, Subscribe};
use memwire::schema::{Kind, SchemaBuilder};
use memwire_std::client::{Client, ClientError};
use memwire_std::hub::{Hub, HubError};
use memwire_std::shm::{Root, ShmError, ShmRegion, ShmWriter};

/// More bytes than the hub's default largest frame (64 KiB), and than it
/// keeps of a write in parts here (`max_write`).
const BLOB: usize = 70_000;

fn config_text(root: &std::path::Path) -> String {
    format!(
        r#"
root = {root}
[listen]
tcp = "127.0.0.1:0"
[limits]
max_write = 65536
[[tenant]]
name = "t"
[[tenant.client]]
name = "c"
secret = "s"
rights = [{{ regions = "*", access = "read-write" }}]
[[tenant.region]]
name = "r"
variables = [
  {{ name = "setpoint", kind = "f32", writable = true }},
  {{ name = "blob", kind = "u8", count = {BLOB}, writable = true }},
]
"#,
        root = toml_path(root),
    )
}

/// A hub on a fresh root and a read-write client of it.
async fn hub_and_client(dir: &std::path::Path) -> (Hub, Client, Root) {
    let root_dir = dir.join("regions");
    let hub = common::start(dir, &config_text(&root_dir)).await;
    let url = format!("tcp://{}", hub.tcp_addr().expect("tcp"));
    let client = Client::connect(&url, options("c", "t", "s"))
        .await
        .expect("connect");
    (hub, client, Root::new(root_dir))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_write_while_a_local_writer_holds_the_region_is_busy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (hub, client, root) = hub_and_client(dir.path()).await;
    let mirror = client.subscribe("t/r").await.expect("subscribe");

    let local = ShmWriter::open(&root, "t/r").expect("local writer");
    let before = common::file_snapshot(&root, "t/r");
    let refused = mirror.set("setpoint", 2.5f32).await;
    assert!(
        matches!(refused, Err(ClientError::Hub(ErrorCode::Busy))),
        "{refused:?}"
    );
    assert_eq!(
        common::file_snapshot(&root, "t/r"),
        before,
        "a refused write changed the region file"
    );

    // The lock gone, the same write applies.
    drop(local);
    let generation = mirror.set("setpoint", 2.5f32).await.expect("write");
    let file = ShmRegion::open(&root, "t/r").expect("region");
    assert!(file.generation().expect("generation") >= generation);
    assert_eq!(file.get_by_name::<f32>("setpoint").expect("setpoint"), 2.5);
    client.close().await;
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_larger_than_the_hub_keeps_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (hub, client, root) = hub_and_client(dir.path()).await;
    let mirror = client.subscribe("t/r").await.expect("subscribe");
    let before = common::file_snapshot(&root, "t/r");

    let refused = mirror.write("blob", &vec![7u8; BLOB]).await;
    assert!(
        matches!(refused, Err(ClientError::Hub(ErrorCode::LimitExceeded))),
        "{refused:?}"
    );
    assert_eq!(common::file_snapshot(&root, "t/r"), before);

    // The connection is still good for a write that fits.
    mirror.set("setpoint", 1.0f32).await.expect("a small write");
    client.close().await;
    hub.shutdown().await;
}

/// A hub of regions `r` (the one of `config_text`), `bad`, `link` and
/// `ok`, all of one schema.
fn four_regions(root: &std::path::Path) -> String {
    let mut text = config_text(root);
    for name in ["bad", "link", "ok"] {
        text.push_str(&format!(
            r#"
[[tenant.region]]
name = "{name}"
variables = [{{ name = "setpoint", kind = "f32", writable = true }}]
"#
        ));
    }
    text
}

/// Subscribes to `path` over a raw connection and returns the error frame's
/// code and reason.
async fn subscribe_error(addr: std::net::SocketAddr, path: &str) -> (ErrorCode, String) {
    let mut raw = Raw::connect(addr).await;
    raw.authenticate("t", "c", b"s").await.expect("welcome");
    raw.send(&Frame::Subscribe(Subscribe {
        handle: 7,
        path,
        resume: None,
        variables: true,
        full: false,
    }))
    .await;
    let frame = raw.expect_frame().await;
    match Frame::decode(&frame) {
        Ok(Frame::Error(e)) => {
            assert_eq!(e.handle, Some(7), "the error ends the subscription only");
            (e.code, e.reason.to_owned())
        }
        other => panic!("{path}: expected an error frame, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn region_files_that_cannot_be_opened_leave_the_others_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root_dir = dir.path().join("regions");
    let root = Root::new(&root_dir);
    // `r`: a file of another schema.
    let other = SchemaBuilder::<1>::new()
        .var("setpoint", Kind::F64, 1)
        .build();
    let writer = ShmWriter::create(&root, "t/r", other.as_schema()).expect("create");
    writer.set_by_name("setpoint", 4.0f64).expect("write");
    drop(writer);
    // `bad`: a corrupt header (the magic overwritten).
    drop(ShmWriter::create(&root, "t/bad", other.as_schema()).expect("create"));
    let bad = root.file_of("t/bad").expect("path");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&bad)
        .and_then(|f| std::os::unix::fs::FileExt::write_all_at(&f, b"NOTMEMW\0", 0))
        .expect("corrupt");
    // `link`: a symbolic link to `r`'s file.
    std::os::unix::fs::symlink(
        root.file_of("t/r").expect("path"),
        root.file_of("t/link").expect("path"),
    )
    .expect("symlink");
    let bytes = |path: &str| std::fs::read(root.file_of(path).expect("path")).expect("read");
    let before = [bytes("t/r"), bytes("t/bad")];

    let hub = common::start(dir.path(), &four_regions(&root_dir)).await;
    let addr = hub.tcp_addr().expect("tcp");

    // The good region is served and written.
    let client = Client::connect(&format!("tcp://{addr}"), options("c", "t", "s"))
        .await
        .expect("connect");
    let mirror = client.subscribe("t/ok").await.expect("the good region");
    mirror.set("setpoint", 2.5f32).await.expect("write");
    let local = ShmRegion::open(&root, "t/ok").expect("open");
    assert_eq!(local.get_by_name::<f32>("setpoint").expect("read"), 2.5);

    // Each broken region's subscriber is told what is wrong with it.
    for (path, problem) in [
        ("t/r", "another schema"),
        ("t/bad", "not a valid region"),
        ("t/link", "symbolic link"),
    ] {
        let (code, reason) = subscribe_error(addr, path).await;
        assert_eq!(code, ErrorCode::Other, "{path}: {reason}");
        assert!(reason.contains(problem), "{path}: {reason}");
    }
    assert!(matches!(
        client.subscribe("t/r").await,
        Err(ClientError::Hub(ErrorCode::Other))
    ));
    // A region that is not configured is still unknown.
    assert_eq!(
        subscribe_error(addr, "t/none").await.0,
        ErrorCode::UnknownRegion
    );

    client.close().await;
    hub.shutdown().await;
    // The files are left as they were.
    assert!([bytes("t/r"), bytes("t/bad")] == before);
    assert!(root.file_of("t/link").expect("path").is_symlink());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_root_stops_the_hub() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root_dir = dir.path().join("regions");
    std::fs::create_dir(&root_dir).expect("root");
    std::fs::set_permissions(&root_dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let config = common::config(dir.path(), &config_text(&root_dir));
    match Hub::start(config).await {
        Err(HubError::Root {
            path,
            source: ShmError::OpenDirectory { mode: 0o777, .. },
        }) => assert_eq!(path, root_dir),
        Err(e) => panic!("refused, but not for the root: {e:?}"),
        Ok(_) => panic!("the hub started on a world-writable root"),
    }
}
