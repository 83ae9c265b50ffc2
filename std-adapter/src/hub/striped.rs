//! [`Striped`]: a counter spread over cache lines, one per stripe, each
//! thread adding to its own, the reader summing them.
//!
//! The hub's traffic counters are added to on every connection turn and
//! every update part sent, from the connections' tasks on each worker
//! thread and from the scanner threads at once. One atomic for all of
//! them makes its cache line travel between cores with every add; a
//! stripe per thread keeps each add on a line its core holds. Reads (a
//! scrape a second) sum the stripes. Counts stay exact.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Stripes per counter: more than the threads that add at once on the
/// machines a hub runs on; threads beyond share stripes round-robin.
const STRIPES: usize = 8;

/// One stripe, alone on its cache line (128 bytes: two lines on CPUs that
/// fetch lines in pairs).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Stripe(AtomicU64);

/// A counter added to from many threads and read seldom.
#[derive(Debug, Default)]
pub(crate) struct Striped([Stripe; STRIPES]);

impl Striped {
    /// Adds `n` (a relaxed add on this thread's stripe).
    pub(crate) fn add(&self, n: u64) {
        if let Some(stripe) = self.0.get(stripe()) {
            stripe.0.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// The sum of every add so far.
    pub(crate) fn get(&self) -> u64 {
        self.0
            .iter()
            .map(|s| s.0.load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }
}

/// This thread's stripe: given in turn to threads as they first add.
fn stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
    }
    STRIPE.with(|s| *s)
}

#[cfg(test)]
mod tests {
    use super::Striped;

    #[test]
    fn adds_from_many_threads_sum_exactly() {
        let counter = Striped::default();
        std::thread::scope(|scope| {
            for _ in 0..12 {
                scope.spawn(|| {
                    for _ in 0..1000 {
                        counter.add(3);
                    }
                });
            }
        });
        assert_eq!(counter.get(), 12 * 1000 * 3);
    }
}
