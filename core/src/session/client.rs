//! The mirror side of a connection: handshake, subscriptions, writes.

use core::fmt;

use heapless::{Deque, String, Vec};

use super::event::{Event, Observer};
use super::link::{Link, Phase as LinkPhase};
use super::subscriber::{Phase, SchemaOutcome, Subscriber};
use super::{Handle, Stats, auth};
use crate::Region;
use crate::codec::{
    AccumulateError, Ack, Auth, ErrorCode, Feed, Frame, FrameAccumulator, Framing, Hello,
    MIN_FRAME, PROTOCOL_VERSION, Ranges, Resume, SchemaPart, Span, Subscribe, Unsubscribe, Write,
    WriteOutcome, WriteTarget,
};
use crate::schema::Name;
use crate::time::{Duration, Instant};

/// The longest hello body: tag, version, frame limit, a 64-byte client name
/// and a 40-byte tenant, with their lengths.
const HELLO_MAX: usize = 128;
/// The longest subscribe path: `tenant/region`.
const PATH_MAX: usize = 81;
/// Bytes of encoded writes waiting to be sent.
const WRITE_BUF: usize = 1024;
/// Writes sent and not yet answered, plus those waiting to be sent.
const WRITES_MAX: usize = 8;
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

/// Where the handshake stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Handshake {
    HelloDue,
    AwaitChallenge,
    AuthDue(auth::Proof),
    AwaitWelcome,
    Open,
}

