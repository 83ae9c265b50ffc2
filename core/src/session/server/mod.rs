//! The serving side of one connection inside a hub: handshake, rights,
//! limits, and a publisher per subscription.

mod handshake;
mod subscribe;
mod welcome;

use heapless::{Deque, String, Vec};

use self::handshake::{HELLO_MAX, Handshake};
use super::event::ServerEvent;
use super::link::{Link, Phase as LinkPhase};
use super::mirroring::Mirrors;
use super::publisher::IN_FLIGHT_CAP;
use super::rate::RateLimit;
use super::serving::{PeerLimits, Serve, Serving, Sources};
use super::writes::{WRITES_MAX, Writes};
use super::{Stats, UpdateCache, auth};
use super::{WriteError, WriteRequest};
use crate::codec::{
    AccumulateError, ErrorCode, Feed, Frame, FrameAccumulator, MIN_FRAME, RegionInfo, Resume,
    WriteOutcome,
};
use crate::diff::{ByteRange, ChunkTable};
use crate::schema::{Name, Schema};
use crate::time::{Duration, Instant};

/// A hub's name for one of its regions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RegionId(pub u32);

/// What a client may do with a region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Access {
    /// Nothing: the region is not shown to the client.
    None,
    /// Mirror it.
    Read,
    /// Mirror it and write its writable variables.
    ReadWrite,
}

/// A region as the hub serves it: its consistent shadow at `generation` and
/// what changed when.
#[derive(Clone, Copy, Debug)]
pub struct Source<'s> {
    /// The region instance (new whenever the region is created anew).
    pub instance: u64,
    /// The generation `data` is at.
    pub generation: u64,
    /// The region's schema.
    pub schema: Schema<'s>,
    /// The hub's shadow of the data area at `generation`.
    pub data: &'s [u8],
    /// For each chunk of `data`, the generation it last changed at.
    pub changes: ChunkTable<'s>,
    /// The exact ranges of the hub's last scan, from a base generation to
    /// `generation`: sent instead of whole chunks to a peer at that base.
    pub recent: Option<(u64, &'s [ByteRange])>,
}

/// The hub's state that a [`Server`] consults: credentials, rights, regions.
///
/// Passed to each call (as smoltcp passes its device), so one hub serves
/// many connections.
pub trait Hub {
    /// The secret key of `client` within `tenant`, if it may connect.
    fn secret(&self, tenant: &str, client: &str) -> Option<&[u8]>;
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
    /// The region's current state, or `None` if it is gone.
    fn source(&self, region: RegionId) -> Option<Source<'_>>;
    /// Applies checked byte ranges (inside writable variables, in bounds)
    /// under the region's seqlock and returns the generation that holds
    /// them; the shadow, chunk table and generation must show the change
    /// when `source` is next called.
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
    /// Takes a checked write (as [`apply_write`](Self::apply_write) gets it)
    /// to answer later, with [`Server::answer_write`] and the same
    /// `request`: for a region whose bytes another peer owns (a region a
    /// client publishes, whose writes the hub forwards to it). Answers are
    /// sent in order, so a deferred one holds back those after it. Return
    /// false to have `apply_write` called at once.
    ///
    /// The default defers nothing.
    fn defer_write(&mut self, region: RegionId, ranges: &[(usize, &[u8])], request: u32) -> bool {
        let _ = (region, ranges, request);
        false
    }
    /// The region's update parts shared between connections, so that each
    /// part is encoded once for every subscriber due it (see
    /// [`UpdateCache`]). The default shares nothing: each connection
    /// encodes its own.
    fn cache(&self, region: RegionId) -> Option<&dyn UpdateCache> {
        let _ = region;
        None
    }
}

/// A hub's regions, read by the publishing half of a connection.
struct HubSources<'h, H: ?Sized>(&'h H);

impl<H: Hub + ?Sized> Sources for HubSources<'_, H> {
    fn source(&self, region: RegionId) -> Option<Source<'_>> {
        self.0.source(region)
    }

    fn cache(&self, region: RegionId) -> Option<&dyn UpdateCache> {
        self.0.cache(region)
    }
}

/// A hub's regions, read and written by the publishing half.
struct HubServe<'h, H: ?Sized>(&'h mut H);

impl<H: Hub + ?Sized> Sources for HubServe<'_, H> {
    fn source(&self, region: RegionId) -> Option<Source<'_>> {
        self.0.source(region)
    }
}

impl<H: Hub + ?Sized> Serve for HubServe<'_, H> {
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
}

