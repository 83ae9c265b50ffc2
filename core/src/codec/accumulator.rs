//! Reassembling frames from bytes that arrive in any split.

use super::error::AccumulateError;

/// What [`FrameAccumulator::feed`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Feed<'f, 'i> {
    /// All input was taken; no frame is complete yet.
    Pending,
    /// A complete frame body. Feed `rest` next: it may hold more frames.
    Frame {
        /// The frame body, without framing.
        body: &'f [u8],
        /// The input after the frame.
        rest: &'i [u8],
    },
    /// The input breaks the framing. On a COBS link the bytes up to the next
    /// delimiter are dropped and the frames after it are read as usual; a
    /// length-prefixed stream is broken for good and must be closed.
    Error {
        /// What was wrong.
        error: AccumulateError,
        /// The input after the byte that showed the error.
        rest: &'i [u8],
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Length prefix: `count` varint bytes read so far, worth `value`.
    Prefix { value: u32, count: u8 },
    /// Length prefix: `filled` of `len` body bytes buffered.
    Body { len: usize, filled: usize },
    /// COBS: `filled` bytes decoded; `left` data bytes remain in the current
    /// block; `zero` if a zero byte is due before the next block.
    Cobs {
        filled: usize,
        left: u8,
        zero: bool,
        started: bool,
    },
    /// COBS: dropping bytes up to the next delimiter.
    Skip,
    /// Length prefix: broken by an error.
    Broken,
}

/// Collects frame bodies from a byte stream or serial link into a buffer of
/// `N` bytes, however the bytes are split.
///
/// No frame longer than the maximum frame size is ever buffered: a length
/// prefix above it is refused as soon as it is read, and a COBS packet is
/// refused at the first byte past it. Frames that arrive whole in one input
/// slice of a length-prefixed stream are returned from the input without a
/// copy.
#[derive(Clone, Debug)]
pub struct FrameAccumulator<const N: usize> {
    buf: [u8; N],
    max: usize,
    state: State,
    initial: State,
}

impl<const N: usize> FrameAccumulator<N> {
    /// An accumulator for a length-prefixed stream taking frames of up to
    /// `max_frame` bytes (at most `N`).
    pub const fn length_prefix(max_frame: usize) -> Self {
        let initial = State::Prefix { value: 0, count: 0 };
        Self::with_state(max_frame, initial)
    }

    /// An accumulator for a COBS link taking frames of up to `max_frame`
    /// bytes (at most `N`).
    pub const fn cobs(max_frame: usize) -> Self {
        let initial = State::Cobs {
            filled: 0,
            left: 0,
            zero: false,
            started: false,
        };
        Self::with_state(max_frame, initial)
    }

    const fn with_state(max_frame: usize, initial: State) -> Self {
        FrameAccumulator {
            buf: [0; N],
            max: if max_frame < N { max_frame } else { N },
            state: initial,
            initial,
        }
    }

    /// The largest frame body taken.
    pub const fn max_frame(&self) -> usize {
        self.max
    }

    /// Whether a framing error broke a length-prefixed stream.
    pub fn is_broken(&self) -> bool {
        self.state == State::Broken
    }

    /// Drops any partial frame and forgets errors, as for a new connection.
    pub fn reset(&mut self) {
        self.state = self.initial;
    }

