//! What a [`Mirror`] offers: reads of its memory (or of the region file
//! when local), writes through the hub, its change events, and every
//! update it applies (`applied.rs` keeps them).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use memwire::region::AccessError;
use memwire::schema::{RecordError, Value};
use memwire::{Record, Schema, VarId};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::applied::{Applied, AppliedUpdate, Reader};
use super::error::ClientError;
use super::memory::{MirrorEvent, MirrorShared};
use super::shared::{Command, Mirror};

impl std::fmt::Debug for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mirror")
            .field("path", &self.shared.path)
            .field("generation", &self.generation())
            .field("local", &self.is_local())
            .finish()
    }
}

impl Mirror {
    /// The region's path, `tenant/region`.
    pub fn path(&self) -> &str {
        &self.shared.path
    }

    /// The region's schema, as the hub described it.
    pub fn schema(&self) -> Schema<'_> {
        self.shared.cell.region().schema()
    }

    /// Whether reads go to the region file mapped in this process (a client
    /// connected over the hub's Unix socket that may open the file).
    pub fn is_local(&self) -> bool {
        self.shared.local.get().is_some()
    }

    /// Whether the hub ended the subscription (the region is gone or access
    /// was withdrawn); the mirror keeps its last contents.
    pub fn is_ended(&self) -> bool {
        self.shared.ended.load(Ordering::Relaxed)
    }

    /// The generation the mirror holds.
    pub fn generation(&self) -> u64 {
        match self.shared.local.get() {
            Some(local) => local.generation().unwrap_or(0),
            None => self.shared.cell.region().generation().unwrap_or(0),
        }
    }

    fn id(&self, name: &str) -> Result<VarId, ClientError> {
        self.schema()
            .find(name)
            .ok_or_else(|| ClientError::UnknownVariable(name.to_owned()))
    }

    /// The bytes of variable `name`.
    pub fn read(&self, name: &str) -> Result<Vec<u8>, ClientError> {
        let id = self.id(name)?;
        let len = self
            .schema()
            .get(id)
            .map_or(0, |v| usize::try_from(v.len()).unwrap_or(0));
        let mut out = vec![0u8; len];
        match self.shared.local.get() {
            Some(local) => local.read(id, &mut out).map_err(ClientError::local)?,
            None => retry(|| self.shared.cell.region().read(id, &mut out))?,
        }
        Ok(out)
    }

    /// Variable `name` as a `V` (kind and length must match).
    pub fn get<V: Value>(&self, name: &str) -> Result<V, ClientError> {
        match self.shared.local.get() {
            Some(local) => local.get_by_name(name).map_err(ClientError::local),
            None => retry(|| self.shared.cell.region().get_by_name(name)),
        }
    }

    /// The whole data area, as of one generation.
    pub fn snapshot(&self) -> Result<(u64, Vec<u8>), ClientError> {
        let mut out = vec![0u8; self.shared.cell.region().data_len()];
        let generation = match self.shared.local.get() {
            Some(local) => local.snapshot(&mut out).map_err(ClientError::local)?,
            None => retry(|| self.shared.cell.region().snapshot(&mut out))?,
        };
        Ok((generation, out))
    }

    /// The whole region as the `#[derive(Schema)]` record `T` (its schema
    /// must be the region's). A variable whose bytes are not a value of
    /// its field's type (a `bool` other than 0 or 1) is
    /// [`ClientError::InvalidValue`].
    pub fn load<T: Record>(&self) -> Result<T, ClientError> {
        if T::schema().fingerprint() != self.schema().fingerprint() {
            return Err(ClientError::SchemaMismatch);
        }
        let (_, data) = self.snapshot()?;
        T::decode(&data).map_err(|e| match e {
            RecordError::InvalidValue { variable } => match self.schema().get(variable) {
                Some(var) => ClientError::InvalidValue {
                    variable: var.name.as_str().to_owned(),
                    kind: var.kind,
                },
                None => ClientError::Access(AccessError::InvalidValue),
            },
            _ => ClientError::SchemaMismatch,
        })
    }

    /// Asks the hub to write variable `name` (exactly its length in bytes,
    /// little-endian) and returns the generation that holds the write. The
    /// mirror shows it once the hub's update arrives.
    ///
    /// A value of any size is sent: in one frame when it fits the hub's
    /// largest frame, else in parts that the hub keeps until the last one
    /// and applies in one commit, so no reader sees part of the write. A
    /// write larger than the hub keeps of one in parts (its
    /// `limits.max_write`, 256 KiB by default) is refused with
    /// [`ClientError::Hub`]`(LimitExceeded)`, nothing written; one that is
    /// not writable, or of the wrong length, with `ReadOnly` or
    /// `BadValue`.
    pub async fn write(&self, name: &str, value: &[u8]) -> Result<u64, ClientError> {
        let (reply, answer) = oneshot::channel();
        let command = Command::Write {
            path: self.shared.path.clone(),
            name: name.to_owned(),
            value: value.to_vec(),
            reply,
        };
        self.commands
            .send(command)
            .await
            .map_err(|_| ClientError::Closed)?;
        answer.await.map_err(|_| ClientError::Closed)?
    }

    /// [`write`](Self::write) of a typed value.
    pub async fn set<V: Value>(&self, name: &str, value: V) -> Result<u64, ClientError> {
        let raw = value.to_raw();
        self.write(name, bytemuck::bytes_of(&raw)).await
    }

    /// Asks the hub for a full copy of the region now, as after a lost
    /// update: the hub answers with the whole data area, and
    /// [`changes`](Self::changes) reports it with `resynced` set. Until
    /// it arrives the mirror keeps its bytes and its
    /// [`generation`](Self::generation) is 0. A mirror mapped from the
    /// region file ([`is_local`](Self::is_local)) is the region itself and
    /// needs none: this returns at once.
    pub async fn resync(&self) -> Result<(), ClientError> {
        if self.is_local() {
            return Ok(());
        }
        let (reply, answer) = oneshot::channel();
        let command = Command::Resync {
            path: self.shared.path.clone(),
            reply,
        };
        self.commands
            .send(command)
            .await
            .map_err(|_| ClientError::Closed)?;
        answer.await.map_err(|_| ClientError::Closed)?
    }

    /// The changes from now on, as an async stream of events.
    pub fn changes(&self) -> Changes {
        Changes {
            events: self.shared.events.subscribe(),
            client: self.commands.clone(),
        }
    }

    /// Every update the mirror applies from now on, each with its
    /// generation and a copy of the bytes it wrote, taken as it was
    /// applied: the first item is the whole data area now, then one item
    /// per update the hub sent, however fast they come. For a recorder; a
    /// view of the latest values wants [`changes`](Self::changes).
    ///
    /// What the reader has not taken is queued, at most
    /// [`QUEUE_UPDATES`](super::QUEUE_UPDATES) updates and
    /// [`QUEUE_BYTES`](super::QUEUE_BYTES) bytes: updates that find the
    /// queue full are dropped, and the reader gets [`Applied::Lagged`]
    /// with their number, then the whole data area as of the last of them.
    /// Memory never grows past the bound, however slow the reader.
    pub fn updates(&self) -> Result<Updates, ClientError> {
        let reader = self
            .shared
            .taps
            .reader(&self.shared.cell.region())
            .map_err(ClientError::Access)?;
        Ok(Updates {
            reader,
            mirror: Arc::clone(&self.shared),
            after: None,
            client: self.commands.clone(),
        })
    }
}

