//! The state of one connection on the hub's side once its client
//! authenticated, and the two dispatchers over it: `on_frame` sends each
//! frame to its step (subscribes in `subscribe.rs`, the rest to the
//! publications, the writes and the mirrors), and `transmit` fills the
//! buffer in a fixed order: control frames, the welcome (from
//! `welcome.rs`), the mirrors' subscribes and acks, the hub's writes, then
//! the publications' answers and updates. Before the login the connection
//! is a [`Handshake`](super::Handshake) (`handshake.rs`).

use heapless::{Deque, String};

use super::config::ServerConfig;
use super::handshake::Login;
use super::hub::{Hub, HubSources, HubWritable};
use super::mirrors::Mirrors;
use crate::codec::{CLIENT_NAME_MAX, ErrorCode, Frame, WriteTarget};
use crate::schema::Name;
use crate::session::event::ServerEvent;
use crate::session::link::{Control, Link, Phase};
use crate::session::peer_subscriptions::{Partial, PeerLimits, PeerSubscriptions};
use crate::session::rate::RateLimit;
use crate::session::writes::{WRITES_MAX, Writes};
use crate::time::Instant;

/// Whether the welcome went out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Welcome {
    Due,
    Sent,
}

/// What a [`Server`](super::Server) holds besides its receive buffer.
pub(super) struct Inner<const SUBS: usize> {
    pub(super) config: ServerConfig,
    pub(super) link: Link,
    pub(super) welcome: Welcome,
    pub(super) tenant: Name,
    pub(super) client: String<CLIENT_NAME_MAX>,
    /// The client's maximum frame size.
    pub(super) peer_max: usize,
    pub(super) frames: RateLimit,
    pub(super) bytes: RateLimit,
    pub(super) peer_subs: PeerSubscriptions<SUBS>,
    /// The write in parts the client is sending, until its last part.
    pub(super) partial: Option<Partial>,
    pub(super) mirrors: Mirrors<SUBS>,
    /// Writes to regions the client publishes, and their answers.
    pub(super) writes: Writes,
    pub(super) events: Deque<ServerEvent, WRITES_MAX>,
    pub(super) authenticated_due: bool,
    pub(super) closed_reported: bool,
}

impl<const SUBS: usize> Inner<SUBS> {
    /// The state of a connection whose client authenticated in `login`,
    /// with `config` already clamped to what the server takes; `None` if
    /// the login named no tenant.
    pub(super) fn after_login(login: &Login, config: ServerConfig) -> Option<Self> {
        Some(Inner {
            link: login.link.clone(),
            config,
            welcome: Welcome::Due,
            tenant: login.tenant?,
            client: login.client.clone(),
            peer_max: login
                .peer_max
                .min(usize::try_from(config.max_frame).unwrap_or(usize::MAX)),
            frames: login.frames,
            bytes: login.bytes,
            peer_subs: PeerSubscriptions::new(),
            partial: None,
            mirrors: Mirrors::new(),
            writes: Writes::new(),
            events: Deque::new(),
            authenticated_due: true,
            closed_reported: false,
        })
    }

    pub(super) fn tenant(&self) -> &str {
        self.tenant.as_str()
    }

    pub(super) fn on_frame<H: Hub + ?Sized>(&mut self, now: Instant, body: &[u8], hub: &mut H) {
        self.link.received(now, body.len());
        let units = u32::try_from(body.len()).unwrap_or(u32::MAX);
        if self.bytes.check(now, units).is_err() {
            self.link
                .fail(ErrorCode::RateLimited, None, "faster than the rate limit");
            return;
        }
        let decoded = Frame::decode(body);
        // Acks answer the hub's own updates, one per update: they count
        // against the byte rate only, or a busy subscription would trip the
        // frame rate by keeping up.
        let is_ack = matches!(decoded, Ok(Frame::Ack(_)));
        if !is_ack && self.frames.check(now, 1).is_err() {
            self.link
                .fail(ErrorCode::RateLimited, None, "faster than the rate limit");
            return;
        }
        let Ok(frame) = decoded else {
            self.link
                .fail(ErrorCode::Malformed, None, "frame did not decode");
            return;
        };
        match (self.welcome, frame) {
            // An error with a handle comes from the publisher of that
            // subscription: here, the client ending one of the hub's.
            (_, Frame::Error(e)) => match e.handle {
                Some(h) => self.mirrors.on_error(h, e.code),
                None => self.link.closed_by_peer(Some(e.code)),
            },
            (_, Frame::Close) => self.link.closed_by_peer(None),
            (_, Frame::Ping { nonce }) => self.link.on_ping(nonce),
            (_, Frame::Pong { nonce }) => self.link.on_pong(nonce),
            (Welcome::Sent, Frame::Subscribe(s)) => self.on_subscribe(&s, hub),
            (Welcome::Sent, Frame::Unsubscribe(u)) => {
                if !self.peer_subs.remove(u.handle) {
                    self.unknown_handle(u.handle);
                }
            }
            (Welcome::Sent, Frame::Ack(a)) => {
                if !self
                    .peer_subs
                    .on_ack(a.handle, a.generation, &HubSources(&*hub))
                {
                    self.unknown_handle(a.handle);
                }
            }
            (Welcome::Sent, Frame::Write(w)) => {
                // A part before the last answers nothing yet.
                let answers = !matches!(w.target, WriteTarget::Part { last: false, .. });
                let close = match w.target {
                    WriteTarget::Part { last, .. } => self
                        .peer_subs
                        .on_write_part(&mut self.partial, &w, last, &mut HubWritable(hub))
                        .err(),
                    _ if self.partial.take().is_some() => {
                        hub.drop_staged();
                        Some((ErrorCode::UnexpectedFrame, "a write in parts is unfinished"))
                    }
                    _ => (!self.peer_subs.on_write(&w, &mut HubWritable(hub)))
                        .then_some((ErrorCode::LimitExceeded, "too many writes unanswered")),
                };
                if let Some((code, reason)) = close {
                    self.link.fail(code, None, reason);
                } else if let Some(outcome) = self.peer_subs.last_outcome().filter(|_| answers) {
                    hub.write_answered(outcome);
                }
            }
            (Welcome::Sent, Frame::Schema(part)) => {
                if let Err(fatal) = self.mirrors.on_schema(&part, hub) {
                    self.link.fail(fatal.code, None, fatal.reason);
                }
            }
            (Welcome::Sent, Frame::WriteResult(result)) => {
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
            (Welcome::Sent, Frame::Update(update)) => {
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
        if self.welcome == Welcome::Due {
            if !self.put_welcome(now, buf, &mut used, hub) {
                return used;
            }
            self.welcome = Welcome::Sent;
            self.mirrors.start(hub, self.tenant.as_str(), &self.client);
        }
        let peer = PeerLimits {
            max_frame: self.peer_max,
            max_in_flight: usize::from(self.config.max_in_flight),
        };
        self.mirrors.transmit(now, buf, &mut used, &mut self.link);
        self.writes.transmit(now, buf, &mut used, &mut self.link);
        self.peer_subs
            .transmit(now, buf, &mut used, &mut self.link, peer, &HubSources(hub));
        // A subscription whose region stopped being served ended just now:
        // its error goes out in this call, not at the next timer. (Once
        // closing, the answers go first, below.)
        if self.link.is_open() {
            used += self
                .link
                .write_controls(now, buf.get_mut(used..).unwrap_or(&mut []));
        }
        if !self.link.is_open()
            && self
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
