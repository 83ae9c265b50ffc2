//! Remote writes of any size: a variable larger than the client's old
//! 1 KiB write buffer, one larger than a frame (sent in parts and applied
//! by the hub in one commit), a client gone in the middle of a write in
//! parts, the default rate limits under a steady stream of 1 KiB writes,
//! and the hub's bound on what it keeps of a write in parts.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Raw, XorShift, file_snapshot};
use memwire::codec::{
    ErrorCode, Frame, Framing, Subscribe, Write, WriteOutcome, WriteParts, WriteTarget,
};
use memwire::schema::Name;
use memwire_std::client::{Client, ClientError, Mirror};
use memwire_std::hub::Hub;
use memwire_std::shm::Root;

/// The data area: `small` (1 KiB, at 0), `huge` (64 KiB, at 1024), `count`
/// (a read-only `u64`, at 66 560).
const HUGE_AT: usize = 1024;
const HUGE: usize = 64 * 1024;

fn config(limits: &str) -> String {
    format!(
        r#"
root = "regions"
[listen]
tcp = "127.0.0.1:0"
[limits]
{limits}
[publish]
max_rate_hz = 0
[[tenant]]
name = "demo"
[[tenant.client]]
name = "rw"
secret = "s3cret"
rights = [{{ regions = "*", access = "read-write" }}]
[[tenant.client]]
name = "viewer"
secret = "v1ewer"
rights = [{{ regions = "*", access = "read" }}]
[[tenant.region]]
name = "big"
variables = [
  {{ name = "small", kind = "u8", count = 1024, writable = true }},
  {{ name = "huge", kind = "u8", count = 65536, writable = true }},
  {{ name = "count", kind = "u64" }},
]
[[tenant.region]]
name = "other"
variables = [{{ name = "setpoint", kind = "f32", writable = true }}]
"#
    )
}

/// A hub with `limits` (lines of its `[limits]` table) and the root of
/// its regions.
async fn start(dir: &Path, limits: &str) -> (Hub, Root) {
    let hub = common::start(dir, &config(limits)).await;
    (hub, Root::new(dir.join("regions")))
}

async fn client(hub: &Hub, name: &str, secret: &str) -> Client {
    let url = format!("tcp://{}", hub.tcp_addr().unwrap());
    Client::connect(&url, common::options(name, "demo", secret))
        .await
        .unwrap()
}

/// The bytes of variable `name` in `mirror` once they are `value`.
async fn mirrored(mirror: &Mirror, name: &str, value: &[u8]) {
    common::eventually(&format!("{name} mirrored"), || {
        mirror.read(name).is_ok_and(|bytes| bytes == value)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kib_variable_written_remotely_reaches_local_readers_and_mirrors() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, root) = start(dir.path(), "").await;
    let writer = client(&hub, "rw", "s3cret").await;
    let viewer = client(&hub, "viewer", "v1ewer").await;
    let mine = writer.subscribe("demo/big").await.unwrap();
    let theirs = viewer.subscribe("demo/big").await.unwrap();

    let value = XorShift::new(1).bytes(1024);
    let generation = mine.write("small", &value).await.expect("a 1 KiB write");
    let (file_generation, data) = file_snapshot(&root, "demo/big");
    assert!(file_generation >= generation);
    assert_eq!(&data[..1024], &value[..], "the local reader's bytes");
    mirrored(&theirs, "small", &value).await;
    mirrored(&mine, "small", &value).await;
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_larger_than_a_frame_is_applied_in_one_commit() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, root) = start(dir.path(), "").await;
    let writer = client(&hub, "rw", "s3cret").await;
    let viewer = client(&hub, "viewer", "v1ewer").await;
    let mine = writer.subscribe("demo/big").await.unwrap();
    let theirs = viewer.subscribe("demo/big").await.unwrap();
    let (before, _) = file_snapshot(&root, "demo/big");

    // 64 KiB and its write frame's header: more than the default 64 KiB
    // frame, so two parts.
    let value = XorShift::new(2).bytes(HUGE);
    let generation = mine.write("huge", &value).await.expect("a 64 KiB write");
    assert_eq!(generation, before + 1, "one commit");
    let (after, data) = file_snapshot(&root, "demo/big");
    assert_eq!(after, generation);
    assert_eq!(&data[HUGE_AT..HUGE_AT + HUGE], &value[..]);
    mirrored(&theirs, "huge", &value).await;
    hub.shutdown().await;

    // A hub that takes frames of 256 bytes: a 1 KiB write is five parts.
    let dir = tempfile::tempdir().unwrap();
    let (hub, root) = start(dir.path(), "max_frame = 256").await;
    let writer = client(&hub, "rw", "s3cret").await;
    let mine = writer.subscribe("demo/big").await.unwrap();
    let (before, _) = file_snapshot(&root, "demo/big");
    let value = XorShift::new(3).bytes(1024);
    let generation = mine.write("small", &value).await.expect("a write in parts");
    assert_eq!(generation, before + 1, "one commit");
    assert_eq!(&file_snapshot(&root, "demo/big").1[..1024], &value[..]);
    mirrored(&mine, "small", &value).await;
    hub.shutdown().await;
}

