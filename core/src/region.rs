//! The live region: seqlock reads and writes over shared atomic words, and
//! the undo journal that makes a commit its writer died in roll back
//! (`journal.rs`), and the writer's mark of a consistent state
//! (`publish.rs`).

use core::fmt;

use crate::layout::{
    COMMIT_OFFSET, ENTRY_SEQ_OFFSET, GENERATION_HI_OFFSET, GENERATION_LO_OFFSET, Geometry,
    JOURNAL_OFFSET, LayoutError, PAUSE_OFFSET, Source, WRITER_OFFSET, validate,
};
use crate::schema::{Kind, Schema, Value, VarId, Variable};
use crate::sync::{self, AtomicU32, Ordering, WORD};

/// How many times [`Region::read`] and its kin try while a write is in
/// progress before they return [`AccessError::Busy`], unless the region was
/// given another budget ([`Region::with_read_tries`]). A write of a few
/// kilobytes finishes well within this many spins; a caller that sees `Busy`
/// decides whether the writer has stalled (the std adapter checks the
/// writer's lock and backs off).
pub const SPIN_LIMIT: u32 = if cfg!(loom) || cfg!(miri) {
    // The model checker explores every retry and miri interprets each; a
    // few show the protocol.
    3
} else {
    1 << 12
};

/// Why a read or a write of a variable failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum AccessError {
    /// No variable has that id or name.
    UnknownVariable,
    /// The variable's kind is not the type's kind.
    WrongKind {
        /// The variable's kind.
        expected: Kind,
        /// The kind asked for.
        found: Kind,
    },
    /// The variable's element count or byte length is not the one given.
    WrongLength {
        /// The variable's length (elements for typed access, bytes otherwise).
        expected: u32,
        /// The length given.
        found: u32,
    },
    /// The stored bytes are not a value of the type (a `bool` other than 0 or 1).
    InvalidValue,
    /// A write stayed in progress for the region's read attempts
    /// ([`SPIN_LIMIT`], or those of [`Region::with_read_tries`]).
    Busy,
    /// A byte range lies outside the data area.
    OutOfBounds,
    /// More variables than [`MANY_MAX`] in one read, or ids and buffers
    /// of different counts.
    TooMany,
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccessError::UnknownVariable => f.write_str("no such variable"),
            AccessError::WrongKind { expected, found } => {
                write!(f, "variable is {expected}, not {found}")
            }
            AccessError::WrongLength { expected, found } => {
                write!(f, "variable length is {expected}, not {found}")
            }
            AccessError::InvalidValue => f.write_str("stored bytes are not a valid value"),
            AccessError::Busy => f.write_str("a write is in progress"),
            AccessError::OutOfBounds => f.write_str("byte range outside the data area"),
            AccessError::TooMany => f.write_str("too many variables in one read"),
        }
    }
}

impl core::error::Error for AccessError {}

/// What [`Region::recover`] repaired after a writer died mid-write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Recovery {
    /// Variables whose sequence counter was left odd.
    pub variables: u32,
    /// Of those, the variables whose old bytes were copied back from the
    /// undo journal: the interrupted commit was rolled back. 0 when the
    /// commit had passed its commit point (it stands) or the region has no
    /// journal.
    pub rolled_back: u32,
    /// Whether the region's commit counter was left odd.
    pub commit: bool,
    /// The generation after recovery (bumped when anything was repaired).
    pub generation: u64,
}

impl Recovery {
    /// Whether anything needed repair.
    pub fn repaired(&self) -> bool {
        self.variables > 0 || self.commit
    }
}

/// Atomic words as a place to lay out a region.
struct Words<'a>(&'a [AtomicU32]);

impl Source for Words<'_> {
    fn len(&self) -> usize {
        self.0.len() * WORD
    }
    fn read(&self, offset: usize, out: &mut [u8]) -> Option<()> {
        sync::load_bytes(self.0, offset, out)
    }
}

impl crate::layout::Store for Words<'_> {
    fn store(&mut self, offset: usize, bytes: &[u8]) -> Option<()> {
        sync::store_bytes(self.0, offset, bytes)
    }
}

impl Source for [AtomicU32] {
    fn len(&self) -> usize {
        <[AtomicU32]>::len(self) * WORD
    }
    fn read(&self, offset: usize, out: &mut [u8]) -> Option<()> {
        sync::load_bytes(self, offset, out)
    }
}

