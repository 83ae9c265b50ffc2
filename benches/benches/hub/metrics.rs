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
//! pair of batches and its median and quartiles reported, then the p50 and
//! p99 of every update timed on each side, from the same interleaved
//! batches. Back to back, then a millisecond apart.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use memwire_benches::paired::paired;

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

/// Measures and prints the ratios, `rounds` pairs of batches per pace.
pub(super) fn report(rounds: usize) {
    let mut off = Fixture::with_metrics(false);
    let mut on = Fixture::with_metrics(true);
    let addr = on
        .hub
        .http_addr()
        .unwrap_or_else(|| panic!("the metrics listener"));
    let stop = Arc::new(AtomicBool::new(false));
    let scraping = scraper(addr, Arc::clone(&stop));
    let off_writer = off.local_writer();
    let on_writer = on.local_writer();
    println!("hub metrics on / off, local commit -> remote mirror, {rounds} rounds");
    for (pace, batch, label) in [
        (Duration::ZERO, 100, "back to back"),
        (Duration::from_millis(1), 20, "1 ms apart"),
    ] {
        off.samples = Some(Vec::new());
        on.samples = Some(Vec::new());
        let mean = paired(
            rounds,
            batch,
            |n| on.updates(&on_writer, n, pace),
            |n| off.updates(&off_writer, n, pace),
        );
        // The warm-up rounds' samples come first: left out.
        let counted = rounds * batch as usize;
        let mut on_samples = on.samples.take().unwrap_or_default();
        let mut off_samples = off.samples.take().unwrap_or_default();
        on_samples.drain(..on_samples.len().saturating_sub(counted));
        off_samples.drain(..off_samples.len().saturating_sub(counted));
        let [on50, on99] = [0.5, 0.99].map(|p| percentile(&mut on_samples, p));
        let [off50, off99] = [0.5, 0.99].map(|p| percentile(&mut off_samples, p));
        println!("{label:>12}: mean per batch  {mean}");
        println!(
            "{label:>12}: p50 {on50:>9.1?} vs {off50:>9.1?} = {:.3}x   p99 {on99:>9.1?} vs {off99:>9.1?} = {:.3}x   ({} updates each)",
            ratio(on50, off50),
            ratio(on99, off99),
            on_samples.len(),
        );
    }
    stop.store(true, Ordering::Relaxed);
    let _ = scraping.join();
    drop(off_writer);
    drop(on_writer);
    off.stop();
    on.stop();
}
