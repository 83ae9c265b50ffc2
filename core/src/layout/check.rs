//! Validation of a region's bytes, shared by the plain and the live views.

use zerocopy::FromBytes;

use super::{
    DATA_ALIGN, ENTRY_LEN, Entry, FORMAT_VERSION, HEADER_LEN, Header, LayoutError, MAGIC,
    VAR_WRITABLE, checksum,
};
use crate::schema::{Fingerprinter, Kind, NAME_MAX, Name, Variable};

/// Bytes that a region can be read from: a plain slice, or atomic words.
pub(crate) trait Source {
    /// The number of bytes.
    fn len(&self) -> usize;
    /// Copies `out.len()` bytes from `offset`; `None` when out of range.
    fn read(&self, offset: usize, out: &mut [u8]) -> Option<()>;
}

impl Source for [u8] {
    fn len(&self) -> usize {
        <[u8]>::len(self)
    }
    fn read(&self, offset: usize, out: &mut [u8]) -> Option<()> {
        let end = offset.checked_add(out.len())?;
        out.copy_from_slice(self.get(offset..end)?);
        Some(())
    }
}

/// The validated geometry of a region: where each section is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub(crate) variable_count: u32,
    pub(crate) index_offset: usize,
    pub(crate) data_offset: usize,
    pub(crate) data_len: usize,
    pub(crate) journal_len: usize,
    pub(crate) total_len: usize,
    pub(crate) fingerprint: u64,
    pub(crate) instance: u64,
}

impl Geometry {
    pub(crate) fn of(h: &Header) -> Geometry {
        Geometry {
            variable_count: h.variable_count.get(),
            index_offset: h.index_offset.get() as usize,
            data_offset: h.data_offset.get() as usize,
            data_len: h.data_len.get() as usize,
            journal_len: h.journal_len.get() as usize,
            total_len: h.total_len.get() as usize,
            fingerprint: h.fingerprint.get(),
            instance: h.instance.get(),
        }
    }

    /// Where the journal starts: right after the data area.
    pub(crate) fn journal_offset(&self) -> usize {
        self.data_offset + self.data_len
    }

    /// Where the request area starts: right after the journal.
    pub(crate) fn requests_offset(&self) -> usize {
        self.journal_offset() + self.journal_len
    }

    pub(crate) fn entry_offset(&self, i: usize) -> usize {
        HEADER_LEN + i * ENTRY_LEN
    }
}

fn read_header<S: Source + ?Sized>(src: &S) -> Result<Header, LayoutError> {
    let mut bytes = [0u8; HEADER_LEN];
    src.read(0, &mut bytes).ok_or(LayoutError::TooShort)?;
    Header::read_from_bytes(&bytes).map_err(|_| LayoutError::TooShort)
}

pub(crate) fn read_entry<S: Source + ?Sized>(src: &S, geo: &Geometry, i: usize) -> Option<Entry> {
    let mut bytes = [0u8; ENTRY_LEN];
    src.read(geo.entry_offset(i), &mut bytes)?;
    Entry::read_from_bytes(&bytes).ok()
}

/// Decodes entry `i` into a variable, checking the entry on its own.
pub(crate) fn entry_variable(e: &Entry, i: u32) -> Result<Variable, LayoutError> {
    let name = Name::from_padded(&e.name).map_err(|_| LayoutError::BadName(i))?;
    let kind = Kind::from_code(e.kind).ok_or(LayoutError::BadKind(i))?;
    if e.flags & !VAR_WRITABLE != 0 || e.reserved0 != [0; 2] || e.reserved1.get() != 0 {
        return Err(LayoutError::BadVariableFlags(i));
    }
    let var = Variable {
        name,
        kind,
        count: e.count.get(),
        offset: e.offset.get(),
        writable: e.flags & VAR_WRITABLE != 0,
    };
    if var.count == 0 || var.len() != u64::from(e.length.get()) {
        return Err(LayoutError::BadLength(i));
    }
    if !(var.offset as usize).is_multiple_of(kind.size()) {
        return Err(LayoutError::Misaligned(i));
    }
    Ok(var)
}

