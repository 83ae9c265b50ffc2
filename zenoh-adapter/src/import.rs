//! Import: a mirroring hub keeps a local region file a copy of the
//! owner's region. It resumes from the (instance, generation) of the owner
//! its file holds, queries what it misses, applies each live update it can
//! (its base at or before the generation held, of the same instance) as
//! one commit through the hub's writer, and queries again on any other
//! (an update lost in a router failover, an owner restarted). The hub's
//! clients' writes to the region go to the owner and are answered with
//! its outcome once the copy holds them.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use memwire::codec::ErrorCode;
use memwire_std::hub::{Feed, ForwardedWrite, Hub, HubWriter};
use memwire_std::shm::{Root, ShmWriter};
use tokio::sync::watch;
use zenoh::Session;
use zenoh::sample::SampleKind;

use crate::error::Error;
use crate::keys::RegionKeys;
use crate::payload::{self, SnapshotReply, Update};

/// How long a query waits for the owner's answer.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a write waits for the copy to hold what the owner applied.
const HOLD_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the hub takes at most to serve a file the bridge created.
const TAKE_UP: Duration = Duration::from_secs(10);
/// The pause before a failed query is made again.
const RETRY: Duration = Duration::from_millis(500);

/// Where an imported region stands ([`Bridge::imports`](crate::Bridge::imports)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportStatus {
    /// `tenant/region`.
    pub path: String,
    /// Whether the owner's liveliness token is seen; when not, the copy
    /// keeps its last state and is stale.
    pub owner_up: bool,
    /// The owner's instance and generation the copy holds, if any.
    pub held: Option<(u64, u64)>,
    /// Full copies taken (a first copy, or an owner of a new instance).
    pub full: u64,
    /// Resyncs answered with a delta (the owner back with its instance).
    pub deltas: u64,
    /// Live updates applied.
    pub updates: u64,
}

/// Where the copy stands: the owner's instance and generation it holds,
/// and the copy's own generation holding them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Held {
    owner_instance: u64,
    owner_generation: u64,
    local_generation: u64,
}

/// One imported region.
struct Copy {
    hub: Arc<Hub>,
    tenant: String,
    region: String,
    /// The hub's feed of its own copy: its instance and generation.
    local: Feed,
    writer: Option<HubWriter>,
    held: watch::Sender<Option<Held>>,
    resume: PathBuf,
    status: Arc<Mutex<ImportStatus>>,
}

/// Mirrors region `tenant/region` into `hub` until aborted.
pub(crate) async fn run(
    hub: Arc<Hub>,
    session: Session,
    tenant: String,
    region: String,
    state: PathBuf,
    status: Arc<Mutex<ImportStatus>>,
) -> Result<(), Error> {
    let keys = RegionKeys::new(&tenant, &region);
    let mut inbox = hub.inbox(&tenant, &region)?;
    let local = hub.feed(&tenant, &region)?;
    let resume = state.join(&tenant).join(format!("{region}.resume"));
    let held = load(&resume, &local);
    if let Some(h) = held {
        tracing::info!(region = %keys.owner, instance = h.owner_instance, generation = h.owner_generation, "resuming from the file");
    }
    let mut copy = Copy {
        writer: None,
        held: watch::channel(held).0,
        hub,
        tenant,
        region,
        local,
        resume,
        status,
    };
    let updates = session.declare_subscriber(keys.update.clone()).await?;
    let owner = session
        .liveliness()
        .declare_subscriber(keys.owner.clone())
        .history(true)
        .await?;
    let mut owner_up = false;
    let mut behind = false;
    loop {
        if owner_up && behind {
            behind = !copy.resync(&session, &keys).await;
        }
        tokio::select! {
            sample = owner.recv_async() => {
                let Ok(sample) = sample else { return Ok(()) };
                owner_up = sample.kind() == SampleKind::Put;
                copy.status().owner_up = owner_up;
                inbox.owner_lost(!owner_up);
                if owner_up {
                    tracing::info!(region = %keys.owner, "owner up");
                    behind = true;
                } else {
                    tracing::warn!(region = %keys.owner, "owner lost: the copy is stale");
                }
            }
            sample = updates.recv_async() => {
                let Ok(sample) = sample else { return Ok(()) };
                match Update::decode(&sample.payload().to_bytes()) {
                    Ok(update) => {
                        if !copy.apply_live(&update) {
                            behind = true;
                        }
                    }
                    Err(e) => tracing::warn!(region = %keys.owner, error = %e, "an update was malformed"),
                }
            }
            write = inbox.next() => {
                let Some(write) = write else { return Ok(()) };
                tokio::spawn(forward(session.clone(), keys.write.clone(), write, copy.held.subscribe()));
            }
            () = tokio::time::sleep(RETRY), if behind => {}
        }
    }
}

