//! The parts of an update held until its last one arrives, so that a copy
//! takes the whole update as one commit: the words the subscriber, the
//! client's [`Observer`](super::Observer) and the [`Hub`](super::Hub) share.
//!
//! The core allocates nothing, and an update may be as large as the data
//! area, so the bytes are held where memory is: a std client keeps them in
//! a `Vec` per subscription ([`HeldParts`], lent through
//! [`Observer::held_parts`](super::Observer::held_parts)), a std hub per
//! region a client publishes ([`Hub::apply_part`](super::Hub::apply_part)).
//! A copy without such room takes each part as its own commit.

use crate::Region;
use crate::codec::{Ranges, Resume};
use crate::region::AccessError;

/// Where a part of an update stands in its update, as the end that copies
/// it sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    /// The publisher's region instance and the generation the copy holds
    /// before the update.
    pub held: Resume,
    /// The generation the copy holds once this part is applied: the
    /// update's with its last part, `held.generation` before.
    pub generation: u64,
    /// The part starts its update: whatever was held from an update that
    /// broke off is forgotten.
    pub first: bool,
    /// The part ends its update.
    pub last: bool,
}

/// Room a client lends for the parts of one subscription's update that
/// arrive before its last, so that the mirror takes the whole update in one
/// commit and a reader never sees its first parts without the others.
///
/// The ranges given ascend and do not overlap, across parts too, and lie in
/// the mirror's data area: what an update holds is at most the data area.
pub trait HeldParts {
    /// Forgets every range held: an update starts.
    fn clear(&mut self);
    /// Keeps the ranges of a part that is not its update's last.
    fn hold(&mut self, ranges: Ranges<'_>);
    /// Writes the ranges held, then `last` (the last part's ranges, which
    /// come after them), into `mirror` as one commit at `generation`, and
    /// forgets them.
    fn commit(
        &mut self,
        mirror: &Region<'_>,
        last: Ranges<'_>,
        generation: u64,
    ) -> Result<u64, AccessError>;
}
