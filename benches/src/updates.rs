//! What a memwire publisher sends per tick, and the least any range encoding
//! could send: the two byte counts of the entity comparison
//! (`benches/benches/entities.rs`).
//!
//! [`UpdateEncoder`] does a publisher's work for one peer: diff the data area
//! against its shadow, then write the update as length-prefixed frames.
//! [`lower_bound`] prices the same change with no frame around it.
//!
//! # The raw lower bound
//!
//! The changed bytes plus their positions, each position written as cheaply
//! as a byte-oriented encoding can:
//!
//! > the fewest bytes of a list of ranges that covers every changed byte,
//! > where a range costs its bytes + `varint(gap)` + `varint(len)` (LEB128;
//! > `gap` is the distance from the end of the previous range, so 1 byte up
//! > to 127, 2 bytes up to 16,383), and a range may include unchanged bytes
//! > when that is cheaper than starting a new one.
//!
//! It is computed exactly (dynamic programming over the maximal runs of
//! changed bytes) and counts no message header, length prefix, generation or
//! frame: only the changed bytes and where they go. It is the size of the
//! payload of memwire's ranges when they are grouped optimally, so a memwire
//! update can only exceed it by its frame header and by coalescing choices.
//!
//! ```
//! use memwire_benches::updates::lower_bound;
//!
//! let before = [0u8; 100];
//! let mut after = before;
//! after[3] = 1;
//! after[5] = 1; // one unchanged byte between: one range 3..6 is cheaper
//! after[70] = 1;
//! let lb = lower_bound(&before, &after);
//! assert_eq!(lb.changed, 3);
//! assert_eq!(lb.runs, 3);
//! // 3..6: gap 3, len 3, 3 bytes = 5; 70..71: gap 64, len 1, 1 byte = 3.
//! assert_eq!(lb.bytes, 8);
//! ```

use memwire::codec::{
    EncodeError, Feed, Frame, FrameAccumulator, Framing, UpdateParts, UpdateReference,
};
use memwire::diff::{ByteRange, Differ, Generations, chunks_are_cheaper};
use memwire::schema::{Schema, VarId};

/// The peer's maximum frame size used by the comparison: one 16 KiB frame
/// holds a tick of the entity workload.
pub const MAX_FRAME: usize = 16 * 1024;

/// The least a range encoding could send for one change (see the module
/// docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LowerBound {
    /// Bytes that differ.
    pub changed: usize,
    /// Maximal runs of differing bytes.
    pub runs: usize,
    /// The raw lower bound: changed bytes plus their positions.
    pub bytes: usize,
}

/// Unchanged bytes beyond which one gap always costs more than the three
/// varints (at most 10 bytes each) that splitting a range there adds.
const MAX_MERGE: usize = 30;

/// The LEB128 length of `value`.
fn varint_len(value: usize) -> usize {
    let bits = usize::BITS - (value | 1).leading_zeros();
    bits.div_ceil(7) as usize
}

/// The raw lower bound of sending the change from `before` to `after`.
///
/// # Panics
///
/// If the slices differ in length.
pub fn lower_bound(before: &[u8], after: &[u8]) -> LowerBound {
    assert_eq!(before.len(), after.len(), "same data area");
    let mut runs: Vec<ByteRange> = Vec::new();
    for (i, (a, b)) in before.iter().zip(after).enumerate() {
        if a == b {
            continue;
        }
        match runs.last_mut() {
            Some(run) if run.end == i => run.end = i + 1,
            _ => runs.push(ByteRange::new(i, i + 1)),
        }
    }
    // best[j]: the cheapest cover of the first j runs. The last range of that
    // cover spans runs i..j, from the start of run i to the end of run j - 1.
    let mut best = vec![0usize; runs.len() + 1];
    for j in 1..=runs.len() {
        let end = runs[j - 1].end;
        let mut cheapest = usize::MAX;
        for i in (0..j).rev() {
            let prev_end = if i == 0 { 0 } else { runs[i - 1].end };
            let len = end - runs[i].start;
            let cost = best[i] + varint_len(runs[i].start - prev_end) + varint_len(len) + len;
            cheapest = cheapest.min(cost);
            // A range holding more than MAX_MERGE unchanged bytes in one gap
            // is never the cheapest: split there, it saves the gap and costs
            // at most three varints. So no range reaches further back.
            if i > 0 && runs[i].start - runs[i - 1].end > MAX_MERGE {
                break;
            }
        }
        best[j] = cheapest;
    }
    LowerBound {
        changed: runs.iter().map(ByteRange::len).sum(),
        runs: runs.len(),
        bytes: best[runs.len()],
    }
}

