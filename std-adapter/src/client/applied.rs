//! Every update a mirror applies, copied as it is applied, for the readers
//! of [`Mirror::updates`](super::Mirror::updates): the room for an
//! update's parts that commits the whole update to the mirror
//! ([`TappedParts`]) hands its ranges to each reader's queue in the same
//! step, so a reader sees every update the hub sent, however many arrive
//! between two of its looks.
//!
//! Each reader's queue is bounded ([`QUEUE_UPDATES`] updates,
//! [`QUEUE_BYTES`] bytes): a reader that falls behind loses the updates
//! that find its queue full, and is told so with [`Applied::Lagged`],
//! followed by the mirror's whole data area as of the last update it
//! missed. Commits and the copies a reader takes of the whole data area
//! (when it starts and after a lag) happen under one lock, so that a
//! copy is exactly the state after the updates before it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use memwire::Region;
use memwire::codec::Ranges;
use memwire::region::AccessError;
use memwire::session::HeldParts;
use tokio::sync::Notify;

use crate::held::HeldUpdate;

/// The most updates a reader's queue holds.
pub const QUEUE_UPDATES: usize = 1024;

/// The most bytes of values a reader's queue holds (an update larger than
/// this is still taken into an empty queue).
pub const QUEUE_BYTES: usize = 16 << 20;

/// One update as the mirror applied it: its generation and the bytes of
/// the ranges it wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AppliedUpdate {
    /// The generation the mirror holds after it.
    pub generation: u64,
    /// When the client applied it (for the whole data area given first and
    /// after a lag: when it was copied).
    pub applied_at: SystemTime,
    /// The update wrote the whole data area: the first item of
    /// [`Mirror::updates`](super::Mirror::updates), a full update of the
    /// hub (a new region instance, a resync), or the copy after
    /// [`Applied::Lagged`].
    pub whole: bool,
    /// The first update after the client lost the hub and subscribed
    /// again: what the region did while the client had no hub is not
    /// among the updates (this one brings the mirror up to date).
    pub reconnected: bool,
    /// Where the bytes go: (offset in the data area, length), ascending,
    /// not overlapping; the lengths add up to `bytes.len()`.
    pub ranges: Vec<(usize, usize)>,
    /// The ranges' bytes, end to end.
    pub bytes: Vec<u8>,
}

impl AppliedUpdate {
    /// Each range's offset and bytes.
    pub fn spans(&self) -> impl Iterator<Item = (usize, &[u8])> + Clone + '_ {
        let mut at = 0;
        self.ranges.iter().map(move |&(offset, len)| {
            let bytes = self.bytes.get(at..at + len).unwrap_or(&[]);
            at += len;
            (offset, bytes)
        })
    }

    /// A copy of ranges, contiguous ones merged.
    fn copy(generation: u64, ranges: &[(usize, &[u8])], data_len: usize) -> AppliedUpdate {
        let mut update = AppliedUpdate {
            generation,
            applied_at: SystemTime::now(),
            whole: false,
            reconnected: false,
            ranges: Vec::with_capacity(ranges.len()),
            bytes: Vec::with_capacity(ranges.iter().map(|(_, b)| b.len()).sum()),
        };
        for &(offset, bytes) in ranges {
            match update.ranges.last_mut() {
                Some((start, len)) if *start + *len == offset => *len += bytes.len(),
                _ => update.ranges.push((offset, bytes.len())),
            }
            update.bytes.extend_from_slice(bytes);
        }
        update.whole = update.ranges == [(0, data_len)];
        update
    }
}

/// What [`Updates::next`](super::Updates::next) returns.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Applied {
    /// An update, in the order the mirror applied them.
    Update(AppliedUpdate),
    /// The reader fell behind and this many updates were dropped; the next
    /// item is the whole data area (`whole`) as of the last of them.
    Lagged(u64),
}

