//! postcard's encoding, written by hand: a reader over frame bytes and a
//! writer into a caller's buffer.
//!
//! The frames keep postcard's wire format (spec/wire-format.md): integers
//! wider than a byte are LEB128 varints, `u8` and fixed-width integers are
//! raw little-endian bytes, bools and option tags are one byte, strings and
//! byte strings are a varint length then the bytes. The core encodes them
//! itself rather than through serde's derives because the derived code was
//! the largest part of the client's firmware (see docs/decisions.md); the
//! tests check these bytes against postcard's own.

use super::error::{DecodeError, EncodeError};
use crate::schema::Name;

/// Reads postcard fields from the front of a byte slice; every read checks
/// bounds and fails cleanly.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads from the start of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    /// The bytes not read yet.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.rest
    }

    /// Fails unless every byte was read.
    pub(crate) fn finish(&self) -> Result<(), DecodeError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes)
        }
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.rest.len() {
            return Err(DecodeError::Truncated);
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }

    /// A raw byte (a `u8` field).
    pub(crate) fn byte(&mut self) -> Result<u8, DecodeError> {
        let (&b, rest) = self.rest.split_first().ok_or(DecodeError::Truncated)?;
        self.rest = rest;
        Ok(b)
    }

    /// A varint of a `bits`-bit integer, as postcard reads it: at most
    /// `ceil(bits / 7)` bytes, and the last of that many may not carry bits
    /// past the type's width.
    fn varint(&mut self, bits: u32) -> Result<u64, DecodeError> {
        let max = bits.div_ceil(7);
        let mut value = 0u64;
        for i in 0..max {
            let b = self.byte()?;
            value |= u64::from(b & 0x7F) << (7 * i);
            if b & 0x80 == 0 {
                if i == max - 1 && u32::from(b) >= 1 << (bits - 7 * i) {
                    return Err(DecodeError::BadVarint);
                }
                return Ok(value);
            }
        }
        Err(DecodeError::BadVarint)
    }

    /// A `u16` varint.
    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        // In range: the varint carries at most 16 bits.
        self.varint(16).map(|v| v as u16)
    }

    /// A `u32` varint (also enum tags).
    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        self.varint(32).map(|v| v as u32)
    }

    /// A `u64` varint.
    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        self.varint(64)
    }

    /// A fixed-width little-endian `u64` (`postcard::fixint::le`).
    pub(crate) fn fixed_u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A byte array: its bytes, no length.
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// A bool: one byte, 0 or 1.
    pub(crate) fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::BadTag),
        }
    }

    /// An option's tag: one byte, 0 (none) or 1 (some).
    pub(crate) fn some(&mut self) -> Result<bool, DecodeError> {
        self.bool()
    }

    /// A byte string: a varint length, then the bytes. The length is read
    /// as a `u32`, which is all a frame can hold on any target.
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.u32()?;
        self.take(usize::try_from(len).map_err(|_| DecodeError::Truncated)?)
    }

    /// A UTF-8 string.
    pub(crate) fn str(&mut self) -> Result<&'a str, DecodeError> {
        core::str::from_utf8(self.bytes()?).map_err(|_| DecodeError::BadUtf8)
    }

    /// A name: a string that follows the variable-name rules.
    pub(crate) fn name(&mut self) -> Result<Name, DecodeError> {
        Name::new(self.str()?).map_err(|_| DecodeError::Invalid)
    }
}

/// Where an encoder writes: a buffer, a buffer through the COBS encoder,
/// or nowhere, counting bytes.
pub(crate) enum Sink<'b> {
    /// Counts the bytes it is given.
    Count(usize),
    /// Writes into `buf`; `len` bytes are used.
    Plain {
        /// The output.
        buf: &'b mut [u8],
        /// Bytes written.
        len: usize,
    },
    /// COBS-encodes into `buf`, whose first `len` bytes are used (the first
    /// is the code byte of the first block).
    Cobs {
        /// The output.
        buf: &'b mut [u8],
        /// Bytes written, with the code bytes.
        len: usize,
        /// Where the current block's code byte goes.
        state: cobs::EncoderState,
    },
}

impl<'b> Sink<'b> {
    /// Writes into `buf`.
    pub(crate) fn slice(buf: &'b mut [u8]) -> Self {
        Sink::Plain { buf, len: 0 }
    }

