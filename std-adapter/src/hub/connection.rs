//! One connection: the core's [`Server`] session driven over a byte stream.
//!
//! A task per connection owns the reading side and everything that waits
//! (timers, forwarded writes, shutdown). The session, its view of the hub
//! and the bytes queued for the peer sit in a [`Connection`] behind a mutex
//! that no one holds across an await, because a scan that finds a change
//! sends it itself: on a plain stream it takes the lock without waiting,
//! queues the update and writes it with a non-blocking write from its own
//! thread. That spares the task's wake-up, the largest step between a
//! local commit and the update on the wire. Whenever the scan cannot finish
//! the job (the lock is busy, bytes are still queued, the subscriber rate
//! holds the update back, the socket is full, a timer moved, or the stream
//! is TLS) it wakes the task, which does what the scan would have done.

use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::task::Poll;
use std::time::Duration;

use memwire::codec::ErrorCode;
use memwire::session::{self, RateConfig, Server, ServerConfig, ServerEvent};
use memwire::time::Instant;
use tokio::sync::{Notify, mpsc, watch};
use tracing::Instrument;

use super::forward::{Forward, Outbox};
use super::view::View;
use super::wire::{Socket, Stream};
use super::{Clock, Shared};

/// Subscriptions per connection.
pub(crate) const SUBS: usize = 32;
/// The largest frame a client may send (and the hub's receive buffer).
pub(crate) const RX: usize = 64 * 1024;
/// How long a connection whose outbound queue is full may go without the
/// socket taking a byte before it is dropped as a slow consumer.
pub const SLOW_CONSUMER_GRACE: Duration = Duration::from_secs(2);
/// How long a closing connection may take to flush its last frames.
const FLUSH: Duration = Duration::from_secs(1);

/// What a connection's task shares with the scans of the regions it serves.
pub(crate) struct Connection {
    /// Wakes the task: a change to look at, or bytes a scan left queued.
    wake: Notify,
    /// The stream, when a scan may write to it from its own thread.
    direct: Option<Arc<dyn Socket>>,
    clock: Clock,
    state: Mutex<State>,
}

/// The session and what goes with it; locked briefly, never across an await.
struct State {
    server: Box<Server<SUBS, RX>>,
    view: View,
    /// Bytes for the peer, in order, not yet taken by the socket.
    out: Vec<u8>,
    /// One frame as the session writes it.
    scratch: Vec<u8>,
    /// The most bytes queued before the session is asked for more.
    cap: usize,
    /// The subscriber rate: the least time between two refreshes.
    interval: Duration,
    refreshed: Instant,
    /// When a refresh held back by the subscriber rate is due.
    refresh_due: Option<Instant>,
    /// The task has ended; nothing more is sent.
    done: bool,
}

