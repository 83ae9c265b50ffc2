//! What a scan reports: changed byte ranges, and the error that says they
//! did not fit the caller's buffer.

use core::fmt;

/// A half-open range of bytes, `start..end`, relative to the start of the
/// data area (or of the slices given to a scan).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ByteRange {
    /// The first byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl ByteRange {
    /// The range `start..end`.
    pub const fn new(start: usize, end: usize) -> ByteRange {
        ByteRange { start, end }
    }

    /// The number of bytes (0 if `end <= start`).
    pub const fn len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    /// Whether the range holds no byte.
    pub const fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// The range as a `core::ops::Range`, for slicing.
    pub const fn as_range(&self) -> core::ops::Range<usize> {
        self.start..self.end
    }
}

impl From<ByteRange> for core::ops::Range<usize> {
    fn from(r: ByteRange) -> Self {
        r.start..r.end
    }
}

/// More ranges than the output buffer holds. A scan reports it only for a
/// buffer with no room at all: into a buffer with room for one range or
/// more it merges ranges to fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Overflow {
    /// How many ranges the complete answer has.
    pub needed: usize,
    /// One range that covers every change: a correct, coarser fallback.
    pub span: ByteRange,
}

impl fmt::Display for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} changed ranges do not fit the output buffer (all within {}..{})",
            self.needed, self.span.start, self.span.end
        )
    }
}

impl core::error::Error for Overflow {}
