//! Every path's frames rebuild every workload byte for byte, tick after
//! tick, within the bounds of the raw lower bound. No timing here;
//! `benches/benches/workloads.rs` reports the same figures.

use memwire_benches::paths::{PATHS, run};
use memwire_benches::updates::UpdateEncoder;
use memwire_benches::workloads::{Shape, Workload};

const TICKS: usize = 20;

/// The mirrors follow (`run` asserts them after every tick and across a
/// resync). Where a path's ranges fit its buffer and a tick changes more
/// than 16 bytes, it stays within 1.10× of the lower bound (1.15× with
/// 1 KiB frames, a header each); a small change costs its bound plus a
/// 4-byte header, a one-byte change at most 8 bytes; and where ranges were
/// merged to fit, never more than whole chunks.
#[test]
fn every_path_rebuilds_every_workload_near_the_bound() {
    for shape in Shape::ALL {
        let tally = run(shape, 7, TICKS);
        let len = Workload::new(shape, 7).data().len();
        for (i, path) in PATHS.iter().enumerate() {
            let bytes = tally.paths[i];
            let ratio = bytes as f64 / tally.bound as f64;
            let room = path.ranges.unwrap_or(UpdateEncoder::hub_ranges(len));
            let fits = tally.runs <= room * TICKS / 2;
            println!("{shape:?}, {}: {bytes} bytes, {ratio:.3}× bound", path.name);
            assert!(
                bytes as f64 <= tally.chunks as f64 * 1.02 + (12 * TICKS) as f64,
                "{shape:?}, {}: {bytes} bytes, more than whole chunks ({})",
                path.name,
                tally.chunks
            );
            if tally.changed <= 16 * TICKS {
                // Per tick: the bound, a length prefix, the tag (with the
                // last flag), the handle and the base's check byte: the
                // generations are the subscription's reference and a step
                // of 1 (protocol 2's update header).
                assert!(
                    bytes <= tally.bound + 4 * TICKS,
                    "{shape:?}, {}: {bytes} bytes against a bound of {}",
                    path.name,
                    tally.bound
                );
                if shape == Shape::Counter {
                    // A one-byte change: at most 8 bytes on the wire.
                    assert!(bytes <= 8 * TICKS, "{}: {bytes} bytes", path.name);
                }
            } else if fits {
                let limit = if path.max_frame < 16 * 1024 {
                    1.15
                } else {
                    1.10
                };
                assert!(
                    ratio <= limit,
                    "{shape:?}, {}: {bytes} bytes, {ratio:.3}× the bound {}",
                    path.name,
                    tally.bound
                );
            }
        }
    }
}
