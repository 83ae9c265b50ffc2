//! A recording of regions in an MCAP file: what `memwire record` writes
//! and `memwire replay` and `memwire export` read. `docs/recording.md`
//! describes the layout for readers written elsewhere.
//!
//! - `update.rs`: [`Update`], one message: a region's changed byte ranges
//!   with its generation, and its binary encoding.
//! - `layout.rs`: [`Layout`], a region's schema as the JSON a channel's
//!   schema record holds.
//! - `recorder.rs`: [`Recorder`], which writes a file: each update a
//!   mirror applied (or a region's states diffed into updates), with
//!   snapshots, in chunks flushed as it goes.
//! - `file.rs`: [`Recording`], a whole file read back: its channels and
//!   their updates in time order, up to the cut of a file its recorder
//!   did not finish.
//!
//! A file holds one channel per region (topic `tenant/region`), with the
//! schema record [`SCHEMA_NAME`] in [`SCHEMA_ENCODING`] and messages in
//! [`MESSAGE_ENCODING`].

mod file;
mod layout;
mod recorder;
mod update;

pub use file::{Channel, Recorded, Recording, RecordingError};
pub use layout::{Layout, LayoutJsonError};
pub use recorder::{CHUNK_SIZE, RecordError, Recorder, UpdateOutside, Written};
pub use update::{Update, UpdateError};

/// The MCAP profile of a recording (the header's `profile` field).
pub const PROFILE: &str = "memwire";

/// The name of each channel's schema record.
pub const SCHEMA_NAME: &str = "memwire.region";

/// The encoding of the schema records: a [`Layout`] as JSON.
pub const SCHEMA_ENCODING: &str = "memwire.layout+json";

/// The encoding of the messages: an [`Update`] in its binary form.
pub const MESSAGE_ENCODING: &str = "memwire.update";
