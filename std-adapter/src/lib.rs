//! memwire on std.
//!
//! # Modules
//!
//! - [`shm`]: shared-memory regions that processes on one host map: files
//!   under a root directory with checked permissions, the writer's OS lock
//!   and crash recovery, bounded reads, and change events woken by a futex
//!   (blocking or as an async stream).
//!
//! The hub, the client and the `memwire` tool will join them. The core is
//! re-exported as [`core`] so that host applications can depend on one
//! crate.

pub use memwire as core;

#[cfg(not(loom))]
pub mod shm;
