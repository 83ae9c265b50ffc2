//! The client: connects to a hub, mirrors its regions and writes to them.
//!
//! - [`Client::connect`] takes `tcp://host:port`, `tls://host:port` or
//!   `unix:///path/to/socket`, authenticates, and keeps the connection up:
//!   on a loss it reconnects with exponential backoff and jitter,
//!   authenticates again and resubscribes every mirror, asking for a delta
//!   from the generation it holds (the hub sends everything when the region
//!   was created anew). Each part of an update is one commit of the mirror
//!   (readers see all of its ranges or none), the update's generation comes
//!   with its last part, and events say `resynced` when it was rewritten
//!   whole.
//! - [`Client::subscribe`] returns a [`Mirror`] once it holds a full copy.
//!   Its schema comes from the hub, so any region can be mirrored by name;
//!   `#[derive(Schema)]` records read it whole with [`Mirror::load`], and
//!   its change events name the variables that changed
//!   ([`MirrorEvent::names`]).
//! - Over the hub's Unix socket, with [`ClientOptions::local_root`] set to the
//!   hub's shared-memory root, a mirror reads the region file itself (the
//!   hub grants it by file permissions: only the hub's user can open it);
//!   writes still go through the hub, which checks rights.
//!
//! ```no_run
//! # async fn run() -> Result<(), memwire_std::client::ClientError> {
//! use memwire_std::client::{Client, ClientOptions};
//!
//! let options = ClientOptions::new("example", "demo", "memwire-demo-secret");
//! let client = Client::connect("tcp://127.0.0.1:7878", options).await?;
//! let sensors = client.subscribe("demo/sensors").await?;
//! let temperature: f32 = sensors.get("temperature")?;
//! sensors.set("setpoint", temperature + 1.0).await?;
//! let mut changes = sensors.changes();
//! while let Some(event) = changes.next().await {
//!     println!("generation {}: {} variables", event.generation, event.variables.len());
//! }
//! # Ok(()) }
//! ```
//!
//! The handles ([`Client`], [`Mirror`]) talk to one background task per
//! client, which owns the connection and is the only writer of the mirrors:
//!
//! - `handle.rs`: [`Client`], which connects, starts the task and asks it for
//!   mirrors; `mirror.rs`: what a [`Mirror`] reads, writes and watches.
//! - `shared.rs`: what the handles and the task pass each other (the
//!   commands, the status, the [`Mirror`] handle); `memory.rs`: a mirror's
//!   memory and its change events, written by the task, read by handles;
//!   `applied.rs`: every update a mirror applies, copied as it commits it
//!   to the bounded queues of [`Mirror::updates`] ([`Updates`]).
//! - `error.rs`: [`ClientError`]; `options.rs`: [`ClientOptions`].
//! - `connect.rs`: the hub's URL, and the stream to it over TCP, TLS or a
//!   Unix socket.
//! - `task.rs`: the task, reconnecting with backoff and jitter;
//!   `session.rs`: one connection, a core session driven in the order of
//!   its sans-IO calls, one step per file: `events.rs` (`poll_event`),
//!   `transmit.rs` (`poll_transmit`), `timer.rs` (`poll_timeout`,
//!   `handle_timeout`), `input.rs` (`handle_input`), `commands.rs` (what
//!   the handles ask).
//! - `describe.rs`: a subscription by name and the mirror made from the
//!   hub's variable table; `local.rs`: the region file mapped instead when
//!   the client is on the hub's host.

mod applied;
mod commands;
mod connect;
mod describe;
mod error;
mod events;
mod handle;
mod input;
mod local;
mod memory;
mod mirror;
mod options;
mod session;
mod shared;
mod task;
mod timer;
mod transmit;

pub use applied::{Applied, AppliedUpdate, QUEUE_BYTES, QUEUE_UPDATES};
pub use error::ClientError;
pub use handle::Client;
pub use memory::MirrorEvent;
pub use mirror::{Changes, Updates};
pub use options::ClientOptions;
pub use shared::{Mirror, WriteCounts};
