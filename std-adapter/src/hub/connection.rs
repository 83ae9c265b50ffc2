//! One connection: the core's [`Server`] session driven over a byte stream.
//!
//! A task per connection; the only state shared with other connections is
//! the regions' published snapshots (see [`super::region`]), read without a
//! lock held across any await.

use std::cell::{Cell, OnceCell};
use std::sync::Arc;
use std::time::Duration;

use memwire::codec::{ErrorCode, RegionInfo, Resume};
use memwire::schema::Name;
use memwire::session::{
    self, Access, RateConfig, RegionId, Server, ServerConfig, ServerEvent, Source, UpdateCache,
};
use memwire::time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, mpsc, watch};
use tracing::Instrument;

use super::Shared;
use super::forward::{Answer, Forward, Outbox, Reply};
use super::region::{Published, Served};

/// Subscriptions per connection.
pub(crate) const SUBS: usize = 32;
/// The largest frame a client may send (and the hub's receive buffer).
pub(crate) const RX: usize = 64 * 1024;
/// How long a connection whose outbound queue is full may go without the
/// socket taking a byte before it is dropped as a slow consumer.
pub const SLOW_CONSUMER_GRACE: Duration = Duration::from_secs(2);
/// How long a closing connection may take to flush its last frames.
const FLUSH: Duration = Duration::from_secs(1);

/// The hub as one connection sees it: its own snapshot of each region it
/// looked at, refreshed at most at the subscriber rate.
struct View<'h> {
    shared: &'h Shared,
    notify: &'h Arc<Notify>,
    /// Where answers to this connection's forwarded writes arrive.
    answers: mpsc::UnboundedSender<Answer>,
    seen: Vec<OnceCell<Arc<Published>>>,
    listening: Vec<Cell<bool>>,
}

impl<'h> View<'h> {
    fn new(
        shared: &'h Shared,
        notify: &'h Arc<Notify>,
        answers: mpsc::UnboundedSender<Answer>,
    ) -> Self {
        let n = shared.regions.len();
        View {
            shared,
            notify,
            answers,
            seen: (0..n).map(|_| OnceCell::new()).collect(),
            listening: (0..n).map(|_| Cell::new(false)).collect(),
        }
    }

    /// Forgets every snapshot: the next look takes the latest.
    fn refresh(&mut self) {
        for cell in &mut self.seen {
            cell.take();
        }
    }

    /// The region `region` and its index.
    fn served(&self, region: RegionId) -> Result<(usize, &'h Served), ErrorCode> {
        let index = usize::try_from(region.0).map_err(|_| ErrorCode::UnknownRegion)?;
        let served = self
            .shared
            .regions
            .get(index)
            .ok_or(ErrorCode::UnknownRegion)?;
        Ok((index, served))
    }

    /// Whether a snapshot this connection holds is older than the region's.
    fn stale(&self) -> bool {
        self.seen.iter().enumerate().any(|(i, cell)| {
            cell.get().is_some_and(|p| {
                self.shared
                    .regions
                    .get(i)
                    .is_some_and(|r| r.published().generation != p.generation)
            })
        })
    }
}

