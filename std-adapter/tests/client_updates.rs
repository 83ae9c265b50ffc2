//! `Mirror::updates`: every update the mirror applies, one item each, even
//! when many arrive between two looks of the reader (where change events
//! coalesce); a reader that falls behind its bounded queue is told how many
//! it lost and given the whole data area to go on from.

mod common;

use std::time::Duration;

use memwire_std::client::{Applied, AppliedUpdate, Mirror, QUEUE_UPDATES, Updates};

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
name = "sensors"
variables = [
  { name = "temperature", kind = "f32" },
  { name = "count", kind = "u64" },
  { name = "samples", kind = "u8", count = 512 },
]
"#;

/// The offset of `count` in the data area.
fn count_offset(mirror: &Mirror) -> usize {
    let schema = mirror.schema();
    let id = schema.find("count").unwrap();
    schema.get(id).unwrap().range().start
}

fn count_in(data: &[u8], offset: usize) -> u64 {
    u64::from_le_bytes(data[offset..offset + 8].try_into().unwrap())
}

fn apply(data: &mut [u8], update: &AppliedUpdate) {
    for (offset, bytes) in update.spans() {
        data[offset..offset + bytes.len()].copy_from_slice(bytes);
    }
}

async fn next(updates: &mut Updates) -> Applied {
    tokio::time::timeout(Duration::from_secs(30), updates.next())
        .await
        .expect("an update within 30 s")
        .expect("the client is open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_update_of_a_burst_is_one_item_with_its_values() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, client, _root) =
        common::hub_and_client(dir.path(), CONFIG, ("rw", "demo", "s3cret")).await;
    let writer = hub.writer("demo", "sensors").unwrap();
    // Past generation 0, from which only a full update is sent.
    writer.set_by_name("count", 0_u64).unwrap();
    let mirror = client.subscribe("demo/sensors").await.unwrap();
    let offset = count_offset(&mirror);
    // The full copy of the subscription, counted once the task is past it.
    common::eventually("the first update counted", || client.stats().updates == 1).await;
    let before = client.stats().updates;
    let mut updates = mirror.updates().unwrap();
    let Applied::Update(first) = next(&mut updates).await else {
        panic!("the first item is the data area");
    };
    assert!(first.whole);
    let start = first.generation;
    let mut data = first.bytes.clone();

    // Count n is written at generation start + n: each update's values are
    // known from its generation.
    const WRITES: u64 = 3000;
    let burst = std::thread::spawn(move || {
        for n in 1..=WRITES {
            writer.set_by_name("count", n).unwrap();
        }
    });
    let mut seen = 0_u64;
    let mut last = start;
    while last < start + WRITES {
        let Applied::Update(update) = next(&mut updates).await else {
            panic!("a reader that keeps up does not lag");
        };
        assert!(update.generation > last, "generations ascend");
        assert!(!update.reconnected);
        apply(&mut data, &update);
        assert_eq!(count_in(&data, offset), update.generation - start);
        last = update.generation;
        seen += 1;
    }
    burst.join().unwrap();
    // The change events of the same time, for comparison, may be fewer:
    // the client's counter of updates applied is what every update means.
    common::eventually("the client's counters", || {
        client.stats().updates - before == seen
    })
    .await;
    assert!(updates.try_next().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_behind_its_queue_is_told_and_given_the_whole_area() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, client, _root) =
        common::hub_and_client(dir.path(), CONFIG, ("rw", "demo", "s3cret")).await;
    let writer = hub.writer("demo", "sensors").unwrap();
    // Past generation 0, from which only a full update is sent.
    writer.set_by_name("count", 0_u64).unwrap();
    let mirror = client.subscribe("demo/sensors").await.unwrap();
    let offset = count_offset(&mirror);
    let mut updates = mirror.updates().unwrap();

    // One update per write: each waits for the mirror to hold it. The
    // first item (the data area) takes one place of the queue.
    let writes = QUEUE_UPDATES as u64 + 100;
    let mut last = 0;
    for n in 1..=writes {
        last = writer.set_by_name("count", n).unwrap();
        common::eventually("the mirror's copy", || mirror.generation() == last).await;
    }
    let Applied::Update(first) = next(&mut updates).await else {
        panic!("the first item is the data area");
    };
    assert!(first.whole);
    for n in 1..QUEUE_UPDATES as u64 {
        let Applied::Update(update) = next(&mut updates).await else {
            panic!("update {n} is queued");
        };
        assert!(!update.whole, "{n}: {:?}", update.ranges);
        assert_eq!(update.generation, first.generation + n);
    }
    assert_eq!(
        next(&mut updates).await,
        Applied::Lagged(writes + 1 - QUEUE_UPDATES as u64)
    );
    let Applied::Update(after) = next(&mut updates).await else {
        panic!("the data area follows a lag");
    };
    assert!(after.whole);
    assert_eq!(after.generation, last);
    assert_eq!(count_in(&after.bytes, offset), writes);
    assert!(updates.try_next().is_none());

    // The queue takes updates again.
    let generation = writer.set_by_name("count", 0_u64).unwrap();
    let Applied::Update(update) = next(&mut updates).await else {
        panic!("an update after the lag");
    };
    assert_eq!(update.generation, generation);
}
