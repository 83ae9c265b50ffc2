//! Encoders that split what does not fit one frame: updates and schemas.
//!
//! Both write straight from their source into the caller's buffer, one
//! framed frame per call, each frame body no larger than the peer's maximum
//! frame size (and than what the buffer can hold), so a peer with a 256-byte
//! frame limit can receive a region of any size.

use core::ops::Range;

use super::error::EncodeError;
use super::frame::{Frame, UPDATE_BASE, UPDATE_STEP, Update, UpdateBase, is_update_tag};
use super::framing::Framing;
use super::view::{Ranges, VarTable, span_len, write_entry};
use super::wire::varint_len;
use crate::schema::Variable;

/// The largest frame body that fits `buf_len` bytes once framed.
pub(super) fn body_capacity(framing: Framing, buf_len: usize) -> usize {
    match framing {
        Framing::Bare => buf_len,
        Framing::LengthPrefix => buf_len.saturating_sub(varint_len(buf_len as u64)),
        Framing::Cobs => {
            // A body of `m - ceil(m / 255)` bytes needs at most `m` bytes of
            // COBS blocks, plus the delimiter and the first code byte.
            let m = buf_len.saturating_sub(2);
            m - m.div_ceil(255)
        }
    }
}

/// The largest body of an update part written with `max_frame` into a
/// length-prefixed buffer of `buf_len` bytes: parts cut with the same limit
/// (and a handle of the same encoded length) are cut alike.
pub(crate) fn part_limit(max_frame: usize, buf_len: usize) -> usize {
    max_frame.min(body_capacity(Framing::LengthPrefix, buf_len))
}

/// The ranges of a length-prefixed update part, the body after its header:
/// the same for every subscription that is sent this part.
pub(crate) fn part_tail(framed: &[u8]) -> Option<&[u8]> {
    fn skip_varint(bytes: &[u8]) -> Option<&[u8]> {
        let n = bytes.iter().position(|&b| b & 0x80 == 0)? + 1;
        bytes.get(n..)
    }
    let body = skip_varint(framed)?;
    let (&tag, rest) = body.split_first()?;
    is_update_tag(tag).then_some(())?;
    let mut rest = skip_varint(rest)?;
    rest = if tag & UPDATE_BASE != 0 {
        skip_varint(rest)?
    } else {
        // The check byte.
        rest.get(1..)?
    };
    if tag & UPDATE_STEP != 0 {
        rest = skip_varint(rest)?;
    }
    Some(rest)
}

/// The header of an update part: its tag and the fields it needs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PartHeader {
    pub(crate) handle: u16,
    pub(crate) base: u64,
    pub(crate) generation: u64,
    pub(crate) last: bool,
    /// The subscription's reference: the base is left out when equal.
    pub(crate) reference: Option<u64>,
}

impl PartHeader {
    /// The fields as an [`Update`] of no ranges yet; `Invalid` when the
    /// generation is below the base.
    fn update(&self) -> Result<Update<'static>, EncodeError> {
        Ok(Update {
            handle: self.handle,
            base: if self.reference == Some(self.base) {
                UpdateBase::Reference(UpdateBase::check(self.base))
            } else {
                UpdateBase::At(self.base)
            },
            step: self
                .generation
                .checked_sub(self.base)
                .ok_or(EncodeError::Invalid)?,
            last: self.last,
            ranges: Ranges::EMPTY,
        })
    }

    /// The longest the header can be whatever the reference and the last
    /// flag, so that parts are cut alike for every subscription (a check
    /// byte is never longer than the base's varint).
    fn max_len(&self) -> usize {
        1 + varint_len(u64::from(self.handle))
            + varint_len(self.base)
            + varint_len(self.generation.saturating_sub(self.base))
    }
}

/// Writes a length-prefixed update part with `header` before `tail` (see
/// [`part_tail`]) and returns its length.
pub(crate) fn write_part(
    header: PartHeader,
    tail: &[u8],
    buf: &mut [u8],
) -> Result<usize, EncodeError> {
    let head = Frame::Update(header.update()?);
    let mut out = Framing::LengthPrefix.open(head.encoded_len() + tail.len(), buf)?;
    head.write(&mut out)?;
    out.put(tail)?;
    out.finish()
}

/// The ranges still to send: the rest of a range cut by the previous frame,
/// then the source iterator.
#[derive(Clone, Debug)]
struct Cursor<I> {
    ranges: I,
    current: Option<Range<usize>>,
    prev_end: usize,
}

impl<I: Iterator<Item = Range<usize>>> Cursor<I> {
    /// The next non-empty range, checked for order and bounds.
    fn next_range(&mut self, data_len: usize) -> Result<Option<Range<usize>>, EncodeError> {
        if let Some(range) = self.current.take() {
            return Ok(Some(range));
        }
        for range in self.ranges.by_ref() {
            if range.start < self.prev_end || range.start > range.end || range.end > data_len {
                return Err(EncodeError::BadRanges);
            }
            self.prev_end = range.end;
            if !range.is_empty() {
                return Ok(Some(range));
            }
        }
        Ok(None)
    }

