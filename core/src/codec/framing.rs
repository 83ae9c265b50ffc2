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

use super::error::EncodeError;
use super::frame::Frame;
use super::wire::{Sink, varint_len};

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
        let body_len = match self {
            Framing::LengthPrefix => frame.encoded_len(),
            Framing::Bare | Framing::Cobs => 0,
        };
        let mut sink = self.open(body_len, buf)?;
        frame.write(&mut sink)?;
        sink.finish()
    }

    /// Frames an already encoded body into `buf` (encode once, send to peers
    /// on different transports) and returns the number of bytes written.
    pub fn wrap(self, body: &[u8], buf: &mut [u8]) -> Result<usize, EncodeError> {
        let mut sink = self.open(body.len(), buf)?;
        sink.put(body)?;
        sink.finish()
    }

    /// Starts a frame of `body_len` bytes in `buf` (the length matters to
    /// the length prefix only), writing the prefix or the first COBS code
    /// byte.
    pub(crate) fn open<'b>(
        self,
        body_len: usize,
        buf: &'b mut [u8],
    ) -> Result<Sink<'b>, EncodeError> {
        match self {
            Framing::Bare => Ok(Sink::slice(buf)),
            Framing::LengthPrefix => {
                let len = u32::try_from(body_len).map_err(|_| EncodeError::TooLarge)?;
                let mut sink = Sink::slice(buf);
                sink.varint(u64::from(len))?;
                Ok(sink)
            }
            Framing::Cobs => Sink::cobs(buf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