/// A live region over atomic words that other threads or processes may read
/// and write at the same time.
///
/// Built once by [`new_checked`](Self::new_checked), which validates the
/// layout and that the region holds exactly the expected schema; afterwards
/// every access is bounded by the validated data area and cannot panic.
///
/// Writes require that the caller is the region's only writer at that
/// moment (the std adapter holds an OS lock; firmware owns its buffer). Two
/// writers at once cannot break memory safety, but their bytes may mix.
#[derive(Clone, Copy)]
pub struct Region<'a> {
    words: &'a [AtomicU32],
    data: &'a [AtomicU32],
    /// The undo journal, as long as `data`; empty for a region without one.
    journal: &'a [AtomicU32],
    /// The journal mark ([`JOURNAL_OFFSET`]).
    mark: &'a AtomicU32,
    commit: &'a AtomicU32,
    writer: &'a AtomicU32,
    generation_lo: &'a AtomicU32,
    generation_hi: &'a AtomicU32,
    schema: Schema<'a>,
    geo: Geometry,
    /// Attempts a read makes before it returns [`AccessError::Busy`].
    tries: u32,
}

impl fmt::Debug for Region<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Region")
            .field("instance", &self.geo.instance)
            .field("fingerprint", &self.geo.fingerprint)
            .field("data_len", &self.geo.data_len)
            .field("variables", &self.schema.len())
            .finish()
    }
}