/// One reader's queue.
#[derive(Default)]
struct Queue {
    items: VecDeque<AppliedUpdate>,
    bytes: usize,
    /// Updates dropped since the last item queued.
    missed: u64,
}

impl Queue {
    /// Queues `update`, or counts it missed when the queue is full or
    /// already missed one (nothing is queued after a hole until the reader
    /// has been told of it).
    fn offer(&mut self, update: &AppliedUpdate) -> bool {
        let fits = self.items.is_empty()
            || (self.items.len() < QUEUE_UPDATES && self.bytes + update.bytes.len() <= QUEUE_BYTES);
        if self.missed > 0 || !fits {
            self.missed += 1;
            return false;
        }
        self.bytes += update.bytes.len();
        self.items.push_back(update.clone());
        true
    }
}

/// A reader of a mirror's updates: its queue, and the wake-up for it.
pub(crate) struct Reader {
    queue: Mutex<Queue>,
    pub(crate) ready: Notify,
}

impl Reader {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next queued update, if any.
    fn pop(&self) -> Option<AppliedUpdate> {
        let mut queue = self.queue();
        let update = queue.items.pop_front()?;
        queue.bytes -= update.bytes.len();
        Some(update)
    }

    /// Whether updates were missed after those queued.
    fn lagged(&self) -> bool {
        self.queue().missed > 0
    }

    /// How many updates were missed; the queue takes updates again.
    fn take_missed(&self) -> u64 {
        std::mem::take(&mut self.queue().missed)
    }
}

/// The readers of one mirror's updates.
#[derive(Default)]
pub(crate) struct UpdateTaps {
    readers: Mutex<Vec<Arc<Reader>>>,
}

impl UpdateTaps {
    fn readers(&self) -> MutexGuard<'_, Vec<Arc<Reader>>> {
        self.readers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new reader, its first item the whole data area of `mirror` now.
    pub(crate) fn reader(&self, mirror: &Region<'_>) -> Result<Arc<Reader>, AccessError> {
        let mut readers = self.readers();
        let mut queue = Queue::default();
        queue.offer(&whole(mirror)?);
        let reader = Arc::new(Reader {
            queue: Mutex::new(queue),
            ready: Notify::new(),
        });
        readers.push(Arc::clone(&reader));
        Ok(reader)
    }

    /// The next item for `reader`: what it queued, or after missed
    /// updates, [`Applied::Lagged`] and then (in `after`) the whole data
    /// area of `mirror` as of the last update missed.
    pub(crate) fn next(
        &self,
        reader: &Reader,
        mirror: &Region<'_>,
        after: &mut Option<AppliedUpdate>,
    ) -> Result<Option<Applied>, AccessError> {
        if let Some(update) = after.take() {
            return Ok(Some(Applied::Update(update)));
        }
        if let Some(update) = reader.pop() {
            return Ok(Some(Applied::Update(update)));
        }
        if !reader.lagged() {
            return Ok(None);
        }
        // Nothing is queued after a hole, and no update is applied while
        // the lock is held: the copy is the state after the last update
        // the reader missed, and the updates queued after it follow it.
        let _readers = self.readers();
        *after = Some(whole(mirror)?);
        Ok(Some(Applied::Lagged(reader.take_missed())))
    }
}

/// The whole data area of `mirror` now, as an update.
fn whole(mirror: &Region<'_>) -> Result<AppliedUpdate, AccessError> {
    let mut bytes = vec![0; mirror.data_len()];
    let mut tries = 0;
    let generation = loop {
        match mirror.snapshot(&mut bytes) {
            // A resync being asked for: microseconds.
            Err(AccessError::Busy) if tries < 10_000 => {
                tries += 1;
                std::thread::yield_now();
            }
            other => break other?,
        }
    };
    Ok(AppliedUpdate {
        generation,
        applied_at: SystemTime::now(),
        whole: true,
        reconnected: false,
        ranges: vec![(0, bytes.len())],
        bytes,
    })
}

