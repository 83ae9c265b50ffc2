//! The mirror side of a connection: handshake, subscriptions, writes, and
//! the hub's subscriptions to the regions the client publishes.
//!
//! - `mod.rs`: [`Client`], the calls its caller makes;
//! - `config.rs`: [`ClientConfig`];
//! - `state.rs`: the connection's state, and the order in which it takes
//!   frames and fills the transmit buffer;
//! - `handshake.rs`: hello, proof, welcome;
//! - `slot.rs`, `subscriptions.rs`: one subscription slot, and the client's
//!   subscriptions over them;
//! - `hub_subscriptions.rs`: the hub's subscriptions to the client's own
//!   regions.

mod config;
mod handshake;
mod hub_subscriptions;
mod slot;
mod state;
mod subscriptions;

pub use self::config::ClientConfig;
pub use self::subscriptions::SubscribeError;

use self::hub_subscriptions::NoRegions;
use self::state::{Handshake, Inner};
use crate::Region;
use crate::codec::{
    AccumulateError, ErrorCode, Feed, FrameAccumulator, MIN_FRAME, Resume, WriteParts,
};
use crate::session::event::{Event, Handle, Observer};
use crate::session::link::{Phase as LinkPhase, Stats};
use crate::session::own_region::OwnRegions;
use crate::session::subscriber::{Phase, Subscriber};
use crate::session::writes::{WriteError, WriteRequest};
use crate::time::Instant;

/// The mirror side of one connection to a hub: `SUBS` subscriptions at
/// most, frames of up to `RX` bytes received.
///
/// Mirrors are caller memory laid out with the schema the caller expects
/// ([`Region`]); the session writes updates into them with the region's
/// seqlock, so local readers never see a torn variable.
pub struct Client<'a, const SUBS: usize, const RX: usize> {
    rx: FrameAccumulator<RX>,
    inner: Inner<'a, SUBS>,
}

impl<'a, const SUBS: usize, const RX: usize> Client<'a, SUBS, RX> {
    /// A client that starts its handshake at `now`: the hello is the first
    /// thing [`poll_transmit`](Self::poll_transmit) writes.
    pub fn new(now: Instant, config: ClientConfig<'a>) -> Self {
        let max = usize::try_from(config.max_frame)
            .unwrap_or(usize::MAX)
            .clamp(MIN_FRAME as usize, RX.max(MIN_FRAME as usize));
        let config = ClientConfig {
            max_frame: u32::try_from(max).unwrap_or(u32::MAX),
            ..config
        };
        Client {
            rx: FrameAccumulator::length_prefix(max),
            inner: Inner::new(now, config),
        }
    }

    /// Starts mirroring the region at `path` (`tenant/region` or `region`)
    /// into `mirror`, which must be laid out with the schema the caller
    /// expects. With `resume` (from [`resume_point`](Self::resume_point) of
    /// an earlier connection, naming the generation the mirror holds) the
    /// hub sends a delta when the region instance is unchanged.
    pub fn subscribe(
        &mut self,
        path: &str,
        mirror: Region<'a>,
        resume: Option<Resume>,
    ) -> Result<Handle, SubscribeError> {
        self.inner.add(path, Some(Subscriber::new(mirror, resume)))
    }

    /// Starts a subscription to the region at `path` without knowing its
    /// schema: the hub sends the variable table in schema parts, which
    /// [`handle_input_with`](Self::handle_input_with) shows to its
    /// [`Observer`]. Once the observer returns a mirror built from the
    /// table, the subscription goes on like one made with
    /// [`subscribe`](Self::subscribe), with no extra round trip. Updates
    /// that arrive before that are ignored. A later connection subscribes
    /// with [`subscribe`](Self::subscribe) and the mirror, to resume.
    pub fn subscribe_described(&mut self, path: &str) -> Result<Handle, SubscribeError> {
        self.inner.add(path, None)
    }

