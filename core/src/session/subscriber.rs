//! The mirror side of one subscription: applies updates to the caller's
//! mirror and decides when to ask for a resync.
//!
//! Rules (also in `spec/wire-format.md`, "Sessions"):
//!
//! - Every range of a part is checked against the mirror's data area before
//!   any byte is written; a part that reaches outside closes the connection.
//! - A part continues the update in progress when it has the same base and
//!   generation and starts at or after the end of the previous part (parts
//!   ascend; the parts of a full update are contiguous from 0).
//! - A new update starts when its base is the generation the mirror holds,
//!   or when it is a full update (base 0, first byte at offset 0) and one is
//!   expected (first subscription, new region instance, after a resync
//!   request, or always for a subscription that asked for full updates).
//! - Anything else is an anomaly (a repeated, late or skipped part, or an
//!   update from another base): nothing of it is written, the mirror's
//!   generation goes back to 0 and it asks for a full update with an Ack of
//!   generation 0. On a byte stream this only happens with a faulty peer;
//!   a part lost for good would go unseen, which a stream never does.
//! - The generation is written with the last part only; then an Ack is due.
//!   Where the copy has room for parts (`held.rs`), the parts before the
//!   last are held and the whole update is one commit with the last part;
//!   an update that breaks off leaves the copy's bytes as they were.
//! - The application may ask for a full update at any time
//!   (`Client::resync`): the same Ack of generation 0 as after an anomaly.

use crate::Region;
use crate::codec::{ErrorCode, Ranges, Resume, SchemaPart, Update, UpdateReference};
use crate::session::event::{Handle, Observer};
use crate::session::held::Part;

/// An update being applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Progress {
    base: u64,
    label: u64,
    /// The end of the last range applied.
    next: usize,
}

/// Where the subscription stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Subscribe sent (or due); waiting for the schema.
    Waiting,
    /// Schema checked: updates flow.
    Live,
}

/// A subscription that failed in a way the connection cannot survive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fatal {
    pub(crate) code: ErrorCode,
    pub(crate) reason: &'static str,
}

/// What a schema part did to the subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SchemaOutcome {
    Accepted,
    Mismatch,
}

/// Where a subscription's updates are written: a client's mirror, or a
/// hub's copy of a region its client publishes.
pub(crate) trait Sink {
    /// The schema fingerprint the copy is laid out with.
    fn fingerprint(&self) -> u64;
    /// The length of the copy's data area.
    fn data_len(&self) -> usize;
    /// Writes checked ranges in one commit; the copy then holds
    /// `generation` of the publisher's region `instance` (0: none, a full
    /// update follows).
    fn write(
        &mut self,
        ranges: &[(usize, &[u8])],
        instance: u64,
        generation: u64,
    ) -> Result<(), ()>;
    /// Writes a part of an update, its ranges checked. A copy with room
    /// for parts holds those before the last and writes the whole update
    /// in one commit with the last; one without writes each part as a
    /// commit at `part.generation`.
    fn write_part(&mut self, ranges: Ranges<'_>, part: Part) -> Result<(), ()>;
}

/// A client's mirror: written by the session, through the room for parts
/// its observer lends, if any ([`Observer::held_parts`]).
pub(crate) struct MirrorCopy<'m, 'a, O: ?Sized> {
    pub(crate) mirror: &'m Region<'a>,
    pub(crate) observer: &'m mut O,
    pub(crate) handle: Handle,
}

impl<'a, O: Observer<'a> + ?Sized> Sink for MirrorCopy<'_, 'a, O> {
    fn fingerprint(&self) -> u64 {
        self.mirror.fingerprint()
    }

    fn data_len(&self) -> usize {
        self.mirror.data_len()
    }

    fn write(&mut self, ranges: &[(usize, &[u8])], _: u64, generation: u64) -> Result<(), ()> {
        self.mirror
            .write_ranges(ranges, Some(generation))
            .map(|_| ())
            .map_err(|_| ())
    }

    /// Without room for parts, one commit per part: a reader of the mirror
    /// never sees a part half applied, but may see the first parts of an
    /// update before the others.
    fn write_part(&mut self, ranges: Ranges<'_>, part: Part) -> Result<(), ()> {
        let written = match self.observer.held_parts(self.handle) {
            Some(held) => {
                if part.first {
                    held.clear();
                }
                if !part.last {
                    held.hold(ranges);
                    return Ok(());
                }
                held.commit(self.mirror, ranges, part.generation)
            }
            None if part.last || ranges.iter().next().is_some() => self.mirror.write_spans(
                ranges.iter().map(|span| (span.range().start, span.bytes)),
                Some(part.generation),
            ),
            None => return Ok(()),
        };
        written.map(|_| ()).map_err(|_| ())
    }
}

/// A client's subscription: its mirror and where it stands.
#[derive(Debug)]
pub(crate) struct Subscriber<'r> {
    pub(crate) mirror: Region<'r>,
    pub(crate) follow: Follower,
}