/// The room a client lends a subscription for the parts of an update
/// (`HeldUpdate`), which also hands each whole update to the mirror's
/// readers as it commits it.
#[derive(Default)]
pub(crate) struct TappedParts {
    held: HeldUpdate,
    /// The mirror's readers; `None` while the subscription has no mirror.
    taps: Option<Arc<UpdateTaps>>,
    /// The next update is the first after a reconnection.
    reconnected: bool,
}

impl TappedParts {
    /// The room for a subscription of the mirror with `taps`;
    /// `reconnected` when it resumes one of an earlier connection.
    pub(crate) fn new(taps: Arc<UpdateTaps>, reconnected: bool) -> TappedParts {
        TappedParts {
            held: HeldUpdate::default(),
            taps: Some(taps),
            reconnected,
        }
    }
}

impl HeldParts for TappedParts {
    fn clear(&mut self) {
        self.held.clear();
    }

    fn hold(&mut self, ranges: Ranges<'_>) {
        self.held.hold(ranges);
    }

    fn commit(
        &mut self,
        mirror: &Region<'_>,
        last: Ranges<'_>,
        generation: u64,
    ) -> Result<u64, AccessError> {
        let Some(taps) = &self.taps else {
            return self.held.commit(mirror, last, generation);
        };
        let ranges = self.held.with(last);
        let mut readers = taps.readers();
        let written = mirror.write_ranges(&ranges, Some(generation));
        // A reader whose `Updates` was dropped holds no other reference.
        readers.retain(|r| Arc::strong_count(r) > 1);
        if written.is_ok() && !readers.is_empty() {
            let mut update = AppliedUpdate::copy(generation, &ranges, mirror.data_len());
            update.reconnected = self.reconnected;
            for reader in readers.iter() {
                if reader.queue().offer(&update) {
                    reader.ready.notify_one();
                }
            }
        }
        drop(readers);
        drop(ranges);
        self.held.clear();
        if written.is_ok() {
            self.reconnected = false;
        }
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(generation: u64, len: usize) -> AppliedUpdate {
        AppliedUpdate::copy(generation, &[(0, &vec![7; len][..])], 1 << 30)
    }

    #[test]
    fn contiguous_ranges_are_one_and_a_whole_area_is_whole() {
        let copy = AppliedUpdate::copy(3, &[(0, &[1, 2][..]), (2, &[3]), (8, &[4])], 16);
        assert_eq!(copy.ranges, [(0, 3), (8, 1)]);
        assert!(!copy.whole);
        let spans: Vec<(usize, &[u8])> = copy.spans().collect();
        assert_eq!(spans, [(0, &[1, 2, 3][..]), (8, &[4][..])]);
        assert!(AppliedUpdate::copy(3, &[(0, &[1; 8][..]), (8, &[2; 8])], 16).whole);
    }

    #[test]
    fn a_full_queue_counts_what_it_drops_until_the_reader_is_told() {
        let mut queue = Queue::default();
        for generation in 0..QUEUE_UPDATES as u64 {
            assert!(queue.offer(&update(generation, 1)));
        }
        assert!(!queue.offer(&update(5000, 1)));
        queue.items.pop_front();
        // Room again, but nothing is queued after a hole.
        assert!(!queue.offer(&update(5001, 1)));
        assert_eq!(queue.missed, 2);

        let mut bytes = Queue::default();
        assert!(
            bytes.offer(&update(1, QUEUE_BYTES + 1)),
            "an empty queue takes any update"
        );
        assert!(!bytes.offer(&update(2, 1)));
        let reader = Reader {
            queue: Mutex::new(bytes),
            ready: Notify::new(),
        };
        assert_eq!(reader.pop().map(|u| u.generation), Some(1));
        assert_eq!(reader.queue().bytes, 0);
        assert!(reader.lagged());
        assert_eq!(reader.take_missed(), 1);
        assert!(!reader.lagged());
        assert!(reader.pop().is_none());
    }
}
