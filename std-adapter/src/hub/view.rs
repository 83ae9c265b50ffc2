//! The hub as one connection's session sees it ([`session::Hub`]): rights
//! from the configuration, and a snapshot of each region the connection
//! looked at, refreshed at most at the subscriber rate. After a reload
//! (`reload.rs`) the view takes the new configuration; its client's
//! subscriptions to regions it may no longer read end, and its writes
//! follow the new rights. The parts of a write larger than a frame wait
//! here, within `limits.max_write` bytes, until the last part applies
//! them all in one commit. So do the parts of an update from the client to
//! a region it publishes: the whole update is one commit of the hub's copy.

use std::cell::{Cell, OnceCell};
use std::collections::HashMap;
use std::sync::{Arc, Weak};

use memwire::codec::{ErrorCode, Ranges, RegionInfo, Resume};
use memwire::schema::Name;
use memwire::session::{self, Access, Part, RegionId, Source, UpdateCache, UpdateSent};
use tokio::sync::mpsc;

use super::forward::{Answer, Forward, Reply};
use super::region::{Listener, Served};
use super::reload::REVOKED;
use super::shadow::Published;
use super::shared::Shared;
use super::unavailable::UNAVAILABLE;
use crate::held::HeldUpdate;

/// The hub as one connection sees it: its own snapshot of each region it
/// looked at, refreshed at most at the subscriber rate.
pub(crate) struct View {
    pub(crate) shared: Arc<Shared>,
    /// The connection this view belongs to, told of every scan that finds
    /// a change in a region the view looked at.
    me: Weak<dyn Listener>,
    /// Where answers to this connection's forwarded writes arrive.
    answers: mpsc::UnboundedSender<Answer>,
    seen: Vec<OnceCell<Arc<Published>>>,
    listening: Vec<Cell<bool>>,
    /// Whether the authenticated client may read, and write, each region
    /// (by index) under the configuration in `shared`; empty before it
    /// authenticated. The session keeps the access a subscription was made
    /// with, so a right a reload took away is enforced here. A region the
    /// client publishes stays readable: the hub's copy of it is read
    /// through this view.
    readable: Vec<bool>,
    writable: Vec<bool>,
    /// The ranges of the parts of a write received so far, each range
    /// joined to the one before it when they touch; and their bytes.
    staged: Vec<(usize, Vec<u8>)>,
    staged_bytes: usize,
    /// The parts so far of the update in progress of each region the
    /// client publishes (by index).
    parts: HashMap<u32, HeldUpdate>,
}

impl View {
    pub(crate) fn new(
        shared: Arc<Shared>,
        me: Weak<dyn Listener>,
        answers: mpsc::UnboundedSender<Answer>,
    ) -> Self {
        let n = shared.regions.len();
        View {
            shared,
            me,
            answers,
            seen: (0..n).map(|_| OnceCell::new()).collect(),
            listening: (0..n).map(|_| Cell::new(false)).collect(),
            readable: Vec::new(),
            writable: Vec::new(),
            staged: Vec::new(),
            staged_bytes: 0,
            parts: HashMap::new(),
        }
    }

    /// Keeps `ranges` after those kept; `LimitExceeded`, keeping nothing
    /// more, when they would pass `limits.max_write`.
    fn keep(&mut self, ranges: &[(usize, &[u8])]) -> Result<(), ErrorCode> {
        let len: usize = ranges.iter().map(|(_, b)| b.len()).sum();
        let total = self.staged_bytes.saturating_add(len);
        if total > self.shared.config.limits.max_write {
            return Err(ErrorCode::LimitExceeded);
        }
        self.staged_bytes = total;
        join(&mut self.staged, ranges);
        Ok(())
    }

    /// Whether the ranges kept and `ranges`, the last part of their write,
    /// pass `limits.max_write`.
    fn too_large(&self, ranges: &[(usize, &[u8])]) -> bool {
        let len: usize = ranges.iter().map(|(_, b)| b.len()).sum();
        !self.staged.is_empty()
            && self.staged_bytes.saturating_add(len) > self.shared.config.limits.max_write
    }

    /// The ranges kept and then `ranges`, all of a write's parts, and
    /// nothing kept any more; `None` when no part was kept.
    fn take_staged(&mut self, ranges: &[(usize, &[u8])]) -> Option<Vec<(usize, Vec<u8>)>> {
        if self.staged.is_empty() {
            return None;
        }
        self.staged_bytes = 0;
        let mut all = std::mem::take(&mut self.staged);
        join(&mut all, ranges);
        Some(all)
    }

    /// The client authenticated as `client` of `tenant`: its rights.
    pub(crate) fn identify(&mut self, tenant: &str, client: &str) {
        let config = &self.shared.config;
        let (readable, writable) = self
            .shared
            .regions
            .iter()
            .map(|r| {
                let access = if r.tenant == tenant {
                    config.access(tenant, client, &r.name)
                } else {
                    Access::None
                };
                let publishes = r.tenant == tenant && r.publisher.as_deref() == Some(client);
                (
                    access != Access::None || publishes,
                    access == Access::ReadWrite,
                )
            })
            .unzip();
        self.readable = readable;
        self.writable = writable;
    }

