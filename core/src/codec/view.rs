//! Checked views over the variable-length sequences inside frames.
//!
//! A frame field that holds a sequence of variable-sized items (the byte
//! ranges of an update, the variable table of a schema part, the region list
//! of a welcome) is carried as one byte string whose contents are the
//! items, encoded back to back, with no count. Decoding the frame
//! borrows that byte string and checks every item once
//! ([`Ranges::new_checked`] and friends); the view's iterator then walks the
//! items without allocating and cannot fail.

use core::fmt;
use core::ops::Range;

use super::error::{DecodeError, EncodeError};
use super::wire::{Reader, Sink, varint_len};
use crate::schema::{Kind, Name, Variable};

/// One changed byte range of a region's data area, with its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Span<'a> {
    /// Offset of the first byte in the data area.
    pub offset: u32,
    /// The bytes; never empty in a checked [`Ranges`].
    pub bytes: &'a [u8],
}

impl Span<'_> {
    /// The span's byte range in the data area.
    pub fn range(&self) -> Range<usize> {
        let start = self.offset as usize;
        start..start.saturating_add(self.bytes.len())
    }
}

/// The byte ranges of an update or a write: ascending, non-overlapping,
/// non-empty, ending at or before 4 GiB - 1.
///
/// On the wire, each range is a varint `gap` (bytes from the end of the
/// previous range, or from 0 for the first) followed by a byte string.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Ranges<'a> {
    payload: &'a [u8],
}

impl<'a> Ranges<'a> {
    /// No ranges.
    pub const EMPTY: Ranges<'static> = Ranges { payload: &[] };

    /// Checks a payload of encoded ranges.
    pub fn new_checked(payload: &'a [u8]) -> Result<Ranges<'a>, DecodeError> {
        let mut iter = RangesIter {
            rest: payload,
            end: 0,
        };
        while !iter.rest.is_empty() {
            iter.step()?;
        }
        Ok(Ranges { payload })
    }

    /// Encodes `spans` (ascending, non-overlapping, non-empty) into `buf` and
    /// returns the view over them.
    pub fn encode<'s>(
        spans: impl IntoIterator<Item = Span<'s>>,
        buf: &'a mut [u8],
    ) -> Result<Ranges<'a>, EncodeError> {
        let mut out = Sink::slice(buf);
        let mut end: u64 = 0;
        for span in spans {
            let offset = u64::from(span.offset);
            let len = u64::try_from(span.bytes.len()).map_err(|_| EncodeError::BadRanges)?;
            if offset < end || len == 0 || offset + len > u64::from(u32::MAX) {
                return Err(EncodeError::BadRanges);
            }
            out.varint(offset - end)?;
            out.bytes(span.bytes)?;
            end = offset + len;
        }
        Ok(Ranges {
            payload: finished(out)?,
        })
    }

    /// The encoded payload.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.payload
    }

    /// Whether there are no ranges.
    pub fn is_empty(&self) -> bool {
        self.payload.is_empty()
    }

    /// The ranges, in ascending offset order.
    pub fn iter(&self) -> RangesIter<'a> {
        RangesIter {
            rest: self.payload,
            end: 0,
        }
    }
}

/// The encoded size of a range entry holding `len` bytes after `gap` bytes.
pub(crate) fn span_len(gap: u64, len: u64) -> u64 {
    varint_len(gap) as u64 + varint_len(len) as u64 + len
}

impl fmt::Debug for Ranges<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for Ranges<'a> {
    type Item = Span<'a>;
    type IntoIter = RangesIter<'a>;
    fn into_iter(self) -> RangesIter<'a> {
        self.iter()
    }
}

/// Iterator over the spans of checked [`Ranges`].
#[derive(Clone, Debug)]
pub struct RangesIter<'a> {
    rest: &'a [u8],
    end: u32,
}