impl<'r> Subscriber<'r> {
    /// A subscription for `mirror`; `resume` is kept only if it names the
    /// generation the mirror holds.
    pub(crate) fn new(mirror: Region<'r>, resume: Option<Resume>) -> Self {
        let held = mirror.generation().unwrap_or(0);
        Subscriber {
            mirror,
            follow: Follower::new(held, resume),
        }
    }

    pub(crate) fn on_schema(&mut self, part: &SchemaPart<'_>) -> SchemaOutcome {
        let mut none = ();
        let copy = MirrorCopy {
            mirror: &self.mirror,
            observer: &mut none,
            handle: Handle(part.handle),
        };
        self.follow.on_schema(part, &copy)
    }

    /// Asks for a full update ([`Follower::ask_full`]).
    pub(crate) fn ask_full(&mut self) -> Result<(), Fatal> {
        let mut none = ();
        let mut copy = MirrorCopy {
            mirror: &self.mirror,
            observer: &mut none,
            handle: Handle(0),
        };
        self.follow.ask_full(&mut copy)
    }

    pub(crate) fn on_update<O: Observer<'r> + ?Sized>(
        &mut self,
        update: &Update<'_>,
        observer: &mut O,
    ) -> Result<(), Fatal> {
        let mut copy = MirrorCopy {
            mirror: &self.mirror,
            observer,
            handle: Handle(update.handle),
        };
        self.follow.on_update(update, &mut copy)
    }
}

/// The state of one subscription, whatever its copy.
#[derive(Debug)]
pub(crate) struct Follower {
    pub(crate) phase: Phase,
    /// The resume point sent with the subscribe, if any.
    pub(crate) resume: Option<Resume>,
    /// The region instance of the publisher.
    instance: u64,
    /// The last generation the mirror holds completely.
    held: u64,
    /// Whether an update from base 0 is taken.
    full_ok: bool,
    /// The subscription asked for full updates only: each is taken.
    pub(crate) always_full: bool,
    progress: Option<Progress>,
    /// The base of the updates that leave theirs out.
    reference: UpdateReference,
    /// A full update was asked for after an anomaly and has not completed.
    resyncing: bool,
    /// An Ack to send (the latest completed generation, or a resync).
    pub(crate) ack_due: Option<u64>,
    /// An `Updated` event to report: generation, and whether any of the
    /// updates since the last report was full.
    pub(crate) updated: Option<(u64, bool)>,
    /// Resync requests made (for the session's stats).
    pub(crate) resyncs: u64,
    /// Updates completed (for the session's stats).
    pub(crate) updates: u64,
}

impl Follower {
    /// A subscription whose copy holds generation `held`; `resume` is kept
    /// only if it names that generation.
    pub(crate) fn new(held: u64, resume: Option<Resume>) -> Self {
        let resume = resume.filter(|r| r.generation == held);
        Follower {
            phase: Phase::Waiting,
            resume,
            instance: 0,
            held,
            full_ok: true,
            always_full: false,
            progress: None,
            reference: UpdateReference::new(),
            resyncing: false,
            ack_due: None,
            updated: None,
            resyncs: 0,
            updates: 0,
        }
    }

    /// The instance of the publisher's region and the generation held, once
    /// the schema is in: what to resume from on a later connection.
    pub(crate) fn resume_point(&self) -> Option<Resume> {
        (self.phase == Phase::Live).then_some(Resume {
            instance: self.instance,
            generation: self.held,
        })
    }

    pub(crate) fn on_schema<S: Sink + ?Sized>(
        &mut self,
        part: &SchemaPart<'_>,
        copy: &S,
    ) -> SchemaOutcome {
        self.reference.reset();
        let data_len = usize::try_from(part.data_len).unwrap_or(usize::MAX);
        if part.fingerprint != copy.fingerprint() || data_len != copy.data_len() {
            return SchemaOutcome::Mismatch;
        }
        match self.phase {
            Phase::Waiting => {
                self.instance = part.instance;
                self.full_ok = self.resume.is_none_or(|r| r.instance != part.instance);
                if self.full_ok {
                    // The copy holds no generation of this instance: until
                    // the full update completes it vouches for none.
                    self.held = 0;
                }
                self.phase = Phase::Live;
            }
            Phase::Live if part.instance != self.instance => {
                // The region was created anew: only a full update means
                // anything now, and the copy holds no generation of it.
                self.instance = part.instance;
                self.full_ok = true;
                self.held = 0;
                self.progress = None;
            }
            Phase::Live => {}
        }
        SchemaOutcome::Accepted
    }

