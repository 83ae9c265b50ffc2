//! Bytes per tick of seven change shapes on every path, beside the raw
//! lower bound (issue 23; the table in `BENCHMARKS.md`).
//!
//! `cargo bench -p memwire-benches --bench workloads`
//!
//! The workloads are `memwire_benches::workloads` (fixed seed), the paths
//! `memwire_benches::paths::PATHS`: the hub's ranges and a device's
//! publishing client's, each to 16 KiB and 1 KiB frames. Every path's
//! frames are decoded and applied to a mirror that must equal the source
//! after every tick. Bytes are deterministic, so nothing is timed.

use memwire_benches::paths::{PATHS, run};
use memwire_benches::workloads::Shape;

const SEED: u64 = 1;

fn main() {
    // `cargo test --benches` runs this once without `--bench`: keep it short.
    let benching = std::env::args().any(|a| a == "--bench");
    let ticks = if benching { 100 } else { 3 };
    println!("bytes per tick, average of {ticks} ticks (seed {SEED}); × the lower bound");
    print!("| workload | changed bytes | lower bound |");
    for path in PATHS {
        print!(" {} |", path.name);
    }
    println!();
    println!("| --- | ---: | ---: |{}", " ---: |".repeat(PATHS.len()));
    for shape in Shape::ALL {
        let tally = run(shape, SEED, ticks);
        let per_tick = |n: usize| n as f64 / ticks as f64;
        let bound = per_tick(tally.bound);
        print!(
            "| {} | {:.1} | {bound:.1} |",
            shape.name(),
            per_tick(tally.changed)
        );
        for bytes in tally.paths {
            print!(
                " {:.1} ({:.2}×) |",
                per_tick(bytes),
                per_tick(bytes) / bound
            );
        }
        println!();
    }
}
