//! The peer's subscriptions to the regions this end sends, shared by both
//! ends: one [`Publication`] per subscription, the checks and answers to
//! the peer's writes, and the fair turn over subscriptions when
//! transmitting.
//!
//! A hub's [`Server`](super::Server) sends its regions to a client; a
//! [`Client`](super::Client) sends the regions it publishes to the hub.
//! Each reaches its regions through [`Sources`] and [`WritableSources`],
//! which adapt a [`Hub`](super::Hub) or [`OwnRegions`](super::OwnRegions).

use heapless::Deque;

use super::cache::UpdateCache;
use super::link::{Control, Link};
use super::publication::Publication;
use super::source::{Access, RegionId, Source};
use crate::codec::{
    ErrorCode, Frame, WRITE_RANGES_MAX, Write, WriteOutcome, WriteResult, WriteTarget,
};
use crate::schema::{Kind, Schema};
use crate::time::Instant;

/// Write results waiting to be sent; a write beyond them is not applied,
/// and closes the connection.
const ANSWERS: usize = 8;

/// Read access to the regions this end sends.
pub(crate) trait Sources {
    /// The region's current state, or `None` if it is gone.
    fn source(&self, region: RegionId) -> Option<Source<'_>>;
    /// The region's shared update parts, if it keeps them.
    fn cache(&self, region: RegionId) -> Option<&dyn UpdateCache> {
        let _ = region;
        None
    }
    /// Why a region has no [`source`](Self::source): the code and reason
    /// of the error that ends its subscriptions and refuses its writes.
    fn gone(&self, region: RegionId) -> (ErrorCode, &'static str) {
        let _ = region;
        (ErrorCode::UnknownRegion, "region is gone")
    }
    /// A part of an update of `region` was sent; see
    /// [`Hub::update_sent`](super::Hub::update_sent).
    fn update_sent(&self, region: RegionId, part: UpdateSent) {
        let _ = (region, part);
    }
}

/// One part of an update sent to a subscriber, for a hub's counters
/// ([`Hub::update_sent`](super::Hub::update_sent)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpdateSent {
    /// The part's frame, length prefix included.
    pub bytes: usize,
    /// The update's last part: the update was sent whole.
    pub last: bool,
    /// The update is full (the whole data area, from base 0), not a delta.
    pub full: bool,
}

/// Write access to the regions this end sends.
pub(crate) trait WritableSources: Sources {
    /// Applies checked ranges; see [`Hub::apply_write`](super::Hub::apply_write).
    fn apply_write(
        &mut self,
        region: RegionId,
        ranges: &[(usize, &[u8])],
    ) -> Result<u64, ErrorCode>;
    /// Takes checked ranges to answer later; see
    /// [`Hub::defer_write`](super::Hub::defer_write).
    fn defer_write(&mut self, region: RegionId, ranges: &[(usize, &[u8])], request: u32) -> bool {
        let _ = (region, ranges, request);
        false
    }
    /// Keeps checked ranges of a write sent in parts; see
    /// [`Hub::stage_write`](super::Hub::stage_write).
    fn stage_write(
        &mut self,
        region: RegionId,
        ranges: &[(usize, &[u8])],
    ) -> Result<(), ErrorCode> {
        let _ = (region, ranges);
        Err(ErrorCode::LimitExceeded)
    }
    /// Forgets the ranges kept; see
    /// [`Hub::drop_staged`](super::Hub::drop_staged).
    fn drop_staged(&mut self) {}
}

/// How much the peer takes: its maximum frame body and the updates it may
/// have unacknowledged per subscription.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PeerLimits {
    pub(crate) max_frame: usize,
    pub(crate) max_in_flight: usize,
}

/// The answer to a write, waiting to be sent (`None` until a deferred
/// write is answered).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Answer {
    request: u32,
    outcome: Option<WriteOutcome<'static>>,
}

/// A write the peer sends in parts, from its first part to its last: kept
/// by the serving side (a [`Server`](super::Server)) beside its
/// [`PeerSubscriptions`], so a device's client holds none.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Partial {
    request: u32,
    handle: u16,
    /// Where the ranges of its parts so far end: the next part starts at
    /// or after it.
    end: usize,
    /// Why a part was refused: nothing more is kept, and the last part is
    /// answered so.
    refused: Option<(ErrorCode, &'static str)>,
}

