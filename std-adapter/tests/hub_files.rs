//! What the hub does when a served file is removed, renamed, replaced,
//! changed or truncated under it, and when a broken file is fixed, as `docs/hub.md`
//! says: it stops serving the old file, its subscribers get an error that
//! names the problem, a remote write is refused rather than written into a
//! file no one else sees, and a valid file of the region's schema under the
//! name is taken up as a new instance, without a restart.

mod common;

use std::net::SocketAddr;
use std::os::unix::fs::FileExt;
use std::path::Path;

use common::{Raw, options, set_count, toml_path};
use memwire::codec::{ErrorCode, Frame, Subscribe};
use memwire::schema::{Kind, SchemaBuf, SchemaBuilder};
use memwire_std::client::{Client, ClientError, Mirror};
use memwire_std::hub::Hub;
use memwire_std::shm::{Root, ShmRegion, ShmWriter};

/// The schema of `t/r` and `t/ok`, as the configuration declares it.
static SCHEMA: SchemaBuf<2> = SchemaBuilder::new()
    .var("count", Kind::U64, 1)
    .var("setpoint", Kind::F32, 1)
    .writable()
    .build();

fn config_text(root: &Path) -> String {
    let mut text = format!(
        r#"
root = {root}
[listen]
tcp = "127.0.0.1:0"
[[tenant]]
name = "t"
[[tenant.client]]
name = "c"
secret = "s"
rights = [{{ regions = "*", access = "read-write" }}]
"#,
        root = toml_path(root),
    );
    for name in ["r", "ok"] {
        text.push_str(&format!(
            r#"
[[tenant.region]]
name = "{name}"
variables = [
  {{ name = "count", kind = "u64" }},
  {{ name = "setpoint", kind = "f32", writable = true }},
]
"#
        ));
    }
    text
}

/// A hub on `root_dir` and a read-write client of it.
async fn hub_and_client(dir: &Path, root_dir: &Path) -> (Hub, Client) {
    let hub = common::start(dir, &config_text(root_dir)).await;
    let url = format!("tcp://{}", hub.tcp_addr().expect("tcp"));
    let client = Client::connect(&url, options("c", "t", "s"))
        .await
        .expect("connect");
    (hub, client)
}

/// Subscribes to `path` over a raw connection: `Ok` when the hub starts
/// sending the region, else the error frame's code and reason.
async fn subscribe(addr: SocketAddr, path: &str) -> Result<(), (ErrorCode, String)> {
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
        Ok(Frame::Error(e)) => Err((e.code, e.reason.to_owned())),
        Ok(Frame::Schema(_)) => Ok(()),
        other => panic!("{path}: expected an error or a schema, got {other:?}"),
    }
}

/// A raw subscription to `path` that the hub is sending.
async fn raw_subscriber(addr: SocketAddr, path: &str) -> Raw {
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
    assert!(
        matches!(Frame::decode(&frame), Ok(Frame::Schema(_))),
        "{path} not served"
    );
    raw
}

/// The error that ends `raw`'s subscription: its code and reason.
async fn ending_error(raw: &mut Raw) -> (ErrorCode, String) {
    loop {
        let frame = raw.expect_frame().await;
        if let Ok(Frame::Error(e)) = Frame::decode(&frame) {
            assert_eq!(e.handle, Some(7), "the error ends the subscription only");
            return (e.code, e.reason.to_owned());
        }
    }
}

