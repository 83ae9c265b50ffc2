//! The state of one connection on the hub's side, and the two dispatchers
//! over it: `on_frame` sends each frame to its step (the handshake in
//! `handshake.rs`, subscribes in `subscribe.rs`, the rest to the
//! publications, the writes and the mirrors), and `transmit` fills the
//! buffer in a fixed order: control frames, the handshake (the welcome from
//! `welcome.rs`), the mirrors' subscribes and acks, the hub's writes, then
//! the publications' answers and updates.

use heapless::{Deque, String, Vec};

use super::config::ServerConfig;
use super::hub::{Hub, HubSources, HubWritable};
use super::mirrors::Mirrors;
use crate::codec::{ErrorCode, Frame, MIN_FRAME};
use crate::schema::Name;
use crate::session::auth;
use crate::session::event::ServerEvent;
use crate::session::link::{Control, Link, Phase};
use crate::session::peer_subscriptions::{PeerLimits, PeerSubscriptions};
use crate::session::rate::RateLimit;
use crate::session::writes::{WRITES_MAX, Writes};
use crate::time::{Duration, Instant};

/// The longest hello body kept for the proof.
pub(super) const HELLO_MAX: usize = 128;

/// Where the handshake stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Handshake {
    AwaitHello,
    ChallengeDue,
    AwaitAuth,
    WelcomeDue,
    Open,
}

/// What a [`Server`](super::Server) holds besides its receive buffer.
pub(super) struct Inner<const SUBS: usize> {
    pub(super) config: ServerConfig,
    pub(super) link: Link,
    pub(super) handshake: Handshake,
    pub(super) nonce: auth::Nonce,
    pub(super) hello: Vec<u8, HELLO_MAX>,
    pub(super) tenant: Option<Name>,
    pub(super) client: String<{ crate::codec::CLIENT_NAME_MAX }>,
    /// The client's maximum frame size.
    pub(super) peer_max: usize,
    pub(super) frames: RateLimit,
    pub(super) bytes: RateLimit,
    pub(super) peer_subs: PeerSubscriptions<SUBS>,
    pub(super) mirrors: Mirrors<SUBS>,
    /// Writes to regions the client publishes, and their answers.
    pub(super) writes: Writes,
    pub(super) events: Deque<ServerEvent, WRITES_MAX>,
    pub(super) authenticated_due: bool,
    pub(super) closed_reported: bool,
}

impl<const SUBS: usize> Inner<SUBS> {
    /// The state of a connection accepted at `now`, with `config` already
    /// clamped to what the server takes.
    pub(super) fn new(now: Instant, config: ServerConfig, nonce: auth::Nonce) -> Self {
        let rate = config.rate;
        Inner {
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
            peer_subs: PeerSubscriptions::new(),
            mirrors: Mirrors::new(),
            writes: Writes::new(),
            events: Deque::new(),
            authenticated_due: false,
            closed_reported: false,
        }
    }

    pub(super) fn tenant(&self) -> &str {
        self.tenant.as_ref().map_or("", Name::as_str)
    }

    pub(super) fn on_frame<H: Hub + ?Sized>(&mut self, now: Instant, body: &[u8], hub: &mut H) {
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
            (_, Frame::Pong { nonce }) => self.link.on_pong(nonce),
            (Handshake::AwaitAuth, Frame::Auth(a)) => self.on_auth(&a, hub),
            (Handshake::Open, Frame::Subscribe(s)) => self.on_subscribe(&s, hub),
            (Handshake::Open, Frame::Unsubscribe(u)) => {
                if !self.peer_subs.remove(u.handle) {
                    self.unknown_handle(u.handle);
                }
            }
            (Handshake::Open, Frame::Ack(a)) => {
                if !self
                    .peer_subs
                    .on_ack(a.handle, a.generation, &HubSources(&*hub))
                {
                    self.unknown_handle(a.handle);
                }
            }
            (Handshake::Open, Frame::Write(w)) => {
                if !self.peer_subs.on_write(&w, &mut HubWritable(hub)) {
                    self.link
                        .fail(ErrorCode::LimitExceeded, None, "too many writes unanswered");
                }
            }
            (Handshake::Open, Frame::Schema(part)) => {
                if let Err(fatal) = self.mirrors.on_schema(&part, hub) {
                    self.link.fail(fatal.code, None, fatal.reason);
                }
            }
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

    /// Answers a frame about a subscription of the client's that it does
    /// not hold: an error with the handle, which ends nothing.
    fn unknown_handle(&mut self, handle: u16) {
        self.link.push(Control::Error {
            code: ErrorCode::UnknownHandle,
            handle: Some(handle),
            reason: "no such subscription",
        });
    }

    pub(super) fn transmit<H: Hub + ?Sized>(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        hub: &H,
    ) -> usize {
        let mut used = 0;
        // Writes already applied are answered before the error that closes.
        if self.link.phase == Phase::Closing
            && !self
                .peer_subs
                .transmit_answers(now, buf, &mut used, &mut self.link)
        {
            return used;
        }
        used += self
            .link
            .write_controls(now, buf.get_mut(used..).unwrap_or(&mut []));
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
        self.peer_subs
            .transmit(now, buf, &mut used, &mut self.link, peer, &HubSources(hub));
        if self.link.is_open() {
            // A subscription whose region is gone was ended just now with an
            // error: it goes out with this poll, not with whatever frame
            // (a keep-alive at worst) would come next.
            used += self
                .link
                .write_controls(now, buf.get_mut(used..).unwrap_or(&mut []));
        } else if self
            .peer_subs
            .transmit_answers(now, buf, &mut used, &mut self.link)
        {
            used += self
                .link
                .write_controls(now, buf.get_mut(used..).unwrap_or(&mut []));
        }
        used
    }
}
