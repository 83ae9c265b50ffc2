//! One connection's task ([`run`]): the core's
//! [`Server`](memwire::session::Server) session driven over a byte stream,
//! in the order its sans-IO calls go.
//!
//! Each turn of the loop ([`Handler`]):
//! 1. `prepare`, with the session locked: take a refresh the subscriber
//!    rate held back, queue what the session has to send
//!    (`poll_transmit`), handle its events (`event`: authenticated, login
//!    refused, forwarded writes answered, closed), end the connection when it is
//!    closed and flushed or a slow consumer, and find the next deadline
//!    (`poll_timeout`).
//! 2. `wait`, unlocked: for the first of bytes read, bytes written, a
//!    change a scan left to the task, the deadline, shutdown, the answer to
//!    a write this connection forwarded, a write to forward to its client,
//!    a reload of the configuration.
//! 3. `handle`, locked again: hand it to the session (`read`:
//!    `handle_input`; `timer`: `handle_timeout`; `forward`:
//!    `Server::write`; an answer: `answer_write`; `reload`: the new
//!    configuration, closing the connection of a client it removed).
//! 4. `settle`: answer the forwarded writes the hub's copy now holds.
//!
//! A scan may send an update between two turns from its own thread
//! (`connection.rs`); the task finishes whatever the scan could not.

use std::future::poll_fn;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use memwire::codec::ErrorCode;
use memwire::session::{AuthFailure, ServerEvent, Stats};
use memwire::time::Instant;
use tokio::sync::{mpsc, watch};
use tracing::Instrument;

use super::connection::{Connection, State, lock};
use super::forward::{self, Answer, Forward, Outbox};
use super::peer::Peer;
use super::reload;
use super::shared::Shared;
use super::wire::{Reader, Stream, Writer};

/// How long a connection whose outbound queue is full may go without the
/// socket taking a byte before it is dropped as a slow consumer.
pub const SLOW_CONSUMER_GRACE: Duration = Duration::from_secs(2);
/// How long a closing connection may take to flush its last frames.
const FLUSH: Duration = Duration::from_secs(1);
/// The read buffer of an unauthenticated connection: a hello or a proof
/// fits, and an idle peer holds little of the hub's memory.
const HANDSHAKE_INPUT: usize = 512;
/// The read buffer once the client is authenticated.
const INPUT: usize = 16 * 1024;

/// What woke the connection.
enum Step {
    Read(std::io::Result<usize>),
    Wrote(std::io::Result<usize>),
    Changed,
    Timer,
    Shutdown,
    /// The answer to a write this connection forwarded.
    Answer(Option<Answer>),
    /// A write for the client's published region, from another connection.
    Forward(Option<Forward>),
    /// A reload (true), or the hub handle is gone (false).
    Reload(bool),
}

/// Runs one connection to its end.
pub(crate) async fn run(
    stream: Stream,
    shared: Arc<Shared>,
    peer: Peer,
    shutdown: watch::Receiver<bool>,
    reloads: watch::Receiver<Arc<Shared>>,
) {
    let session = shared.next_session();
    let span = tracing::info_span!("connection", session, peer = %peer.name);
    serve(stream, shared, session, peer, shutdown, reloads)
        .instrument(span)
        .await;
}

async fn serve(
    stream: Stream,
    shared: Arc<Shared>,
    session: u64,
    peer: Peer,
    shutdown: watch::Receiver<bool>,
    reloads: watch::Receiver<Arc<Shared>>,
) {
    let (answers, answered) = mpsc::unbounded_channel();
    let Some(connection) = Connection::open(&shared, session, stream.direct(), answers) else {
        return;
    };
    let (reader, writer) = stream.split();
    let handler = Handler {
        shared,
        peer,
        reader,
        writer,
        shutdown,
        reloads: Some(reloads),
        answered,
        forwards: None,
        outbox: Outbox::default(),
        input: vec![0u8; HANDSHAKE_INPUT],
        stalled_since: None,
        closing_since: None,
        counted: Stats::default(),
    };
    handler.serve(&connection).await;
}

/// The task's side of one connection: the stream, and everything that
/// waits. The session is in the [`Connection`] it shares with the scans.
struct Handler {
    shared: Arc<Shared>,
    peer: Peer,
    reader: Reader,
    writer: Writer,
    shutdown: watch::Receiver<bool>,
    /// The hub after each reload; `None` once the hub handle is gone.
    reloads: Option<watch::Receiver<Arc<Shared>>>,
    /// Answers to the writes this connection forwarded.
    answered: mpsc::UnboundedReceiver<Answer>,
    /// Writes to the regions this client publishes, once it is known.
    forwards: Option<(mpsc::Sender<Forward>, mpsc::Receiver<Forward>)>,
    outbox: Outbox,
    input: Vec<u8>,
    /// Since when the outbound queue has been full.
    stalled_since: Option<Instant>,
    /// Since when the session has been closed with bytes still queued.
    closing_since: Option<Instant>,
    /// What of the session's counts the hub's metrics have.
    counted: Stats,
}