/// One subscription slot.
#[derive(Debug)]
struct Slot<'r> {
    path: String<PATH_MAX>,
    /// `None` for a described subscription until the caller's observer
    /// hands over a mirror.
    sub: Option<Subscriber<'r>>,
    /// Whether the subscribe asks for the variable table.
    described: bool,
    /// While a described subscription has no mirror: the index of the next
    /// variable of the table.
    table_next: u32,
    subscribe_due: bool,
    /// Ended: the event still to report (the slot is freed once it is
    /// reported and the unsubscribe, if due, is sent).
    gone: Option<Event>,
    unsubscribe_due: bool,
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
    /// Framed write frames waiting to be sent, and their lengths.
    writes: Vec<u8, WRITE_BUF>,
    write_lens: Vec<usize, WRITES_MAX>,
    /// Writes sent and not yet answered.
    unanswered: usize,
    next_request: u32,
    closed_reported: bool,
    /// Where the next transmit starts looking, for fairness.
    turn: usize,
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
                writes: Vec::new(),
                write_lens: Vec::new(),
                unanswered: 0,
                next_request: 1,
                closed_reported: false,
                turn: 0,
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
        self.add(path, Some(Subscriber::new(mirror, resume)))
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
        self.add(path, None)
    }

    fn add(&mut self, path: &str, sub: Option<Subscriber<'a>>) -> Result<Handle, SubscribeError> {
        let inner = &mut self.inner;
        if !inner.link.is_open() {
            return Err(SubscribeError::Closed);
        }
        let probe = Frame::Subscribe(Subscribe {
            handle: 0,
            path,
            resume: None,
            variables: false,
        });
        let path = String::try_from(path).map_err(|_| SubscribeError::BadPath)?;
        if probe.encode(&mut [0u8; MIN_FRAME as usize]).is_err() {
            return Err(SubscribeError::BadPath);
        }
        let (index, slot) = inner
            .subs
            .iter_mut()
            .enumerate()
            .find(|(_, s)| s.is_none())
            .ok_or(SubscribeError::Full)?;
        let handle = u16::try_from(index).map_err(|_| SubscribeError::Full)?;
        *slot = Some(Slot {
            path,
            described: sub.is_none(),
            sub,
            table_next: 0,
            subscribe_due: true,
            gone: None,
            unsubscribe_due: false,
        });
        Ok(Handle(handle))
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
            .filter(|sub| sub.phase == Phase::Live)
            .ok_or(WriteError::NotReady)?;
        if inner.unanswered + inner.write_lens.len() >= WRITES_MAX {
            return Err(WriteError::Busy);
        }
        let data_len = sub.mirror.data_len();
        let mut scratch = [0u8; WRITE_BUF];
        let target = match request {
            WriteRequest::Ranges(ranges) => {
                let mut spans = ranges.iter().map(|&(offset, bytes)| Span {
                    offset: u32::try_from(offset).unwrap_or(u32::MAX),
                    bytes,
                });
                if ranges
                    .iter()
                    .any(|&(o, b)| o.checked_add(b.len()).is_none_or(|end| end > data_len))
                {
                    return Err(WriteError::Invalid);
                }
                let encoded =
                    Ranges::encode(spans.by_ref(), &mut scratch).map_err(|e| match e {
                        crate::codec::EncodeError::BufferTooSmall => WriteError::TooLarge,
                        _ => WriteError::Invalid,
                    })?;
                WriteTarget::Ranges(encoded)
            }
            WriteRequest::Variable { name, value } => WriteTarget::Variable {
                name: Name::new(name).map_err(|_| WriteError::Invalid)?,
                value,
            },
        };
        let request = inner.next_request;
        let frame = Frame::Write(Write {
            request,
            handle: handle.0,
            target,
        });
        let len = frame.encoded_len();
        if len > inner.peer_max {
            return Err(WriteError::TooLarge);
        }
        let start = inner.writes.len();
        let room = WRITE_BUF - start;
        if len + Framing::LengthPrefix.overhead(len) > room {
            return Err(if start == 0 {
                WriteError::TooLarge
            } else {
                WriteError::Busy
            });
        }
        // Grow to the whole capacity to encode in place, then cut back.
        let _ = inner.writes.resize(WRITE_BUF, 0);
        let written = inner
            .writes
            .get_mut(start..)
            .map(|out| Framing::LengthPrefix.encode(&frame, out));
        match written {
            Some(Ok(n)) => {
                inner.writes.truncate(start + n);
                let _ = inner.write_lens.push(n);
            }
            _ => {
                inner.writes.truncate(start);
                return Err(WriteError::Invalid);
            }
        }
        inner.next_request = request.wrapping_add(1).max(1);
        Ok(request)
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
        let n = self.inner.transmit(now, buf);
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
            stats.updates += sub.updates;
            stats.resyncs += sub.resyncs;
        }
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
    fn slot_mut(&mut self, handle: Handle) -> Option<&mut Slot<'a>> {
        self.subs.get_mut(usize::from(handle.0))?.as_mut()
    }

    fn free(&mut self, handle: Handle) {
        if let Some(slot) = self.subs.get_mut(usize::from(handle.0)) {
            *slot = None;
        }
    }

    /// Ends a subscription with an event; an unsubscribe tells the hub.
    fn end(&mut self, handle: Handle, event: Event, tell_hub: bool) {
        if let Some(slot) = self.slot_mut(handle) {
            slot.gone = Some(event);
            slot.unsubscribe_due = tell_hub;
            if let Some(sub) = slot.sub.as_mut() {
                sub.ack_due = None;
                sub.updated = None;
            }
        }
    }

    fn on_frame<O: Observer<'a> + ?Sized>(&mut self, now: Instant, body: &[u8], observer: &mut O) {
        self.link.received(now, body.len());
        let Ok(frame) = Frame::decode(body) else {
            self.link
                .fail(ErrorCode::Malformed, None, "frame did not decode");
            return;
        };
        match (self.handshake, frame) {
            (_, Frame::Error(e)) => match e.handle {
                Some(h) => {
                    let handle = Handle(h);
                    let live = self.slot_mut(handle).is_some_and(|s| s.gone.is_none());
                    if live {
                        self.end(
                            handle,
                            Event::Ended {
                                handle,
                                code: e.code,
                            },
                            false,
                        );
                    }
                }
                None => self.link.closed_by_peer(Some(e.code)),
            },
            (_, Frame::Close) => self.link.closed_by_peer(None),
            (_, Frame::Ping { nonce }) => self.link.on_ping(nonce),
            (_, Frame::Pong { .. }) => {}
            (Handshake::AwaitChallenge, Frame::Challenge(c)) => {
                if c.version != PROTOCOL_VERSION {
                    self.link
                        .fail(ErrorCode::UnsupportedVersion, None, "memwire protocol 1");
                    return;
                }
                let proof = auth::proof(self.config.secret, &c.nonce, &self.hello);
                self.handshake = Handshake::AuthDue(proof);
            }
            (Handshake::AwaitWelcome, Frame::Welcome(w)) => {
                self.handshake = Handshake::Open;
                self.link.deadline = None;
                self.link.agree(
                    Duration::from_millis(u64::from(w.limits.keepalive_ms)),
                    Duration::from_millis(u64::from(w.limits.timeout_ms)),
                );
                self.peer_max = usize::try_from(w.limits.max_frame).unwrap_or(usize::MAX);
                let connected = Event::Connected {
                    session: w.session,
                    limits: w.limits,
                };
                // The queue holds at least the connected event: it is the
                // first event of a session.
                let _ = self.events.push_back(connected);
                observer.regions(w.regions, w.complete);
            }
            (Handshake::Open, Frame::Schema(part)) => self.on_schema(&part, observer),
            (Handshake::Open, Frame::Update(update)) => {
                let handle = Handle(update.handle);
                // A described subscription without a mirror yet has nothing
                // to apply an update to (a conforming hub sends none).
                let Some(sub) = self
                    .slot_mut(handle)
                    .filter(|s| s.gone.is_none())
                    .and_then(|s| s.sub.as_mut())
                else {
                    return;
                };
                if let Err(fatal) = sub.on_update(&update) {
                    self.link.fail(fatal.code, None, fatal.reason);
                }
            }
            (Handshake::Open, Frame::WriteResult(result)) => {
                self.unanswered = self.unanswered.saturating_sub(1);
                let event = match result.outcome {
                    WriteOutcome::Applied { generation } => Event::WriteApplied {
                        request: result.request,
                        generation,
                    },
                    WriteOutcome::Refused { code, .. } => Event::WriteRefused {
                        request: result.request,
                        code,
                    },
                };
                if self.events.push_back(event).is_err() {
                    self.link.fail(
                        ErrorCode::UnexpectedFrame,
                        None,
                        "write result not asked for",
                    );
                }
            }
            _ => self
                .link
                .fail(ErrorCode::UnexpectedFrame, None, "frame not expected now"),
        }
    }

    fn on_schema<O: Observer<'a> + ?Sized>(&mut self, part: &SchemaPart<'_>, observer: &mut O) {
        let handle = Handle(part.handle);
        let Some(slot) = self.slot_mut(handle).filter(|s| s.gone.is_none()) else {
            return;
        };
        if slot.sub.is_none() {
            if let Err(event) = slot.describe(handle, part, observer) {
                self.end(handle, event, true);
                return;
            }
        }
        let Some(slot) = self.slot_mut(handle) else {
            return;
        };
        // The part that brought the mirror is checked against it too.
        let mismatch = slot
            .sub
            .as_mut()
            .is_some_and(|sub| sub.on_schema(part) == SchemaOutcome::Mismatch);
        if mismatch {
            self.end(handle, Event::SchemaMismatch { handle }, true);
        }
    }

    fn transmit(&mut self, now: Instant, buf: &mut [u8]) -> usize {
        let mut used = self.link.write_controls(now, buf);
        if !self.link.is_open() {
            return used;
        }
        match self.handshake {
            Handshake::HelloDue => {
                let hello = Frame::Hello(Hello {
                    version: PROTOCOL_VERSION,
                    max_frame: self.config.max_frame,
                    client: self.config.name,
                    tenant: self.config.tenant,
                });
                let _ = self.hello.resize(HELLO_MAX, 0);
                match hello.encode(&mut self.hello) {
                    Ok(n) => self.hello.truncate(n),
                    Err(_) => {
                        self.hello.clear();
                        self.link
                            .fail(ErrorCode::Other, None, "client name or tenant not valid");
                        return used + self.link.write_controls(now, rest(buf, used));
                    }
                }
                match Framing::LengthPrefix.wrap(&self.hello, rest(buf, used)) {
                    Ok(n) => {
                        self.link.sent(now, n);
                        used += n;
                        self.handshake = Handshake::AwaitChallenge;
                    }
                    Err(_) => return used,
                }
            }
            Handshake::AuthDue(proof) => {
                if !self.put(now, buf, &mut used, &Frame::Auth(Auth { proof })) {
                    return used;
                }
                self.handshake = Handshake::AwaitWelcome;
            }
            Handshake::AwaitChallenge | Handshake::AwaitWelcome => return used,
            Handshake::Open => {}
        }
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
        // Whole write frames, in order.
        while let Some(&len) = self.write_lens.first() {
            let Some(frame) = self.writes.get(..len) else {
                break;
            };
            let Some(out) = rest(buf, used).get_mut(..len) else {
                break;
            };
            out.copy_from_slice(frame);
            used += len;
            self.link.sent(now, len);
            self.writes.rotate_left(len);
            self.writes.truncate(self.writes.len() - len);
            self.write_lens.remove(0);
            self.unanswered += 1;
        }
        used
    }

    /// Sends what subscription `index` has due; false when `buf` is full.
    fn transmit_slot(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        used: &mut usize,
        index: usize,
    ) -> bool {
        let Some(Some(slot)) = self.subs.get(index) else {
            return true;
        };
        let handle = u16::try_from(index).unwrap_or(u16::MAX);
        let frame = if slot.subscribe_due {
            Frame::Subscribe(Subscribe {
                handle,
                path: &slot.path,
                resume: slot.sub.as_ref().and_then(|sub| sub.resume),
                variables: slot.described,
            })
        } else if slot.unsubscribe_due {
            Frame::Unsubscribe(Unsubscribe { handle })
        } else if let Some(generation) = slot.sub.as_ref().and_then(|sub| sub.ack_due) {
            Frame::Ack(Ack { handle, generation })
        } else {
            return true;
        };
        let Ok(n) = Framing::LengthPrefix.encode(&frame, rest(buf, *used)) else {
            return false;
        };
        *used += n;
        self.link.sent(now, n);
        if let Some(Some(slot)) = self.subs.get_mut(index) {
            if slot.subscribe_due {
                slot.subscribe_due = false;
            } else if slot.unsubscribe_due {
                slot.unsubscribe_due = false;
                if slot.gone.is_none() {
                    self.free(Handle(handle));
                }
                return true;
            } else if let Some(sub) = slot.sub.as_mut() {
                sub.ack_due = None;
            }
        }
        // One more frame may be due (an ack after a subscribe).
        self.transmit_slot(now, buf, used, index)
    }

    fn put(&mut self, now: Instant, buf: &mut [u8], used: &mut usize, frame: &Frame<'_>) -> bool {
        match Framing::LengthPrefix.encode(frame, rest(buf, *used)) {
            Ok(n) => {
                *used += n;
                self.link.sent(now, n);
                true
            }
            Err(_) => false,
        }
    }

    fn poll_event(&mut self) -> Option<Event> {
        if let Some(event) = self.events.pop_front() {
            return Some(event);
        }
        for index in 0..self.subs.len() {
            let Some(Some(slot)) = self.subs.get_mut(index) else {
                continue;
            };
            if let Some(event) = slot.gone.take() {
                if !slot.unsubscribe_due {
                    self.free(Handle(u16::try_from(index).unwrap_or(u16::MAX)));
                }
                return Some(event);
            }
            if let Some((generation, resynced)) =
                slot.sub.as_mut().and_then(|sub| sub.updated.take())
            {
                return Some(Event::Updated {
                    handle: Handle(u16::try_from(index).unwrap_or(u16::MAX)),
                    generation,
                    resynced,
                });
            }
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

impl<'a> Slot<'a> {
    /// Shows a schema part of a described subscription without a mirror to
    /// the observer, and takes the mirror it may return. A part out of
    /// order, or one that brings no variable before the table is whole,
    /// ends the subscription (`Err`, the event to report): a conforming hub
    /// sends neither, and the table could never be completed.
    fn describe<O: Observer<'a> + ?Sized>(
        &mut self,
        handle: Handle,
        part: &SchemaPart<'_>,
        observer: &mut O,
    ) -> Result<(), Event> {
        let broken = Event::Ended {
            handle,
            code: ErrorCode::UnexpectedFrame,
        };
        let vars = u32::try_from(part.variables.iter().count()).map_err(|_| broken)?;
        let next = part.first.checked_add(vars).ok_or(broken)?;
        let last = next == part.count;
        let in_order = part.first == 0 || part.first == self.table_next;
        if !in_order || next > part.count || (vars == 0 && !last) {
            return Err(broken);
        }
        self.table_next = next;
        match observer.schema_part(handle, part) {
            Some(mirror) => {
                self.sub = Some(Subscriber::new(mirror, None));
                Ok(())
            }
            None if last => Err(Event::SchemaMismatch { handle }),
            None => Ok(()),
        }
    }
}

/// The part of `buf` after the first `used` bytes.
fn rest(buf: &mut [u8], used: usize) -> &mut [u8] {
    buf.get_mut(used..).unwrap_or(&mut [])
}
