//! One subscription of the peer, as the end that holds the region sends it:
//! schema parts, then updates from the region's chunk table, bounded by
//! acknowledgements. A hub keeps one per client subscription to its
//! regions; a client one per hub subscription to the regions it publishes.
//!
//! A subscription that asks for `full` updates gets every update from base
//! 0, the whole data area, for a subscriber that keeps no copy.
//!
//! A publication keeps no copy of the data and no queue: each update is cut
//! from the hub's current shadow when it is sent. At most `max_in_flight`
//! updates are unacknowledged; past that nothing new starts and the next
//! update covers everything since the last one sent (a slow peer gets fewer,
//! larger updates).
//!
//! A multi-part update keeps the generation of its first part. Its data is
//! borrowed anew for each part, so when the source moves in between, later
//! parts may carry newer bytes than the label says. Those bytes lie in chunks
//! stamped after the label, so the next update (whose base is the label)
//! sends them again with the rest: the mirror is exact again after it. Such
//! an update is "torn", and the next one is cut from the chunk table, never
//! from the exact ranges of the last scan (which compare two generations and
//! would miss a byte that went back to its old value).

use core::ops::Range;

use heapless::Deque;

use super::cache::{CachedPart, PartKey, PartPlan, UpdateCache};
use super::source::{Access, RegionId, Source};
use crate::codec::{
    EncodeError, Framing, PartHeader, SchemaHeader, SchemaParts, UpdateParts, UpdateReference,
    part_limit, part_tail, write_part,
};
use crate::diff::{ByteRange, ChangedSince, chunks_are_cheaper};

/// The most updates in flight a server allows per subscription.
pub(crate) const IN_FLIGHT_CAP: usize = 8;

/// What the publication sends next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Schema parts, from variable `next`.
    Schema { next: usize },
    /// Updates.
    Streaming,
}

/// An update whose parts are being sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Current {
    base: u64,
    label: u64,
    /// The data offset the next part starts from.
    position: usize,
    /// Whether its ranges are the exact ranges of the hub's last scan.
    recent: bool,
}

/// One subscription of the connection's peer.
#[derive(Debug)]
pub(crate) struct Publication {
    pub(crate) handle: u16,
    pub(crate) region: RegionId,
    pub(crate) access: Access,
    table: bool,
    /// Every update full: the subscriber keeps no copy to apply a delta to.
    full: bool,
    instance: u64,
    phase: Phase,
    /// The base of the next update: `None` for a full one.
    base: Option<u64>,
    /// An update is due even if the source has not moved (the first one,
    /// and after a resync).
    due: bool,
    in_flight: Deque<u64, IN_FLIGHT_CAP>,
    current: Option<Current>,
    /// The base a part leaves out, as the peer follows it.
    reference: UpdateReference,
    torn: bool,
    avoid_recent: bool,
    pub(crate) updates: u64,
    pub(crate) resyncs: u64,
    /// Whether the last update sent whole was full (base 0), for a hub's
    /// counters: one byte and one store, rather than a counter a device
    /// would carry for nothing.
    pub(crate) last_full: bool,
}

/// The ranges of an update, cut to start at `from`.
#[derive(Clone, Debug)]
struct Plan<'s> {
    ranges: Ranges<'s>,
    from: usize,
}

#[derive(Clone, Debug)]
enum Ranges<'s> {
    Whole(Option<Range<usize>>),
    Recent(core::slice::Iter<'s, ByteRange>),
    Chunks(ChangedSince<'s>),
}

impl Iterator for Plan<'_> {
    type Item = Range<usize>;

    fn next(&mut self) -> Option<Range<usize>> {
        loop {
            let range = match &mut self.ranges {
                Ranges::Whole(range) => range.take()?,
                Ranges::Recent(iter) => iter.next()?.as_range(),
                Ranges::Chunks(iter) => iter.next()?.as_range(),
            };
            if range.end > self.from {
                return Some(range.start.max(self.from)..range.end);
            }
        }
    }
}

impl Publication {
    /// A subscription to `source` as `subscribe` asks for it; `resume`
    /// is the peer's instance and generation, if it holds a copy.
    pub(crate) fn new(
        subscribe: &crate::codec::Subscribe<'_>,
        region: RegionId,
        access: Access,
        source: &Source<'_>,
    ) -> Publication {
        let (handle, table, full, resume) = (
            subscribe.handle,
            subscribe.variables,
            subscribe.full,
            subscribe.resume,
        );
        let base = resume
            .filter(|r| r.instance == source.instance && r.generation <= source.generation)
            .map(|r| r.generation);
        Publication {
            handle,
            region,
            access,
            table,
            full,
            instance: source.instance,
            phase: Phase::Schema { next: 0 },
            base,
            due: true,
            in_flight: Deque::new(),
            current: None,
            reference: UpdateReference::new(),
            torn: false,
            avoid_recent: false,
            updates: 0,
            resyncs: 0,
            last_full: false,
        }
    }

    /// The peer acknowledged `generation`. A generation this publication did
    /// not send is a resync request: the peer holds that generation.
    pub(crate) fn on_ack(&mut self, generation: u64, source: Option<&Source<'_>>) {
        if let Some(at) = self.in_flight.iter().position(|&g| g == generation) {
            for _ in 0..=at {
                self.in_flight.pop_front();
            }
            return;
        }
        self.resyncs += 1;
        self.in_flight.clear();
        self.current = None;
        self.due = true;
        self.avoid_recent = true;
        self.torn = false;
        self.base = source
            .filter(|s| s.instance == self.instance && generation <= s.generation)
            .map(|_| generation);
    }

