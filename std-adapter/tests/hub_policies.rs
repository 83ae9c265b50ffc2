//! Publish policies: a `manual` region sent only at its writer's marks
//! (`ShmWriter::publish`, `HubWriter::publish`), subscriptions sent every
//! update full (`ClientOptions::always_full`), and a mirror's resync on
//! demand (`Mirror::resync`).

mod common;

use std::time::Duration;

use memwire_std::client::{Changes, Client, MirrorEvent};
use memwire_std::shm::{Root, ShmWriter};

const CONFIG: &str = r#"
root = "regions"
[listen]
tcp = "127.0.0.1:0"
[publish]
max_rate_hz = 0
[[tenant]]
name = "demo"
[[tenant.client]]
name = "rw"
secret = "s3cret"
rights = [{ regions = "*", access = "read-write" }]
[[tenant.region]]
name = "ticks"
publish = "manual"
variables = [{ name = "count", kind = "u64" }, { name = "tick", kind = "u32" }]
[[tenant.region]]
name = "sensors"
variables = [{ name = "count", kind = "u64" }, { name = "history", kind = "f32", count = 256 }]
"#;

/// Commits per tick.
const COMMITS: u64 = 40;
/// Ticks published.
const TICKS: u64 = 4;
/// How long a tick's writer pauses after its first commit: long enough
/// for a hub that sent every commit to send that one (it has nothing else
/// to do), so the test shows that a manual region's hub does not.
const PAUSE: Duration = Duration::from_millis(100);

/// The next change event, within the tests' deadline.
async fn next(changes: &mut Changes) -> MirrorEvent {
    tokio::time::timeout(common::DEADLINE, changes.next())
        .await
        .expect("no update within the deadline")
        .expect("the mirror ended")
}

/// A tick-based writer commits many times per tick and marks each tick
/// with `publish()`: the subscriber gets exactly one update per tick, of
/// the marked state, never one of the commits in between.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_region_sends_one_update_per_publish() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, client, root) =
        common::hub_and_client(dir.path(), CONFIG, ("rw", "demo", "s3cret")).await;
    let writer = ShmWriter::open(&root, "demo/ticks").unwrap();
    let mirror = client.subscribe("demo/ticks").await.unwrap();
    common::converges(&mirror, &root).await;
    common::eventually("the first copy", || client.stats().updates >= 1).await;
    let before = client.stats().updates;
    let mut changes = mirror.changes();

    let mut count = 0u64;
    for tick in 1..=TICKS {
        let tick = u32::try_from(tick).unwrap();
        for i in 0..COMMITS {
            count += 1;
            writer.set_by_name("count", count).unwrap();
            if i == 0 {
                tokio::time::sleep(PAUSE).await;
            }
        }
        writer.set_by_name("tick", tick).unwrap();
        let marked = writer.publish().unwrap();
        let event = next(&mut changes).await;
        assert_eq!(
            event.generation, marked,
            "tick {tick}: an update of a state that was not published"
        );
        assert_eq!(mirror.get::<u64>("count").unwrap(), count);
        assert_eq!(mirror.get::<u32>("tick").unwrap(), tick);
    }
    // One update per tick: nothing else was sent (the client's counters
    // follow its events).
    common::eventually("the counters", || client.stats().updates >= before + TICKS).await;
    assert_eq!(client.stats().updates, before + TICKS);
    hub.shutdown().await;
}

/// `HubWriter::publish` marks a manual region written in the hub's own
/// process and sends the marked state from the calling thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_writer_publishes_a_manual_region_at_its_marks() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, client, root) =
        common::hub_and_client(dir.path(), CONFIG, ("rw", "demo", "s3cret")).await;
    let writer = hub.writer("demo", "ticks").unwrap();
    let mirror = client.subscribe("demo/ticks").await.unwrap();
    common::converges(&mirror, &root).await;
    common::eventually("the first copy", || client.stats().updates >= 1).await;
    let before = client.stats().updates;
    let mut changes = mirror.changes();

    for count in 1..=COMMITS {
        writer.set_by_name("count", count).unwrap();
        if count == 1 {
            tokio::time::sleep(PAUSE).await;
        }
    }
    let marked = writer.publish().unwrap();
    let event = next(&mut changes).await;
    assert_eq!(event.generation, marked);
    assert_eq!(mirror.get::<u64>("count").unwrap(), COMMITS);
    common::eventually("the counters", || client.stats().updates > before).await;
    assert_eq!(client.stats().updates, before + 1);
    hub.shutdown().await;
}

