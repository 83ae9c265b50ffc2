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

/// Makes room in the full buffer `out` by merging neighbouring ranges, the
/// cheapest first, and returns how many ranges it holds now: about three
/// quarters of `out.len()` (at least one free slot when `out` holds two
/// ranges or more). Nothing is lost: a merged range covers both.
///
/// Pairs are merged in passes, each taking every pair that costs at most a
/// limit which doubles from the cheapest pair's cost, so a scan that finds
/// far more ranges than fit costs O(passes × buffer) per quarter of the
/// buffer, not per range; within each pass the cost is within a factor of
/// two of the cheapest pair's.
pub(crate) fn make_room(out: &mut [ByteRange]) -> usize {
    let len = out.len();
    let target = len - (len / 4).max(1).min(len.saturating_sub(1));
    let mut limit = out
        .windows(2)
        .filter_map(|pair| match pair {
            [a, b] => Some(merge_cost(*a, *b)),
            _ => None,
        })
        .min()
        .unwrap_or(0)
        .max(0);
    let mut kept = len;
    while kept > target {
        kept = merge_pass(out, kept, limit, target);
        limit = limit.saturating_mul(2).saturating_add(1);
    }
    kept
}

/// One pass over `out[..len]`: merges each pair that costs at most `limit`
/// until `target` ranges are left, and returns how many are left.
fn merge_pass(out: &mut [ByteRange], len: usize, limit: isize, target: usize) -> usize {
    let mut kept = len;
    let mut w = 0;
    for r in 1..len {
        let (Some(&last), Some(&next)) = (out.get(w), out.get(r)) else {
            break;
        };
        if kept > target && merge_cost(last, next) <= limit {
            if let Some(slot) = out.get_mut(w) {
                slot.end = next.end;
            }
            kept -= 1;
        } else {
            w += 1;
            if let Some(slot) = out.get_mut(w) {
                *slot = next;
            }
        }
    }
    kept
}
