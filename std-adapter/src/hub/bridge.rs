//! What a bridge between hubs (the `memwire-zenoh` crate) needs of a
//! running hub, and nothing more:
//!
//! - [`Feed`]: the snapshots the hub's scans publish for one region, each
//!   with its instance, generation and the chunk-generation table a delta
//!   is cut from ([`Snapshot::changed_since`]), exactly what a
//!   subscription's updates and resyncs are cut from;
//! - [`Hub::apply_write`]: a write checked against the region's schema as
//!   a client's write is, applied and published, answered with its
//!   generation or the refusal;
//! - [`Inbox`]: the writes the hub's clients make to a region the bridge
//!   imports, handed to the bridge (as writes to a region a client
//!   publishes are handed to that client, `forward.rs`) and answered with
//!   what the region's owner made of them.
//!
//! The region a hook is taken on is the one served when it is taken: a
//! reload that declares the region anew is not followed.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use memwire::Schema;
use memwire::codec::ErrorCode;
use memwire::diff::{ByteRange, ChunkTable};
use memwire::session::check_write;
use tokio::sync::{Notify, mpsc};

use super::forward::{Forward, Publishers, QUEUE, Reply};
use super::handle::Hub;
use super::metrics::{NOT_IMPORTED, OWNER_UP, STALE};
use super::region::{Listener, Served};
use super::shadow::Published;
use super::unavailable::UNAVAILABLE;

/// Ranges a write may carry at most (`spec/wire-format.md` §7.6).
const WRITE_RANGES: usize = 32;

/// Why a hook could not be taken on a region.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BridgeError {
    /// The hub serves no region of that name.
    #[error("the hub serves no region {path}")]
    NotServed {
        /// `tenant/region`.
        path: String,
    },
    /// A client publishes the region: its writes go to that client.
    #[error("region {path} is published by a client")]
    Published {
        /// `tenant/region`.
        path: String,
    },
}

/// Wakes a [`Feed`] at each new snapshot of its region.
#[derive(Debug, Default)]
struct Wakeup(Notify);

impl Listener for Wakeup {
    fn changed(&self, _waits: bool) {
        self.0.notify_one();
    }

    fn wake(&self) {
        self.0.notify_one();
    }
}

/// The snapshots of one region as the hub's scans publish them
/// ([`Hub::feed`]).
pub struct Feed {
    served: Arc<Served>,
    wakeup: Arc<Wakeup>,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("region", &self.served.path())
            .finish()
    }
}

impl Feed {
    /// The region's latest snapshot, or `None` while it serves no file.
    pub fn snapshot(&self) -> Option<Snapshot> {
        self.served.published().map(Snapshot)
    }

    /// Returns once a scan found a new generation, or the region's file
    /// was dropped or taken up, since the last call returned (at once if
    /// that happened meanwhile).
    pub async fn changed(&self) {
        self.wakeup.0.notified().await;
    }
}

/// One published state of a region: its bytes and which chunks changed at
/// which generation.
#[derive(Clone, Debug)]
pub struct Snapshot(Arc<Published>);

impl Snapshot {
    /// The region file's instance (new with each file created).
    pub fn instance(&self) -> u64 {
        self.0.instance
    }

    /// The generation this snapshot is of.
    pub fn generation(&self) -> u64 {
        self.0.generation
    }

    /// The file's schema.
    pub fn schema(&self) -> Schema<'static> {
        self.0.schema
    }

    /// The data area as of [`generation`](Self::generation).
    pub fn data(&self) -> &[u8] {
        &self.0.data
    }

    /// The ranges of the data area that a copy holding `generation` of
    /// `instance` must take to hold this snapshot, as a resync cuts them
    /// (`spec/wire-format.md` §7.4 rule 3): the exact ranges of the last
    /// scan when it started at `generation`, else the chunks stamped after
    /// it. `None` when only a full copy will do: another instance, or a
    /// generation this one never reached (or 0, which vouches for nothing).
    pub fn changed_since(&self, instance: u64, generation: u64) -> Option<Vec<ByteRange>> {
        let published = &self.0;
        if instance != published.instance || generation == 0 || generation > published.generation {
            return None;
        }
        if let Some((base, ranges)) = &published.recent {
            if *base == generation {
                return Some(ranges.clone());
            }
        }
        let table =
            ChunkTable::new(&published.table, published.data.len(), published.chunk).ok()?;
        Some(table.changed_since(generation).collect())
    }
}

/// Writes the hub's clients make to a region a bridge imports, in the
/// order they were made ([`Hub::inbox`]). While it lives, no such write is
/// applied to the hub's copy; dropping it gives the region back to local
/// writes.
pub struct Inbox {
    served: Arc<Served>,
    shared_publishers: Weak<Publishers>,
    sender: mpsc::Sender<Forward>,
    writes: mpsc::Receiver<Forward>,
}

impl std::fmt::Debug for Inbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox")
            .field("region", &self.served.path())
            .finish()
    }
}

impl Inbox {
    /// Says whether the region's owner is lost: while it is, the hub's
    /// metrics show the copy as stale (`memwire_region_stale` 1). An
    /// inbox starts with its owner lost, until the bridge sees it up.
    pub fn owner_lost(&self, lost: bool) {
        let state = if lost { STALE } else { OWNER_UP };
        self.served.counts.import.store(state, Ordering::Relaxed);
    }

