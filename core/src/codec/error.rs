//! What can go wrong while encoding, decoding and accumulating frames.

use core::fmt;

/// Why bytes are not a valid frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum DecodeError {
    /// The bytes end in the middle of a field.
    Truncated,
    /// Bytes remain after the frame's last field.
    TrailingBytes,
    /// The frame tag is not one this version knows.
    UnknownFrame,
    /// A varint is longer than its type allows.
    BadVarint,
    /// A bool, option or enum tag holds a value outside its set.
    BadTag,
    /// A string is not UTF-8.
    BadUtf8,
    /// A field breaks a bound of the wire format: a string too long, a name
    /// with a forbidden byte, a byte range that is empty, out of order or past
    /// 4 GiB, an unknown variable kind.
    Invalid,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DecodeError::Truncated => "frame ends in the middle of a field",
            DecodeError::TrailingBytes => "bytes remain after the frame",
            DecodeError::UnknownFrame => "unknown frame tag",
            DecodeError::BadVarint => "varint too long for its type",
            DecodeError::BadTag => "bool, option or enum tag out of range",
            DecodeError::BadUtf8 => "string is not UTF-8",
            DecodeError::Invalid => "field breaks a bound of the wire format",
        })
    }
}

impl core::error::Error for DecodeError {}

/// Why a frame could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum EncodeError {
    /// The output buffer is too small for the frame.
    BufferTooSmall,
    /// The frame is larger than the maximum frame size it must fit.
    TooLarge,
    /// A field breaks a bound of the wire format (see [`DecodeError::Invalid`]).
    Invalid,
    /// The byte ranges to send are out of order, overlap, or reach past the
    /// data or past 4 GiB.
    BadRanges,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EncodeError::BufferTooSmall => "output buffer too small for the frame",
            EncodeError::TooLarge => "frame larger than the maximum frame size",
            EncodeError::Invalid => "field breaks a bound of the wire format",
            EncodeError::BadRanges => "byte ranges out of order, overlapping or out of bounds",
        })
    }
}

impl core::error::Error for EncodeError {}

/// Why a [`FrameAccumulator`](super::FrameAccumulator) refused its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum AccumulateError {
    /// A frame is longer than the maximum frame size.
    TooLarge,
    /// A frame is empty (a zero length prefix, or a COBS packet that decodes
    /// to nothing).
    Empty,
    /// A length prefix is over-long or not in its shortest form.
    BadLength,
    /// A COBS packet ends in the middle of a block.
    BadCobs,
    /// An earlier error broke a length-prefixed stream; it cannot find the
    /// next frame and must be closed.
    Broken,
}

impl fmt::Display for AccumulateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AccumulateError::TooLarge => "frame larger than the maximum frame size",
            AccumulateError::Empty => "empty frame",
            AccumulateError::BadLength => "length prefix over-long or not minimal",
            AccumulateError::BadCobs => "COBS packet ends in the middle of a block",
            AccumulateError::Broken => "stream broken by an earlier framing error",
        })
    }
}

impl core::error::Error for AccumulateError {}