impl Handler {
    /// Turns the loop until the connection ends, then lets go of it.
    async fn serve(mut self, connection: &Connection) {
        let clock = self.shared.clock;
        loop {
            let now = clock.now();
            let Some((writing, deadline)) = self.prepare(&mut lock(&connection.state), now) else {
                break;
            };
            let step = self.wait(connection, writing, deadline).await;
            let now = clock.now();
            if self
                .handle(&mut lock(&connection.state), step, now)
                .is_break()
            {
                break;
            }
            self.outbox.settle(&self.shared.regions);
        }
        {
            let mut state = lock(&connection.state);
            state.done = true;
            self.count(&state);
        }
        if let Some((tx, _)) = &self.forwards {
            self.shared.publishers.unregister(tx);
        }
        let _ = tokio::time::timeout(FLUSH, self.writer.shutdown()).await;
    }

    /// Everything before waiting: a held-back refresh, the frames to send,
    /// the session's events, the connection's limits. Returns whether bytes
    /// are queued for the peer and the next deadline; `None` when the
    /// connection ends.
    fn prepare(&mut self, state: &mut State, now: Instant) -> Option<(bool, Option<Instant>)> {
        if state.refresh_due.is_some_and(|at| now >= at) {
            state.view.refresh();
            state.refreshed = now;
            state.refresh_due = None;
        }
        state.transmit(now);
        while let Some(event) = state.session.poll_event() {
            self.event(state, event);
        }
        self.count(state);
        if state.session.is_closed() {
            let since = *self.closing_since.get_or_insert(now);
            if state.out.is_empty() || now.saturating_duration_since(since) >= FLUSH {
                return None;
            }
        }
        if state.out.len() >= state.cap {
            let since = *self.stalled_since.get_or_insert(now);
            if now.saturating_duration_since(since) >= SLOW_CONSUMER_GRACE {
                tracing::warn!(
                    queued = state.out.len(),
                    "slow consumer: outbound queue full; dropped"
                );
                self.shared.metrics.slow_consumer();
                return None;
            }
        } else {
            self.stalled_since = None;
        }
        let mut deadline = state.session.poll_timeout();
        for at in [
            state.refresh_due,
            self.stalled_since.map(|s| s + SLOW_CONSUMER_GRACE),
            self.closing_since.map(|s| s + FLUSH),
        ]
        .into_iter()
        .flatten()
        {
            deadline = Some(deadline.map_or(at, |d| d.min(at)));
        }
        Some((!state.out.is_empty(), deadline))
    }

    /// One event of the session.
    fn event(&mut self, state: &mut State, event: ServerEvent) {
        let shared = &self.shared;
        match event {
            ServerEvent::Authenticated => {
                self.input.resize(INPUT, 0);
                shared.metrics.login_ok();
                let (tenant, client) = state.session.identity().unwrap_or(("", ""));
                tracing::info!(tenant, client, "authenticated");
                state.view.identify(tenant, client);
                let published: Vec<usize> = (0..shared.regions.len())
                    .filter(|&i| {
                        shared.regions.get(i).is_some_and(|r| {
                            !r.retired()
                                && r.tenant == tenant
                                && r.publisher.as_deref() == Some(client)
                        })
                    })
                    .collect();
                if !published.is_empty() {
                    let (tx, rx) = mpsc::channel(forward::QUEUE);
                    shared.publishers.register(&published, &tx);
                    self.forwards = Some((tx, rx));
                }
            }
            ServerEvent::AuthFailed { reason } => self.refused(state, reason),
            ServerEvent::WriteApplied {
                request,
                generation,
            } => self.outbox.applied(request, generation),
            ServerEvent::WriteRefused { request, code } => self.outbox.refused(request, code),
            ServerEvent::Unmirrored { region, code } => {
                let path = usize::try_from(region.0)
                    .ok()
                    .and_then(|i| shared.regions.get(i))
                    .map(|r| r.path())
                    .unwrap_or_default();
                tracing::warn!(region = %path, %code, "not copying the region the client publishes");
            }
            ServerEvent::Closed { code } => {
                shared.metrics.closed(code);
                match code {
                    Some(code) => tracing::info!(%code, "closed"),
                    None => tracing::info!("closed"),
                }
            }
            _ => {}
        }
    }

    /// The client's login was refused: its source's failure counted, and
    /// a line for the operator unless the log has had its share this
    /// second. The client's name is quoted: it is whatever the peer sent.
    fn refused(&self, state: &State, reason: AuthFailure) {
        let now = tokio::time::Instant::now();
        self.shared.metrics.login_refused(reason);
        self.shared.throttle.failed(self.peer.source, now);
        if let Some(suppressed) = self.shared.refusals.line(now) {
            let (tenant, client) = state.session.claimed().unwrap_or(("", ""));
            tracing::warn!(
                tenant,
                client = ?client,
                peer = %self.peer.name,
                %reason,
                suppressed,
                "login refused"
            );
        }
    }

