//! Paired measurement: a candidate and its baseline timed in alternating
//! batches, and the ratio taken per pair of batches.
//!
//! On a shared machine the load moves while a benchmark runs; criterion
//! measures one function after another, so a ratio of two of its medians
//! carries that drift. Here each ratio compares two batches run back to
//! back (their order swapped every round), so a change of load falls on
//! both alike, and the spread of the ratios shows how far to trust it.

use std::fmt;
use std::time::Duration;

/// Ratios of a candidate to its baseline over many rounds.
#[derive(Clone, Copy, Debug)]
pub struct Paired {
    /// Rounds measured (after the warm-up rounds).
    pub rounds: usize,
    /// The candidate's median time per operation.
    pub candidate: Duration,
    /// The baseline's median time per operation.
    pub baseline: Duration,
    /// The lower quartile, median and upper quartile of candidate / baseline.
    pub ratio: [f64; 3],
}

/// The rounds asked for with `MEMWIRE_BENCH_PAIRED=<rounds>` (`default`
/// when it is set to something else), or `None` when the paired report
/// was not asked for.
pub fn rounds(default: usize) -> Option<usize> {
    let value = std::env::var_os("MEMWIRE_BENCH_PAIRED")?;
    Some(
        value
            .to_str()
            .and_then(|r| r.parse().ok())
            .unwrap_or(default),
    )
}

/// Rounds run first and not counted: caches, page tables and the peers'
/// processes settle.
const WARM_UP: usize = 5;

/// Times `rounds` pairs of batches of `batch` operations each. `candidate`
/// and `baseline` run `n` operations and return the time they took.
pub fn paired(
    rounds: usize,
    batch: u64,
    mut candidate: impl FnMut(u64) -> Duration,
    mut baseline: impl FnMut(u64) -> Duration,
) -> Paired {
    let mut ratios = Vec::with_capacity(rounds);
    let mut times = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for round in 0..WARM_UP + rounds {
        let (c, b) = if round % 2 == 0 {
            let c = candidate(batch);
            (c, baseline(batch))
        } else {
            let b = baseline(batch);
            (candidate(batch), b)
        };
        if round < WARM_UP {
            continue;
        }
        ratios.push(c.as_secs_f64() / b.as_secs_f64().max(1e-12));
        times.0.push(c);
        times.1.push(b);
    }
    ratios.sort_by(f64::total_cmp);
    times.0.sort_unstable();
    times.1.sort_unstable();
    let per_op = |sorted: &[Duration]| {
        let mid = sorted.get(sorted.len() / 2).copied().unwrap_or_default();
        mid / u32::try_from(batch.max(1)).unwrap_or(u32::MAX)
    };
    Paired {
        rounds,
        candidate: per_op(&times.0),
        baseline: per_op(&times.1),
        ratio: [
            quantile(&ratios, 0.25),
            quantile(&ratios, 0.5),
            quantile(&ratios, 0.75),
        ],
    }
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let last = sorted.len().saturating_sub(1);
    let index = (last as f64 * q).round() as usize;
    sorted.get(index).copied().unwrap_or(f64::NAN)
}

impl fmt::Display for Paired {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [q1, median, q3] = self.ratio;
        write!(
            f,
            "{:>10.1?} vs {:>10.1?}  ratio {median:.2}x (quartiles {q1:.2}-{q3:.2}x, {} rounds)",
            self.candidate, self.baseline, self.rounds
        )
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn a_load_that_moves_falls_on_both_sides() {
        // A machine that gets slower every batch, and warm-up rounds that
        // are far off: the ratio of each pair stays 2.
        let batches = Cell::new(0u32);
        let load = || {
            batches.set(batches.get() + 1);
            batches.get()
        };
        let cold = |factor: u32| {
            if batches.get() <= 2 * WARM_UP as u32 {
                factor * 50
            } else {
                factor
            }
        };
        let p = paired(
            9,
            100,
            |n| Duration::from_nanos(n * 20) * load() * cold(1),
            |n| Duration::from_nanos(n * 10) * load(),
        );
        assert_eq!(p.rounds, 9);
        assert_eq!(batches.get(), 2 * (WARM_UP as u32 + 9));
        for r in p.ratio {
            assert!((r - 2.0).abs() < 0.25, "ratio {r}");
        }
        assert!(p.candidate > p.baseline);
        assert!(p.to_string().contains("ratio 2."));
    }

    #[test]
    fn quantiles_pick_ranks() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 0.5), 3.0);
        assert_eq!(quantile(&v, 1.0), 5.0);
        assert!(quantile(&[], 0.5).is_nan());
    }
}
