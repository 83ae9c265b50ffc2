//! Variables and schemas: what a region holds, and its fingerprint.
//!
//! A [`Schema`] is the ordered list of a region's [`Variable`]s, borrowed from
//! wherever it lives (a `static` made by [`SchemaBuilder`] or
//! `#[derive(Schema)]`, a buffer filled at run time, or a region's own table).
//! Variables are sorted by offset and never overlap; a second slice, the name
//! index, lists them sorted by name so that [`Schema::find`] is a binary
//! search.
//!
//! The [fingerprint](Schema::fingerprint) identifies the data layout: two
//! parties whose fingerprints agree read the same bytes the same way.
//! [`Schema::difference`] (`difference.rs`) names the first variable in
//! which two schemas differ.

mod builder;
mod difference;
mod kind;
mod name;
mod record;

use core::cmp::Ordering;
use core::fmt;

use sha2::{Digest, Sha256};

pub use builder::{SchemaBuf, SchemaBuilder};
pub use difference::Difference;
pub use kind::{Kind, Scalar, Value};
pub use name::{NAME_MAX, Name, NameError};
pub use record::{Record, RecordError};

/// One named, typed, fixed-size field of a region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Variable {
    /// The variable's name, unique in its schema.
    pub name: Name,
    /// The kind of each element.
    pub kind: Kind,
    /// The number of elements (1 for a scalar).
    pub count: u32,
    /// Byte offset from the start of the region's data area; a multiple of
    /// the kind's size.
    pub offset: u32,
    /// Whether remote peers with write rights may write it.
    pub writable: bool,
}

impl Variable {
    /// A read-only variable.
    pub const fn new(name: Name, kind: Kind, count: u32, offset: u32) -> Variable {
        Variable {
            name,
            kind,
            count,
            offset,
            writable: false,
        }
    }

    /// The variable's size in bytes (`count × kind size`), computed without
    /// overflow.
    #[inline]
    pub const fn len(&self) -> u64 {
        self.count as u64 * self.kind.size() as u64
    }

    /// Always false: a valid variable holds at least one element.
    pub const fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// One past the variable's last byte, relative to the data area.
    pub const fn end(&self) -> u64 {
        self.offset as u64 + self.len()
    }

    /// The variable's byte range in the data area. Valid variables of a
    /// checked [`Schema`] always fit in `usize`.
    pub fn range(&self) -> core::ops::Range<usize> {
        let start = usize::try_from(self.offset).unwrap_or(usize::MAX);
        let end = usize::try_from(self.end()).unwrap_or(usize::MAX);
        start..end
    }
}

/// The index of a variable in its schema (offset order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct VarId(pub u32);

impl VarId {
    /// The index as `usize`.
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// Why a list of variables is not a valid schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum SchemaError {
    /// A variable name is not valid.
    Name(NameError),
    /// Two variables share a name.
    DuplicateName,
    /// A variable has an element count of zero.
    ZeroCount,
    /// A variable's offset is not a multiple of its kind's size.
    Misaligned,
    /// A variable ends past the largest data area (4 GiB - 1 bytes).
    TooLarge,
    /// Variables are not in ascending offset order, or two of them overlap.
    Overlap,
    /// More variables than the schema's capacity (or than `u32` counts).
    TooManyVariables,
    /// The name index is not a sorted permutation of the variables.
    BadNameIndex,
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaError::Name(e) => fmt::Display::fmt(e, f),
            SchemaError::DuplicateName => f.write_str("two variables share a name"),
            SchemaError::ZeroCount => f.write_str("a variable has zero elements"),
            SchemaError::Misaligned => f.write_str("a variable is not at its natural alignment"),
            SchemaError::TooLarge => f.write_str("a variable ends past 4 GiB"),
            SchemaError::Overlap => f.write_str("variables are out of offset order or overlap"),
            SchemaError::TooManyVariables => f.write_str("too many variables"),
            SchemaError::BadNameIndex => {
                f.write_str("name index is not a sorted permutation of the variables")
            }
        }
    }
}

impl core::error::Error for SchemaError {}

impl From<NameError> for SchemaError {
    fn from(e: NameError) -> Self {
        SchemaError::Name(e)
    }
}

/// The ordered variables of a region, with their name index.
///
/// Built by [`Schema::new_checked`], [`SchemaBuf::as_schema`] or a region's
/// table; always valid once built.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Schema<'a> {
    vars: &'a [Variable],
    by_name: &'a [u32],
}

impl fmt::Debug for Schema<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.vars).finish()
    }
}

/// Checks one variable on its own and against the end of the one before it.
const fn check_variable(var: &Variable, prev_end: u64) -> Result<u64, SchemaError> {
    if var.count == 0 {
        return Err(SchemaError::ZeroCount);
    }
    if !(var.offset as usize).is_multiple_of(var.kind.size()) {
        return Err(SchemaError::Misaligned);
    }
    if var.end() > u32::MAX as u64 {
        return Err(SchemaError::TooLarge);
    }
    if (var.offset as u64) < prev_end {
        return Err(SchemaError::Overlap);
    }
    Ok(var.end())
}

