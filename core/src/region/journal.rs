//! The undo journal: what makes a commit its writer died in roll back, and
//! the repair a new writer runs when it takes the lock.
//!
//! A journaled region has a second data area after the first, and a mark
//! word in the header. A commit (`Region::commit`) runs:
//!
//! 1. `commit` odd, every touched `seq` odd;
//! 2. the touched variables' current bytes copied into the journal, at the
//!    same offsets as in the data area;
//! 3. `mark = commit` (the odd value): from here the data may change;
//! 4. the data stores, the generation;
//! 5. `mark = 0`: the commit point, from here the commit stands;
//! 6. every `seq` even, `commit` even.
//!
//! [`Region::recover`] finds, after a writer's death, either a cleared mark
//! (the commit stands, or never touched the data: counters made even) or
//! `mark == commit`, odd (the data may be half written: each variable whose
//! counter is odd gets its old bytes back from the journal, then the
//! counters are made even).
//!
//! # Ordering
//!
//! A writer process dies at an instruction boundary: every store it
//! executed reaches memory (a store buffer drains, it is not discarded),
//! none after. The kernel releases the dead writer's lock only after the
//! process is gone, and the next writer reads the region after taking that
//! lock, so it sees exactly a program-order prefix of the dead writer's
//! stores, *provided the compiler emitted them in program order* (the
//! hardware's reordering only matters to readers running at the same time).
//! The fences below are what keep the compiler (and, for live readers, the
//! hardware) from moving one group of stores past the next:
//!
//! - the release fence after step 1 (already there for readers) keeps the
//!   odd counters before the journal and data stores: a mark or a changed
//!   byte implies odd counters;
//! - a release fence between 2 and 3: the mark implies the whole old copy;
//! - a release fence between 3 and 4: a changed data byte implies the mark;
//! - the mark's clearing in 5 is a release store: the mark cleared implies
//!   every data store and the generation;
//! - the counters' even stores in 6 are release stores: an even counter
//!   implies the cleared mark.
//!
//! A commit that dies before step 3 changed no data byte (the prefix ends
//! before 4), so rolling forward loses nothing; one that dies between 3 and
//! 5 finds its old bytes complete in the journal; one that dies after 5
//! finds all of its data. Readers never look at the journal or the mark:
//! for them the protocol is the seqlock of [`crate::sync`], unchanged. A
//! recovery that dies is itself repaired by the next: it clears the mark
//! only after the restore, so a second recovery restores again from the
//! same journal.
//!
//! Bytes of the data area that lie in no variable (padding) are not
//! journaled: a commit of raw ranges that covers them may leave them new.
//! No variable is made of them.

use super::{Recovery, Region};
use crate::schema::{VarId, Variable};
use crate::sync::{self, AtomicU32, Ordering, WORD};

impl Region<'_> {
    /// Steps 2 and 3 of a commit: copies the touched variables' bytes into
    /// the journal and marks it. False, doing nothing, for a region without
    /// a journal.
    pub(super) fn journal_old(&self, touched: &mut dyn Iterator<Item = VarId>) -> bool {
        if self.journal.is_empty() {
            return false;
        }
        for id in touched {
            if let Some(var) = self.schema.get(id) {
                copy_words(self.data, self.journal, var);
            }
        }
        sync::write_fence();
        self.mark
            .store(self.commit.load(Ordering::Relaxed), Ordering::Relaxed);
        sync::write_fence();
        true
    }

    /// Step 5 of a commit: the commit point.
    pub(super) fn clear_mark(&self) {
        self.mark.store(0, Ordering::Release);
    }

    /// Repairs what a writer that died mid-write left behind. In a journaled
    /// region whose mark names the interrupted commit, every variable whose
    /// counter is odd gets its old bytes back from the journal, so the
    /// commit is undone as a whole (also for
    /// [`write_many`](Self::write_many) and
    /// [`write_ranges`](Self::write_ranges)); otherwise the commit had
    /// passed its commit point (or the region has no journal) and its bytes
    /// stand. Then every odd counter is made even and, if any was odd, the
    /// generation is bumped so that every observer rescans. Call it after
    /// taking the writer lock.
    pub fn recover(&self) -> Recovery {
        let mut report = Recovery::default();
        let commit = self.commit.load(Ordering::Relaxed);
        report.commit = commit & 1 == 1;
        let mark = self.mark.load(Ordering::Relaxed);
        let roll_back = report.commit && mark == commit && !self.journal.is_empty();
        for (i, var) in (0u32..).zip(self.schema.variables()) {
            let Some(seq) = self.seq_word(VarId(i)) else {
                continue;
            };
            if seq.load(Ordering::Relaxed) & 1 == 1 {
                report.variables += 1;
                if roll_back {
                    copy_words(self.journal, self.data, var);
                    report.rolled_back += 1;
                }
            }
        }
        if mark != 0 {
            // The restore is complete before the mark goes: a recovery that
            // dies here is redone from the same journal.
            self.clear_mark();
        }
        for i in 0..self.geo.variable_count {
            if let Some(seq) = self.seq_word(VarId(i)) {
                if seq.load(Ordering::Relaxed) & 1 == 1 {
                    sync::write_end(seq);
                }
            }
        }
        if report.repaired() {
            let generation = self.load_generation().wrapping_add(1);
            if !report.commit {
                sync::write_begin(self.commit);
            }
            sync::write_fence();
            self.store_generation(generation);
            sync::write_end(self.commit);
        }
        report.generation = self.load_generation();
        report
    }
}

/// Copies the words that hold `var` from `from` to `to` (the data area and
/// the journal, which share offsets). Whole words: the neighbours' bytes in
/// a shared first or last word travel along, which is harmless both ways,
/// since a commit changes no byte of a variable it does not touch.
fn copy_words(from: &[AtomicU32], to: &[AtomicU32], var: &Variable) {
    let start = var.offset as usize / WORD;
    let end = (var.end() as usize).div_ceil(WORD);
    let (Some(src), Some(dst)) = (from.get(start..end), to.get(start..end)) else {
        return;
    };
    for (s, d) in src.iter().zip(dst) {
        d.store(s.load(Ordering::Relaxed), Ordering::Relaxed);
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
