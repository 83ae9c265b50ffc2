//! The serving side of one connection inside a hub: handshake, rights,
//! limits, and a publisher per subscription.

use heapless::{Deque, String, Vec};

use super::event::ServerEvent;
use super::link::{Link, Phase as LinkPhase};
use super::publisher::{IN_FLIGHT_CAP, Publication};
use super::rate::RateLimit;
use super::{Stats, auth};
use crate::codec::{
    AccumulateError, Challenge, ErrorCode, Feed, Frame, FrameAccumulator, Framing, Limits,
    MIN_FRAME, PROTOCOL_VERSION, RegionInfo, RegionList, Welcome, WriteOutcome, WriteResult,
    WriteTarget, peek_hello_version,
};
use crate::diff::{ByteRange, ChunkTable};
use crate::schema::{Kind, Name, Schema};
use crate::time::{Duration, Instant};

/// The longest hello body kept for the proof.
const HELLO_MAX: usize = 128;
/// Write results waiting to be sent; more unanswered writes close the
/// connection.
const ANSWERS: usize = 8;
/// Byte ranges in one write.
const WRITE_RANGES_MAX: usize = 32;

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Handshake {
    AwaitHello,
    ChallengeDue,
    AwaitAuth,
    WelcomeDue,
    Open,
}

