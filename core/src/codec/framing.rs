//! Framing: how frames are delimited on a byte stream or a serial link.
//!
//! - [`Framing::LengthPrefix`] (TCP, Unix sockets, TLS): each frame body is
//!   preceded by its length as an unsigned LEB128 varint in its shortest form
//!   (1 byte up to 127, 2 bytes up to 16 383, at most 5 bytes).
//! - [`Framing::Cobs`] (UART, USB CDC): each frame body is COBS-encoded and
//!   followed by one `0x00` delimiter.
//! - [`Framing::Bare`]: the body alone, for transports that keep message
//!   boundaries themselves (WebSocket messages, datagrams).
//!
//! The maximum frame size always counts body bytes, never framing bytes.

use postcard::ser_flavors::{Cobs, Flavor, Slice};

use super::error::EncodeError;
use super::frame::Frame;

/// How frame bodies are delimited on a transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Framing {
    /// No delimiting: the transport keeps message boundaries.
    Bare,
    /// A varint length before each body, for byte streams.
    LengthPrefix,
    /// COBS-encoded bodies, each followed by a `0x00` delimiter, for serial
    /// links.
    Cobs,
}

impl Framing {
    /// The most bytes this framing adds around a body of `len` bytes: a
    /// buffer of `len + overhead(len)` bytes always holds the framed body.
    pub const fn overhead(self, len: usize) -> usize {
        match self {
            Framing::Bare => 0,
            Framing::LengthPrefix => varint_len(len as u64),
            // One code byte to start, one more per 254 data bytes, and the
            // delimiter.
            Framing::Cobs => len / 254 + 2,
        }
    }

    /// Encodes `frame` with this framing into `buf` and returns the number
    /// of bytes written.
    pub fn encode(self, frame: &Frame<'_>, buf: &mut [u8]) -> Result<usize, EncodeError> {
        frame.check().map_err(|_| EncodeError::Invalid)?;
        let body_len = frame.encoded_len();
        let sink = Sink::open(self, body_len, buf)?;
        postcard::serialize_with_flavor(frame, sink).map_err(EncodeError::from_postcard)
    }

    /// Frames an already encoded body into `buf` (encode once, send to peers
    /// on different transports) and returns the number of bytes written.
    pub fn wrap(self, body: &[u8], buf: &mut [u8]) -> Result<usize, EncodeError> {
        let mut sink = Sink::open(self, body.len(), buf)?;
        sink.try_extend(body).map_err(EncodeError::from_postcard)?;
        sink.finalize().map_err(EncodeError::from_postcard)
    }
}

/// The output of a framed encode: a slice, written either plainly or through
/// the COBS encoder. Its output is the number of bytes written.
pub(crate) enum Sink<'b> {
    Plain(Slice<'b>),
    Cobs(Cobs<Slice<'b>>),
}

impl<'b> Sink<'b> {
    /// Starts a frame of `body_len` bytes in `buf`, writing the length prefix
    /// or the first COBS code byte.
    pub(crate) fn open(
        framing: Framing,
        body_len: usize,
        buf: &'b mut [u8],
    ) -> Result<Self, EncodeError> {
        let mut slice = Slice::new(buf);
        match framing {
            Framing::Bare => Ok(Sink::Plain(slice)),
            Framing::LengthPrefix => {
                let len = u32::try_from(body_len).map_err(|_| EncodeError::TooLarge)?;
                put_varint(&mut slice, u64::from(len))?;
                Ok(Sink::Plain(slice))
            }
            Framing::Cobs => Cobs::try_new(slice)
                .map(Sink::Cobs)
                .map_err(EncodeError::from_postcard),
        }
    }
}

impl Flavor for Sink<'_> {
    type Output = usize;

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        match self {
            Sink::Plain(s) => s.try_push(data),
            Sink::Cobs(s) => s.try_push(data),
        }
    }

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        match self {
            Sink::Plain(s) => s.try_extend(data),
            Sink::Cobs(s) => s.try_extend(data),
        }
    }

    fn finalize(self) -> postcard::Result<usize> {
        match self {
            Sink::Plain(s) => s.finalize().map(|out| out.len()),
            Sink::Cobs(s) => s.finalize().map(|out| out.len()),
        }
    }
}

/// The length of `value` as an unsigned LEB128 varint: 1 to 10 bytes.
pub(crate) const fn varint_len(value: u64) -> usize {
    let bits = 64 - (value | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Writes `value` as an unsigned LEB128 varint in its shortest form.
pub(crate) fn put_varint<F: Flavor>(out: &mut F, mut value: u64) -> Result<(), EncodeError> {
    let mut bytes = [0u8; 10];
    let mut len = 0;
    for slot in bytes.iter_mut() {
        len += 1;
        // Truncation keeps the low 7 bits, which is the point.
        #[allow(clippy::cast_possible_truncation)]
        let low = (value & 0x7F) as u8;
        value >>= 7;
        if value == 0 {
            *slot = low;
            break;
        }
        *slot = low | 0x80;
    }
    let used = bytes.get(..len).unwrap_or(&[]);
    out.try_extend(used).map_err(EncodeError::from_postcard)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(value: u64) -> ([u8; 10], usize) {
        let mut buf = [0u8; 10];
        let mut slice = Slice::new(&mut buf);
        put_varint(&mut slice, value).unwrap();
        let n = slice.finalize().unwrap().len();
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
        }
        assert_eq!(varint(u64::MAX).1, 10);
        assert_eq!(varint_len(u64::MAX), 10);
    }

    #[test]
    fn wrap_and_overhead() {
        let mut buf = [0u8; 600];
        assert_eq!(Framing::LengthPrefix.wrap(&[7, 8], &mut buf), Ok(3));
        assert_eq!(&buf[..3], &[2, 7, 8]);
        assert_eq!(Framing::Cobs.wrap(&[7, 0, 8], &mut buf), Ok(5));
        assert_eq!(&buf[..5], &[2, 7, 2, 8, 0]);
        assert_eq!(Framing::Bare.wrap(&[7, 0], &mut buf), Ok(2));
        for len in [0usize, 1, 253, 254, 255, 508, 509] {
            let body = [0x55u8; 509];
            let n = Framing::Cobs.wrap(&body[..len], &mut buf).unwrap();
            assert!(n <= len + Framing::Cobs.overhead(len), "{len}: {n}");
        }
        assert_eq!(
            Framing::LengthPrefix.wrap(&[1; 4], &mut [0u8; 4]),
            Err(EncodeError::BufferTooSmall)
        );
    }
}
