//! memwire on std.
//!
//! # Modules
//!
//! - [`shm`]: shared-memory regions that processes on one host map: files
//!   under a root directory with checked permissions, the writer's OS lock
//!   and crash recovery, bounded reads, and change events woken by a futex
//!   (blocking or as an async stream).
//!
//! - [`hub`]: the hub: regions as shared-memory files served over TCP, TLS,
//!   a Unix socket and WebSocket, with rights per client, limits and changes found by
//!   scanning (see `docs/hub.md`).
//! - [`client`]: connect to a hub, mirror its regions (read locally, write
//!   through the hub, async change events), reconnect and resync.
//! - [`schema`]: schemas held on the heap, for schemas known at run time.
//! - `websocket.rs`: WebSocket messages as the length-prefixed stream the
//!   sessions run over, for the hub's listener and the client's `ws://`.
//!
//! The core is re-exported as [`core`] so that host applications can depend
//! on one crate. The `memwire` command-line tool is a package of its own,
//! `memwire-cli` (`cli/`).

pub use memwire as core;

#[cfg(not(loom))]
pub mod client;
#[cfg(not(loom))]
mod held;
#[cfg(not(loom))]
pub mod hub;
pub mod schema;
#[cfg(not(loom))]
pub mod shm;
#[cfg(not(loom))]
mod websocket;

/// The examples of the guides, compiled and run as doctests.
#[cfg(doctest)]
mod guides {
    #[doc = include_str!("../../docs/hub.md")]
    struct Hub;
    #[doc = include_str!("../../docs/shared-memory.md")]
    struct SharedMemory;
}