    /// The hub after a reload: its configuration and regions from now on;
    /// the snapshots of the regions it kept stay. `identity` is the
    /// authenticated client's, whose rights are taken anew.
    pub(crate) fn reload(&mut self, shared: Arc<Shared>, identity: Option<(&str, &str)>) {
        let n = shared.regions.len();
        self.shared = shared;
        self.seen.resize_with(n, OnceCell::new);
        self.listening.resize_with(n, || Cell::new(false));
        if let Some((tenant, client)) = identity {
            self.identify(tenant, client);
        }
    }

    /// Whether the client may no longer read region `index` (a reload took
    /// its right away).
    fn revoked(&self, index: usize) -> bool {
        self.readable.get(index) == Some(&false)
    }

    /// Forgets every snapshot: the next look takes the latest.
    pub(crate) fn refresh(&mut self) {
        for cell in &mut self.seen {
            cell.take();
        }
    }

    /// The region `region` and its index.
    fn served(&self, region: RegionId) -> Result<(usize, &Served), ErrorCode> {
        let index = usize::try_from(region.0).map_err(|_| ErrorCode::UnknownRegion)?;
        let served = self
            .shared
            .regions
            .get(index)
            .ok_or(ErrorCode::UnknownRegion)?;
        Ok((index, served))
    }

    /// Whether a snapshot this connection holds is older than the region's,
    /// of a file the region no longer serves, or of a region now unavailable.
    pub(crate) fn stale(&self) -> bool {
        self.seen.iter().enumerate().any(|(i, cell)| {
            cell.get().is_some_and(|p| {
                self.shared.regions.get(i).is_some_and(|r| {
                    r.published().is_none_or(|now| {
                        now.generation != p.generation || now.instance != p.instance
                    })
                })
            })
        })
    }
}

/// Appends `ranges` (ascending, after those in `kept`) to `kept`, a range
/// that starts where the one before ends joined to it: a range cut across
/// frames is one range again.
fn join(kept: &mut Vec<(usize, Vec<u8>)>, ranges: &[(usize, &[u8])]) {
    for &(offset, bytes) in ranges {
        match kept.last_mut() {
            Some((start, bytes_kept)) if *start + bytes_kept.len() == offset => {
                bytes_kept.extend_from_slice(bytes);
            }
            _ => kept.push((offset, bytes.to_vec())),
        }
    }
}

impl session::Hub for View {
    fn secret(&self, tenant: &str, client: &str) -> Option<&[u8]> {
        self.shared.config.secret(tenant, client)
    }

    fn knows_tenant(&self, tenant: &str) -> bool {
        self.shared.config.tenant(tenant).is_some()
    }

    fn access(&self, tenant: &str, client: &str, region: &str) -> Access {
        self.shared.config.access(tenant, client, region)
    }

    fn resolve(&self, tenant: &str, region: &str) -> Option<RegionId> {
        self.shared.find(tenant, region)
    }

    fn unavailable(&self, region: RegionId) -> (ErrorCode, &'static str) {
        if self.served(region).is_ok_and(|(i, _)| self.revoked(i)) {
            return (ErrorCode::AccessDenied, REVOKED);
        }
        let broken = self.served(region).ok().and_then(|(_, s)| s.unavailable());
        match broken {
            Some(reason) => (UNAVAILABLE, reason),
            None => (ErrorCode::UnknownRegion, "no such region"),
        }
    }