impl State {
    /// Queues what the session has to send, up to the cap; whether it
    /// queued anything.
    fn transmit(&mut self, now: Instant) -> bool {
        let queued = self.out.len();
        while self.out.len() < self.cap {
            match self
                .server
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
    fn changed(&mut self, now: Instant) -> bool {
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

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Connection {
    /// A scan found a new generation of a region this connection looked
    /// at: sends the update from the caller's thread when it can, else
    /// wakes the task. The caller `waits` for the session while the task
    /// holds it (for microseconds: the task never holds it across an
    /// await) only when it holds no session itself.
    pub(crate) fn changed(&self, waits: bool) {
        if !self.send_now(waits) {
            self.wake();
        }
    }

    /// Wakes the task to look at the regions' snapshots.
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
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
        if state.done || !state.out.is_empty() || state.server.is_closed() {
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
        let timeout = state.server.poll_timeout();
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
        let sooner = match (state.server.poll_timeout(), timeout) {
            (Some(new), Some(old)) => new < old,
            (Some(_), None) => true,
            (None, _) => false,
        };
        state.out.is_empty() && !state.server.is_closed() && !sooner
    }
}

/// What woke the connection.
enum Step {
    Read(std::io::Result<usize>),
    Wrote(std::io::Result<usize>),
    Changed,
    Timer,
    Shutdown,
    /// The answer to a write this connection forwarded.
    Answer(Option<super::forward::Answer>),
    /// A write for the client's published region, from another connection.
    Forward(Option<Forward>),
}

/// Runs one connection to its end.
pub(crate) async fn run(
    stream: Stream,
    shared: Arc<Shared>,
    peer: String,
    shutdown: watch::Receiver<bool>,
) {
    let session = shared.next_session();
    let span = tracing::info_span!("connection", session, %peer);
    serve(stream, shared, session, shutdown)
        .instrument(span)
        .await;
}

async fn serve(
    stream: Stream,
    shared: Arc<Shared>,
    session: u64,
    mut shutdown: watch::Receiver<bool>,
) {
    let clock = shared.clock;
    let limits = &shared.config.limits;
    let mut nonce = [0u8; session::auth::NONCE_LEN];
    if let Err(e) = getrandom::fill(&mut nonce) {
        tracing::error!(error = %e, "no random nonce; connection refused");
        return;
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
    let (answers, mut answered) = mpsc::unbounded_channel();
    let connection = Arc::new_cyclic(|me| Connection {
        wake: Notify::new(),
        direct: stream.direct(),
        clock,
        state: Mutex::new(State {
            server: Box::new(Server::new(clock.now(), config, nonce)),
            view: View::new(Arc::clone(&shared), me.clone(), answers),
            out: Vec::new(),
            scratch: vec![0u8; frame_out],
            cap: limits.outbound_cap.max(frame_out),
            interval,
            refreshed: clock.now(),
            refresh_due: None,
            done: false,
        }),
    });
    let (mut rd, mut wr) = stream.split();
    // Writes to the regions this client publishes, once it is known.
    let mut forwards: Option<(mpsc::Sender<Forward>, mpsc::Receiver<Forward>)> = None;
    let mut outbox = Outbox::default();
    let mut input = vec![0u8; 16 * 1024];
    let mut stalled_since: Option<Instant> = None;
    let mut closing_since: Option<Instant> = None;
    loop {
        let now = clock.now();
        let (writing, deadline) = {
            let mut guard = lock(&connection.state);
            let state = &mut *guard;
            if state.refresh_due.is_some_and(|at| now >= at) {
                state.view.refresh();
                state.refreshed = now;
                state.refresh_due = None;
            }
            state.transmit(now);
            while let Some(event) = state.server.poll_event() {
                match event {
                    ServerEvent::Authenticated => {
                        let (tenant, client) = state.server.identity().unwrap_or(("", ""));
                        tracing::info!(tenant, client, "authenticated");
                        let published: Vec<usize> = (0..shared.regions.len())
                            .filter(|&i| {
                                shared.regions.get(i).is_some_and(|r| {
                                    r.tenant == tenant && r.publisher.as_deref() == Some(client)
                                })
                            })
                            .collect();
                        if !published.is_empty() {
                            let (tx, rx) = mpsc::channel(super::forward::QUEUE);
                            shared.publishers.register(&published, &tx);
                            forwards = Some((tx, rx));
                        }
                    }
                    ServerEvent::WriteApplied {
                        request,
                        generation,
                    } => outbox.applied(request, generation),
                    ServerEvent::WriteRefused { request, code } => outbox.refused(request, code),
                    ServerEvent::Unmirrored { region, code } => {
                        let path = usize::try_from(region.0)
                            .ok()
                            .and_then(|i| shared.regions.get(i))
                            .map(|r| r.path())
                            .unwrap_or_default();
                        tracing::warn!(region = %path, %code, "not copying the region the client publishes");
                    }
                    ServerEvent::Closed { code } => match code {
                        Some(code) => tracing::info!(%code, "closed"),
                        None => tracing::info!("closed"),
                    },
                    _ => {}
                }
            }
            if state.server.is_closed() {
                let since = *closing_since.get_or_insert(now);
                if state.out.is_empty() || now.saturating_duration_since(since) >= FLUSH {
                    break;
                }
            }
            if state.out.len() >= state.cap {
                let since = *stalled_since.get_or_insert(now);
                if now.saturating_duration_since(since) >= SLOW_CONSUMER_GRACE {
                    tracing::warn!(
                        queued = state.out.len(),
                        "slow consumer: outbound queue full; dropped"
                    );
                    break;
                }
            } else {
                stalled_since = None;
            }
            let mut deadline = state.server.poll_timeout();
            for at in [
                state.refresh_due,
                stalled_since.map(|s| s + SLOW_CONSUMER_GRACE),
                closing_since.map(|s| s + FLUSH),
            ]
            .into_iter()
            .flatten()
            {
                deadline = Some(deadline.map_or(at, |d| d.min(at)));
            }
            (!state.out.is_empty(), deadline)
        };
        let sleep = deadline.map(|at| clock.sleep_until(at));
        let step = tokio::select! {
            r = rd.read(&mut input) => Step::Read(r),
            w = poll_fn(|cx| {
                let mut state = lock(&connection.state);
                let written = wr.poll_write(cx, &state.out);
                if let Poll::Ready(Ok(n)) = written {
                    let n = n.min(state.out.len());
                    state.out.drain(..n);
                }
                written
            }), if writing => Step::Wrote(w),
            () = connection.wake.notified() => Step::Changed,
            () = async { match sleep { Some(s) => s.await, None => std::future::pending().await } } => Step::Timer,
            _ = shutdown.changed(), if closing_since.is_none() => Step::Shutdown,
            answer = answered.recv() => Step::Answer(answer),
            forward = async {
                match forwards.as_mut() {
                    Some((_, rx)) => rx.recv().await,
                    None => std::future::pending().await,
                }
            } => Step::Forward(forward),
        };
        let now = clock.now();
        let mut guard = lock(&connection.state);
        let state = &mut *guard;
        match step {
            Step::Read(Ok(0)) => {
                if !state.server.is_closed() {
                    tracing::debug!("peer closed the stream without a close frame");
                }
                break;
            }
            Step::Read(Err(e)) => {
                tracing::debug!(error = %e, "read failed");
                break;
            }
            Step::Read(Ok(n)) => {
                state
                    .server
                    .handle_input(now, input.get(..n).unwrap_or(&[]), &mut state.view);
            }
            Step::Wrote(Ok(_)) => {
                tracing::trace!(target: "memwire::latency", step = "frames written");
                stalled_since = None;
            }
            Step::Wrote(Err(e)) => {
                tracing::debug!(error = %e, "write failed");
                break;
            }
            Step::Changed => {
                state.changed(now);
            }
            Step::Timer => state.server.handle_timeout(now),
            Step::Shutdown => state.server.close(Some(ErrorCode::ShuttingDown)),
            Step::Answer(Some((request, outcome))) => {
                state.server.answer_write(request, outcome);
            }
            Step::Forward(Some(forward)) => outbox.send(&mut state.server, forward),
            Step::Answer(None) | Step::Forward(None) => {}
        }
        drop(guard);
        outbox.settle(&shared);
    }
    lock(&connection.state).done = true;
    if let Some((tx, _)) = &forwards {
        shared.publishers.unregister(tx);
    }
    let _ = tokio::time::timeout(FLUSH, wr.shutdown()).await;
}
