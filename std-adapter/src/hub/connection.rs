//! What a connection shares with the scans of the regions it serves
//! ([`Connection`]), and how a scan sends it an update from its own thread
//! (the connection as a region's [`Listener`]).
//!
//! Until its client authenticated, a connection holds a small
//! [`Handshake`] rather than the full [`Server`] session ([`Session`]):
//! an idle unauthenticated peer costs the hub a few KiB.
//!
//! A task per connection (`handler.rs`) owns the reading side and
//! everything that waits (timers, forwarded writes, shutdown). The session,
//! its view of the hub and the bytes queued for the peer sit in a
//! [`Connection`] behind a mutex that no one holds across an await, because
//! a scan that finds a change sends it itself: on a plain stream it takes
//! the lock without waiting, queues the update and writes it with a
//! non-blocking write from its own thread. That spares the task's wake-up,
//! the largest step between a local commit and the update on the wire.
//! Whenever the scan cannot finish the job (the lock is busy, bytes are
//! still queued, the subscriber rate holds the update back, the socket is
//! full, a timer moved, or the stream is TLS) it wakes the task, which does
//! what the scan would have done.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError, Weak};
use std::time::Duration;

use memwire::codec::ErrorCode;
use memwire::session::{self, Handshake, RateConfig, Server, ServerConfig, ServerEvent, Stats};
use memwire::time::Instant;
use tokio::sync::{Notify, mpsc};

use super::forward::Answer;
use super::region::Listener;
use super::shared::{Clock, Shared};
use super::view::View;
use super::wire::Socket;

/// Subscriptions per connection.
pub(crate) const SUBS: usize = 32;
/// The largest frame a client may send (and the hub's receive buffer).
pub(crate) const RX: usize = 64 * 1024;
/// The transmit buffer before the proof checked: room for a challenge or
/// an error frame, not for the welcome or updates.
pub(crate) const HANDSHAKE_OUT: usize = 256;

/// What a connection's task shares with the scans of the regions it serves.
pub(crate) struct Connection {
    /// Wakes the task: a change to look at, or bytes a scan left queued.
    pub(super) wake: Notify,
    /// The stream, when a scan may write to it from its own thread.
    direct: Option<Arc<dyn Socket>>,
    clock: Clock,
    pub(super) state: Mutex<State>,
}

/// The session and what goes with it; locked briefly, never across an await.
pub(crate) struct State {
    pub(super) session: Session,
    pub(super) view: View,
    /// Bytes for the peer, in order, not yet taken by the socket.
    pub(super) out: Vec<u8>,
    /// One frame as the session writes it: small until the proof checked,
    /// then `frame_out` bytes, so that an unauthenticated peer costs little.
    scratch: Vec<u8>,
    /// The largest frame the session may write, framing included.
    frame_out: usize,
    /// The most bytes queued before the session is asked for more.
    pub(super) cap: usize,
    /// The subscriber rate: the least time between two refreshes.
    interval: Duration,
    pub(super) refreshed: Instant,
    /// When a refresh held back by the subscriber rate is due.
    pub(super) refresh_due: Option<Instant>,
    /// The task has ended; nothing more is sent.
    pub(super) done: bool,
}

impl State {
    /// Queues what the session has to send, up to the cap; whether it
    /// queued anything.
    pub(super) fn transmit(&mut self, now: Instant) -> bool {
        let queued = self.out.len();
        if self.scratch.len() < self.frame_out && self.session.server().is_some() {
            // The welcome lists as many regions as the buffer holds.
            self.scratch.resize(self.frame_out, 0);
        }
        while self.out.len() < self.cap {
            match self
                .session
                .poll_transmit(now, &mut self.scratch, &self.view)
            {
                Some(n) => self
                    .out
                    .extend_from_slice(self.scratch.get(..n).unwrap_or(&[])),
                None => break,
            }
        }
        let more = self.out.len() > queued;
        if more {
            tracing::trace!(target: "memwire::latency", step = "frames queued");
        }
        more
    }

