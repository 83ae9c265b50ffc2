//! The serving side of one connection inside a hub: handshake, rights,
//! limits, a publication per subscription of the client, and the hub's
//! mirrors of the regions the client publishes.
//!
//! - `mod.rs`: [`Server`], the calls its caller makes;
//! - `hub.rs`: [`Hub`], what the server asks of the hub it runs in;
//! - `config.rs`: [`ServerConfig`] and [`RateConfig`];
//! - `handshake.rs`: [`Handshake`], the connection before its client
//!   authenticated (hello, challenge, proof), small enough for a hub to
//!   hold many; `head.rs`: the frames it reads, of which it keeps the
//!   first bytes only;
//! - `state.rs`: the connection's state after the login, and the order in
//!   which it takes frames and fills the transmit buffer;
//! - `welcome.rs`: the welcome that opens the session;
//! - `subscribe.rs`: the checks before a publication starts;
//! - `mirrors.rs`: the hub's subscriptions to the regions its client
//!   publishes.
//!
//! A [`Server`] made with [`Server::new`] runs its handshake itself. A hub
//! that must hold many unauthenticated connections runs a [`Handshake`]
//! for each and builds the [`Server`] with [`Server::after_login`] once the
//! client authenticated, so that a connection costs the full session only
//! then.

mod config;
mod handshake;
mod head;
mod hub;
mod mirrors;
mod state;
mod subscribe;
mod welcome;

pub use self::config::{RateConfig, ServerConfig};
pub use self::handshake::Handshake;
pub use self::hub::Hub;

use self::state::{Inner, Welcome};
use crate::codec::{AccumulateError, ErrorCode, Feed, FrameAccumulator, MIN_FRAME, WriteOutcome};
use crate::session::auth;
use crate::session::event::ServerEvent;
use crate::session::link::{Phase as LinkPhase, Stats};
use crate::session::publication::IN_FLIGHT_CAP;
use crate::session::source::RegionId;
use crate::session::writes::{WriteError, WriteRequest};
use crate::time::Instant;

/// The serving side of one connection: `SUBS` subscriptions at most,
/// frames of up to `RX` bytes received.
pub struct Server<const SUBS: usize, const RX: usize> {
    rx: FrameAccumulator<RX>,
    stage: Stage<SUBS>,
}

/// Before or after the login.
// The open state is the larger by far, and a server holds it for most of
// its life; boxing it would need an allocator.
#[allow(clippy::large_enum_variant)]
enum Stage<const SUBS: usize> {
    Login(Handshake),
    Open(Inner<SUBS>),
}

impl<const SUBS: usize, const RX: usize> Server<SUBS, RX> {
    /// A server for a connection accepted at `now`, its handshake
    /// included. `nonce` must be fresh random bytes, never used for another
    /// connection: it is what makes a recorded authentication useless.
    pub fn new(now: Instant, config: ServerConfig, nonce: auth::Nonce) -> Self {
        let config = Self::clamp(config);
        Server {
            rx: Self::accumulator(&config),
            stage: Stage::Login(Handshake::new(now, config, nonce)),
        }
    }

    /// The session of a connection whose [`Handshake`] authenticated its
    /// client; it sends the welcome first. `None` while the handshake has
    /// not ([`Handshake::is_authenticated`]). The bytes
    /// [`Handshake::handle_input`] returned are this server's to take.
    pub fn after_login(handshake: &Handshake) -> Option<Self> {
        let login = handshake.login()?;
        let config = Self::clamp(login.config);
        Some(Server {
            rx: Self::accumulator(&config),
            stage: Stage::Open(Inner::after_login(login, config)?),
        })
    }

    /// `config` within what the server takes: frames no larger than `RX`.
    fn clamp(config: ServerConfig) -> ServerConfig {
        let max = usize::try_from(config.max_frame)
            .unwrap_or(usize::MAX)
            .clamp(MIN_FRAME as usize, RX.max(MIN_FRAME as usize));
        ServerConfig {
            max_frame: u32::try_from(max).unwrap_or(u32::MAX),
            max_in_flight: config.max_in_flight.clamp(1, IN_FLIGHT_CAP as u16),
            ..config
        }
    }

    fn accumulator(config: &ServerConfig) -> FrameAccumulator<RX> {
        FrameAccumulator::length_prefix(usize::try_from(config.max_frame).unwrap_or(usize::MAX))
    }

