//! An update larger than a frame reaches a client's mirror as one commit:
//! a thread reading the mirror while a local writer rewrites a whole array
//! with one value per tick never sees two values in it.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use memwire_std::client::Client;
use memwire_std::shm::{Root, ShmWriter};

/// Elements of the array: 4 KiB, many frames of 256 bytes.
const ELEMENTS: usize = 1024;
/// Ticks the writer makes.
const TICKS: u32 = 1000;

const CONFIG: &str = r#"
root = "regions"
[listen]
tcp = "127.0.0.1:0"
[limits]
max_frame = 256
[publish]
max_rate_hz = 0
[[tenant]]
name = "demo"
[[tenant.client]]
name = "viewer"
secret = "viewer-secret"
rights = [{ regions = "*", access = "read" }]
[[tenant.region]]
name = "wide"
variables = [{ name = "ticks", kind = "u32", count = 1024 }]
"#;

/// The array with every element `value`.
fn filled(value: u32) -> Vec<u8> {
    (0..ELEMENTS).flat_map(|_| value.to_le_bytes()).collect()
}

/// The distinct values in an array's bytes.
fn values(bytes: &[u8]) -> Vec<u32> {
    let mut seen: Vec<u32> = bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    seen.dedup();
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_reader_never_sees_an_update_of_many_frames_half_applied() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = common::start(dir.path(), CONFIG).await;
    let root = Root::new(dir.path().join("regions"));
    let url = format!("tcp://{}", hub.tcp_addr().expect("tcp"));
    let client = Client::connect(&url, common::options("viewer", "demo", "viewer-secret"))
        .await
        .expect("connect");
    let mirror = client.subscribe("demo/wide").await.expect("subscribe");
    assert!(!mirror.is_local());

    let stop = Arc::new(AtomicBool::new(false));
    let mixed = Arc::new(AtomicU64::new(0));
    let reader = {
        let (mirror, stop, mixed) = (mirror.clone(), Arc::clone(&stop), Arc::clone(&mixed));
        thread::spawn(move || {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let bytes = mirror.read("ticks").expect("read");
                match values(&bytes)[..] {
                    [one] => {
                        if seen.last() != Some(&one) {
                            seen.push(one);
                        }
                    }
                    _ => {
                        mixed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            seen
        })
    };

    let writer = {
        let root = root.clone();
        thread::spawn(move || {
            let writer = ShmWriter::open(&root, "demo/wide").expect("writer");
            for tick in 1..=TICKS {
                writer
                    .write_ranges(&[(0, &filled(tick))], None)
                    .expect("write");
                thread::sleep(Duration::from_millis(1));
            }
        })
    };
    writer.join().expect("writer");
    common::eventually("the mirror holds the last tick", || {
        mirror.read("ticks").is_ok_and(|b| values(&b) == [TICKS])
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let seen = reader.join().expect("reader");
    assert_eq!(mixed.load(Ordering::Relaxed), 0, "mixed arrays read");
    assert!(seen.len() >= 10, "the reader saw {} ticks", seen.len());
    client.close().await;
    hub.shutdown().await;
}