    /// A region this connection looked at has a new snapshot: takes it
    /// now if the subscriber rate allows, else schedules the refresh.
    /// Whether it took it.
    pub(super) fn changed(&mut self, now: Instant) -> bool {
        if !self.view.stale() {
            return false;
        }
        let at = self.refreshed + self.interval;
        if now >= at {
            self.view.refresh();
            self.refreshed = now;
            true
        } else {
            self.refresh_due = Some(self.refresh_due.map_or(at, |d| d.min(at)));
            false
        }
    }
}

/// A connection's session: its handshake until the client authenticated,
/// then the full server, allocated only then.
pub(crate) enum Session {
    Login(Box<Handshake>),
    Open(Box<Server<SUBS, RX>>),
}

impl Session {
    /// The full server, once the client authenticated.
    pub(super) fn server(&mut self) -> Option<&mut Server<SUBS, RX>> {
        match self {
            Session::Login(_) => None,
            Session::Open(server) => Some(server),
        }
    }

    /// Bytes from the peer. The handshake takes them up to the proof that
    /// authenticates the client; the server built then takes the rest.
    pub(super) fn handle_input(&mut self, now: Instant, bytes: &[u8], view: &mut View) {
        let mut input = bytes;
        if let Session::Login(handshake) = self {
            input = handshake.handle_input(now, input, &*view);
            let Some(server) = Server::after_login(handshake) else {
                return;
            };
            *self = Session::Open(Box::new(server));
        }
        if let Session::Open(server) = self {
            server.handle_input(now, input, view);
        }
    }

    /// What to send next; see [`Server::poll_transmit`].
    pub(super) fn poll_transmit(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        view: &View,
    ) -> Option<usize> {
        match self {
            Session::Login(handshake) => handshake.poll_transmit(now, buf),
            Session::Open(server) => server.poll_transmit(now, buf, view),
        }
    }

    pub(super) fn poll_event(&mut self) -> Option<ServerEvent> {
        match self {
            Session::Login(handshake) => handshake.poll_event(),
            Session::Open(server) => server.poll_event(),
        }
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Session::Login(handshake) => handshake.poll_timeout(),
            Session::Open(server) => server.poll_timeout(),
        }
    }

    pub(super) fn handle_timeout(&mut self, now: Instant) {
        match self {
            Session::Login(handshake) => handshake.handle_timeout(now),
            Session::Open(server) => server.handle_timeout(now),
        }
    }

    pub(super) fn close(&mut self, code: Option<ErrorCode>) {
        match self {
            Session::Login(handshake) => handshake.close(code),
            Session::Open(server) => server.close(code),
        }
    }

    pub(super) fn is_closed(&self) -> bool {
        match self {
            Session::Login(handshake) => handshake.is_closed(),
            Session::Open(server) => server.is_closed(),
        }
    }

    /// What the session counted so far.
    pub(super) fn stats(&self) -> Stats {
        match self {
            Session::Login(handshake) => handshake.stats(),
            Session::Open(server) => server.stats(),
        }
    }

    /// The authenticated tenant and client name.
    pub(super) fn identity(&self) -> Option<(&str, &str)> {
        match self {
            Session::Login(_) => None,
            Session::Open(server) => server.identity(),
        }
    }

    /// The tenant and client name the hello gave.
    pub(super) fn claimed(&self) -> Option<(&str, &str)> {
        match self {
            Session::Login(handshake) => handshake.claimed(),
            Session::Open(server) => server.claimed(),
        }
    }
}

/// The session, whoever held it last.
pub(crate) fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Listener for Connection {
    /// A scan found a new generation of a region this connection looked
    /// at: sends the update from the caller's thread when it can, else
    /// wakes the task. The caller `waits` for the session while the task
    /// holds it (for microseconds: the task never holds it across an
    /// await) only when it holds no session itself.
    fn changed(&self, waits: bool) {
        if !self.send_now(waits) {
            self.wake();
        }
    }

    /// Wakes the task to look at the regions' snapshots.
    fn wake(&self) {
        self.wake.notify_one();
    }
}