    /// COBS-encodes into `buf`; [`finish`](Self::finish) writes the last
    /// code byte and the delimiter.
    pub(crate) fn cobs(buf: &'b mut [u8]) -> Result<Self, EncodeError> {
        // The placeholder for the first block's code byte.
        *buf.first_mut().ok_or(EncodeError::BufferTooSmall)? = 0;
        Ok(Sink::Cobs {
            buf,
            len: 1,
            state: cobs::EncoderState::default(),
        })
    }

    /// Appends `bytes`.
    pub(crate) fn put(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        match self {
            Sink::Count(n) => *n = n.saturating_add(bytes.len()),
            Sink::Plain { buf, len } => {
                let end = len.saturating_add(bytes.len());
                buf.get_mut(*len..end)
                    .ok_or(EncodeError::BufferTooSmall)?
                    .copy_from_slice(bytes);
                *len = end;
            }
            Sink::Cobs { buf, len, state } => {
                for &b in bytes {
                    cobs_push(buf, len, state, b)?;
                }
            }
        }
        Ok(())
    }

    /// Appends a raw byte.
    pub(crate) fn byte(&mut self, b: u8) -> Result<(), EncodeError> {
        self.put(&[b])
    }

    /// Appends `value` as a varint in its shortest form.
    pub(crate) fn varint(&mut self, value: u64) -> Result<(), EncodeError> {
        let mut bytes = [0u8; 10];
        let mut rest = value;
        let mut len = 0;
        for slot in bytes.iter_mut() {
            len += 1;
            // Truncation keeps the low 7 bits, which is the point.
            #[allow(clippy::cast_possible_truncation)]
            let low = (rest & 0x7F) as u8;
            rest >>= 7;
            if rest == 0 {
                *slot = low;
                break;
            }
            *slot = low | 0x80;
        }
        self.put(bytes.get(..len).unwrap_or(&[]))
    }

    /// Appends a fixed-width little-endian `u64`.
    pub(crate) fn fixed_u64(&mut self, value: u64) -> Result<(), EncodeError> {
        self.put(&value.to_le_bytes())
    }

    /// Appends a bool.
    pub(crate) fn bool(&mut self, value: bool) -> Result<(), EncodeError> {
        self.byte(u8::from(value))
    }

    /// Appends a byte string: its length, then the bytes.
    pub(crate) fn bytes(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        self.varint(bytes.len() as u64)?;
        self.put(bytes)
    }

    /// Appends a string.
    pub(crate) fn str(&mut self, s: &str) -> Result<(), EncodeError> {
        self.bytes(s.as_bytes())
    }

    /// Ends the output and returns its length: for COBS, with the last
    /// code byte and the delimiter.
    pub(crate) fn finish(self) -> Result<usize, EncodeError> {
        match self {
            Sink::Count(n) => Ok(n),
            Sink::Plain { len, .. } => Ok(len),
            Sink::Cobs { buf, len, state } => {
                let (at, code) = state.finalize();
                *buf.get_mut(at).ok_or(EncodeError::BufferTooSmall)? = code;
                *buf.get_mut(len).ok_or(EncodeError::BufferTooSmall)? = 0;
                Ok(len + 1)
            }
        }
    }
}

/// Feeds one byte to the COBS encoder, as its state machine asks.
fn cobs_push(
    buf: &mut [u8],
    len: &mut usize,
    state: &mut cobs::EncoderState,
    b: u8,
) -> Result<(), EncodeError> {
    let mut set = |at: usize, value: u8| {
        buf.get_mut(at)
            .map(|slot| *slot = value)
            .ok_or(EncodeError::BufferTooSmall)
    };
    match state.push(b) {
        cobs::PushResult::AddSingle(value) => {
            set(*len, value)?;
            *len += 1;
        }
        cobs::PushResult::ModifyFromStartAndSkip((at, code)) => {
            set(at, code)?;
            // The next block's code byte, set when the block ends.
            set(*len, 0)?;
            *len += 1;
        }
        cobs::PushResult::ModifyFromStartAndPushAndSkip((at, code, value)) => {
            set(at, code)?;
            set(*len, value)?;
            set(*len + 1, 0)?;
            *len += 2;
        }
    }
    Ok(())
}

