//! A reader's request that the writer pause, through the header's pause
//! word (`spec/region-layout.md`): a reader whose copy keeps being
//! overtaken by commits asks, and the writer holds its next commit back
//! until the reader has its copy or [`PAUSE_MAX`] has passed.
//!
//! A reader stores to the word only through a mapping whose header page
//! is writable (`map.rs`, `Access::Header`); a reader that could open its
//! file only read-only has no word (`None` below) and never asks.

use std::time::{Duration, Instant};

use memwire::sync::{AtomicU32, Ordering};

/// The longest a writer holds a commit back for one reader's request. A
/// reader that asked and then died or stopped costs the writer at most
/// this once: the writer clears the request itself when it runs out. A
/// copy of a whole large data area (256 KiB) takes some tens of
/// microseconds, well within it.
pub const PAUSE_MAX: Duration = Duration::from_micros(200);

/// Attempts a read makes in the core (`Region::with_read_tries`) before
/// it hands back to the adapter, which counts them in rounds: few, so that
/// a reader losing races to a writer that commits in a tight loop asks for
/// a pause within microseconds, not after the core's
/// [`SPIN_LIMIT`](memwire::region::SPIN_LIMIT) copies (some 150 ms for
/// 256 KiB). The first attempt of a read stays inline and pays nothing
/// for this.
pub(crate) const READ_TRIES: u32 = 16;

/// Rounds of [`READ_TRIES`] attempts a reader fails before it asks the
/// writer to pause: the first lost round may be one commit in the way,
/// waited out with a yield; from the second, the writer is overtaking.
pub(crate) const ASK_AFTER_ROUNDS: u32 = 2;

/// How long the writer spins (yielding) before it sleeps between looks.
const SPIN: Duration = Duration::from_micros(20);

/// Before a commit: when a reader asked for a pause, waits until it
/// withdraws its request or [`PAUSE_MAX`] passes, and then clears a
/// request still standing. One relaxed load when nobody asked.
#[inline(always)]
pub(crate) fn give_way(word: Option<&AtomicU32>) {
    if let Some(word) = word {
        if word.load(Ordering::Relaxed) != 0 {
            wait_for_reader(word);
        }
    }
}

#[cold]
#[inline(never)]
fn wait_for_reader(word: &AtomicU32) {
    let start = Instant::now();

    loop {
        let asked = word.load(Ordering::Acquire);
        if asked == 0 {
            return;
        }
        let waited = start.elapsed();
        if waited >= PAUSE_MAX {
            // The request, or a later one that found the word clear: either
            // way this writer has given way once for it.
            let _ = word.compare_exchange(asked, 0, Ordering::AcqRel, Ordering::Relaxed);
            return;
        }
        if waited < SPIN {
            std::thread::yield_now();
        } else {
            std::thread::sleep(Duration::from_micros(10));
        }
    }
}

/// A reader's request: the token it stored, while it stands.
#[derive(Debug, Default)]
pub(crate) struct Request {
    token: Option<u32>,
}

impl Request {
    /// Asks for a pause unless this reader's request still stands or
    /// another reader's does (the writer then pauses for that one, which
    /// helps this reader as well).
    pub(crate) fn ask(&mut self, word: Option<&AtomicU32>) {
        let Some(word) = word else {
            return;
        };
        if let Some(token) = self.token {
            if word.load(Ordering::Relaxed) == token {
                return;
            }
        }
        let token = token();
        self.token = word
            .compare_exchange(0, token, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
            .then_some(token);
    }

    /// Whether this reader's request still stands.
    pub(crate) fn stands(&self, word: Option<&AtomicU32>) -> bool {
        match (self.token, word) {
            (Some(token), Some(word)) => word.load(Ordering::Relaxed) == token,
            _ => false,
        }
    }

    /// Withdraws the request, unless the writer already cleared it (and
    /// another reader may have stored its own since).
    pub(crate) fn withdraw(&mut self, word: Option<&AtomicU32>) {
        if let (Some(token), Some(word)) = (self.token.take(), word) {
            let _ = word.compare_exchange(token, 0, Ordering::AcqRel, Ordering::Relaxed);
        }
    }
}

/// A nonzero token that no other request of this process shares (and,
/// through the pid, most likely no other process's).
fn token() -> u32 {
    use std::sync::atomic;
    static NEXT: atomic::AtomicU32 = atomic::AtomicU32::new(1);
    let n = NEXT.fetch_add(1, atomic::Ordering::Relaxed);
    (std::process::id().rotate_left(16) ^ n).max(1)
}
