//! What the shared-memory benchmark and its peer process share: the raw
//! futex baseline over a mapped file of two words.

use std::fs::File;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use memmap2::{MmapOptions, MmapRaw};

/// Two words in a shared file mapping: `ping` (written by the benchmark),
/// `pong` (written by the peer).
pub(crate) struct Words {
    raw: MmapRaw,
}

impl Words {
    /// Maps the first 8 bytes of `file` (already that long) shared.
    pub(crate) fn map(file: &File) -> std::io::Result<Words> {
        let raw = MmapOptions::new().len(8).map_raw(file)?;
        Ok(Words { raw })
    }

    #[allow(unsafe_code)]
    fn words(&self) -> &[AtomicU32; 2] {
        #[allow(
            clippy::cast_ptr_alignment,
            reason = "mmap returns page-aligned memory"
        )]
        let ptr = self.raw.as_mut_ptr().cast::<[AtomicU32; 2]>();
        // SAFETY: a successful 8-byte shared mapping: non-null, page-aligned,
        // valid while `self.raw` lives (the borrow of `self` bounds the
        // reference); only atomic operations touch it, here and in the
        // other process.
        unsafe { &*ptr }
    }

    /// The word the benchmark writes.
    pub(crate) fn ping(&self) -> &AtomicU32 {
        &self.words()[0]
    }

    /// The word the peer writes.
    pub(crate) fn pong(&self) -> &AtomicU32 {
        &self.words()[1]
    }
}

/// Waits until `word` differs from `seen`; `None` after `timeout`.
pub(crate) fn wait_change(word: &AtomicU32, seen: u32, timeout: Duration) -> Option<u32> {
    let ts = rustix::thread::futex::Timespec {
        tv_sec: timeout.as_secs().try_into().unwrap_or(i64::MAX),
        tv_nsec: timeout.subsec_nanos().into(),
    };
    loop {
        let now = word.load(Ordering::Acquire);
        if now != seen {
            return Some(now);
        }
        if let Err(rustix::io::Errno::TIMEDOUT) = rustix::thread::futex::wait(
            word,
            rustix::thread::futex::Flags::empty(),
            seen,
            Some(&ts),
        ) {
            return None;
        }
    }
}

/// Stores `value` and wakes the other side.
pub(crate) fn publish(word: &AtomicU32, value: u32) {
    word.store(value, Ordering::Release);
    let _ = rustix::thread::futex::wake(word, rustix::thread::futex::Flags::empty(), 1);
}
