//! The parts of an update held until its last one arrives, on the heap:
//! the room a client's mirror and the hub's copy of a region a client
//! publishes take an update in, so that each takes it as one commit.
//!
//! What is held is bounded by the copy's data area: the session checks
//! every range against it, and ranges ascend without overlapping across the
//! parts of an update (`memwire::session::HeldParts`).

use memwire::Region;
use memwire::codec::Ranges;
use memwire::region::AccessError;
use memwire::session::HeldParts;

/// The ranges of an update's parts so far: their bytes end to end, and
/// where each run of them goes (offset, length). A range that continues
/// the previous one extends its run, so a full update is one run.
#[derive(Debug, Default)]
pub(crate) struct HeldUpdate {
    bytes: Vec<u8>,
    runs: Vec<(usize, usize)>,
}

impl HeldUpdate {
    /// Forgets what is held; keeps the memory for the next update.
    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
        self.runs.clear();
    }

    /// Keeps the ranges of a part.
    pub(crate) fn hold(&mut self, ranges: Ranges<'_>) {
        for span in ranges.iter() {
            let start = span.range().start;
            match self.runs.last_mut() {
                Some((offset, len)) if *offset + *len == start => *len += span.bytes.len(),
                _ => self.runs.push((start, span.bytes.len())),
            }
            self.bytes.extend_from_slice(span.bytes);
        }
    }

    /// The ranges held, then `last`'s: the whole update, ascending.
    pub(crate) fn with<'b>(&'b self, last: Ranges<'b>) -> Vec<(usize, &'b [u8])> {
        let mut ranges = Vec::with_capacity(self.runs.len() + last.iter().count());
        let mut at = 0;
        for &(offset, len) in &self.runs {
            ranges.push((offset, self.bytes.get(at..at + len).unwrap_or(&[])));
            at += len;
        }
        ranges.extend(last.iter().map(|span| (span.range().start, span.bytes)));
        ranges
    }
}

impl HeldParts for HeldUpdate {
    fn clear(&mut self) {
        HeldUpdate::clear(self);
    }

    fn hold(&mut self, ranges: Ranges<'_>) {
        HeldUpdate::hold(self, ranges);
    }

    fn commit(
        &mut self,
        mirror: &Region<'_>,
        last: Ranges<'_>,
        generation: u64,
    ) -> Result<u64, AccessError> {
        let written = mirror.write_ranges(&self.with(last), Some(generation));
        HeldUpdate::clear(self);
        written
    }
}

#[cfg(test)]
mod tests {
    use memwire::codec::{Ranges, Span};

    use super::HeldUpdate;

    fn span(offset: u32, bytes: &[u8]) -> Span<'_> {
        Span { offset, bytes }
    }

    #[test]
    fn contiguous_ranges_are_held_as_one_run() {
        let mut buf = [0u8; 64];
        let a = Ranges::encode([span(0, &[1, 2]), span(2, &[3])], &mut buf).unwrap();
        let mut held = HeldUpdate::default();
        held.hold(a);
        assert_eq!(held.runs, [(0, 3)]);
        let mut buf2 = [0u8; 64];
        let b = Ranges::encode([span(8, &[9])], &mut buf2).unwrap();
        assert_eq!(held.with(b), [(0, &[1, 2, 3][..]), (8, &[9][..])]);
        held.clear();
        assert!(held.with(Ranges::default()).is_empty());
    }
}
