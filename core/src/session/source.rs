//! The words both ends of a connection use about a region one end sends
//! and the other mirrors: the sending end's name for it, what the peer may
//! do with it, and its state as it is sent.
//!
//! A hub sends its regions to its clients and a client sends the regions
//! it publishes to its hub, through the same [`PeerSubscriptions`]; both
//! describe them with these types, so neither end's files import the
//! other's.
//!
//! [`PeerSubscriptions`]: super::peer_subscriptions::PeerSubscriptions

use crate::diff::{ByteRange, ChunkTable};
use crate::schema::Schema;

/// A hub's name for one of its regions (or a client's, for the regions it
/// publishes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RegionId(pub u32);

/// What a client may do with a region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Access {
    /// Nothing: the region is not shown to the client.
    None,
    /// Mirror it.
    Read,
    /// Mirror it and write its writable variables.
    ReadWrite,
}

/// A region as the hub serves it: its consistent shadow at `generation` and
/// what changed when.
#[derive(Clone, Copy, Debug)]
pub struct Source<'s> {
    /// The region instance (new whenever the region is created anew).
    pub instance: u64,
    /// The generation `data` is at.
    pub generation: u64,
    /// The region's schema.
    pub schema: Schema<'s>,
    /// The hub's shadow of the data area at `generation`.
    pub data: &'s [u8],
    /// For each chunk of `data`, the generation it last changed at.
    pub changes: ChunkTable<'s>,
    /// The exact ranges of the hub's last scan, from a base generation to
    /// `generation`: sent instead of whole chunks to a peer at that base.
    pub recent: Option<(u64, &'s [ByteRange])>,
}
