//! The cost of the hub's metrics on an update's way, measured fairly.
//!
//! `MEMWIRE_BENCH_METRICS=<rounds> cargo bench -p memwire-benches --bench hub`
//!
//! Two fixtures run side by side in the process, each a hub with its own
//! region, subscriber and runtimes: one with the metrics off, one with
//! them on (`listen.http`) and scraped every second as Prometheus would.
//! A local writer commits to each in alternating batches, the order
//! swapped every round (`memwire_benches::paired`), so a change of the
//! machine's load falls on both alike; the ratio on / off is taken per
//! pair of batches, of their mean and of their median update, and the
//! median and quartiles of each reported, then the p50 and p99 of every
//! update timed on each side, from the same interleaved batches. Back to
//! back, then a millisecond apart. A third fixture, metrics off too, is
//! measured against the first the same way: its ratios (ideally 1) show
//! how far two identical hubs side by side differ on this machine now,
//! the floor under which the metrics' ratios say nothing.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use memwire_benches::paired::paired;

use memwire_std::shm::ShmWriter;

use super::Fixture;

/// Scrapes `addr` every second on a thread of its own until `stop`.
fn scraper(addr: SocketAddr, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut answer = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            if let Ok(mut stream) = std::net::TcpStream::connect(addr) {
                let request = b"GET /metrics HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n";
                if stream.write_all(request).is_ok() {
                    answer.clear();
                    let _ = stream.read_to_end(&mut answer);
                }
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    })
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort_unstable();
    let index = ((samples.len().saturating_sub(1)) as f64 * p).round() as usize;
    samples.get(index).copied().unwrap_or_default()
}

fn ratio(on: Duration, off: Duration) -> f64 {
    on.as_secs_f64() / off.as_secs_f64().max(1e-12)
}

/// The lower quartile, median and upper quartile of the ratios of each
/// pair of batches' median updates (`on` and `off` hold the batches in
/// the order they ran).
fn batch_medians(on: &[Duration], off: &[Duration], batch: usize) -> [f64; 3] {
    let mut ratios: Vec<f64> = on
        .chunks(batch)
        .zip(off.chunks(batch))
        .map(|(a, b)| {
            ratio(
                percentile(&mut a.to_vec(), 0.5),
                percentile(&mut b.to_vec(), 0.5),
            )
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let index = ((ratios.len().saturating_sub(1)) as f64 * q).round() as usize;
        ratios.get(index).copied().unwrap_or(f64::NAN)
    };
    [at(0.25), at(0.5), at(0.75)]
}

/// Times `candidate` against `baseline` in `rounds` alternating pairs of
/// batches of `batch` updates each, `pace` apart, and prints the ratios.
fn compare(
    name: &str,
    (candidate, candidate_writer): (&mut Fixture, &ShmWriter),
    (baseline, baseline_writer): (&mut Fixture, &ShmWriter),
    rounds: usize,
    (pace, batch, label): (Duration, u64, &str),
) {
    candidate.samples = Some(Vec::new());
    baseline.samples = Some(Vec::new());
    let mean = paired(
        rounds,
        batch,
        |n| candidate.updates(candidate_writer, n, pace),
        |n| baseline.updates(baseline_writer, n, pace),
    );
    // The warm-up rounds' samples come first: left out.
    let counted = rounds * batch as usize;
    let mut c = candidate.samples.take().unwrap_or_default();
    let mut b = baseline.samples.take().unwrap_or_default();
    c.drain(..c.len().saturating_sub(counted));
    b.drain(..b.len().saturating_sub(counted));
    let [q1, median, q3] = batch_medians(&c, &b, batch as usize);
    let [c50, c99] = [0.5, 0.99].map(|p| percentile(&mut c, p));
    let [b50, b99] = [0.5, 0.99].map(|p| percentile(&mut b, p));
    println!("{label:>12}, {name}: mean per batch {mean}");
    println!(
        "{label:>12}, {name}: median per batch ratio {median:.3}x (quartiles {q1:.3}-{q3:.3}x)"
    );
    println!(
        "{label:>12}, {name}: p50 {c50:>9.1?} vs {b50:>9.1?} = {:.3}x   p99 {c99:>9.1?} vs {b99:>9.1?} = {:.3}x   ({} updates each)",
        ratio(c50, b50),
        ratio(c99, b99),
        c.len(),
    );
}

/// Measures and prints the ratios, `rounds` pairs of batches per pace.
pub(super) fn report(rounds: usize) {
    let mut off = Fixture::with_metrics(false, "-off");
    let mut control = Fixture::with_metrics(false, "-control");
    let mut on = Fixture::with_metrics(true, "-on");
    let addr = on
        .hub
        .http_addr()
        .unwrap_or_else(|| panic!("the metrics listener"));
    let stop = Arc::new(AtomicBool::new(false));
    let scraping = scraper(addr, Arc::clone(&stop));
    let off_writer = off.local_writer();
    let control_writer = control.local_writer();
    let on_writer = on.local_writer();
    println!("hub metrics, local commit -> remote mirror, {rounds} rounds of each");
    for pace in [
        (Duration::ZERO, 100, "back to back"),
        (Duration::from_millis(1), 20, "1 ms apart"),
    ] {
        compare(
            "on / off",
            (&mut on, &on_writer),
            (&mut off, &off_writer),
            rounds,
            pace,
        );
        compare(
            "off / off (control)",
            (&mut control, &control_writer),
            (&mut off, &off_writer),
            rounds,
            pace,
        );
    }
    stop.store(true, Ordering::Relaxed);
    let _ = scraping.join();
    drop((off_writer, control_writer, on_writer));
    off.stop();
    control.stop();
    on.stop();
}
