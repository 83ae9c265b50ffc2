//! A variable located once, for reads in a loop.

use super::{AccessError, Region, copy_once, copy_words, guarded};
use crate::schema::VarId;
use crate::sync::{self, AtomicU32};

/// One variable of a live region, located once. [`Region::read`] finds the
/// variable in the table and checks the length on every call; a `VarRef`
/// did that when it was made, so its reads cost the seqlock alone. It
/// borrows the region's memory, not the [`Region`].
#[derive(Clone, Copy, Debug)]
pub struct VarRef<'a> {
    seq: &'a AtomicU32,
    /// The words the variable fills when it starts and ends on word
    /// boundaries (every variable of 4- or 8-byte elements); else empty.
    words: &'a [AtomicU32],
    data: &'a [AtomicU32],
    offset: usize,
    len: usize,
    /// The region's [`read_tries`](Region::read_tries).
    tries: u32,
}

impl<'a> Region<'a> {
    /// Variable `id`, located once for many reads.
    pub fn var(&self, id: VarId) -> Result<VarRef<'a>, AccessError> {
        let var = self.schema.get(id).ok_or(AccessError::UnknownVariable)?;
        let len = usize::try_from(var.len()).map_err(|_| AccessError::OutOfBounds)?;
        let (seq, offset) = self.locate(id, len)?;
        // Checked here so that a read can only fail for a write in progress.
        if self.data.len() * sync::WORD < offset.saturating_add(len) {
            return Err(AccessError::OutOfBounds);
        }
        let words = if offset % sync::WORD == 0 && len % sync::WORD == 0 {
            self.data
                .get(offset / sync::WORD..)
                .and_then(|w| w.get(..len / sync::WORD))
                .unwrap_or(&[])
        } else {
            &[]
        };
        Ok(VarRef {
            seq,
            words,
            data: self.data,
            offset,
            len,
            tries: self.tries,
        })
    }
}

impl VarRef<'_> {
    /// The variable's length in bytes.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Always false: a variable holds at least one byte.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// One attempt at a consistent copy into `out` (exactly the variable's
    /// length); [`AccessError::Busy`] if a write overlapped it.
    #[inline]
    pub fn try_read(&self, out: &mut [u8]) -> Result<(), AccessError> {
        self.fits(out)?;
        if self.copy_once(out)? {
            Ok(())
        } else {
            Err(AccessError::Busy)
        }
    }

    /// A consistent copy into `out` (exactly the variable's length),
    /// trying up to the region's [`read_tries`](Region::read_tries) times
    /// while it is written.
    #[inline(always)]
    pub fn read(&self, out: &mut [u8]) -> Result<(), AccessError> {
        // The first attempt inline at the caller, the retries out of line:
        // a read in a loop is then the seqlock and nothing else.
        self.fits(out)?;
        if self.copy_once(out)? {
            return Ok(());
        }
        self.retry(out)
    }

    #[cold]
    #[inline(never)]
    fn retry(&self, out: &mut [u8]) -> Result<(), AccessError> {
        for _ in 1..self.tries {
            sync::spin();
            if self.copy_once(out)? {
                return Ok(());
            }
        }
        Err(AccessError::Busy)
    }

    /// One seqlock copy into `out`, whose length is checked.
    #[inline(always)]
    fn copy_once(&self, out: &mut [u8]) -> Result<bool, AccessError> {
        if self.words.is_empty() {
            return copy_once(self.seq, self.data, self.offset, out);
        }
        // Whole words: no bounds or partial words left to check.
        guarded(self.seq, || {
            copy_words(self.words, out);
            Some(())
        })
    }

    #[inline(always)]
    fn fits(&self, out: &[u8]) -> Result<(), AccessError> {
        if out.len() == self.len {
            return Ok(());
        }
        #[allow(clippy::cast_possible_truncation)]
        Err(AccessError::WrongLength {
            expected: self.len as u32,
            found: out.len().try_into().unwrap_or(u32::MAX),
        })
    }
}