/// A publisher's per-peer work each tick: diff against the shadow, then
/// encode the update frames.
#[derive(Clone, Debug)]
pub struct UpdateEncoder {
    differ: Differ,
    shadow: Vec<u8>,
    ranges: Vec<ByteRange>,
    /// When each 64-byte chunk last changed, as a publisher keeps it.
    table: Vec<u64>,
    generation: u64,
    max_frame: usize,
}

impl UpdateEncoder {
    /// Handle of the subscription the frames are for.
    pub const HANDLE: u16 = 1;

    /// Ranges a hub keeps per scan of a region of `len` bytes
    /// (`std-adapter/src/hub/shadow.rs`).
    pub const fn hub_ranges(len: usize) -> usize {
        let all = len / 2 + 1;
        if all < 4096 { all } else { 4096 }
    }

    /// An encoder whose peer already holds `data` at generation 1 (the full
    /// sync is done), sending frame bodies of at most `max_frame` bytes.
    pub fn new(data: &[u8], max_frame: usize) -> UpdateEncoder {
        UpdateEncoder::with_ranges(data, max_frame, 4096)
    }

    /// [`new`](Self::new) keeping at most `ranges` ranges per tick, as a hub
    /// ([`hub_ranges`](Self::hub_ranges)) or a device
    /// ([`memwire::session::OWN_RANGES`]) does: more are merged to fit.
    pub fn with_ranges(data: &[u8], max_frame: usize, ranges: usize) -> UpdateEncoder {
        UpdateEncoder {
            differ: Differ::new(),
            shadow: data.to_vec(),
            ranges: vec![ByteRange::default(); ranges.max(1)],
            table: vec![1; Generations::chunks_for(data.len(), 64)],
            generation: 1,
            max_frame,
        }
    }

    /// The generation the peer holds after the last update.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Diffs `data` against the shadow (updating it) and writes the update
    /// to the next generation into `out` as length-prefixed frames, back to
    /// back. Returns the bytes written: the bytes on the wire.
    ///
    /// # Panics
    ///
    /// If `data` is not as long as the shadow or `out` is too small.
    pub fn update(&mut self, data: &[u8], out: &mut [u8]) -> usize {
        let mut gens = Generations::new(&mut self.table, data.len(), 64).expect("table fits");
        let marks = Some((&mut gens, self.generation + 1));
        let n = match self
            .differ
            .update(data, &mut self.shadow, &mut self.ranges, marks)
        {
            Ok(n) => n,
            Err(e) => panic!("diff failed: {e}"),
        };
        self.encode(data, n, out)
            .unwrap_or_else(|e| panic!("encode failed: {e}"))
    }

    /// [`update`](Self::update) scanning only the `moved` variables (those
    /// whose sequence counters moved, in ascending order), as a hub does for
    /// a region that local writers share.
    ///
    /// # Panics
    ///
    /// As [`update`](Self::update), and if `moved` is not ascending ids of
    /// `schema`.
    pub fn update_moved(
        &mut self,
        data: &[u8],
        schema: Schema<'_>,
        moved: &[VarId],
        out: &mut [u8],
    ) -> usize {
        let mut gens = Generations::new(&mut self.table, data.len(), 64).expect("table fits");
        let marks = Some((&mut gens, self.generation + 1));
        let n = match self.differ.update_moved(
            data,
            &mut self.shadow,
            schema,
            moved.iter().copied(),
            &mut self.ranges,
            marks,
        ) {
            Ok(n) => n,
            Err(e) => panic!("diff failed: {e}"),
        };
        self.encode(data, n, out)
            .unwrap_or_else(|e| panic!("encode failed: {e}"))
    }