/// Waits until subscribing to `path` is refused with a reason holding one
/// of `problems`.
async fn refused_for(addr: SocketAddr, path: &str, problems: &[&str]) {
    let deadline = tokio::time::Instant::now() + common::DEADLINE;
    loop {
        match subscribe(addr, path).await {
            Err((code, reason)) if problems.iter().any(|p| reason.contains(p)) => {
                assert_eq!(code, ErrorCode::Other, "{reason}");
                return;
            }
            other => assert!(
                tokio::time::Instant::now() < deadline,
                "{path}: not refused for {problems:?} within the deadline: {other:?}"
            ),
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A local writer creates `t/r` anew with `count`: the hub serves the new
/// instance, and a remote write of `setpoint` reaches the new file.
async fn new_file_served(client: &Client, root: &Root, count: u64, setpoint: f32) {
    let writer = ShmWriter::create(root, "t/r", SCHEMA.as_schema()).expect("create");
    let instance = writer.reader().instance();
    writer.set_by_name("count", count).expect("write");
    drop(writer);
    let mirror = served_again(client, "t/r", count).await;
    mirror
        .set("setpoint", setpoint)
        .await
        .expect("a write to the new file");
    let file = ShmRegion::open(root, "t/r").expect("open");
    assert_eq!(file.instance(), instance);
    assert_eq!(file.get_by_name::<f32>("setpoint").expect("read"), setpoint);
}

/// Subscribes to `path` until the hub serves it again, and waits until the
/// mirror shows `count`.
async fn served_again(client: &Client, path: &str, count: u64) -> Mirror {
    let deadline = tokio::time::Instant::now() + common::DEADLINE;
    let mirror = loop {
        match client.subscribe(path).await {
            Ok(mirror) => break mirror,
            Err(e) => assert!(
                tokio::time::Instant::now() < deadline,
                "{path} not served again: {e}"
            ),
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    common::eventually("the new file's data reaches the mirror", || {
        mirror.get::<u64>("count").ok() == Some(count)
    })
    .await;
    mirror
}

/// `rm` of a served file, then a local writer creating a new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_file_is_dropped_and_its_successor_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root_dir = dir.path().join("regions");
    let root = Root::new(&root_dir);
    let (hub, client) = hub_and_client(dir.path(), &root_dir).await;
    let addr = hub.tcp_addr().expect("tcp");
    let mirror = client.subscribe("t/r").await.expect("subscribe");
    let other = client.subscribe("t/ok").await.expect("subscribe");
    let mut raw = raw_subscriber(addr, "t/r").await;
    set_count(&root, "t/r", 1);
    common::eventually("the first value", || {
        mirror.get::<u64>("count").ok() == Some(1)
    })
    .await;

    std::fs::remove_file(root.file_of("t/r").expect("path")).expect("rm");
    // Before the scanner's next look: the write is checked itself.
    assert!(
        matches!(
            mirror.set("setpoint", 2.5f32).await,
            Err(ClientError::Hub(ErrorCode::Other))
        ),
        "a write into the removed file is not refused"
    );
    common::eventually("the subscriber is told", || mirror.is_ended()).await;
    let (code, reason) = ending_error(&mut raw).await;
    assert_eq!(code, ErrorCode::Other);
    assert!(reason.contains("removed or renamed"), "{reason}");
    refused_for(addr, "t/r", &["removed or renamed"]).await;
    // The other region is still served and written.
    other
        .set("setpoint", 1.5f32)
        .await
        .expect("the other region");

    // A local writer creates the region anew: a new instance.
    new_file_served(&client, &root, 7, 3.5).await;

    client.close().await;
    hub.shutdown().await;
}

/// A served file truncated to nothing: the hub survives the fault, drops
/// the file through the same path as a removed one, with its own reason,
/// and takes up a valid file under the name with a fresh mapping.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_file_is_dropped_and_its_successor_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root_dir = dir.path().join("regions");
    let root = Root::new(&root_dir);
    let (hub, client) = hub_and_client(dir.path(), &root_dir).await;
    let addr = hub.tcp_addr().expect("tcp");
    let mirror = client.subscribe("t/r").await.expect("subscribe");
    let mut raw = raw_subscriber(addr, "t/r").await;
    set_count(&root, "t/r", 1);
    common::eventually("the first value", || {
        mirror.get::<u64>("count").ok() == Some(1)
    })
    .await;

    let path = root.file_of("t/r").expect("path");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open")
        .set_len(0)
        .expect("truncate");
    // Before the scanner's next look: the write checks the file itself.
    assert!(
        matches!(
            mirror.set("setpoint", 2.5f32).await,
            Err(ClientError::Hub(ErrorCode::Other))
        ),
        "a write into the truncated file is not refused"
    );
    let (code, reason) = ending_error(&mut raw).await;
    assert_eq!(code, ErrorCode::Other);
    assert_eq!(
        reason,
        "region unavailable: its file was truncated while served"
    );
    common::eventually("the subscriber is told", || mirror.is_ended()).await;

    // The short file under the name is no region: refused for that, until
    // a valid file replaces it.
    refused_for(addr, "t/r", &["truncated"]).await;

    std::fs::remove_file(&path).expect("rm");
    new_file_served(&client, &root, 9, 4.5).await;

    client.close().await;
    hub.shutdown().await;
}

/// `mv` of a served file: the moved file is never written by the hub, and
/// moving it back serves it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_file_is_dropped_and_served_again_once_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root_dir = dir.path().join("regions");
    let root = Root::new(&root_dir);
    let (hub, client) = hub_and_client(dir.path(), &root_dir).await;
    let addr = hub.tcp_addr().expect("tcp");
    let mirror = client.subscribe("t/r").await.expect("subscribe");
    set_count(&root, "t/r", 3);
    common::eventually("the first value", || {
        mirror.get::<u64>("count").ok() == Some(3)
    })
    .await;

    let file = root.file_of("t/r").expect("path");
    let moved = root.file_of("t/moved").expect("path");
    std::fs::rename(&file, &moved).expect("mv");
    let before = std::fs::read(&moved).expect("read");
    assert!(
        matches!(
            mirror.set("setpoint", 2.5f32).await,
            Err(ClientError::Hub(ErrorCode::Other))
        ),
        "a write into the renamed file is not refused"
    );
    assert!(
        std::fs::read(&moved).expect("read") == before,
        "the renamed file was written"
    );
    common::eventually("the subscriber is told", || mirror.is_ended()).await;
    refused_for(addr, "t/r", &["removed or renamed"]).await;

    std::fs::rename(&moved, &file).expect("mv back");
    let mirror = served_again(&client, "t/r", 3).await;
    mirror.set("setpoint", 4.5f32).await.expect("write");

    client.close().await;
    hub.shutdown().await;
}

/// A new file renamed over a served one (an atomic replacement): the
/// subscriber resyncs to the new instance without a gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_file_is_served_as_a_new_instance() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root_dir = dir.path().join("regions");
    let root = Root::new(&root_dir);
    let (hub, client) = hub_and_client(dir.path(), &root_dir).await;
    let mirror = client.subscribe("t/r").await.expect("subscribe");
    set_count(&root, "t/r", 1);
    common::eventually("the first value", || {
        mirror.get::<u64>("count").ok() == Some(1)
    })
    .await;

    // The successor is made beside the hub's root, then renamed over.
    let staging = Root::new(dir.path().join("staging"));
    let writer = ShmWriter::create(&staging, "t/r", SCHEMA.as_schema()).expect("create");
    writer.set_by_name("count", 42u64).expect("write");
    let instance = writer.reader().instance();
    drop(writer);
    std::fs::rename(
        staging.file_of("t/r").expect("path"),
        root.file_of("t/r").expect("path"),
    )
    .expect("rename over");

    common::eventually("the new file's data reaches the mirror", || {
        mirror.get::<u64>("count").ok() == Some(42)
    })
    .await;
    assert!(!mirror.is_ended());
    mirror
        .set("setpoint", 6.5f32)
        .await
        .expect("a write to the new file");
    let file = ShmRegion::open(&root, "t/r").expect("open");
    assert_eq!(file.instance(), instance);
    assert_eq!(file.get_by_name::<f32>("setpoint").expect("read"), 6.5);

    client.close().await;
    hub.shutdown().await;
}

/// A corrupt file among good ones at start: the hub serves the others and
/// takes the region up once a good file replaces the bad one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_file_at_start_is_served_once_replaced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root_dir = dir.path().join("regions");
    let root = Root::new(&root_dir);
    drop(ShmWriter::create(&root, "t/r", SCHEMA.as_schema()).expect("create"));
    let bad = root.file_of("t/r").expect("path");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&bad)
        .and_then(|f| f.write_all_at(b"NOTMEMW\0", 0))
        .expect("corrupt");

    let (hub, client) = hub_and_client(dir.path(), &root_dir).await;
    let addr = hub.tcp_addr().expect("tcp");
    let other = client.subscribe("t/ok").await.expect("the good region");
    other.set("setpoint", 1.5f32).await.expect("write");
    refused_for(addr, "t/r", &["not a valid region"]).await;

    std::fs::remove_file(&bad).expect("rm");
    new_file_served(&client, &root, 9, 2.5).await;

    client.close().await;
    hub.shutdown().await;
}

