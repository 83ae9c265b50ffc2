//! Every path's bytes per tick on one workload, beside the raw lower bound:
//! the hub's (up to 4,096 ranges a scan) and a device's publishing client
//! ([`OWN_RANGES`]), each to a peer taking 16 KiB and 1 KiB frames. Each
//! path's frames are decoded and applied to a mirror of its own, which must
//! equal the workload's data after every tick. Halfway through, a tick's
//! update is lost on the way and each mirror spoilt: it is rebuilt by a
//! resync (a full update, its base named), and the ticks after it are
//! deltas that leave their base out again, read against the reference the
//! resync set. The resync's bytes are not counted in the tally; the lost
//! update's are.
//!
//! ```
//! use memwire_benches::paths::{PATHS, run};
//! use memwire_benches::workloads::Shape;
//!
//! let tally = run(Shape::Counter, 1, 3);
//! assert_eq!(tally.bound, 3 * 3); // gap, length and one byte per tick
//! assert_eq!(tally.paths.len(), PATHS.len());
//! ```

use memwire::codec::UpdateReference;
use memwire::session::OWN_RANGES;

use crate::updates::{MAX_FRAME, UpdateEncoder, apply_update, chunk_cover, lower_bound};
use crate::workloads::{Shape, Workload};

/// A path: its name in the report, ranges kept per tick, maximum frame.
#[derive(Clone, Copy, Debug)]
pub struct Path {
    /// How the report names it.
    pub name: &'static str,
    /// Ranges kept per tick (more are merged to fit); `None` for a hub's,
    /// which depends on the region's size.
    pub ranges: Option<usize>,
    /// The peer's maximum frame size.
    pub max_frame: usize,
}

/// The paths of the comparison.
pub const PATHS: [Path; 4] = [
    Path {
        name: "hub, 16 KiB frames",
        ranges: None,
        max_frame: MAX_FRAME,
    },
    Path {
        name: "hub, 1 KiB frames",
        ranges: None,
        max_frame: 1024,
    },
    Path {
        name: "device, 16 KiB frames",
        ranges: Some(OWN_RANGES),
        max_frame: MAX_FRAME,
    },
    Path {
        name: "device, 1 KiB frames",
        ranges: Some(OWN_RANGES),
        max_frame: 1024,
    },
];

/// Bytes summed over the ticks of one run.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tally {
    /// Ticks run.
    pub ticks: usize,
    /// Bytes that changed.
    pub changed: usize,
    /// Maximal runs of changed bytes.
    pub runs: usize,
    /// The raw lower bound ([`lower_bound`]).
    pub bound: usize,
    /// The payload of whole changed 64-byte chunks ([`chunk_cover`]).
    pub chunks: usize,
    /// Bytes on the wire of each path of [`PATHS`], frames and headers
    /// included.
    pub paths: [usize; 4],
    /// The largest ratio of one tick's bytes to its lower bound, per path.
    pub worst: [f64; 4],
}

/// Runs `ticks` ticks of `shape` from `seed` through every path.
///
/// # Panics
///
/// If a path's mirror differs from the workload's data after a tick (the
/// resync's included).
pub fn run(shape: Shape, seed: u64, ticks: usize) -> Tally {
    let mut workload = Workload::new(shape, seed);
    let hub = UpdateEncoder::hub_ranges(workload.data().len());
    let mut encoders = PATHS
        .map(|p| UpdateEncoder::with_ranges(workload.data(), p.max_frame, p.ranges.unwrap_or(hub)));
    let mut mirrors = PATHS.map(|_| workload.data().to_vec());
    // Each mirror follows its subscription's reference from tick to tick,
    // across the resync too, as a client does.
    let mut references = PATHS.map(|_| {
        let mut reference = UpdateReference::new();
        reference.sent(1, true);
        reference
    });
    let mut wire = vec![0u8; 2 * workload.data().len() + 4096];
    let mut tally = Tally {
        ticks,
        ..Tally::default()
    };
    for tick in 0..ticks {
        let before = workload.data().to_vec();
        workload.tick();
        let lb = lower_bound(&before, workload.data());
        tally.changed += lb.changed;
        tally.bound += lb.bytes;
        tally.chunks += chunk_cover(&before, workload.data());
        tally.runs += lb.runs;
        let paths = encoders.iter_mut().zip(&mut mirrors).zip(&mut references);
        for (i, ((encoder, mirror), reference)) in paths.enumerate() {
            let base = encoder.generation();
            let n = encoder.update(workload.data(), &mut wire);
            tally.paths[i] += n;
            tally.worst[i] = tally.worst[i].max(n as f64 / lb.bytes.max(1) as f64);
            if tick == ticks / 2 {
                // This update is lost on the way; the mirror, whose copy
                // is spoilt as well, asks for a whole one and gets it.
                mirror.fill(0xA5);
                let n = encoder.resync(&mut wire);
                let generations = (0, encoder.generation());
                apply_update(
                    &wire[..n],
                    mirror,
                    reference,
                    generations,
                    PATHS[i].max_frame,
                );
            } else {
                let generations = (base, base + 1);
                apply_update(
                    &wire[..n],
                    mirror,
                    reference,
                    generations,
                    PATHS[i].max_frame,
                );
            }
            assert!(
                mirror.as_slice() == workload.data(),
                "{:?}, {}: the mirror differs after tick {tick}",
                shape,
                PATHS[i].name
            );
        }
    }
    tally
}
