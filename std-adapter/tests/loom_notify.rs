//! A loom model of the change-notification protocol (`src/shm/notify.rs`):
//! a writer commits (commit word odd, then even) and wakes; a waiter sleeps
//! while the word holds the value it loaded. No interleaving may lose a
//! wake-up, which loom would report as a deadlock.
//!
//! The futex is modelled as the kernel implements it: the "value still
//! equals" check and the enqueue happen under the bucket lock that a wake
//! also takes (here a mutex and a condition variable).
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p memwire-std --test loom_notify`

#![cfg(loom)]
#![allow(missing_docs)]

#[path = "../src/shm/notify.rs"]
#[allow(dead_code, unreachable_pub)]
mod notify;

use std::time::Duration;

use loom::sync::{Arc, Condvar, Mutex};
use memwire::sync::{AtomicU32, Ordering, write_begin, write_end};
use notify::{Futex, Waiters, committed, wait_commit};

#[derive(Default)]
struct ModelFutex {
    bucket: Mutex<()>,
    sleepers: Condvar,
}

impl Futex for ModelFutex {
    fn wait(&self, word: &AtomicU32, expected: u32, _timeout: Option<Duration>, _: Waiters) {
        let guard = self.bucket.lock().unwrap();
        // FUTEX_WAIT: compare and enqueue atomically w.r.t. wakes.
        if word.load(Ordering::SeqCst) == expected {
            drop(self.sleepers.wait(guard).unwrap());
        }
    }

    // Wakes every waiter, whom ever the wake is for: the model checks the
    // wake-ups of the waiters a commit must reach, not the filtering.
    fn wake(&self, _word: &AtomicU32, _whom: Waiters) -> usize {
        let _guard = self.bucket.lock().unwrap();
        self.sleepers.notify_all();
        0
    }
}

/// A broken futex that sleeps without re-checking the word: the model must
/// catch the lost wake-up it allows.
#[derive(Default)]
struct NaiveFutex(ModelFutex);

impl Futex for NaiveFutex {
    fn wait(&self, _word: &AtomicU32, _expected: u32, _timeout: Option<Duration>, _: Waiters) {
        let guard = self.0.bucket.lock().unwrap();
        drop(self.0.sleepers.wait(guard).unwrap());
    }

    fn wake(&self, word: &AtomicU32, whom: Waiters) -> usize {
        self.0.wake(word, whom)
    }
}

struct Shared<F> {
    commit: AtomicU32,
    futex: F,
}

/// The writer commits `commits` times; the waiter waits from the value it
/// first saw until it has seen the final one.
fn model<F: Futex + Default + Send + Sync + 'static>(commits: u32) {
    loom::model(move || {
        let shared = Arc::new(Shared {
            commit: AtomicU32::new(0),
            futex: F::default(),
        });
        let writer = {
            let shared = Arc::clone(&shared);
            loom::thread::spawn(move || {
                for _ in 0..commits {
                    write_begin(&shared.commit);
                    write_end(&shared.commit);
                    committed(&shared.futex, &shared.commit, Waiters::ALL);
                }
            })
        };
        let mut seen = 0;
        while seen != 2 * commits {
            seen = wait_commit(&shared.futex, &shared.commit, seen, Waiters::ALL, || {
                Some(None)
            })
            .unwrap();
            assert_eq!(
                seen & 1,
                0,
                "a waiter returns only on an even (committed) value"
            );
        }
        writer.join().unwrap();
    });
}

#[test]
fn one_commit_wakes_the_waiter() {
    model::<ModelFutex>(1);
}

#[test]
fn two_commits_reach_the_waiter() {
    model::<ModelFutex>(2);
}

/// The control: loom finds the deadlock (a lost wake-up) and aborts the
/// process, so it is not part of the default run. See it fail with
/// `... --test loom_notify -- --ignored`.
#[test]
#[ignore = "aborts: loom reports the lost wake-up as a deadlock"]
fn a_wait_without_the_value_check_loses_wake_ups() {
    model::<NaiveFutex>(1);
}