/// The length of `value` as an unsigned LEB128 varint: 1 to 10 bytes.
pub(crate) const fn varint_len(value: u64) -> usize {
    let bits = 64 - (value | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(value: u64) -> ([u8; 10], usize) {
        let mut buf = [0u8; 10];
        let mut out = Sink::slice(&mut buf);
        out.varint(value).unwrap();
        let n = out.finish().unwrap();
        (buf, n)
    }

    #[test]
    fn varints_are_shortest_leb128() {
        for (value, bytes) in [
            (0u64, &[0x00][..]),
            (1, &[0x01]),
            (127, &[0x7F]),
            (128, &[0x80, 0x01]),
            (300, &[0xAC, 0x02]),
            (16_383, &[0xFF, 0x7F]),
            (16_384, &[0x80, 0x80, 0x01]),
            (u64::from(u32::MAX), &[0xFF, 0xFF, 0xFF, 0xFF, 0x0F]),
        ] {
            let (buf, n) = varint(value);
            assert_eq!(&buf[..n], bytes, "{value}");
            assert_eq!(varint_len(value), n, "{value}");
            assert_eq!(Reader::new(bytes).u64(), Ok(value));
        }
        assert_eq!(varint(u64::MAX).1, 10);
        assert_eq!(varint_len(u64::MAX), 10);
    }

    #[test]
    fn varints_past_their_type_are_refused() {
        // u16: three bytes at most, the third carrying two bits.
        assert_eq!(Reader::new(&[0xFF, 0xFF, 0x03]).u16(), Ok(u16::MAX));
        assert_eq!(
            Reader::new(&[0xFF, 0xFF, 0x04]).u16(),
            Err(DecodeError::BadVarint)
        );
        assert_eq!(
            Reader::new(&[0x80, 0x80, 0x80, 0x00]).u16(),
            Err(DecodeError::BadVarint)
        );
        assert_eq!(
            Reader::new(&[0xFF, 0xFF, 0xFF, 0xFF, 0x10]).u32(),
            Err(DecodeError::BadVarint)
        );
        assert_eq!(
            Reader::new(&[0xFF, 0xFF, 0xFF, 0xFF, 0x0F]).u32(),
            Ok(u32::MAX)
        );
        let mut max = [0xFF; 10];
        max[9] = 0x01;
        assert_eq!(Reader::new(&max).u64(), Ok(u64::MAX));
        max[9] = 0x02;
        assert_eq!(Reader::new(&max).u64(), Err(DecodeError::BadVarint));
        // A longer form than needed is still a varint, as in postcard.
        assert_eq!(Reader::new(&[0x81, 0x00]).u16(), Ok(1));
        assert_eq!(Reader::new(&[0x81]).u16(), Err(DecodeError::Truncated));
    }

    #[test]
    fn strings_bools_and_options() {
        let mut r = Reader::new(&[2, b'o', b'k', 1, 0, 2, 1, 0xff]);
        assert_eq!(r.str(), Ok("ok"));
        assert_eq!(r.bool(), Ok(true));
        assert_eq!(r.some(), Ok(false));
        assert_eq!(r.bool(), Err(DecodeError::BadTag));
        assert_eq!(r.str(), Err(DecodeError::BadUtf8));
        assert_eq!(Reader::new(&[2, b'o']).str(), Err(DecodeError::Truncated));
        assert_eq!(Reader::new(&[1, b'/']).name(), Err(DecodeError::Invalid));
    }

    #[test]
    fn a_full_buffer_refuses_more() {
        let mut buf = [0u8; 3];
        let mut out = Sink::slice(&mut buf);
        out.put(&[1, 2]).unwrap();
        assert_eq!(out.put(&[3, 4]), Err(EncodeError::BufferTooSmall));
        let mut cobs = Sink::cobs(&mut buf).unwrap();
        cobs.put(&[1]).unwrap();
        assert_eq!(cobs.finish(), Ok(3));
        assert_eq!(buf, [2, 1, 0]);
        let mut cobs = Sink::cobs(&mut buf).unwrap();
        cobs.put(&[1, 2]).unwrap();
        assert_eq!(cobs.finish(), Err(EncodeError::BufferTooSmall));
    }
}
