//! Noticing that a served file was removed, renamed, replaced or changed,
//! and taking up its successor.
//!
//! - [`Served::check`]: does the region's name still lead to the file
//!   served, with the bytes fixed at creation unchanged
//!   ([`TurnWriter::check`](crate::shm::TurnWriter::check): a `stat` of the
//!   name and a comparison of the header and table)? The scanner asks every
//!   `SCAN_WAKE` (`scan.rs`), a remote write before it is applied.
//!   Removed, renamed or changed: the region becomes unavailable. Replaced:
//!   the new file is taken up at once if it is valid, else the region
//!   becomes unavailable.
//! - [`Served::mark_unavailable`]: stop serving a file, for a reason; every
//!   listener is told, so subscribers get an error frame that names it.
//!   A file found truncated under the hub's mapping (by a scan, a wait or
//!   a remote write) goes this way too ([`Served::drop_truncated`]).
//! - [`Served::retake`]: while unavailable, the scanner tries to open the
//!   name again (never creating it) every `SCAN_WAKE`; a valid file of the
//!   region's schema is served as a new instance, and subscribers resync.

use std::sync::{Arc, PoisonError};

use super::region::{Opened, Served, State};
use super::unavailable::{Unavailable, reason};
use crate::shm::ShmError;

impl Served {
    /// Checks the file served now (see the module docs); `Err` with the
    /// reason when, after the check, no file is served. The caller `waits`
    /// for busy listeners only when it holds no session itself.
    pub(crate) fn check(&self, waits: bool) -> Result<(), &'static str> {
        let Some(opened) = self.opened() else {
            return Err(self.unavailable().unwrap_or("region unavailable"));
        };
        let error = match opened.writer.check() {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if matches!(error, ShmError::Replaced { .. }) {
            match self.open_file() {
                Ok(next) => {
                    tracing::warn!(region = %self.path(), file = %self.file.display(), "region file replaced: serving the new file as a new instance");
                    self.swap(Some(&opened), State::Open(Arc::new(next)), waits);
                    return Ok(());
                }
                Err(e) => {
                    self.mark_unavailable(&opened, &e, waits);
                    return Err(reason(&e));
                }
            }
        }
        self.mark_unavailable(&opened, &error, waits);
        Err(reason(&error))
    }

    /// While no file is served: opens the region's name and serves the file
    /// if it is valid, else keeps (and logs, when it changed) the reason.
    pub(crate) fn retake(&self) {
        match self.open_file() {
            Ok(opened) => {
                let instance = opened.reader().instance();
                if self.swap(None, State::Open(Arc::new(opened)), true) {
                    tracing::info!(region = %self.path(), file = %self.file.display(), instance, "region served again: a valid file has its name");
                }
            }
            Err(e) => {
                if self.unavailable() != Some(reason(&e)) {
                    let broken = Unavailable::new(&self.path(), &e);
                    self.swap(None, State::Unavailable(broken), true);
                }
            }
        }
    }

    /// Stops serving `opened`, if it is still the file served, because of
    /// `error` (logged): its subscribers are told, remote writes refused,
    /// and the scanner takes the region up again once a valid file has its
    /// name. Any part of the hub that finds a served file unusable calls
    /// this with the file it found so.
    pub(crate) fn mark_unavailable(&self, opened: &Arc<Opened>, error: &ShmError, waits: bool) {
        let broken = if self.discovered && matches!(error, ShmError::Removed { .. }) {
            Unavailable::dropped(&self.path(), error)
        } else {
            Unavailable::new(&self.path(), error)
        };
        self.swap(Some(opened), State::Unavailable(broken), waits);
    }

    /// Stops serving `opened` if `error` says its file was truncated under
    /// its mapping (`shm/sigbus.rs`): that mapping is never used again, and
    /// the region is taken up anew, with a fresh mapping and scanner, once
    /// a valid file has its name.
    pub(crate) fn drop_truncated(&self, opened: &Arc<Opened>, error: &ShmError, waits: bool) {
        if matches!(error, ShmError::Truncated { .. }) {
            self.mark_unavailable(opened, error, waits);
        }
    }

    /// Opens the file the region's name leads to now, never creating one.
    fn open_file(&self) -> Result<Opened, ShmError> {
        Opened::open(
            &self.root,
            &self.path(),
            self.declared(),
            self.chunk,
            self.encode_once,
        )
    }

    /// Moves to `next` if the region still serves `from` (`None`: still
    /// serves no file) and is not retired, and tells every listener.
    /// Whether it moved.
    fn swap(&self, from: Option<&Arc<Opened>>, next: State, waits: bool) -> bool {
        {
            let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
            // Checked under the lock `retire` takes: a retired region
            // stays retired.
            if self.retired() {
                return false;
            }
            let current = match (&*state, from) {
                (State::Open(now), Some(from)) => Arc::ptr_eq(now, from),
                (State::Unavailable(_), None) => true,
                _ => false,
            };
            if !current {
                return false;
            }
            // A new file is a new copy of a published region: the
            // publisher's next connection sends it whole.
            self.forget_held();
            *state = next;
        }
        self.tell(waits);
        true
    }
}
