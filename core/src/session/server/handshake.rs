//! The hub's half of the handshake in a state of its own: the hello, the
//! challenge, the proof checked against the client's secret.
//!
//! A [`Handshake`] is a connection before its client authenticated. It
//! holds about a kilobyte: no subscriptions, no mirrors, no receive buffer
//! of the maximum frame size (`head.rs` reads every frame to its end but
//! keeps only the bytes a handshake frame can have). Once the proof checks,
//! [`Server::after_login`](super::Server::after_login) builds the session
//! from it, and the session sends the welcome. A hub that holds many
//! connections so holds the full session of authenticated clients only.

use heapless::{String, Vec};

use super::config::ServerConfig;
use super::head::{HEAD, Heads, Read};
use super::hub::Hub;
use crate::codec::{
    AccumulateError, Auth, CLIENT_NAME_MAX, Challenge, DecodeError, ErrorCode, Frame, MIN_FRAME,
    PROTOCOL_VERSION, is_update_tag, peek_hello_version,
};
use crate::schema::Name;
use crate::session::link::{Link, Phase, Stats};
use crate::session::rate::RateLimit;
use crate::session::{AuthFailure, ServerEvent, auth};
use crate::time::{Duration, Instant};

/// The longest hello body kept for the proof.
const HELLO_MAX: usize = HEAD;

/// The tags of the frames that may be longer than [`MIN_FRAME`] bytes
/// (Welcome, Schema, Write, and updates, whose tags
/// [`is_update_tag`] knows): no other frame of a longer body can decode.
const LONG_TAGS: [u8; 3] = [3, 10, 13];

/// Where the handshake stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    AwaitHello,
    ChallengeDue,
    AwaitAuth,
    /// The proof checked: the session takes over.
    Authenticated,
}

/// Why a frame of the handshake was not taken as a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Undecoded {
    /// It does not decode.
    Malformed,
    /// It is longer than any frame a client may send before the welcome,
    /// and its first bytes are those of a frame that may be that long:
    /// what decoding it whole would find, it is not expected now.
    Unexpected,
}

/// One connection on the hub's side before its client authenticated:
/// hello, challenge, proof. Driven like a [`Server`](super::Server), with
/// no subscriptions to serve: `handle_input`, `poll_transmit`,
/// `poll_timeout`, `handle_timeout`, `poll_event`.
#[derive(Debug)]
pub struct Handshake {
    input: Heads,
    login: Login,
}

/// What the handshake knows, and what the session after it starts from.
#[derive(Debug)]
pub(super) struct Login {
    pub(super) config: ServerConfig,
    pub(super) link: Link,
    step: Step,
    nonce: auth::Nonce,
    hello: Vec<u8, HELLO_MAX>,
    pub(super) tenant: Option<Name>,
    pub(super) client: String<CLIENT_NAME_MAX>,
    /// The client's maximum frame size.
    pub(super) peer_max: usize,
    pub(super) frames: RateLimit,
    pub(super) bytes: RateLimit,
    refused: Option<AuthFailure>,
    closed_reported: bool,
}

impl Handshake {
    /// The handshake of a connection accepted at `now`. `nonce` must be
    /// fresh random bytes, never used for another connection: it is what
    /// makes a recorded authentication useless. `config` is the one the
    /// session is built with after the login; its `max_frame` bounds the
    /// frames read here too (they are read to their end, never kept).
    pub fn new(now: Instant, config: ServerConfig, nonce: auth::Nonce) -> Handshake {
        let config = ServerConfig {
            max_frame: config.max_frame.max(MIN_FRAME),
            ..config
        };
        let rate = config.rate;
        Handshake {
            input: Heads::new(usize::try_from(config.max_frame).unwrap_or(usize::MAX)),
            login: Login {
                link: Link::new(now, config.keepalive, config.timeout, config.handshake),
                config,
                step: Step::AwaitHello,
                nonce,
                hello: Vec::new(),
                tenant: None,
                client: String::new(),
                peer_max: MIN_FRAME as usize,
                frames: RateLimit::new(rate.frames, Duration::from_secs(1), rate.frame_burst),
                bytes: RateLimit::new(rate.bytes, Duration::from_secs(1), rate.byte_burst),
                refused: None,
                closed_reported: false,
            },
        }
    }

