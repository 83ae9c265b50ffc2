//! Update parts shared between the subscriptions of a region: each part is
//! encoded once, and what every subscription receives is byte for byte what
//! it would have encoded itself.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::vec::Vec;

use super::*;
use crate::codec::Frame;

/// A part kept: its tail, where the next starts, whether it is the last.
type Stored = (Vec<u8>, usize, bool);

/// Parts kept in memory, with counters.
#[derive(Default)]
pub(in crate::session) struct TestCache {
    parts: RefCell<BTreeMap<PartKey, Stored>>,
    pub(super) hits: Cell<usize>,
    pub(super) stored: Cell<usize>,
}

impl UpdateCache for TestCache {
    fn get(&self, key: &PartKey, visit: &mut dyn FnMut(CachedPart<'_>)) -> bool {
        let parts = self.parts.borrow();
        let Some((tail, next, last)) = parts.get(key) else {
            return false;
        };
        self.hits.set(self.hits.get() + 1);
        visit(CachedPart {
            tail,
            next: *next,
            last: *last,
        });
        true
    }

    fn put(&self, key: &PartKey, part: CachedPart<'_>) {
        self.stored.set(self.stored.get() + 1);
        self.parts
            .borrow_mut()
            .insert(*key, (part.tail.to_vec(), part.next, part.last));
    }
}

/// Three subscriptions to `robot` through frames of at most `RX` bytes,
/// then a run of changes; returns the frames the client received.
fn run<const RX: usize>(cached: bool) -> (Vec<Vec<u8>>, usize) {
    let mut hub = TestHub::new();
    hub.cache = cached.then(TestCache::default);
    let mut pair = Pair::<RX>::connect(hub);
    let mirrors: Vec<_> = (0..3)
        .map(|_| {
            let m = mirror(ROBOT.as_schema());
            (pair.client.subscribe("robot", m, None).unwrap(), m)
        })
        .collect();
    pair.drive();
    // Fewer steps under miri, which is slow; every kind of step still runs.
    let steps: u8 = if cfg!(miri) { 6 } else { 20 };
    for step in 0..steps {
        let r = pair.hub.region("robot");
        let at = usize::from(step) * 97 % 2000;
        r.live[32 + at] = step.wrapping_mul(31);
        r.live[4] = step;
        if step % 5 == 0 {
            r.live[32..1032].fill(step);
        }
        r.scan();
        pair.drive();
    }
    for (_, m) in &mirrors {
        pair.assert_synced("robot", m);
    }
    let hits = pair.hub.cache.as_ref().map_or(0, |c| c.hits.get());
    (pair.server_frames, hits)
}

/// Update frames among `frames`, and those that are not an update's last.
fn update_parts(frames: &[Vec<u8>]) -> (usize, usize) {
    let updates: Vec<bool> = frames
        .iter()
        .filter_map(|f| match Frame::decode(body(f)) {
            Ok(Frame::Update(u)) => Some(u.last),
            _ => None,
        })
        .collect();
    let first_parts = updates.iter().filter(|&&last| !last).count();
    (updates.len(), first_parts)
}

#[test]
fn shared_parts_are_the_bytes_each_subscription_would_encode() {
    let (plain, none) = run::<4096>(false);
    let (shared, hits) = run::<4096>(true);
    assert_eq!(none, 0);
    // Three subscriptions in step: the first encodes each part, the other
    // two copy it.
    let (parts, _) = update_parts(&plain);
    assert!(
        hits * 3 >= parts * 2 && parts > 6,
        "{hits} of {parts} parts shared"
    );
    assert_eq!(plain, shared);
}

#[test]
fn multi_part_updates_are_shared_part_by_part() {
    let (plain, _) = run::<256>(false);
    let (shared, hits) = run::<256>(true);
    let (parts, cut) = update_parts(&plain);
    assert!(cut > 10, "updates cut into parts: {cut}");
    assert!(hits * 3 >= parts * 2, "{hits} of {parts} parts shared");
    assert_eq!(plain, shared);
}
