//! A write as many frames as it takes: [`WriteParts`] encodes byte ranges
//! held by the caller straight into the caller's buffer, one framed
//! [`Write`](super::Write) per call, so a write of any size leaves no copy
//! in the encoder and needs a buffer of one frame only.

use super::error::EncodeError;
use super::framing::Framing;
use super::view::span_len;
use super::wire::varint_len;

/// The most byte ranges one Write frame may carry; a publisher refuses a
/// frame with more (`LimitExceeded`).
pub const WRITE_RANGES_MAX: usize = 32;

/// Where the next frame starts: the index of a range and the bytes of it
/// already sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct At {
    range: usize,
    sent: usize,
}

/// Encodes one write of byte ranges as as many [`Write`](super::Write)
/// frames as it takes.
///
/// A write that fits one frame is one frame with a
/// [`WriteTarget::Ranges`](super::WriteTarget::Ranges) target, exactly the
/// bytes of [`Frame::encode`](super::Frame::encode) on it. A larger one is
/// [`WriteTarget::Part`](super::WriteTarget::Part) frames sharing the
/// request id, each with at most [`WRITE_RANGES_MAX`] ranges and a body of
/// at most `max_frame` bytes, a range cut across frames where it must; only
/// the last has `last` set. Send them in order, with no other Write between
/// them: the publisher applies none until the last arrives.
#[derive(Clone, Debug)]
pub struct WriteParts<'w> {
    ranges: &'w [(usize, &'w [u8])],
    at: At,
    request: u32,
    handle: u16,
    max_frame: usize,
    framing: Framing,
    /// Whether the write is sent in parts; known at the first frame.
    parts: bool,
    done: bool,
}

impl<'w> WriteParts<'w> {
    /// Prepares the frames of write `request` to subscription `handle`:
    /// `ranges` as `(offset, bytes)`, ascending, not overlapping, not
    /// empty, each ending at or before 4 GiB - 1; frame bodies of at most
    /// `max_frame` bytes.
    ///
    /// [`EncodeError::BadRanges`] when the ranges are not so.
    pub fn new(
        request: u32,
        handle: u16,
        ranges: &'w [(usize, &'w [u8])],
        max_frame: usize,
        framing: Framing,
    ) -> Result<Self, EncodeError> {
        let mut end = 0usize;
        for &(offset, bytes) in ranges {
            let stop = offset.checked_add(bytes.len());
            if offset < end || bytes.is_empty() || stop.is_none_or(|s| s > u32::MAX as usize) {
                return Err(EncodeError::BadRanges);
            }
            end = stop.unwrap_or(usize::MAX);
        }
        if ranges.is_empty() {
            return Err(EncodeError::BadRanges);
        }
        Ok(WriteParts {
            ranges,
            at: At { range: 0, sent: 0 },
            request,
            handle,
            max_frame,
            framing,
            parts: false,
            done: false,
        })
    }

    /// The write's request id.
    pub fn request(&self) -> u32 {
        self.request
    }

    /// Whether every frame has been produced.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Writes the next framed frame into `buf` and returns its length, or
    /// `None` once the last was written. After an error the encoder is
    /// done. [`EncodeError::TooLarge`] when not even one byte of a range
    /// fits a frame of `max_frame` bytes (or of `buf`).
    pub fn next_frame(&mut self, buf: &mut [u8]) -> Option<Result<usize, EncodeError>> {
        if self.done {
            return None;
        }
        let result = self.write(buf);
        if result.is_err() || self.at.range >= self.ranges.len() {
            self.done = true;
        }
        Some(result)
    }

    /// The header of a frame before its ranges' length: tag, request id,
    /// handle, target tag and, for a part, the last flag.
    fn header(&self, parts: bool) -> usize {
        1 + varint_len(u64::from(self.request))
            + varint_len(u64::from(self.handle))
            + 1
            + usize::from(parts)
    }

    fn write(&mut self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let limit = self
            .max_frame
            .min(super::parts::body_capacity(self.framing, buf.len()));
        let budget = |header: usize| limit.checked_sub(header + varint_len(limit as u64));
        if self.at == (At { range: 0, sent: 0 }) {
            // The whole write in one frame, when it fits, as a plain write.
            let whole = budget(self.header(false)).map(|b| self.pack(b, |_, _| Ok(())));
            self.parts = !matches!(whole, Some(Ok((_, at))) if at.range == self.ranges.len());
        }
        let header = self.header(self.parts);
        let budget = budget(header).ok_or(EncodeError::TooLarge)?;
        let (payload, next) = self.pack(budget, |_, _| Ok(()))?;
        if payload == 0 {
            return Err(EncodeError::TooLarge);
        }
        let last = next.range >= self.ranges.len();
        let body = header + varint_len(payload as u64) + payload;
        let mut out = self.framing.open(body, buf)?;
        out.varint(13)?; // Frame::Write
        out.varint(u64::from(self.request))?;
        out.varint(u64::from(self.handle))?;
        if self.parts {
            out.varint(2)?; // WriteTarget::Part
            out.bool(last)?;
        } else {
            out.varint(0)?; // WriteTarget::Ranges
        }
        out.varint(payload as u64)?;
        self.pack(budget, |gap, bytes| {
            out.varint(gap)?;
            out.bytes(bytes)
        })?;
        self.at = next;
        out.finish()
    }

    /// Takes ranges from where the next frame starts (cutting the last one)
    /// until `budget` payload bytes or [`WRITE_RANGES_MAX`] ranges are
    /// used; `emit` gets each entry's gap and bytes. Returns the payload
    /// length and where the frame after starts.
    fn pack(
        &self,
        budget: usize,
        mut emit: impl FnMut(u64, &[u8]) -> Result<(), EncodeError>,
    ) -> Result<(usize, At), EncodeError> {
        let mut at = self.at;
        let mut used = 0usize;
        let mut frame_end = 0usize;
        for _ in 0..WRITE_RANGES_MAX {
            let Some(&(offset, bytes)) = self.ranges.get(at.range) else {
                break;
            };
            let rest = bytes.get(at.sent..).unwrap_or(&[]);
            let start = offset + at.sent;
            let gap = (start - frame_end) as u64;
            let avail = (budget - used) as u64;
            let len = if span_len(gap, rest.len() as u64) <= avail {
                rest.len()
            } else {
                // The longest cut whose entry fits what is left.
                let room = avail.saturating_sub(varint_len(gap) as u64);
                room.saturating_sub(varint_len(room) as u64) as usize
            };
            if len == 0 {
                break;
            }
            emit(gap, rest.get(..len).unwrap_or(&[]))?;
            used += span_len(gap, len as u64) as usize;
            frame_end = start + len;
            if len < rest.len() {
                at.sent += len;
                break;
            }
            at = At {
                range: at.range + 1,
                sent: 0,
            };
        }
        Ok((used, at))
    }
}