/// The peer's subscriptions to this end's regions: `SUBS` at most.
#[derive(Debug)]
pub(crate) struct PeerSubscriptions<const SUBS: usize> {
    pubs: [Option<Publication>; SUBS],
    /// Handles of subscriptions this end ended (their region is gone),
    /// until the peer subscribes with the handle again: the peer's acks
    /// and unsubscribes sent before it read the error are not mistakes.
    ended: Deque<u16, SUBS>,
    answers: Deque<Answer, ANSWERS>,
    /// Where the next transmit starts, for fairness.
    turn: usize,
    /// Counters of subscriptions that ended.
    updates: u64,
    resyncs: u64,
}

impl<const SUBS: usize> PeerSubscriptions<SUBS> {
    pub(crate) fn new() -> Self {
        PeerSubscriptions {
            pubs: core::array::from_fn(|_| None),
            ended: Deque::new(),
            answers: Deque::new(),
            turn: 0,
            updates: 0,
            resyncs: 0,
        }
    }

    /// Updates sent and resyncs served, over every subscription.
    pub(crate) fn counters(&self) -> (u64, u64) {
        self.pubs
            .iter()
            .flatten()
            .fold((self.updates, self.resyncs), |(u, r), p| {
                (u + p.updates, r + p.resyncs)
            })
    }

    pub(crate) fn contains(&self, handle: u16) -> bool {
        self.pubs.iter().flatten().any(|p| p.handle == handle)
    }

    /// Starts serving `source` (region `region`) to the peer's subscription
    /// `handle`; the error to send back when it cannot.
    pub(crate) fn add(
        &mut self,
        subscribe: &crate::codec::Subscribe<'_>,
        region: RegionId,
        access: Access,
        source: &Source<'_>,
    ) -> Result<(), (ErrorCode, &'static str)> {
        if self.contains(subscribe.handle) {
            return Err((ErrorCode::HandleInUse, "handle in use"));
        }
        let slot = self
            .pubs
            .iter_mut()
            .find(|p| p.is_none())
            .ok_or((ErrorCode::LimitExceeded, "too many subscriptions"))?;
        *slot = Some(Publication::new(subscribe, region, access, source));
        self.forget_ended(subscribe.handle);
        Ok(())
    }

    /// Ends subscription `handle` (the peer's unsubscribe); false if the
    /// handle names none, live or ended by this end.
    pub(crate) fn remove(&mut self, handle: u16) -> bool {
        let mut found = self.forget_ended(handle);
        for slot in self.pubs.iter_mut() {
            if slot.as_ref().is_some_and(|p| p.handle == handle) {
                if let Some(p) = slot.take() {
                    self.updates += p.updates;
                    self.resyncs += p.resyncs;
                    found = true;
                }
            }
        }
        found
    }

    /// Forgets that this end ended `handle`; false if it had not.
    fn forget_ended(&mut self, handle: u16) -> bool {
        let before = self.ended.len();
        for _ in 0..before {
            if let Some(h) = self.ended.pop_front() {
                if h != handle {
                    let _ = self.ended.push_back(h);
                }
            }
        }
        self.ended.len() != before
    }

    /// Takes the peer's ack; false if the handle names no subscription,
    /// live or ended by this end.
    pub(crate) fn on_ack<S: Sources + ?Sized>(
        &mut self,
        handle: u16,
        generation: u64,
        regions: &S,
    ) -> bool {
        match self.pubs.iter_mut().flatten().find(|p| p.handle == handle) {
            Some(p) => {
                p.on_ack(generation, regions.source(p.region).as_ref());
                true
            }
            None => self.ended.iter().any(|&h| h == handle),
        }
    }

    /// Answers deferred write `request`; false if none is waiting.
    pub(crate) fn answer(&mut self, request: u32, outcome: WriteOutcome<'static>) -> bool {
        match self
            .answers
            .iter_mut()
            .find(|a| a.request == request && a.outcome.is_none())
        {
            Some(answer) => {
                answer.outcome = Some(outcome);
                true
            }
            None => false,
        }
    }