/// Rate limits on what a client sends (GCRA, per connection). A client
/// that exceeds one gets [`ErrorCode::RateLimited`] and is closed: a byte
/// stream cannot drop frames and stay in step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RateConfig {
    /// Frames per second.
    pub frames: u32,
    /// Frames allowed in a burst.
    pub frame_burst: u32,
    /// Bytes of frame bodies per second.
    pub bytes: u32,
    /// Bytes allowed in a burst.
    pub byte_burst: u32,
}

impl RateConfig {
    /// 1 000 frames per second with bursts of 500; 1 MiB per second with
    /// bursts of 256 KiB. A mirror sends acks and writes only, far below.
    pub const DEFAULT: RateConfig = RateConfig {
        frames: 1_000,
        frame_burst: 500,
        bytes: 1 << 20,
        byte_burst: 256 << 10,
    };
}

/// A server's limits and timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ServerConfig {
    /// The session id sent in the welcome, for logs.
    pub session: u64,
    /// The largest frame body taken (capped at the receive buffer `RX`).
    pub max_frame: u32,
    /// Updates unacknowledged per subscription (1 to 8).
    pub max_in_flight: u16,
    /// Ping when nothing was sent for this long.
    pub keepalive: Duration,
    /// Close when nothing was heard for this long.
    pub timeout: Duration,
    /// Close when the client has not authenticated by then.
    pub handshake: Duration,
    /// Limits on what the client sends.
    pub rate: RateConfig,
}

impl ServerConfig {
    /// The defaults: frames as large as the receive buffer, 2 updates in
    /// flight, a ping after 5 s of silence, a 15 s dead-peer timeout, a 10 s
    /// handshake deadline, [`RateConfig::DEFAULT`].
    pub const fn new(session: u64) -> ServerConfig {
        ServerConfig {
            session,
            max_frame: u32::MAX,
            max_in_flight: 2,
            keepalive: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
            handshake: Duration::from_secs(10),
            rate: RateConfig::DEFAULT,
        }
    }
}

/// The serving side of one connection: `SUBS` subscriptions at most,
/// frames of up to `RX` bytes received.
pub struct Server<const SUBS: usize, const RX: usize> {
    rx: FrameAccumulator<RX>,
    inner: Inner<SUBS>,
}

struct Inner<const SUBS: usize> {
    config: ServerConfig,
    link: Link,
    handshake: Handshake,
    nonce: auth::Nonce,
    hello: Vec<u8, HELLO_MAX>,
    tenant: Option<Name>,
    client: String<{ crate::codec::CLIENT_NAME_MAX }>,
    /// The client's maximum frame size.
    peer_max: usize,
    frames: RateLimit,
    bytes: RateLimit,
    serving: Serving<SUBS>,
    mirrors: Mirrors<SUBS>,
    /// Writes to regions the client publishes, and their answers.
    writes: Writes,
    events: Deque<ServerEvent, WRITES_MAX>,
    authenticated_due: bool,
    closed_reported: bool,
}

impl<const SUBS: usize, const RX: usize> Server<SUBS, RX> {
    /// A server for a connection accepted at `now`. `nonce` must be fresh
    /// random bytes, never used for another connection: it is what makes a
    /// recorded authentication useless.
    pub fn new(now: Instant, config: ServerConfig, nonce: auth::Nonce) -> Self {
        let max = usize::try_from(config.max_frame)
            .unwrap_or(usize::MAX)
            .clamp(MIN_FRAME as usize, RX.max(MIN_FRAME as usize));
        let config = ServerConfig {
            max_frame: u32::try_from(max).unwrap_or(u32::MAX),
            max_in_flight: config.max_in_flight.clamp(1, IN_FLIGHT_CAP as u16),
            ..config
        };
        let rate = config.rate;
        Server {
            rx: FrameAccumulator::length_prefix(max),
            inner: Inner {
                link: Link::new(now, config.keepalive, config.timeout, config.handshake),
                config,
                handshake: Handshake::AwaitHello,
                nonce,
                hello: Vec::new(),
                tenant: None,
                client: String::new(),
                peer_max: MIN_FRAME as usize,
                frames: RateLimit::new(rate.frames, Duration::from_secs(1), rate.frame_burst),
                bytes: RateLimit::new(rate.bytes, Duration::from_secs(1), rate.byte_burst),
                serving: Serving::new(),
                mirrors: Mirrors::new(),
                writes: Writes::new(),
                events: Deque::new(),
                authenticated_due: false,
                closed_reported: false,
            },
        }
    }

