//! A region's bytes: header, variable table, name index and data area.
//!
//! ```text
//! offset 0     header (192 bytes): immutable fields, checksum, live words
//! 192          variable table: one 64-byte entry per variable, in offset order
//! index_offset name index: one u32 LE per variable, entry indices sorted by name
//! data_offset  data area (64-byte aligned, length a multiple of 64)
//! journal      undo journal: as long as the data area, or absent
//! requests     request area: with the journal only (`requests.rs`)
//! total_len    end of the region
//! ```
//!
//! Every field is little-endian. The header's first 64 bytes, the first 56
//! bytes of every table entry and the name index never change after the
//! region is laid out, and a checksum covers them. The live words (the commit
//! counter, the writer word, the generation, the journal mark and each
//! variable's sequence counter) change on every write and are read and written only with atomic
//! 32-bit operations (see [`crate::sync`]). `spec/region-layout.md` is the
//! reference for every field.
//!
//! A region laid out by [`init_journaled`] carries an undo journal after its
//! data area, where each commit first saves the bytes it overwrites, so that
//! [`Region::recover`](crate::Region::recover) can roll back a commit its
//! writer died in. One laid out by [`init`] has none (memory that dies with
//! its writer: firmware buffers, mirrors in RAM).
//!
//! [`RegionView::new_checked`] validates a region held as plain bytes (a file
//! read into memory, a snapshot, a fuzzer's input) once; the live
//! [`Region`](crate::Region) over shared memory runs the same checks.

mod check;
mod requests;
mod view;

use core::fmt;

use sha2::{Digest, Sha256};
use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::schema::{NAME_MAX, Schema};

pub(crate) use check::{Geometry, Source, validate};
pub use requests::*;
pub use view::RegionView;
pub(crate) use view::copy_schema_from;

/// The first eight bytes of every region.
pub const MAGIC: [u8; 8] = *b"MEMWIRE\0";
/// The region format version this crate writes and reads.
pub const FORMAT_VERSION: u16 = 2;
/// The header's size in bytes.
pub const HEADER_LEN: usize = 192;
/// The size of one variable table entry in bytes.
pub const ENTRY_LEN: usize = 64;
/// The alignment of the data area, and the granule of its length: a cache line.
pub const DATA_ALIGN: usize = 64;
/// The header bytes covered by the checksum: `0..CHECKED_HEADER_LEN`.
pub const CHECKED_HEADER_LEN: usize = 64;
/// The entry bytes covered by the checksum: `0..CHECKED_ENTRY_LEN` of each.
pub const CHECKED_ENTRY_LEN: usize = 56;
/// The entry flag bit for a variable writable by remote peers.
pub const VAR_WRITABLE: u8 = 0x01;
/// The domain string that starts the checksum's input.
pub const CHECKSUM_DOMAIN: &[u8] = b"memwire.region.v1";

/// Byte offset of the commit counter (odd while a write is in progress).
pub const COMMIT_OFFSET: usize = 128;
/// Byte offset of the writer word (an id of the process that holds the writer lock, 0 if none).
pub const WRITER_OFFSET: usize = 132;
/// Byte offset of the low 32 bits of the generation.
pub const GENERATION_LO_OFFSET: usize = 136;
/// Byte offset of the high 32 bits of the generation.
pub const GENERATION_HI_OFFSET: usize = 140;
/// Byte offset of the journal length in the header (immutable, checksummed).
pub const JOURNAL_LEN_OFFSET: usize = 60;
/// Byte offset of the journal mark: the odd commit counter of the commit
/// whose old bytes the journal holds, 0 when it holds none.
pub const JOURNAL_OFFSET: usize = 144;
/// Byte offset of the pause word: a reader's request that the writer hold
/// its next commit back for a short bound, 0 for none (only the std
/// adapter uses it; readers and writers on a microcontroller leave it 0).
pub const PAUSE_OFFSET: usize = 148;
/// Byte offset of a variable's sequence counter within its table entry.
pub const ENTRY_SEQ_OFFSET: usize = 56;
/// Byte offset of the low 32 bits of the published generation: the
/// generation a writer last marked as a consistent state (live, 0 until
/// the first mark; `Region::publish`).
pub const PUBLISHED_LO_OFFSET: usize = 152;
/// Byte offset of the high 32 bits of the published generation.
pub const PUBLISHED_HI_OFFSET: usize = 156;