fn check_geometry(h: &Header, len: usize) -> Result<Geometry, LayoutError> {
    if h.magic != MAGIC {
        return Err(LayoutError::BadMagic);
    }
    if h.version.get() != FORMAT_VERSION {
        return Err(LayoutError::UnsupportedVersion(h.version.get()));
    }
    if usize::from(h.header_len.get()) != HEADER_LEN {
        return Err(LayoutError::BadHeaderLen);
    }
    if h.flags.get() != 0 || h.reserved1 != [0; 56] {
        return Err(LayoutError::UnknownFlags);
    }
    if h.entry_len.get() as usize != ENTRY_LEN {
        return Err(LayoutError::BadEntryLen);
    }
    let n = u64::from(h.variable_count.get());
    let table_end = HEADER_LEN as u64 + n * ENTRY_LEN as u64;
    let total = u64::from(h.total_len.get());
    if h.table_offset.get() as usize != HEADER_LEN || table_end > total {
        return Err(LayoutError::TableOutOfBounds);
    }
    let index_end = u64::from(h.index_offset.get()) + 4 * n;
    if u64::from(h.index_offset.get()) != table_end || index_end > total {
        return Err(LayoutError::IndexOutOfBounds);
    }
    let data_offset = u64::from(h.data_offset.get());
    let data_len = u64::from(h.data_len.get());
    if data_offset % DATA_ALIGN as u64 != 0
        || data_len % DATA_ALIGN as u64 != 0
        || data_offset < index_end
    {
        return Err(LayoutError::DataOutOfBounds);
    }
    let journal_len = u64::from(h.journal_len.get());
    if journal_len != 0 && journal_len != data_len {
        return Err(LayoutError::BadJournalLen);
    }
    let requests = if journal_len == 0 {
        0
    } else {
        super::requests::requests_len(data_len, n)
    };
    if data_offset + data_len + journal_len + requests != total {
        return Err(LayoutError::BadTotalLen);
    }
    if total > len as u64 {
        return Err(LayoutError::Truncated);
    }
    Ok(Geometry::of(h))
}

/// Validates a whole region once: header, sections, checksum, every entry,
/// the name index and the fingerprint. `each` sees every variable in table
/// order and may reject it.
pub(crate) fn validate<S, F>(src: &S, mut each: F) -> Result<Geometry, LayoutError>
where
    S: Source + ?Sized,
    F: FnMut(u32, &Variable) -> Result<(), LayoutError>,
{
    if src.len() < HEADER_LEN {
        return Err(LayoutError::TooShort);
    }
    let header = read_header(src)?;
    let geo = check_geometry(&header, src.len())?;
    // Under the fuzzer the digests are skipped, so that it reaches the
    // checks behind them instead of stopping at a SHA-256 it cannot forge.
    if !cfg!(fuzzing) && checksum(src, &geo) != Some(header.checksum.get()) {
        return Err(LayoutError::ChecksumMismatch);
    }
    let mut fingerprint = Fingerprinter::new(geo.variable_count);
    let mut prev_end = 0u64;
    for i in 0..geo.variable_count {
        let entry = read_entry(src, &geo, i as usize).ok_or(LayoutError::TableOutOfBounds)?;
        let var = entry_variable(&entry, i)?;
        if var.end() > geo.data_len as u64 {
            return Err(LayoutError::VariableOutOfBounds(i));
        }
        if u64::from(var.offset) < prev_end {
            return Err(LayoutError::Overlap(i));
        }
        prev_end = var.end();
        fingerprint.push(&var);
        each(i, &var)?;
    }
    check_index(src, &geo)?;
    if !cfg!(fuzzing) && fingerprint.finish() != geo.fingerprint {
        return Err(LayoutError::FingerprintMismatch);
    }
    Ok(geo)
}

pub(crate) fn index_at<S: Source + ?Sized>(src: &S, geo: &Geometry, k: usize) -> Option<u32> {
    let mut word = [0u8; 4];
    src.read(geo.index_offset + 4 * k, &mut word)?;
    let i = u32::from_le_bytes(word);
    (i < geo.variable_count).then_some(i)
}

pub(crate) fn name_at<S: Source + ?Sized>(
    src: &S,
    geo: &Geometry,
    i: u32,
) -> Option<[u8; NAME_MAX]> {
    let mut name = [0u8; NAME_MAX];
    src.read(geo.entry_offset(i as usize), &mut name)?;
    Some(name)
}

/// The name index must list every variable once, sorted by name: strictly
/// ascending names imply distinct indices.
fn check_index<S: Source + ?Sized>(src: &S, geo: &Geometry) -> Result<(), LayoutError> {
    let mut prev: Option<[u8; NAME_MAX]> = None;
    for k in 0..geo.variable_count as usize {
        let i = index_at(src, geo, k).ok_or(LayoutError::BadNameIndex)?;
        let name = name_at(src, geo, i).ok_or(LayoutError::BadNameIndex)?;
        if let Some(p) = prev {
            match p.cmp(&name) {
                core::cmp::Ordering::Less => {}
                core::cmp::Ordering::Equal => return Err(LayoutError::DuplicateName),
                core::cmp::Ordering::Greater => return Err(LayoutError::BadNameIndex),
            }
        }
        prev = Some(name);
    }
    Ok(())
}
