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