/// A raw client of `hub`, authenticated as `rw` and subscribed to
/// `demo/big` with handle 1.
async fn raw_writer(hub: &Hub) -> Raw {
    let mut raw = Raw::connect(hub.tcp_addr().unwrap()).await;
    raw.authenticate("demo", "rw", b"s3cret")
        .await
        .expect("authenticated");
    raw.send(&Frame::Subscribe(Subscribe {
        handle: 1,
        path: "demo/big",
        resume: None,
        variables: false,
        full: false,
    }))
    .await;
    raw
}

/// The framed frames of write `request` of `value` to `huge`, in frames of
/// `max_frame` bytes.
fn parts(request: u32, value: &[u8], max_frame: usize) -> Vec<Vec<u8>> {
    let ranges = [(HUGE_AT, value)];
    let mut parts = WriteParts::new(request, 1, &ranges, max_frame, Framing::LengthPrefix).unwrap();
    let mut buf = vec![0u8; max_frame + 5];
    let mut frames = Vec::new();
    while let Some(n) = parts.next_frame(&mut buf) {
        frames.push(buf[..n.unwrap()].to_vec());
    }
    frames
}

/// Sends a ping and reads frames until its pong: the hub has taken every
/// frame sent before. Returns the write results read meanwhile.
async fn settle(raw: &mut Raw, nonce: u64) -> Vec<(u32, Result<u64, ErrorCode>)> {
    raw.send(&Frame::Ping { nonce }).await;
    let mut results = Vec::new();
    loop {
        let frame = raw.expect_frame().await;
        match Frame::decode(&frame).expect("a frame") {
            Frame::Pong { nonce: n } if n == nonce => return results,
            Frame::WriteResult(r) => results.push((
                r.request,
                match r.outcome {
                    WriteOutcome::Applied { generation } => Ok(generation),
                    WriteOutcome::Refused { code, .. } => Err(code),
                },
            )),
            Frame::Error(e) => panic!("the hub closed: {e:?}"),
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_gone_in_the_middle_of_a_write_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, root) = start(dir.path(), "").await;
    let before = file_snapshot(&root, "demo/big");
    let value = XorShift::new(4).bytes(HUGE);

    // Every part but the last: taken, nothing applied, nothing answered.
    let mut raw = raw_writer(&hub).await;
    let frames = parts(7, &value, 4096);
    assert!(frames.len() > 2);
    let (last, first) = frames.split_last().unwrap();
    for frame in first {
        raw.send_bytes(frame).await.unwrap();
    }
    assert_eq!(settle(&mut raw, 1).await, vec![]);
    assert_eq!(file_snapshot(&root, "demo/big"), before, "a part applied");
    // The last part applies the whole write, in one commit.
    raw.send_bytes(last).await.unwrap();
    let results = settle(&mut raw, 2).await;
    assert_eq!(results, vec![(7, Ok(before.0 + 1))]);
    let (_, data) = file_snapshot(&root, "demo/big");
    assert_eq!(&data[HUGE_AT..HUGE_AT + HUGE], &value[..]);

    // A client that leaves before the last part changes nothing.
    let before = file_snapshot(&root, "demo/big");
    let other = XorShift::new(5).bytes(HUGE);
    let mut raw = raw_writer(&hub).await;
    let frames = parts(8, &other, 4096);
    for frame in &frames[..frames.len() / 2] {
        raw.send_bytes(frame).await.unwrap();
    }
    assert_eq!(settle(&mut raw, 3).await, vec![]);
    drop(raw);
    // The hub serves the others: a write and a mirror of its result.
    let writer = client(&hub, "rw", "s3cret").await;
    let mirror = writer.subscribe("demo/other").await.unwrap();
    mirror.set("setpoint", 2.5f32).await.expect("a write");
    mirrored(&mirror, "setpoint", &2.5f32.to_le_bytes()).await;
    let big = writer.subscribe("demo/big").await.unwrap();
    mirrored(&big, "huge", &value).await;
    assert_eq!(file_snapshot(&root, "demo/big"), before, "a part applied");
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kib_written_at_100_hz_passes_the_default_rate_limits() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, root) = start(dir.path(), "").await;
    let writer = client(&hub, "rw", "s3cret").await;
    let mirror = writer.subscribe("demo/big").await.unwrap();
    let mut rng = XorShift::new(6);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let mut value = Vec::new();
    for i in 0..300 {
        tick.tick().await;
        value = rng.bytes(1024);
        mirror
            .write("small", &value)
            .await
            .unwrap_or_else(|e| panic!("write {i}: {e}"));
    }
    assert!(writer.is_connected());
    assert_eq!(writer.connections(), 1, "the client was closed");
    assert_eq!(&file_snapshot(&root, "demo/big").1[..1024], &value[..]);
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_hub_keeps_of_a_write_in_parts_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, root) = start(dir.path(), "max_write = 16384").await;
    let before = file_snapshot(&root, "demo/big");

    // A write larger than the hub keeps is refused, once, and the
    // connection goes on.
    let writer = client(&hub, "rw", "s3cret").await;
    let mirror = writer.subscribe("demo/big").await.unwrap();
    let refused = mirror.write("huge", &XorShift::new(7).bytes(HUGE)).await;
    assert!(
        matches!(refused, Err(ClientError::Hub(ErrorCode::LimitExceeded))),
        "{refused:?}"
    );
    assert_eq!(file_snapshot(&root, "demo/big"), before);
    let value = XorShift::new(8).bytes(1024);
    mirror.write("small", &value).await.expect("a write after");
    assert_eq!(writer.connections(), 1);

    // A client that starts one write in parts after another, never
    // finishing any, is closed with the reason.
    let before = file_snapshot(&root, "demo/big");
    let mut raw = raw_writer(&hub).await;
    let one = parts(1, &XorShift::new(9).bytes(HUGE), 4096);
    raw.send_bytes(&one[0]).await.unwrap();
    assert_eq!(settle(&mut raw, 1).await, vec![]);
    let two = parts(2, &XorShift::new(10).bytes(HUGE), 4096);
    raw.send_bytes(&two[0]).await.unwrap();
    let (frames, _) = raw.until_end().await;
    let error = frames.iter().find_map(|f| match Frame::decode(f) {
        Ok(Frame::Error(e)) => Some((e.code, e.reason.to_owned())),
        _ => None,
    });
    assert_eq!(
        error,
        Some((
            ErrorCode::UnexpectedFrame,
            "a write in parts is unfinished".to_owned()
        ))
    );
    // So does a write of one frame before the last part.
    let mut raw = raw_writer(&hub).await;
    raw.send_bytes(&one[0]).await.unwrap();
    assert_eq!(settle(&mut raw, 2).await, vec![]);
    raw.send(&Frame::Write(Write {
        request: 3,
        handle: 1,
        target: WriteTarget::Variable {
            name: Name::new("small").unwrap(),
            value: &[0; 1024],
        },
    }))
    .await;
    let (frames, _) = raw.until_end().await;
    assert_eq!(
        common::closing_error(&frames),
        Some(ErrorCode::UnexpectedFrame)
    );
    assert_eq!(file_snapshot(&root, "demo/big"), before);
    hub.shutdown().await;
}