impl<'a> Region<'a> {
    /// Validates the region in `words` (as [`RegionView::new_checked`]
    /// does) and checks that its variables are exactly `schema`'s.
    ///
    /// [`RegionView::new_checked`]: crate::layout::RegionView::new_checked
    pub fn new_checked(
        words: &'a [AtomicU32],
        schema: Schema<'a>,
    ) -> Result<Region<'a>, LayoutError> {
        let vars = schema.variables();
        let geo = validate(words, |i, var| match vars.get(i as usize) {
            Some(v) if v == var => Ok(()),
            _ => Err(LayoutError::SchemaMismatch),
        })?;
        if geo.variable_count as usize != vars.len() {
            return Err(LayoutError::SchemaMismatch);
        }
        Region::with_geometry(words, schema, geo)
    }

    /// The region whose sections `geo` describes, checked against `words`
    /// (validated, or just laid out by [`Region::init`]).
    fn with_geometry(
        words: &'a [AtomicU32],
        schema: Schema<'a>,
        geo: Geometry,
    ) -> Result<Region<'a>, LayoutError> {
        // Every id the schema knows then has its entry in the table, and a
        // read need not compare the id with the table's length again.
        if geo.variable_count as usize != schema.len() {
            return Err(LayoutError::SchemaMismatch);
        }
        let words = words
            .get(..geo.total_len / WORD)
            .ok_or(LayoutError::Truncated)?;
        let data = words
            .get(geo.data_offset / WORD..geo.journal_offset() / WORD)
            .ok_or(LayoutError::DataOutOfBounds)?;
        let journal = words
            .get(geo.journal_offset() / WORD..geo.requests_offset() / WORD)
            .ok_or(LayoutError::BadJournalLen)?;
        let word = |offset: usize| words.get(offset / WORD).ok_or(LayoutError::TooShort);
        Ok(Region {
            words,
            data,
            journal,
            mark: word(JOURNAL_OFFSET)?,
            commit: word(COMMIT_OFFSET)?,
            writer: word(WRITER_OFFSET)?,
            generation_lo: word(GENERATION_LO_OFFSET)?,
            generation_hi: word(GENERATION_HI_OFFSET)?,
            schema,
            geo,
            tries: SPIN_LIMIT,
        })
    }

    /// Lays out a fresh region for `schema` in `words` with atomic stores
    /// (as [`layout::init`](crate::layout::init) does in bytes) and opens it.
    /// For memory that is atomic words from the start: a `static` array of
    /// `AtomicU32` on a microcontroller.
    pub fn init(
        words: &'a [AtomicU32],
        schema: Schema<'a>,
        instance: u64,
    ) -> Result<Region<'a>, LayoutError> {
        // What was just laid out from a checked schema needs no second
        // validation (the layout tests hold `new_checked` to accept it):
        // on a microcontroller the validator would be linked for this alone.
        let geo = crate::layout::init_into(&mut Words(words), &schema, instance, false)?;
        Region::with_geometry(words, schema, geo)
    }

    /// [`Region::init`] with an undo journal after the data area (the words
    /// must hold [`journaled_len`](crate::layout::journaled_len) bytes): a
    /// commit its writer dies in is rolled back by [`recover`](Self::recover).
    pub fn init_journaled(
        words: &'a [AtomicU32],
        schema: Schema<'a>,
        instance: u64,
    ) -> Result<Region<'a>, LayoutError> {
        let geo = crate::layout::init_into(&mut Words(words), &schema, instance, true)?;
        Region::with_geometry(words, schema, geo)
    }

    /// Views `bytes` as atomic words and validates them as
    /// [`new_checked`](Self::new_checked) does. The bytes must be 4-byte
    /// aligned. (Targets without 32-bit compare-and-swap, such as
    /// `thumbv6m`, lack the conversion: use [`Region::init`] on atomic words.)
    #[cfg(all(not(loom), target_has_atomic = "32"))]
    pub fn from_bytes(bytes: &'a mut [u8], schema: Schema<'a>) -> Result<Region<'a>, LayoutError> {
        use zerocopy::FromBytes;
        let whole = bytes.len() / WORD * WORD;
        let bytes = bytes.get_mut(..whole).ok_or(LayoutError::TooShort)?;
        let words = <[AtomicU32]>::mut_from_bytes(bytes).map_err(|_| LayoutError::Unaligned)?;
        Region::new_checked(words, schema)
    }

    /// Validates the region in `words` and copies its schema into `vars` and
    /// `index`, for tools that do not know a region's schema in advance.
    pub fn read_schema<'s>(
        words: &[AtomicU32],
        vars: &'s mut [Variable],
        index: &'s mut [u32],
    ) -> Result<Schema<'s>, LayoutError> {
        let geo = validate(words, |_, _| Ok(()))?;
        crate::layout::copy_schema_from(words, &geo, vars, index)
    }

    /// The same region, whose reads make at most `tries` attempts (at
    /// least one) while a write is in progress before they return
    /// [`AccessError::Busy`], instead of [`SPIN_LIMIT`]: for an adapter
    /// that has better to do after a few lost races than spin (the std
    /// adapter asks the writer to pause). The first attempt of a read by id
    /// stays inline; the budget only bounds the retries, out of line.
    #[must_use]
    pub fn with_read_tries(mut self, tries: u32) -> Region<'a> {
        self.tries = tries.max(1);
        self
    }

    /// The attempts a read makes before it returns [`AccessError::Busy`].
    pub fn read_tries(&self) -> u32 {
        self.tries
    }

    /// The region's schema.
    pub fn schema(&self) -> Schema<'a> {
        self.schema
    }

    /// The region instance.
    pub fn instance(&self) -> u64 {
        self.geo.instance
    }

    /// The schema fingerprint.
    pub fn fingerprint(&self) -> u64 {
        self.geo.fingerprint
    }

    /// The data area's length in bytes (a multiple of 64).
    pub fn data_len(&self) -> usize {
        self.geo.data_len
    }

    /// Whether the region carries an undo journal, so that a commit its
    /// writer dies in is rolled back by [`recover`](Self::recover).
    pub fn is_journaled(&self) -> bool {
        !self.journal.is_empty()
    }

    /// The request area's words (`layout::requests`): empty for a region
    /// without a journal.
    pub fn requests(&self) -> &'a [AtomicU32] {
        self.words
            .get(self.geo.requests_offset() / WORD..)
            .unwrap_or(&[])
    }

    /// The whole region's words.
    pub fn words(&self) -> &'a [AtomicU32] {
        self.words
    }

    #[inline(always)]
    fn word(&self, offset: usize) -> Option<&'a AtomicU32> {
        self.words.get(offset / WORD)
    }

    /// The pause word ([`PAUSE_OFFSET`]): a reader that keeps losing races
    /// to a writer stores a request there, which a writer honours before
    /// its next commit for a bounded time (the std adapter does both).
    pub fn pause_word(&self) -> Option<&'a AtomicU32> {
        self.word(PAUSE_OFFSET)
    }

    /// The region's commit counter: odd while a commit is in progress, moved
    /// by 2 by every commit. Adapters wait on it for changes (a futex on
    /// Linux).
    pub fn commit_counter(&self) -> &'a AtomicU32 {
        self.commit
    }

    #[inline]
    fn seq_word(&self, id: VarId) -> Option<&'a AtomicU32> {
        if id.0 >= self.geo.variable_count {
            return None;
        }
        self.word(
            crate::layout::HEADER_LEN + id.index() * crate::layout::ENTRY_LEN + ENTRY_SEQ_OFFSET,
        )
    }

    /// Variable `id`'s sequence counter: even when no write is in progress,
    /// moved by 2 for every committed write of the variable.
    pub fn seq(&self, id: VarId) -> Option<u32> {
        Some(self.seq_word(id)?.load(Ordering::Acquire))
    }

    /// The id of the process holding the writer lock, as it recorded
    /// itself; 0 for none.
    pub fn writer_id(&self) -> u32 {
        self.writer.load(Ordering::Acquire)
    }

    /// Records the id of the process that now holds the writer lock.
    pub fn set_writer_id(&self, id: u32) {
        self.writer.store(id, Ordering::Release);
    }

    /// The generation: the number of commits since the region was laid out
    /// (or the publisher's generation, for a mirror).
    pub fn generation(&self) -> Result<u64, AccessError> {
        self.read_consistent(|| self.load_generation())
    }

    fn load_generation(&self) -> u64 {
        u64::from(self.generation_lo.load(Ordering::Relaxed))
            | (u64::from(self.generation_hi.load(Ordering::Relaxed)) << 32)
    }

    fn store_generation(&self, generation: u64) {
        #[allow(clippy::cast_possible_truncation)]
        self.generation_lo
            .store(generation as u32, Ordering::Relaxed);
        self.generation_hi
            .store((generation >> 32) as u32, Ordering::Relaxed);
    }

    /// Runs `f` inside a read of the commit counter until no commit overlaps it.
    fn read_consistent<T>(&self, mut f: impl FnMut() -> T) -> Result<T, AccessError> {
        let commit = self.commit;
        for _ in 0..self.tries {
            if let Some(start) = sync::read_begin(commit) {
                let value = f();
                sync::read_fence();
                if sync::read_still(commit, start) {
                    return Ok(value);
                }
            }
            sync::spin();
        }
        Err(AccessError::Busy)
    }

    /// The variable `id`, checked against a length in bytes.
    #[inline(always)]
    fn sized(&self, id: VarId, len: usize) -> Result<&'a Variable, AccessError> {
        let var = self.schema.get(id).ok_or(AccessError::UnknownVariable)?;
        if var.len() != len as u64 {
            #[allow(clippy::cast_possible_truncation)]
            return Err(AccessError::WrongLength {
                expected: var.len() as u32,
                found: len.try_into().unwrap_or(u32::MAX),
            });
        }
        Ok(var)
    }

    /// Variable `id`'s sequence counter and data offset, once `len` is
    /// checked to be its length.
    #[inline(always)]
    fn locate(&self, id: VarId, len: usize) -> Result<(&'a AtomicU32, usize), AccessError> {
        let var = self.sized(id, len)?;
        // The schema knew `id`, so the table holds its entry
        // (`with_geometry`); the word is still looked up within bounds.
        let seq = self
            .word(
                crate::layout::HEADER_LEN
                    + id.index() * crate::layout::ENTRY_LEN
                    + ENTRY_SEQ_OFFSET,
            )
            .ok_or(AccessError::UnknownVariable)?;
        Ok((seq, var.offset as usize))
    }

    /// One attempt at a consistent copy of variable `id` into `out`, which
    /// must be exactly the variable's length; [`AccessError::Busy`] if a
    /// write overlapped it.
    #[inline]
    pub fn try_read(&self, id: VarId, out: &mut [u8]) -> Result<(), AccessError> {
        let (seq, offset) = self.locate(id, out.len())?;
        if copy_once(seq, self.data, offset, out)? {
            Ok(())
        } else {
            Err(AccessError::Busy)
        }
    }

    /// A consistent copy of variable `id` into `out` (exactly the variable's
    /// length), trying up to [`read_tries`](Self::read_tries) times while it
    /// is written.
    #[inline(always)]
    pub fn read(&self, id: VarId, out: &mut [u8]) -> Result<(), AccessError> {
        // The checks and the first attempt inline at the caller, the
        // retries out of line: this is the hot path of every small read.
        // Out of line, the copy cannot know the caller's length and a call
        // with its saved registers cost more than the checks.
        let (seq, offset) = self.locate(id, out.len())?;
        if copy_once(seq, self.data, offset, out)? {
            return Ok(());
        }
        self.read_again(seq, offset, out)
    }

    /// The retries of [`read`](Self::read) after a first attempt that a
    /// write overlapped.
    #[cold]
    #[inline(never)]
    fn read_again(
        &self,
        seq: &AtomicU32,
        offset: usize,
        out: &mut [u8],
    ) -> Result<(), AccessError> {
        for _ in 1..self.tries {
            sync::spin();
            if copy_once(seq, self.data, offset, out)? {
                return Ok(());
            }
        }
        Err(AccessError::Busy)
    }

    /// Consistent copies of several variables as of one moment: no write
    /// that touched any of them lies partly inside the copy. `outs[i]` takes
    /// `ids[i]`; at most [`MANY_MAX`] at once.
    pub fn read_many(&self, ids: &[VarId], outs: &mut [&mut [u8]]) -> Result<(), AccessError> {
        if ids.len() > MANY_MAX || outs.len() != ids.len() {
            return Err(AccessError::TooMany);
        }
        for (&id, out) in ids.iter().zip(outs.iter()) {
            self.sized(id, out.len())?;
        }
        'retry: for _ in 0..self.tries {
            // Counters are checked in order against a snapshot taken before
            // any data load; a fixed stack buffer bounds the batch.
            let mut starts = [0u32; MANY_MAX];
            for (slot, &id) in starts.iter_mut().zip(ids) {
                let seq = self.seq_word(id).ok_or(AccessError::UnknownVariable)?;
                match sync::read_begin(seq) {
                    Some(s) => *slot = s,
                    None => {
                        sync::spin();
                        continue 'retry;
                    }
                }
            }
            for (&id, out) in ids.iter().zip(outs.iter_mut()) {
                let var = self.schema.get(id).ok_or(AccessError::UnknownVariable)?;
                sync::load_bytes(self.data, var.offset as usize, out)
                    .ok_or(AccessError::OutOfBounds)?;
            }
            sync::read_fence();
            let unchanged = ids.iter().zip(starts.iter()).all(|(&id, &s)| {
                self.seq_word(id)
                    .is_some_and(|seq| sync::read_still(seq, s))
            });
            if unchanged {
                return Ok(());
            }
            sync::spin();
        }
        Err(AccessError::Busy)
    }

    /// A consistent copy of the whole data area into `out` (at least
    /// [`data_len`](Self::data_len) bytes) and the generation it is at.
    pub fn snapshot(&self, out: &mut [u8]) -> Result<u64, AccessError> {
        let out = out
            .get_mut(..self.geo.data_len)
            .ok_or(AccessError::OutOfBounds)?;
        self.read_consistent(|| {
            sync::load_bytes(self.data, 0, out);
            self.load_generation()
        })
    }

    /// A consistent copy of `range` of the data area (relative to its start)
    /// into `out`, which must be as long as the range, and the generation it
    /// is at.
    pub fn snapshot_range(&self, start: usize, out: &mut [u8]) -> Result<u64, AccessError> {
        let end = start
            .checked_add(out.len())
            .ok_or(AccessError::OutOfBounds)?;
        if end > self.geo.data_len {
            return Err(AccessError::OutOfBounds);
        }
        self.read_consistent(|| {
            sync::load_bytes(self.data, start, out);
            self.load_generation()
        })
    }

    #[inline(always)]
    fn typed<T: Value>(&self, id: VarId) -> Result<&'a Variable, AccessError> {
        let var = self.schema.get(id).ok_or(AccessError::UnknownVariable)?;
        let kind_ok = var.kind == T::KIND || (var.kind == Kind::Bytes && T::KIND == Kind::U8);
        if !kind_ok {
            return Err(AccessError::WrongKind {
                expected: var.kind,
                found: T::KIND,
            });
        }
        if var.count != T::COUNT {
            return Err(AccessError::WrongLength {
                expected: var.count,
                found: T::COUNT,
            });
        }
        Ok(var)
    }

    /// Reads variable `id` as `T`: a scalar for a variable of one element,
    /// `[S; N]` for one of `N`. `[u8; N]` also reads a `bytes` variable.
    #[inline(always)]
    pub fn get<T: Value>(&self, id: VarId) -> Result<T, AccessError> {
        self.typed::<T>(id)?;
        let mut raw = <T::Raw as bytemuck::Zeroable>::zeroed();
        self.read(id, bytemuck::bytes_of_mut(&mut raw))?;
        T::from_raw(raw).ok_or(AccessError::InvalidValue)
    }

    /// [`get`](Self::get) by variable name.
    pub fn get_by_name<T: Value>(&self, name: &str) -> Result<T, AccessError> {
        self.get(self.schema.find(name).ok_or(AccessError::UnknownVariable)?)
    }

    /// Writes variable `id` from `bytes` (exactly its length) and commits:
    /// returns the new generation.
    pub fn write(&self, id: VarId, bytes: &[u8]) -> Result<u64, AccessError> {
        self.write_many(&[(id, bytes)])
    }

    /// Writes several variables and commits them together: a reader of any
    /// of them sees all of the new values or none. Returns the new
    /// generation. Nothing is written if any part is the wrong size.
    pub fn write_many(&self, parts: &[(VarId, &[u8])]) -> Result<u64, AccessError> {
        self.write_many_then(parts, || ())
    }

    /// [`write_many`](Self::write_many), calling `during` after the data is
    /// stored but before the write is published, while every counter it
    /// touches is odd and, in a journaled region, before the commit point
    /// (the journal still marked). For tests and tools that must hold a
    /// write open (a writer that dies mid-write is simulated this way).
    pub fn write_many_then(
        &self,
        parts: &[(VarId, &[u8])],
        during: impl FnOnce(),
    ) -> Result<u64, AccessError> {
        for &(id, bytes) in parts {
            self.sized(id, bytes.len())?;
        }
        let generation = self.load_generation().wrapping_add(1);
        self.commit(parts.iter().map(|&(id, _)| id), generation, || {
            for &(id, bytes) in parts {
                if let Some(var) = self.schema.get(id) {
                    sync::store_bytes(self.data, var.offset as usize, bytes);
                }
            }
            during();
        });
        Ok(generation)
    }

    /// Writes `value` to variable `id` and commits; returns the new generation.
    pub fn set<T: Value>(&self, id: VarId, value: T) -> Result<u64, AccessError> {
        self.typed::<T>(id)?;
        self.write(id, bytemuck::bytes_of(&value.to_raw()))
    }

    /// [`set`](Self::set) by variable name.
    pub fn set_by_name<T: Value>(&self, name: &str, value: T) -> Result<u64, AccessError> {
        self.set(
            self.schema.find(name).ok_or(AccessError::UnknownVariable)?,
            value,
        )
    }

    /// Writes raw byte ranges of the data area (`(offset, bytes)`, offsets
    /// relative to the data area) and commits them together, moving the
    /// sequence counter of every variable they touch. The generation becomes
    /// `generation` if given (a mirror takes its publisher's), else moves on
    /// by one. Nothing is written if any range is out of bounds.
    pub fn write_ranges(
        &self,
        ranges: &[(usize, &[u8])],
        generation: Option<u64>,
    ) -> Result<u64, AccessError> {
        self.write_ranges_then(ranges.iter().copied(), generation, || ())
    }

    /// [`write_ranges`](Self::write_ranges) of ranges given one by one,
    /// ascending (an update as it is decoded from the wire): however many
    /// there are, they are one commit, so a reader sees all of them or none.
    pub fn write_spans<'b, I>(&self, ranges: I, generation: Option<u64>) -> Result<u64, AccessError>
    where
        I: Iterator<Item = (usize, &'b [u8])> + Clone,
    {
        self.write_ranges_then(ranges, generation, || ())
    }

    /// [`write_ranges`](Self::write_ranges), calling `during` where
    /// [`write_many_then`](Self::write_many_then) does.
    fn write_ranges_then<'b, I>(
        &self,
        ranges: I,
        generation: Option<u64>,
        during: impl FnOnce(),
    ) -> Result<u64, AccessError>
    where
        I: Iterator<Item = (usize, &'b [u8])> + Clone,
    {
        for (offset, bytes) in ranges.clone() {
            let end = offset
                .checked_add(bytes.len())
                .ok_or(AccessError::OutOfBounds)?;
            if end > self.geo.data_len {
                return Err(AccessError::OutOfBounds);
            }
        }
        let generation = generation.unwrap_or_else(|| self.load_generation().wrapping_add(1));
        // Ascending ranges touch ascending variables: each is then counted
        // (and journaled) once, however many of its ranges there are.
        let touched = Distinct {
            ids: ranges.clone().flat_map(|(offset, bytes)| {
                self.schema
                    .overlapping(offset..offset + bytes.len())
                    .map(|i| VarId(u32::try_from(i).unwrap_or(u32::MAX)))
            }),
            last: None,
        };
        self.commit(touched, generation, || {
            for (offset, bytes) in ranges {
                sync::store_bytes(self.data, offset, bytes);
            }
            during();
        });
        Ok(generation)
    }

    /// The write protocol: counters odd, (old bytes into the journal, the
    /// journal marked), data, generation, (the mark cleared: the commit
    /// point), counters even. `spec/region-layout.md` numbers the steps;
    /// `journal.rs` argues the order.
    fn commit<I>(&self, mut touched: I, generation: u64, data: impl FnOnce())
    where
        I: Iterator<Item = VarId> + Clone,
    {
        let counters = touched.clone().filter_map(|id| self.seq_word(id));
        sync::write_begin(self.commit);
        for seq in counters.clone() {
            sync::write_begin(seq);
        }
        sync::write_fence();
        // One copy of the journal code for every kind of commit: firmware,
        // which has no journal, links it once.
        let journaled = self.journal_old(&mut touched);
        data();
        self.store_generation(generation);
        if journaled {
            self.clear_mark();
        }
        for seq in counters {
            sync::write_end(seq);
        }
        sync::write_end(self.commit);
    }
}

