//! Change notification: sleeping until a region's commit counter moves.
//!
//! The protocol, on the header's commit word (odd during a commit, +2 per
//! commit):
//!
//! - the writer commits (the word becomes even again with a release store),
//!   then wakes every waiter on the word;
//! - a waiter that last saw the even value `seen` loads the word; if it is
//!   even and differs from `seen`, something was committed. Otherwise it
//!   sleeps *while the word still holds the value it loaded*.
//!
//! The kernel checks "the word still holds the value" and queues the waiter
//! atomically with respect to wakes (`FUTEX_WAIT`), so a commit that lands
//! between the load and the sleep makes the sleep return at once: no wake-up
//! is lost. `std-adapter/tests/loom_notify.rs` checks this with the futex
//! modelled as a mutex and a condition variable, and that the wakes reach
//! the scanner or the others as [`Waiters`] says.
//!
//! Linux uses a shared (not process-private) futex on the mapped word, so
//! waiters in other processes are woken. Elsewhere the fallback polls the
//! word with a sleep that doubles from 50 µs to 5 ms while nothing changes.
//!
//! A hub's scanner waits apart from the other waiters ([`Waiters`]): a write
//! the hub makes and publishes itself wakes everyone but it, since there is
//! nothing left for it to find. Waking it would cost the writing thread a
//! wake-up, and the update's subscriber a CPU, for nothing.

use std::time::Duration;

use memwire::sync::{AtomicU32, Ordering};

/// Who sleeps on a commit word, as a set of bits the kernel matches wakes
/// against (`FUTEX_WAIT_BITSET`): a wake reaches the waiters whose bits
/// meet its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Waiters(u32);

impl Waiters {
    /// Every waiter; readers wait as this, and every commit wakes it.
    pub(crate) const ALL: Waiters = Waiters(u32::MAX);
    /// A hub's scanner, which publishes what local writers commit.
    pub(crate) const SCANNER: Waiters = Waiters(1);
    /// Everyone but a hub's scanner: whom a commit the hub published itself
    /// wakes.
    pub(crate) const NOT_SCANNER: Waiters = Waiters(!1);

    /// The bits, never zero (also what the loom model of this protocol,
    /// `std-adapter/tests/loom_notify.rs`, matches wakes against).
    #[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
    pub(crate) fn bits(self) -> std::num::NonZeroU32 {
        std::num::NonZeroU32::new(self.0).unwrap_or(std::num::NonZeroU32::MAX)
    }
}

/// How a waiter sleeps until a word changes, and how a writer wakes it.
pub(crate) trait Futex {
    /// Sleeps as `waiter` while `word` holds `expected`, until woken or
    /// `timeout` passes. May return early; the caller re-checks the word.
    fn wait(&self, word: &AtomicU32, expected: u32, timeout: Option<Duration>, waiter: Waiters);

    /// Wakes the waiters sleeping on `word` that `whom` reaches; how many
    /// woke, where the platform tells (else 0).
    fn wake(&self, word: &AtomicU32, whom: Waiters) -> usize;
}

/// Waits as `waiter` until the commit word `word` is even and differs from
/// `seen`, and returns its value; `None` once `remaining` says the deadline
/// has passed.
///
/// `remaining` returns the time left (`Some(None)` for no deadline, `None`
/// when it has passed): the caller owns the clock.
pub(crate) fn wait_commit<F: Futex + ?Sized>(
    futex: &F,
    word: &AtomicU32,
    seen: u32,
    waiter: Waiters,
    mut remaining: impl FnMut() -> Option<Option<Duration>>,
) -> Option<u32> {
    loop {
        let now = word.load(Ordering::Acquire);
        if now != seen && now & 1 == 0 {
            return Some(now);
        }
        // Odd: a commit is in progress and its writer wakes us when it ends
        // (a hub's scanner excepted when the hub is that writer: it scans
        // and publishes before it wakes, so nothing is left to find).
        // Even and equal to `seen`: nothing new; the next commit wakes us.
        let left = remaining()?;
        futex.wait(word, now, left, waiter);
    }
}

/// Tells the waiters `whom` reaches that a commit ended: call after every
/// commit, with [`Waiters::ALL`] unless the commit is published already.
pub(crate) fn committed<F: Futex + ?Sized>(futex: &F, word: &AtomicU32, whom: Waiters) {
    let _ = futex.wake(word, whom);
}

/// The futex of this platform.
#[cfg(not(loom))]
pub(crate) fn os() -> &'static impl Futex {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        &LinuxFutex
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        &PollFutex
    }
}

/// A shared futex on the mapped word itself.
#[cfg(all(not(loom), any(target_os = "linux", target_os = "android")))]
struct LinuxFutex;