    /// The next write, checked against the client's rights and the
    /// region's schema by the client's session. `None` once the hub has
    /// shut down.
    pub async fn next(&mut self) -> Option<ForwardedWrite> {
        let forward = self.writes.recv().await?;
        Some(ForwardedWrite {
            served: Arc::clone(&self.served),
            ranges: forward.ranges,
            reply: forward.reply,
        })
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        if let Some(publishers) = self.shared_publishers.upgrade() {
            publishers.unregister(&self.sender);
        }
        let counts = &self.served.counts;
        counts.import.store(NOT_IMPORTED, Ordering::Relaxed);
    }
}

/// A client's write to an imported region, to be answered once
/// ([`answer`](Self::answer)); dropped unanswered, the client is told the
/// hub is busy.
pub struct ForwardedWrite {
    served: Arc<Served>,
    ranges: Vec<(usize, Vec<u8>)>,
    reply: Reply,
}

impl std::fmt::Debug for ForwardedWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForwardedWrite")
            .field("region", &self.served.path())
            .field("ranges", &self.ranges.len())
            .finish()
    }
}

impl ForwardedWrite {
    /// The byte ranges of the data area the client writes, ascending.
    pub fn ranges(&self) -> &[(usize, Vec<u8>)] {
        &self.ranges
    }

    /// Answers the client: the generation of the hub's copy that holds the
    /// write, or why it was refused.
    pub fn answer(self, outcome: Result<u64, ErrorCode>) {
        self.reply.send(outcome);
    }

    /// The generation the hub's copy of the region holds now, or `None`
    /// while it serves no file.
    pub fn held(&self) -> Option<u64> {
        self.served.published().map(|p| p.generation)
    }
}

impl Hub {
    /// The served region `tenant/region`.
    fn served(&self, tenant: &str, region: &str) -> Result<Arc<Served>, BridgeError> {
        let shared = self.shared();
        shared
            .find(tenant, region)
            .and_then(|id| usize::try_from(id.0).ok())
            .and_then(|i| shared.regions.get(i))
            .cloned()
            .ok_or_else(|| BridgeError::NotServed {
                path: format!("{tenant}/{region}"),
            })
    }

    /// The snapshots of region `tenant/region`, as its scans publish them.
    /// While the feed lives it counts among the region's subscribers in the
    /// hub's metrics (`memwire_region_subscribers`).
    pub fn feed(&self, tenant: &str, region: &str) -> Result<Feed, BridgeError> {
        let served = self.served(tenant, region)?;
        let wakeup = Arc::new(Wakeup::default());
        let listener: Arc<dyn Listener> = wakeup.clone();
        served.listen(&Arc::downgrade(&listener));
        Ok(Feed { served, wakeup })
    }

    /// Applies a write to region `tenant/region` made elsewhere (a client
    /// of another hub), checked as a client's write is: every range inside
    /// writable variables, `bool`s 0 or 1, at most 32 ranges, not empty
    /// (`spec/wire-format.md` §7.6). Published before it returns; gives the
    /// generation that holds it, or the code and reason of the refusal.
    pub fn apply_write(
        &self,
        tenant: &str,
        region: &str,
        ranges: &[(usize, &[u8])],
    ) -> Result<u64, (ErrorCode, &'static str)> {
        let served = self
            .served(tenant, region)
            .map_err(|_| (ErrorCode::UnknownRegion, "no such region"))?;
        if served.publisher.is_some() {
            return Err((ErrorCode::Busy, "the region is published by a client"));
        }
        let published = served
            .published()
            .ok_or((UNAVAILABLE, "the region serves no file"))?;
        if ranges.is_empty() {
            return Err((ErrorCode::BadValue, "a write with no ranges"));
        }
        if ranges.len() > WRITE_RANGES {
            return Err((ErrorCode::LimitExceeded, "more than 32 ranges"));
        }
        check_write(published.schema, published.data.len(), ranges)?;
        served
            .write(ranges, published.schema)
            .map_err(|code| (code, "the write was not applied"))
    }

    /// Takes the writes the hub's clients make to region `tenant/region`
    /// from now on, for a bridge that imports it: the hub no longer applies
    /// them to its copy, the bridge answers each.
    pub fn inbox(&self, tenant: &str, region: &str) -> Result<Inbox, BridgeError> {
        let served = self.served(tenant, region)?;
        if served.publisher.is_some() {
            return Err(BridgeError::Published {
                path: format!("{tenant}/{region}"),
            });
        }
        let shared = self.shared();
        let index = shared
            .regions
            .iter()
            .position(|r| Arc::ptr_eq(r, &served))
            .ok_or_else(|| BridgeError::NotServed {
                path: format!("{tenant}/{region}"),
            })?;
        let (sender, writes) = mpsc::channel(QUEUE);
        shared.publishers.register(&[index], &sender);
        served.counts.import.store(STALE, Ordering::Relaxed);
        Ok(Inbox {
            served,
            shared_publishers: Arc::downgrade(&shared.publishers),
            sender,
            writes,
        })
    }
}