    /// Takes bytes read from the stream, split in any way.
    pub fn handle_input<H: Hub + ?Sized>(&mut self, now: Instant, bytes: &[u8], hub: &mut H) {
        let mut input = bytes;
        while self.inner.link.is_open() {
            match self.rx.feed(input) {
                Feed::Pending => break,
                Feed::Frame { body, rest } => {
                    input = rest;
                    self.inner.on_frame(now, body, hub);
                }
                Feed::Error { error, .. } => {
                    let (code, reason) = match error {
                        AccumulateError::TooLarge => {
                            (ErrorCode::FrameTooLarge, "frame larger than announced")
                        }
                        _ => (ErrorCode::Malformed, "bad framing"),
                    };
                    self.inner.link.fail(code, None, reason);
                    break;
                }
            }
        }
    }

    /// Writes framed bytes to send into `buf` and returns their length, or
    /// `None` when there is nothing to send. `buf` should hold the client's
    /// maximum frame plus 5 bytes, so that updates are cut no smaller than
    /// the client can take.
    pub fn poll_transmit<H: Hub + ?Sized>(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        hub: &H,
    ) -> Option<usize> {
        let n = self.inner.transmit(now, buf, hub);
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

    /// The next event for the hub.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        let inner = &mut self.inner;
        if inner.authenticated_due {
            inner.authenticated_due = false;
            return Some(ServerEvent::Authenticated);
        }
        if let Some(ended) = inner.mirrors.poll_ended() {
            return Some(ServerEvent::Unmirrored {
                region: ended.region,
                code: ended.code,
            });
        }
        if let Some(event) = inner.events.pop_front() {
            return Some(event);
        }
        if inner.link.phase == LinkPhase::Closed && !inner.closed_reported {
            inner.closed_reported = true;
            return Some(ServerEvent::Closed {
                code: inner.link.close_code,
            });
        }
        None
    }

    /// Answers a write the hub took with [`Hub::defer_write`]: `Ok` with the
    /// generation that holds it, or the code it was refused with. False if
    /// no write `request` is waiting.
    pub fn answer_write(&mut self, request: u32, outcome: Result<u64, ErrorCode>) -> bool {
        let outcome = match outcome {
            Ok(generation) => WriteOutcome::Applied { generation },
            Err(code) => WriteOutcome::Refused {
                code,
                reason: code.describe(),
            },
        };
        self.inner.serving.answer(request, outcome)
    }

    /// Asks the client to write `ranges` (`(offset, bytes)`, ascending, in
    /// writable variables) to its region that the hub copies as `region`
    /// (one [`Hub::published`] lists); the answer comes as
    /// [`ServerEvent::WriteApplied`] or [`ServerEvent::WriteRefused`] with
    /// the returned request id, and the copy changes with the client's next
    /// update.
    pub fn write(
        &mut self,
        region: RegionId,
        ranges: &[(usize, &[u8])],
    ) -> Result<u32, WriteError> {
        let inner = &mut self.inner;
        if !inner.link.is_open() || inner.handshake != Handshake::Open {
            return Err(WriteError::NotReady);
        }
        let (handle, data_len) = inner
            .mirrors
            .live(region)
            .ok_or(WriteError::UnknownHandle)?;
        inner.writes.push(
            handle,
            WriteRequest::Ranges(ranges),
            data_len,
            inner.peer_max,
        )
    }

    /// Closes in order (a close frame), or with `code` (an error frame then
    /// a close), e.g. [`ErrorCode::ShuttingDown`].
    pub fn close(&mut self, code: Option<ErrorCode>) {
        match code {
            Some(code) => self.inner.link.fail(code, None, code.describe()),
            None => self.inner.link.close(),
        }
    }

    /// Whether the connection is closed: the caller closes the stream once
    /// [`poll_transmit`](Self::poll_transmit) returns `None`.
    pub fn is_closed(&self) -> bool {
        self.inner.link.phase == LinkPhase::Closed
    }

    /// The authenticated tenant and client name, once the proof checked.
    pub fn identity(&self) -> Option<(&str, &str)> {
        let inner = &self.inner;
        match inner.handshake {
            Handshake::WelcomeDue | Handshake::Open => {
                Some((inner.tenant.as_ref()?.as_str(), inner.client.as_str()))
            }
            _ => None,
        }
    }

