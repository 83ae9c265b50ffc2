//! Seqlock primitives over 32-bit atomic words.
//!
//! A region that other processes map is only ever touched through
//! [`AtomicU32`] loads and stores: a plain or volatile copy of memory that
//! another party writes at the same time is a data race in Rust. 32-bit words
//! are the one atomic width every supported target has (`thumbv6m` has atomic
//! loads and stores but no compare-and-swap, so none is used here).
//!
//! The protocol, for one writer at a time (the caller guarantees it):
//!
//! - writer: for every counter it covers, `store(seq + 1, Relaxed)` (odd);
//!   `fence(Release)`; the data stores (Relaxed); then `store(seq + 2,
//!   Release)` (even again).
//! - reader: `s = load(Acquire)` for every counter, retry if any is odd; the
//!   data loads (Relaxed); `fence(Acquire)`; reload every counter (Relaxed) and
//!   retry if any moved.
//!
//! This is the seqlock form shown correct for the C++/Rust memory model by
//! H.-J. Boehm ("Can seqlocks get along with programming language memory
//! models?", 2012). The loom model in `core/tests/loom.rs` checks it.

#[cfg(loom)]
pub use loom::sync::atomic::{AtomicU32, Ordering, fence};

#[cfg(not(loom))]
pub use core::sync::atomic::{AtomicU32, Ordering, fence};

/// Waits a moment in a retry loop: a spin hint, or a yield to the model
/// checker under loom.
#[inline]
pub fn spin() {
    #[cfg(all(test, not(loom)))]
    SPINS.with(|spins| spins.set(spins.get() + 1));
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    core::hint::spin_loop();
}

#[cfg(all(test, not(loom)))]
std::thread_local! {
    /// The spins this thread made: how tests count a retry loop's attempts.
    pub(crate) static SPINS: core::cell::Cell<u32> = const { core::cell::Cell::new(0) };
}

/// The size of a word in bytes.
pub const WORD: usize = 4;

/// Starts a read: the counter's value, or `None` while a write is in progress.
#[inline]
pub fn read_begin(seq: &AtomicU32) -> Option<u32> {
    let s = seq.load(Ordering::Acquire);
    (s & 1 == 0).then_some(s)
}

/// Ends a read: true when no write started since `read_begin` returned `start`.
/// Call [`read_fence`] once before a batch of these.
#[inline]
pub fn read_still(seq: &AtomicU32, start: u32) -> bool {
    seq.load(Ordering::Relaxed) == start
}

/// Orders the data loads of a read before the counter reloads of
/// [`read_still`].
#[inline]
pub fn read_fence() {
    fence(Ordering::Acquire);
}

/// Marks a counter odd: a write to what it guards begins. Call
/// [`write_fence`] once after a batch of these, before the data stores.
#[inline]
pub fn write_begin(seq: &AtomicU32) {
    let s = seq.load(Ordering::Relaxed);
    // A counter left odd by a dead writer is repaired by `Region::recover`;
    // here it is forced odd rather than trusted.
    seq.store(
        (s | 1).wrapping_add(if s & 1 == 0 { 0 } else { 2 }),
        Ordering::Relaxed,
    );
}

/// Orders the counter stores of [`write_begin`] before the data stores.
#[inline]
pub fn write_fence() {
    fence(Ordering::Release);
}

/// Marks a counter even again: the write is published.
#[inline]
pub fn write_end(seq: &AtomicU32) {
    let s = seq.load(Ordering::Relaxed);
    seq.store((s | 1).wrapping_add(1), Ordering::Release);
}

/// Copies `out.len()` bytes starting at byte `start` of `words` with relaxed
/// atomic loads. Returns `None`, copying nothing, when the range is out of
/// bounds.
#[inline]
pub fn load_bytes(words: &[AtomicU32], start: usize, out: &mut [u8]) -> Option<()> {
    if start.is_multiple_of(WORD) && out.len().is_multiple_of(WORD) {
        // Whole words (every variable of 4 or 8-byte elements): no partial
        // words to merge, the common case of small reads.
        let src = words.get(start / WORD..)?.get(..out.len() / WORD)?;
        for (chunk, word) in out.chunks_exact_mut(WORD).zip(src) {
            chunk.copy_from_slice(&word.load(Ordering::Relaxed).to_le_bytes());
        }
        return Some(());
    }
    load_unaligned(words, start, out)
}