/// Every update a [`Mirror`] applies ([`Mirror::updates`]).
pub struct Updates {
    reader: Arc<Reader>,
    mirror: Arc<MirrorShared>,
    /// The whole data area to give after a [`Applied::Lagged`].
    after: Option<AppliedUpdate>,
    /// Closed once the client's task has ended.
    client: mpsc::Sender<Command>,
}

impl std::fmt::Debug for Updates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Updates")
            .field("path", &self.mirror.path)
            .finish_non_exhaustive()
    }
}

impl Updates {
    /// The next update; `None` once the client is closed (after the
    /// updates applied before).
    pub async fn next(&mut self) -> Option<Applied> {
        loop {
            match self.take() {
                Ok(Some(item)) => return Some(item),
                Ok(None) => {}
                Err(_) => return None,
            }
            tokio::select! {
                biased;
                () = self.reader.ready.notified() => {}
                () = self.client.closed() => return self.take().ok().flatten(),
            }
        }
    }

    /// The next item if one is there, without waiting.
    pub fn try_next(&mut self) -> Option<Applied> {
        self.take().ok().flatten()
    }

    fn take(&mut self) -> Result<Option<Applied>, AccessError> {
        let mirror = self.mirror.cell.region();
        self.mirror
            .taps
            .next(&self.reader, &mirror, &mut self.after)
    }
}

/// Change events of a [`Mirror`]. Several updates between two looks are
/// separate events while fewer than 256 are buffered; past that the reader
/// gets one event with `resynced` set.
#[derive(Debug)]
pub struct Changes {
    events: broadcast::Receiver<MirrorEvent>,
    /// Closed once the client's task has ended: the events' sender lives
    /// as long as any handle of the mirror, so it cannot tell.
    client: mpsc::Sender<Command>,
}

impl Changes {
    /// The next event; `None` once the client is closed (after the events
    /// it sent before).
    pub async fn next(&mut self) -> Option<MirrorEvent> {
        loop {
            let received = tokio::select! {
                biased;
                received = self.events.recv() => received,
                () = self.client.closed() => match self.events.try_recv() {
                    Ok(event) => Ok(event),
                    Err(broadcast::error::TryRecvError::Lagged(n)) => {
                        Err(broadcast::error::RecvError::Lagged(n))
                    }
                    Err(_) => return None,
                },
            };
            match received {
                Ok(event) => return Some(event),
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Skip to the newest and say that anything may have changed.
                    let mut last = None;
                    while let Ok(event) = self.events.try_recv() {
                        last = Some(event);
                    }
                    if let Some(mut event) = last {
                        event.resynced = true;
                        return Some(event);
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

/// Runs a seqlock read of the mirror, retrying while the client task is in
/// the middle of applying an update (microseconds).
fn retry<R>(mut op: impl FnMut() -> Result<R, AccessError>) -> Result<R, ClientError> {
    for _ in 0..10_000 {
        match op() {
            Err(AccessError::Busy) => std::thread::yield_now(),
            other => return other.map_err(ClientError::Access),
        }
    }
    Err(ClientError::Access(AccessError::Busy))
}
