//! The mirror side of a connection: handshake, subscriptions, writes.

mod handshake;
mod publishing;
mod slot;
mod writes;

use core::fmt;

use heapless::{Deque, Vec};

use self::handshake::{HELLO_MAX, Handshake};
use self::publishing::NoRegions;
use self::slot::Slot;
use super::event::{Event, Observer};
use super::link::{Link, Phase as LinkPhase};
use super::published::Regions;
use super::serving::{PeerLimits, Serving};
use super::subscriber::{Phase, Subscriber};
use super::writes::{WRITES_MAX, Writes};
use super::{Handle, Stats};
use crate::Region;
use crate::codec::{AccumulateError, ErrorCode, Feed, Frame, FrameAccumulator, MIN_FRAME, Resume};
use crate::time::{Duration, Instant};

/// Connection-level events waiting to be polled (write results and the
/// connected event; per-subscription events live in the subscription).
const EVENTS: usize = WRITES_MAX + 2;

/// How a [`Client`] introduces itself and what it can take.
#[derive(Clone, Copy, Debug)]
pub struct ClientConfig<'a> {
    /// A free-form name for the hub's logs, at most 64 bytes.
    pub name: &'a str,
    /// The tenant to authenticate for.
    pub tenant: &'a str,
    /// The client's secret key within the tenant.
    pub secret: &'a [u8],
    /// The largest frame body the client takes (capped at the receive
    /// buffer `RX`; at least 128).
    pub max_frame: u32,
    /// Ping when nothing was sent for this long (the hub's keep-alive is
    /// used when shorter).
    pub keepalive: Duration,
    /// Close when nothing was heard for this long (the hub's timeout is used
    /// when shorter).
    pub timeout: Duration,
    /// Close when the hub has not welcomed the client by then.
    pub handshake: Duration,
}

impl<'a> ClientConfig<'a> {
    /// A configuration with the defaults: frames as large as the receive
    /// buffer, a ping after 5 s of silence, a 15 s dead-peer timeout, a 10 s
    /// handshake deadline.
    pub const fn new(name: &'a str, tenant: &'a str, secret: &'a [u8]) -> Self {
        ClientConfig {
            name,
            tenant,
            secret,
            max_frame: u32::MAX,
            keepalive: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
            handshake: Duration::from_secs(10),
        }
    }
}

/// Why [`Client::subscribe`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum SubscribeError {
    /// Every subscription slot (`SUBS`) is taken.
    Full,
    /// The path is not `tenant/region` or `region` with valid names.
    BadPath,
    /// The connection is closed.
    Closed,
}

impl fmt::Display for SubscribeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SubscribeError::Full => "every subscription slot is taken",
            SubscribeError::BadPath => "not a valid region path",
            SubscribeError::Closed => "the connection is closed",
        })
    }
}

impl core::error::Error for SubscribeError {}

/// Why [`Client::write`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum WriteError {
    /// The session is not connected, or the subscription is not live.
    NotReady,
    /// No live subscription has that handle.
    UnknownHandle,
    /// Too many writes are waiting to be sent or answered: poll and retry.
    Busy,
    /// The write does not fit the hub's maximum frame size or the send
    /// buffer.
    TooLarge,
    /// Ranges are out of order, overlap, are empty or reach outside the
    /// mirror's data area, or the variable name is not valid.
    Invalid,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WriteError::NotReady => "not connected, or the subscription is not live",
            WriteError::UnknownHandle => "no subscription has that handle",
            WriteError::Busy => "too many writes waiting",
            WriteError::TooLarge => "the write does not fit one frame",
            WriteError::Invalid => "ranges or variable name not valid",
        })
    }
}

impl core::error::Error for WriteError {}

/// What a mirror asks the hub to change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteRequest<'w> {
    /// Raw bytes of the data area: `(offset, bytes)`, ascending and not
    /// overlapping. Each range must lie inside writable variables.
    Ranges(&'w [(usize, &'w [u8])]),
    /// One whole variable by name, with its little-endian value.
    Variable {
        /// The variable's name.
        name: &'w str,
        /// Exactly the variable's length in bytes.
        value: &'w [u8],
    },
}

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