/// [`load_bytes`] with partial words at either end.
fn load_unaligned(words: &[AtomicU32], start: usize, out: &mut [u8]) -> Option<()> {
    let end = start.checked_add(out.len())?;
    if end > words.len() * WORD {
        return None;
    }
    // A partial first word, then whole words, then a partial last word.
    let head = ((WORD - start % WORD) % WORD).min(out.len());
    let (first, rest) = out.split_at_mut(head);
    if !first.is_empty() {
        let word = words
            .get(start / WORD)?
            .load(Ordering::Relaxed)
            .to_le_bytes();
        let skip = start % WORD;
        first.copy_from_slice(word.get(skip..skip + head)?);
    }
    let aligned = words.get((start + head) / WORD..)?;
    let mut chunks = rest.chunks_exact_mut(WORD);
    let mut source = aligned.iter();
    for (chunk, word) in chunks.by_ref().zip(source.by_ref()) {
        chunk.copy_from_slice(&word.load(Ordering::Relaxed).to_le_bytes());
    }
    let tail = chunks.into_remainder();
    if !tail.is_empty() {
        let word = source.next()?.load(Ordering::Relaxed).to_le_bytes();
        tail.copy_from_slice(word.get(..tail.len())?);
    }
    Some(())
}

/// Copies `src` to byte `start` of `words` with relaxed atomic stores.
/// Partial words at either end are merged with a load first, which is sound
/// only because there is one writer. Returns `None`, storing nothing, when
/// the range is out of bounds.
pub fn store_bytes(words: &[AtomicU32], start: usize, src: &[u8]) -> Option<()> {
    let end = start.checked_add(src.len())?;
    if end > words.len() * WORD {
        return None;
    }
    let merge = |slot: &AtomicU32, skip: usize, bytes: &[u8]| -> Option<()> {
        let mut w = slot.load(Ordering::Relaxed).to_le_bytes();
        w.get_mut(skip..skip + bytes.len())?.copy_from_slice(bytes);
        slot.store(u32::from_le_bytes(w), Ordering::Relaxed);
        Some(())
    };
    let head = ((WORD - start % WORD) % WORD).min(src.len());
    let (first, rest) = src.split_at(head);
    if !first.is_empty() {
        merge(words.get(start / WORD)?, start % WORD, first)?;
    }
    let aligned = words.get((start + head) / WORD..)?;
    let mut chunks = rest.chunks_exact(WORD);
    let mut target = aligned.iter();
    for (chunk, word) in chunks.by_ref().zip(target.by_ref()) {
        let mut w = [0u8; WORD];
        w.copy_from_slice(chunk);
        word.store(u32::from_le_bytes(w), Ordering::Relaxed);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        merge(target.next()?, 0, tail)?;
    }
    Some(())
}

/// Compares `expected` with the bytes at `start` of `words` (relaxed loads).
pub fn bytes_equal(words: &[AtomicU32], start: usize, expected: &[u8]) -> bool {
    let mut buf = [0u8; 64];
    let mut pos = start;
    for part in expected.chunks(buf.len()) {
        let Some(dst) = buf.get_mut(..part.len()) else {
            return false;
        };
        if load_bytes(words, pos, dst).is_none() || dst != part {
            return false;
        }
        pos += part.len();
    }
    true
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn words() -> [AtomicU32; 4] {
        [const { AtomicU32::new(0) }; 4]
    }

    #[test]
    fn store_and_load_at_every_alignment() {
        for start in 0..8 {
            for len in 0..=(16 - start) {
                let w = words();
                let pattern: [u8; 16] = core::array::from_fn(|i| i as u8 + 1);
                store_bytes(&w, start, &pattern[..len]).unwrap();
                let mut all = [0u8; 16];
                load_bytes(&w, 0, &mut all).unwrap();
                for (i, b) in all.iter().enumerate() {
                    let want = if i >= start && i < start + len {
                        pattern[i - start]
                    } else {
                        0
                    };
                    assert_eq!(*b, want, "start {start} len {len} byte {i}");
                }
                assert!(bytes_equal(&w, start, &pattern[..len]));
            }
        }
    }

    #[test]
    fn out_of_bounds_touches_nothing() {
        let w = words();
        assert!(store_bytes(&w, 14, &[1, 2, 3]).is_none());
        assert!(load_bytes(&w, 15, &mut [0; 2]).is_none());
        assert!(load_bytes(&w, 12, &mut [0; 8]).is_none());
        assert!(load_bytes(&w, 16, &mut [0; 4]).is_none());
        assert!(load_bytes(&w, usize::MAX - 3, &mut [0; 4]).is_none());
        assert!(store_bytes(&w, usize::MAX, &[1]).is_none());
        let mut all = [0u8; 16];
        load_bytes(&w, 0, &mut all).unwrap();
        assert_eq!(all, [0; 16]);
    }

    #[test]
    fn counters_go_odd_then_even() {
        let seq = AtomicU32::new(4);
        assert_eq!(read_begin(&seq), Some(4));
        write_begin(&seq);
        assert_eq!(seq.load(Ordering::Relaxed), 5);
        assert_eq!(read_begin(&seq), None);
        write_end(&seq);
        assert_eq!(seq.load(Ordering::Relaxed), 6);
        assert!(!read_still(&seq, 4));
        // A counter left odd by a dead writer moves on to a fresh odd value.
        seq.store(7, Ordering::Relaxed);
        write_begin(&seq);
        assert_eq!(seq.load(Ordering::Relaxed), 9);
        write_end(&seq);
        assert_eq!(seq.load(Ordering::Relaxed), 10);
    }
}
