//! What a range costs on the wire, and so which ranges to merge.
//!
//! An update carries each range as a `RangeEntry` (`spec/wire-format.md`):
//! a LEB128 varint of its gap (the distance from the end of the previous
//! range), a varint of its length, then its bytes. Two ranges with unchanged
//! bytes between them are worth merging when resending those bytes costs
//! less than the two varints of the second range (and whatever the first
//! range's length varint grows by): the same choice the exact lower bound
//! of `benches/src/updates.rs` makes, taken greedily as the scan goes.

use super::byte_range::ByteRange;

/// The bytes of the LEB128 varint of `value`.
pub(crate) const fn varint_len(value: usize) -> usize {
    let bits = usize::BITS - (value | 1).leading_zeros();
    bits.div_ceil(7) as usize
}

/// The bytes merging `first` with the range after it, `next`, adds to an
/// update (negative when it saves): the unchanged bytes between them are
/// sent, and `next`'s gap and length varints are not.
pub(crate) const fn merge_cost(first: ByteRange, next: ByteRange) -> isize {
    let gap = next.start.saturating_sub(first.end);
    let merged = gap + varint_len(next.end.saturating_sub(first.start));
    let apart = varint_len(first.len()) + varint_len(gap) + varint_len(next.len());
    merged as isize - apart as isize
}

/// Whether sending `chunks` (ascending, as [`ChangedSince`] yields them)
/// costs less than sending `ranges`, both as `RangeEntry`s. Ranges merged to
/// fit a small buffer can hold more unchanged bytes than the changed chunks
/// around them: then the chunks are the cheaper cover. The chunks are read
/// only until they cost more, and not at all when the ranges average less
/// than half a chunk (they were not merged much).
///
/// [`ChangedSince`]: super::ChangedSince
pub fn chunks_are_cheaper(ranges: &[ByteRange], chunks: impl Iterator<Item = ByteRange>) -> bool {
    let bytes: usize = ranges.iter().map(ByteRange::len).sum();
    if bytes < 32 * ranges.len() {
        return false;
    }
    let by_ranges = cover_cost(ranges.iter().copied());
    let mut by_chunks = 0;
    let mut end = 0;
    for chunk in chunks {
        by_chunks += entry_cost(chunk, end);
        end = chunk.end;
        if by_chunks >= by_ranges {
            return false;
        }
    }
    true
}

/// The bytes of `ranges` (ascending) as `RangeEntry`s.
fn cover_cost(ranges: impl Iterator<Item = ByteRange>) -> usize {
    let mut end = 0;
    ranges
        .map(|r| {
            let cost = entry_cost(r, end);
            end = r.end;
            cost
        })
        .sum()
}

/// The bytes of `range` as a `RangeEntry` after a range ending at `end`.
const fn entry_cost(range: ByteRange, end: usize) -> usize {
    varint_len(range.start.saturating_sub(end)) + varint_len(range.len()) + range.len()
}

/// Stores `range` after the `out.len()` ranges already in the full buffer
/// `out` by merging the neighbouring pair that costs least to merge
/// (`range` counting as the last neighbour). Nothing is lost: the merged
/// range covers both. `out` must not be empty.
pub(crate) fn merge_to_fit(out: &mut [ByteRange], range: ByteRange) {
    let Some(&last) = out.last() else {
        return;
    };
    // The pair (out[i], out[i + 1]) that is cheapest to merge; `out.len() - 1`
    // stands for the pair (last, range), which wins ties: it moves nothing.
    let mut best = (merge_cost(last, range), out.len() - 1);
    for (i, pair) in out.windows(2).enumerate() {
        if let [a, b] = pair {
            let cost = merge_cost(*a, *b);
            if cost < best.0 {
                best = (cost, i);
            }
        }
    }
    let at = best.1;
    if at + 1 == out.len() {
        if let Some(slot) = out.last_mut() {
            slot.end = range.end;
        }
        return;
    }
    if let Some(end) = out.get(at + 1).map(|r| r.end) {
        if let Some(slot) = out.get_mut(at) {
            slot.end = end;
        }
        out.copy_within(at + 2.., at + 1);
        if let Some(slot) = out.last_mut() {
            *slot = range;
        }
    }
}
