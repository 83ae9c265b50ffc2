//! The diff engine beside its baselines, in the same run.
//!
//! `cargo bench -p memwire-benches --bench diff`
//!
//! - `diff-unchanged/<size>`: scanning an unchanged data area on every path,
//!   against `a == b` (memcmp) and a naive byte loop on the same slices.
//! - `diff-changed/<share>`: a 1 MiB area with 0.1%, 1%, 10% or 100% of its
//!   64-byte chunks holding one changed byte, against a byte-by-byte diff
//!   that builds the same ranges and against `a == b` on an unchanged copy.
//! - `diff-entities`: one tick of the entity workload (1% of 10,000
//!   positions moved): diff, trim, coalesce and map to variables.
//!
//! `MEMWIRE_BENCH_PAIRED=<rounds>` instead measures the unchanged-area
//! scans in pairs of alternating batches (`memwire_benches::paired`): every
//! path against memcmp, and the path `Differ::new` picks against the naive
//! loop, at each size, as median ratios with their quartiles.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use memwire::diff::{ByteRange, Differ, Path, touched};
use memwire::schema::VarId;
use memwire_benches::entities::{DATA_LEN, Entities, MOVED_PER_TICK};
use memwire_benches::paired::paired;

/// Deterministic bytes: the content does not matter to an equal compare, but
/// it must not be all zeros (which a kernel could shortcut).
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// The naive baseline: the first differing byte, one byte at a time.
fn naive_first_diff(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y)
}

/// The naive baseline for changed areas: the same ranges, byte by byte.
fn naive_ranges(a: &[u8], b: &[u8], gap: usize, out: &mut [ByteRange]) -> usize {
    let mut n = 0;
    let mut open: Option<ByteRange> = None;
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if x == y {
            continue;
        }
        match open.as_mut() {
            Some(r) if i - r.end < gap => r.end = i + 1,
            _ => {
                if let Some(done) = open.replace(ByteRange::new(i, i + 1)) {
                    if let Some(slot) = out.get_mut(n) {
                        *slot = done;
                    }
                    n += 1;
                }
            }
        }
    }
    if let Some(done) = open {
        if let Some(slot) = out.get_mut(n) {
            *slot = done;
        }
        n += 1;
    }
    n
}

fn differs() -> impl Iterator<Item = (Path, Differ)> {
    Path::available().map(|p| (p, Differ::new().with_path(p).expect("available")))
}

/// The sizes of the unchanged-area scans.
const SIZES: [(&str, usize); 4] = [
    ("4KiB", 4 << 10),
    ("256KiB", 256 << 10),
    ("16MiB", 16 << 20),
    ("64MiB", 64 << 20),
];

fn unchanged(c: &mut Criterion) {
    let mut group = c.benchmark_group("diff-unchanged");
    group.warm_up_time(Duration::from_secs(1));
    for (name, len) in SIZES {
        let a = bytes(len, 1);
        let b = a.clone();
        group.throughput(Throughput::Bytes(len as u64));
        group.sample_size(if len >= 16 << 20 { 10 } else { 50 });
        group.measurement_time(Duration::from_secs(if len >= 16 << 20 { 3 } else { 2 }));
        group.bench_function(BenchmarkId::new("memcmp", name), |bench| {
            bench.iter(|| black_box(black_box(&a[..]) == black_box(&b[..])))
        });
        group.bench_function(BenchmarkId::new("naive", name), |bench| {
            bench.iter(|| naive_first_diff(black_box(&a), black_box(&b)))
        });
        for (path, d) in differs() {
            group.bench_function(BenchmarkId::new(path.name(), name), |bench| {
                bench.iter(|| d.changes(black_box(&a), black_box(&b), &mut []))
            });
        }
    }
    group.finish();
}

fn changed(c: &mut Criterion) {
    const LEN: usize = 1 << 20;
    const CHUNKS: usize = LEN / 64;
    let mut group = c.benchmark_group("diff-changed");
    group.warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Bytes(LEN as u64));
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(2));
    let shadow = bytes(LEN, 2);
    let same = shadow.clone();
    let mut out = vec![ByteRange::default(); CHUNKS];
    for (name, per_mille) in [("0.1%", 1), ("1%", 10), ("10%", 100), ("100%", 1000)] {
        // One changed byte at a pseudo-random place in each chosen chunk.
        let mut current = shadow.clone();
        let picks = bytes(CHUNKS * 2, 3);
        let mut changed = 0;
        for chunk in 0..CHUNKS {
            if (chunk * per_mille) / 1000 != ((chunk + 1) * per_mille) / 1000 {
                current[chunk * 64 + usize::from(picks[chunk] % 64)] ^= 0x5a;
                changed += 1;
            }
        }
        assert_eq!(changed, CHUNKS * per_mille / 1000);
        group.bench_function(BenchmarkId::new("memcmp-unchanged", name), |bench| {
            bench.iter(|| black_box(black_box(&same[..]) == black_box(&shadow[..])))
        });
        group.bench_function(BenchmarkId::new("naive", name), |bench| {
            bench.iter(|| naive_ranges(black_box(&current), black_box(&shadow), 8, &mut out))
        });
        for (path, d) in differs() {
            group.bench_function(BenchmarkId::new(path.name(), name), |bench| {
                bench.iter(|| d.changes(black_box(&current), black_box(&shadow), &mut out))
            });
        }
    }
    group.finish();
}