    /// Takes bytes read from the stream, split in any way, up to the end
    /// of the frame that authenticates the client. Returns the bytes after
    /// it, for the session built with
    /// [`Server::after_login`](super::Server::after_login) to take; empty
    /// until then. Once authenticated, all `bytes` are returned.
    pub fn handle_input<'i, H: Hub + ?Sized>(
        &mut self,
        now: Instant,
        bytes: &'i [u8],
        hub: &H,
    ) -> &'i [u8] {
        let mut input = bytes;
        while self.login.link.is_open() && !self.is_authenticated() {
            match self.input.feed(input) {
                Read::Pending => return &[],
                Read::Frame { head, len, rest } => {
                    input = rest;
                    self.login.on_frame(now, head, len, hub);
                }
                Read::Error(error) => {
                    let (code, reason) = match error {
                        AccumulateError::TooLarge => {
                            (ErrorCode::FrameTooLarge, "frame larger than announced")
                        }
                        _ => (ErrorCode::Malformed, "bad framing"),
                    };
                    self.login.link.fail(code, None, reason);
                    return &[];
                }
            }
        }
        if self.is_authenticated() { input } else { &[] }
    }

    /// Writes framed bytes to send (the challenge, an error and the close)
    /// into `buf` and returns their length, or `None` when there is
    /// nothing to send. 128 bytes hold any of them.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        let login = &mut self.login;
        let mut used = login.link.write_controls(now, buf);
        if login.link.is_open() && login.step == Step::ChallengeDue {
            let challenge = Frame::Challenge(Challenge {
                version: PROTOCOL_VERSION,
                nonce: login.nonce,
            });
            if login.link.put(now, buf, &mut used, &challenge) {
                login.step = Step::AwaitAuth;
            }
        }
        (used > 0).then_some(used)
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.login.link.poll_timeout()
    }

    /// Fires the timers due at `now`: the handshake deadline, the dead-peer
    /// timeout.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.login.link.handle_timeout(now);
    }

    /// The next event for the hub: [`ServerEvent::AuthFailed`], then
    /// [`ServerEvent::Closed`]. The session built after the login tells
    /// [`ServerEvent::Authenticated`].
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        let login = &mut self.login;
        if let Some(reason) = login.refused.take() {
            return Some(ServerEvent::AuthFailed { reason });
        }
        if login.link.phase == Phase::Closed && !login.closed_reported {
            login.closed_reported = true;
            return Some(ServerEvent::Closed {
                code: login.link.close_code,
            });
        }
        None
    }

    /// Closes in order (a close frame), or with `code` (an error frame then
    /// a close), e.g. [`ErrorCode::ShuttingDown`].
    pub fn close(&mut self, code: Option<ErrorCode>) {
        match code {
            Some(code) => self.login.link.fail(code, None, code.describe()),
            None => self.login.link.close(),
        }
    }

    /// Whether the connection is closed: the caller closes the stream once
    /// [`poll_transmit`](Self::poll_transmit) returns `None`.
    pub fn is_closed(&self) -> bool {
        self.login.link.phase == Phase::Closed
    }

    /// Whether the client's proof checked: time to build the session with
    /// [`Server::after_login`](super::Server::after_login).
    pub fn is_authenticated(&self) -> bool {
        self.login.step == Step::Authenticated
    }

    /// The tenant and client name the hello gave, authenticated or not
    /// (for the logs of a refused login); `None` before a hello.
    pub fn claimed(&self) -> Option<(&str, &str)> {
        let login = &self.login;
        Some((login.tenant.as_ref()?.as_str(), login.client.as_str()))
    }

    /// The handshake's counters.
    pub fn stats(&self) -> Stats {
        self.login.link.stats
    }

    /// What the session after an authenticated handshake starts from.
    pub(super) fn login(&self) -> Option<&Login> {
        self.is_authenticated().then_some(&self.login)
    }
}

