//! memwire on microcontrollers: a client of the memwire hub over
//! embassy-net TCP, with no heap.
//!
//! # Layers
//!
//! The device speaks the same protocol and keeps the same region layout as
//! every other memwire peer; this crate only moves bytes and time:
//!
//! 1. [`memwire`] (re-exported as `memwire_embassy::core`): regions laid out in
//!    caller memory ([`Region`](memwire::Region)), schemas (with
//!    `#[derive(Schema)]` behind the core's `derive` feature), the codec and
//!    the sans-IO session client that authenticates, subscribes and applies
//!    the hub's deltas. It reads no clock and does no I/O.
//! 2. [`Runner`]: owns an embassy-net [`TcpSocket`](embassy_net::tcp::TcpSocket),
//!    feeds it the session's frames and the session the socket's bytes,
//!    fires the session's timers with [`embassy_time::Timer`], and
//!    reconnects with a [`Backoff`] after a lost link, a dead or restarted
//!    hub, resuming every mirror at the generation it holds so the hub
//!    sends a delta.
//! 3. [`Handle`]: the application's side, shared through embassy-sync
//!    primitives: [`Event`]s (connected, a mirror updated, disconnected),
//!    the connection state, and writes to mirrored regions' variables that
//!    wait for the hub's answer.
//!
//! [`new`] splits a [`Resources`] (socket buffers, frame buffer, event
//! queue, write slot, all const generics) into the two, in the style of
//! embassy's network drivers:
//!
//! ```text
//! let (handle, mut runner) = memwire_embassy::new(stack, config, resources, [mirror]);
//! spawner.spawn(memwire_task(runner)); // async fn memwire_task(mut r: Runner<..>) -> ! { r.run().await }
//! ```
//!
//! See the crate's `README.md` for a complete firmware walk-through.
//!
//! # Logging
//!
//! With the `defmt` feature the runner logs through defmt (and the core's
//! types implement `defmt::Format`); with `log`, through the `log` facade;
//! with neither, not at all. The two features exclude each other.
#![no_std]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]
#![cfg_attr(not(test), deny(clippy::panic))]

// The logging macros are declared first so every module sees them.
#[macro_use]
mod fmt;

mod config;
mod event;
mod resources;
mod runner;
mod shared;

pub use config::{Backoff, Config};
pub use event::{Event, WriteError};
pub use resources::Resources;
pub use runner::{Mirror, Runner, new};
pub use shared::Handle;

pub use memwire as core;