impl session::Hub for View<'_> {
    fn secret(&self, tenant: &str, client: &str) -> Option<&[u8]> {
        self.shared.config.secret(tenant, client)
    }

    fn access(&self, tenant: &str, client: &str, region: &str) -> Access {
        self.shared.config.access(tenant, client, region)
    }

    fn resolve(&self, tenant: &str, region: &str) -> Option<RegionId> {
        self.shared.find(tenant, region)
    }

    fn source(&self, region: RegionId) -> Option<Source<'_>> {
        let index = usize::try_from(region.0).ok()?;
        let served = self.shared.regions.get(index)?;
        let listening = self.listening.get(index)?;
        if !listening.get() {
            served.listen(self.notify);
            listening.set(true);
        }
        let published = self.seen.get(index)?.get_or_init(|| served.published());
        published.source(served.schema())
    }

    fn apply_write(
        &mut self,
        region: RegionId,
        ranges: &[(usize, &[u8])],
    ) -> Result<u64, ErrorCode> {
        let (index, served) = self.served(region)?;
        if served.publisher.is_some() {
            // Not forwarded (see `defer_write`): its client is not connected.
            return Err(ErrorCode::Busy);
        }
        let generation = served.write(ranges)?;
        // The session must see its own write at once.
        if let Some(cell) = self.seen.get_mut(index) {
            cell.take();
        }
        Ok(generation)
    }

    fn defer_write(&mut self, region: RegionId, ranges: &[(usize, &[u8])], request: u32) -> bool {
        let Ok((index, served)) = self.served(region) else {
            return false;
        };
        if served.publisher.is_none() {
            return false;
        }
        let forward = Forward {
            region: index,
            ranges: ranges.iter().map(|&(o, b)| (o, b.to_vec())).collect(),
            reply: Reply::new(self.answers.clone(), request),
        };
        match self.shared.publishers.forward(forward) {
            Ok(()) => true,
            Err(forward) => {
                forward.reply.disarm();
                false
            }
        }
    }

    fn cache(&self, region: RegionId) -> Option<&dyn UpdateCache> {
        let served = self.shared.regions.get(usize::try_from(region.0).ok()?)?;
        served.parts.as_ref().map(|p| p as &dyn UpdateCache)
    }

    fn published(
        &self,
        tenant: &str,
        client: &str,
        visit: &mut dyn FnMut(RegionId, Name, Option<Resume>) -> bool,
    ) {
        for (index, served) in self.shared.regions.iter().enumerate() {
            if served.tenant != tenant || served.publisher.as_deref() != Some(client) {
                continue;
            }
            let (Ok(id), Ok(name)) = (u32::try_from(index), Name::new(&served.name)) else {
                continue;
            };
            if !visit(RegionId(id), name, served.held()) {
                break;
            }
        }
    }

    fn apply_update(
        &mut self,
        region: RegionId,
        ranges: &[(usize, &[u8])],
        held: Resume,
    ) -> Result<(), ErrorCode> {
        let (index, served) = self.served(region)?;
        served.copy(ranges, held)?;
        if let Some(cell) = self.seen.get_mut(index) {
            cell.take();
        }
        Ok(())
    }

    fn regions(
        &self,
        tenant: &str,
        _client: &str,
        visit: &mut dyn FnMut(RegionInfo) -> bool,
    ) -> bool {
        // The server filters by access; listing the tenant's regions is enough.
        for served in self.shared.regions.iter().filter(|r| r.tenant == tenant) {
            let Ok(name) = Name::new(&served.name) else {
                continue;
            };
            let info = RegionInfo {
                name,
                instance: served.published().instance,
            };
            if !visit(info) {
                break;
            }
        }
        true
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
    Answer(Option<Answer>),
    /// A write for the client's published region, from another connection.
    Forward(Option<Forward>),
}

/// Runs one connection to its end.
pub(crate) async fn run<S>(
    stream: S,
    shared: Arc<Shared>,
    peer: String,
    shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let session = shared.next_session();
    let span = tracing::info_span!("connection", session, %peer);
    serve(stream, &shared, session, shutdown)
        .instrument(span)
        .await;
}