/// The region header, as stored at offset 0.
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct Header {
    /// [`MAGIC`].
    pub magic: [u8; 8],
    /// [`FORMAT_VERSION`].
    pub version: U16,
    /// [`HEADER_LEN`].
    pub header_len: U16,
    /// Region flags; none are defined and a reader rejects any set bit.
    pub flags: U32,
    /// The schema fingerprint ([`Schema::fingerprint`]).
    pub fingerprint: U64,
    /// The region instance: chosen at creation, so that a peer's
    /// generation is only compared within one instance.
    pub instance: U64,
    /// The number of variables.
    pub variable_count: U32,
    /// [`ENTRY_LEN`].
    pub entry_len: U32,
    /// Offset of the variable table: [`HEADER_LEN`].
    pub table_offset: U32,
    /// Offset of the name index: right after the table.
    pub index_offset: U32,
    /// Offset of the data area: the first multiple of [`DATA_ALIGN`] after the index.
    pub data_offset: U32,
    /// Length of the data area: the schema's data length rounded up to [`DATA_ALIGN`].
    pub data_len: U32,
    /// Length of the whole region: `data_offset + data_len + journal_len`,
    /// plus the request area's length when there is a journal.
    pub total_len: U32,
    /// Length of the undo journal after the data area: 0 (none) or `data_len`.
    pub journal_len: U32,
    /// Checksum over the immutable bytes (`spec/region-layout.md`, "Checksum").
    pub checksum: U64,
    /// Zero.
    pub reserved1: [u8; 56],
    /// Live: the commit counter.
    pub commit: U32,
    /// Live: the writer word.
    pub writer: U32,
    /// Live: generation, low half.
    pub generation_lo: U32,
    /// Live: generation, high half.
    pub generation_hi: U32,
    /// Live: the journal mark ([`JOURNAL_OFFSET`]).
    pub journal: U32,
    /// Live: the pause word ([`PAUSE_OFFSET`]).
    pub pause: U32,
    /// Live: the published generation, low half ([`PUBLISHED_LO_OFFSET`]).
    pub published_lo: U32,
    /// Live: the published generation, high half ([`PUBLISHED_HI_OFFSET`]).
    pub published_hi: U32,
    /// Zero.
    pub reserved2: [u8; 32],
}

/// One variable table entry.
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct Entry {
    /// The name, NUL-padded.
    pub name: [u8; NAME_MAX],
    /// The kind code ([`Kind::code`](crate::Kind::code)).
    pub kind: u8,
    /// Flags: [`VAR_WRITABLE`]; other bits are rejected.
    pub flags: u8,
    /// Zero.
    pub reserved0: [u8; 2],
    /// The element count.
    pub count: U32,
    /// Offset from the start of the data area.
    pub offset: U32,
    /// Length in bytes: `count × kind size`.
    pub length: U32,
    /// Live: the variable's sequence counter (odd while it is being written).
    pub seq: U32,
    /// Zero.
    pub reserved1: U32,
}

const _: () = assert!(core::mem::size_of::<Header>() == HEADER_LEN);
const _: () = assert!(core::mem::size_of::<Entry>() == ENTRY_LEN);

