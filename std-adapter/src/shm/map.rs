//! A mapped region file, seen only as atomic words.
//!
//! The mapping is shared with other processes that store into it at any
//! time. Rust has no sound way to hold `&[u8]` or `&mut [u8]` over such
//! memory: a plain reference promises that nobody else writes (or, for
//! `&mut`, reads) it while the reference lives, which another process breaks
//! without our knowledge. So the file is mapped with [`MmapRaw`], which hands
//! out a raw pointer and never a byte slice, and the pointer becomes a
//! `&[AtomicU32]` at once: `AtomicU32` sits in an `UnsafeCell`, so shared
//! references to it permit writes by others, and every access the core makes
//! through it is an atomic load or store, which cannot be a data race.
//!
//! Each mapping registers its range with the `SIGBUS` handler (`sigbus.rs`)
//! for as long as it is mapped, so that a file shrunk under it makes the
//! mapping report itself truncated instead of killing the process.
//!
//! A reader's mapping is read-only except for its first page (the header
//! and the start of the variable table), which it may store to when the
//! file could be opened for writing: its request that the writer pause
//! lives in the header (`pause.rs`). The data area stays read-only, so a
//! reader cannot change a value by mistake.

use std::fs::File;
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;

use memmap2::{MmapOptions, MmapRaw};
use memwire::layout::LayoutError;
use memwire::sync::{AtomicU32, WORD};
use memwire::{Region, Schema};

use super::error::ShmError;
use super::pause::READ_TRIES;
use super::sigbus::{self, Guard};

/// Which parts of a mapping this process may store to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// None: a reader whose file could only be opened read-only.
    Read,
    /// The first page, which holds the header: a reader, for the header's
    /// pause word (the file must be open for writing).
    Header,
    /// All of it: a writer (the file must be open for writing).
    Write,
}

/// A region file mapped shared, with the [`Access`] it was mapped for.
pub(crate) struct Mapping {
    /// Declared first, so dropped first: the range is unregistered before
    /// `raw` unmaps it.
    guard: Guard,
    raw: MmapRaw,
    words: usize,
    access: Access,
    /// The mapped file, for the checks of its length.
    file: File,
}

impl Mapping {
    /// Maps the first `len` bytes of `file` (its checked length) for
    /// `access` (the file must be open for writing unless it is
    /// [`Access::Read`]).
    pub(crate) fn new(
        file: &File,
        len: u64,
        access: Access,
        path: &Path,
    ) -> Result<Mapping, ShmError> {
        // A region is smaller than 4 GiB; a larger file is mapped only that far.
        let len = usize::try_from(len.min(u64::from(u32::MAX))).unwrap_or(usize::MAX);
        let mut options = MmapOptions::new();
        options.len(len);
        let raw = match access {
            Access::Write => options.map_raw(file),
            Access::Read | Access::Header => options.map_raw_read_only(file),
        }
        .map_err(|e| ShmError::io("mmap", path, e))?;
        let writable = match access {
            Access::Read => 0,
            Access::Header => {
                let head = page_size().min(len);
                // SAFETY: `raw` maps `len` bytes from its page-aligned
                // start, so its first `head` bytes are a range of whole
                // pages of our own mapping (the last one possibly
                // partial, which the kernel rounds up within the
                // mapping). Adding write permission changes no byte and
                // no Rust reference covers them: the mapping is only
                // ever seen as atomic words (`words`). The file is open
                // for writing, as a shared mapping made writable needs.
                let made = unsafe { libc::mprotect(raw.as_mut_ptr().cast(), head, PROTECTION) };
                if made != 0 {
                    return Err(ShmError::io(
                        "mprotect",
                        path,
                        std::io::Error::last_os_error(),
                    ));
                }
                head
            }
            Access::Write => len,
        };
        let file = file.try_clone().map_err(|e| ShmError::io("dup", path, e))?;
        Ok(Mapping {
            guard: Guard::new(raw.as_ptr(), len, writable),
            raw,
            words: len / WORD,
            access,
            file,
        })
    }

    /// Whether the file was found shorter than the mapping (see
    /// [`check_len`](Self::check_len) and `sigbus.rs`): its data is then
    /// gone, whatever the words hold.
    #[inline(always)]
    pub(crate) fn truncated(&self) -> bool {
        // The process-wide flag first: one load, no pointer to follow,
        // while no file of this process was ever cut.
        sigbus::any_truncated() && self.guard.truncated()
    }

    /// Checks that the file still holds every mapped byte, and marks the
    /// mapping truncated if not. A cut inside the last page the file keeps
    /// raises no fault (the page's tail just reads zeros), so only this
    /// check finds it.
    pub(crate) fn check_len(&self) -> std::io::Result<bool> {
        let len = rustix::fs::fstat(&self.file)?.st_size;
        let intact = u64::try_from(len).is_ok_and(|len| len >= (self.words * WORD) as u64);
        if !intact {
            self.guard.mark_truncated();
        }
        Ok(intact && !self.truncated())
    }

