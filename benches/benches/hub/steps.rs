//! Where the time of one update goes, step by step.
//!
//! `MEMWIRE_BENCH_STEPS=1 cargo bench -p memwire-benches --bench hub`
//!
//! The hub and the client mark the steps of an update with `tracing`
//! events of target `memwire::latency` at trace level (free when nothing
//! listens). Here a layer stamps each with the time it arrives; a local
//! writer commits, and once the subscriber's task sees the value the stamps
//! of that update give the time from each step to the next. Reported as
//! medians over many updates.

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

/// The time from the commit to each step, then to the mirror showing the
/// value: each step's first stamp after the one before it, or `None` when
/// a step is missing.
fn split(start: Instant, end: Instant, stamps: &[(usize, Instant)]) -> Option<Vec<Duration>> {
    let mut at = start;
    let mut gaps = Vec::with_capacity(STEPS.len() + 1);
    for index in 0..STEPS.len() {
        let (_, next) = stamps
            .iter()
            .find(|(i, t)| *i == index && *t >= at && *t <= end)?;
        gaps.push(next.duration_since(at));
        at = *next;
    }
    gaps.push(end.duration_since(at));
    Some(gaps)
}

fn median(values: &mut [Duration]) -> Duration {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// Measures and prints the step table.
pub(super) fn report(mut fixture: Fixture) {
    let stamps: Stamps = Arc::default();
    let layered = tracing_subscriber::registry().with(Stamp(Arc::clone(&stamps)));
    tracing::subscriber::set_global_default(layered).unwrap_or_else(|e| panic!("step stamps: {e}"));
    let writer = fixture.local_writer();
    let mut gaps: Vec<Vec<Duration>> = vec![Vec::new(); STEPS.len() + 1];
    let mut totals = Vec::new();
    let mut missed = 0u64;
    for _ in 0..UPDATES {
        stamps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        fixture.value += 1;
        let start = Instant::now();
        writer
            .set_by_name("counter", fixture.value)
            .unwrap_or_else(|e| panic!("{e}"));
        let end = fixture.seen(fixture.value);
        totals.push(end.duration_since(start));
        let taken = stamps.lock().unwrap_or_else(PoisonError::into_inner);
        match split(start, end, &taken) {
            Some(split) => {
                for (column, gap) in gaps.iter_mut().zip(split) {
                    column.push(gap);
                }
            }
            None => missed += 1,
        }
    }
    // Run as a check in CI: a step whose mark went missing shows here.
    assert!(
        missed * 2 <= UPDATES,
        "{missed} of {UPDATES} updates lacked a marked step"
    );
    println!("{UPDATES} updates, {missed} without every step");
    let names = STEPS.iter().chain(["seen by the subscriber's task"].iter());
    let mut from = "commit";
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
    drop(writer);
    fixture.stop();
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