impl Copy {
    /// Applies a live update if the copy can take it; `false` when a query
    /// must bring the copy up to date.
    fn apply_live(&mut self, update: &Update) -> bool {
        let held = *self.held.borrow();
        let Some(held) = held else { return false };
        if update.instance != held.owner_instance {
            return false;
        }
        if update.generation <= held.owner_generation {
            return true; // already held
        }
        // A delta from an earlier base covers every change since it; a
        // full update (base 0) covers everything.
        if update.base > held.owner_generation {
            return false;
        }
        match self.commit(update) {
            Ok(()) => {
                self.status().updates += 1;
                true
            }
            Err(e) => {
                tracing::warn!(region = %self.path(), error = %e, "an update was not applied");
                false
            }
        }
    }

    /// Asks the owner for what the copy misses and applies it; `false` when
    /// that failed and must be tried again.
    async fn resync(&mut self, session: &Session, keys: &RegionKeys) -> bool {
        let since = self
            .held
            .borrow()
            .map(|h| (h.owner_instance, h.owner_generation));
        let replies = match session
            .get(keys.snapshot.clone())
            .payload(payload::encode_since(since))
            .timeout(QUERY_TIMEOUT)
            .await
        {
            Ok(replies) => replies,
            Err(e) => {
                tracing::warn!(region = %keys.owner, error = %e, "snapshot query failed");
                return false;
            }
        };
        while let Ok(reply) = replies.recv_async().await {
            let Ok(sample) = reply.result() else { continue };
            let reply = match SnapshotReply::decode(&sample.payload().to_bytes()) {
                Ok(reply) => reply,
                Err(e) => {
                    tracing::warn!(region = %keys.owner, error = %e, "a snapshot reply was malformed");
                    continue;
                }
            };
            let hub = Arc::clone(&self.hub);
            match self.take(&hub, &reply).await {
                Ok(()) => {}
                Err(e) => {
                    tracing::warn!(region = %keys.owner, error = %e, "the copy could not be made");
                    return false;
                }
            }
            let delta = reply.update.base != 0;
            tracing::info!(
                region = %keys.owner,
                instance = reply.update.instance,
                generation = reply.update.generation,
                kind = if delta { "delta" } else { "full" },
                bytes = reply.update.ranges.len(),
                "resynced"
            );
            if delta {
                self.status().deltas += 1;
            } else {
                self.status().full += 1;
                self.held.send_replace(None);
            }
            return match self.commit(&reply.update) {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(region = %keys.owner, error = %e, "a resync was not applied");
                    false
                }
            };
        }
        false
    }

    /// Makes sure the hub serves a local file of `reply`'s schema and holds
    /// its writer: creates the file (anew, if it has another schema) and
    /// waits for the hub to take it up.
    async fn take(&mut self, hub: &Hub, reply: &SnapshotReply) -> Result<(), Error> {
        let wanted = reply.schema.as_schema();
        if let Some(writer) = &self.writer {
            if same_schema(writer.schema(), wanted) {
                return Ok(());
            }
        }
        self.writer = None;
        let current = self.local.snapshot();
        if current
            .as_ref()
            .is_none_or(|s| !same_schema(s.schema(), wanted))
        {
            self.held.send_replace(None);
            let config = hub.config();
            let root = config.root.map_or_else(Root::from_env, Root::new);
            let path = format!("{}/{}", self.tenant, self.region);
            if let Some(file) = hub.region_file(&self.tenant, &self.region) {
                let _ = std::fs::remove_file(file);
            }
            drop(ShmWriter::create(&root, &path, wanted)?);
            tracing::info!(region = %path, "created the local copy");
        }
        let deadline = tokio::time::Instant::now() + TAKE_UP;
        loop {
            match hub.writer(&self.tenant, &self.region) {
                Ok(writer) if same_schema(writer.schema(), wanted) => {
                    self.writer = Some(writer);
                    return Ok(());
                }
                Ok(_) | Err(_) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Ok(_) => return Err(Error::Copy("the hub serves another schema".into())),
                Err(e) => return Err(Error::Copy(e.to_string())),
            }
        }
    }

    /// Applies `update` to the copy as one commit and records where the
    /// copy stands.
    fn commit(&mut self, update: &Update) -> Result<(), Error> {
        let writer = self
            .writer
            .as_ref()
            .ok_or_else(|| Error::Copy("no local copy".into()))?;
        if writer.schema().fingerprint() != update.fingerprint {
            return Err(Error::Copy("the update is of another schema".into()));
        }
        let spans = update.spans().map_err(|e| Error::Copy(e.to_string()))?;
        let local_generation = if spans.is_empty() {
            self.local.snapshot().map_or(0, |s| s.generation())
        } else {
            writer.write_ranges(&spans)?
        };
        let held = Held {
            owner_instance: update.instance,
            owner_generation: update.generation,
            local_generation,
        };
        self.held.send_replace(Some(held));
        self.status().held = Some((held.owner_instance, held.owner_generation));
        if let Some(local) = self.local.snapshot() {
            save(&self.resume, local.instance(), held);
        }
        Ok(())
    }

    fn status(&self) -> MutexGuard<'_, ImportStatus> {
        self.status.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn path(&self) -> String {
        format!("{}/{}", self.tenant, self.region)
    }
}

