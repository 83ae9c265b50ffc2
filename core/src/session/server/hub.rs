//! What a [`Server`](super::Server) asks of the hub it runs in: credentials,
//! rights, the regions it serves and the copies of the regions its client
//! publishes; and the adapters through which the connection's publications
//! read and write those regions.

use crate::codec::{ErrorCode, Ranges, RegionInfo, Resume};
use crate::schema::Name;
use crate::session::cache::UpdateCache;
use crate::session::held::Part;
use crate::session::peer_subscriptions::{Sources, UpdateSent, WritableSources};
use crate::session::source::{Access, RegionId, Source};

/// Ranges the default [`Hub::apply_part`] writes per call.
const PART_BATCH: usize = 16;

/// The hub's state that a [`Server`](super::Server) consults: credentials, rights, regions.
///
/// Passed to each call (as smoltcp passes its device), so one hub serves
/// many connections.
pub trait Hub {
    /// The secret key of `client` within `tenant`, if it may connect.
    fn secret(&self, tenant: &str, client: &str) -> Option<&[u8]>;
    /// Whether the hub has a tenant named `tenant`; only tells a refused
    /// login's reason ([`AuthFailure`](crate::session::AuthFailure)) for
    /// the hub's logs, never the client.
    ///
    /// The default says yes: an unknown tenant is then reported as an
    /// unknown client.
    fn knows_tenant(&self, tenant: &str) -> bool {
        let _ = tenant;
        true
    }
    /// What `client` of `tenant` may do with region `region` of its tenant.
    fn access(&self, tenant: &str, client: &str, region: &str) -> Access;
    /// The region named `region` within `tenant`.
    fn resolve(&self, tenant: &str, region: &str) -> Option<RegionId>;
    /// Lists the regions of `tenant` for the welcome of `client`: calls
    /// `visit` with each, in a stable order, until it returns false, and
    /// returns true. The server shows only those [`access`](Self::access)
    /// grants (not [`Access::None`]), as many as fit the client's maximum
    /// frame, so a hub may list every region of the tenant.
    ///
    /// The default lists nothing and returns false: a hub that does not
    /// list its regions, whose welcome then says that its list is
    /// incomplete rather than that the tenant has none.
    fn regions(
        &self,
        tenant: &str,
        client: &str,
        visit: &mut dyn FnMut(RegionInfo) -> bool,
    ) -> bool {
        let _ = (tenant, client, visit);
        false
    }
    /// The region's current state, or `None` if it is gone or cannot be
    /// served (see [`unavailable`](Self::unavailable)).
    fn source(&self, region: RegionId) -> Option<Source<'_>>;
    /// Why a region that [`resolve`](Self::resolve) names has no
    /// [`source`](Self::source): the code and reason of the error that
    /// answers its subscribers, ends their subscriptions when a region
    /// stops being served, and refuses writes to it (for a hub, a region
    /// file it could not open, or one removed, replaced or corrupted).
    ///
    /// The default answers as for a region that does not exist (a
    /// subscription that ends is told "region is gone").
    fn unavailable(&self, region: RegionId) -> (ErrorCode, &'static str) {
        let _ = region;
        (ErrorCode::UnknownRegion, "no such region")
    }
    /// Applies checked byte ranges (inside writable variables, in bounds)
    /// under the region's seqlock and returns the generation that holds
    /// them; the shadow, chunk table and generation must show the change
    /// when `source` is next called. After a write's earlier parts were
    /// kept with [`stage_write`](Self::stage_write), `ranges` is its last
    /// part: apply the ranges kept, then these, in one commit, and forget
    /// the ranges kept whatever the outcome.
    fn apply_write(
        &mut self,
        region: RegionId,
        ranges: &[(usize, &[u8])],
    ) -> Result<u64, ErrorCode>;
    /// Lists the regions `client` of `tenant` publishes to the hub, which
    /// the server subscribes to once the client is welcomed: calls `visit`
    /// with each (the hub's copy, the region's name at the client, and
    /// where the copy stands from an earlier connection, for a delta) until
    /// it returns false. The copy's schema must be the client's.
    ///
    /// The default lists none.
    fn published(
        &self,
        tenant: &str,
        client: &str,
        visit: &mut dyn FnMut(RegionId, Name, Option<Resume>) -> bool,
    ) {
        let _ = (tenant, client, visit);
    }
    /// Writes checked ranges of an update from the client into the hub's
    /// copy `region` (one of those [`published`](Self::published) lists).
    /// The copy then holds `held` of the client's region (for a part of
    /// an update, the generation held before it); remember it as the
    /// resume point of the next connection. `held.generation == 0` means
    /// the copy vouches for nothing: a full update follows.
    ///
    /// The default refuses, closing the connection.
    fn apply_update(
        &mut self,
        region: RegionId,
        ranges: &[(usize, &[u8])],
        held: Resume,
    ) -> Result<(), ErrorCode> {
        let _ = (region, ranges, held);
        Err(ErrorCode::UnexpectedFrame)
    }