async fn serve<S>(stream: S, shared: &Shared, session: u64, mut shutdown: watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
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
    let mut server: Box<Server<SUBS, RX>> = Box::new(Server::new(clock.now(), config, nonce));
    let notify = Arc::new(Notify::new());
    let (answers, mut answered) = mpsc::unbounded_channel();
    let mut view = View::new(shared, &notify, answers);
    // Writes to the regions this client publishes, once it is known.
    let mut forwards: Option<(mpsc::Sender<Forward>, mpsc::Receiver<Forward>)> = None;
    let mut outbox = Outbox::default();
    let (mut rd, mut wr) = tokio::io::split(stream);
    let frame_out = usize::try_from(limits.max_frame).unwrap_or(RX) + 5;
    let mut scratch = vec![0u8; frame_out];
    let mut input = vec![0u8; 16 * 1024];
    let mut out: Vec<u8> = Vec::new();
    let cap = limits.outbound_cap.max(frame_out);
    let interval = match shared.config.publish.max_rate_hz {
        0 => Duration::ZERO,
        hz => Duration::from_secs(1) / hz,
    };
    let mut refreshed = clock.now();
    let mut refresh_due: Option<Instant> = None;
    let mut stalled_since: Option<Instant> = None;
    let mut closing_since: Option<Instant> = None;
    loop {
        let now = clock.now();
        if refresh_due.is_some_and(|at| now >= at) {
            view.refresh();
            refreshed = now;
            refresh_due = None;
        }
        let queued = out.len();
        while out.len() < cap {
            match server.poll_transmit(now, &mut scratch, &view) {
                Some(n) => out.extend_from_slice(scratch.get(..n).unwrap_or(&[])),
                None => break,
            }
        }
        if out.len() > queued {
            tracing::trace!(target: "memwire::latency", step = "frames queued");
        }
        while let Some(event) = server.poll_event() {
            match event {
                ServerEvent::Authenticated => {
                    let (tenant, client) = server.identity().unwrap_or(("", ""));
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
                        .and_then(|i| view.shared.regions.get(i))
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
        if server.is_closed() {
            let since = *closing_since.get_or_insert(now);
            if out.is_empty() || now.saturating_duration_since(since) >= FLUSH {
                break;
            }
        }
        if out.len() >= cap {
            let since = *stalled_since.get_or_insert(now);
            if now.saturating_duration_since(since) >= SLOW_CONSUMER_GRACE {
                tracing::warn!(
                    queued = out.len(),
                    "slow consumer: outbound queue full; dropped"
                );
                break;
            }
        } else {
            stalled_since = None;
        }
        let mut deadline = server.poll_timeout();
        for at in [refresh_due, stalled_since.map(|s| s + SLOW_CONSUMER_GRACE)]
            .into_iter()
            .flatten()
        {
            deadline = Some(deadline.map_or(at, |d| d.min(at)));
        }
        if let Some(since) = closing_since {
            let at = since + FLUSH;
            deadline = Some(deadline.map_or(at, |d| d.min(at)));
        }
        let sleep = deadline.map(|at| clock.sleep_until(at));
        let step = tokio::select! {
            r = rd.read(&mut input) => Step::Read(r),
            w = wr.write(&out), if !out.is_empty() => Step::Wrote(w),
            () = notify.notified() => Step::Changed,
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
        match step {
            Step::Read(Ok(0)) => {
                if !server.is_closed() {
                    tracing::debug!("peer closed the stream without a close frame");
                }
                break;
            }
            Step::Read(Err(e)) => {
                tracing::debug!(error = %e, "read failed");
                break;
            }
            Step::Read(Ok(n)) => {
                server.handle_input(now, input.get(..n).unwrap_or(&[]), &mut view);
            }
            Step::Wrote(Ok(n)) => {
                tracing::trace!(target: "memwire::latency", step = "frames written");
                out.drain(..n.min(out.len()));
                stalled_since = None;
            }
            Step::Wrote(Err(e)) => {
                tracing::debug!(error = %e, "write failed");
                break;
            }
            Step::Changed => {
                tracing::trace!(target: "memwire::latency", step = "connection woke");
                if view.stale() {
                    let at = refreshed + interval;
                    if now >= at {
                        view.refresh();
                        refreshed = now;
                    } else {
                        refresh_due = Some(refresh_due.map_or(at, |d| d.min(at)));
                    }
                }
            }
            Step::Timer => server.handle_timeout(now),
            Step::Shutdown => server.close(Some(ErrorCode::ShuttingDown)),
            Step::Answer(Some((request, outcome))) => {
                server.answer_write(request, outcome);
            }
            Step::Forward(Some(forward)) => outbox.send(&mut server, forward),
            Step::Answer(None) | Step::Forward(None) => {}
        }
        outbox.settle(shared);
    }
    if let Some((tx, _)) = &forwards {
        shared.publishers.unregister(tx);
    }
    let _ = tokio::time::timeout(FLUSH, wr.shutdown()).await;
}