    /// Asks that every update of subscription `handle` be full (the whole
    /// data area), for a consumer that keeps no state between updates.
    /// Call it right after [`subscribe`](Self::subscribe) or
    /// [`subscribe_described`](Self::subscribe_described), before the
    /// subscribe is sent; false when it was sent already or `handle` names
    /// no subscription. A hub that predates the option refuses the
    /// subscribe as malformed (`spec/wire-format.md`).
    pub fn always_full(&mut self, handle: Handle) -> bool {
        match self.inner.slot_mut(handle).filter(|s| s.subscribe_due) {
            Some(slot) => {
                slot.full = true;
                if let Some(sub) = slot.sub.as_mut() {
                    sub.follow.always_full = true;
                }
                true
            }
            None => false,
        }
    }

    /// Stops a subscription; its mirror keeps what it holds.
    pub fn unsubscribe(&mut self, handle: Handle) {
        if let Some(slot) = self.inner.slot_mut(handle) {
            if slot.subscribe_due {
                // Never sent: nothing to undo.
                self.inner.free(handle);
            } else {
                slot.gone = None;
                slot.unsubscribe_due = true;
            }
        }
    }

    /// Where a subscription's mirror stands (the publisher's region instance
    /// and the generation held), once its schema has been checked: pass it
    /// to [`subscribe`](Self::subscribe) on the next connection to get a
    /// delta.
    pub fn resume_point(&self, handle: Handle) -> Option<Resume> {
        self.inner
            .subs
            .get(usize::from(handle.0))?
            .as_ref()?
            .sub
            .as_ref()?
            .follow
            .resume_point()
    }

    /// Asks the hub for a full copy of subscription `handle`'s region (an
    /// Ack of generation 0, as a mirror sends after an anomaly): until it
    /// arrives, reported as [`Event::Updated`] with `resynced`, the mirror
    /// keeps its bytes but holds generation 0. False when `handle` names no
    /// live subscription whose schema is in.
    pub fn resync(&mut self, handle: Handle) -> bool {
        let Some(sub) = self
            .inner
            .slot_mut(handle)
            .filter(|s| s.gone.is_none() && !s.unsubscribe_due)
            .and_then(|s| s.sub.as_mut())
            .filter(|sub| sub.follow.phase == Phase::Live)
        else {
            return false;
        };
        match sub.ask_full() {
            Ok(()) => true,
            Err(fatal) => {
                self.inner.link.fail(fatal.code, None, fatal.reason);
                false
            }
        }
    }

    /// Asks the hub to write to the region of subscription `handle`; the
    /// answer comes as [`Event::WriteApplied`] or [`Event::WriteRefused`]
    /// with the returned request id. The mirror changes when the hub's
    /// update arrives.
    pub fn write(&mut self, handle: Handle, request: WriteRequest<'_>) -> Result<u32, WriteError> {
        let data_len = self.writable_len(handle)?;
        let inner = &mut self.inner;
        inner
            .writes
            .push(handle.0, request, data_len, inner.peer_max)
    }