#[cfg(all(not(loom), any(target_os = "linux", target_os = "android")))]
impl Futex for LinuxFutex {
    fn wait(&self, word: &AtomicU32, expected: u32, timeout: Option<Duration>, waiter: Waiters) {
        use rustix::thread::futex;
        // EAGAIN (the word already moved), ETIMEDOUT and EINTR all send the
        // caller back to re-check the word, so the results carry nothing.
        if waiter == Waiters::ALL {
            // FUTEX_WAIT: the bitset wait with every bit set.
            let timeout = timeout.map(timespec);
            let _ = futex::wait(word, futex::Flags::empty(), expected, timeout.as_ref());
        } else {
            // The bitset wait takes a deadline on the monotonic clock.
            let deadline = timeout.map(|t| {
                let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
                let now = Duration::new(
                    now.tv_sec.try_into().unwrap_or(0),
                    now.tv_nsec.try_into().unwrap_or(0),
                );
                timespec(now.saturating_add(t))
            });
            let _ = futex::wait_bitset(
                word,
                futex::Flags::empty(),
                expected,
                deadline.as_ref(),
                waiter.bits(),
            );
        }
    }

    fn wake(&self, word: &AtomicU32, whom: Waiters) -> usize {
        use rustix::thread::futex;
        // Waking needs only read access to the page: a failure would mean
        // the word is not mapped, which the borrow rules out.
        let all = i32::MAX.unsigned_abs();
        let woken = if whom == Waiters::ALL {
            futex::wake(word, futex::Flags::empty(), all)
        } else {
            futex::wake_bitset(word, futex::Flags::empty(), all, whom.bits())
        };
        woken.unwrap_or(0)
    }
}

#[cfg(all(not(loom), any(target_os = "linux", target_os = "android")))]
fn timespec(t: Duration) -> rustix::thread::futex::Timespec {
    rustix::thread::futex::Timespec {
        tv_sec: t.as_secs().try_into().unwrap_or(i64::MAX),
        tv_nsec: t.subsec_nanos().into(),
    }
}

/// Polling with adaptive backoff, for platforms without a shared futex.
#[cfg(all(not(loom), not(any(target_os = "linux", target_os = "android"))))]
struct PollFutex;

#[cfg(all(not(loom), not(any(target_os = "linux", target_os = "android"))))]
impl Futex for PollFutex {
    fn wait(&self, word: &AtomicU32, expected: u32, timeout: Option<Duration>, _: Waiters) {
        let limit = timeout.unwrap_or(Duration::MAX);
        let mut slept = Duration::ZERO;
        let mut step = Duration::from_micros(50);
        while word.load(Ordering::Acquire) == expected && slept < limit {
            let nap = step.min(limit - slept);
            std::thread::sleep(nap);
            slept += nap;
            step = (step * 2).min(Duration::from_millis(5));
        }
    }

    fn wake(&self, _word: &AtomicU32, _whom: Waiters) -> usize {
        0
    }
}

#[cfg(all(test, not(loom), any(target_os = "linux", target_os = "android")))]
mod tests {
    use std::sync::Arc;
    use std::thread::JoinHandle;
    use std::time::Duration;

    use super::*;

    /// Whether thread `tid` of this process is asleep (state `S`).
    fn asleep(tid: i32) -> bool {
        let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat"));
        stat.ok()
            .and_then(|s| {
                s.rsplit_once(')')
                    .map(|(_, rest)| rest.trim_start().starts_with('S'))
            })
            .unwrap_or(false)
    }

    /// A thread waiting as `waiter` while `word` holds 0, once it sleeps
    /// (the wait is all it does that can sleep).
    fn sleeping(word: &Arc<AtomicU32>, waiter: Waiters) -> JoinHandle<()> {
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let word = Arc::clone(word);
        let thread = std::thread::spawn(move || {
            let _ = tid_tx.send(rustix::thread::gettid().as_raw_nonzero().get());
            LinuxFutex.wait(&word, 0, Some(Duration::from_secs(30)), waiter);
        });
        let tid = tid_rx.recv().unwrap();
        while !asleep(tid) {
            // A wait that returned on its own (a signal) would leave nothing
            // to look for: fail rather than spin.
            assert!(!thread.is_finished(), "the wait returned before any wake");
            std::thread::yield_now();
        }
        thread
    }

    /// A scanner asleep on the word is left asleep by a wake for everyone
    /// else, and woken by a wake for all.
    #[test]
    fn a_wake_for_the_others_leaves_the_scanner_asleep() {
        let word = Arc::new(AtomicU32::new(0));
        let scanner = sleeping(&word, Waiters::SCANNER);
        assert_eq!(LinuxFutex.wake(&word, Waiters::NOT_SCANNER), 0);
        assert_eq!(LinuxFutex.wake(&word, Waiters::ALL), 1);
        scanner.join().unwrap();
    }

    /// A reader is woken by both kinds of wake.
    #[test]
    fn a_wake_for_the_others_wakes_a_reader() {
        for whom in [Waiters::NOT_SCANNER, Waiters::ALL] {
            let word = Arc::new(AtomicU32::new(0));
            let reader = sleeping(&word, Waiters::ALL);
            assert_eq!(LinuxFutex.wake(&word, whom), 1, "{whom:?}");
            reader.join().unwrap();
        }
    }
}