    /// Encodes the update of the ranges of the last scan, or of the chunks
    /// changed since the peer's generation when merging the ranges to fit
    /// made them dearer, as a publication chooses.
    fn encode(&mut self, data: &[u8], n: usize, out: &mut [u8]) -> Result<usize, EncodeError> {
        let base = self.generation;
        self.generation += 1;
        let ranges = &self.ranges[..n];
        let table = Generations::new(&mut self.table, data.len(), 64).expect("table fits");
        let chunks: Vec<ByteRange> = table.changed_since(base).collect();
        if chunks_are_cheaper(ranges, chunks.iter().copied()) {
            self.frames(base, data, chunks.iter().map(ByteRange::as_range), out)
        } else {
            let ranges = self.ranges[..n].to_vec();
            self.frames(base, data, ranges.iter().map(ByteRange::as_range), out)
        }
    }

    fn frames(
        &self,
        base: u64,
        data: &[u8],
        ranges: impl Iterator<Item = core::ops::Range<usize>> + Clone,
        out: &mut [u8],
    ) -> Result<usize, EncodeError> {
        let mut parts = UpdateParts::new(
            Self::HANDLE,
            base,
            self.generation,
            data,
            ranges,
            self.max_frame,
            Framing::LengthPrefix,
        )
        // The peer completed the last update: the base is its reference.
        .after(base);
        let mut written = 0;
        while let Some(frame) = parts.next_frame(&mut out[written..]) {
            written += frame?;
        }
        Ok(written)
    }

    /// Writes a full update of the shadow (from generation 0, every byte,
    /// its base named: the peer asked for it) to the generation the peer
    /// holds into `out`, as a publisher answers a resync request. Returns
    /// the bytes written.
    ///
    /// # Panics
    ///
    /// If `out` is too small.
    pub fn resync(&self, out: &mut [u8]) -> usize {
        let shadow = &self.shadow;
        let mut parts = UpdateParts::new(
            Self::HANDLE,
            0,
            self.generation,
            shadow,
            core::iter::once(0..shadow.len()),
            self.max_frame,
            Framing::LengthPrefix,
        );
        let mut written = 0;
        while let Some(frame) = parts.next_frame(&mut out[written..]) {
            written += frame.unwrap_or_else(|e| panic!("encode failed: {e}"));
        }
        written
    }

    /// The bytes of a full sync of `data` (an update from generation 0 of
    /// every byte), as a new peer receives it.
    pub fn full_sync_len(data: &[u8], max_frame: usize) -> usize {
        let mut parts = UpdateParts::new(
            Self::HANDLE,
            0,
            1,
            data,
            core::iter::once(0..data.len()),
            max_frame,
            Framing::LengthPrefix,
        );
        let mut buf = vec![0u8; max_frame + 8];
        let mut total = 0;
        while let Some(frame) = parts.next_frame(&mut buf) {
            total += frame.unwrap_or_else(|e| panic!("encode failed: {e}"));
        }
        total
    }
}

/// The payload of the same change sent as whole changed 64-byte chunks
/// (neighbouring chunks as one range), as a device sent it before ranges:
/// the cost that merging ranges to fit must never exceed.
pub fn chunk_cover(before: &[u8], after: &[u8]) -> usize {
    let mut total = 0;
    let mut prev_end = 0;
    let mut open: Option<ByteRange> = None;
    for (i, (a, b)) in before.chunks(64).zip(after.chunks(64)).enumerate() {
        if a == b {
            continue;
        }
        let chunk = ByteRange::new(64 * i, 64 * i + a.len());
        match open.as_mut() {
            Some(r) if r.end == chunk.start => r.end = chunk.end,
            _ => {
                if let Some(r) = open.replace(chunk) {
                    total += varint_len(r.start - prev_end) + varint_len(r.len()) + r.len();
                    prev_end = r.end;
                }
            }
        }
    }
    if let Some(r) = open {
        total += varint_len(r.start - prev_end) + varint_len(r.len()) + r.len();
    }
    total
}

/// Applies the length-prefixed update frames in `wire` (one update, from
/// `base` to `base + 1`, as [`UpdateEncoder::update`] writes it) to
/// `mirror`, checking each frame's header, and returns how many frames
/// there were.
///
/// # Panics
///
/// If the frames are not that update's, whole, each at most `max_frame`
/// bytes (up to [`MAX_FRAME`]).
pub fn apply(wire: &[u8], mirror: &mut [u8], base: u64, max_frame: usize) -> usize {
    let mut reference = UpdateReference::new();
    reference.sent(base, true);
    apply_update(wire, mirror, &mut reference, (base, base + 1), max_frame)
}

