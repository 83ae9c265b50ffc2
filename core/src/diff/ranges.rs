//! From byte masks to coalesced ranges, and from ranges to variables.

use super::byte_range::{ByteRange, Overflow};
use super::chunks::Generations;
use super::cost::{make_room, merge_cost};
use crate::schema::{Schema, VarId, Variable};

/// Turns the masks of changed blocks (in ascending order) into coalesced
/// ranges in the caller's buffer, and stamps the generation table.
///
/// Runs are coalesced when they are complete (a run may continue into the
/// next block), so the ranges depend only on the bytes, never on where the
/// blocks fall.
pub(super) struct Collector<'o, 'g, 't> {
    out: &'o mut [ByteRange],
    /// Ranges in `out`.
    stored: usize,
    /// Ranges the answer would have with room for all (before merging to
    /// fit), for [`Overflow::needed`].
    needed: usize,
    /// How runs are coalesced.
    merge: Merge,
    /// The range being grown; committed when a run it should not take
    /// arrives.
    open: Option<ByteRange>,
    /// The maximal run of changed bytes being extended, not yet coalesced.
    run: Option<ByteRange>,
    /// The start of the first committed range, for [`Overflow::span`].
    first: usize,
    /// The end of the last committed range.
    last: usize,
    marks: Option<(&'g mut Generations<'t>, u64)>,
}

/// When two runs of changed bytes become one range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(super) enum Merge {
    /// When the unchanged bytes between cost less than another range on the
    /// wire ([`merge_cost`]).
    Cost,
    /// When fewer than this many unchanged bytes (at least 1) separate them.
    Gap(usize),
}

impl Merge {
    fn joins(self, open: ByteRange, run: ByteRange) -> bool {
        match self {
            Merge::Cost => run.start <= open.end || merge_cost(open, run) < 0,
            Merge::Gap(gap) => run.start.saturating_sub(open.end) < gap.max(1),
        }
    }
}

impl<'o, 'g, 't> Collector<'o, 'g, 't> {
    pub(super) fn new(
        out: &'o mut [ByteRange],
        merge: Merge,
        marks: Option<(&'g mut Generations<'t>, u64)>,
    ) -> Self {
        Collector {
            out,
            stored: 0,
            needed: 0,
            merge,
            open: None,
            run: None,
            first: 0,
            last: 0,
            marks,
        }
    }

    /// Takes the mask of the block at `at`: bit `i` set where byte `at + i`
    /// changed. Blocks arrive in ascending order.
    pub(super) fn block(&mut self, at: usize, mask: u64) {
        if mask == u64::MAX {
            self.run(at, at + 64);
            return;
        }
        let mut rest = mask;
        while rest != 0 {
            let start = rest.trailing_zeros();
            // `rest >> start` ends in a one and has zeros shifted in on top,
            // so its complement has a finite count of trailing zeros.
            let end = start + (!(rest >> start)).trailing_zeros();
            self.run(at + start as usize, at + end as usize);
            rest &= u64::MAX.checked_shl(end).unwrap_or(0);
        }
    }

    /// Takes one run of changed bytes, maximal within its block.
    fn run(&mut self, start: usize, end: usize) {
        if let Some((table, generation)) = self.marks.as_mut() {
            table.mark(ByteRange::new(start, end), *generation);
        }
        match self.run.as_mut() {
            Some(run) if run.end == start => run.end = end,
            _ => {
                if let Some(done) = self.run.replace(ByteRange::new(start, end)) {
                    self.coalesce(done);
                }
            }
        }
    }

    /// Takes one maximal run: into the open range, or as the next one.
    fn coalesce(&mut self, run: ByteRange) {
        match self.open.as_mut() {
            Some(open) if self.merge.joins(*open, run) => open.end = run.end,
            _ => {
                if let Some(done) = self.open.replace(run) {
                    self.commit(done);
                }
            }
        }
    }

    fn commit(&mut self, range: ByteRange) {
        if self.needed == 0 {
            self.first = range.start;
        }
        self.last = range.end;
        self.needed += 1;
        if self.stored == self.out.len() {
            if self.stored == 1 {
                // No pair to merge: the one range grows to take this one.
                if let Some(only) = self.out.first_mut() {
                    only.end = range.end;
                }
                return;
            }
            self.stored = make_room(self.out);
        }
        if let Some(slot) = self.out.get_mut(self.stored) {
            *slot = range;
            self.stored += 1;
        }
    }

