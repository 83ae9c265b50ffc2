//! The wire codec: frames, their encoding, and framing on streams and serial
//! links.
//!
//! The protocol is specified in `spec/wire-format.md`; this module is its
//! reference implementation.
//!
//! - [`Frame`] and its field types are plain types in postcard's encoding,
//!   written and read by hand (`wire`: the derived serde code was the
//!   largest part of a device's firmware); they borrow strings and bytes
//!   from the buffer they were decoded from.
//!   [`Frame::decode`] checks every field, [`Frame::encode`] writes into a
//!   caller's buffer. Sequences of variable-sized items travel as checked
//!   views ([`Ranges`], [`VarTable`], [`RegionList`]) that iterate without
//!   allocating.
//! - [`Framing`] delimits frame bodies: a varint length prefix on byte
//!   streams, COBS on serial links. [`FrameAccumulator`] reassembles bodies
//!   from bytes split in any way, within a fixed buffer.
//! - [`UpdateParts`] and [`SchemaParts`] encode what may not fit one frame
//!   straight from the region into successive frames no larger than the
//!   peer's limit; [`WriteParts`] does the same for a write of byte
//!   ranges the caller holds (`write_parts.rs`).
//!
//! Decoding never panics, never reads out of bounds and never reserves
//! memory from a length it read; nothing here allocates.

mod accumulator;
mod code;
mod error;
mod frame;
mod framing;
mod parts;
mod view;
mod wire;
mod write_parts;

#[cfg(test)]
mod tests;

pub use accumulator::{Feed, FrameAccumulator};
pub use code::ErrorCode;
pub use error::{AccumulateError, DecodeError, EncodeError};
pub(crate) use frame::is_update_tag;
pub use frame::{
    Ack, Auth, CLIENT_NAME_MAX, Challenge, ErrorFrame, Frame, Hello, Limits, MIN_FRAME, NONCE_LEN,
    PROTOCOL_VERSION, REASON_MAX, Resume, SchemaPart, Subscribe, Unsubscribe, Update, UpdateBase,
    UpdateReference, WRITE_OVERHEAD, Welcome, Write, WriteOutcome, WriteResult, WriteTarget,
    peek_hello_version,
};
pub use framing::Framing;
pub(crate) use parts::{PartHeader, part_limit, part_tail, write_part};
pub use parts::{SchemaHeader, SchemaParts, UpdateParts};
pub use view::{
    Ranges, RangesIter, RegionInfo, RegionList, RegionListIter, Span, VarTable, VarTableIter,
};
pub use write_parts::{WRITE_RANGES_MAX, WriteParts};