/// A byte of the header's checksummed fields changed under a running hub:
/// the region is no longer served, and writes are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_header_marks_the_region_broken() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root_dir = dir.path().join("regions");
    let root = Root::new(&root_dir);
    let (hub, client) = hub_and_client(dir.path(), &root_dir).await;
    let addr = hub.tcp_addr().expect("tcp");
    let mirror = client.subscribe("t/r").await.expect("subscribe");
    set_count(&root, "t/r", 5);
    common::eventually("the first value", || {
        mirror.get::<u64>("count").ok() == Some(5)
    })
    .await;

    // The flags field (offset 12), inside the checksummed header bytes.
    std::fs::OpenOptions::new()
        .write(true)
        .open(root.file_of("t/r").expect("path"))
        .and_then(|f| f.write_all_at(&[0xff], 12))
        .expect("change the header");
    assert!(
        matches!(
            mirror.set("setpoint", 2.5f32).await,
            Err(ClientError::Hub(ErrorCode::Other))
        ),
        "a write to the changed file is not refused"
    );
    common::eventually("the subscriber is told", || mirror.is_ended()).await;
    // Then the scanner's attempts to take the file up again find it
    // invalid (its checksum no longer matches), which is said instead.
    refused_for(
        addr,
        "t/r",
        &["header or table changed", "not a valid region"],
    )
    .await;
    assert!(matches!(subscribe(addr, "t/ok").await, Ok(()),));

    client.close().await;
    hub.shutdown().await;
}
