//! Change events: which variables changed since a watcher last looked.
//!
//! A [`Watcher`] remembers the commit counter and every variable's sequence
//! counter as it last saw them. Waking (see [`super::notify`]) tells it that
//! something was committed; comparing the counters tells it what. When asked
//! ([`ShmRegion::watch_ranges`]) it also keeps a shadow copy of the data area
//! and names the exact byte ranges that changed, with the core's diff engine
//! narrowed to the variables whose counters moved.
//!
//! Several commits between two looks make one event naming every variable
//! any of them touched: state coalesces, nothing queues.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use memwire::diff::{ByteRange, DiffError, Differ};
use memwire::sync::{self, Ordering};
use memwire::{Schema, VarId};

use super::error::ShmError;
use super::notify::{self, Waiters};
use super::reader::{Dynamic, FILE_CHECK, ShmRegion, WriteWait, remaining, remaining_before_check};

/// What changed between two looks at a region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeEvent {
    generation: u64,
    variables: Vec<VarId>,
    ranges: Option<Vec<ByteRange>>,
    schema: Schema<'static>,
}

impl ChangeEvent {
    /// The generation the region is at.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The variables written since the last event, in id order. Empty
    /// when only the generation moved (a writer's recovery).
    pub fn variables(&self) -> &[VarId] {
        &self.variables
    }

    /// The names of [`variables`](Self::variables).
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        let schema = self.schema;
        self.variables
            .iter()
            .filter_map(move |&id| schema.get(id).map(|v| v.name.as_str()))
    }

    /// Whether variable `name` is among those written.
    pub fn contains(&self, name: &str) -> bool {
        self.names().any(|n| n == name)
    }

    /// The changed byte ranges of the data area, from a watcher made by
    /// [`ShmRegion::watch_ranges`]. A variable rewritten with its old value
    /// is named in [`variables`](Self::variables) but has no range.
    pub fn ranges(&self) -> Option<&[ByteRange]> {
        self.ranges.as_deref()
    }
}

/// The shadow copy and buffers for byte-range events.
struct Shadow {
    copy: Vec<u8>,
    current: Vec<u8>,
    differ: Differ,
}

/// Waits for commits to a region and reports what they changed.
pub struct Watcher {
    region: ShmRegion<Dynamic>,
    commit: u32,
    generation: u64,
    seqs: Vec<u32>,
    fresh: Vec<u32>,
    shadow: Option<Shadow>,
}

impl<T> ShmRegion<T> {
    /// A watcher whose first event reports changes after this call.
    pub fn watch(&self) -> Result<Watcher, ShmError> {
        Watcher::new(self.untyped(), false)
    }

    /// A watcher that also reports changed byte ranges (it keeps a copy of
    /// the data area and diffs the variables that moved).
    pub fn watch_ranges(&self) -> Result<Watcher, ShmError> {
        Watcher::new(self.untyped(), true)
    }

    /// An async stream of change events from now on (see [`ChangeStream`]).
    pub fn changes(&self) -> Result<ChangeStream, ShmError> {
        self.watch()?.into_stream()
    }
}

impl Watcher {
    fn new(region: ShmRegion<Dynamic>, ranges: bool) -> Result<Watcher, ShmError> {
        let n = region.schema().len();
        let mut w = Watcher {
            region,
            commit: 0,
            generation: 0,
            seqs: vec![0; n],
            fresh: vec![0; n],
            shadow: None,
        };
        let (commit, generation) = w.look()?;
        w.commit = commit;
        w.generation = generation;
        std::mem::swap(&mut w.seqs, &mut w.fresh);
        if ranges {
            let len = w.region.data_len();
            let shadow = Shadow {
                copy: vec![0; len],
                current: vec![0; len],
                differ: Differ::new(),
            };
            w.shadow = Some(shadow);
            // The shadow must be the data as of the counters it starts from.
            w.resync()?;
        }
        Ok(w)
    }