    /// Takes ranges (cutting the last one) until `budget` payload bytes are
    /// used; `emit` gets each entry's gap and bytes. Returns the payload
    /// length and whether anything is left to send.
    fn pack(
        &mut self,
        data: &[u8],
        budget: usize,
        mut emit: impl FnMut(u64, &[u8]) -> Result<(), EncodeError>,
    ) -> Result<(usize, bool), EncodeError> {
        let mut used = 0usize;
        let mut frame_end = 0usize;
        while let Some(range) = self.next_range(data.len())? {
            let gap = (range.start - frame_end) as u64;
            let avail = (budget - used) as u64;
            let whole = span_len(gap, range.len() as u64);
            let len = if whole <= avail {
                range.len()
            } else {
                // The longest cut whose entry fits what is left.
                let room = avail.saturating_sub(varint_len(gap) as u64);
                let len = room.saturating_sub(varint_len(room) as u64) as usize;
                if len == 0 {
                    self.current = Some(range);
                    return Ok((used, true));
                }
                len
            };
            let cut = range.start..range.start + len;
            emit(gap, data.get(cut.clone()).ok_or(EncodeError::BadRanges)?)?;
            used += span_len(gap, len as u64) as usize;
            frame_end = cut.end;
            if cut.end < range.end {
                self.current = Some(cut.end..range.end);
                return Ok((used, true));
            }
        }
        Ok((used, false))
    }
}

/// Encodes one update (from `base` to `generation`) as as many
/// [`Update`](super::Update) frames as it takes.
///
/// The byte ranges come from an iterator (a slice's `iter().cloned()`, or a
/// walk over a chunk table) that must yield ascending, non-overlapping ranges
/// inside `data`; empty ranges are skipped. A range longer than a frame is cut
/// across frames. Every frame but the last has `last == false`; an update with
/// no bytes is one frame with no ranges. The bytes are exactly those of
/// [`Frame::encode`](super::Frame::encode) on the same update, so the same
/// inputs always give the same frames.
///
/// Each part names its base unless [`after`](Self::after) says the
/// subscription's reference is the base ([`UpdateReference`](super::UpdateReference)).
/// How a part is cut does not depend on the reference.
#[derive(Clone, Debug)]
pub struct UpdateParts<'d, I> {
    data: &'d [u8],
    cursor: Cursor<I>,
    handle: u16,
    base: u64,
    generation: u64,
    reference: Option<u64>,
    max_frame: usize,
    framing: Framing,
    done: bool,
}

impl<'d, I: Iterator<Item = Range<usize>> + Clone> UpdateParts<'d, I> {
    /// Prepares the frames of an update of region `handle` taking the mirror
    /// from `base` to `generation`, sending `ranges` of `data` in frame
    /// bodies of at most `max_frame` bytes.
    pub fn new(
        handle: u16,
        base: u64,
        generation: u64,
        data: &'d [u8],
        ranges: I,
        max_frame: usize,
        framing: Framing,
    ) -> Self {
        UpdateParts {
            data,
            cursor: Cursor {
                ranges,
                current: None,
                prev_end: 0,
            },
            handle,
            base,
            generation,
            reference: None,
            max_frame,
            framing,
            done: false,
        }
    }

    /// The same update on a subscription whose reference is `reference`:
    /// its parts leave the base out when it is the reference.
    pub fn after(self, reference: u64) -> Self {
        UpdateParts {
            reference: Some(reference),
            ..self
        }
    }

    /// Whether every frame has been produced.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The data offset the next frame starts from: every range byte before
    /// it has been written. A sender that cannot keep the encoder between
    /// calls (its data is borrowed anew each time) resumes a multi-part
    /// update by passing its ranges cut to start here to a new encoder.
    pub fn position(&self) -> usize {
        self.cursor
            .current
            .as_ref()
            .map_or(self.cursor.prev_end, |range| range.start)
    }

    /// Writes the next framed frame into `buf` and returns its length, or
    /// `None` once the last part was written. After an error the encoder
    /// is done.
    ///
    /// Errors: [`EncodeError::BadRanges`] for ranges out of order or out of
    /// `data` (or a `data` longer than 4 GiB - 1); [`EncodeError::TooLarge`]
    /// when not even one data byte fits in a frame.
    pub fn next_frame(&mut self, buf: &mut [u8]) -> Option<Result<usize, EncodeError>> {
        if self.done {
            return None;
        }
        let result = self.write(buf);
        match result {
            Ok((_, false)) => self.done = true,
            Ok((_, true)) => {}
            Err(_) => self.done = true,
        }
        Some(result.map(|(n, _)| n))
    }

