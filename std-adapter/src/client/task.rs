//! The client's background task: one core session per connection, and the
//! reconnection loop around them.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use memwire::codec::{Resume, SchemaPart};
use memwire::schema::Variable;
use memwire::session::{
    Client as Session, ClientConfig, Event, Handle, Observer, WriteError, WriteRequest,
};
use memwire::{Region, codec::RegionList};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tokio_rustls::TlsConnector;

use super::mirror::{MirrorCell, MirrorShared};
use super::{ClientError, ClientOptions, Command, Endpoint, Mirror, Status};
use crate::schema::OwnedSchema;
use crate::shm::ShmRegion;

/// Subscriptions per connection.
const SUBS: usize = 32;
/// The largest frame the client takes.
const RX: usize = 64 * 1024;
/// The most variables a described region may have.
pub(crate) const TABLE_MAX: u32 = 1 << 20;
/// The largest data area a described region may have (1 GiB).
pub(crate) const MIRROR_MAX: u32 = 1 << 30;

/// A byte stream to a hub.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Opens streams to the hub.
pub(crate) struct Connector {
    url: String,
    endpoint: Endpoint,
    tls: Option<TlsConnector>,
}

impl Connector {
    pub(crate) fn new(
        url: &str,
        endpoint: Endpoint,
        options: &ClientOptions,
    ) -> Result<Connector, ClientError> {
        let tls = match endpoint {
            Endpoint::Tls { .. } => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in &options.tls_roots {
                    roots
                        .add(cert.clone())
                        .map_err(|e| ClientError::Tls(e.to_string()))?;
                }
                let provider = Arc::new(rustls::crypto::ring::default_provider());
                let config = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| ClientError::Tls(e.to_string()))?
                    .with_root_certificates(roots)
                    .with_no_client_auth();
                Some(TlsConnector::from(Arc::new(config)))
            }
            _ => None,
        };
        Ok(Connector {
            url: url.to_owned(),
            endpoint,
            tls,
        })
    }

    async fn open(&self) -> Result<Box<dyn Stream>, ClientError> {
        let io = |source| ClientError::Connect {
            url: self.url.clone(),
            source,
        };
        match (&self.endpoint, &self.tls) {
            (Endpoint::Tcp(addr), _) => {
                let stream = TcpStream::connect(addr).await.map_err(io)?;
                let _ = stream.set_nodelay(true);
                Ok(Box::new(stream))
            }
            (Endpoint::Tls { addr, host }, Some(tls)) => {
                let stream = TcpStream::connect(addr).await.map_err(io)?;
                let _ = stream.set_nodelay(true);
                let name = rustls_pki_types::ServerName::try_from(host.clone())
                    .map_err(|e| ClientError::Tls(e.to_string()))?;
                let stream = tls
                    .connect(name, stream)
                    .await
                    .map_err(|e| ClientError::Tls(e.to_string()))?;
                Ok(Box::new(stream))
            }
            (Endpoint::Unix(path), _) => Ok(Box::new(UnixStream::connect(path).await.map_err(io)?)),
            (Endpoint::Tls { .. }, None) => Err(ClientError::Tls("no TLS configuration".into())),
        }
    }
}

/// A subscription that survives reconnections.
struct Sub {
    mirror: Arc<MirrorShared>,
    resume: Option<Resume>,
}

/// A subscription slot of the current connection.
enum Slot {
    /// Waiting for the variable table.
    Describing {
        path: String,
        vars: Vec<Variable>,
        reply: oneshot::Sender<Result<Mirror, ClientError>>,
    },
    /// Has a mirror, waiting for its first full copy.
    Fresh {
        mirror: Arc<MirrorShared>,
        reply: oneshot::Sender<Result<Mirror, ClientError>>,
    },
    /// Live: index into `Driver::subs`.
    Live(usize),
}

/// A write the user asked for.
struct Write {
    path: String,
    name: String,
    value: Vec<u8>,
    reply: oneshot::Sender<Result<u64, ClientError>>,
}

/// What ended a connection.
enum End {
    /// The user closed the client.
    Closed,
    /// The connection was lost (or refused); reconnect.
    Lost(ClientError),
}

/// The client task.
pub(crate) struct Driver {
    connector: Connector,
    options: ClientOptions,
    status: Arc<Mutex<Status>>,
    commands: mpsc::Sender<Command>,
    subs: Vec<Sub>,
    /// Subscribe requests to make on the next connection.
    queued: Vec<(String, oneshot::Sender<Result<Mirror, ClientError>>)>,
}