impl Login {
    /// A frame of `len` bytes, of which `head` are the first (all of them
    /// unless the frame is longer than [`HEAD`]).
    fn on_frame<H: Hub + ?Sized>(&mut self, now: Instant, head: &[u8], len: usize, hub: &H) {
        self.link.received(now, len);
        let units = u32::try_from(len).unwrap_or(u32::MAX);
        if self.bytes.check(now, units).is_err() {
            self.link
                .fail(ErrorCode::RateLimited, None, "faster than the rate limit");
            return;
        }
        let decoded = match self.step {
            Step::AwaitHello => None,
            _ => Some(decode(head, len)),
        };
        // Acks count against the byte rate only, as in the session.
        let is_ack = matches!(decoded, Some(Ok(Frame::Ack(_))));
        if !is_ack && self.frames.check(now, 1).is_err() {
            self.link
                .fail(ErrorCode::RateLimited, None, "faster than the rate limit");
            return;
        }
        let frame = match decoded {
            None => return self.on_hello(head, len),
            Some(Ok(frame)) => frame,
            Some(Err(Undecoded::Malformed)) => {
                return self
                    .link
                    .fail(ErrorCode::Malformed, None, "frame did not decode");
            }
            Some(Err(Undecoded::Unexpected)) => {
                return self
                    .link
                    .fail(ErrorCode::UnexpectedFrame, None, "frame not expected now");
            }
        };
        match (self.step, frame) {
            // An error with a handle would end one of the hub's
            // subscriptions to the client's regions: there are none yet.
            (_, Frame::Error(e)) => {
                if e.handle.is_none() {
                    self.link.closed_by_peer(Some(e.code));
                }
            }
            (_, Frame::Close) => self.link.closed_by_peer(None),
            (_, Frame::Ping { nonce }) => self.link.on_ping(nonce),
            (_, Frame::Pong { nonce }) => self.link.on_pong(nonce),
            (Step::AwaitAuth, Frame::Auth(a)) => self.on_auth(&a, hub),
            _ => self
                .link
                .fail(ErrorCode::UnexpectedFrame, None, "frame not expected now"),
        }
    }

    fn on_hello(&mut self, head: &[u8], len: usize) {
        if peek_hello_version(head).is_some_and(|v| v != PROTOCOL_VERSION) {
            self.link
                .fail(ErrorCode::UnsupportedVersion, None, "memwire protocol 2");
            return;
        }
        let hello = match decode(head, len) {
            Ok(Frame::Hello(hello)) => hello,
            Ok(_) | Err(Undecoded::Unexpected) => {
                self.link
                    .fail(ErrorCode::UnexpectedFrame, None, "expected a hello");
                return;
            }
            Err(Undecoded::Malformed) => {
                self.link
                    .fail(ErrorCode::Malformed, None, "frame did not decode");
                return;
            }
        };
        let (Ok(hello_bytes), Ok(client), Ok(tenant)) = (
            Vec::from_slice(head),
            String::try_from(hello.client),
            Name::new(hello.tenant),
        ) else {
            self.link.fail(ErrorCode::Malformed, None, "hello too long");
            return;
        };
        // A name goes into the hub's logs and rights: it must say something,
        // and nothing that would move a terminal's cursor.
        if client.is_empty() || client.chars().any(char::is_control) {
            self.link
                .fail(ErrorCode::Malformed, None, "client name not valid");
            return;
        }
        self.hello = hello_bytes;
        self.client = client;
        self.tenant = Some(tenant);
        // Frames both ways stay within the smaller of the two maxima, so a
        // client cannot make the hub's transmit buffer grow.
        self.peer_max =
            usize::try_from(hello.max_frame.min(self.config.max_frame)).unwrap_or(usize::MAX);
        self.step = Step::ChallengeDue;
    }

    fn on_auth<H: Hub + ?Sized>(&mut self, a: &Auth, hub: &H) {
        let tenant = self.tenant.as_ref().map_or("", Name::as_str);
        let secret = hub.secret(tenant, &self.client);
        // Unknown clients cost the same check as known ones.
        let ok = auth::verify(
            secret.unwrap_or(&[0; 32]),
            &self.nonce,
            &self.hello,
            &a.proof,
        ) & secret.is_some();
        if ok {
            self.step = Step::Authenticated;
            self.link.deadline = None;
        } else {
            self.refused = Some(if secret.is_some() {
                AuthFailure::WrongProof
            } else if hub.knows_tenant(tenant) {
                AuthFailure::UnknownClient
            } else {
                AuthFailure::UnknownTenant
            });
            self.link
                .fail(ErrorCode::AuthFailed, None, "authentication failed");
        }
    }
}

/// Decodes a frame of `len` bytes from its first bytes `head`. A frame
/// longer than its head is no handshake frame; it is judged as decoding it
/// whole would judge it wherever its head is enough to tell: a head that
/// breaks the encoding, or one of a kind that is never that long, is
/// malformed; one of a kind that may be that long is not expected now.
fn decode(head: &[u8], len: usize) -> Result<Frame<'_>, Undecoded> {
    match Frame::decode(head) {
        Ok(frame) if head.len() == len => Ok(frame),
        Err(DecodeError::Truncated)
            if head.len() < len
                && head
                    .first()
                    .is_some_and(|tag| LONG_TAGS.contains(tag) || is_update_tag(*tag)) =>
        {
            Err(Undecoded::Unexpected)
        }
        _ => Err(Undecoded::Malformed),
    }
}