impl Connection {
    /// A new session for connection `session` of `shared`: its nonce, its
    /// limits from the configuration, a view of the hub whose answers to
    /// forwarded writes arrive on `answers`. `direct` is the stream when
    /// scans may write to it. `None` when no random nonce could be drawn.
    pub(crate) fn open(
        shared: &Arc<Shared>,
        session: u64,
        direct: Option<Arc<dyn Socket>>,
        answers: mpsc::UnboundedSender<Answer>,
    ) -> Option<Arc<Connection>> {
        let clock = shared.clock;
        let limits = &shared.config.limits;
        let mut nonce = [0u8; session::auth::NONCE_LEN];
        if let Err(e) = getrandom::fill(&mut nonce) {
            tracing::error!(error = %e, "no random nonce; connection refused");
            return None;
        }
        let config = ServerConfig {
            session,
            max_frame: limits.max_frame,
            keepalive: limits.keepalive,
            timeout: limits.timeout,
            handshake: limits.handshake,
            rate: RateConfig {
                frames: limits.rate_frames,
                frame_burst: limits.rate_frame_burst,
                bytes: limits.rate_bytes,
                byte_burst: limits.rate_byte_burst,
            },
            ..ServerConfig::new(session)
        };
        let frame_out = usize::try_from(limits.max_frame).unwrap_or(RX) + 5;
        let interval = match shared.config.publish.max_rate_hz {
            0 => Duration::ZERO,
            hz => Duration::from_secs(1) / hz,
        };
        Some(Arc::new_cyclic(|me: &Weak<Connection>| {
            let me: Weak<dyn Listener> = me.clone();
            Connection {
                wake: Notify::new(),
                direct,
                clock,
                state: Mutex::new(State {
                    session: Session::Login(Box::new(Handshake::new(clock.now(), config, nonce))),
                    view: View::new(Arc::clone(shared), me, answers),
                    out: Vec::new(),
                    scratch: vec![0u8; HANDSHAKE_OUT.min(frame_out)],
                    frame_out,
                    cap: limits.outbound_cap.max(frame_out),
                    interval,
                    refreshed: clock.now(),
                    refresh_due: None,
                    done: false,
                }),
            }
        }))
    }

    /// Sends what a change gives the session to send, without waiting for
    /// anything; false when the task must finish the job.
    fn send_now(&self, waits: bool) -> bool {
        let Some(socket) = &self.direct else {
            return false;
        };
        let mut state = if waits {
            lock(&self.state)
        } else {
            match self.state.try_lock() {
                Ok(state) => state,
                Err(TryLockError::Poisoned(p)) => p.into_inner(),
                Err(TryLockError::WouldBlock) => return false,
            }
        };
        // Queued bytes go first, and the task writes them.
        if state.done || !state.out.is_empty() || state.session.is_closed() {
            return false;
        }
        let now = self.clock.now();
        if !state.view.stale() {
            return true;
        }
        if !state.changed(now) {
            // Held back by the subscriber rate: the task sets the timer.
            return false;
        }
        let timeout = state.session.poll_timeout();
        while state.transmit(now) {
            match socket.try_write(&state.out) {
                Ok(n) => {
                    tracing::trace!(target: "memwire::latency", step = "frames written");
                    let n = n.min(state.out.len());
                    state.out.drain(..n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                // The task meets the error on its own side of the stream.
                Err(_) => return false,
            }
            if !state.out.is_empty() {
                break;
            }
        }
        let sooner = match (state.session.poll_timeout(), timeout) {
            (Some(new), Some(old)) => new < old,
            (Some(_), None) => true,
            (None, _) => false,
        };
        state.out.is_empty() && !state.session.is_closed() && !sooner
    }
}