impl Driver {
    pub(crate) fn new(
        connector: Connector,
        options: ClientOptions,
        status: Arc<Mutex<Status>>,
        commands: mpsc::Sender<Command>,
    ) -> Driver {
        Driver {
            connector,
            options,
            status,
            commands,
            subs: Vec::new(),
            queued: Vec::new(),
        }
    }

    pub(crate) async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        ready: oneshot::Sender<Result<(), ClientError>>,
    ) {
        let mut ready = Some(ready);
        let mut pause = self.options.reconnect_min;
        loop {
            let attempt = async {
                let stream = self.connector.open().await?;
                Ok::<_, ClientError>(stream)
            };
            let stream = if ready.is_some() {
                match tokio::time::timeout(self.options.connect_timeout, attempt).await {
                    Ok(r) => r,
                    Err(_) => Err(ClientError::Disconnected),
                }
            } else {
                attempt.await
            };
            let end = match stream {
                Ok(stream) => {
                    let connections = self.connections();
                    let end = self.session(stream, &mut commands, &mut ready).await;
                    self.status
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .connected = false;
                    if self.connections() > connections {
                        // It got in: the next loss starts from the shortest pause.
                        pause = self.options.reconnect_min;
                    }
                    end
                }
                Err(e) => End::Lost(e),
            };
            match end {
                End::Closed => return,
                End::Lost(e) => {
                    if let Some(ready) = ready.take() {
                        let _ = ready.send(Err(e));
                        return;
                    }
                    tracing::info!(url = %self.connector.url, error = %e, "connection lost; reconnecting");
                }
            }
            // Exponential backoff with jitter; commands keep being answered.
            let jitter = 1.0 + random_unit() * 0.5;
            let wait = pause.mul_f64(jitter);
            pause = (pause * 2).min(self.options.reconnect_max);
            let deadline = tokio::time::Instant::now() + wait;
            loop {
                tokio::select! {
                    () = tokio::time::sleep_until(deadline) => break,
                    command = commands.recv() => match command {
                        None | Some(Command::Close) => return,
                        Some(Command::Subscribe { path, reply }) => self.queued.push((path, reply)),
                        Some(Command::Write { reply, .. }) => {
                            let _ = reply.send(Err(ClientError::NotConnected));
                        }
                    },
                }
            }
        }
    }

    fn connections(&self) -> u64 {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .connections
    }

    /// One connection, until it ends.
    async fn session(
        &mut self,
        mut stream: Box<dyn Stream>,
        commands: &mut mpsc::Receiver<Command>,
        ready: &mut Option<oneshot::Sender<Result<(), ClientError>>>,
    ) -> End {
        let start = tokio::time::Instant::now();
        let now = || {
            let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
            memwire::time::Instant::from_micros(micros)
        };
        let mirrors: elsa::sync::FrozenVec<Arc<MirrorShared>> = elsa::sync::FrozenVec::new();
        // The session borrows its identity for the whole connection.
        let options = self.options.clone();
        let config = ClientConfig {
            max_frame: RX as u32,
            ..ClientConfig::new(&options.name, &options.tenant, &options.secret)
        };
        let mut session: Box<Session<'_, SUBS, RX>> = Box::new(Session::new(now(), config));
        let mut slots: HashMap<u16, Slot> = HashMap::new();
        for (index, sub) in self.subs.iter().enumerate() {
            mirrors.push(Arc::clone(&sub.mirror));
            let Some(region) = mirrors.get(mirrors.len() - 1).map(|m| m.cell.region()) else {
                continue;
            };
            if let Ok(handle) = session.subscribe(&sub.mirror.path, region, sub.resume) {
                slots.insert(handle.0, Slot::Live(index));
            }
        }
        let mut writes: HashMap<u32, oneshot::Sender<Result<u64, ClientError>>> = HashMap::new();
        // A write waiting for room in the session; no command is taken
        // meanwhile, so writers wait in the bounded command queue.
        let mut held: Option<Write> = None;
        let mut buf = vec![0u8; RX + 5];
        let mut input = vec![0u8; 16 * 1024];
        let mut connected = false;
        let mut close_code = None;
        let mut regions = Vec::new();
        let end = loop {
            let mut delivered = false;
            while let Some(event) = session.poll_event() {
                match event {
                    Event::Connected { session: id, .. } => {
                        connected = true;
                        tracing::debug!(session = id, "connected");
                        {
                            let mut status =
                                self.status.lock().unwrap_or_else(PoisonError::into_inner);
                            status.connections += 1;
                            status.connected = true;
                            status.regions = std::mem::take(&mut regions);
                        }
                        if let Some(ready) = ready.take() {
                            let _ = ready.send(Ok(()));
                        }
                        for (path, reply) in std::mem::take(&mut self.queued) {
                            self.describe(&mut session, &mut slots, path, reply);
                        }
                    }
                    Event::Updated {
                        handle,
                        generation,
                        resynced,
                    } => {
                        tracing::trace!(target: "memwire::latency", step = "mirror updated");
                        self.updated(&session, &mut slots, handle, generation, resynced);
                        delivered = true;
                    }
                    Event::SchemaMismatch { handle } => {
                        self.ended(
                            &mut slots,
                            handle,
                            ClientError::BadSchema("the region's schema changed".into()),
                        );
                    }
                    Event::Ended { handle, code } => {
                        self.ended(&mut slots, handle, ClientError::Hub(code));
                    }
                    Event::WriteApplied {
                        request,
                        generation,
                    } => {
                        if let Some(reply) = writes.remove(&request) {
                            let _ = reply.send(Ok(generation));
                        }
                    }
                    Event::WriteRefused { request, code } => {
                        if let Some(reply) = writes.remove(&request) {
                            let _ = reply.send(Err(ClientError::Hub(code)));
                        }
                    }
                    Event::Closed { code } => {
                        tracing::debug!(?code, "session closed");
                        close_code = code;
                    }
                    _ => {}
                }
            }
            // A write the session had no room for: its answers may have
            // made room.
            if let Some(write) = held.take() {
                held = self.write(&mut session, &slots, &mut writes, write);
            }
            // The mirrors' watchers first, then the acks and requests: a
            // watcher woken on this thread runs only once the task yields,
            // and writing to the socket would hold it back.
            if delivered {
                tokio::task::yield_now().await;
            }
            let t = now();
            while let Some(n) = session.poll_transmit(t, &mut buf) {
                if stream.write_all(buf.get(..n).unwrap_or(&[])).await.is_err() {
                    break;
                }
            }
            {
                let mut status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
                status.stats = session.stats();
            }
            if session.is_closed() {
                break End::Lost(match close_code {
                    Some(code) => ClientError::Refused(code),
                    None => ClientError::Disconnected,
                });
            }
            let timer = session.poll_timeout();
            let sleep = async {
                match timer {
                    Some(at) => {
                        let at = start + Duration::from_micros(at.as_micros());
                        tokio::time::sleep_until(at).await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                read = stream.read(&mut input) => match read {
                    Ok(0) | Err(_) => break End::Lost(ClientError::Disconnected),
                    Ok(n) => {
                        tracing::trace!(target: "memwire::latency", step = "client read");
                        let mut observer = Observe {
                            mirrors: &mirrors,
                            slots: &mut slots,
                            regions: &mut regions,
                        };
                        session.handle_input_with(now(), input.get(..n).unwrap_or(&[]), &mut observer);
                    }
                },
                command = commands.recv(), if held.is_none() => match command {
                    None | Some(Command::Close) => {
                        session.close();
                        let t = now();
                        while let Some(n) = session.poll_transmit(t, &mut buf) {
                            if stream.write_all(buf.get(..n).unwrap_or(&[])).await.is_err() {
                                break;
                            }
                        }
                        let _ = stream.shutdown().await;
                        break End::Closed;
                    }
                    Some(Command::Subscribe { path, reply }) => {
                        if connected {
                            self.describe(&mut session, &mut slots, path, reply);
                        } else {
                            self.queued.push((path, reply));
                        }
                    }
                    Some(Command::Write { path, name, value, reply }) => {
                        held = self.write(&mut session, &slots, &mut writes, Write { path, name, value, reply });
                    }
                },
                () = sleep => session.handle_timeout(now()),
            }
        };
        // Requests of this connection that were not answered.
        for (_, reply) in writes.drain() {
            let _ = reply.send(Err(ClientError::NotConnected));
        }
        if let Some(write) = held {
            let _ = write.reply.send(Err(ClientError::NotConnected));
        }
        for (_, slot) in slots.drain() {
            match slot {
                Slot::Describing { path, reply, .. } => self.queued.push((path, reply)),
                Slot::Fresh { mirror, reply } => self.queued.push((mirror.path.clone(), reply)),
                Slot::Live(_) => {}
            }
        }
        end
    }

    /// Hands `write` to the session; gives it back when the session has
    /// as many writes waiting as it takes.
    fn write(
        &self,
        session: &mut Session<'_, SUBS, RX>,
        slots: &HashMap<u16, Slot>,
        writes: &mut HashMap<u32, oneshot::Sender<Result<u64, ClientError>>>,
        write: Write,
    ) -> Option<Write> {
        let handle = slots.iter().find_map(|(h, slot)| match slot {
            Slot::Live(i)
                if self
                    .subs
                    .get(*i)
                    .is_some_and(|s| s.mirror.path == write.path) =>
            {
                Some(Handle(*h))
            }
            _ => None,
        });
        let Some(handle) = handle else {
            let _ = write.reply.send(Err(ClientError::NotConnected));
            return None;
        };
        let request = WriteRequest::Variable {
            name: &write.name,
            value: &write.value,
        };
        match session.write(handle, request) {
            Ok(request) => {
                writes.insert(request, write.reply);
                None
            }
            Err(WriteError::Busy) => Some(write),
            Err(WriteError::Invalid) => {
                let _ = write
                    .reply
                    .send(Err(ClientError::UnknownVariable(write.name)));
                None
            }
            Err(WriteError::TooLarge) => {
                let _ = write.reply.send(Err(ClientError::TooLarge));
                None
            }
            Err(_) => {
                let _ = write.reply.send(Err(ClientError::NotConnected));
                None
            }
        }
    }

    fn describe(
        &mut self,
        session: &mut Session<'_, SUBS, RX>,
        slots: &mut HashMap<u16, Slot>,
        path: String,
        reply: oneshot::Sender<Result<Mirror, ClientError>>,
    ) {
        match session.subscribe_described(&path) {
            Ok(handle) => {
                slots.insert(
                    handle.0,
                    Slot::Describing {
                        path,
                        vars: Vec::new(),
                        reply,
                    },
                );
            }
            Err(_) => {
                let _ = reply.send(Err(ClientError::BadPath(path)));
            }
        }
    }

    fn updated(
        &mut self,
        session: &Session<'_, SUBS, RX>,
        slots: &mut HashMap<u16, Slot>,
        handle: Handle,
        generation: u64,
        resynced: bool,
    ) {
        let resume = session.resume_point(handle);
        match slots.remove(&handle.0) {
            Some(Slot::Fresh { mirror, reply }) => {
                self.map_local(&mirror, resume);
                mirror.updated(generation, true);
                let index = self.subs.len();
                self.subs.push(Sub {
                    mirror: Arc::clone(&mirror),
                    resume,
                });
                slots.insert(handle.0, Slot::Live(index));
                let _ = reply.send(Ok(Mirror {
                    shared: mirror,
                    commands: self.commands.clone(),
                }));
            }
            Some(Slot::Live(index)) => {
                if let Some(sub) = self.subs.get_mut(index) {
                    sub.resume = resume;
                    sub.mirror.updated(generation, resynced);
                }
                slots.insert(handle.0, Slot::Live(index));
            }
            Some(other) => {
                slots.insert(handle.0, other);
            }
            None => {}
        }
    }

    fn ended(&mut self, slots: &mut HashMap<u16, Slot>, handle: Handle, error: ClientError) {
        match slots.remove(&handle.0) {
            Some(Slot::Describing { reply, .. } | Slot::Fresh { reply, .. }) => {
                let _ = reply.send(Err(error));
            }
            Some(Slot::Live(index)) => {
                if let Some(sub) = self.subs.get(index) {
                    tracing::warn!(region = %sub.mirror.path, %error, "subscription ended by the hub");
                    sub.mirror.ended.store(true, Ordering::Relaxed);
                }
            }
            None => {}
        }
    }

    /// Maps the region file when the client is on the hub's host and the
    /// file is the very region the hub serves (same instance and schema).
    fn map_local(&self, mirror: &MirrorShared, resume: Option<Resume>) {
        let (Endpoint::Unix(_), Some(root), Some(resume)) =
            (&self.connector.endpoint, &self.options.local_root, resume)
        else {
            return;
        };
        match ShmRegion::open(root, &mirror.path) {
            Ok(local)
                if local.instance() == resume.instance
                    && local.fingerprint() == mirror.cell.region().fingerprint() =>
            {
                tracing::debug!(region = %mirror.path, "reading the region file directly");
                let _ = mirror.local.set(local);
            }
            Ok(_) => tracing::debug!(region = %mirror.path, "region file is not the hub's region"),
            Err(e) => {
                tracing::debug!(region = %mirror.path, error = %e, "region file not readable")
            }
        }
    }
}

/// Receives what a connection's session shows of its input: variable
/// tables and the welcome's region list.
struct Observe<'m, 's> {
    mirrors: &'m elsa::sync::FrozenVec<Arc<MirrorShared>>,
    slots: &'s mut HashMap<u16, Slot>,
    regions: &'s mut Vec<(String, u64)>,
}

impl<'m> Observer<'m> for Observe<'m, '_> {
    fn schema_part(&mut self, handle: Handle, part: &SchemaPart<'_>) -> Option<Region<'m>> {
        let Some(Slot::Describing { vars, .. }) = self.slots.get_mut(&handle.0) else {
            return None;
        };
        if part.count > TABLE_MAX || part.data_len > MIRROR_MAX {
            // A hub cannot make the client hold more than these.
            if let Some(Slot::Describing { reply, .. }) = self.slots.remove(&handle.0) {
                let _ = reply.send(Err(ClientError::BadSchema(format!(
                    "{} variables and {} bytes: more than this client mirrors ({TABLE_MAX} variables, {MIRROR_MAX} bytes)",
                    part.count, part.data_len
                ))));
            }
            return None;
        }
        if part.first == 0 {
            vars.clear();
        }
        vars.extend(part.variables.iter());
        if usize::try_from(part.count).ok() != Some(vars.len()) {
            return None;
        }
        let Some(Slot::Describing { path, vars, reply }) = self.slots.remove(&handle.0) else {
            return None;
        };
        let cell = OwnedSchema::from_placed(vars)
            .map_err(|e| e.to_string())
            .and_then(|schema| MirrorCell::build(schema, part.instance).map_err(|e| e.to_string()));
        match cell {
            Ok(cell) => {
                let mirror = Arc::new(MirrorShared::new(path, cell));
                self.mirrors.push(Arc::clone(&mirror));
                let region = self.mirrors.get(self.mirrors.len() - 1)?.cell.region();
                self.slots.insert(handle.0, Slot::Fresh { mirror, reply });
                Some(region)
            }
            Err(message) => {
                let _ = reply.send(Err(ClientError::BadSchema(message)));
                None
            }
        }
    }

    fn regions(&mut self, list: RegionList<'_>, _complete: bool) {
        self.regions.clear();
        for info in list.iter() {
            self.regions
                .push((info.name.as_str().to_owned(), info.instance));
        }
    }
}

/// A number in [0, 1) for jitter.
fn random_unit() -> f64 {
    let mut bytes = [0u8; 4];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX)
}

#[cfg(test)]
mod tests {
    use memwire::codec::VarTable;

    use super::*;

    fn part(count: u32, data_len: u32) -> SchemaPart<'static> {
        SchemaPart {
            handle: 0,
            instance: 1,
            fingerprint: 0,
            data_len,
            count,
            first: 0,
            variables: VarTable::EMPTY,
        }
    }

    /// A task's state with subscription 0 waiting for its variable table,
    /// and the receiver of that subscription's answer.
    struct Describing {
        mirrors: elsa::sync::FrozenVec<Arc<MirrorShared>>,
        slots: HashMap<u16, Slot>,
        regions: Vec<(String, u64)>,
        answer: oneshot::Receiver<Result<Mirror, ClientError>>,
    }

    impl Describing {
        fn new() -> Self {
            let (reply, answer) = oneshot::channel();
            let slot = Slot::Describing {
                path: "t/r".into(),
                vars: Vec::new(),
                reply,
            };
            Describing {
                mirrors: elsa::sync::FrozenVec::new(),
                slots: HashMap::from([(0, slot)]),
                regions: Vec::new(),
                answer,
            }
        }

        fn observe(&mut self) -> Observe<'_, '_> {
            Observe {
                mirrors: &self.mirrors,
                slots: &mut self.slots,
                regions: &mut self.regions,
            }
        }
    }

    #[test]
    fn a_described_region_past_the_limits_is_refused_without_allocating() {
        for (count, data_len) in [
            (TABLE_MAX + 1, 8),
            (1, MIRROR_MAX + 1),
            (u32::MAX, u32::MAX),
        ] {
            let mut state = Describing::new();
            assert!(
                state
                    .observe()
                    .schema_part(Handle(0), &part(count, data_len))
                    .is_none()
            );
            assert!(state.slots.is_empty());
            assert!(matches!(
                state.answer.try_recv(),
                Ok(Err(ClientError::BadSchema(_)))
            ));
            assert_eq!(state.mirrors.len(), 0);
        }
    }

    #[test]
    fn a_described_region_within_the_limits_waits_for_its_table() {
        let mut state = Describing::new();
        assert!(
            state
                .observe()
                .schema_part(Handle(0), &part(3, 64))
                .is_none()
        );
        assert!(matches!(state.slots.get(&0), Some(Slot::Describing { .. })));
        assert!(state.answer.try_recv().is_err());
    }
}
