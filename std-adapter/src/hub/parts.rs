//! Update parts of one region, encoded by the first connection that needs
//! one and copied by the others (`[publish] encode_once`).
//!
//! Connections hold snapshots a few generations apart (each refreshes at its
//! own rate), so parts of the last [`GENERATIONS`] generations are kept; a
//! part of an older one is not stored. The bytes kept are capped: past
//! [`CAP`] a part is simply encoded by each connection that needs it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use memwire::session::{CachedPart, PartKey, UpdateCache};

/// Generations whose parts are kept.
const GENERATIONS: u64 = 4;
/// Bytes of parts kept per region.
const CAP: usize = 8 << 20;

#[derive(Debug)]
struct Part {
    tail: Box<[u8]>,
    next: usize,
    last: bool,
}

#[derive(Debug, Default)]
struct Store {
    newest: u64,
    parts: HashMap<PartKey, Part>,
    bytes: usize,
}

/// The shared parts of one region.
#[derive(Debug, Default)]
pub(crate) struct Parts {
    store: Mutex<Store>,
    /// Parts a connection took from the store rather than encoding them
    /// (the hub's metrics).
    pub(crate) hits: AtomicU64,
    /// Parts encoded and kept for the other connections.
    pub(crate) kept: AtomicU64,
}

impl UpdateCache for Parts {
    fn get(&self, key: &PartKey, visit: &mut dyn FnMut(CachedPart<'_>)) -> bool {
        let store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        match store.parts.get(key) {
            Some(part) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                visit(CachedPart {
                    tail: &part.tail,
                    next: part.next,
                    last: part.last,
                });
                true
            }
            None => false,
        }
    }

    fn put(&self, key: &PartKey, part: CachedPart<'_>) {
        let mut store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        if key.generation > store.newest {
            store.newest = key.generation;
            let oldest = key.generation.saturating_sub(GENERATIONS - 1);
            let mut freed = 0;
            store.parts.retain(|k, p| {
                let keep = k.generation >= oldest;
                if !keep {
                    freed += p.tail.len();
                }
                keep
            });
            store.bytes -= freed;
        }
        let stale = key.generation + GENERATIONS <= store.newest;
        if stale || store.bytes + part.tail.len() > CAP || store.parts.contains_key(key) {
            return;
        }
        store.bytes += part.tail.len();
        self.kept.fetch_add(1, Ordering::Relaxed);
        store.parts.insert(
            *key,
            Part {
                tail: part.tail.into(),
                next: part.next,
                last: part.last,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use memwire::session::PartPlan;

    fn key(generation: u64, position: usize) -> PartKey {
        PartKey {
            generation,
            base: generation - 1,
            label: generation,
            position,
            limit: 1024,
            handle_len: 1,
            plan: PartPlan::Chunks,
        }
    }

    fn fetch(parts: &Parts, key: &PartKey) -> Option<(Vec<u8>, usize, bool)> {
        let mut out = None;
        parts.get(key, &mut |p| out = Some((p.tail.to_vec(), p.next, p.last)));
        out
    }

    #[test]
    fn keeps_parts_of_the_last_generations_only() {
        let parts = Parts::default();
        let part = |tail| CachedPart {
            tail,
            next: 64,
            last: true,
        };
        parts.put(&key(10, 0), part(&[1, 2, 3]));
        assert_eq!(fetch(&parts, &key(10, 0)), Some((vec![1, 2, 3], 64, true)));
        assert_eq!(fetch(&parts, &key(10, 64)), None);
        parts.put(&key(13, 0), part(&[4]));
        assert!(fetch(&parts, &key(10, 0)).is_some(), "within 4 generations");
        parts.put(&key(14, 0), part(&[5]));
        assert!(
            fetch(&parts, &key(10, 0)).is_none(),
            "older than 4 generations"
        );
        parts.put(&key(9, 0), part(&[6]));
        assert!(
            fetch(&parts, &key(9, 0)).is_none(),
            "a stale part is not kept"
        );
        assert_eq!(parts.store.lock().unwrap().bytes, 2);
    }
}
