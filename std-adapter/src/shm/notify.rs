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
//! modelled as a mutex and a condition variable.
//!
//! Linux uses a shared (not process-private) futex on the mapped word, so
//! waiters in other processes are woken. Elsewhere the fallback polls the
//! word with a sleep that doubles from 50 µs to 5 ms while nothing changes.

use std::time::Duration;

use memwire::sync::{AtomicU32, Ordering};

/// How a waiter sleeps until a word changes, and how a writer wakes it.
pub(crate) trait Futex {
    /// Sleeps while `word` holds `expected`, until woken or `timeout`
    /// passes. May return early; the caller re-checks the word.
    fn wait(&self, word: &AtomicU32, expected: u32, timeout: Option<Duration>);

    /// Wakes every waiter sleeping on `word`.
    fn wake_all(&self, word: &AtomicU32);
}

/// Waits until the commit word `word` is even and differs from `seen`, and
/// returns its value; `None` once `remaining` says the deadline has passed.
///
/// `remaining` returns the time left (`Some(None)` for no deadline, `None`
/// when it has passed): the caller owns the clock.
pub(crate) fn wait_commit<F: Futex + ?Sized>(
    futex: &F,
    word: &AtomicU32,
    seen: u32,
    mut remaining: impl FnMut() -> Option<Option<Duration>>,
) -> Option<u32> {
    loop {
        let now = word.load(Ordering::Acquire);
        if now != seen && now & 1 == 0 {
            return Some(now);
        }
        // Odd: a commit is in progress and its writer wakes us when it ends.
        // Even and equal to `seen`: nothing new; the next commit wakes us.
        let left = remaining()?;
        futex.wait(word, now, left);
    }
}

/// Tells waiters that a commit ended: call after every commit.
pub(crate) fn committed<F: Futex + ?Sized>(futex: &F, word: &AtomicU32) {
    futex.wake_all(word);
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
    fn wait(&self, word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
        use rustix::thread::futex;
        let timeout = timeout.map(|t| futex::Timespec {
            tv_sec: t.as_secs().try_into().unwrap_or(i64::MAX),
            tv_nsec: t.subsec_nanos().into(),
        });
        // EAGAIN (the word already moved), ETIMEDOUT and EINTR all send the
        // caller back to re-check the word, so the result carries nothing.
        let _ = futex::wait(word, futex::Flags::empty(), expected, timeout.as_ref());
    }

    fn wake_all(&self, word: &AtomicU32) {
        use rustix::thread::futex;
        // Waking needs only read access to the page: a failure would mean
        // the word is not mapped, which the borrow rules out.
        let _ = futex::wake(word, futex::Flags::empty(), i32::MAX.unsigned_abs());
    }
}

/// Polling with adaptive backoff, for platforms without a shared futex.
#[cfg(all(not(loom), not(any(target_os = "linux", target_os = "android"))))]
struct PollFutex;

#[cfg(all(not(loom), not(any(target_os = "linux", target_os = "android"))))]
impl Futex for PollFutex {
    fn wait(&self, word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
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

    fn wake_all(&self, _word: &AtomicU32) {}
}
