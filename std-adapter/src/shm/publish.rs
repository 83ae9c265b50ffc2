//! Publishing marks: a writer says that the region, as of its current
//! generation, is a consistent set of changes ([`ShmWriter::publish`]);
//! a hub serving the region with the `manual` publish policy sends
//! subscribers only such marked states (`docs/hub.md`, "Publish
//! policies"). The mark is the header's published generation
//! (`spec/region-layout.md`); waiters sleep on its low half, which a
//! mark wakes, so marks wake no reader of the data and commits wake no
//! waiter for marks.

use std::time::{Duration, Instant};

use memwire::sync::Ordering;

use super::error::ShmError;
use super::notify::{self, Futex, Waiters};
use super::reader::{FILE_CHECK, ShmRegion, remaining, remaining_before_check};
use super::writer::ShmWriter;

impl<T> ShmWriter<T> {
    /// Marks the region, as of the last commit, as a consistent set of
    /// changes and returns its generation: a hub serving the region with
    /// the `manual` publish policy sends its subscribers this state, one
    /// update however many commits led to it. Commits made before the hub
    /// has copied the marked state make it skip that mark; the next mark
    /// carries its changes. Costs no commit and wakes no reader of the
    /// data.
    pub fn publish(&self) -> Result<u64, ShmError> {
        let reader = self.reader();
        let live = reader.region();
        let generation = reader.intact(live.publish().map_err(ShmError::Access))?;
        if let Some(word) = live.published_word() {
            let _ = notify::os().wake(word, Waiters::ALL);
        }
        Ok(generation)
    }
}

impl<T> ShmRegion<T> {
    /// The generation the writer last marked with
    /// [`ShmWriter::publish`] (0 before its first mark).
    pub fn published(&self) -> Result<u64, ShmError> {
        self.intact(Ok(self.region().published()))
    }

    /// Blocks until the published generation differs from `since` and
    /// returns it, or `None` after `timeout` (`None`: no timeout).
    pub(crate) fn wait_for_publish(
        &self,
        since: u64,
        timeout: Option<Duration>,
    ) -> Result<Option<u64>, ShmError> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let live = self.region();
        let Some(word) = live.published_word() else {
            return Ok(None);
        };
        self.check_file()?;
        loop {
            // The word before the mark: a mark after this load moves the
            // word (its low half changes with every mark that moves it),
            // so the sleep below returns at once.
            let seen = word.load(Ordering::Acquire);
            let published = self.published()?;
            if published != since {
                return Ok(Some(published));
            }
            // A truncated file's word is no longer the file's: sleep at
            // most FILE_CHECK at a time and check the file after each.
            let check_at = Instant::now() + FILE_CHECK;
            match remaining_before_check(deadline, check_at) {
                Some(left) => notify::os().wait(word, seen, left, Waiters::ALL),
                None if remaining(deadline).is_none() => return Ok(None),
                None => {}
            }
            self.check_file()?;
        }
    }
}