struct Inner<'a, const SUBS: usize> {
    config: ClientConfig<'a>,
    link: Link,
    handshake: Handshake,
    hello: Vec<u8, HELLO_MAX>,
    /// The hub's maximum frame size.
    peer_max: usize,
    subs: [Option<Slot<'a>>; SUBS],
    events: Deque<Event, EVENTS>,
    /// Writes waiting to be sent or answered.
    writes: Writes,
    closed_reported: bool,
    /// Where the next transmit starts looking, for fairness.
    turn: usize,
    /// The hub's subscriptions to regions this client publishes.
    serving: Serving<SUBS>,
    /// Updates in flight per published region, from the welcome.
    max_in_flight: usize,
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
            inner: Inner {
                link: Link::new(now, config.keepalive, config.timeout, config.handshake),
                config,
                handshake: Handshake::HelloDue,
                hello: Vec::new(),
                peer_max: MIN_FRAME as usize,
                subs: core::array::from_fn(|_| None),
                events: Deque::new(),
                writes: Writes::new(),
                closed_reported: false,
                turn: 0,
                serving: Serving::new(),
                max_in_flight: 2,
            },
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

    /// Asks the hub to write to the region of subscription `handle`; the
    /// answer comes as [`Event::WriteApplied`] or [`Event::WriteRefused`]
    /// with the returned request id. The mirror changes when the hub's
    /// update arrives.
    pub fn write(&mut self, handle: Handle, request: WriteRequest<'_>) -> Result<u32, WriteError> {
        let inner = &mut self.inner;
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
        let data_len = sub.mirror.data_len();
        inner
            .writes
            .push(handle.0, request, data_len, inner.peer_max)
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
        let regions: &mut dyn Regions = match observer.published() {
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
        let (updates, resyncs) = self.inner.serving.counters();
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

impl<'a, const SUBS: usize> Inner<'a, SUBS> {
    fn on_frame<O: Observer<'a> + ?Sized>(&mut self, now: Instant, body: &[u8], observer: &mut O) {
        self.link.received(now, body.len());
        let Ok(frame) = Frame::decode(body) else {
            self.link
                .fail(ErrorCode::Malformed, None, "frame did not decode");
            return;
        };
        match (self.handshake, frame) {
            (_, Frame::Error(e)) => match e.handle {
                Some(h) => self.on_error(Handle(h), e.code),
                None => self.link.closed_by_peer(Some(e.code)),
            },
            (_, Frame::Close) => self.link.closed_by_peer(None),
            (_, Frame::Ping { nonce }) => self.link.on_ping(nonce),
            (_, Frame::Pong { .. }) => {}
            (Handshake::AwaitChallenge, Frame::Challenge(c)) => self.on_challenge(c),
            (Handshake::AwaitWelcome, Frame::Welcome(w)) => self.on_welcome(w, observer),
            (Handshake::Open, Frame::Schema(part)) => self.on_schema(&part, observer),
            (Handshake::Open, Frame::Update(update)) => self.on_update(&update),
            (Handshake::Open, Frame::Subscribe(sub)) => self.on_subscribe(&sub, observer),
            (Handshake::Open, Frame::Unsubscribe(u)) => self.serving.remove(u.handle),
            (Handshake::Open, Frame::Ack(a)) => self.on_published_ack(a, observer),
            (Handshake::Open, Frame::Write(w)) => self.on_published_write(&w, observer),
            (Handshake::Open, Frame::WriteResult(result)) => self.on_write_result(result),
            _ => self
                .link
                .fail(ErrorCode::UnexpectedFrame, None, "frame not expected now"),
        }
    }

    fn transmit(&mut self, now: Instant, buf: &mut [u8], regions: &mut dyn Regions) -> usize {
        let mut used = self.link.write_controls(now, buf);
        if !self.link.is_open() {
            return used;
        }
        self.transmit_handshake(now, buf, &mut used);
        if self.handshake != Handshake::Open {
            return used;
        }
        let count = self.subs.len();
        for k in 0..count {
            let index = (self.turn + k) % count.max(1);
            if !self.transmit_slot(now, buf, &mut used, index) {
                self.turn = index;
                return used;
            }
        }
        self.writes.transmit(now, buf, &mut used, &mut self.link);
        let peer = PeerLimits {
            max_frame: self.peer_max,
            max_in_flight: self.max_in_flight,
        };
        self.serving
            .transmit(now, buf, &mut used, &mut self.link, peer, &*regions);
        if !self.link.is_open() {
            used += self.link.write_controls(now, rest(buf, used));
        }
        used
    }

    fn poll_event(&mut self) -> Option<Event> {
        if let Some(event) = self.events.pop_front() {
            return Some(event);
        }
        if let Some(event) = self.poll_slot_event() {
            return Some(event);
        }
        if self.link.phase == LinkPhase::Closed && !self.closed_reported {
            self.closed_reported = true;
            return Some(Event::Closed {
                code: self.link.close_code,
            });
        }
        None
    }
}

/// The part of `buf` after the first `used` bytes.
fn rest(buf: &mut [u8], used: usize) -> &mut [u8] {
    buf.get_mut(used..).unwrap_or(&mut [])
}