/// Sends a client's write to the owner and answers it: the owner's
/// refusal, or the copy's generation once it holds what the owner applied.
async fn forward(
    session: Session,
    key: String,
    write: ForwardedWrite,
    mut held: watch::Receiver<Option<Held>>,
) {
    let outcome = async {
        let replies = session
            .get(key)
            .payload(payload::encode_write(write.ranges()))
            .timeout(QUERY_TIMEOUT)
            .await
            .ok()?;
        let reply = replies.recv_async().await.ok()?;
        let sample = reply.result().ok()?;
        payload::decode_outcome(&sample.payload().to_bytes()).ok()
    }
    .await;
    let owner_generation = match outcome {
        Some(Ok(generation)) => generation,
        Some(Err(code)) => return write.answer(Err(code)),
        // The owner is unreachable or gave no answer in time.
        None => return write.answer(Err(ErrorCode::Busy)),
    };
    let holds = tokio::time::timeout(
        HOLD_TIMEOUT,
        held.wait_for(|h| h.is_some_and(|h| h.owner_generation >= owner_generation)),
    )
    .await;
    match holds {
        Ok(Ok(h)) => {
            let local = h.map_or(0, |h| h.local_generation);
            write.answer(Ok(local));
        }
        _ => write.answer(Err(ErrorCode::Busy)),
    }
}

/// Whether two schemas are the same, `writable` flags included (the
/// fingerprint leaves them out).
fn same_schema(a: memwire::Schema<'_>, b: memwire::Schema<'_>) -> bool {
    a.fingerprint() == b.fingerprint() && a.variables() == b.variables()
}

/// The resume point kept in `path`, if it is of the file the hub serves
/// now: `local_instance owner_instance owner_generation`.
fn load(path: &Path, local: &Feed) -> Option<Held> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut numbers = text.split_whitespace().map(|n| n.parse::<u64>().ok());
    let (local_instance, owner_instance, owner_generation) =
        (numbers.next()??, numbers.next()??, numbers.next()??);
    let snapshot = local.snapshot()?;
    (snapshot.instance() == local_instance).then_some(Held {
        owner_instance,
        owner_generation,
        local_generation: snapshot.generation(),
    })
}

/// Records `held` in `path` (written aside and renamed: a crash leaves the
/// old point or the new, and an old point only makes the next query ask
/// for more than it needs).
fn save(path: &Path, local_instance: u64, held: Held) {
    let text = format!(
        "{local_instance} {} {}\n",
        held.owner_instance, held.owner_generation
    );
    let aside = path.with_extension("resume.new");
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(&aside, text))
        .and_then(|()| std::fs::rename(&aside, path));
    if let Err(e) = written {
        tracing::warn!(path = %path.display(), error = %e, "the resume point was not saved");
    }
}