    /// Takes bytes until a frame is complete, an error shows, or the input
    /// ends. Call again with `rest` until it returns [`Feed::Pending`].
    pub fn feed<'f, 's: 'f, 'i: 'f>(&'s mut self, input: &'i [u8]) -> Feed<'f, 'i> {
        match self.state {
            State::Prefix { .. } | State::Body { .. } => self.feed_prefixed(input),
            State::Broken => Feed::Error {
                error: AccumulateError::Broken,
                rest: &[],
            },
            State::Cobs { .. } | State::Skip => self.feed_cobs(input),
        }
    }

    fn feed_prefixed<'f, 's: 'f, 'i: 'f>(&'s mut self, mut input: &'i [u8]) -> Feed<'f, 'i> {
        loop {
            match self.state {
                State::Prefix { value, count } => {
                    let Some((&byte, rest)) = input.split_first() else {
                        return Feed::Pending;
                    };
                    input = rest;
                    // The fifth byte may only hold the top 4 bits of a u32.
                    if count == 4 && byte > 0x0F {
                        return self.break_stream(AccumulateError::BadLength, input);
                    }
                    let value = value | (u32::from(byte & 0x7F) << (7 * u32::from(count)));
                    let count = count + 1;
                    if byte & 0x80 != 0 {
                        // A minimal varint with another byte to come is at
                        // least 2^(7 × count): refuse it now if that is too big.
                        if 1u64 << (7 * u32::from(count)) > self.max as u64 {
                            return self.break_stream(AccumulateError::TooLarge, input);
                        }
                        self.state = State::Prefix { value, count };
                        continue;
                    }
                    if count > 1 && byte == 0 {
                        return self.break_stream(AccumulateError::BadLength, input);
                    }
                    let len = value as usize;
                    if len == 0 {
                        return self.break_stream(AccumulateError::Empty, input);
                    }
                    if len > self.max {
                        return self.break_stream(AccumulateError::TooLarge, input);
                    }
                    if let Some((body, rest)) = input.split_at_checked(len) {
                        self.state = self.initial;
                        return Feed::Frame { body, rest };
                    }
                    self.state = State::Body { len, filled: 0 };
                }
                State::Body { len, filled } => {
                    let take = (len - filled).min(input.len());
                    let (chunk, rest) = input.split_at(take);
                    if let Some(slot) = self.buf.get_mut(filled..filled + take) {
                        slot.copy_from_slice(chunk);
                    }
                    input = rest;
                    if filled + take < len {
                        self.state = State::Body {
                            len,
                            filled: filled + take,
                        };
                        return Feed::Pending;
                    }
                    self.state = self.initial;
                    let body = self.buf.get(..len).unwrap_or(&[]);
                    return Feed::Frame { body, rest: input };
                }
                _ => return Feed::Pending,
            }
        }
    }

    fn break_stream<'f, 'i: 'f>(&mut self, error: AccumulateError, rest: &'i [u8]) -> Feed<'f, 'i> {
        self.state = State::Broken;
        Feed::Error { error, rest }
    }

    fn feed_cobs<'f, 's: 'f, 'i: 'f>(&'s mut self, input: &'i [u8]) -> Feed<'f, 'i> {
        let mut bytes = input.iter();
        while let Some(&byte) = bytes.next() {
            let State::Cobs {
                filled,
                left,
                zero,
                started,
            } = self.state
            else {
                // Skipping to the next delimiter.
                if byte == 0 {
                    self.state = self.initial;
                }
                continue;
            };
            if byte == 0 {
                self.state = self.initial;
                if !started {
                    // Delimiters between packets are padding.
                    continue;
                }
                let error = if left > 0 {
                    AccumulateError::BadCobs
                } else if filled == 0 {
                    AccumulateError::Empty
                } else {
                    let body = self.buf.get(..filled).unwrap_or(&[]);
                    return Feed::Frame {
                        body,
                        rest: bytes.as_slice(),
                    };
                };
                return Feed::Error {
                    error,
                    rest: bytes.as_slice(),
                };
            }
            let (filled, left, zero) = if left == 0 {
                // A code byte: the zero ending the previous block is now
                // known not to be the packet's end.
                let filled = if zero {
                    match self.push(filled, 0) {
                        Some(filled) => filled,
                        None => return self.skip(bytes.as_slice()),
                    }
                } else {
                    filled
                };
                (filled, byte - 1, byte != 0xFF)
            } else {
                match self.push(filled, byte) {
                    Some(filled) => (filled, left - 1, zero),
                    None => return self.skip(bytes.as_slice()),
                }
            };
            self.state = State::Cobs {
                filled,
                left,
                zero,
                started: true,
            };
        }
        Feed::Pending
    }

    /// Appends a decoded byte, or `None` if the frame would grow past the
    /// maximum.
    fn push(&mut self, filled: usize, byte: u8) -> Option<usize> {
        if filled >= self.max {
            return None;
        }
        *self.buf.get_mut(filled)? = byte;
        Some(filled + 1)
    }

    fn skip<'f, 'i: 'f>(&mut self, rest: &'i [u8]) -> Feed<'f, 'i> {
        self.state = State::Skip;
        Feed::Error {
            error: AccumulateError::TooLarge,
            rest,
        }
    }
}