/// `Mirror::resync` brings the whole data area again, with nothing
/// changed at the hub, reported as a resynced event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resync_brings_a_full_copy() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, client, root) =
        common::hub_and_client(dir.path(), CONFIG, ("rw", "demo", "s3cret")).await;
    let writer = ShmWriter::open(&root, "demo/sensors").unwrap();
    writer.set_by_name("count", 7u64).unwrap();
    let mirror = client.subscribe("demo/sensors").await.unwrap();
    common::converges(&mirror, &root).await;
    let held = mirror.generation();
    let mut changes = mirror.changes();
    // A described subscription may have resynced once while its mirror
    // was being built: count from here.
    let resyncs = client.stats().resyncs;

    mirror.resync().await.unwrap();
    let event = next(&mut changes).await;
    assert!(event.resynced, "{event:?}");
    assert_eq!(event.generation, held);
    assert_eq!(mirror.get::<u64>("count").unwrap(), 7);
    common::eventually("the counters", || client.stats().resyncs > resyncs).await;
    assert_eq!(client.stats().resyncs, resyncs + 1);
    hub.shutdown().await;
}

/// A client that asks for full updates gets the whole data area with
/// every commit, not the one changed variable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_always_full_subscription_gets_whole_updates() {
    let dir = tempfile::tempdir().unwrap();
    let hub = common::start(dir.path(), CONFIG).await;
    let root = Root::new(dir.path().join("regions"));
    let url = format!("tcp://{}", hub.tcp_addr().unwrap());
    let options = common::options("rw", "demo", "s3cret");
    let client = Client::connect(&url, options).await.unwrap();
    let writer = ShmWriter::open(&root, "demo/sensors").unwrap();
    // A first commit: a copy of generation 0 vouches for nothing, so the
    // update after it would be full for any subscription.
    writer.set_by_name("count", 0u64).unwrap();
    // Full for one subscription; the client's other one keeps deltas.
    let mirror = client.subscribe_full("demo/sensors").await.unwrap();
    let delta = client.subscribe("demo/sensors").await.unwrap();
    common::converges(&mirror, &root).await;
    common::converges(&delta, &root).await;
    let mut changes = mirror.changes();
    let mut delta_changes = delta.changes();
    let data_len = mirror.snapshot().unwrap().1.len() as u64;
    common::eventually("the counters", || client.stats().updates >= 1).await;
    let before = client.stats();

    const UPDATES: u64 = 5;
    for count in 1..=UPDATES {
        let generation = writer.set_by_name("count", count).unwrap();
        let event = next(&mut changes).await;
        assert_eq!(event.generation, generation);
        assert!(event.resynced, "update {count} was a delta: {event:?}");
        assert_eq!(mirror.get::<u64>("count").unwrap(), count);
        let event = next(&mut delta_changes).await;
        assert_eq!(event.generation, generation);
        assert!(
            !event.resynced,
            "update {count} of the other subscription was full: {event:?}"
        );
    }
    // Both subscriptions' updates: the counters are the client's.
    common::eventually("the counters", || {
        client.stats().updates >= before.updates + 2 * UPDATES
    })
    .await;
    let after = client.stats();
    assert!(
        after.bytes_in - before.bytes_in >= UPDATES * data_len,
        "{UPDATES} updates of {data_len} bytes took {} bytes",
        after.bytes_in - before.bytes_in
    );
    // Full by request, not resyncs: the mirror asked for none meanwhile.
    assert_eq!(after.resyncs, before.resyncs);
    hub.shutdown().await;
}
