//! The hub's subscriptions to the regions this client publishes (its
//! [`OwnRegions`], handed over by the observer): the subscribe, the acks
//! and the hub's writes. The client sends them through the same
//! publications a hub sends its own regions through.

use super::state::Inner;
use crate::codec::{Ack, ErrorCode, Subscribe, Write};
use crate::session::event::Observer;
use crate::session::link::Control;
use crate::session::own_region::OwnRegions;
use crate::session::source::{Access, RegionId, Source};

impl<'a, const SUBS: usize> Inner<'a, SUBS> {
    /// The hub subscribes to a region this client publishes.
    pub(super) fn on_subscribe<O: Observer<'a> + ?Sized>(
        &mut self,
        s: &Subscribe<'_>,
        observer: &mut O,
    ) {
        let name = match s.path.split_once('/') {
            Some((tenant, name)) if tenant == self.config.tenant => Some(name),
            Some(_) => None,
            None => Some(s.path),
        };
        let found = observer.published().and_then(|regions| {
            let id = regions.lookup(name?)?;
            let source = regions.source(id)?;
            Some(self.peer_subs.add(s, id, Access::ReadWrite, &source))
        });
        let refused = match found {
            Some(Ok(())) => return,
            Some(Err(refused)) => refused,
            None => (ErrorCode::UnknownRegion, "no such region"),
        };
        self.link.push(Control::Error {
            code: refused.0,
            handle: Some(s.handle),
            reason: refused.1,
        });
    }

    pub(super) fn on_published_ack<O: Observer<'a> + ?Sized>(&mut self, a: Ack, observer: &mut O) {
        let mut none = NoRegions;
        let regions: &mut dyn OwnRegions = observer.published().unwrap_or(&mut none);
        self.peer_subs.on_ack(a.handle, a.generation, regions);
    }

    pub(super) fn on_published_write<O: Observer<'a> + ?Sized>(
        &mut self,
        w: &Write<'_>,
        observer: &mut O,
    ) {
        let mut none = NoRegions;
        let regions: &mut dyn OwnRegions = observer.published().unwrap_or(&mut none);
        if !self.peer_subs.on_write(w, regions) {
            self.link
                .fail(ErrorCode::LimitExceeded, None, "too many writes unanswered");
        }
    }
}

/// Publishes nothing.
pub(super) struct NoRegions;

impl OwnRegions for NoRegions {
    fn lookup(&self, _: &str) -> Option<RegionId> {
        None
    }

    fn source(&self, _: RegionId) -> Option<Source<'_>> {
        None
    }

    fn apply_write(&mut self, _: RegionId, _: &[(usize, &[u8])]) -> Result<u64, ErrorCode> {
        Err(ErrorCode::UnknownRegion)
    }
}