    /// The generation as of the last event (or the watcher's creation).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Blocks until a commit lands or `timeout` passes (`None`: forever),
    /// then reports what changed since the last event. `Ok(None)` on timeout.
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<Option<ChangeEvent>, ShmError> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let word = self.region.region().commit_counter();
        loop {
            // As `ShmRegion::wait_for_change`: no commit wakes a watcher of
            // a truncated file, and a cut that raises no fault shows only
            // in the file's length, so sleep in slices and check it.
            let check_at = Instant::now() + FILE_CHECK;
            let woke = notify::wait_commit(notify::os(), word, self.commit, Waiters::ALL, || {
                remaining_before_check(deadline, check_at)
            });
            self.region.check_file()?;
            if woke.is_some() {
                return self.event().map(Some);
            }
            if remaining(deadline).is_none() {
                return Ok(None);
            }
        }
    }

    /// Reports what changed since the last event without blocking.
    pub fn poll(&mut self) -> Result<Option<ChangeEvent>, ShmError> {
        self.wait(Some(Duration::ZERO))
    }

    /// Runs this watcher on its own thread and delivers its events as an
    /// async stream.
    pub fn into_stream(self) -> Result<ChangeStream, ShmError> {
        ChangeStream::spawn(self)
    }

    /// The commit counter, generation and every sequence counter (into
    /// `fresh`) as of one moment.
    fn look(&mut self) -> Result<(u32, u64), ShmError> {
        let region = self.region.region();
        let commit = region.commit_counter();
        let mut wait = WriteWait::new(self.region.stall_bound());
        loop {
            if let Some(start) = sync::read_begin(commit) {
                for (i, slot) in (0u32..).zip(self.fresh.iter_mut()) {
                    *slot = region.seq(VarId(i)).unwrap_or(0);
                }
                let generation = region.generation();
                sync::read_fence();
                if let (true, Ok(generation)) = (sync::read_still(commit, start), generation) {
                    wait.done(&self.region);
                    return Ok((start, generation));
                }
            }
            wait.pause(&self.region)?;
        }
    }

    /// Makes the shadow match the data as of the counters in `seqs`.
    fn resync(&mut self) -> Result<(), ShmError> {
        let mut wait = WriteWait::new(self.region.stall_bound());
        while let Some(shadow) = &mut self.shadow {
            let generation = self.region.snapshot(&mut shadow.copy)?;
            let (commit, now) = self.look()?;
            if now == generation {
                self.commit = commit;
                self.generation = generation;
                std::mem::swap(&mut self.seqs, &mut self.fresh);
                wait.done(&self.region);
                return Ok(());
            }
            wait.pause(&self.region)?;
        }
        Ok(())
    }

    fn event(&mut self) -> Result<ChangeEvent, ShmError> {
        let mut wait = WriteWait::new(self.region.stall_bound());
        let (commit, generation) = loop {
            let (commit, generation) = self.look()?;
            let Some(shadow) = &mut self.shadow else {
                break (commit, generation);
            };
            // The data must be as of the same commit as the counters.
            if self.region.snapshot(&mut shadow.current)? == generation
                && self
                    .region
                    .region()
                    .commit_counter()
                    .load(Ordering::Acquire)
                    == commit
            {
                break (commit, generation);
            }
            wait.pause(&self.region)?;
        };
        wait.done(&self.region);
        let variables: Vec<VarId> = (0u32..)
            .zip(self.seqs.iter().zip(&self.fresh))
            .filter(|(_, (old, new))| old != new)
            .map(|(i, _)| VarId(i))
            .collect();
        let schema = self.region.schema();
        let ranges = self.shadow.as_mut().map(|s| diff(s, schema, &variables));
        self.commit = commit;
        self.generation = generation;
        std::mem::swap(&mut self.seqs, &mut self.fresh);
        Ok(ChangeEvent {
            generation,
            variables,
            ranges,
            schema,
        })
    }
}

/// The changed byte ranges of `moved`, updating the shadow.
fn diff(shadow: &mut Shadow, schema: Schema<'static>, moved: &[VarId]) -> Vec<ByteRange> {
    // Every range but the last is followed by at least one unchanged byte,
    // which bounds how many there can be (more would be merged to fit).
    let scanned: usize = moved
        .iter()
        .filter_map(|&id| schema.get(id))
        .map(|v| v.range().len())
        .sum();
    let mut out = vec![ByteRange::default(); moved.len() + scanned / 2 + 1];
    match shadow.differ.update_moved(
        &shadow.current,
        &mut shadow.copy,
        schema,
        moved.iter().copied(),
        &mut out,
        None,
    ) {
        Ok(n) => {
            out.truncate(n);
            out
        }
        // The scan completed and the shadow is current; one covering range
        // is a correct, coarser answer.
        Err(DiffError::Overflow(o)) => vec![o.span],
        Err(e) => {
            tracing::warn!(error = %e, "diff of moved variables failed; reporting whole variables");
            shadow.copy.copy_from_slice(&shadow.current);
            moved
                .iter()
                .filter_map(|&id| schema.get(id))
                .map(|v| ByteRange::new(v.range().start, v.range().end))
                .collect()
        }
    }
}

/// Change events as an async stream (`futures_core::Stream`, or
/// [`next`](Self::next)).
///
/// A dedicated thread sleeps on the region's commit word (a futex on Linux;
/// no polling) and hands events over a one-slot channel: while the consumer
/// is busy, later commits coalesce into the next event instead of queueing.
/// Dropping the stream stops the thread within [`STREAM_CHECK`].
pub struct ChangeStream {
    events: tokio::sync::mpsc::Receiver<Result<ChangeEvent, ShmError>>,
}

/// How often an idle stream thread checks that its stream still exists.
pub const STREAM_CHECK: Duration = Duration::from_millis(200);

impl ChangeStream {
    fn spawn(mut watcher: Watcher) -> Result<ChangeStream, ShmError> {
        let (tx, events) = tokio::sync::mpsc::channel(1);
        let path = watcher.region.path().to_owned();
        std::thread::Builder::new()
            .name("memwire-watch".into())
            .spawn(move || {
                loop {
                    let sent = match watcher.wait(Some(STREAM_CHECK)) {
                        Ok(Some(event)) => tx.blocking_send(Ok(event)).is_ok(),
                        Ok(None) => !tx.is_closed(),
                        Err(e) => tx.blocking_send(Err(e)).is_ok(),
                    };
                    if !sent {
                        return;
                    }
                }
            })
            .map_err(|e| ShmError::io("spawn watcher thread for", path, e))?;
        Ok(ChangeStream { events })
    }

    /// The next event; `None` only if the watcher thread ended.
    pub async fn next(&mut self) -> Option<Result<ChangeEvent, ShmError>> {
        self.events.recv().await
    }
}

impl futures_core::Stream for ChangeStream {
    type Item = Result<ChangeEvent, ShmError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.events.poll_recv(cx)
    }
}