/// Checks every variable: counts, alignment, order and overlap.
#[allow(
    clippy::indexing_slicing,
    reason = "const fn: every index is bounded by the loop condition; iterators are not usable in const"
)]
pub(crate) const fn check_variables(vars: &[Variable]) -> Result<(), SchemaError> {
    if vars.len() > u32::MAX as usize {
        return Err(SchemaError::TooManyVariables);
    }
    let mut end = 0;
    let mut i = 0;
    while i < vars.len() {
        end = match check_variable(&vars[i], end) {
            Ok(e) => e,
            Err(e) => return Err(e),
        };
        i += 1;
    }
    Ok(())
}

/// Fills `index` with the variable indices sorted by name, in place and
/// without allocating (heapsort, usable in `const` context).
///
/// Fails with [`SchemaError::DuplicateName`] when two names are equal and
/// [`SchemaError::TooManyVariables`] when `index` is not as long as `vars`.
#[allow(
    clippy::indexing_slicing,
    reason = "const fn: every index is bounded by the loop condition; iterators are not usable in const"
)]
pub const fn name_index(vars: &[Variable], index: &mut [u32]) -> Result<(), SchemaError> {
    let n = vars.len();
    if index.len() != n || n > u32::MAX as usize {
        return Err(SchemaError::TooManyVariables);
    }
    let mut i = 0;
    while i < n {
        #[allow(clippy::cast_possible_truncation)]
        {
            index[i] = i as u32;
        }
        i += 1;
    }
    // Heapsort: build a max-heap, then move the largest to the end.
    let mut start = n / 2;
    while start > 0 {
        start -= 1;
        sift_down(vars, index, start, n);
    }
    let mut end = n;
    while end > 1 {
        end -= 1;
        let tmp = index[0];
        index[0] = index[end];
        index[end] = tmp;
        sift_down(vars, index, 0, end);
    }
    let mut k = 1;
    while k < n {
        let a = &vars[index[k - 1] as usize].name;
        let b = &vars[index[k] as usize].name;
        if matches!(a.const_cmp(b), Ordering::Equal) {
            return Err(SchemaError::DuplicateName);
        }
        k += 1;
    }
    Ok(())
}

#[allow(
    clippy::indexing_slicing,
    reason = "const fn: every index is bounded by the loop condition; iterators are not usable in const"
)]
const fn name_less(vars: &[Variable], a: u32, b: u32) -> bool {
    matches!(
        vars[a as usize].name.const_cmp(&vars[b as usize].name),
        Ordering::Less
    )
}

#[allow(
    clippy::indexing_slicing,
    reason = "const fn: every index is bounded by the loop condition; iterators are not usable in const"
)]
const fn sift_down(vars: &[Variable], index: &mut [u32], mut root: usize, end: usize) {
    loop {
        let mut child = 2 * root + 1;
        if child >= end {
            return;
        }
        if child + 1 < end && name_less(vars, index[child], index[child + 1]) {
            child += 1;
        }
        if !name_less(vars, index[root], index[child]) {
            return;
        }
        let tmp = index[root];
        index[root] = index[child];
        index[child] = tmp;
        root = child;
    }
}

/// Assigns offsets to `vars` in order, each at its natural alignment right
/// after the one before (the layout of a `#[repr(C)]` struct), and returns
/// the end of the last one.
#[allow(
    clippy::indexing_slicing,
    reason = "const fn: every index is bounded by the loop condition; iterators are not usable in const"
)]
pub const fn place(vars: &mut [Variable]) -> Result<u32, SchemaError> {
    let mut end: u64 = 0;
    let mut i = 0;
    while i < vars.len() {
        let size = vars[i].kind.size() as u64;
        let offset = end.div_ceil(size) * size;
        if offset > u32::MAX as u64 {
            return Err(SchemaError::TooLarge);
        }
        #[allow(clippy::cast_possible_truncation)]
        {
            vars[i].offset = offset as u32;
        }
        end = match check_variable(&vars[i], end) {
            Ok(e) => e,
            Err(e) => return Err(e),
        };
        i += 1;
    }
    #[allow(clippy::cast_possible_truncation)]
    Ok(end as u32)
}

/// The domain string that starts the fingerprint's input.
pub const FINGERPRINT_DOMAIN: &[u8] = b"memwire.schema.v1";

