//! Length-prefixed frames read for the handshake: every frame up to the
//! maximum is read to its end, but only its first [`HEAD`] bytes are kept.
//!
//! No frame a client may send before the welcome is longer than
//! [`MIN_FRAME`](crate::codec::MIN_FRAME) bytes, so a handshake needs no
//! buffer of the maximum frame size to judge what it receives: a longer
//! frame is answered from its first bytes once it has arrived whole, as
//! the session's [`FrameAccumulator`](crate::codec::FrameAccumulator)
//! would deliver it. The length prefix follows the accumulator's rules,
//! error for error.

use crate::codec::{AccumulateError, MIN_FRAME};

/// The bytes kept of each frame: a whole hello, auth or error.
pub(super) const HEAD: usize = MIN_FRAME as usize;

/// What [`Heads::feed`] found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Read<'f, 'i> {
    /// All input was taken; no frame is complete yet.
    Pending,
    /// A frame arrived whole: its first bytes (all of them when `len` is at
    /// most [`HEAD`]) and its length. Feed `rest` next.
    Frame {
        head: &'f [u8],
        len: usize,
        rest: &'i [u8],
    },
    /// The length prefix breaks the framing; the stream must be closed.
    Error(AccumulateError),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// `count` varint bytes read so far, worth `value`.
    Prefix { value: u32, count: u8 },
    /// `filled` of `len` body bytes read (at most [`HEAD`] of them kept).
    Body { len: usize, filled: usize },
    /// Broken by an error.
    Broken,
}

/// Reads length-prefixed frames of up to `max` bytes, keeping [`HEAD`]
/// bytes of each.
#[derive(Clone, Debug)]
pub(super) struct Heads {
    buf: [u8; HEAD],
    max: usize,
    state: State,
}

impl Heads {
    pub(super) const fn new(max: usize) -> Heads {
        Heads {
            buf: [0; HEAD],
            max,
            state: State::Prefix { value: 0, count: 0 },
        }
    }

    /// Takes bytes until a frame is whole, the prefix breaks, or the input
    /// ends. Call again with `rest` until it returns [`Read::Pending`].
    pub(super) fn feed<'f, 's: 'f, 'i: 'f>(&'s mut self, mut input: &'i [u8]) -> Read<'f, 'i> {
        loop {
            match self.state {
                State::Broken => return Read::Error(AccumulateError::Broken),
                State::Prefix { value, count } => {
                    let Some((&byte, rest)) = input.split_first() else {
                        return Read::Pending;
                    };
                    input = rest;
                    match self.prefix(value, count, byte) {
                        Ok(Some(len)) => {
                            if let Some((body, rest)) = input.split_at_checked(len) {
                                self.state = State::Prefix { value: 0, count: 0 };
                                let head = body.get(..HEAD).unwrap_or(body);
                                return Read::Frame { head, len, rest };
                            }
                            self.state = State::Body { len, filled: 0 };
                        }
                        Ok(None) => {}
                        Err(error) => {
                            self.state = State::Broken;
                            return Read::Error(error);
                        }
                    }
                }
                State::Body { len, filled } => {
                    let take = (len - filled).min(input.len());
                    let (chunk, rest) = input.split_at(take);
                    input = rest;
                    // Only the bytes that fall within the head are kept.
                    let kept = HEAD.saturating_sub(filled).min(take);
                    if let (Some(slot), Some(bytes)) =
                        (self.buf.get_mut(filled..filled + kept), chunk.get(..kept))
                    {
                        slot.copy_from_slice(bytes);
                    }
                    if filled + take < len {
                        self.state = State::Body {
                            len,
                            filled: filled + take,
                        };
                        return Read::Pending;
                    }
                    self.state = State::Prefix { value: 0, count: 0 };
                    let head = self.buf.get(..len.min(HEAD)).unwrap_or(&[]);
                    return Read::Frame {
                        head,
                        len,
                        rest: input,
                    };
                }
            }
        }
    }

    /// One byte of the prefix: the body's length once the prefix ends,
    /// `None` while it goes on.
    fn prefix(
        &mut self,
        value: u32,
        count: u8,
        byte: u8,
    ) -> Result<Option<usize>, AccumulateError> {
        // The fifth byte may only hold the top 4 bits of a u32.
        if count == 4 && byte > 0x0F {
            return Err(AccumulateError::BadLength);
        }
        let value = value | (u32::from(byte & 0x7F) << (7 * u32::from(count)));
        let count = count + 1;
        if byte & 0x80 != 0 {
            // A minimal varint with another byte to come is at least
            // 2^(7 × count): refused now if that is too big.
            if 1u64 << (7 * u32::from(count)) > self.max as u64 {
                return Err(AccumulateError::TooLarge);
            }
            self.state = State::Prefix { value, count };
            return Ok(None);
        }
        if count > 1 && byte == 0 {
            return Err(AccumulateError::BadLength);
        }
        let len = value as usize;
        if len == 0 {
            return Err(AccumulateError::Empty);
        }
        if len > self.max {
            return Err(AccumulateError::TooLarge);
        }
        Ok(Some(len))
    }
}

