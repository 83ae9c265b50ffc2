//! One region, many subscribers (`docs/hub.md`, "The scan sends" and
//! "Encoded once"): the scan sends to the first 16 subscribers itself and
//! wakes the tasks of the rest, and every one of 20 gets the update; with
//! `encode_once` on or off, a subscriber receives the same bytes.

mod common;

use common::{Raw, toml_path};
use memwire::codec::{Ack, Frame, Subscribe};
use memwire_std::shm::{Root, ShmRegion, ShmWriter};

/// More than the 16 subscribers a scan sends to itself.
const SUBSCRIBERS: usize = 20;

fn config_text(root: &std::path::Path, encode_once: bool) -> String {
    format!(
        r#"
root = {root}
[listen]
tcp = "127.0.0.1:0"
[publish]
max_rate_hz = 0
encode_once = {encode_once}
[[tenant]]
name = "t"
[[tenant.client]]
name = "c"
secret = "s"
rights = [{{ regions = "*", access = "read" }}]
[[tenant.region]]
name = "r"
variables = [
  {{ name = "counter", kind = "u64" }},
  {{ name = "blob", kind = "u8", count = 300 }},
]
"#,
        root = toml_path(root),
    )
}

/// Reads frames until an update that completes `generation` (any
/// generation when 0), skipping pings; returns every frame but the pings.
async fn until_update(raw: &mut Raw, generation: u64) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    loop {
        let body = raw.expect_frame().await;
        let done = match Frame::decode(&body) {
            Ok(Frame::Ping { .. }) => continue,
            Ok(Frame::Update(u)) => {
                let (_, at) = raw.last_update.expect("an update from the reference");
                u.last && (generation == 0 || at == generation)
            }
            Ok(Frame::Schema(_)) => false,
            other => panic!("expected an update, got {other:?}"),
        };
        frames.push(body);
        if done {
            return frames;
        }
    }
}

/// Acknowledges the update of `generation` on handle 0.
async fn ack(raw: &mut Raw, generation: u64) {
    raw.send(&Frame::Ack(Ack {
        handle: 0,
        generation,
    }))
    .await;
}

/// The generation the update part `raw` read last completes.
fn generation_of(raw: &Raw) -> u64 {
    raw.last_update.expect("an update").1
}

/// What each of [`SUBSCRIBERS`] raw subscribers (all on handle 0) receives
/// from a fresh hub with `encode_once`: the frames of its full copy, then
/// those of the update for one local commit. The region's instance id,
/// which a fresh region file draws at random, is zeroed in the bytes.
async fn subscribers_receive(encode_once: bool) -> Vec<(Vec<Vec<u8>>, Vec<Vec<u8>>)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let root_dir = dir.path().join("regions");
    let hub = common::start(dir.path(), &config_text(&root_dir, encode_once)).await;
    let addr = hub.tcp_addr().expect("tcp");
    let root = Root::new(&root_dir);
    let instance = ShmRegion::open(&root, "t/r").expect("region").instance();

    let mut subscribers = Vec::new();
    let mut copies = Vec::new();
    for _ in 0..SUBSCRIBERS {
        let mut raw = Raw::connect(addr).await;
        raw.authenticate("t", "c", b"s").await.expect("welcome");
        raw.send(&Frame::Subscribe(Subscribe {
            handle: 0,
            path: "t/r",
            resume: None,
            variables: true,
            full: false,
        }))
        .await;
        let copy = until_update(&mut raw, 0).await;
        assert!(!copy.is_empty());
        let generation = generation_of(&raw);
        ack(&mut raw, generation).await;
        subscribers.push(raw);
        copies.push(copy);
    }

    let writer = ShmWriter::open(&root, "t/r").expect("local writer");
    let blob: Vec<u8> = (0..=255).chain(0..44).collect();
    let blob_id = writer.schema().find("blob").expect("blob");
    let generation = writer
        .write_many(&[
            (
                writer.schema().find("counter").expect("counter"),
                &0x0102_0304_0506_0708u64.to_le_bytes(),
            ),
            (blob_id, &blob),
        ])
        .expect("commit");
    drop(writer);

    let mut received = Vec::new();
    for (raw, copy) in subscribers.iter_mut().zip(copies) {
        let update = until_update(raw, generation).await;
        received.push((copy, update));
    }
    drop(subscribers);
    hub.shutdown().await;

    let zeroed = |frame: Vec<u8>| {
        let id = instance.to_le_bytes();
        let mut frame = frame;
        if let Some(at) = frame.windows(8).position(|w| w == id) {
            frame[at..at + 8].fill(0);
        }
        frame
    };
    received
        .into_iter()
        .map(|(copy, update)| {
            (
                copy.into_iter().map(zeroed).collect(),
                update.into_iter().map(zeroed).collect(),
            )
        })
        .collect()
}

/// All 20 subscribers get the update, the same bytes each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_sixteen_subscribers_all_get_the_update() {
    let received = subscribers_receive(true).await;
    assert_eq!(received.len(), SUBSCRIBERS);
    let (first_copy, first_update) = &received[0];
    assert!(!first_update.is_empty());
    for (i, (copy, update)) in received.iter().enumerate() {
        assert_eq!(copy, first_copy, "subscriber {i}'s copy");
        assert_eq!(update, first_update, "subscriber {i}'s update");
    }
}

/// `encode_once = false` encodes per subscriber and sends the same bytes as
/// encoding once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encode_once_off_sends_the_same_bytes() {
    let once = subscribers_receive(true).await;
    let each = subscribers_receive(false).await;
    assert_eq!(once.len(), each.len());
    for (i, (once, each)) in once.iter().zip(&each).enumerate() {
        assert_eq!(once, each, "subscriber {i}");
    }
}
