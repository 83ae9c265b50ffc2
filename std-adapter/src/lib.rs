//! memwire on std.
//!
//! This crate will hold the shared-memory regions that processes on one host
//! map, the tokio hub and client, and the `memwire` command-line tool. For
//! now it re-exports the core, so that host applications can depend on one
//! crate from the start.

pub use memwire as core;