    pub(crate) fn on_update<S: Sink + ?Sized>(
        &mut self,
        update: &Update<'_>,
        copy: &mut S,
    ) -> Result<(), Fatal> {
        // Every part moves the reference, taken or not, as it moved the
        // publisher's when it was sent.
        let generations = self.reference.take(update);
        if self.phase != Phase::Live {
            return Ok(());
        }
        let data_len = copy.data_len();
        if update.ranges.iter().any(|s| s.range().end > data_len) {
            return Err(Fatal {
                code: ErrorCode::OutOfBounds,
                reason: "update reaches outside the data area",
            });
        }
        let Some((base, label)) = generations else {
            // A part from a base this end cannot know: one was lost or
            // repeated on the way.
            return self.anomaly(false, copy);
        };
        let key = (base, label);
        let full = base == 0;
        let first = update.ranges.iter().next().map(|s| s.range().start);
        let full_start = full && (self.full_ok || self.always_full) && first.is_none_or(|o| o == 0);
        if let Some(p) = self.progress.take() {
            // Parts ascend; the parts of a full update are contiguous.
            let follows = first.is_none_or(|o| if full { o == p.next } else { o >= p.next });
            if (p.base, p.label) == key && follows {
                return self.apply(update, p, false, copy);
            }
            if !full_start {
                return self.anomaly(true, copy);
            }
        }
        if !(full_start || (!full && base == self.held)) {
            // The last part of a full update that could not be taken: the
            // publisher now waits for its ack; ask again.
            return self.anomaly(full && update.last, copy);
        }
        let p = Progress {
            base,
            label,
            next: 0,
        };
        self.apply(update, p, true, copy)
    }

    /// A part that breaks the order of updates: some part may have been
    /// skipped or repeated. The mirror no longer vouches for any generation:
    /// it goes back to 0 and asks for a full update. Parts sent before the
    /// publisher saw the request keep arriving until the full update starts;
    /// they are ignored, so one anomaly costs one full update. Only a full
    /// update broken in its turn (`broke_update`) asks again, at most once per
    /// full update sent.
    fn anomaly<S: Sink + ?Sized>(&mut self, broke_update: bool, copy: &mut S) -> Result<(), Fatal> {
        self.progress = None;
        if self.resyncing && !broke_update {
            return Ok(());
        }
        self.ask_full(copy)
    }

    /// Asks the publisher for a full update (an Ack of generation 0), as
    /// after an anomaly; also the application's resync on demand. Until the
    /// full update completes, the copy vouches for no generation and the
    /// updates still on their way are ignored.
    pub(crate) fn ask_full<S: Sink + ?Sized>(&mut self, copy: &mut S) -> Result<(), Fatal> {
        self.progress = None;
        self.resyncing = true;
        self.full_ok = true;
        self.held = 0;
        copy.write(&[], self.instance, 0)
            .map_err(|()| mirror_busy())?;
        self.ack_due = Some(0);
        self.resyncs += 1;
        Ok(())
    }

    /// Applies a part of the update `p` follows; `first` when it starts it.
    fn apply<S: Sink + ?Sized>(
        &mut self,
        update: &Update<'_>,
        mut p: Progress,
        first: bool,
        copy: &mut S,
    ) -> Result<(), Fatal> {
        if let Some(end) = update.ranges.iter().last().map(|span| span.range().end) {
            p.next = end;
        }
        let part = Part {
            held: Resume {
                instance: self.instance,
                generation: self.held,
            },
            generation: if update.last { p.label } else { self.held },
            first,
            last: update.last,
        };
        copy.write_part(update.ranges, part)
            .map_err(|()| mirror_busy())?;
        if !update.last {
            self.progress = Some(p);
            return Ok(());
        }
        self.progress = None;
        self.held = p.label;
        let full = p.base == 0;
        self.full_ok = false;
        self.resyncing = false;
        self.ack_due = Some(p.label);
        let resynced = full || self.updated.is_some_and(|(_, r)| r);
        self.updated = Some((p.label, resynced));
        self.updates += 1;
        Ok(())
    }
}

fn mirror_busy() -> Fatal {
    Fatal {
        code: ErrorCode::Other,
        reason: "mirror cannot be written",
    }
}