    fn write(&mut self, buf: &mut [u8]) -> Result<(usize, bool), EncodeError> {
        if u32::try_from(self.data.len()).is_err() {
            return Err(EncodeError::BadRanges);
        }
        let limit = self.max_frame.min(body_capacity(self.framing, buf.len()));
        let mut header = PartHeader {
            handle: self.handle,
            base: self.base,
            generation: self.generation,
            last: false,
            reference: self.reference,
        };
        let budget = limit
            .checked_sub(header.max_len())
            .ok_or(EncodeError::TooLarge)?;
        // Plan on a copy, to learn the payload length and the last flag
        // before writing them, then write the same entries for real.
        let (payload, more) = self.cursor.clone().pack(self.data, budget, |_, _| Ok(()))?;
        if payload == 0 && more {
            return Err(EncodeError::TooLarge);
        }
        header.last = !more;
        let head = Frame::Update(header.update()?);
        let mut out = self.framing.open(head.encoded_len() + payload, buf)?;
        head.write(&mut out)?;
        self.cursor.pack(self.data, budget, |gap, bytes| {
            out.varint(gap)?;
            out.bytes(bytes)
        })?;
        let n = out.finish()?;
        Ok((n, more))
    }
}

/// The header fields of every part of a schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SchemaHeader {
    /// The subscription's handle.
    pub handle: u16,
    /// The region's instance id.
    pub instance: u64,
    /// The schema fingerprint.
    pub fingerprint: u64,
    /// The data area's length.
    pub data_len: u32,
}

/// Encodes a schema as as many [`SchemaPart`](super::SchemaPart) frames as it
/// takes, whole variables per frame.
#[derive(Clone, Debug)]
pub struct SchemaParts<'s> {
    header: SchemaHeader,
    vars: &'s [Variable],
    count: u32,
    next: usize,
    max_frame: usize,
    framing: Framing,
    done: bool,
}

impl<'s> SchemaParts<'s> {
    /// Prepares the parts of a schema of `vars`; with `table == false`, one
    /// part with the count and no variables (for a subscriber that did not
    /// ask for names).
    pub fn new(
        header: SchemaHeader,
        vars: &'s [Variable],
        table: bool,
        max_frame: usize,
        framing: Framing,
    ) -> Self {
        let count = u32::try_from(vars.len()).unwrap_or(u32::MAX);
        let vars = if table { vars } else { &[] };
        SchemaParts {
            header,
            vars,
            count,
            next: 0,
            max_frame,
            framing,
            done: false,
        }
    }

    /// The same parts, starting at variable `first` (for a sender that
    /// resumes a schema in a later call).
    pub fn starting_at(self, first: usize) -> Self {
        SchemaParts {
            next: first,
            ..self
        }
    }

    /// The index of the first variable of the next part.
    pub fn next_variable(&self) -> usize {
        self.next
    }

    /// Whether every part has been produced.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Writes the next framed part into `buf` and returns its length, or
    /// `None` after the last. [`EncodeError::TooLarge`] if a variable does
    /// not fit a frame on its own.
    pub fn next_frame(&mut self, buf: &mut [u8]) -> Option<Result<usize, EncodeError>> {
        if self.done {
            return None;
        }
        let result = self.write(buf);
        if result.is_err() || self.next >= self.vars.len() {
            self.done = true;
        }
        Some(result)
    }

    fn write(&mut self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let limit = self.max_frame.min(body_capacity(self.framing, buf.len()));
        let first = u32::try_from(self.next).map_err(|_| EncodeError::Invalid)?;
        let h = self.header;
        let header = 1
            + varint_len(u64::from(h.handle))
            + 16
            + varint_len(u64::from(h.data_len))
            + varint_len(u64::from(self.count))
            + varint_len(u64::from(first));
        let budget = limit
            .checked_sub(header + varint_len(limit as u64))
            .ok_or(EncodeError::TooLarge)?;
        let rest = self.vars.get(self.next..).unwrap_or(&[]);
        let mut payload = 0usize;
        let mut taken = 0usize;
        for var in rest {
            let len = VarTable::entry_len(var);
            if payload + len > budget {
                break;
            }
            payload += len;
            taken += 1;
        }
        if taken == 0 && !rest.is_empty() {
            return Err(EncodeError::TooLarge);
        }
        let body = header + varint_len(payload as u64) + payload;
        let mut out = self.framing.open(body, buf)?;
        out.varint(10)?; // Frame::Schema
        out.varint(u64::from(h.handle))?;
        out.fixed_u64(h.instance)?;
        out.fixed_u64(h.fingerprint)?;
        for value in [h.data_len, self.count, first] {
            out.varint(u64::from(value))?;
        }
        out.varint(payload as u64)?;
        let part = rest.get(..taken).unwrap_or(&[]);
        for var in part {
            write_entry(var, &mut out)?;
        }
        self.next += taken;
        out.finish()
    }
}