/// Why bytes are not a valid region, or a region cannot be laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum LayoutError {
    /// Fewer bytes than a header.
    TooShort,
    /// The first eight bytes are not [`MAGIC`].
    BadMagic,
    /// The format version is not [`FORMAT_VERSION`] (a newer or older writer).
    UnsupportedVersion(u16),
    /// The header length field is not [`HEADER_LEN`].
    BadHeaderLen,
    /// A region flag or a reserved byte is set.
    UnknownFlags,
    /// The entry length field is not [`ENTRY_LEN`].
    BadEntryLen,
    /// The variable table does not start right after the header or runs past the region.
    TableOutOfBounds,
    /// The name index does not follow the table or runs past the region.
    IndexOutOfBounds,
    /// The data area is not 64-byte aligned, overlaps the index, or its
    /// length is not a multiple of 64.
    DataOutOfBounds,
    /// The declared total length is not `data_offset + data_len +
    /// journal_len` (+ the request area's length with a journal).
    BadTotalLen,
    /// The journal length is neither 0 nor the data area's length.
    BadJournalLen,
    /// The declared total length is larger than the bytes given (a short file).
    Truncated,
    /// The checksum over the immutable fields does not match.
    ChecksumMismatch,
    /// A variable's name is empty, too long or holds a byte outside `[A-Za-z0-9_.-]`.
    BadName(u32),
    /// A variable's kind code is unknown.
    BadKind(u32),
    /// A variable's flags or reserved bytes hold unknown bits.
    BadVariableFlags(u32),
    /// A variable has zero elements, or its length is not `count × kind size`.
    BadLength(u32),
    /// A variable's offset is not a multiple of its kind's size.
    Misaligned(u32),
    /// A variable ends past the data area.
    VariableOutOfBounds(u32),
    /// A variable starts before the end of the one before it.
    Overlap(u32),
    /// The name index is not the variables sorted by name.
    BadNameIndex,
    /// Two variables share a name.
    DuplicateName,
    /// The header's fingerprint is not the fingerprint of the variable table.
    FingerprintMismatch,
    /// The region's variables differ from the schema the caller expects.
    SchemaMismatch,
    /// A caller's buffer is too small: for [`init`], the region; for a
    /// schema copy, the variables.
    BufferTooSmall,
    /// The region would be larger than 4 GiB - 1 bytes.
    TooLarge,
    /// The bytes are not aligned to 4 for a live region.
    Unaligned,
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayoutError::TooShort => f.write_str("region is shorter than its header"),
            LayoutError::BadMagic => f.write_str("not a memwire region (bad magic)"),
            LayoutError::UnsupportedVersion(v) => write!(
                f,
                "region format version {v} is not supported (this build reads version \
                 {FORMAT_VERSION}); recreate the region with this build"
            ),
            LayoutError::BadHeaderLen => f.write_str("region header length is wrong"),
            LayoutError::UnknownFlags => {
                f.write_str("region header has unknown flags or reserved bytes set")
            }
            LayoutError::BadEntryLen => f.write_str("region variable entry length is wrong"),
            LayoutError::TableOutOfBounds => f.write_str("region variable table is out of bounds"),
            LayoutError::IndexOutOfBounds => f.write_str("region name index is out of bounds"),
            LayoutError::DataOutOfBounds => {
                f.write_str("region data area is misplaced or misaligned")
            }
            LayoutError::BadTotalLen => {
                f.write_str("region total length does not match its sections")
            }
            LayoutError::BadJournalLen => {
                f.write_str("region journal length is neither 0 nor the data length")
            }
            LayoutError::Truncated => f.write_str("region is shorter than its declared length"),
            LayoutError::ChecksumMismatch => f.write_str("region checksum mismatch"),
            LayoutError::BadName(i) => write!(f, "variable {i} has an invalid name"),
            LayoutError::BadKind(i) => write!(f, "variable {i} has an unknown kind"),
            LayoutError::BadVariableFlags(i) => write!(f, "variable {i} has unknown flags"),
            LayoutError::BadLength(i) => {
                write!(f, "variable {i} has a wrong length or zero elements")
            }
            LayoutError::Misaligned(i) => write!(f, "variable {i} is not at its natural alignment"),
            LayoutError::VariableOutOfBounds(i) => {
                write!(f, "variable {i} ends past the data area")
            }
            LayoutError::Overlap(i) => write!(f, "variable {i} overlaps the one before it"),
            LayoutError::BadNameIndex => f.write_str("region name index is not sorted by name"),
            LayoutError::DuplicateName => f.write_str("two variables share a name"),
            LayoutError::FingerprintMismatch => {
                f.write_str("region fingerprint does not match its variables")
            }
            LayoutError::SchemaMismatch => {
                f.write_str("region variables differ from the expected schema")
            }
            LayoutError::BufferTooSmall => f.write_str("buffer too small"),
            LayoutError::TooLarge => f.write_str("region would be larger than 4 GiB"),
            LayoutError::Unaligned => f.write_str("region memory is not 4-byte aligned"),
        }
    }
}

impl core::error::Error for LayoutError {}

/// Where each section of a region for a schema goes, and its total size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Sections {
    /// Offset of the name index.
    pub index_offset: u32,
    /// Offset of the data area.
    pub data_offset: u32,
    /// Length of the data area.
    pub data_len: u32,
    /// Length of the undo journal after the data area (0 or `data_len`).
    pub journal_len: u32,
    /// Length of the request area after the journal (0 without a journal).
    pub requests_len: u32,
    /// Length of the whole region.
    pub total_len: u32,
}

