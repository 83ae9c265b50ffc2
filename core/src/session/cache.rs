//! Update parts encoded once and sent to every subscription of a region
//! that is due the same part.
//!
//! Subscribers of one region mostly hold the same generation, so their next
//! updates are the same bytes but for the part's header (the tag, the
//! subscription's handle, the base when it is not the subscription's
//! reference). A hub with many subscribers keeps an [`UpdateCache`] per
//! region: the first subscription to need a part encodes it and stores the
//! part's ranges, the body after its header; the others copy them behind a
//! header of their own. A part is
//! known by everything that decides its bytes ([`PartKey`]), so a cached
//! part is exactly what the subscription would have encoded.

/// How an update picks its ranges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum PartPlan {
    /// The whole data area (a full update).
    Whole,
    /// The exact ranges of the hub's last scan.
    Recent,
    /// The chunks stamped after the base.
    Chunks,
}

/// Everything that decides the bytes of one update part of a region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PartKey {
    /// The generation the source was at when the part was cut: a region's
    /// bytes, chunk table and last-scan ranges are fixed for a generation.
    pub generation: u64,
    /// The update's base (0 for a full update).
    pub base: u64,
    /// The generation the update is labelled with (its first part's).
    pub label: u64,
    /// The data offset the part starts from.
    pub position: usize,
    /// The largest body the part may have.
    pub limit: usize,
    /// The encoded length of the subscription's handle (it takes room from
    /// the part).
    pub handle_len: u8,
    /// How the update picks its ranges.
    pub plan: PartPlan,
}

/// An encoded update part, without its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CachedPart<'a> {
    /// The frame body after the header: the part's ranges.
    pub tail: &'a [u8],
    /// The data offset the next part starts from.
    pub next: usize,
    /// Whether this is the update's last part.
    pub last: bool,
}

/// Encoded update parts of one region, shared by its subscriptions.
///
/// Subscribers of one region mostly hold the same generation, so their next
/// updates are the same bytes but for the part's header: the first
/// subscription to need a part encodes it and offers its ranges
/// ([`put`](Self::put)); the others copy them behind a header of their own
/// ([`get`](Self::get)). A part is known by everything that decides
/// its bytes ([`PartKey`]). Both methods take `&self`: a hub shares one
/// cache between connections and synchronizes inside. A cache may forget or
/// refuse any part; it must never return a part under another key.
pub trait UpdateCache {
    /// Shows the part stored under `key` to `visit`; false if there is none.
    fn get(&self, key: &PartKey, visit: &mut dyn FnMut(CachedPart<'_>)) -> bool;
    /// Offers a part just encoded under `key`.
    fn put(&self, key: &PartKey, part: CachedPart<'_>);
}
