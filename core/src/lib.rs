#![doc = include_str!("../../README.md")]
//!
//! # Layers
//!
//! The crate is `#![no_std]`, allocates nothing, and does no I/O and reads no
//! clock. Its modules stack from bytes to protocol:
//!
//! 1. [`layout`]: a region's bytes: the little-endian header, the variable
//!    table, the name index and the data area; the checked byte view
//!    [`RegionView`] and [`layout::init`] to lay out a fresh region.
//! 2. [`schema`]: [`Variable`], [`Kind`], [`Schema`](struct@Schema), the `const` builder and
//!    the fingerprint.
//! 3. [`sync`] and [`region`]: the seqlock over a region's atomic words and the
//!    live [`Region`] view with typed reads and writes.
//! 4. [`diff`]: chunked, word-wise and SIMD comparison of a data area with a
//!    shadow copy, exact changed ranges, the variables they touch, and the
//!    per-chunk "generation last changed" table.
//! 5. [`codec`]: the protocol's frames, in postcard's encoding, into caller
//!    buffers, length-prefix and COBS framing, and a frame accumulator.
//! 6. [`session`]: sans-IO protocol state machines: the [`session::Client`]
//!    that keeps mirrors current and the [`session::Server`] that serves one
//!    connection of a hub: handshake and HMAC authentication, keep-alive,
//!    publishers and subscribers, writes, rate limits. [`time`] is the
//!    caller-supplied clock they take.
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]
#![cfg_attr(not(test), deny(clippy::panic))]

#[cfg(target_endian = "big")]
compile_error!("memwire stores regions little-endian and supports little-endian targets only");

#[cfg(any(feature = "std", test))]
extern crate std;

pub mod codec;
pub mod diff;
pub mod layout;
pub mod region;
pub mod schema;
pub mod session;
pub mod sync;
pub mod time;

pub use layout::RegionView;
pub use region::Region;
pub use schema::{Kind, Name, Record, Schema, SchemaBuf, SchemaBuilder, VarId, Variable};

/// `#[derive(Schema)]` on a `#[repr(C)]` struct: see [`memwire_derive`].
#[cfg(feature = "derive")]
pub use memwire_derive::Schema;
