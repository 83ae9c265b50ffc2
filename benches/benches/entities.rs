//! The entity workload, memwire beside tx2-link 0.1.1 in the same run.
//!
//! `cargo bench -p memwire-benches --bench entities`
//!
//! 10,000 entities × `Position{x, y, z: f32}` + `Velocity{x, y, z: f32}`
//! (`memwire_benches::entities`); each tick moves 1% of the positions. Both
//! sides were primed with a full sync, outside the measurement; the world's
//! own tick is never timed.
//!
//! Time to produce one tick's update:
//!
//! - `memwire`: diff the 240,000-byte data area against the shadow
//!   (`Differ::update`), then write the update as length-prefixed frames
//!   (`UpdateParts`, 16 KiB maximum frame).
//! - `memwire-moved`: the same with the diff narrowed to the variables whose
//!   sequence counters moved (`Differ::update_moved`), as the hub does for a
//!   shared-memory region.
//! - `tx2-link`: build the `WorldSnapshot` (its API takes a whole snapshot),
//!   `DeltaCompressor::create_delta` (field-level deltas on, its default),
//!   then `BinarySerializer::messagepack().serialize_delta`.
//! - `tx2-link-delta-only`: the same without building the snapshot.
//!
//! Bytes on the wire per tick are counted once per run, averaged over 100
//! ticks, and printed before the timings (`report_bytes`), beside the raw
//! lower bound of `memwire_benches::updates::lower_bound`.

#![allow(missing_docs)] // criterion_group! makes an undocumented pub fn

#[path = "../tests/common/tx2.rs"]
mod tx2;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, criterion_group};
use memwire_benches::entities::Entities;
use memwire_benches::updates::{MAX_FRAME, UpdateEncoder, lower_bound};
use tx2::Tx2Sender;

const SEED: u64 = 1;

/// Prints the average bytes per tick of both sides and the lower bound.
fn report_bytes(ticks: u32) {
    let mut world = Entities::new(SEED);
    let mut memwire = UpdateEncoder::new(world.data(), MAX_FRAME);
    let mut memwire_1k = UpdateEncoder::new(world.data(), 1024);
    let (mut tx2, tx2_full) = Tx2Sender::new(&world, true);
    let (mut tx2_whole, _) = Tx2Sender::new(&world, false);
    let mut wire = vec![0u8; 1 << 16];
    let mut sums = [0usize; 7];
    for _ in 0..ticks {
        let before = world.data().to_vec();
        world.tick();
        let lb = lower_bound(&before, world.data());
        let snapshot = tx2.snapshot(&world);
        let (delta, bytes) = tx2.delta(snapshot.clone());
        // What tx2-link sends is a delta it can read back.
        assert_eq!(
            tx2.decode(bytes.as_ref()).changes.len(),
            delta.changes.len()
        );
        let tick = [
            memwire.update(world.data(), &mut wire),
            memwire_1k.update(world.data(), &mut wire),
            lb.bytes,
            lb.changed,
            lb.runs,
            bytes.as_ref().len(),
            tx2_whole.delta(snapshot).1.as_ref().len(),
        ];
        for (sum, n) in sums.iter_mut().zip(tick) {
            *sum += n;
        }
    }
    let [mw, mw_1k, lb, changed, runs, tx2_fields, tx2_whole] =
        sums.map(|s| s as f64 / f64::from(ticks));
    println!("entity workload: bytes per tick, average of {ticks} ticks (seed {SEED})");
    println!("  changed bytes               {changed:9.1}  in {runs:.1} runs");
    println!("  raw lower bound             {lb:9.1}");
    println!(
        "  memwire (16 KiB frames)     {mw:9.1}  {:.3}× lower bound",
        mw / lb
    );
    println!(
        "  memwire (1 KiB frames)      {mw_1k:9.1}  {:.3}× lower bound",
        mw_1k / lb
    );
    println!(
        "  tx2-link (field deltas)     {tx2_fields:9.1}  {:.2}× memwire, {:.2}× lower bound",
        tx2_fields / mw,
        tx2_fields / lb
    );
    println!(
        "  tx2-link (whole components) {tx2_whole:9.1}  {:.2}× memwire",
        tx2_whole / mw
    );
    println!(
        "full sync: memwire {} bytes (16 KiB frames), tx2-link {tx2_full} bytes",
        UpdateEncoder::full_sync_len(world.data(), MAX_FRAME)
    );
}

fn entities(c: &mut Criterion) {
    let mut group = c.benchmark_group("entities");
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    group.sample_size(20);

    group.bench_function("memwire", |b| {
        let mut world = Entities::new(SEED);
        let mut encoder = UpdateEncoder::new(world.data(), MAX_FRAME);
        let mut wire = vec![0u8; 1 << 16];
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                world.tick();
                let start = Instant::now();
                black_box(encoder.update(world.data(), &mut wire));
                total += start.elapsed();
            }
            total
        });
    });

    group.bench_function("memwire-moved", |b| {
        let mut world = Entities::new(SEED);
        // The schema never changes; a hub checks it once, not per tick.
        let layout = Entities::new(SEED);
        let schema = layout.schema();
        let mut encoder = UpdateEncoder::new(world.data(), MAX_FRAME);
        let mut wire = vec![0u8; 1 << 16];
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                world.tick();
                let start = Instant::now();
                let n = encoder.update_moved(world.data(), schema, world.moved(), &mut wire);
                black_box(n);
                total += start.elapsed();
            }
            total
        });
    });

    group.sampling_mode(SamplingMode::Flat);

    group.bench_function("tx2-link", |b| {
        let mut world = Entities::new(SEED);
        let (mut sender, _) = Tx2Sender::new(&world, true);
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                world.tick();
                let start = Instant::now();
                let snapshot = sender.snapshot(&world);
                let (delta, bytes) = sender.delta(snapshot);
                black_box(bytes.as_ref().len());
                drop((delta, bytes));
                total += start.elapsed();
            }
            total
        });
    });

    group.bench_function("tx2-link-delta-only", |b| {
        let mut world = Entities::new(SEED);
        let (mut sender, _) = Tx2Sender::new(&world, true);
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                world.tick();
                let snapshot = sender.snapshot(&world);
                let start = Instant::now();
                let (delta, bytes) = sender.delta(snapshot);
                black_box(bytes.as_ref().len());
                drop((delta, bytes));
                total += start.elapsed();
            }
            total
        });
    });

    group.finish();
}

criterion_group!(benches, entities);

fn main() {
    // `cargo test --benches` runs this once without `--bench`: keep it short.
    let benching = std::env::args().any(|a| a == "--bench");
    report_bytes(if benching { 100 } else { 3 });
    benches();
    Criterion::default().configure_from_args().final_summary();
}