    /// Writes a part of an update from the client (its ranges checked) into
    /// the hub's copy `region`. A hub with room for the parts before the
    /// last ([`crate::session::HeldParts`] says what they are) holds them
    /// and writes the whole update with the last one, as one commit of the
    /// copy; then the copy holds `part.generation`.
    ///
    /// The default holds nothing: it writes the part through
    /// [`apply_update`](Self::apply_update), 16 ranges at a time, all but
    /// the last batch at `part.held` (the copy vouches for no newer
    /// generation before the update is whole).
    fn apply_part(
        &mut self,
        region: RegionId,
        ranges: Ranges<'_>,
        part: Part,
    ) -> Result<(), ErrorCode> {
        let mut batch: [(usize, &[u8]); PART_BATCH] = [(0, &[]); PART_BATCH];
        let (mut n, mut wrote) = (0, false);
        for span in ranges.iter() {
            if let Some(slot) = batch.get_mut(n) {
                *slot = (span.range().start, span.bytes);
                n += 1;
            }
            if n == PART_BATCH {
                self.apply_update(region, &batch, part.held)?;
                (n, wrote) = (0, true);
            }
        }
        let rest = batch.get(..n).unwrap_or(&[]);
        if rest.is_empty() && (wrote || !part.last) && part.generation == part.held.generation {
            return Ok(());
        }
        let held = Resume {
            generation: part.generation,
            ..part.held
        };
        self.apply_update(region, rest, held)
    }

    /// A write of the client was answered at once: applied at a
    /// generation, or refused with a code, by the session's checks (rights,
    /// names, bounds) or by [`apply_write`](Self::apply_write). A deferred
    /// write is not reported here: the hub answers it itself. For a hub's
    /// counters.
    ///
    /// The default does nothing.
    fn write_answered(&mut self, outcome: Result<u64, ErrorCode>) {
        let _ = outcome;
    }

    /// A part of an update of `region` was sent to the client (not a
    /// schema part): its size, whether it was the update's last, and
    /// whether the update is full or a delta. Called once per frame while
    /// transmitting; for a hub's counters, so keep it to a few atomic adds.
    ///
    /// The default does nothing.
    fn update_sent(&self, region: RegionId, part: UpdateSent) {
        let _ = (region, part);
    }