fn entities(c: &mut Criterion) {
    let mut world = Entities::new(42);
    let shadow = world.data().to_vec();
    let moved = world.tick().to_vec();
    let current = world.data().to_vec();
    let schema = world.schema();
    let mut out = [ByteRange::default(); 4 * MOVED_PER_TICK];
    let mut ids = [VarId(0); 4 * MOVED_PER_TICK];

    let mut group = c.benchmark_group("diff-entities");
    group.warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Bytes(DATA_LEN as u64));
    group.sample_size(50);
    group.measurement_time(Duration::from_secs(2));
    let same = shadow.clone();
    group.bench_function("memcmp-unchanged", |bench| {
        bench.iter(|| black_box(black_box(&same[..]) == black_box(&shadow[..])))
    });
    group.bench_function("naive-ranges", |bench| {
        bench.iter(|| naive_ranges(black_box(&current), black_box(&shadow), 8, &mut out))
    });
    for (path, d) in differs() {
        // Diff, trim, coalesce and map: what a change watcher does per tick.
        group.bench_function(BenchmarkId::new("diff+map", path.name()), |bench| {
            bench.iter(|| {
                let n = d
                    .changes(black_box(&current), black_box(&shadow), &mut out)
                    .expect("fits");
                let mut k = 0;
                for (slot, id) in ids.iter_mut().zip(touched(schema, &out[..n])) {
                    *slot = id;
                    k += 1;
                }
                k
            })
        });
    }
    let d = Differ::new();
    // The hub's tick: the same, plus the shadow update. Restoring the old
    // shadow between iterations is not measured; the buffer is reused so
    // that no page faults are measured either.
    let mut copy = shadow.clone();
    group.bench_function("update+map", |bench| {
        bench.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                copy.copy_from_slice(&shadow);
                let start = Instant::now();
                let n = d.update(&current, &mut copy, &mut out, None).expect("fits");
                black_box(touched(schema, &out[..n]).count());
                total += start.elapsed();
            }
            total
        })
    });
    // Only the variables whose sequence counters moved.
    group.bench_function("update-moved+map", |bench| {
        bench.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                copy.copy_from_slice(&shadow);
                let start = Instant::now();
                let n = d
                    .update_moved(
                        &current,
                        &mut copy,
                        schema,
                        moved.iter().copied(),
                        &mut out,
                        None,
                    )
                    .expect("fits");
                black_box(touched(schema, &out[..n]).count());
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();
}

mod group {
    // `criterion_group!` makes an undocumented `pub fn`.
    #![allow(missing_docs)]
    use super::{changed, criterion_group, entities, unchanged};
    criterion_group!(benches, unchanged, changed, entities);
}

/// The unchanged-area scans measured in pairs (see
/// `memwire_benches::paired`): every path against memcmp and the path
/// `Differ::new` picks against the naive loop, at each size.
fn paired_report(rounds: usize) {
    for (name, len) in SIZES {
        let a = bytes(len, 1);
        let b = a.clone();
        // 8 MiB compared per batch, one compare at least.
        let batch = ((8 << 20) / len).max(1) as u64;
        let memcmp = |n: u64| {
            let start = Instant::now();
            for _ in 0..n {
                black_box(black_box(&a[..]) == black_box(&b[..]));
            }
            start.elapsed()
        };
        for (path, d) in differs() {
            let scan = |n: u64| {
                let start = Instant::now();
                for _ in 0..n {
                    black_box(d.changes(black_box(&a), black_box(&b), &mut []).ok());
                }
                start.elapsed()
            };
            // Reported as memcmp time / scan time: above 1 is faster than memcmp.
            let p = paired(rounds, batch, memcmp, scan);
            println!("{name:>7} {:>9}: memcmp vs scan {p}", path.name());
        }
        let best = Differ::new();
        let p = paired(
            rounds.div_ceil(4),
            batch,
            |n| {
                let start = Instant::now();
                for _ in 0..n {
                    black_box(naive_first_diff(black_box(&a), black_box(&b)));
                }
                start.elapsed()
            },
            |n| {
                let start = Instant::now();
                for _ in 0..n {
                    black_box(best.changes(black_box(&a), black_box(&b), &mut []).ok());
                }
                start.elapsed()
            },
        );
        println!("{name:>7} {:>9}: naive vs scan  {p}", best.path().name());
    }
}

fn main() {
    if let Some(rounds) = memwire_benches::paired::rounds(100) {
        paired_report(rounds);
        return;
    }
    group::benches();
    Criterion::default().configure_from_args().final_summary();
}