#[cfg(test)]
mod tests {
    use std::vec::Vec;

    use super::*;
    use crate::codec::{Feed, FrameAccumulator};

    /// What a reader found: a frame's first bytes and its length, or an
    /// error's name and 0.
    type Found = Vec<(Vec<u8>, usize)>;

    /// What each reader finds in `bytes` fed in pieces of `step`: the
    /// accumulator's whole frames cut to their heads, and the heads.
    fn both(bytes: &[u8], step: usize) -> (Found, Found) {
        let mut whole = FrameAccumulator::<1024>::length_prefix(1000);
        let mut heads = Heads::new(1000);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for piece in bytes.chunks(step.max(1)) {
            let mut input = piece;
            loop {
                match whole.feed(input) {
                    Feed::Pending => break,
                    Feed::Frame { body, rest } => {
                        let n = body.len().min(HEAD);
                        a.push((body[..n].to_vec(), body.len()));
                        input = rest;
                    }
                    Feed::Error { error, .. } => {
                        a.push((std::format!("{error:?}").into_bytes(), 0));
                        break;
                    }
                }
            }
            let mut input = piece;
            loop {
                match heads.feed(input) {
                    Read::Pending => break,
                    Read::Frame { head, len, rest } => {
                        b.push((head.to_vec(), len));
                        input = rest;
                    }
                    Read::Error(error) => {
                        b.push((std::format!("{error:?}").into_bytes(), 0));
                        break;
                    }
                }
            }
        }
        (a, b)
    }

    #[test]
    fn frames_split_anyhow_give_their_heads_and_lengths() {
        let long: Vec<u8> = (0..=255u8).cycle().take(300).collect();
        let mut bytes = std::vec![3, 1, 2, 3];
        // 300 as a varint: 0xAC 0x02.
        bytes.extend_from_slice(&[0xAC, 0x02]);
        bytes.extend_from_slice(&long);
        bytes.extend_from_slice(&[1, 9]);
        for step in [1, 2, 7, 128, 129, 500] {
            let (a, b) = both(&bytes, step);
            assert_eq!(a, b, "step {step}");
            assert_eq!(b.len(), 3);
            assert_eq!(b[1], (long[..HEAD].to_vec(), 300));
            assert_eq!(b[2], (std::vec![9], 1));
        }
    }

    #[test]
    fn prefixes_break_as_the_accumulator_breaks() {
        let cases: [&[u8]; 7] = [
            &[0],
            &[0x85, 0x00],
            &[0xE9, 0x07],
            &[0xff, 0xff],
            &[0xff, 0xff, 0xff, 0xff, 0x1f],
            &[0x80, 0x80, 0x80, 0x80, 0x10],
            &[0xE8, 0x07],
        ];
        for bytes in cases {
            let (a, b) = both(bytes, 1);
            assert_eq!(a, b, "{bytes:02x?}");
        }
        // 1001 is over the maximum, 1000 is not.
        assert_eq!(both(&[0xE9, 0x07], 1).1[0].1, 0);
        assert!(both(&[0xE8, 0x07], 1).1.is_empty());
    }
}
