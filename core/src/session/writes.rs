//! Writes to a region the peer sends: what is asked ([`WriteRequest`]), why
//! it is refused before it is sent ([`WriteError`]), and the queue
//! ([`Writes`]) that encodes each whole, sends them in order and counts them
//! until the peer answers. A write larger than the queue holds is encoded
//! by the caller from its own bytes, frame by frame ([`WriteParts`], made
//! by [`Client::write_parts`]); the queue only counts it. A client writes to the hub's regions
//! ([`Client::write`]); a hub writes to the regions its client publishes
//! ([`Server::write`]). The answering end checks and applies a write in
//! [`PeerSubscriptions`](super::peer_subscriptions::PeerSubscriptions).
//!
//! [`Client::write`]: super::Client::write
//! [`Client::write_parts`]: super::Client::write_parts
//! [`WriteParts`]: crate::codec::WriteParts
//! [`Server::write`]: super::Server::write

use core::fmt;

use heapless::{Deque, Vec};

use super::link::Link;
use crate::codec::{
    EncodeError, ErrorCode, Frame, Framing, Ranges, Span, Write, WriteOutcome, WriteParts,
    WriteResult, WriteTarget,
};
use crate::schema::Name;
use crate::time::Instant;

/// Bytes of encoded writes waiting to be sent.
const WRITE_BUF: usize = 1024;
// A frame's length is kept in a `u16`.
const _: () = assert!(WRITE_BUF <= u16::MAX as usize);
/// Writes sent and not yet answered, plus those waiting to be sent.
pub(crate) const WRITES_MAX: usize = 8;

/// Why [`Client::write`](super::Client::write) or
/// [`Server::write`](super::Server::write) refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum WriteError {
    /// The session is not connected, or the subscription is not live.
    NotReady,
    /// No live subscription has that handle.
    UnknownHandle,
    /// Too many writes are waiting to be sent or answered: poll and retry.
    Busy,
    /// The write does not fit the hub's maximum frame size or the send
    /// buffer.
    TooLarge,
    /// No ranges, or ranges out of order, overlapping, empty or reaching
    /// outside the mirror's data area, or a variable name that is not
    /// valid.
    Invalid,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WriteError::NotReady => "not connected, or the subscription is not live",
            WriteError::UnknownHandle => "no subscription has that handle",
            WriteError::Busy => "too many writes waiting",
            WriteError::TooLarge => "the write does not fit one frame",
            WriteError::Invalid => "ranges or variable name not valid",
        })
    }
}

impl core::error::Error for WriteError {}

/// What a mirror asks the hub to change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteRequest<'w> {
    /// Raw bytes of the data area: `(offset, bytes)`, ascending and not
    /// overlapping. Each range must lie inside writable variables.
    Ranges(&'w [(usize, &'w [u8])]),
    /// One whole variable by name, with its little-endian value.
    Variable {
        /// The variable's name.
        name: &'w str,
        /// Exactly the variable's length in bytes.
        value: &'w [u8],
    },
}

/// Write frames waiting to be sent, and writes waiting for an answer.
pub(crate) struct Writes {
    /// Framed write frames waiting to be sent, and their lengths and
    /// request ids.
    frames: Vec<u8, WRITE_BUF>,
    queued: Vec<(u16, u32), WRITES_MAX>,
    /// The request ids of writes sent and not yet answered.
    unanswered: Vec<u32, WRITES_MAX>,
    next_request: u32,
}

impl Writes {
    pub(crate) const fn new() -> Self {
        Writes {
            frames: Vec::new(),
            queued: Vec::new(),
            unanswered: Vec::new(),
            next_request: 1,
        }
    }

