//! Where the time of one update goes, step by step.
//!
//! `MEMWIRE_BENCH_STEPS=1 cargo bench -p memwire-benches --bench hub`
//!
//! The hub and the client mark the steps of an update with `tracing`
//! events of target `memwire::latency` at trace level (free when nothing
//! listens). Here a layer stamps each with the time it arrives; a local
//! writer commits (or the hub writes), and once the subscriber's task sees
//! the value the stamps of that update give the time from each step to the
//! next. Reported as medians over many updates, back to back and a
//! millisecond apart.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

use super::Fixture;

/// The marked steps of a local commit's way to a remote mirror, in order.
const STEPS: [&str; 6] = [
    "scanner woke",
    "scanned",
    "frames queued",
    "frames written",
    "client read",
    "mirror updated",
];

/// Updates measured for each waiter.
const UPDATES: u64 = 5_000;

type Stamps = Arc<Mutex<Vec<(usize, Instant)>>>;

/// Stamps the marked steps as they happen.
struct Stamp(Stamps);

impl<S: tracing::Subscriber> Layer<S> for Stamp {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != "memwire::latency" {
            return;
        }
        let at = Instant::now();
        let mut step = StepField(None);
        event.record(&mut step);
        if let Some(index) = step.0 {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((index, at));
        }
    }
}

/// The index in [`STEPS`] of an event's `step` field.
struct StepField(Option<usize>);

impl Visit for StepField {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "step" {
            self.0 = STEPS.iter().position(|s| *s == value);
        }
    }

    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

/// The time from the write to each of the steps `indices` (into
/// [`STEPS`]), then to the mirror showing the value, from each step's first
/// stamp of the update; `Err` with the index of a step that is missing.
///
/// Two threads stamp, so a mark may land after the next step's: the client
/// may read the frame, and the subscriber see the value, before the hub's
/// thread is back from the socket write to mark it written. A step is taken
/// to end no later than the next one does.
fn split(
    start: Instant,
    end: Instant,
    indices: &[usize],
    stamps: &[(usize, Instant)],
) -> Result<Vec<Duration>, usize> {
    let mut marks = Vec::with_capacity(indices.len() + 2);
    marks.push(start);
    for &index in indices {
        let (_, at) = stamps
            .iter()
            .find(|(i, t)| *i == index && *t >= start)
            .ok_or(index)?;
        marks.push(*at);
    }
    marks.push(end);
    for k in (1..marks.len() - 1).rev() {
        marks[k] = marks[k].min(marks[k + 1]);
    }
    Ok(marks
        .windows(2)
        .map(|w| w[1].saturating_duration_since(w[0]))
        .collect())
}

/// The update's split (see [`split`]), once every mark is in: a thread
/// still on its way back from a system call may stamp its step after the
/// subscriber saw the value, so a missing mark is waited for, briefly.
fn marked(
    stamps: &Stamps,
    start: Instant,
    end: Instant,
    indices: &[usize],
) -> Result<Vec<Duration>, usize> {
    let mut tries = 0;
    loop {
        let taken = stamps.lock().unwrap_or_else(PoisonError::into_inner);
        match split(start, end, indices, &taken) {
            Err(_) if tries < 20 => {}
            done => return done,
        }
        drop(taken);
        tries += 1;
        std::thread::sleep(Duration::from_micros(50));
    }
}

fn median(values: &mut [Duration]) -> Duration {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// Measures and prints the step tables: a local commit and a write through
/// the hub, back to back and a millisecond apart.
pub(super) fn report(mut fixture: Fixture) {
    let stamps: Stamps = Arc::default();
    let layered = tracing_subscriber::registry().with(Stamp(Arc::clone(&stamps)));
    tracing::subscriber::set_global_default(layered).unwrap_or_else(|e| panic!("step stamps: {e}"));
    for pace in [Duration::ZERO, Duration::from_millis(1)] {
        let per = if pace.is_zero() {
            UPDATES
        } else {
            UPDATES / 10
        };
        let writer = fixture.local_writer();
        println!("local commit, {}", label(pace));
        table(&mut fixture, &stamps, &STEPS, per, pace, |value| {
            writer.set_by_name("counter", value)
        });
        // A local writer holding the region makes the hub's writes busy.
        drop(writer);
        let writer = fixture.hub_writer();
        println!("hub write, {}", label(pace));
        table(&mut fixture, &stamps, &STEPS[1..], per, pace, |value| {
            writer.set_by_name("counter", value)
        });
    }
    fixture.stop();
}

fn label(pace: Duration) -> String {
    if pace.is_zero() {
        "back to back".to_owned()
    } else {
        format!("{pace:?} apart")
    }
}

/// Times `updates` calls of `write`, `pace` apart, and prints the median
/// time from each of `steps` to the next.
fn table<E: std::fmt::Display>(
    fixture: &mut Fixture,
    stamps: &Stamps,
    steps: &[&str],
    updates: u64,
    pace: Duration,
    write: impl Fn(u64) -> Result<u64, E>,
) {
    let indices: Vec<usize> = steps
        .iter()
        .filter_map(|s| STEPS.iter().position(|t| t == s))
        .collect();
    let mut gaps: Vec<Vec<Duration>> = vec![Vec::new(); steps.len() + 1];
    let mut totals = Vec::new();
    // Updates lacking a mark, by the first step missing.
    let mut missing = [0u64; STEPS.len()];
    for _ in 0..updates {
        super::rest(pace);
        stamps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        fixture.value += 1;
        let start = Instant::now();
        write(fixture.value).unwrap_or_else(|e| panic!("{e}"));
        let end = fixture.seen(fixture.value);
        totals.push(end.duration_since(start));
        match marked(stamps, start, end, &indices) {
            Ok(split) => {
                for (column, gap) in gaps.iter_mut().zip(split) {
                    column.push(gap);
                }
            }
            Err(step) => {
                if let Some(count) = missing.get_mut(step) {
                    *count += 1;
                }
            }
        }
    }
    let missed: u64 = missing.iter().sum();
    // Run as a check in CI: a step whose mark went missing shows here.
    assert!(
        missed * 2 <= updates,
        "{missed} of {updates} updates lacked a marked step"
    );
    let lacking: Vec<String> = STEPS
        .iter()
        .zip(missing)
        .filter(|(_, n)| *n > 0)
        .map(|(step, n)| format!("{step} {n}"))
        .collect();
    println!(
        "  {updates} updates, {missed} without every step{}",
        if lacking.is_empty() {
            String::new()
        } else {
            format!(" (lacking: {})", lacking.join(", "))
        }
    );
    let names = steps.iter().chain(["seen by the subscriber's task"].iter());
    let mut from = "write";
    for (name, mut column) in names.zip(gaps) {
        let gap = median(&mut column);
        println!("  {from:>16} -> {name:<30} {:>7.1} µs", micros(gap));
        from = name;
    }
    println!(
        "  {:>16}    {:<30} {:>7.1} µs",
        "",
        "total",
        micros(median(&mut totals))
    );
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
