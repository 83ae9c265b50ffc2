//! The state of one connection on the client's side, and the two
//! dispatchers over it: `on_frame` sends each frame to its step (the
//! handshake in `handshake.rs`, the client's own subscriptions in
//! `subscriptions.rs`, the hub's subscriptions to the client's own regions
//! in `hub_subscriptions.rs`, write answers to the writes), and `transmit`
//! fills the buffer in a fixed order: control frames, the handshake, each
//! subscription's subscribe, unsubscribe or ack in turn, the client's
//! writes, then the publications' answers and updates.

use heapless::{Deque, Vec};

use super::config::ClientConfig;
use super::slot::Slot;
use crate::codec::{ErrorCode, Frame, MIN_FRAME};
use crate::session::auth;
use crate::session::event::{Event, Handle, Observer};
use crate::session::link::{Link, Phase as LinkPhase};
use crate::session::own_region::OwnRegions;
use crate::session::peer_subscriptions::{PeerLimits, PeerSubscriptions};
use crate::session::writes::{WRITES_MAX, Writes};
use crate::time::Instant;

/// The longest hello body: tag, version, frame limit, a 64-byte client name
/// and a 40-byte tenant, with their lengths.
pub(super) const HELLO_MAX: usize = 128;

/// Connection-level events waiting to be polled (write results and the
/// connected event; per-subscription events live in the subscription).
const EVENTS: usize = WRITES_MAX + 2;

/// Where the handshake stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Handshake {
    HelloDue,
    AwaitChallenge,
    AuthDue(auth::Proof),
    AwaitWelcome,
    Open,
}

/// What a [`Client`](super::Client) holds besides its receive buffer.
pub(super) struct Inner<'a, const SUBS: usize> {
    pub(super) config: ClientConfig<'a>,
    pub(super) link: Link,
    pub(super) handshake: Handshake,
    pub(super) hello: Vec<u8, HELLO_MAX>,
    /// The hub's maximum frame size.
    pub(super) peer_max: usize,
    pub(super) subs: [Option<Slot<'a>>; SUBS],
    pub(super) events: Deque<Event, EVENTS>,
    /// Writes waiting to be sent or answered.
    pub(super) writes: Writes,
    pub(super) closed_reported: bool,
    /// Where the next transmit starts looking, for fairness.
    pub(super) turn: usize,
    /// The hub's subscriptions to regions this client publishes.
    pub(super) peer_subs: PeerSubscriptions<SUBS>,
    /// Updates in flight per published region, from the welcome.
    pub(super) max_in_flight: usize,
}

impl<'a, const SUBS: usize> Inner<'a, SUBS> {
    /// The state of a client starting its handshake at `now`, with
    /// `config` already clamped to what the client takes.
    pub(super) fn new(now: Instant, config: ClientConfig<'a>) -> Self {
        Inner {
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
            peer_subs: PeerSubscriptions::new(),
            max_in_flight: 2,
        }
    }

    pub(super) fn on_frame<O: Observer<'a> + ?Sized>(
        &mut self,
        now: Instant,
        body: &[u8],
        observer: &mut O,
    ) {
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
            (_, Frame::Pong { nonce }) => self.link.on_pong(nonce),
            (Handshake::AwaitChallenge, Frame::Challenge(c)) => self.on_challenge(c),
            (Handshake::AwaitWelcome, Frame::Welcome(w)) => self.on_welcome(w, observer),
            (Handshake::Open, Frame::Schema(part)) => self.on_schema(&part, observer),
            (Handshake::Open, Frame::Update(update)) => self.on_update(&update, observer),
            (Handshake::Open, Frame::Subscribe(sub)) => self.on_subscribe(&sub, observer),
            (Handshake::Open, Frame::Unsubscribe(u)) => {
                self.peer_subs.remove(u.handle);
            }
            (Handshake::Open, Frame::Ack(a)) => self.on_published_ack(a, observer),
            (Handshake::Open, Frame::Write(w)) => self.on_published_write(&w, observer),
            (Handshake::Open, Frame::WriteResult(result)) => {
                self.writes.on_result(
                    &result,
                    &mut self.events,
                    &mut self.link,
                    |request, outcome| match outcome {
                        Ok(generation) => Event::WriteApplied {
                            request,
                            generation,
                        },
                        Err(code) => Event::WriteRefused { request, code },
                    },
                );
            }
            _ => self
                .link
                .fail(ErrorCode::UnexpectedFrame, None, "frame not expected now"),
        }
    }

    pub(super) fn transmit(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        regions: &mut dyn OwnRegions,
    ) -> usize {
        let mut used = 0;
        // Writes already applied are answered before the error that closes.
        if self.link.phase == LinkPhase::Closing
            && !self
                .peer_subs
                .transmit_answers(now, buf, &mut used, &mut self.link)
        {
            return used;
        }
        used += self.link.write_controls(now, rest(buf, used));
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
        self.peer_subs
            .transmit(now, buf, &mut used, &mut self.link, peer, &*regions);
        if !self.link.is_open()
            && self
                .peer_subs
                .transmit_answers(now, buf, &mut used, &mut self.link)
        {
            used += self.link.write_controls(now, rest(buf, used));
        }
        used
    }

    pub(super) fn poll_event(&mut self) -> Option<Event> {
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
pub(super) fn rest(buf: &mut [u8], used: usize) -> &mut [u8] {
    buf.get_mut(used..).unwrap_or(&mut [])
}