impl<'a> RangesIter<'a> {
    fn step(&mut self) -> Result<Span<'a>, DecodeError> {
        let mut r = Reader::new(self.rest);
        let gap = r.u32()?;
        let bytes = r.bytes()?;
        let offset = self.end.checked_add(gap).ok_or(DecodeError::Invalid)?;
        let len = u32::try_from(bytes.len()).map_err(|_| DecodeError::Invalid)?;
        if len == 0 {
            return Err(DecodeError::Invalid);
        }
        // Ends at or before u32::MAX, the largest data area.
        self.end = offset.checked_add(len).ok_or(DecodeError::Invalid)?;
        self.rest = r.rest();
        Ok(Span { offset, bytes })
    }
}

impl<'a> Iterator for RangesIter<'a> {
    type Item = Span<'a>;
    fn next(&mut self) -> Option<Span<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        // Checked once by `Ranges::new_checked`; an error cannot happen here.
        self.step().ok()
    }
}

/// A run of variables of a schema, in schema order: each a name, a kind
/// code, an element count, an offset and a writable flag.
///
/// Each entry is checked on its own (known kind, at least one element, ends
/// before 4 GiB); whether the whole table is a valid schema is for the
/// receiver to check with [`Schema::new_checked`](crate::Schema::new_checked)
/// once all parts are in.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct VarTable<'a> {
    payload: &'a [u8],
}

impl<'a> VarTable<'a> {
    /// No variables.
    pub const EMPTY: VarTable<'static> = VarTable { payload: &[] };

    /// Checks a payload of encoded variables.
    pub fn new_checked(payload: &'a [u8]) -> Result<VarTable<'a>, DecodeError> {
        let mut iter = VarTableIter { rest: payload };
        while !iter.rest.is_empty() {
            iter.step()?;
        }
        Ok(VarTable { payload })
    }

    /// Encodes `vars` into `buf` and returns the view over them.
    pub fn encode(vars: &[Variable], buf: &'a mut [u8]) -> Result<VarTable<'a>, EncodeError> {
        let mut out = Sink::slice(buf);
        for var in vars {
            write_entry(var, &mut out)?;
        }
        Ok(VarTable {
            payload: finished(out)?,
        })
    }

    /// The encoded size of one variable's entry.
    pub fn entry_len(var: &Variable) -> usize {
        let mut out = Sink::Count(0);
        // Counting cannot fail.
        let _ = write_entry(var, &mut out);
        out.finish().unwrap_or(usize::MAX)
    }

    /// The encoded payload.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.payload
    }

    /// Whether the table holds no variables.
    pub fn is_empty(&self) -> bool {
        self.payload.is_empty()
    }

    /// The variables.
    pub fn iter(&self) -> VarTableIter<'a> {
        VarTableIter { rest: self.payload }
    }
}

/// One variable's entry: its name, kind code (a byte), count, offset and
/// writable flag.
pub(crate) fn write_entry(var: &Variable, out: &mut Sink<'_>) -> Result<(), EncodeError> {
    out.str(var.name.as_str())?;
    out.byte(var.kind.code())?;
    out.varint(var.count.into())?;
    out.varint(var.offset.into())?;
    out.bool(var.writable)
}

/// The bytes a slice sink wrote.
fn finished(out: Sink<'_>) -> Result<&[u8], EncodeError> {
    match out {
        Sink::Plain { buf, len } => {
            let buf: &[u8] = buf;
            buf.get(..len).ok_or(EncodeError::BufferTooSmall)
        }
        _ => Err(EncodeError::Invalid),
    }
}

impl fmt::Debug for VarTable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for VarTable<'a> {
    type Item = Variable;
    type IntoIter = VarTableIter<'a>;
    fn into_iter(self) -> VarTableIter<'a> {
        self.iter()
    }
}

/// Iterator over the variables of a checked [`VarTable`].
#[derive(Clone, Debug)]
pub struct VarTableIter<'a> {
    rest: &'a [u8],
}

