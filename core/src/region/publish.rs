//! The published generation: a writer's mark that the region, as of that
//! generation, is a consistent set of changes, for publishers that send
//! only marked states (a hub's `manual` publish policy).
//!
//! The mark is two words (`PUBLISHED_LO_OFFSET`, `PUBLISHED_HI_OFFSET`),
//! outside the seqlock: marking is no commit, so it wakes no reader of the
//! data. The writer stores the low half, then the high half, both with
//! release; a reader loads the high half, then the low half, with acquire.
//! The value read is then either a mark the writer made, or (when the high
//! half moved in between) a value below the mark whose low half was read;
//! the reader's acquire of that low half makes every commit before that
//! mark visible, so a snapshot taken afterwards has a generation at least
//! that mark. A reader that publishes a snapshot only when its generation
//! equals the mark read before it therefore publishes only marked states.

use super::{AccessError, Region};
use crate::layout::{PUBLISHED_HI_OFFSET, PUBLISHED_LO_OFFSET};
use crate::sync::{AtomicU32, Ordering};

impl<'a> Region<'a> {
    /// Marks the region, as of its current generation, as a consistent
    /// state and returns that generation. Only the writer (the holder of
    /// the region's writer lock) marks, between its commits.
    pub fn publish(&self) -> Result<u64, AccessError> {
        let generation = self.generation()?;
        // Every region `with_geometry` accepts holds the whole header.
        if let (Some(lo), Some(hi)) = (self.published_word(), self.word(PUBLISHED_HI_OFFSET)) {
            #[allow(clippy::cast_possible_truncation)]
            lo.store(generation as u32, Ordering::Release);
            hi.store((generation >> 32) as u32, Ordering::Release);
        }
        Ok(generation)
    }

    /// The generation the writer last marked with [`publish`](Self::publish)
    /// (0 before the first mark). Read before a snapshot, it is a mark or
    /// less than the snapshot's generation (see the module docs).
    pub fn published(&self) -> u64 {
        let hi = self
            .word(PUBLISHED_HI_OFFSET)
            .map_or(0, |w| w.load(Ordering::Acquire));
        let lo = self
            .published_word()
            .map_or(0, |w| w.load(Ordering::Acquire));
        u64::from(lo) | (u64::from(hi) << 32)
    }

    /// The low half of the mark, which every mark that moves it changes:
    /// adapters wait on it for marks (a futex on Linux).
    pub fn published_word(&self) -> Option<&'a AtomicU32> {
        self.word(PUBLISHED_LO_OFFSET)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use crate::Region;
    use crate::schema::{Kind, SchemaBuf, SchemaBuilder, VarId};
    use crate::sync::{AtomicU32, Ordering};

    static SCHEMA: SchemaBuf<1> = SchemaBuilder::new().var("x", Kind::U32, 1).build();

    #[test]
    fn a_mark_is_the_generation_of_the_last_commit_and_no_commit() {
        let words: [AtomicU32; 128] = core::array::from_fn(|_| AtomicU32::new(0));
        let region = Region::init(&words, SCHEMA.as_schema(), 1).unwrap();
        assert_eq!(region.published(), 0);
        for value in 1..=3u32 {
            region.write(VarId(0), &value.to_le_bytes()).unwrap();
        }
        let generation = region.generation().unwrap();
        let commit = region.commit_counter().load(Ordering::Relaxed);
        assert_eq!(region.publish(), Ok(generation));
        assert_eq!(region.published(), generation);
        assert_eq!(region.generation(), Ok(generation));
        assert_eq!(
            region.commit_counter().load(Ordering::Relaxed),
            commit,
            "a mark is no commit"
        );
    }
}