    /// Encodes a write to subscription `handle`, whose region's data area
    /// is `data_len` bytes long, and queues it; the publisher takes frame
    /// bodies of `peer_max` bytes at most. Returns the request id.
    pub(crate) fn push(
        &mut self,
        handle: u16,
        request: WriteRequest<'_>,
        data_len: usize,
        peer_max: usize,
    ) -> Result<u32, WriteError> {
        if self.unanswered.len() + self.queued.len() >= WRITES_MAX {
            return Err(WriteError::Busy);
        }
        let mut scratch = [0u8; WRITE_BUF];
        let target = match request {
            WriteRequest::Ranges(ranges) => {
                let mut spans = ranges.iter().map(|&(offset, bytes)| Span {
                    offset: u32::try_from(offset).unwrap_or(u32::MAX),
                    bytes,
                });
                if ranges.is_empty()
                    || ranges
                        .iter()
                        .any(|&(o, b)| o.checked_add(b.len()).is_none_or(|end| end > data_len))
                {
                    return Err(WriteError::Invalid);
                }
                let encoded =
                    Ranges::encode(spans.by_ref(), &mut scratch).map_err(|e| match e {
                        EncodeError::BufferTooSmall => WriteError::TooLarge,
                        _ => WriteError::Invalid,
                    })?;
                WriteTarget::Ranges(encoded)
            }
            WriteRequest::Variable { name, value } => WriteTarget::Variable {
                name: Name::new(name).map_err(|_| WriteError::Invalid)?,
                value,
            },
        };
        let request = self.next_request;
        let frame = Frame::Write(Write {
            request,
            handle,
            target,
        });
        let len = frame.encoded_len();
        if len > peer_max {
            return Err(WriteError::TooLarge);
        }
        let start = self.frames.len();
        let room = WRITE_BUF - start;
        if len + Framing::LengthPrefix.overhead(len) > room {
            return Err(if start == 0 {
                WriteError::TooLarge
            } else {
                WriteError::Busy
            });
        }
        // Grow to the whole capacity to encode in place, then cut back.
        let _ = self.frames.resize(WRITE_BUF, 0);
        let written = self
            .frames
            .get_mut(start..)
            .map(|out| Framing::LengthPrefix.encode(&frame, out));
        match written {
            Some(Ok(n)) => {
                self.frames.truncate(start + n);
                // Room: checked against `WRITES_MAX` above; `n` is at most
                // `WRITE_BUF`.
                let _ = self
                    .queued
                    .push((u16::try_from(n).unwrap_or(u16::MAX), request));
            }
            _ => {
                self.frames.truncate(start);
                return Err(WriteError::Invalid);
            }
        }
        self.next_request = request.wrapping_add(1).max(1);
        Ok(request)
    }

    /// Counts a write of `ranges` to subscription `handle` (whose region's
    /// data area is `data_len` bytes long) sent by the caller in frames of
    /// `peer_max` bytes at most, and returns their encoder.
    pub(crate) fn push_parts<'w>(
        &mut self,
        handle: u16,
        ranges: &'w [(usize, &'w [u8])],
        data_len: usize,
        peer_max: usize,
    ) -> Result<WriteParts<'w>, WriteError> {
        if self.unanswered.len() + self.queued.len() >= WRITES_MAX {
            return Err(WriteError::Busy);
        }
        if ranges
            .iter()
            .any(|&(o, b)| o.checked_add(b.len()).is_none_or(|end| end > data_len))
        {
            return Err(WriteError::Invalid);
        }
        let request = self.next_request;
        let parts = WriteParts::new(request, handle, ranges, peer_max, Framing::LengthPrefix)
            .map_err(|_| WriteError::Invalid)?;
        // Room: checked against `WRITES_MAX` above.
        let _ = self.unanswered.push(request);
        self.next_request = request.wrapping_add(1).max(1);
        Ok(parts)
    }

    /// The publisher's answer to a write: counts it answered and queues in
    /// `events` the event `event` makes of its request id and outcome (the
    /// generation that holds the write, or why it was refused). An answer
    /// to no write sent and unanswered was not asked for: `link` fails.
    pub(crate) fn on_result<E, const N: usize>(
        &mut self,
        result: &WriteResult<'_>,
        events: &mut Deque<E, N>,
        link: &mut Link,
        event: impl FnOnce(u32, Result<u64, ErrorCode>) -> E,
    ) {
        let Some(at) = self.unanswered.iter().position(|&r| r == result.request) else {
            link.fail(
                ErrorCode::UnexpectedFrame,
                None,
                "write result not asked for",
            );
            return;
        };
        self.unanswered.remove(at);
        let outcome = match result.outcome {
            WriteOutcome::Applied { generation } => Ok(generation),
            WriteOutcome::Refused { code, .. } => Err(code),
        };
        if events.push_back(event(result.request, outcome)).is_err() {
            link.fail(
                ErrorCode::UnexpectedFrame,
                None,
                "write result not asked for",
            );
        }
    }

    /// Sends whole write frames, in order, while they fit `buf`.
    pub(crate) fn transmit(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        used: &mut usize,
        link: &mut Link,
    ) {
        while let Some(&(len, request)) = self.queued.first() {
            let len = usize::from(len);
            let Some(frame) = self.frames.get(..len) else {
                break;
            };
            let Some(out) = buf.get_mut(*used..).and_then(|b| b.get_mut(..len)) else {
                break;
            };
            out.copy_from_slice(frame);
            *used += len;
            link.sent(now, len);
            self.frames.rotate_left(len);
            self.frames.truncate(self.frames.len() - len);
            self.queued.remove(0);
            // Room: `unanswered` and `queued` hold `WRITES_MAX` together.
            let _ = self.unanswered.push(request);
        }
    }
}