const fn align_up(v: u64, to: u64) -> u64 {
    v.div_ceil(to) * to
}

/// The sections of a region for `schema` without a journal:
/// [`Sections::total_len`] is the exact size [`init`] needs.
pub const fn sections(schema: &Schema<'_>) -> Result<Sections, LayoutError> {
    sections_of(schema, false)
}

/// The sections of a region for `schema` with an undo journal, as
/// [`init_journaled`] lays it out.
pub const fn journaled_sections(schema: &Schema<'_>) -> Result<Sections, LayoutError> {
    sections_of(schema, true)
}

const fn sections_of(schema: &Schema<'_>, journal: bool) -> Result<Sections, LayoutError> {
    let n = schema.len() as u64;
    let index_offset = HEADER_LEN as u64 + n * ENTRY_LEN as u64;
    let data_offset = align_up(index_offset + n * 4, DATA_ALIGN as u64);
    let data_len = align_up(schema.data_len() as u64, DATA_ALIGN as u64);
    let journal_len = if journal { data_len } else { 0 };
    let requests = if journal {
        requests::requests_len(data_len, n)
    } else {
        0
    };
    let total = data_offset + data_len + journal_len + requests;
    if total > u32::MAX as u64 {
        return Err(LayoutError::TooLarge);
    }
    #[allow(clippy::cast_possible_truncation)]
    Ok(Sections {
        index_offset: index_offset as u32,
        data_offset: data_offset as u32,
        data_len: data_len as u32,
        journal_len: journal_len as u32,
        requests_len: requests as u32,
        total_len: total as u32,
    })
}

/// The exact number of bytes a region for `schema` without a journal takes.
pub const fn required_len(schema: &Schema<'_>) -> Result<usize, LayoutError> {
    match sections(schema) {
        Ok(s) => Ok(s.total_len as usize),
        Err(e) => Err(e),
    }
}

/// The exact number of bytes a region for `schema` with an undo journal
/// takes: the data area twice over.
pub const fn journaled_len(schema: &Schema<'_>) -> Result<usize, LayoutError> {
    match journaled_sections(schema) {
        Ok(s) => Ok(s.total_len as usize),
        Err(e) => Err(e),
    }
}

/// The checksum of a region's immutable bytes: SHA-256 over
/// [`CHECKSUM_DOMAIN`], header bytes `0..64`, bytes `0..56` of every entry in
/// table order, and the name index; the first 8 bytes of the digest as a
/// little-endian u64.
pub(crate) fn checksum<S: Source + ?Sized>(src: &S, geo: &Geometry) -> Option<u64> {
    let mut hash = Sha256::new();
    hash.update(CHECKSUM_DOMAIN);
    let mut head = [0u8; CHECKED_HEADER_LEN];
    src.read(0, &mut head)?;
    hash.update(head);
    let mut entry = [0u8; CHECKED_ENTRY_LEN];
    for i in 0..geo.variable_count as usize {
        src.read(geo.entry_offset(i), &mut entry)?;
        hash.update(entry);
    }
    let mut word = [0u8; 4];
    for i in 0..geo.variable_count as usize {
        src.read(geo.index_offset + 4 * i, &mut word)?;
        hash.update(word);
    }
    let digest = hash.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(digest.get(..8)?);
    Some(u64::from_le_bytes(first))
}

/// Lays out a fresh region for `schema` in `buf` without a journal: header,
/// table, name index, zeroed data, generation 0. Returns the region's length
/// ([`required_len`]); bytes of `buf` past it are left alone. For memory
/// that dies with its writer (a firmware buffer, a mirror in RAM): a commit
/// its writer dies in cannot be rolled back.
///
/// `instance` identifies this incarnation of the region; choose it at random
/// (or from a boot counter) so that a peer never mistakes a new region for an
/// old one with the same name. [`Region::init`](crate::Region::init) does the
/// same in atomic words.
pub fn init(buf: &mut [u8], schema: &Schema<'_>, instance: u64) -> Result<usize, LayoutError> {
    init_into(buf, schema, instance, false).map(|geo| geo.total_len)
}