    /// The session's counters.
    pub fn stats(&self) -> Stats {
        let mut stats = self.inner.link.stats;
        let (updates, resyncs) = self.inner.serving.counters();
        let (applied, asked) = self.inner.mirrors.counters();
        stats.updates = updates + applied;
        stats.resyncs = resyncs + asked;
        stats
    }
}

impl<const SUBS: usize> Inner<SUBS> {
    fn tenant(&self) -> &str {
        self.tenant.as_ref().map_or("", Name::as_str)
    }

    fn on_frame<H: Hub + ?Sized>(&mut self, now: Instant, body: &[u8], hub: &mut H) {
        self.link.received(now, body.len());
        let units = u32::try_from(body.len()).unwrap_or(u32::MAX);
        if self.bytes.check(now, units).is_err() {
            self.link
                .fail(ErrorCode::RateLimited, None, "faster than the rate limit");
            return;
        }
        let decoded = match self.handshake {
            Handshake::AwaitHello => None,
            _ => Some(Frame::decode(body)),
        };
        // Acks answer the hub's own updates, one per update: they count
        // against the byte rate only, or a busy subscription would trip the
        // frame rate by keeping up.
        let is_ack = matches!(decoded, Some(Ok(Frame::Ack(_))));
        if !is_ack && self.frames.check(now, 1).is_err() {
            self.link
                .fail(ErrorCode::RateLimited, None, "faster than the rate limit");
            return;
        }
        let Some(decoded) = decoded else {
            self.on_hello(body);
            return;
        };
        let Ok(frame) = decoded else {
            self.link
                .fail(ErrorCode::Malformed, None, "frame did not decode");
            return;
        };
        match (self.handshake, frame) {
            // An error with a handle comes from the publisher of that
            // subscription: here, the client ending one of the hub's.
            (_, Frame::Error(e)) => match e.handle {
                Some(h) => self.mirrors.on_error(h, e.code),
                None => self.link.closed_by_peer(Some(e.code)),
            },
            (_, Frame::Close) => self.link.closed_by_peer(None),
            (_, Frame::Ping { nonce }) => self.link.on_ping(nonce),
            (_, Frame::Pong { .. }) => {}
            (Handshake::AwaitAuth, Frame::Auth(a)) => self.on_auth(&a, hub),
            (Handshake::Open, Frame::Subscribe(s)) => self.on_subscribe(&s, hub),
            (Handshake::Open, Frame::Unsubscribe(u)) => self.serving.remove(u.handle),
            (Handshake::Open, Frame::Ack(a)) => {
                self.serving
                    .on_ack(a.handle, a.generation, &HubSources(&*hub));
            }
            (Handshake::Open, Frame::Write(w)) => {
                if !self.serving.on_write(&w, &mut HubServe(hub)) {
                    self.link
                        .fail(ErrorCode::LimitExceeded, None, "too many writes unanswered");
                }
            }
            (Handshake::Open, Frame::Schema(part)) => self.mirrors.on_schema(&part, hub),
            (Handshake::Open, Frame::WriteResult(result)) => {
                self.writes.on_result(
                    &result,
                    &mut self.events,
                    &mut self.link,
                    |request, outcome| match outcome {
                        Ok(generation) => ServerEvent::WriteApplied {
                            request,
                            generation,
                        },
                        Err(code) => ServerEvent::WriteRefused { request, code },
                    },
                );
            }
            (Handshake::Open, Frame::Update(update)) => {
                if let Err(fatal) = self.mirrors.on_update(&update, hub) {
                    self.link.fail(fatal.code, None, fatal.reason);
                }
            }
            _ => self
                .link
                .fail(ErrorCode::UnexpectedFrame, None, "frame not expected now"),
        }
    }

    fn transmit<H: Hub + ?Sized>(&mut self, now: Instant, buf: &mut [u8], hub: &H) -> usize {
        let mut used = self.link.write_controls(now, buf);
        if !self.link.is_open() {
            return used;
        }
        self.transmit_handshake(now, buf, &mut used, hub);
        if self.handshake != Handshake::Open {
            return used;
        }
        let peer = PeerLimits {
            max_frame: self.peer_max,
            max_in_flight: usize::from(self.config.max_in_flight),
        };
        self.mirrors.transmit(now, buf, &mut used, &mut self.link);
        self.writes.transmit(now, buf, &mut used, &mut self.link);
        self.serving
            .transmit(now, buf, &mut used, &mut self.link, peer, &HubSources(hub));
        if !self.link.is_open() {
            used += self
                .link
                .write_controls(now, buf.get_mut(used..).unwrap_or(&mut []));
        }
        used
    }
}
