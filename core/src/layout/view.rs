//! The checked view over a region held as plain bytes.

use super::check::{Geometry, entry_variable, index_at, name_at, read_entry, validate};
use super::{Header, LayoutError};
use crate::schema::{Name, Schema, VarId, Variable};
use zerocopy::{FromBytes, FromZeros};

/// A validated region in plain bytes: a file read into memory, a snapshot,
/// received bytes.
///
/// [`new_checked`](Self::new_checked) validates every field once; no accessor
/// can panic afterwards. Memory that another process may write at the same
/// time must not be viewed as `&[u8]`: use [`Region`](crate::Region).
#[derive(Clone, Copy, Debug)]
pub struct RegionView<'a> {
    bytes: &'a [u8],
    geo: Geometry,
}

impl<'a> RegionView<'a> {
    /// Validates `bytes` as a region: magic, version, flags, every offset and
    /// length, the checksum, every variable entry, the name index and the
    /// fingerprint. Bytes past the region's declared length are ignored.
    pub fn new_checked(bytes: &'a [u8]) -> Result<RegionView<'a>, LayoutError> {
        let geo = validate(bytes, |_, _| Ok(()))?;
        let bytes = bytes.get(..geo.total_len).ok_or(LayoutError::Truncated)?;
        Ok(RegionView { bytes, geo })
    }

    /// The region's bytes, `total_len` long.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// A copy of the header.
    pub fn header(&self) -> Header {
        // Validated: the bytes hold a whole header.
        Header::read_from_prefix(self.bytes).map_or_else(|_| Header::new_zeroed(), |(h, _)| h)
    }

    /// The schema fingerprint.
    pub fn fingerprint(&self) -> u64 {
        self.geo.fingerprint
    }

    /// The region instance.
    pub fn instance(&self) -> u64 {
        self.geo.instance
    }

    /// The generation stored in the bytes.
    pub fn generation(&self) -> u64 {
        let h = self.header();
        u64::from(h.generation_lo.get()) | (u64::from(h.generation_hi.get()) << 32)
    }

    /// The number of variables.
    pub fn len(&self) -> usize {
        self.geo.variable_count as usize
    }

    /// Whether the region has no variables.
    pub fn is_empty(&self) -> bool {
        self.geo.variable_count == 0
    }

    /// Variable `id`.
    pub fn variable(&self, id: VarId) -> Option<Variable> {
        if id.0 >= self.geo.variable_count {
            return None;
        }
        let entry = read_entry(self.bytes, &self.geo, id.index())?;
        entry_variable(&entry, id.0).ok()
    }

    /// Variable `id`'s sequence counter.
    pub fn seq(&self, id: VarId) -> Option<u32> {
        if id.0 >= self.geo.variable_count {
            return None;
        }
        Some(read_entry(self.bytes, &self.geo, id.index())?.seq.get())
    }

    /// The variables in offset order.
    pub fn variables(&self) -> impl Iterator<Item = Variable> + '_ {
        (0..self.geo.variable_count).filter_map(|i| self.variable(VarId(i)))
    }

    /// The variable called `name`: a binary search of the name index.
    pub fn find(&self, name: &str) -> Option<VarId> {
        let want = Name::new(name).ok()?.padded();
        let (mut lo, mut hi) = (0usize, self.geo.variable_count as usize);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let i = index_at(self.bytes, &self.geo, mid)?;
            match name_at(self.bytes, &self.geo, i)?.cmp(&want) {
                core::cmp::Ordering::Less => lo = mid + 1,
                core::cmp::Ordering::Greater => hi = mid,
                core::cmp::Ordering::Equal => return Some(VarId(i)),
            }
        }
        None
    }

    /// The data area.
    pub fn data(&self) -> &'a [u8] {
        self.bytes
            .get(self.geo.data_offset..self.geo.journal_offset())
            .unwrap_or(&[])
    }

    /// The undo journal: as long as the data area, or empty for a region
    /// without one.
    pub fn journal(&self) -> &'a [u8] {
        self.bytes
            .get(self.geo.journal_offset()..self.geo.requests_offset())
            .unwrap_or(&[])
    }

    /// The journal mark: the odd commit counter of a commit whose old bytes
    /// the journal holds, 0 when it holds none.
    pub fn journal_mark(&self) -> u32 {
        self.header().journal.get()
    }

    /// Variable `id`'s bytes.
    pub fn value_bytes(&self, id: VarId) -> Option<&'a [u8]> {
        let var = self.variable(id)?;
        self.data().get(var.range())
    }

    /// Copies the variables into `vars` and their name index into `index`
    /// (each at least [`len`](Self::len) long) and returns them as a schema.
    pub fn copy_schema<'s>(
        &self,
        vars: &'s mut [Variable],
        index: &'s mut [u32],
    ) -> Result<Schema<'s>, LayoutError> {
        copy_schema_from(self.bytes, &self.geo, vars, index)
    }
}

/// Copies a validated region's variables and name index into caller buffers.
pub(crate) fn copy_schema_from<'s, S: super::Source + ?Sized>(
    src: &S,
    geo: &Geometry,
    vars: &'s mut [Variable],
    index: &'s mut [u32],
) -> Result<Schema<'s>, LayoutError> {
    let n = geo.variable_count as usize;
    let vars = vars.get_mut(..n).ok_or(LayoutError::BufferTooSmall)?;
    let index = index.get_mut(..n).ok_or(LayoutError::BufferTooSmall)?;
    for (i, slot) in (0u32..).zip(vars.iter_mut()) {
        let entry = read_entry(src, geo, i as usize).ok_or(LayoutError::TableOutOfBounds)?;
        *slot = entry_variable(&entry, i)?;
    }
    for (k, slot) in index.iter_mut().enumerate() {
        *slot = index_at(src, geo, k).ok_or(LayoutError::BadNameIndex)?;
    }
    Schema::new_checked(vars, index).map_err(|_| LayoutError::BadNameIndex)
}