    /// Checks and applies a write and queues its answer; false, with
    /// nothing applied, when too many answers are waiting (the caller
    /// closes the connection, after sending the answers queued).
    pub(crate) fn on_write<S: WritableSources + ?Sized>(
        &mut self,
        write: &Write<'_>,
        regions: &mut S,
    ) -> bool {
        if self.answers.is_full() {
            return false;
        }
        let outcome = self.apply(write, regions);
        // Not full: checked above, and `apply` queues nothing.
        let _ = self.answers.push_back(Answer {
            request: write.request,
            outcome,
        });
        true
    }

    /// The outcome of the write answered last, unless it waits for a
    /// deferred answer: its generation, or the refusal's code.
    pub(crate) fn last_outcome(&self) -> Option<Result<u64, ErrorCode>> {
        match self.answers.back()?.outcome? {
            WriteOutcome::Applied { generation } => Some(Ok(generation)),
            WriteOutcome::Refused { code, .. } => Some(Err(code)),
        }
    }

    fn apply<S: WritableSources + ?Sized>(
        &mut self,
        w: &Write<'_>,
        regions: &mut S,
    ) -> Option<WriteOutcome<'static>> {
        let mut ranges: [(usize, &[u8]); WRITE_RANGES_MAX] = [(0, &[]); WRITE_RANGES_MAX];
        let checked = match w.target {
            // Taken only by `on_write_part`, on the serving side; this end
            // keeps no parts, and says so as a hub that keeps none does.
            WriteTarget::Part { .. } => {
                Err((ErrorCode::LimitExceeded, "writes in parts not taken"))
            }
            target => self.check(w.handle, target, regions, &mut ranges),
        };
        let (region, n) = match checked {
            Ok(found) => found,
            Err((code, reason)) => return Some(WriteOutcome::Refused { code, reason }),
        };
        let ranges = ranges.get(..n).unwrap_or(&[]);
        if regions.defer_write(region, ranges, w.request) {
            return None;
        }
        Some(applied(regions.apply_write(region, ranges)))
    }

    /// Checks a write to subscription `handle` and puts its ranges in
    /// `ranges`: the region it goes to and the number of ranges, or why it
    /// is refused.
    fn check<'w, S: WritableSources + ?Sized>(
        &self,
        handle: u16,
        target: WriteTarget<'w>,
        regions: &S,
        ranges: &mut [(usize, &'w [u8]); WRITE_RANGES_MAX],
    ) -> Result<(RegionId, usize), (ErrorCode, &'static str)> {
        let Some(p) = self.pubs.iter().flatten().find(|p| p.handle == handle) else {
            return Err((ErrorCode::UnknownHandle, "no such subscription"));
        };
        if p.access != Access::ReadWrite {
            return Err((ErrorCode::AccessDenied, "no right to write"));
        }
        let region = p.region;
        let Some(source) = regions.source(region) else {
            return Err(regions.gone(region));
        };
        let mut n = 0;
        match target {
            WriteTarget::Ranges(spans) | WriteTarget::Part { ranges: spans, .. } => {
                for span in spans {
                    let Some(slot) = ranges.get_mut(n) else {
                        return Err((ErrorCode::LimitExceeded, "too many ranges in one write"));
                    };
                    *slot = (span.range().start, span.bytes);
                    n += 1;
                }
            }
            WriteTarget::Variable { name, value } => {
                let Some((_, var)) = source.schema.lookup(name.as_str()) else {
                    return Err((ErrorCode::UnknownVariable, "no such variable"));
                };
                if var.len() != value.len() as u64 {
                    return Err((ErrorCode::BadValue, "value has the wrong length"));
                }
                if let Some(slot) = ranges.first_mut() {
                    *slot = (var.range().start, value);
                    n = 1;
                }
            }
        }
        let ranges = ranges.get(..n).unwrap_or(&[]);
        // Nothing to write: answering Applied would need a commit that
        // changes nothing and still wakes every subscriber.
        if ranges.is_empty() {
            return Err((ErrorCode::BadValue, "a write with no ranges"));
        }
        check_write(source.schema, source.data.len(), ranges)?;
        Ok((region, n))
    }

    /// Takes one part of a write the peer sends in parts (the serving
    /// side), `open` the write in parts the peer is sending: checks the
    /// part and keeps its ranges with the hub
    /// ([`WritableSources::stage_write`]) and, at the last part, applies
    /// them all as one write and queues its one answer. A part refused
    /// refuses the write: nothing of it is applied. The error to close the
    /// connection with when a part of another write comes before the last
    /// of this one, or when too many answers are waiting.
    pub(crate) fn on_write_part<S: WritableSources + ?Sized>(
        &mut self,
        open: &mut Option<Partial>,
        w: &Write<'_>,
        last: bool,
        regions: &mut S,
    ) -> Result<(), (ErrorCode, &'static str)> {
        let mut partial = match open.take() {
            Some(p) if p.request == w.request && p.handle == w.handle => p,
            Some(_) => {
                regions.drop_staged();
                return Err((ErrorCode::UnexpectedFrame, "a write in parts is unfinished"));
            }
            None => Partial {
                request: w.request,
                handle: w.handle,
                end: 0,
                refused: None,
            },
        };
        if last && self.answers.is_full() {
            regions.drop_staged();
            return Err((ErrorCode::LimitExceeded, "too many writes unanswered"));
        }
        let mut ranges: [(usize, &[u8]); WRITE_RANGES_MAX] = [(0, &[]); WRITE_RANGES_MAX];
        let checked = match partial.refused {
            Some(refused) => Err(refused),
            None => self
                .check(w.handle, w.target, regions, &mut ranges)
                .and_then(|(region, n)| {
                    let ranges = ranges.get(..n).unwrap_or(&[]);
                    if ranges
                        .first()
                        .is_some_and(|&(start, _)| start < partial.end)
                    {
                        return Err((ErrorCode::BadValue, "a part overlaps the parts before"));
                    }
                    let staged = if last {
                        Ok(())
                    } else {
                        regions
                            .stage_write(region, ranges)
                            .map_err(|code| match code {
                                ErrorCode::LimitExceeded => {
                                    (code, "the write is larger than the hub keeps")
                                }
                                code => (code, "the write's parts were not kept"),
                            })
                    };
                    partial.end = ranges.last().map_or(partial.end, |&(o, b)| o + b.len());
                    staged.map(|()| (region, n))
                }),
        };
        if let Err(refused) = checked {
            if partial.refused.is_none() {
                regions.drop_staged();
            }
            partial.refused = Some(refused);
        }
        if !last {
            *open = Some(partial);
            return Ok(());
        }
        let outcome = match checked {
            Err((code, reason)) => Some(WriteOutcome::Refused { code, reason }),
            Ok((region, n)) => {
                let ranges = ranges.get(..n).unwrap_or(&[]);
                if regions.defer_write(region, ranges, w.request) {
                    None
                } else {
                    Some(applied(regions.apply_write(region, ranges)))
                }
            }
        };
        // Not full: checked above.
        let _ = self.answers.push_back(Answer {
            request: w.request,
            outcome,
        });
        Ok(())
    }

    /// Writes the answers ready to be sent, in order, into `buf` after
    /// `*used` bytes: while open, a deferred answer holds back those after
    /// it; while closing, it is dropped (it can no longer be sent) and the
    /// answers after it go. False when `buf` has no room for the next.
    pub(crate) fn transmit_answers(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        used: &mut usize,
        link: &mut Link,
    ) -> bool {
        let closing = !link.is_open();
        while let Some(&Answer { request, outcome }) = self.answers.front() {
            let Some(outcome) = outcome else {
                if !closing {
                    return true;
                }
                self.answers.pop_front();
                continue;
            };
            let frame = Frame::WriteResult(WriteResult { request, outcome });
            if !link.put(now, buf, used, &frame) {
                return false;
            }
            self.answers.pop_front();
        }
        true
    }

    /// Writes queued answers, then the subscriptions' schema parts and
    /// updates, each subscription in turn, into `buf` after `*used` bytes.
    /// Updates are cut no smaller than the peer takes unless `buf` holds
    /// nothing yet. A subscription whose region is gone ends with an error.
    pub(crate) fn transmit<S: Sources + ?Sized>(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        used: &mut usize,
        link: &mut Link,
        peer: PeerLimits,
        regions: &S,
    ) {
        if !self.transmit_answers(now, buf, used, link) {
            return;
        }
        let count = self.pubs.len();
        let whole = peer.max_frame.saturating_add(5);
        for k in 0..count {
            let index = (self.turn + k) % count.max(1);
            let Some(Some(p)) = self.pubs.get_mut(index) else {
                continue;
            };
            let Some(source) = regions.source(p.region) else {
                let (code, reason) = regions.gone(p.region);
                let handle = p.handle;
                self.remove(handle);
                if self.ended.is_full() {
                    self.ended.pop_front();
                }
                let _ = self.ended.push_back(handle);
                link.push(Control::Error {
                    code,
                    handle: Some(handle),
                    reason,
                });
                continue;
            };
            loop {
                let room = buf.len().saturating_sub(*used);
                if *used > 0 && room < whole {
                    self.turn = index;
                    return;
                }
                let out = buf.get_mut(*used..).unwrap_or(&mut []);
                let cache = regions.cache(p.region);
                let updates = p.updates;
                match p.next_frame(&source, cache, peer.max_frame, peer.max_in_flight, out) {
                    Ok(Some(n)) => {
                        *used += n;
                        link.sent(now, n);
                        // Read only by a hub that counts: for a client the
                        // call is empty and these reads go with it.
                        let full = match p.sending_full() {
                            Some(full) => Some((full, false)),
                            None if p.updates != updates => Some((p.last_full, true)),
                            // A schema part.
                            None => None,
                        };
                        if let Some((full, last)) = full {
                            let part = UpdateSent {
                                bytes: n,
                                last,
                                full,
                            };
                            regions.update_sent(p.region, part);
                        }
                    }
                    Ok(None) => break,
                    Err(_) if *used > 0 => {
                        self.turn = index;
                        return;
                    }
                    Err(_) => {
                        link.fail(ErrorCode::Other, None, "update could not be encoded");
                        return;
                    }
                }
            }
        }
        self.turn = (self.turn + 1) % count.max(1);
    }
}