    /// Asks the hub to write `ranges` (`(offset, bytes)`, ascending, not
    /// overlapping, not empty) to the region of subscription `handle`,
    /// however many bytes they hold: the returned encoder writes them from
    /// `ranges`, one frame at a time, into the caller's buffer (of the
    /// hub's maximum frame plus 5 bytes). One frame when the write fits one,
    /// else parts the hub applies together, in one commit, once the last
    /// arrives. The answer comes as for [`write`](Self::write), with
    /// [`WriteParts::request`].
    ///
    /// Send every frame, in order and whole, before the next
    /// [`poll_transmit`](Self::poll_transmit): until its last part arrives
    /// the hub takes no other write, and a write left unfinished is never
    /// applied or answered.
    pub fn write_parts<'w>(
        &mut self,
        handle: Handle,
        ranges: &'w [(usize, &'w [u8])],
    ) -> Result<WriteParts<'w>, WriteError> {
        let data_len = self.writable_len(handle)?;
        let inner = &mut self.inner;
        inner
            .writes
            .push_parts(handle.0, ranges, data_len, inner.peer_max)
    }

    /// The data area's length of live subscription `handle`, which a write
    /// may go to.
    fn writable_len(&self, handle: Handle) -> Result<usize, WriteError> {
        let inner = &self.inner;
        if !inner.link.is_open() || inner.handshake != Handshake::Open {
            return Err(WriteError::NotReady);
        }
        let slot = inner
            .subs
            .get(usize::from(handle.0))
            .and_then(Option::as_ref)
            .filter(|s| s.gone.is_none() && !s.unsubscribe_due)
            .ok_or(WriteError::UnknownHandle)?;
        let sub = slot
            .sub
            .as_ref()
            .filter(|sub| sub.follow.phase == Phase::Live)
            .ok_or(WriteError::NotReady)?;
        Ok(sub.mirror.data_len())
    }

    /// Sends an orderly close.
    pub fn close(&mut self) {
        self.inner.link.close();
    }

    /// Takes bytes read from the stream, split in any way.
    pub fn handle_input(&mut self, now: Instant, bytes: &[u8]) {
        self.handle_input_with(now, bytes, &mut ());
    }

    /// Takes bytes read from the stream, split in any way, and shows
    /// `observer` what it borrows from them: the welcome's region list and
    /// the schema parts of described subscriptions.
    pub fn handle_input_with<O: Observer<'a> + ?Sized>(
        &mut self,
        now: Instant,
        bytes: &[u8],
        observer: &mut O,
    ) {
        let mut input = bytes;
        while self.inner.link.is_open() {
            match self.rx.feed(input) {
                Feed::Pending => break,
                Feed::Frame { body, rest } => {
                    input = rest;
                    self.inner.on_frame(now, body, observer);
                }
                Feed::Error { error, .. } => {
                    let (code, reason) = framing_error(error);
                    self.inner.link.fail(code, None, reason);
                    break;
                }
            }
        }
    }

    /// Writes framed bytes to send into `buf` and returns their length, or
    /// `None` when there is nothing to send.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        self.poll_transmit_with(now, buf, &mut ())
    }

    /// [`poll_transmit`](Self::poll_transmit), serving the hub's
    /// subscriptions to the regions `observer` publishes
    /// ([`Observer::published`]): their schema and updates.
    pub fn poll_transmit_with<O: Observer<'a> + ?Sized>(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        observer: &mut O,
    ) -> Option<usize> {
        let mut none = NoRegions;
        let regions: &mut dyn OwnRegions = match observer.published() {
            Some(regions) => regions,
            None => &mut none,
        };
        let n = self.inner.transmit(now, buf, regions);
        (n > 0).then_some(n)
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.inner.link.poll_timeout()
    }

    /// Fires the timers due at `now`: handshake deadline, keep-alive ping,
    /// dead-peer timeout.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.inner.link.handle_timeout(now);
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.inner.poll_event()
    }

    /// Whether the connection is closed: the caller closes the stream once
    /// [`poll_transmit`](Self::poll_transmit) returns `None`.
    pub fn is_closed(&self) -> bool {
        self.inner.link.phase == LinkPhase::Closed
    }

    /// Whether the hub has welcomed the client.
    pub fn is_connected(&self) -> bool {
        self.inner.handshake == Handshake::Open && self.inner.link.is_open()
    }

    /// The session's counters.
    pub fn stats(&self) -> Stats {
        let mut stats = self.inner.link.stats;
        for sub in self
            .inner
            .subs
            .iter()
            .flatten()
            .filter_map(|s| s.sub.as_ref())
        {
            stats.updates += sub.follow.updates;
            stats.resyncs += sub.follow.resyncs;
        }
        let (updates, resyncs) = self.inner.peer_subs.counters();
        stats.updates += updates;
        stats.resyncs += resyncs;
        stats
    }
}

fn framing_error(error: AccumulateError) -> (ErrorCode, &'static str) {
    match error {
        AccumulateError::TooLarge => (ErrorCode::FrameTooLarge, "frame larger than announced"),
        _ => (ErrorCode::Malformed, "bad framing"),
    }
}