    /// Adds what the session counted since the last turn to the hub's
    /// metrics.
    fn count(&mut self, state: &State) {
        let now = state.session.stats();
        self.shared.metrics.traffic(&self.counted, &now);
        self.counted = now;
    }

    /// Waits, with the session unlocked, for whatever comes first.
    async fn wait(
        &mut self,
        connection: &Connection,
        writing: bool,
        deadline: Option<Instant>,
    ) -> Step {
        let sleep = deadline.map(|at| self.shared.clock.sleep_until(at));
        let Handler {
            reader,
            writer,
            shutdown,
            reloads,
            answered,
            forwards,
            input,
            closing_since,
            ..
        } = self;
        tokio::select! {
            r = reader.read(input) => Step::Read(r),
            w = poll_fn(|cx| {
                let mut state = lock(&connection.state);
                let written = writer.poll_write(cx, &state.out);
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
            changed = async {
                match reloads.as_mut() {
                    Some(rx) => rx.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            } => Step::Reload(changed),
        }
    }

    /// Hands what woke the connection to the session; `Break` when the
    /// stream has ended or failed.
    fn handle(&mut self, state: &mut State, step: Step, now: Instant) -> ControlFlow<()> {
        match step {
            Step::Read(read) => return self.read(state, read, now),
            Step::Wrote(Ok(_)) => {
                tracing::trace!(target: "memwire::latency", step = "frames written");
                self.stalled_since = None;
            }
            Step::Wrote(Err(e)) => {
                tracing::debug!(error = %e, "write failed");
                return ControlFlow::Break(());
            }
            Step::Changed => {
                state.changed(now);
            }
            Step::Timer => Self::timer(state, now),
            Step::Shutdown => state.session.close(Some(ErrorCode::ShuttingDown)),
            Step::Answer(Some((request, outcome))) => {
                self.shared.metrics.write(outcome.map(|_| ()));
                if let Some(server) = state.session.server() {
                    server.answer_write(request, outcome);
                }
            }
            Step::Forward(Some(forward)) => self.forward(state, forward),
            Step::Reload(true) => self.reload(state),
            Step::Reload(false) => self.reloads = None,
            Step::Answer(None) | Step::Forward(None) => {}
        }
        ControlFlow::Continue(())
    }

    /// Bytes from the peer, or the end of its stream.
    fn read(
        &mut self,
        state: &mut State,
        read: std::io::Result<usize>,
        now: Instant,
    ) -> ControlFlow<()> {
        match read {
            Ok(0) => {
                if !state.session.is_closed() {
                    tracing::debug!("peer closed the stream without a close frame");
                }
                ControlFlow::Break(())
            }
            Err(e) => {
                tracing::debug!(error = %e, "read failed");
                ControlFlow::Break(())
            }
            Ok(n) => {
                state.session.handle_input(
                    now,
                    self.input.get(..n).unwrap_or(&[]),
                    &mut state.view,
                );
                ControlFlow::Continue(())
            }
        }
    }

    /// The deadline passed. The session's own (keep-alive, timeout,
    /// handshake) are its to handle; a held-back refresh, a stalled queue
    /// and a closing flush are looked at by `prepare` on every turn.
    fn timer(state: &mut State, now: Instant) {
        state.session.handle_timeout(now);
    }

    /// The hub's configuration was reloaded: the session takes the new one
    /// (rights, regions); a client the reload removed, or whose secret it
    /// changed, is told so and the connection closed. What the reload did
    /// not touch goes on as it was: the snapshots of the regions kept stay.
    fn reload(&mut self, state: &mut State) {
        let Some(reloads) = &mut self.reloads else {
            return;
        };
        let next = Arc::clone(&reloads.borrow_and_update());
        let dropped = state.session.identity().and_then(|(tenant, client)| {
            let reason = reload::dropped(&self.shared.config, &next.config, tenant, client)?;
            tracing::info!(tenant, client, reason, "connection closed by a reload");
            Some(reason)
        });
        if let (Some(reason), Some(server)) = (dropped, state.session.server()) {
            server.close_because(ErrorCode::AuthFailed, reason);
        }
        self.shared = Arc::clone(&next);
        state.view.reload(next, state.session.identity());
    }

    /// A write another connection made to a region this client publishes:
    /// sent to the client.
    fn forward(&mut self, state: &mut State, forward: Forward) {
        // Writes are forwarded to authenticated clients only.
        if let Some(server) = state.session.server() {
            self.outbox.send(server, forward);
        }
    }
}