    /// Takes bytes read from the stream, split in any way.
    pub fn handle_input<H: Hub + ?Sized>(&mut self, now: Instant, bytes: &[u8], hub: &mut H) {
        let mut input = bytes;
        if let Stage::Login(handshake) = &mut self.stage {
            input = handshake.handle_input(now, input, hub);
            let Some(inner) = handshake
                .login()
                .and_then(|login| Inner::after_login(login, login.config))
            else {
                return;
            };
            self.stage = Stage::Open(inner);
        }
        let Stage::Open(inner) = &mut self.stage else {
            return;
        };
        while inner.link.is_open() {
            match self.rx.feed(input) {
                Feed::Pending => break,
                Feed::Frame { body, rest } => {
                    input = rest;
                    inner.on_frame(now, body, hub);
                }
                Feed::Error { error, .. } => {
                    let (code, reason) = match error {
                        AccumulateError::TooLarge => {
                            (ErrorCode::FrameTooLarge, "frame larger than announced")
                        }
                        _ => (ErrorCode::Malformed, "bad framing"),
                    };
                    inner.link.fail(code, None, reason);
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
        match &mut self.stage {
            Stage::Login(handshake) => handshake.poll_transmit(now, buf),
            Stage::Open(inner) => {
                let n = inner.transmit(now, buf, hub);
                (n > 0).then_some(n)
            }
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.stage {
            Stage::Login(handshake) => handshake.poll_timeout(),
            Stage::Open(inner) => inner.link.poll_timeout(),
        }
    }

    /// Fires the timers due at `now`: handshake deadline, keep-alive ping,
    /// dead-peer timeout.
    pub fn handle_timeout(&mut self, now: Instant) {
        match &mut self.stage {
            Stage::Login(handshake) => handshake.handle_timeout(now),
            Stage::Open(inner) => inner.link.handle_timeout(now),
        }
    }

    /// The next event for the hub.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        let inner = match &mut self.stage {
            Stage::Login(handshake) => return handshake.poll_event(),
            Stage::Open(inner) => inner,
        };
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
        let Stage::Open(inner) = &mut self.stage else {
            return false;
        };
        let outcome = match outcome {
            Ok(generation) => WriteOutcome::Applied { generation },
            Err(code) => WriteOutcome::Refused {
                code,
                reason: code.describe(),
            },
        };
        inner.peer_subs.answer(request, outcome)
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
        let Stage::Open(inner) = &mut self.stage else {
            return Err(WriteError::NotReady);
        };
        if !inner.link.is_open() || inner.welcome != Welcome::Sent {
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
        let inner = match &mut self.stage {
            Stage::Login(handshake) => return handshake.close(code),
            Stage::Open(inner) => inner,
        };
        match code {
            Some(code) => inner.link.fail(code, None, code.describe()),
            None => inner.link.close(),
        }
    }

    /// Closes with `code` and the hub's own `reason` (an error frame then
    /// a close), for a reason [`ErrorCode::describe`] does not say, e.g. a
    /// client a config reload removed.
    pub fn close_because(&mut self, code: ErrorCode, reason: &'static str) {
        match &mut self.stage {
            Stage::Login(handshake) => handshake.close(Some(code)),
            Stage::Open(inner) => inner.link.fail(code, None, reason),
        }
    }

    /// Whether the connection is closed: the caller closes the stream once
    /// [`poll_transmit`](Self::poll_transmit) returns `None`.
    pub fn is_closed(&self) -> bool {
        match &self.stage {
            Stage::Login(handshake) => handshake.is_closed(),
            Stage::Open(inner) => inner.link.phase == LinkPhase::Closed,
        }
    }

    /// The authenticated tenant and client name, once the proof checked.
    pub fn identity(&self) -> Option<(&str, &str)> {
        match &self.stage {
            Stage::Login(_) => None,
            Stage::Open(inner) => Some((inner.tenant(), inner.client.as_str())),
        }
    }

    /// The tenant and client name the hello gave, authenticated or not
    /// (for the logs of a refused login); `None` before a hello.
    pub fn claimed(&self) -> Option<(&str, &str)> {
        match &self.stage {
            Stage::Login(handshake) => handshake.claimed(),
            Stage::Open(inner) => Some((inner.tenant(), inner.client.as_str())),
        }
    }

    /// The session's counters.
    pub fn stats(&self) -> Stats {
        let inner = match &self.stage {
            Stage::Login(handshake) => return handshake.stats(),
            Stage::Open(inner) => inner,
        };
        let mut stats = inner.link.stats;
        let (updates, resyncs) = inner.peer_subs.counters();
        let (applied, asked) = inner.mirrors.counters();
        stats.updates = updates + applied;
        stats.resyncs = resyncs + asked;
        stats
    }
}