/// [`apply`] of an update that must take the mirror from `generations.0`
/// to `generations.1` (a resync's: from 0 to the generation the publisher
/// is at), read as a subscriber whose reference is `reference` reads it;
/// the reference moves with the update's last part.
///
/// # Panics
///
/// As [`apply`], and if a part's base is not `generations.0` as the
/// reference places it.
pub fn apply_update(
    wire: &[u8],
    mirror: &mut [u8],
    reference: &mut UpdateReference,
    generations: (u64, u64),
    max_frame: usize,
) -> usize {
    let mut acc = Box::new(FrameAccumulator::<MAX_FRAME>::length_prefix(max_frame));
    let mut rest = wire;
    let mut frames = 0;
    let mut last_seen = false;
    while !rest.is_empty() {
        let Feed::Frame { body, rest: after } = acc.feed(rest) else {
            panic!("wire bytes end inside a frame");
        };
        assert!(body.len() <= max_frame);
        let Ok(Frame::Update(update)) = Frame::decode(body) else {
            panic!("not an update frame");
        };
        assert_eq!(update.handle, UpdateEncoder::HANDLE);
        assert_eq!(reference.take(&update), Some(generations));
        assert!(!last_seen, "a frame after the last part");
        last_seen = update.last;
        for span in update.ranges {
            mirror[span.range()].copy_from_slice(span.bytes);
        }
        frames += 1;
        rest = after;
    }
    assert!(last_seen, "the last part is missing");
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_lengths() {
        for (value, len) in [(0, 1), (127, 1), (128, 2), (16_383, 2), (16_384, 3)] {
            assert_eq!(varint_len(value), len, "{value}");
        }
    }

    #[test]
    fn lower_bound_of_no_change_is_zero() {
        let data = [7u8; 64];
        assert_eq!(lower_bound(&data, &data), LowerBound::default());
    }

    #[test]
    fn lower_bound_keeps_far_runs_apart_and_merges_near_ones() {
        let before = [0u8; 300];
        let mut after = before;
        // Two runs 2 bytes apart: one range 10..16 (gap 10, len 6: 8 bytes)
        // costs as much as two (1 + 1 + 2 and 1 + 1 + 2 bytes).
        after[10..12].fill(1);
        after[14..16].fill(1);
        // Three bytes apart: two ranges are cheaper (4 bytes each).
        after[100..102].fill(1);
        after[105..107].fill(1);
        // Far away: a two-byte gap varint (gap 192 > 127).
        after[300 - 1] = 1;
        let lb = lower_bound(&before, &after);
        assert_eq!(lb.changed, 9);
        assert_eq!(lb.runs, 5);
        // 8 + (gap 84: 1 + 1 + 2) + (gap 3: 1 + 1 + 2) + (gap 192: 2 + 1 + 1)
        assert_eq!(lb.bytes, 8 + 4 + 4 + 4);
    }

    /// The cheapest cover by trying every grouping of runs, with no pruning.
    fn exhaustive(before: &[u8], after: &[u8]) -> usize {
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for i in 0..before.len() {
            if before[i] != after[i] {
                match runs.last_mut() {
                    Some(r) if r.1 == i => r.1 = i + 1,
                    _ => runs.push((i, i + 1)),
                }
            }
        }
        let mut best = vec![0usize; runs.len() + 1];
        for j in 1..=runs.len() {
            best[j] = (0..j)
                .map(|i| {
                    let prev = if i == 0 { 0 } else { runs[i - 1].1 };
                    let len = runs[j - 1].1 - runs[i].0;
                    best[i] + varint_len(runs[i].0 - prev) + varint_len(len) + len
                })
                .min()
                .unwrap();
        }
        best[runs.len()]
    }

    #[test]
    fn pruned_lower_bound_matches_the_exhaustive_one() {
        let mut x = 0x9e37_79b9_u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..200 {
            let before = vec![0u8; 2000];
            let mut after = before.clone();
            for _ in 0..(next() % 60) {
                let at = (next() % 2000) as usize;
                let len = (next() % 40) as usize;
                for b in &mut after[at..(at + len).min(2000)] {
                    *b = (next() % 3) as u8;
                }
            }
            assert_eq!(
                lower_bound(&before, &after).bytes,
                exhaustive(&before, &after)
            );
        }
    }
}