/// The answer to a write, waiting to be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Answer {
    request: u32,
    outcome: WriteOutcome<'static>,
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
    pubs: [Option<Publication>; SUBS],
    answers: Deque<Answer, ANSWERS>,
    authenticated_due: bool,
    closed_reported: bool,
    turn: usize,
    resyncs: u64,
    updates: u64,
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
                pubs: core::array::from_fn(|_| None),
                answers: Deque::new(),
                authenticated_due: false,
                closed_reported: false,
                turn: 0,
                resyncs: 0,
                updates: 0,
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
        if inner.link.phase == LinkPhase::Closed && !inner.closed_reported {
            inner.closed_reported = true;
            return Some(ServerEvent::Closed {
                code: inner.link.close_code,
            });
        }
        None
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
        stats.updates = self.inner.updates;
        stats.resyncs = self.inner.resyncs;
        for p in self.inner.pubs.iter().flatten() {
            stats.updates += p.updates;
            stats.resyncs += p.resyncs;
        }
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
            (_, Frame::Error(e)) => match e.handle {
                Some(h) => self.remove(h),
                None => self.link.closed_by_peer(Some(e.code)),
            },
            (_, Frame::Close) => self.link.closed_by_peer(None),
            (_, Frame::Ping { nonce }) => self.link.on_ping(nonce),
            (_, Frame::Pong { .. }) => {}
            (Handshake::AwaitAuth, Frame::Auth(a)) => {
                let secret = hub.secret(self.tenant(), &self.client);
                // Unknown clients cost the same check as known ones.
                let ok = auth::verify(
                    secret.unwrap_or(&[0; 32]),
                    &self.nonce,
                    &self.hello,
                    &a.proof,
                ) & secret.is_some();
                if ok {
                    self.handshake = Handshake::WelcomeDue;
                    self.link.deadline = None;
                    self.authenticated_due = true;
                } else {
                    self.link
                        .fail(ErrorCode::AuthFailed, None, "authentication failed");
                }
            }
            (Handshake::Open, Frame::Subscribe(s)) => self.on_subscribe(&s, hub),
            (Handshake::Open, Frame::Unsubscribe(u)) => self.remove(u.handle),
            (Handshake::Open, Frame::Ack(a)) => {
                if let Some(p) = self
                    .pubs
                    .iter_mut()
                    .flatten()
                    .find(|p| p.handle == a.handle)
                {
                    p.on_ack(a.generation, hub.source(p.region).as_ref());
                }
            }
            (Handshake::Open, Frame::Write(w)) => {
                let outcome = self.on_write(&w, hub);
                let answer = Answer {
                    request: w.request,
                    outcome,
                };
                if self.answers.push_back(answer).is_err() {
                    self.link
                        .fail(ErrorCode::LimitExceeded, None, "too many writes unanswered");
                }
            }
            _ => self
                .link
                .fail(ErrorCode::UnexpectedFrame, None, "frame not expected now"),
        }
    }

    fn on_hello(&mut self, body: &[u8]) {
        if peek_hello_version(body).is_some_and(|v| v != PROTOCOL_VERSION) {
            self.link
                .fail(ErrorCode::UnsupportedVersion, None, "memwire protocol 1");
            return;
        }
        let hello = match Frame::decode(body) {
            Ok(Frame::Hello(hello)) => hello,
            Ok(_) => {
                self.link
                    .fail(ErrorCode::UnexpectedFrame, None, "expected a hello");
                return;
            }
            Err(_) => {
                self.link
                    .fail(ErrorCode::Malformed, None, "frame did not decode");
                return;
            }
        };
        let (Ok(hello_bytes), Ok(client), Ok(tenant)) = (
            Vec::from_slice(body),
            String::try_from(hello.client),
            Name::new(hello.tenant),
        ) else {
            self.link.fail(ErrorCode::Malformed, None, "hello too long");
            return;
        };
        self.hello = hello_bytes;
        self.client = client;
        self.tenant = Some(tenant);
        // Frames both ways stay within the smaller of the two maxima, so a
        // client cannot make the hub's transmit buffer grow.
        self.peer_max =
            usize::try_from(hello.max_frame.min(self.config.max_frame)).unwrap_or(usize::MAX);
        self.handshake = Handshake::ChallengeDue;
    }

    fn error(&mut self, code: ErrorCode, handle: u16, reason: &'static str) {
        self.link.push(super::link::Control::Error {
            code,
            handle: Some(handle),
            reason,
        });
    }

    fn remove(&mut self, handle: u16) {
        for slot in self.pubs.iter_mut() {
            if slot.as_ref().is_some_and(|p| p.handle == handle) {
                if let Some(p) = slot.take() {
                    self.updates += p.updates;
                    self.resyncs += p.resyncs;
                }
            }
        }
    }

    fn on_subscribe<H: Hub + ?Sized>(&mut self, s: &crate::codec::Subscribe<'_>, hub: &H) {
        let handle = s.handle;
        if self.pubs.iter().flatten().any(|p| p.handle == handle) {
            return self.error(ErrorCode::HandleInUse, handle, "handle in use");
        }
        let (tenant, region) = match s.path.split_once('/') {
            Some((tenant, region)) => (tenant, region),
            None => (self.tenant(), s.path),
        };
        if tenant != self.tenant() {
            return self.error(ErrorCode::AccessDenied, handle, "region of another tenant");
        }
        // Rights first, so a client learns nothing of regions it may not see.
        let access = hub.access(tenant, &self.client, region);
        if access == Access::None {
            return self.error(ErrorCode::AccessDenied, handle, "no access to the region");
        }
        let Some((id, source)) = hub
            .resolve(tenant, region)
            .and_then(|id| Some((id, hub.source(id)?)))
        else {
            return self.error(ErrorCode::UnknownRegion, handle, "no such region");
        };
        let Some(slot) = self.pubs.iter_mut().find(|p| p.is_none()) else {
            return self.error(ErrorCode::LimitExceeded, handle, "too many subscriptions");
        };
        *slot = Some(Publication::new(
            handle,
            id,
            access,
            s.variables,
            s.resume,
            &source,
        ));
    }

    fn on_write<H: Hub + ?Sized>(
        &mut self,
        w: &crate::codec::Write<'_>,
        hub: &mut H,
    ) -> WriteOutcome<'static> {
        let refused =
            |code: ErrorCode, reason: &'static str| WriteOutcome::Refused { code, reason };
        let Some(p) = self.pubs.iter().flatten().find(|p| p.handle == w.handle) else {
            return refused(ErrorCode::UnknownHandle, "no such subscription");
        };
        if p.access != Access::ReadWrite {
            return refused(ErrorCode::AccessDenied, "no right to write");
        }
        let region = p.region;
        let Some(source) = hub.source(region) else {
            return refused(ErrorCode::UnknownRegion, "region is gone");
        };
        let mut ranges: [(usize, &[u8]); WRITE_RANGES_MAX] = [(0, &[]); WRITE_RANGES_MAX];
        let mut n = 0;
        match w.target {
            WriteTarget::Ranges(spans) => {
                for span in spans {
                    let Some(slot) = ranges.get_mut(n) else {
                        return refused(ErrorCode::LimitExceeded, "too many ranges in one write");
                    };
                    *slot = (span.range().start, span.bytes);
                    n += 1;
                }
            }
            WriteTarget::Variable { name, value } => {
                let Some((_, var)) = source.schema.lookup(name.as_str()) else {
                    return refused(ErrorCode::UnknownVariable, "no such variable");
                };
                if var.len() != value.len() as u64 {
                    return refused(ErrorCode::BadValue, "value has the wrong length");
                }
                if let Some(slot) = ranges.first_mut() {
                    *slot = (var.range().start, value);
                    n = 1;
                }
            }
        }
        let ranges = ranges.get(..n).unwrap_or(&[]);
        if let Err((code, reason)) = check_write(source.schema, source.data.len(), ranges) {
            return refused(code, reason);
        }
        match hub.apply_write(region, ranges) {
            Ok(generation) => WriteOutcome::Applied { generation },
            Err(code) => refused(code, "the hub did not apply the write"),
        }
    }

    fn transmit<H: Hub + ?Sized>(&mut self, now: Instant, buf: &mut [u8], hub: &H) -> usize {
        let mut used = self.link.write_controls(now, buf);
        if !self.link.is_open() {
            return used;
        }
        match self.handshake {
            Handshake::ChallengeDue => {
                let challenge = Frame::Challenge(Challenge {
                    version: PROTOCOL_VERSION,
                    nonce: self.nonce,
                });
                if !self.put(now, buf, &mut used, &challenge) {
                    return used;
                }
                self.handshake = Handshake::AwaitAuth;
                return used;
            }
            Handshake::WelcomeDue => {
                if !self.put_welcome(now, buf, &mut used, hub) {
                    return used;
                }
                self.handshake = Handshake::Open;
            }
            Handshake::AwaitHello | Handshake::AwaitAuth => return used,
            Handshake::Open => {}
        }
        while let Some(answer) = self.answers.front() {
            let frame = Frame::WriteResult(WriteResult {
                request: answer.request,
                outcome: answer.outcome,
            });
            if !self.put(now, buf, &mut used, &frame) {
                return used;
            }
            self.answers.pop_front();
        }
        let count = self.pubs.len();
        let max_in_flight = usize::from(self.config.max_in_flight);
        // Cut updates no smaller than the peer takes unless the buffer is
        // empty (then it is all there is).
        let whole = self.peer_max.saturating_add(5);
        for k in 0..count {
            let index = (self.turn + k) % count.max(1);
            let Some(Some(p)) = self.pubs.get_mut(index) else {
                continue;
            };
            let Some(source) = hub.source(p.region) else {
                let handle = p.handle;
                self.remove(handle);
                self.error(ErrorCode::UnknownRegion, handle, "region is gone");
                continue;
            };
            let Some(Some(p)) = self.pubs.get_mut(index) else {
                continue;
            };
            loop {
                let room = buf.len().saturating_sub(used);
                if used > 0 && room < whole {
                    self.turn = index;
                    return used;
                }
                let out = buf.get_mut(used..).unwrap_or(&mut []);
                match p.next_frame(&source, self.peer_max, max_in_flight, out) {
                    Ok(Some(n)) => {
                        used += n;
                        self.link.sent(now, n);
                    }
                    Ok(None) => break,
                    Err(_) if used > 0 => {
                        self.turn = index;
                        return used;
                    }
                    Err(_) => {
                        self.link
                            .fail(ErrorCode::Other, None, "update could not be encoded");
                        return used
                            + self
                                .link
                                .write_controls(now, buf.get_mut(used..).unwrap_or(&mut []));
                    }
                }
            }
        }
        self.turn = (self.turn + 1) % count.max(1);
        used
    }

    /// Writes the welcome with the tenant's regions the client may access,
    /// as many as fit the client's maximum frame and `buf` (`complete` is
    /// false when some were left out); false when `buf` has no room now.
    ///
    /// No scratch buffer: the list is encoded into `buf` after room for the
    /// frame's head (a length prefix, the fixed fields and the list's length,
    /// each at their largest), then the head is written and the list moved
    /// up against it.
    fn put_welcome<H: Hub + ?Sized>(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        used: &mut usize,
        hub: &H,
    ) -> bool {
        /// The longest length prefix.
        const PREFIX_MAX: usize = 5;
        let welcome = |complete| {
            Frame::Welcome(Welcome {
                session: self.config.session,
                limits: self.limits(),
                complete,
                regions: RegionList::EMPTY,
            })
        };
        // The fixed fields, without the empty list's length byte.
        let head = welcome(true).encoded_len().saturating_sub(1);
        let body_max = self.peer_max.min(buf.len().saturating_sub(PREFIX_MAX));
        let list_max = body_max.saturating_sub(head + varint_len(body_max));
        let reserve = PREFIX_MAX + head + varint_len(list_max);
        let Some(out) = buf
            .get_mut(*used..)
            .filter(|out| out.len() >= reserve + list_max)
        else {
            return false;
        };
        let mut len = 0;
        let mut complete = false;
        if let Some(list) = out.get_mut(reserve..reserve + list_max) {
            let tenant = self.tenant();
            let client = self.client.as_str();
            let mut left_out = false;
            let listed = hub.regions(tenant, client, &mut |info: RegionInfo| {
                if hub.access(tenant, client, info.name.as_str()) == Access::None {
                    return true;
                }
                match list
                    .get_mut(len..)
                    .map(|rest| postcard::to_slice(&info, rest))
                {
                    Some(Ok(entry)) => {
                        len += entry.len();
                        true
                    }
                    _ => {
                        left_out = true;
                        false
                    }
                }
            });
            complete = listed && !left_out;
        }
        let body = head + varint_len(len) + len;
        let Some(prefix) = put_varint(out, body) else {
            return false;
        };
        // The fixed fields; the empty list's length byte is then replaced by
        // the list's length.
        let Some(Ok(fields)) = out
            .get_mut(prefix..reserve)
            .map(|dst| welcome(complete).encode(dst))
        else {
            return false;
        };
        let mut at = prefix + fields.saturating_sub(1);
        let Some(n) = out
            .get_mut(at..reserve)
            .and_then(|dst| put_varint(dst, len))
        else {
            return false;
        };
        at += n;
        // In bounds: `at` ≤ `reserve`, `len` ≤ `list_max`, and `out` holds
        // `reserve + list_max` bytes (checked above).
        out.copy_within(reserve..reserve + len, at);
        *used += at + len;
        self.link.sent(now, at + len);
        true
    }

    fn limits(&self) -> Limits {
        let ms = |d: Duration| u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
        Limits {
            max_frame: self.config.max_frame,
            max_in_flight: self.config.max_in_flight,
            max_subscriptions: u16::try_from(SUBS).unwrap_or(u16::MAX),
            keepalive_ms: ms(self.config.keepalive),
            timeout_ms: ms(self.config.timeout),
            write: true,
        }
    }

    fn put(&mut self, now: Instant, buf: &mut [u8], used: &mut usize, frame: &Frame<'_>) -> bool {
        let out = buf.get_mut(*used..).unwrap_or(&mut []);
        match Framing::LengthPrefix.encode(frame, out) {
            Ok(n) => {
                *used += n;
                self.link.sent(now, n);
                true
            }
            Err(_) => false,
        }
    }
}

