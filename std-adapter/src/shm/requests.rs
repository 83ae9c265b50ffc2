//! Writes asked of the writer lock's holder through the region's request
//! area (`memwire::layout::requests`): the hub posts, a [`ShmWriter`]
//! applies at its commits or in [`ShmWriter::apply_requests`].
//!
//! The state word moves empty → posted(id) → taken(id) → done(id) → empty,
//! each step a compare-and-swap or a store by the one party that may make
//! it: the poster (holding the region's request lock, `file.rs`) posts,
//! withdraws a request nobody took (posted → empty) and empties a done
//! one; the lock holder takes a posted request and answers it. A request
//! withdrawn before it was taken is never applied; one taken is applied
//! as a commit of its own (journaled like any commit) and answered, or
//! its taker died and the next lock holder clears it.
//!
//! [`ShmWriter`]: super::ShmWriter
//! [`ShmWriter::apply_requests`]: super::ShmWriter::apply_requests

use std::time::{Duration, Instant};

use memwire::layout::{
    REFUSED_MALFORMED, REFUSED_OUT_OF_BOUNDS, REQUEST_ANSWER, REQUEST_GENERATION_HI,
    REQUEST_GENERATION_LO, REQUEST_HEAD_LEN, REQUEST_LEN, REQUEST_STATE, RequestPhase,
    decode_request, encode_request,
};
use memwire::region::AccessError;
use memwire::sync::{self, AtomicU32, Ordering, WORD};
use memwire::{Region, VarId};

use super::pause;

/// A write that a remote client asked for through the hub and that this
/// writer applied as a commit of its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteWrite {
    /// The request's id (the hub's, modulo 2^30).
    pub request: u32,
    /// The generation the commit made.
    pub generation: u64,
    /// The variables it wrote, in table order.
    pub variables: Vec<VarId>,
}

/// How a posted request ended, short of being applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unanswered {
    /// The mailbox holds another request: an earlier one still being applied.
    Occupied,
    /// The payload does not fit the request area.
    TooLarge,
    /// Nobody took the request before the deadline; it was withdrawn and
    /// will never be applied.
    NotTaken,
    /// The lock holder took it but gave no answer in time (it may have
    /// died applying it: the next holder rolls back or keeps that commit).
    NotAnswered,
    /// The lock holder refused it (a range out of bounds, or malformed).
    Refused(u32),
}

fn word(area: &[AtomicU32], offset: usize) -> Option<&AtomicU32> {
    area.get(offset / WORD)
}

/// The lock holder's side: applies the posted request, if any, and answers
/// it. One relaxed load when the mailbox is empty. Returns the write when
/// one was applied.
#[inline]
pub(crate) fn take(region: &Region<'_>) -> Option<RemoteWrite> {
    let state = word(region.requests(), REQUEST_STATE)?;
    match RequestPhase::of(state.load(Ordering::Relaxed)) {
        RequestPhase::Posted(id) => apply(region, state, id),
        _ => None,
    }
}

/// The request's commit. Only a lock holder takes requests, through a
/// writable mapping: it gives way to readers as at its own commits.
fn commit(region: &Region<'_>, ranges: &[(usize, &[u8])]) -> Result<u64, AccessError> {
    pause::give_way(region.pause_word());
    region.write_ranges(ranges, None)
}