    /// The mapped words; a trailing partial word of the file is left out.
    pub(crate) fn words(&self) -> &[AtomicU32] {
        #[allow(
            clippy::cast_ptr_alignment,
            reason = "mmap returns page-aligned memory"
        )]
        let ptr = self.raw.as_ptr().cast::<AtomicU32>();
        // SAFETY: the pointer comes from a successful mmap of at least
        // `words * 4` bytes, so it is non-null and page-aligned (aligned
        // for `AtomicU32`, which has the size and alignment of `u32`; every
        // bit pattern is a valid `AtomicU32`), and the pages stay mapped
        // until `self.raw` is dropped, which the returned lifetime forbids
        // while the slice is in use. Other processes write the pages, which
        // is sound because `AtomicU32` is interior-mutable and all accesses
        // are atomic. Stores are made only where the mapping allows them
        // (`access`): a writer's anywhere; a reader's only to the pause
        // word in the header, and only on a mapping whose first page is
        // writable (`pause.rs`); a read-only mapping only loads.
        unsafe { core::slice::from_raw_parts(ptr, self.words) }
    }
}

/// Read and write: what a writable part of a mapping allows.
const PROTECTION: libc::c_int = libc::PROT_READ | libc::PROT_WRITE;

/// The size of a memory page.
fn page_size() -> usize {
    // SAFETY: `sysconf` only reads a system constant.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    // -1 only for a name the system does not know; every Linux knows it.
    usize::try_from(size).unwrap_or(4096)
}

/// A live [`Region`] over a mapping it owns.
///
/// `Region` borrows its words; keeping the mapping beside the region that
/// borrows it lets a handle own both, with the region's lifetime erased
/// inside and restored to the handle's on the way out.
pub(crate) struct MappedRegion {
    /// Borrows `mapping` (erased to `'static`) and an interned schema
    /// (truly `'static`). Never handed out with the erased lifetime.
    region: Region<'static>,
    schema: Schema<'static>,
    mapping: Mapping,
}

impl MappedRegion {
    /// Validates the mapped region against `schema`.
    pub(crate) fn new(
        mapping: Mapping,
        schema: Schema<'static>,
    ) -> Result<MappedRegion, LayoutError> {
        let words = mapping.words();
        let (ptr, len) = (words.as_ptr(), words.len());
        // SAFETY: `ptr`/`len` describe the words of `mapping`, valid as
        // `Mapping::words` states for as long as the mapping is. The mapping
        // moves into the returned value with the region and is never
        // replaced or dropped before it (it is a private field, and moving
        // `MmapRaw` does not move the mapped pages). The `'static` lifetime
        // never leaves this type: `region()` shortens it to a borrow of
        // `self`.
        let words: &'static [AtomicU32] = unsafe { core::slice::from_raw_parts(ptr, len) };
        // Few attempts per read in the core: the adapter's wait asks the
        // writer to pause after a few lost rounds (`pause.rs`).
        let region = Region::new_checked(words, schema)?.with_read_tries(READ_TRIES);
        Ok(MappedRegion {
            region,
            schema,
            mapping,
        })
    }

    /// The region, borrowed for as long as `self` is.
    pub(crate) fn region(&self) -> Region<'_> {
        self.region
    }

    /// The region by reference (no copy), for the read fast path.
    #[inline]
    pub(crate) fn region_ref(&self) -> &Region<'_> {
        &self.region
    }

    /// The region's schema, which outlives the mapping.
    pub(crate) fn schema(&self) -> Schema<'static> {
        self.schema
    }

    /// The number of mapped bytes.
    pub(crate) fn mapped_len(&self) -> usize {
        self.mapping.words * WORD
    }

    /// The header's pause word, if this mapping may store to it
    /// (`pause.rs`): not on a reader's mapping of a file it could only
    /// open read-only.
    #[inline]
    pub(crate) fn pause_word(&self) -> Option<&AtomicU32> {
        match self.mapping.access {
            Access::Read => None,
            Access::Header | Access::Write => self.region.pause_word(),
        }
    }

    /// The mapping (for its truncation checks).
    #[inline]
    pub(crate) fn mapping(&self) -> &Mapping {
        &self.mapping
    }
}

/// What a region's handles share (an owner of its [`MappedRegion`], in an
/// `Arc`), with a copy of the live region's view beside it: a read reaches
/// the view in the handle itself, without following the `Arc` first.
pub(crate) struct Held<S> {
    /// Borrows the mapping of `owner`'s [`MappedRegion`] (erased to
    /// `'static`, as there), which `owner` keeps mapped for as long as this
    /// value lives. `Region` is `Copy` and has no `Drop`. Never handed out
    /// with the erased lifetime: `region_ref` shortens it to a borrow of
    /// `self`.
    region: Region<'static>,
    owner: Arc<S>,
}

impl<S: AsRef<MappedRegion>> Held<S> {
    /// Shares `owner`.
    pub(crate) fn new(owner: S) -> Held<S> {
        let owner = Arc::new(owner);
        let region = S::as_ref(&owner).region;
        Held { region, owner }
    }
}

impl<S> Held<S> {
    /// The region, by reference, for the read fast path.
    #[inline(always)]
    pub(crate) fn region_ref(&self) -> &Region<'_> {
        &self.region
    }
}

impl<S> Clone for Held<S> {
    fn clone(&self) -> Self {
        Held {
            region: self.region,
            owner: Arc::clone(&self.owner),
        }
    }
}

impl<S> Deref for Held<S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.owner
    }
}