/// [`init`] with an undo journal after the data area
/// ([`journaled_len`] bytes): for memory that outlives its writer (a file),
/// where [`Region::recover`](crate::Region::recover) rolls back a commit the
/// writer died in.
pub fn init_journaled(
    buf: &mut [u8],
    schema: &Schema<'_>,
    instance: u64,
) -> Result<usize, LayoutError> {
    init_into(buf, schema, instance, true).map(|geo| geo.total_len)
}

/// Memory a region can be laid out in.
pub(crate) trait Store: Source {
    /// Copies `bytes` to `offset`; `None` when out of range.
    fn store(&mut self, offset: usize, bytes: &[u8]) -> Option<()>;
}

impl Store for [u8] {
    fn store(&mut self, offset: usize, bytes: &[u8]) -> Option<()> {
        let end = offset.checked_add(bytes.len())?;
        self.get_mut(offset..end)?.copy_from_slice(bytes);
        Some(())
    }
}

/// [`init`] over any memory: every byte goes through `Store`, so atomic
/// words are laid out with atomic stores. Returns the geometry it laid
/// out, which [`check::validate`] would find in the result.
pub(crate) fn init_into<S: Store + ?Sized>(
    dst: &mut S,
    schema: &Schema<'_>,
    instance: u64,
    journal: bool,
) -> Result<Geometry, LayoutError> {
    let sec = sections_of(schema, journal)?;
    let total = sec.total_len as usize;
    if dst.len() < total {
        return Err(LayoutError::BufferTooSmall);
    }
    let zeros = [0u8; DATA_ALIGN];
    // Every section length is a multiple of 4 and the total of 64.
    for offset in (0..total).step_by(DATA_ALIGN) {
        dst.store(offset, &zeros)
            .ok_or(LayoutError::BufferTooSmall)?;
    }
    #[allow(clippy::cast_possible_truncation)]
    let header = Header {
        magic: MAGIC,
        version: U16::new(FORMAT_VERSION),
        header_len: U16::new(HEADER_LEN as u16),
        flags: U32::new(0),
        fingerprint: U64::new(schema.fingerprint()),
        instance: U64::new(instance),
        variable_count: U32::new(schema.len() as u32),
        entry_len: U32::new(ENTRY_LEN as u32),
        table_offset: U32::new(HEADER_LEN as u32),
        index_offset: U32::new(sec.index_offset),
        data_offset: U32::new(sec.data_offset),
        data_len: U32::new(sec.data_len),
        total_len: U32::new(sec.total_len),
        journal_len: U32::new(sec.journal_len),
        checksum: U64::new(0),
        reserved1: [0; 56],
        commit: U32::new(0),
        writer: U32::new(0),
        generation_lo: U32::new(0),
        generation_hi: U32::new(0),
        journal: U32::new(0),
        pause: U32::new(0),
        published_lo: U32::new(0),
        published_hi: U32::new(0),
        reserved2: [0; 32],
    };
    dst.store(0, header.as_bytes())
        .ok_or(LayoutError::BufferTooSmall)?;
    for (i, var) in schema.variables().iter().enumerate() {
        #[allow(clippy::cast_possible_truncation)]
        let entry = Entry {
            name: var.name.padded(),
            kind: var.kind.code(),
            flags: if var.writable { VAR_WRITABLE } else { 0 },
            reserved0: [0; 2],
            count: U32::new(var.count),
            offset: U32::new(var.offset),
            length: U32::new(var.len() as u32),
            seq: U32::new(0),
            reserved1: U32::new(0),
        };
        dst.store(HEADER_LEN + i * ENTRY_LEN, entry.as_bytes())
            .ok_or(LayoutError::BufferTooSmall)?;
    }
    for (k, i) in schema.name_order().iter().enumerate() {
        dst.store(sec.index_offset as usize + 4 * k, &i.to_le_bytes())
            .ok_or(LayoutError::BufferTooSmall)?;
    }
    let geo = Geometry::of(&header);
    let sum = checksum(dst, &geo).ok_or(LayoutError::BufferTooSmall)?;
    dst.store(CHECKED_HEADER_LEN, &sum.to_le_bytes())
        .ok_or(LayoutError::BufferTooSmall)?;
    Ok(geo)
}

#[cfg(test)]
mod tests;