#[cold]
fn apply(region: &Region<'_>, state: &AtomicU32, id: u32) -> Option<RemoteWrite> {
    // The poster may withdraw at the same moment: whoever moves the word
    // first decides whether the request is applied.
    state
        .compare_exchange(
            RequestPhase::Posted(id).word(),
            RequestPhase::Taken(id).word(),
            Ordering::Acquire,
            Ordering::Relaxed,
        )
        .ok()?;
    let area = region.requests();
    let len = word(area, REQUEST_LEN).map_or(0, |w| w.load(Ordering::Relaxed)) as usize;
    let mut payload = vec![0u8; len];
    let outcome = match sync::load_bytes(area, REQUEST_HEAD_LEN, &mut payload) {
        None => Err(REFUSED_MALFORMED),
        Some(()) => match decode_request(&payload).collect::<Option<Vec<_>>>() {
            None => Err(REFUSED_MALFORMED),
            Some(ranges) => match commit(region, &ranges) {
                Ok(generation) => Ok((generation, touched(region, &ranges))),
                Err(AccessError::OutOfBounds) => Err(REFUSED_OUT_OF_BOUNDS),
                Err(_) => Err(REFUSED_MALFORMED),
            },
        },
    };
    let (answer, generation) = match &outcome {
        Ok((generation, _)) => (0, *generation),
        Err(code) => (*code, 0),
    };
    for (offset, value) in [
        (REQUEST_ANSWER, answer),
        (REQUEST_GENERATION_LO, generation as u32),
        (REQUEST_GENERATION_HI, (generation >> 32) as u32),
    ] {
        if let Some(w) = word(area, offset) {
            w.store(value, Ordering::Relaxed);
        }
    }
    state.store(RequestPhase::Done(id).word(), Ordering::Release);
    match outcome {
        Ok((generation, variables)) => Some(RemoteWrite {
            request: id,
            generation,
            variables,
        }),
        Err(code) => {
            tracing::warn!(request = id, code, "refused a remote write request");
            None
        }
    }
}

fn touched(region: &Region<'_>, ranges: &[(usize, &[u8])]) -> Vec<VarId> {
    let schema = region.schema();
    let mut ids: Vec<VarId> = ranges
        .iter()
        .flat_map(|&(offset, bytes)| schema.overlapping(offset..offset + bytes.len()))
        .filter_map(|i| u32::try_from(i).ok().map(VarId))
        .collect();
    ids.sort_unstable_by_key(|id| id.0);
    ids.dedup();
    ids
}

/// For a new lock holder: a request its predecessor took and never
/// answered is void (recovery rolled its commit back, or kept it whole);
/// its poster reports it unanswered.
pub(crate) fn clear_taken(region: &Region<'_>) {
    if let Some(state) = word(region.requests(), REQUEST_STATE)
        && let RequestPhase::Taken(id) = RequestPhase::of(state.load(Ordering::Acquire))
    {
        let _ = state.compare_exchange(
            RequestPhase::Taken(id).word(),
            0,
            Ordering::AcqRel,
            Ordering::Relaxed,
        );
    }
}

