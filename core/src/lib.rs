#![doc = include_str!("../../README.md")]
//!
//! # Layers
//!
//! The crate is `#![no_std]`, allocates nothing, and does no I/O and reads no
//! clock. Its modules stack from bytes to protocol:
//!
//! 1. [`layout`]: a region's bytes: the little-endian header, the variable
//!    table, the name index and the data area; the checked byte view
//!    [`layout::RegionView`] and [`layout::init`] to lay out a fresh region.
//! 2. [`schema`]: [`Variable`], [`Kind`], [`Schema`], the `const` builder and
//!    the fingerprint.
//! 3. [`sync`] and [`region`]: the seqlock over a region's atomic words and the
//!    live [`Region`] view with typed reads and writes.
//! 4. [`diff`]: change detection against a shadow copy (portable, SSE2,
//!    AVX2, NEON): exact coalesced byte ranges, the variables they touch, and
//!    the per-chunk generation table.
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing))]
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
pub mod sync;



pub use layout::RegionView;
pub use region::Region;
pub use schema::{Kind, Name, Record, Schema, SchemaBuf, SchemaBuilder, VarId, Variable};
