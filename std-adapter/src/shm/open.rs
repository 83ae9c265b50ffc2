//! Opening a region file: the checked open and mapping that readers and
//! writers share ([`Shared`]), the schema read from the file, and the one
//! `'static` copy of each schema the process uses.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Mutex;

use memwire::layout::{ENTRY_LEN, HEADER_LEN, LayoutError};
use memwire::schema::{Kind, Name};
use memwire::sync::{AtomicU32, Ordering};
use memwire::{Region, Schema, Variable};

use super::error::ShmError;
use super::file;
use super::liveness::FileId;
use super::map::{Access, MappedRegion, Mapping};
use super::root::Root;

/// What both kinds of handle share: the mapping and where it came from.
pub(super) struct Shared {
    pub(super) mapped: MappedRegion,
    pub(super) path: PathBuf,
    /// The file as the kernel's lock table names it.
    pub(super) file: Option<FileId>,
}

impl AsRef<MappedRegion> for Shared {
    fn as_ref(&self) -> &MappedRegion {
        &self.mapped
    }
}

/// Opens and maps region `path` for `access` ([`Access::Header`] may give
/// a reader [`Access::Read`], see [`file::open_region`]).
pub(super) fn open_shared(
    root: &Root,
    path: &str,
    access: Access,
    expect: Option<Schema<'static>>,
) -> Result<(Shared, File), ShmError> {
    let (tenant, name) = file::split_path(path)?;
    let file_path = file::display_path(root.dir(), tenant, name);
    let root_fd = file::open_root(root.dir(), false)?;
    let tenant_fd = file::open_tenant(&root_fd, root.dir(), tenant, false)?;
    let (file, len, access) = file::open_region(&tenant_fd, &file_path, name, access)?;
    let mapping = Mapping::new(&file, len, access, &file_path)?;
    let bad = |source| ShmError::BadHeader {
        path: file_path.clone(),
        source,
    };
    let schema = match expect {
        Some(s) => s,
        None => intern(file_schema(mapping.words()).map_err(bad)?.as_schema()),
    };
    // A file of another schema is refused naming the variable that
    // differs, read from its own table; an invalid table is left to the
    // checked view below, which says what is wrong with it.
    if let Some(expected) = expect {
        if let Ok(found) = file_schema(mapping.words()) {
            if let Some(difference) = found.as_schema().difference(expected) {
                return Err(ShmError::SchemaMismatch {
                    path: file_path,
                    difference: Box::new(difference),
                });
            }
        }
    }
    let mapped = MappedRegion::new(mapping, schema).map_err(bad)?;
    Ok((
        Shared {
            mapped,
            path: file_path,
            file: FileId::of(&file),
        },
        file,
    ))
}

/// A schema copied out of a region's table.
struct OwnedSchema {
    vars: Vec<Variable>,
    index: Vec<u32>,
}

impl OwnedSchema {
    fn as_schema(&self) -> Schema<'_> {
        // Checked when it was read; an empty schema is the only alternative.
        Schema::new_checked(&self.vars, &self.index).unwrap_or(Schema::EMPTY)
    }
}

/// Reads the schema a mapped region holds (validating the whole layout).
fn file_schema(words: &[AtomicU32]) -> Result<OwnedSchema, LayoutError> {
    const COUNT_WORD: usize = 32 / 4;
    let declared = words
        .get(COUNT_WORD)
        .map_or(0, |w| w.load(Ordering::Relaxed)) as usize;
    // Never allocate more entries than the mapped bytes can hold.
    let fits = words.len().saturating_sub(HEADER_LEN / 4) / (ENTRY_LEN / 4);
    let n = declared.min(fits);
    let placeholder = match Name::new("v") {
        Ok(name) => Variable::new(name, Kind::U8, 1, 0),
        Err(_) => return Err(LayoutError::BadName(0)),
    };
    let mut vars = vec![placeholder; n];
    let mut index = vec![0u32; n];
    let count = Region::read_schema(words, &mut vars, &mut index)?.len();
    vars.truncate(count);
    index.truncate(count);
    Ok(OwnedSchema { vars, index })
}

/// One `'static` copy of each distinct schema this process has used, so
/// that handles and change events can hold schemas without borrowing.
/// Bounded by the number of distinct schemas, not by opens.
pub(crate) fn intern(schema: Schema<'_>) -> Schema<'static> {
    static SCHEMAS: Mutex<Vec<Schema<'static>>> = Mutex::new(Vec::new());
    let mut known = SCHEMAS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(s) = known.iter().find(|s| **s == schema) {
        return *s;
    }
    let vars: &'static [Variable] = Vec::leak(schema.variables().to_vec());
    let index: &'static [u32] = Vec::leak(schema.name_order().to_vec());
    // A copy of a checked schema is valid.
    let copy = Schema::new_checked(vars, index).unwrap_or(Schema::EMPTY);
    known.push(copy);
    copy
}