/// The poster's side (the caller holds the region's request lock): posts
/// `ranges` as request `id`, waits up to `timeout` for the lock holder to
/// take it and as long again for its answer. Returns the applied write's
/// generation.
pub(crate) fn post(
    region: &Region<'_>,
    id: u32,
    ranges: &[(usize, &[u8])],
    timeout: Duration,
) -> Result<u64, Unanswered> {
    let area = region.requests();
    let state = word(area, REQUEST_STATE).ok_or(Unanswered::TooLarge)?;
    // What an earlier poster left: a stale answer or post (a hub that
    // died waiting) is cleared; a request being applied is waited for.
    let deadline = Instant::now() + timeout;
    loop {
        let now = state.load(Ordering::Acquire);
        match RequestPhase::of(now) {
            RequestPhase::Empty => break,
            RequestPhase::Posted(_) | RequestPhase::Done(_) => {
                let _ = state.compare_exchange(now, 0, Ordering::AcqRel, Ordering::Relaxed);
            }
            RequestPhase::Taken(_) if Instant::now() < deadline => pause(),
            RequestPhase::Taken(_) => return Err(Unanswered::Occupied),
        }
    }
    let room = area.len() * WORD - REQUEST_HEAD_LEN;
    let mut payload = vec![0u8; room];
    let len = encode_request(ranges, &mut payload).ok_or(Unanswered::TooLarge)?;
    sync::store_bytes(area, REQUEST_HEAD_LEN, &payload[..len]).ok_or(Unanswered::TooLarge)?;
    let len_word = word(area, REQUEST_LEN).ok_or(Unanswered::TooLarge)?;
    len_word.store(len as u32, Ordering::Relaxed);
    state.store(RequestPhase::Posted(id).word(), Ordering::Release);

    let deadline = Instant::now() + timeout;
    let answered = loop {
        match RequestPhase::of(state.load(Ordering::Acquire)) {
            RequestPhase::Done(d) if d == id => break true,
            _ if Instant::now() >= deadline => break false,
            _ => pause(),
        }
    };
    if !answered {
        let withdrawn = state
            .compare_exchange(
                RequestPhase::Posted(id).word(),
                0,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok();
        if withdrawn {
            return Err(Unanswered::NotTaken);
        }
        // Taken at the last moment: its commit is under way.
        let grace = Instant::now() + timeout;
        loop {
            match RequestPhase::of(state.load(Ordering::Acquire)) {
                RequestPhase::Done(d) if d == id => break,
                RequestPhase::Taken(t) if t == id && Instant::now() < grace => pause(),
                _ => return Err(Unanswered::NotAnswered),
            }
        }
    }
    let read = |offset| word(area, offset).map_or(0, |w| w.load(Ordering::Relaxed));
    let answer = read(REQUEST_ANSWER);
    let generation =
        u64::from(read(REQUEST_GENERATION_LO)) | (u64::from(read(REQUEST_GENERATION_HI)) << 32);
    let _ = state.compare_exchange(
        RequestPhase::Done(id).word(),
        0,
        Ordering::AcqRel,
        Ordering::Relaxed,
    );
    if answer == 0 {
        Ok(generation)
    } else {
        Err(Unanswered::Refused(answer))
    }
}

fn pause() {
    std::thread::sleep(Duration::from_micros(200));
}

#[cfg(test)]
mod tests {
    use memwire::schema::{Kind, SchemaBuf, SchemaBuilder};

    use super::*;
    use crate::shm::{Root, ShmWriter};

    static SCHEMA: SchemaBuf<2> = SchemaBuilder::new()
        .var("x", Kind::U32, 1)
        .var("y", Kind::U32, 4)
        .build();

    #[test]
    fn a_request_taken_by_a_writer_that_died_is_cleared_by_the_next() {
        let dir = std::env::temp_dir().join(format!("memwire-unit-req-{}", std::process::id()));
        let root = Root::new(&dir);
        let writer = ShmWriter::create(&root, "t/r", SCHEMA.as_schema()).unwrap();
        let taken = RequestPhase::Taken(5).word();
        writer.region().requests()[0].store(taken, Ordering::Release);
        drop(writer);
        let next = ShmWriter::open(&root, "t/r").unwrap();
        let state = next.region().requests()[0].load(Ordering::Acquire);
        assert_eq!(RequestPhase::of(state), RequestPhase::Empty);

        // A round trip in one process: posted, taken at a commit, answered.
        std::thread::scope(|s| {
            let poster = s.spawn(|| {
                post(
                    &next.region(),
                    9,
                    &[(4, &[1, 2, 3, 4])],
                    Duration::from_secs(10),
                )
            });
            let applied = loop {
                if let Some(applied) = next.apply_requests() {
                    break applied;
                }
                std::thread::yield_now();
            };
            assert_eq!(applied.request, 9);
            assert_eq!(applied.variables, [VarId(1)]);
            assert_eq!(poster.join().unwrap(), Ok(applied.generation));
        });
        // Out of bounds: refused, nothing written.
        let generation = next.generation().unwrap();
        let region = next.region();
        let refused = std::thread::scope(|s| {
            let poster =
                s.spawn(|| post(&region, 10, &[(1 << 20, &[0; 4])], Duration::from_secs(10)));
            while next.apply_requests().is_none() && !poster.is_finished() {
                std::thread::yield_now();
            }
            poster.join().unwrap()
        });
        assert_eq!(refused, Err(Unanswered::Refused(REFUSED_OUT_OF_BOUNDS)));
        assert_eq!(next.generation().unwrap(), generation);
        drop(next);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