    fn source(&self, region: RegionId) -> Option<Source<'_>> {
        let index = usize::try_from(region.0).ok()?;
        let served = self.shared.regions.get(index)?;
        if self.revoked(index) {
            return None;
        }
        let listening = self.listening.get(index)?;
        if !listening.get() {
            served.listen(&self.me);
            listening.set(true);
        }
        let seen = self.seen.get(index)?;
        if seen.get().is_none() {
            let _ = seen.set(served.published()?);
        }
        seen.get()?.source()
    }

    fn apply_write(
        &mut self,
        region: RegionId,
        ranges: &[(usize, &[u8])],
    ) -> Result<u64, ErrorCode> {
        if self.too_large(ranges) {
            session::Hub::drop_staged(self);
            return Err(ErrorCode::LimitExceeded);
        }
        let staged = self.take_staged(ranges);
        let joined: Vec<(usize, &[u8])>;
        let ranges = match &staged {
            Some(all) => {
                joined = all.iter().map(|(o, b)| (*o, b.as_slice())).collect();
                &joined[..]
            }
            None => ranges,
        };
        let (index, served) = self.served(region)?;
        if self.writable.get(index) == Some(&false) {
            // A reload took the right away since the subscription.
            return Err(ErrorCode::AccessDenied);
        }
        if served.publisher.is_some() || self.shared.publishers.takes(index) {
            // Not forwarded (see `defer_write`): its client is not
            // connected, or the bridge importing it is busy.
            return Err(ErrorCode::Busy);
        }
        // The ranges were checked against the snapshot the session holds.
        let checked = match self.seen.get(index).and_then(OnceCell::get) {
            Some(seen) => seen.schema,
            None => served.published().ok_or(UNAVAILABLE)?.schema,
        };
        let generation = served.write(ranges, checked)?;
        // The session must see its own write at once.
        if let Some(cell) = self.seen.get_mut(index) {
            cell.take();
        }
        Ok(generation)
    }

    fn write_answered(&mut self, outcome: Result<u64, ErrorCode>) {
        self.shared.metrics.write(outcome.map(|_| ()));
    }

    fn update_sent(&self, region: RegionId, part: UpdateSent) {
        // The region's counters sit with the region, an index away.
        if let Ok((_, served)) = self.served(region) {
            self.shared.metrics.update_sent(&served.counts, part);
        }
    }

    fn defer_write(&mut self, region: RegionId, ranges: &[(usize, &[u8])], request: u32) -> bool {
        let Ok((index, served)) = self.served(region) else {
            return false;
        };
        // Not deferred without the right: `apply_write` refuses it.
        let denied = self.writable.get(index) == Some(&false);
        // Refused by `apply_write`, which is called next.
        // A bridge takes the writes to a region it imports (`bridge.rs`).
        let elsewhere = served.publisher.is_some() || self.shared.publishers.takes(index);
        if !elsewhere || denied || self.too_large(ranges) {
            return false;
        }
        let ranges = self
            .take_staged(ranges)
            .unwrap_or_else(|| ranges.iter().map(|&(o, b)| (o, b.to_vec())).collect());
        let forward = Forward {
            region: index,
            ranges,
            reply: Reply::new(self.answers.clone(), request),
        };
        match self.shared.publishers.forward(forward) {
            Ok(()) => true,
            Err(forward) => {
                forward.reply.disarm();
                false
            }
        }
    }

    fn stage_write(
        &mut self,
        region: RegionId,
        ranges: &[(usize, &[u8])],
    ) -> Result<(), ErrorCode> {
        let (index, _) = self.served(region)?;
        if self.writable.get(index) == Some(&false) {
            return Err(ErrorCode::AccessDenied);
        }
        self.keep(ranges)
    }

    fn drop_staged(&mut self) {
        self.staged = Vec::new();
        self.staged_bytes = 0;
    }

    fn cache(&self, region: RegionId) -> Option<&dyn UpdateCache> {
        // The store of the file whose snapshot the session sends from.
        let seen = self.seen.get(usize::try_from(region.0).ok()?)?.get()?;
        seen.parts.as_deref().map(|p| p as &dyn UpdateCache)
    }

    fn published(
        &self,
        tenant: &str,
        client: &str,
        visit: &mut dyn FnMut(RegionId, Name, Option<Resume>) -> bool,
    ) {
        for (index, served) in self.shared.regions.iter().enumerate() {
            if served.retired()
                || served.tenant != tenant
                || served.publisher.as_deref() != Some(client)
            {
                continue;
            }
            let (Ok(id), Ok(name)) = (u32::try_from(index), Name::new(&served.name)) else {
                continue;
            };
            if !visit(RegionId(id), name, served.held()) {
                break;
            }
        }
    }

    fn apply_update(
        &mut self,
        region: RegionId,
        ranges: &[(usize, &[u8])],
        held: Resume,
    ) -> Result<(), ErrorCode> {
        let (index, served) = self.served(region)?;
        served.copy(ranges, held)?;
        if let Some(cell) = self.seen.get_mut(index) {
            cell.take();
        }
        Ok(())
    }

    /// Parts before the last are held; the last writes the whole update
    /// as one commit of the copy, so that no reader of the region's file
    /// and no subscriber of it sees a client's update half applied.
    fn apply_part(
        &mut self,
        region: RegionId,
        ranges: Ranges<'_>,
        part: Part,
    ) -> Result<(), ErrorCode> {
        let mut held = self.parts.remove(&region.0).unwrap_or_default();
        if part.first {
            held.clear();
        }
        if !part.last {
            held.hold(ranges);
            self.parts.insert(region.0, held);
            return Ok(());
        }
        let resume = Resume {
            generation: part.generation,
            ..part.held
        };
        let applied = self.apply_update(region, &held.with(ranges), resume);
        held.clear();
        self.parts.insert(region.0, held);
        applied
    }

    fn regions(
        &self,
        tenant: &str,
        _client: &str,
        visit: &mut dyn FnMut(RegionInfo) -> bool,
    ) -> bool {
        // The server filters by access; listing the tenant's regions is enough.
        for served in self.shared.regions.iter().filter(|r| r.tenant == tenant) {
            // An unavailable region is not listed: it has no instance.
            let (Ok(name), Some(published)) = (Name::new(&served.name), served.published()) else {
                continue;
            };
            let info = RegionInfo {
                name,
                instance: published.instance,
            };
            if !visit(info) {
                break;
            }
        }
        true
    }
}