/// The answer to a write applied, or not.
fn applied(result: Result<u64, ErrorCode>) -> WriteOutcome<'static> {
    match result {
        Ok(generation) => WriteOutcome::Applied { generation },
        Err(code) => WriteOutcome::Refused {
            code,
            reason: "the write was not applied",
        },
    }
}

/// Checks that every range lies in the data area and inside writable
/// variables, and that bytes written to `bool` variables are 0 or 1.
pub fn check_write(
    schema: Schema<'_>,
    data_len: usize,
    ranges: &[(usize, &[u8])],
) -> Result<(), (ErrorCode, &'static str)> {
    let outside = (
        ErrorCode::OutOfBounds,
        "write reaches outside writable variables",
    );
    for &(start, bytes) in ranges {
        let end = start.checked_add(bytes.len()).ok_or(outside)?;
        if end > data_len {
            return Err((ErrorCode::OutOfBounds, "write reaches past the data area"));
        }
        let mut covered = start;
        for var in schema
            .variables()
            .get(schema.overlapping(start..end))
            .unwrap_or(&[])
        {
            let range = var.range();
            if range.start > covered {
                return Err(outside);
            }
            if !var.writable {
                return Err((ErrorCode::ReadOnly, "variable is read-only"));
            }
            if var.kind == Kind::Bool {
                let from = range.start.max(start) - start;
                let to = range.end.min(end) - start;
                if bytes
                    .get(from..to)
                    .is_some_and(|b| b.iter().any(|&x| x > 1))
                {
                    return Err((ErrorCode::BadValue, "a bool is 0 or 1"));
                }
            }
            covered = range.end;
        }
        if covered < end {
            return Err(outside);
        }
    }
    Ok(())
}