    /// Writes this subscription's next frame into `buf`: a schema part or an
    /// update part, taken from `cache` when another subscription encoded it.
    /// `Ok(None)` when nothing is due or the in-flight limit is reached.
    // Never inlined: inlined into the session's transmit loop, which a
    // device's runner inlines in turn, it made the device firmware about
    // 300 bytes larger (`.ci/firmware.sh`); one call per frame costs
    // nothing that counts.
    #[inline(never)]
    pub(crate) fn next_frame(
        &mut self,
        source: &Source<'_>,
        cache: Option<&dyn UpdateCache>,
        peer_max: usize,
        max_in_flight: usize,
        buf: &mut [u8],
    ) -> Result<Option<usize>, EncodeError> {
        if source.instance != self.instance {
            // The region was created anew: its schema again, then everything.
            self.instance = source.instance;
            self.phase = Phase::Schema { next: 0 };
            self.base = None;
            self.due = true;
            self.in_flight.clear();
            self.current = None;
        }
        if let Phase::Schema { next } = self.phase {
            let header = SchemaHeader {
                handle: self.handle,
                instance: source.instance,
                fingerprint: source.schema.fingerprint(),
                data_len: u32::try_from(source.data.len()).map_err(|_| EncodeError::Invalid)?,
            };
            let vars = source.schema.variables();
            let mut parts =
                SchemaParts::new(header, vars, self.table, peer_max, Framing::LengthPrefix)
                    .starting_at(next);
            let n = parts.next_frame(buf).transpose()?;
            self.reference.reset();
            self.phase = if parts.is_done() {
                Phase::Streaming
            } else {
                Phase::Schema {
                    next: parts.next_variable(),
                }
            };
            return Ok(n);
        }
        let current = match self.current {
            Some(current) => current,
            None => {
                let needed = self.due || self.base != Some(source.generation);
                if !needed || self.in_flight.len() >= max_in_flight.clamp(1, IN_FLIGHT_CAP) {
                    return Ok(None);
                }
                let base = self
                    .base
                    .filter(|&b| b <= source.generation && !self.full)
                    .unwrap_or(0);
                // The last scan's ranges, unless merging them to fit made
                // them dearer than the chunks changed since `base`.
                let recent = base != 0
                    && !self.avoid_recent
                    && source.recent.is_some_and(|(from, ranges)| {
                        from == base
                            && !chunks_are_cheaper(ranges, source.changes.changed_since(base))
                    });
                let current = Current {
                    base,
                    label: source.generation,
                    position: 0,
                    recent,
                };
                // Room was checked above.
                let _ = self.in_flight.push_back(current.label);
                self.due = false;
                current
            }
        };
        if source.generation != current.label {
            self.torn = true;
        }
        let ranges = if current.base == 0 {
            Ranges::Whole(Some(0..source.data.len()))
        } else if let (true, Some((_, recent))) = (
            current.recent && source.generation == current.label,
            source.recent,
        ) {
            Ranges::Recent(recent.iter())
        } else {
            Ranges::Chunks(source.changes.changed_since(current.base))
        };
        let key = PartKey {
            generation: source.generation,
            base: current.base,
            label: current.label,
            position: current.position,
            limit: part_limit(peer_max, buf.len()),
            handle_len: match self.handle {
                0..0x80 => 1,
                0x80..0x4000 => 2,
                _ => 3,
            },
            plan: match ranges {
                Ranges::Whole(_) => PartPlan::Whole,
                Ranges::Recent(_) => PartPlan::Recent,
                Ranges::Chunks(_) => PartPlan::Chunks,
            },
        };
        if let Some(cache) = cache {
            let mut hit = None;
            cache.get(&key, &mut |part| {
                let header = PartHeader {
                    handle: self.handle,
                    base: current.base,
                    generation: current.label,
                    last: part.last,
                    reference: Some(self.reference.get()),
                };
                hit = Some(write_part(header, part.tail, buf).map(|n| (n, part.next, part.last)));
            });
            if let Some(written) = hit {
                let (n, next, last) = written?;
                self.reference.sent(current.label, last);
                self.part_sent(current, next, last);
                return Ok(Some(n));
            }
        }
        let plan = Plan {
            ranges,
            from: current.position,
        };
        let mut parts = UpdateParts::new(
            self.handle,
            current.base,
            current.label,
            source.data,
            plan,
            peer_max,
            Framing::LengthPrefix,
        )
        .after(self.reference.get());
        let n = match parts.next_frame(buf) {
            Some(result) => result?,
            None => 0,
        };
        let (next, last) = (parts.position(), parts.is_done());
        // The tail only for a cache: without one, finding it is work for
        // nothing (and code a device need not hold).
        if let Some(cache) = cache {
            if let Some(tail) = buf.get(..n).and_then(part_tail) {
                cache.put(&key, CachedPart { tail, next, last });
            }
        }
        self.reference.sent(current.label, last);
        self.part_sent(current, next, last);
        Ok(Some(n))
    }

    /// Whether the update being sent is full (base 0); `None` between
    /// updates.
    pub(crate) fn sending_full(&self) -> Option<bool> {
        self.current.map(|c| c.base == 0)
    }

    /// A part of `current` went out; the next starts at `next`.
    fn part_sent(&mut self, current: Current, next: usize, last: bool) {
        if last {
            self.current = None;
            self.base = Some(current.label);
            self.avoid_recent = self.torn;
            self.torn = false;
            self.updates += 1;
            self.last_full = current.base == 0;
        } else {
            self.current = Some(Current {
                position: next,
                ..current
            });
        }
    }
}