    /// The number of ranges written: all of them, or, when they did not fit,
    /// at most as many as `out` holds, the cheapest neighbours merged.
    /// [`Overflow`] only if something changed and `out` is empty.
    pub(super) fn finish(mut self) -> Result<usize, Overflow> {
        if let Some(run) = self.run.take() {
            self.coalesce(run);
        }
        if let Some(done) = self.open.take() {
            self.commit(done);
        }
        if self.needed > 0 && self.out.is_empty() {
            Err(Overflow {
                needed: self.needed,
                span: ByteRange::new(self.first, self.last),
            })
        } else {
            Ok(self.stored)
        }
    }
}

/// The variables of `schema` that `ranges` (ascending, as a scan writes them)
/// touch, each once, in id order: O(ranges × log variables) plus the
/// variables reported.
///
/// Each range's first variable is found by an exponential search from a
/// guess (the variable at the same fraction of the data area), then a
/// binary search, so the cost is O(log v) per range in the worst case and a
/// few probes of a table that would not fit in cache when the variables are
/// spread evenly, as in arrays of structs.
///
/// A variable that lies wholly in a gap that coalescing closed is reported
/// too; scan with a gap of 1 for exactly the variables whose bytes changed.
///
/// ```
/// use memwire::diff::{ByteRange, touched};
/// use memwire::schema::{Kind, SchemaBuf, SchemaBuilder, VarId};
///
/// static SCHEMA: SchemaBuf<3> = SchemaBuilder::new()
///     .var("a", Kind::U32, 1) // bytes 0..4
///     .var("b", Kind::U32, 1) // bytes 4..8
///     .var("c", Kind::U32, 1) // bytes 8..12
///     .build();
/// let ranges = [ByteRange::new(2, 3), ByteRange::new(9, 12)];
/// let ids: Vec<VarId> = touched(SCHEMA.as_schema(), &ranges).collect();
/// assert_eq!(ids, [VarId(0), VarId(2)]);
/// ```
pub fn touched<'a>(schema: Schema<'a>, ranges: &'a [ByteRange]) -> Touched<'a> {
    Touched {
        vars: schema.variables(),
        data_len: schema.data_len() as usize,
        ranges: ranges.iter(),
        ids: 0..0,
        next: 0,
    }
}

/// The iterator of [`touched`].
#[derive(Clone, Debug)]
pub struct Touched<'a> {
    vars: &'a [Variable],
    data_len: usize,
    ranges: core::slice::Iter<'a, ByteRange>,
    /// The ids overlapping the current range not yet reported.
    ids: core::ops::Range<usize>,
    /// The smallest id not yet reported: a variable spanning two ranges is
    /// reported once.
    next: usize,
}

impl Iterator for Touched<'_> {
    type Item = VarId;

    fn next(&mut self) -> Option<VarId> {
        loop {
            if let Some(id) = self.ids.next() {
                self.next = id + 1;
                // A checked schema has fewer than 2^32 variables.
                return u32::try_from(id).ok().map(VarId);
            }
            let range = self.ranges.find(|r| !r.is_empty())?;
            let n = self.vars.len() as u64;
            let guess = match self.data_len as u64 {
                0 => 0,
                // Below 2^32 × 2^32: no overflow.
                len => (range.start as u64).min(len).saturating_mul(n) / len,
            };
            let start = range.start as u64;
            let end = range.end as u64;
            let first = partition_near(self.vars, self.next, guess as usize, |v| v.end() <= start);
            let last = partition_near(self.vars, first, first, |v| u64::from(v.offset) < end);
            self.ids = first..last;
        }
    }
}

/// The partition point of `pred` (true on a prefix of `vars`) at or after
/// `lo`, found by an exponential search outward from `guess`.
fn partition_near(
    vars: &[Variable],
    lo: usize,
    guess: usize,
    pred: impl Fn(&Variable) -> bool,
) -> usize {
    let n = vars.len();
    let g = guess.clamp(lo.min(n), n);
    // Bracket the point in `from..to`, doubling the step away from `g`.
    let (mut from, mut to) = (lo.min(n), n);
    if vars.get(g).is_some_and(&pred) {
        from = g + 1;
        let mut step = 1;
        while let Some(v) = vars.get(g + step) {
            if !pred(v) {
                to = g + step;
                break;
            }
            from = g + step + 1;
            step *= 2;
        }
    } else {
        to = g;
        let mut step = 1;
        while g >= from + step {
            let probe = g - step;
            if vars.get(probe).is_some_and(&pred) {
                from = probe + 1;
                break;
            }
            to = probe;
            step *= 2;
        }
    }
    from + vars
        .get(from..to)
        .map_or(0, |window| window.partition_point(&pred))
}