/// The length of `value` as an unsigned LEB128 varint.
fn varint_len(value: usize) -> usize {
    let bits = usize::BITS - (value | 1).leading_zeros();
    bits.div_ceil(7) as usize
}

/// Writes `value` at the start of `out` as an unsigned LEB128 varint in its
/// shortest form and returns its length; `None` if `out` is too short.
fn put_varint(out: &mut [u8], mut value: usize) -> Option<usize> {
    let mut n = 0;
    loop {
        let byte = out.get_mut(n)?;
        let low = u8::try_from(value & 0x7F).unwrap_or(0);
        value >>= 7;
        n += 1;
        if value == 0 {
            *byte = low;
            return Some(n);
        }
        *byte = low | 0x80;
    }
}

/// Checks that every range lies in the data area and inside writable
/// variables, and that bytes written to `bool` variables are 0 or 1.
pub(crate) fn check_write(
    schema: Schema<'_>,
    data_len: usize,
    ranges: &[(usize, &[u8])],
) -> Result<(), (ErrorCode, &'static str)> {
    let outside = (
        ErrorCode::OutOfBounds,
        "write reaches outside writable variables",
    );
    for &(start, bytes) in ranges {
        let end = start.checked_add(bytes.len()).ok_or(outside)?;
        if end > data_len {
            return Err((ErrorCode::OutOfBounds, "write reaches past the data area"));
        }
        let mut covered = start;
        for var in schema
            .variables()
            .get(schema.overlapping(start..end))
            .unwrap_or(&[])
        {
            let range = var.range();
            if range.start > covered {
                return Err(outside);
            }
            if !var.writable {
                return Err((ErrorCode::ReadOnly, "variable is read-only"));
            }
            if var.kind == Kind::Bool {
                let from = range.start.max(start) - start;
                let to = range.end.min(end) - start;
                if bytes
                    .get(from..to)
                    .is_some_and(|b| b.iter().any(|&x| x > 1))
                {
                    return Err((ErrorCode::BadValue, "a bool is 0 or 1"));
                }
            }
            covered = range.end;
        }
        if covered < end {
            return Err(outside);
        }
    }
    Ok(())
}
