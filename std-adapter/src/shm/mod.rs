//! Shared-memory regions: files that processes on one host map and share.
//!
//! ```text
//! <root>/<tenant>/<region>      one directory per tenant (0700), files 0600
//! ```
//!
//! - [`Root`] (`root.rs`): where the files live (`$MEMWIRE_ROOT`, the user's
//!   runtime directory, `/dev/shm`).
//! - `file.rs`: checked opens (`O_NOFOLLOW`, `fstat` owner, mode and size)
//!   and atomic creation (temporary file, `posix_fallocate`, link to the
//!   final name).
//! - `map.rs`: the mapping, seen only as atomic words (with `sigbus.rs`,
//!   the modules with `unsafe`).
//! - `sigbus.rs`: surviving a file shrunk under its mappings (a `SIGBUS`
//!   handler that maps zeros over the mapping and marks it truncated).
//! - `open.rs`: what readers and writers share: the checked open and
//!   mapping of a region file, its schema read from the file, and one
//!   `'static` copy of each schema.
//! - [`ShmRegion`] (`reader.rs`): read handles that wait while the writer
//!   commits and give up on a dead or stopped one. [`ShmVar`]: a variable located once, whose reads are
//!   the seqlock alone.
//! - `liveness.rs`: whether the writer lock's holder is alive, dead or
//!   stopped, from `/proc/locks` and `/proc/<pid>/stat`.
//! - [`ShmWriter`] (`writer.rs`): the writer's `flock`, its pid in the
//!   header and the recovery of a dead writer's half-done write; a
//!   `#[derive(Schema)]` record's writer ([`ShmWriter::open_or_create_record`])
//!   stores it whole, committing only the fields that changed.
//! - [`TurnWriter`] (`turn.rs`): a writer that takes the lock for each
//!   write, in turns with local writers, and asks a local writer that
//!   holds it to make the write instead.
//! - `requests.rs`: that asking, through the region's request area: the
//!   poster's wait and withdrawal, the holder's [`RemoteWrite`]s.
//! - `identity.rs`: whether an open file is still the one opened (its
//!   name's inode, the bytes fixed at creation), which [`TurnWriter::check`]
//!   asks.
//! - `notify.rs`: sleeping on the header's commit word (a futex on Linux),
//!   woken by every commit.
//! - [`Watcher`], [`ChangeStream`] (`watch.rs`): change events naming the
//!   variables (and, when asked, byte ranges) that changed.
//!
//! `docs/shared-memory.md` is the user's guide.
//!
//! ```no_run
//! use memwire::schema::{Kind, SchemaBuf, SchemaBuilder};
//! use memwire_std::shm::{Root, ShmRegion, ShmWriter};
//!
//! static SCHEMA: SchemaBuf<2> = SchemaBuilder::new()
//!     .var("speed", Kind::F32, 1)
//!     .var("count", Kind::U64, 1)
//!     .build();
//!
//! let root = Root::from_env();
//! let writer = ShmWriter::open_or_create(&root, "robot/telemetry", SCHEMA.as_schema())?;
//! writer.set_by_name("speed", 1.5f32)?;
//!
//! // In another process:
//! let reader = ShmRegion::open(&root, "robot/telemetry")?;
//! let mut watcher = reader.watch()?;
//! if let Some(event) = watcher.wait(Some(std::time::Duration::from_secs(1)))? {
//!     for name in event.names() {
//!         println!("{name} changed");
//!     }
//! }
//! # Ok::<(), memwire_std::shm::ShmError>(())
//! ```

mod error;
mod file;
mod identity;
mod liveness;
#[allow(unsafe_code)]
mod map;
pub(crate) mod notify;
mod open;
mod reader;
mod requests;
mod root;
#[allow(unsafe_code)]
mod sigbus;
mod turn;
mod watch;
mod writer;

pub use error::ShmError;
pub use file::NAME_LEN_MAX;
pub(crate) use open::intern;
pub use reader::{Dynamic, STALL_BOUND, ShmRegion, ShmVar};
pub use requests::RemoteWrite;
pub use root::Root;
pub use turn::TurnWriter;
pub use watch::{ChangeEvent, ChangeStream, STREAM_CHECK, Watcher};
pub use writer::{Recovered, ShmWriter};