impl VarTableIter<'_> {
    fn step(&mut self) -> Result<Variable, DecodeError> {
        let mut r = Reader::new(self.rest);
        let name = r.name()?;
        let kind = Kind::from_code(r.byte()?).ok_or(DecodeError::Invalid)?;
        let var = Variable {
            name,
            kind,
            count: r.u32()?,
            offset: r.u32()?,
            writable: r.bool()?,
        };
        if var.count == 0 || var.end() > u64::from(u32::MAX) {
            return Err(DecodeError::Invalid);
        }
        self.rest = r.rest();
        Ok(var)
    }
}

impl Iterator for VarTableIter<'_> {
    type Item = Variable;
    fn next(&mut self) -> Option<Variable> {
        if self.rest.is_empty() {
            return None;
        }
        self.step().ok()
    }
}

/// A region a hub serves to a tenant, as listed in a welcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RegionInfo {
    /// The region's name within the tenant.
    pub name: Name,
    /// The region's instance id: changes whenever the region is created anew,
    /// so a mirror knows whether its generation still means anything.
    pub instance: u64,
}

impl RegionInfo {
    /// Appends the region's entry: its name, then its instance id as a
    /// fixed-width little-endian `u64`.
    pub(crate) fn write(&self, out: &mut Sink<'_>) -> Result<(), EncodeError> {
        out.str(self.name.as_str())?;
        out.fixed_u64(self.instance)
    }

    /// Encodes the region's entry into `buf` and returns its length, for a
    /// list built one entry at a time.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let mut out = Sink::slice(buf);
        self.write(&mut out)?;
        out.finish()
    }
}

/// A list of [`RegionInfo`]s.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct RegionList<'a> {
    payload: &'a [u8],
}

impl<'a> RegionList<'a> {
    /// No regions.
    pub const EMPTY: RegionList<'static> = RegionList { payload: &[] };

    /// Checks a payload of encoded regions.
    pub fn new_checked(payload: &'a [u8]) -> Result<RegionList<'a>, DecodeError> {
        let mut iter = RegionListIter { rest: payload };
        while !iter.rest.is_empty() {
            iter.step()?;
        }
        Ok(RegionList { payload })
    }

    /// Encodes `regions` into `buf` and returns the view over them.
    pub fn encode(
        regions: &[RegionInfo],
        buf: &'a mut [u8],
    ) -> Result<RegionList<'a>, EncodeError> {
        let mut out = Sink::slice(buf);
        for region in regions {
            region.write(&mut out)?;
        }
        Ok(RegionList {
            payload: finished(out)?,
        })
    }

    /// The encoded payload.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.payload
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.payload.is_empty()
    }

    /// The regions.
    pub fn iter(&self) -> RegionListIter<'a> {
        RegionListIter { rest: self.payload }
    }
}

impl fmt::Debug for RegionList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for RegionList<'a> {
    type Item = RegionInfo;
    type IntoIter = RegionListIter<'a>;
    fn into_iter(self) -> RegionListIter<'a> {
        self.iter()
    }
}

/// Iterator over the regions of a checked [`RegionList`].
#[derive(Clone, Debug)]
pub struct RegionListIter<'a> {
    rest: &'a [u8],
}

impl RegionListIter<'_> {
    fn step(&mut self) -> Result<RegionInfo, DecodeError> {
        let mut r = Reader::new(self.rest);
        let region = RegionInfo {
            name: r.name()?,
            instance: r.fixed_u64()?,
        };
        self.rest = r.rest();
        Ok(region)
    }
}

impl Iterator for RegionListIter<'_> {
    type Item = RegionInfo;
    fn next(&mut self) -> Option<RegionInfo> {
        if self.rest.is_empty() {
            return None;
        }
        self.step().ok()
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Ranges<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "Ranges({=usize} bytes)", self.payload.len());
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for VarTable<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "VarTable({=usize} bytes)", self.payload.len());
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for RegionList<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "RegionList({=usize} bytes)", self.payload.len());
    }
}
