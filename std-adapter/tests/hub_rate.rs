//! The subscriber rate (`[publish] max_rate_hz`): a subscriber is sent at
//! most that many updates per second however fast a local writer commits,
//! at least a fair share of them while it does, and the last one holds the
//! final value.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{DEADLINE, eventually, options, start, toml_path};
use memwire_std::client::Client;
use memwire_std::shm::{Root, ShmWriter};

const RATE_HZ: u64 = 20;
/// The updates the subscriber must get while the writer commits: two
/// seconds' worth at [`RATE_HZ`]. [`common::DEADLINE`] allows five times
/// that, so a limiter that passes less than a fifth of the rate fails.
const UPDATES: u64 = 2 * RATE_HZ;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_gets_at_most_the_configured_rate_and_the_final_value() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"
root = {}
[listen]
tcp = "127.0.0.1:0"
[publish]
max_rate_hz = {RATE_HZ}
[[tenant]]
name = "t"
[[tenant.client]]
name = "c"
secret = "s"
rights = [{{ regions = "*", access = "read" }}]
[[tenant.region]]
name = "r"
variables = [{{ name = "counter", kind = "u64" }}]
"#,
        toml_path(dir.path())
    );
    let hub = start(dir.path(), &text).await;
    let url = format!("tcp://{}", hub.tcp_addr().unwrap());
    let client = Client::connect(&url, options("c", "t", "s")).await.unwrap();
    let mirror = client.subscribe("t/r").await.unwrap();
    let before = client.stats().updates;

    // The writer commits about once a millisecond, far above the rate,
    // until the subscriber has had `UPDATES` updates.
    let root = Root::new(dir.path());
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let writer = {
        let stop = Arc::clone(&stop);
        tokio::task::spawn_blocking(move || {
            let writer = ShmWriter::open(&root, "t/r").unwrap();
            let mut value = 0u64;
            // Bounded, so that a failed test does not leave it running (the
            // runtime waits for it).
            while !stop.load(Ordering::Relaxed) && start.elapsed() < 2 * DEADLINE {
                value += 1;
                writer.set_by_name("counter", value).unwrap();
                std::thread::sleep(Duration::from_millis(1));
            }
            value
        })
    };
    eventually(
        &format!("{UPDATES} updates while the writer commits"),
        || client.stats().updates - before >= UPDATES,
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    let commits = writer.await.unwrap();
    eventually("the final value", || {
        mirror.get::<u64>("counter").unwrap() == commits
    })
    .await;
    let elapsed = start.elapsed();
    let updates = client.stats().updates - before;

    // One update at once, then one per interval at most: a slower run only
    // lowers the count, so the bound holds on any machine.
    let most = 1 + (elapsed.as_secs_f64() * RATE_HZ as f64).ceil() as u64;
    assert!(
        (UPDATES..=most).contains(&updates),
        "{updates} updates in {elapsed:?} for {commits} commits at {RATE_HZ} Hz \
         (at least {UPDATES}, at most {most})"
    );
    assert!(
        commits > updates,
        "{commits} commits gave {updates} updates: nothing was coalesced"
    );
    client.close().await;
    hub.shutdown().await;
}