/// The largest batch [`Region::read_many`] checks at once.
pub const MANY_MAX: usize = 64;

/// One seqlock copy of the bytes at `offset` of `data` into `out`, guarded
/// by `seq`: false if a write overlapped it.
#[inline(always)]
fn copy_once(
    seq: &AtomicU32,
    data: &[AtomicU32],
    offset: usize,
    out: &mut [u8],
) -> Result<bool, AccessError> {
    guarded(seq, || {
        if offset.is_multiple_of(WORD) && out.len().is_multiple_of(WORD) {
            copy_words(data.get(offset / WORD..)?.get(..out.len() / WORD)?, out);
            Some(())
        } else {
            sync::load_bytes(data, offset, out)
        }
    })
}

/// Copies `words` into `out` (4 bytes a word, as many), two words to one
/// 8-byte store. A typed read loads its `u64` back from `out` at once: a
/// load cannot take its bytes from two narrower stores still in flight and
/// would wait for them to reach the cache, which cost more than the read.
#[inline(always)]
fn copy_words(words: &[AtomicU32], out: &mut [u8]) {
    let mut pairs = out.chunks_exact_mut(2 * WORD);
    let mut sources = words.chunks_exact(2);
    for (chunk, pair) in pairs.by_ref().zip(sources.by_ref()) {
        if let [lo, hi] = pair {
            let value = u64::from(lo.load(Ordering::Relaxed))
                | (u64::from(hi.load(Ordering::Relaxed)) << 32);
            chunk.copy_from_slice(&value.to_le_bytes());
        }
    }
    let tail = pairs.into_remainder();
    if let (Some(word), true) = (sources.remainder().first(), tail.len() == WORD) {
        tail.copy_from_slice(&word.load(Ordering::Relaxed).to_le_bytes());
    }
}

/// The reader's side of the seqlock around `copy`: false if a write
/// overlapped it, [`AccessError::OutOfBounds`] if `copy` found its bytes
/// out of range.
#[inline(always)]
fn guarded(seq: &AtomicU32, copy: impl FnOnce() -> Option<()>) -> Result<bool, AccessError> {
    let Some(start) = sync::read_begin(seq) else {
        return Ok(false);
    };
    copy().ok_or(AccessError::OutOfBounds)?;
    sync::read_fence();
    Ok(sync::read_still(seq, start))
}

mod journal;
mod publish;
mod var;
pub use var::VarRef;

/// The ids of an iterator without repeats next to each other (without
/// any repeat, when the ids ascend).
#[derive(Clone)]
struct Distinct<I> {
    ids: I,
    last: Option<VarId>,
}

impl<I: Iterator<Item = VarId>> Iterator for Distinct<I> {
    type Item = VarId;

    fn next(&mut self) -> Option<VarId> {
        loop {
            let id = self.ids.next()?;
            if self.last != Some(id) {
                self.last = Some(id);
                return Some(id);
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