    /// Takes a checked write (as [`apply_write`](Self::apply_write) gets it)
    /// to answer later, with [`Server::answer_write`](super::Server::answer_write) and the same
    /// `request`: for a region whose bytes another peer owns (a region a
    /// client publishes, whose writes the hub forwards to it). Answers are
    /// sent in order, so a deferred one holds back those after it. Return
    /// false to have `apply_write` called at once.
    ///
    /// The ranges kept with [`stage_write`](Self::stage_write) come
    /// first, as for `apply_write`.
    ///
    /// The default defers nothing.
    fn defer_write(&mut self, region: RegionId, ranges: &[(usize, &[u8])], request: u32) -> bool {
        let _ = (region, ranges, request);
        false
    }
    /// Keeps checked byte ranges of one part of a write the client sends
    /// in parts (frames with a [`WriteTarget::Part`] target), ascending
    /// after those kept before, until its last part comes to
    /// [`apply_write`](Self::apply_write) or
    /// [`defer_write`](Self::defer_write), which apply them all as one
    /// write. One write in parts is open per connection at a time. An error
    /// refuses the write (the session then calls
    /// [`drop_staged`](Self::drop_staged)): `LimitExceeded` when the ranges
    /// kept would pass the hub's bound on what one connection holds.
    ///
    /// The default keeps nothing and refuses with `LimitExceeded`: such a
    /// hub takes writes that fit one frame.
    ///
    /// [`WriteTarget::Part`]: crate::codec::WriteTarget::Part
    fn stage_write(
        &mut self,
        region: RegionId,
        ranges: &[(usize, &[u8])],
    ) -> Result<(), ErrorCode> {
        let _ = (region, ranges);
        Err(ErrorCode::LimitExceeded)
    }
    /// Forgets the ranges [`stage_write`](Self::stage_write) kept: their
    /// write was refused or the client sent another before its last part.
    fn drop_staged(&mut self) {}
    /// The region's update parts shared between connections, so that each
    /// part is encoded once for every subscriber due it (see
    /// [`UpdateCache`]). The default shares nothing: each connection
    /// encodes its own.
    fn cache(&self, region: RegionId) -> Option<&dyn UpdateCache> {
        let _ = region;
        None
    }
}

/// Why a region a subscription was made to has no source now: the hub's
/// reason, or "region is gone" from a hub that has none.
fn gone<H: Hub + ?Sized>(hub: &H, region: RegionId) -> (ErrorCode, &'static str) {
    match hub.unavailable(region) {
        (ErrorCode::UnknownRegion, _) => (ErrorCode::UnknownRegion, "region is gone"),
        known => known,
    }
}

/// A hub's regions, read by the publishing half of a connection.
pub(super) struct HubSources<'h, H: ?Sized>(pub(super) &'h H);

impl<H: Hub + ?Sized> Sources for HubSources<'_, H> {
    fn source(&self, region: RegionId) -> Option<Source<'_>> {
        self.0.source(region)
    }

    fn gone(&self, region: RegionId) -> (ErrorCode, &'static str) {
        gone(self.0, region)
    }

    fn cache(&self, region: RegionId) -> Option<&dyn UpdateCache> {
        self.0.cache(region)
    }

    fn update_sent(&self, region: RegionId, part: UpdateSent) {
        self.0.update_sent(region, part);
    }
}

/// A hub's regions, read and written by the publishing half.
pub(super) struct HubWritable<'h, H: ?Sized>(pub(super) &'h mut H);

impl<H: Hub + ?Sized> Sources for HubWritable<'_, H> {
    fn source(&self, region: RegionId) -> Option<Source<'_>> {
        self.0.source(region)
    }

    fn gone(&self, region: RegionId) -> (ErrorCode, &'static str) {
        gone(&*self.0, region)
    }
}

impl<H: Hub + ?Sized> WritableSources for HubWritable<'_, H> {
    fn apply_write(
        &mut self,
        region: RegionId,
        ranges: &[(usize, &[u8])],
    ) -> Result<u64, ErrorCode> {
        self.0.apply_write(region, ranges)
    }

    fn defer_write(&mut self, region: RegionId, ranges: &[(usize, &[u8])], request: u32) -> bool {
        self.0.defer_write(region, ranges, request)
    }

    fn stage_write(
        &mut self,
        region: RegionId,
        ranges: &[(usize, &[u8])],
    ) -> Result<(), ErrorCode> {
        self.0.stage_write(region, ranges)
    }

    fn drop_staged(&mut self) {
        self.0.drop_staged();
    }
}