impl<'a> Schema<'a> {
    /// The schema with no variables.
    pub const EMPTY: Schema<'static> = Schema {
        vars: &[],
        by_name: &[],
    };

    /// Checks `vars` (offset order, no overlap, natural alignment, nonzero
    /// counts) and `by_name` (the variable indices sorted by name, as
    /// [`name_index`] makes them), and borrows both.
    #[allow(
        clippy::indexing_slicing,
        reason = "const fn: every index is bounded by the loop condition; iterators are not usable in const"
    )]
    pub const fn new_checked(
        vars: &'a [Variable],
        by_name: &'a [u32],
    ) -> Result<Schema<'a>, SchemaError> {
        if let Err(e) = check_variables(vars) {
            return Err(e);
        }
        if by_name.len() != vars.len() {
            return Err(SchemaError::BadNameIndex);
        }
        let mut i = 0;
        while i < by_name.len() {
            if by_name[i] as usize >= vars.len() {
                return Err(SchemaError::BadNameIndex);
            }
            if i > 0 {
                let a = &vars[by_name[i - 1] as usize].name;
                let b = &vars[by_name[i] as usize].name;
                match a.const_cmp(b) {
                    Ordering::Less => {}
                    Ordering::Equal => return Err(SchemaError::DuplicateName),
                    Ordering::Greater => return Err(SchemaError::BadNameIndex),
                }
            }
            i += 1;
        }
        Ok(Schema { vars, by_name })
    }

    /// The variables, in offset order.
    pub const fn variables(&self) -> &'a [Variable] {
        self.vars
    }

    /// The variable indices sorted by name.
    pub const fn name_order(&self) -> &'a [u32] {
        self.by_name
    }

    /// The number of variables.
    pub const fn len(&self) -> usize {
        self.vars.len()
    }

    /// Whether the schema has no variables.
    pub const fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }

    /// The variable `id`.
    #[inline]
    pub fn get(&self, id: VarId) -> Option<&'a Variable> {
        self.vars.get(id.index())
    }

    /// The variable called `name`: a binary search of the name index,
    /// O(log n).
    pub fn find(&self, name: &str) -> Option<VarId> {
        let vars = self.vars;
        let pos = self
            .by_name
            .binary_search_by(|&i| {
                vars.get(i as usize)
                    .map_or(Ordering::Greater, |v| v.name.cmp_str(name))
            })
            .ok()?;
        self.by_name.get(pos).map(|&i| VarId(i))
    }

    /// The variable called `name`, with its id.
    pub fn lookup(&self, name: &str) -> Option<(VarId, &'a Variable)> {
        let id = self.find(name)?;
        Some((id, self.get(id)?))
    }

    /// The end of the last variable: the smallest data area that holds them.
    pub const fn data_len(&self) -> u32 {
        match self.vars.last() {
            // A checked schema ends below 4 GiB.
            #[allow(clippy::cast_possible_truncation)]
            Some(v) => v.end() as u32,
            None => 0,
        }
    }

    /// The 64-bit fingerprint of the schema's canonical encoding.
    ///
    /// SHA-256 over `"memwire.schema.v1"`, the variable count (u32 LE), then
    /// for each variable in offset order: name length (u8), name bytes, kind
    /// code (u8), element count (u32 LE), offset (u32 LE). The fingerprint is
    /// the first 8 bytes of the digest read as a little-endian u64. The
    /// writable flags are access policy, not layout, and are left out.
    pub fn fingerprint(&self) -> u64 {
        let mut hash = Fingerprinter::new(self.vars.len().try_into().unwrap_or(u32::MAX));
        for var in self.vars {
            hash.push(var);
        }
        hash.finish()
    }

    /// The variables whose bytes intersect `range` (relative to the data
    /// area), as a range of ids: a binary search, O(log n).
    pub fn overlapping(&self, range: core::ops::Range<usize>) -> core::ops::Range<usize> {
        let vars = self.vars;
        let first = vars.partition_point(|v| v.end() <= range.start as u64);
        let last = vars.partition_point(|v| (v.offset as usize) < range.end);
        first..last.max(first)
    }
}

impl<'a> IntoIterator for Schema<'a> {
    type Item = &'a Variable;
    type IntoIter = core::slice::Iter<'a, Variable>;
    fn into_iter(self) -> Self::IntoIter {
        self.vars.iter()
    }
}

/// The schema fingerprint computed one variable at a time, for variables
/// that are not held in one slice (a region's table).
pub(crate) struct Fingerprinter(Sha256);

impl Fingerprinter {
    pub(crate) fn new(count: u32) -> Self {
        let mut hash = Sha256::new();
        hash.update(FINGERPRINT_DOMAIN);
        hash.update(count.to_le_bytes());
        Fingerprinter(hash)
    }

    pub(crate) fn push(&mut self, var: &Variable) {
        let name = var.name.as_bytes();
        #[allow(clippy::cast_possible_truncation)]
        self.0.update([name.len() as u8]);
        self.0.update(name);
        self.0.update([var.kind.code()]);
        self.0.update(var.count.to_le_bytes());
        self.0.update(var.offset.to_le_bytes());
    }

    pub(crate) fn finish(self) -> u64 {
        let digest = self.0.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(digest.get(..8).unwrap_or(&[0; 8]));
        u64::from_le_bytes(first)
    }
}

#[cfg(test)]
mod tests;
