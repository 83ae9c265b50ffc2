//! `memwire bench`: the hub end to end, beside baselines measured in the
//! same run, in one process over loopback TCP.
//!
//! - Latency: a write of an 8-byte variable until a remote mirror shows
//!   it, p50 and p99, beside TCP ping-pongs of 32 bytes (blocking
//!   `std::net` threads, and tokio tasks on the hub's and the client's
//!   runtimes). The write is a local commit to the region file (the hub's
//!   scanner wakes on it), then a write applied by the hub itself
//!   (`HubWriter`, published from the writing thread). The client runs on
//!   a runtime of its own and the writer on a thread of its own, as they
//!   would in other processes; the cases take turns in rounds
//!   (`latency.rs`).
//! - Fan-out: one writer changing 1 KiB at a fixed rate, N subscribers:
//!   updates delivered per second (against writes × N), process CPU time,
//!   and the lag of the slowest mirror, sampled each second.
//! - Metrics (`--metrics both`): each of the above with the hub's metrics
//!   off and on (counted, and scraped every second as Prometheus would,
//!   `scrape.rs`), `--rounds` times in alternating order (off then on, on
//!   then off, ...), and the ratio of on to off per round with its median.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use memwire_std::client::{Client, ClientOptions, Mirror};
use memwire_std::hub::{Config, Hub};
use memwire_std::shm::{Root, TurnWriter};

mod latency;
mod scrape;

pub(crate) const EXAMPLES: &str = "\
Examples:
  memwire bench                               latency, then 100 and 1000 subscribers
  memwire bench --subscribers 10 --seconds 2  a quick run
  memwire bench --metrics both                 the cost of the hub's metrics: off, then on";

/// Options of `memwire bench`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Subscriber counts for the fan-out runs, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "100,1000")]
    subscribers: Vec<usize>,
    /// Seconds each fan-out run lasts.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Writes per second in the fan-out runs.
    #[arg(long, default_value_t = 100)]
    rate: u32,
    /// Round trips measured for the latency figures.
    #[arg(long, default_value_t = 2000)]
    samples: usize,
    /// How the hub encodes updates in the fan-out runs: `once` per region
    /// (the default, `[publish] encode_once`), `each` subscriber apart, or
    /// `both`, one run after the other for a same-run comparison.
    #[arg(long, value_enum, default_value_t = Encoding::Once)]
    encoding: Encoding,
    /// The hub's metrics (`listen.http`, scraped every second): `off` (the
    /// default), `on`, or `both`, off then on, with the ratio of on to off.
    #[arg(long, value_enum, default_value_t = MetricsRuns::Off)]
    metrics: MetricsRuns,
    /// With `--metrics both`: pairs of runs (off and on, the order swapped
    /// every round), each giving a ratio; the median is reported.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
}

/// With which metrics the hub runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum MetricsRuns {
    /// Not served, not counted.
    Off,
    /// Counted and scraped every second.
    On,
    /// Off, then on.
    Both,
}

/// How the hub encodes updates in a fan-out run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Encoding {
    /// Once per region.
    Once,
    /// For each subscriber.
    Each,
    /// Each, then once.
    Both,
}

fn config(
    root: &std::path::Path,
    max_rate_hz: u32,
    encode_once: bool,
    metrics: bool,
) -> Result<Config> {
    let http = if metrics {
        "http = \"127.0.0.1:0\""
    } else {
        ""
    };
    let text = format!(
        r#"
root = "{}"
[listen]
tcp = "127.0.0.1:0"
{http}
[limits]
max_connections = 4096
[publish]
max_rate_hz = {max_rate_hz}
encode_once = {encode_once}
[[tenant]]
name = "bench"
[[tenant.client]]
name = "bench"
secret = "bench-secret"
rights = [{{ regions = "*", access = "read-write" }}]
[[tenant.region]]
name = "r"
variables = [
  {{ name = "counter", kind = "u64" }},
  {{ name = "payload", kind = "u8", count = 1024 }},
]
"#,
        root.display()
    );
    Ok(Config::parse(&text, "bench.toml", root)?)
}

pub(crate) async fn run(args: Args) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("memwire-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).context("creating the bench root")?;
    let result = run_in(&args, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run_in(args: &Args, dir: &std::path::Path) -> Result<()> {
    println!("memwire bench: hub, writer and clients in one process, loopback TCP");
    let both = args.metrics == MetricsRuns::Both;
    let rounds = if both { args.rounds.max(1) } else { 1 };
    // Each round's order: off then on, then on then off, and so on, so
    // that a load that grows or shrinks over the run falls on both alike.
    let order = |round: usize| -> &'static [bool] {
        match args.metrics {
            MetricsRuns::Off => &[false],
            MetricsRuns::On => &[true],
            MetricsRuns::Both if round.is_multiple_of(2) => &[false, true],
            MetricsRuns::Both => &[true, false],
        }
    };
    let (mut p50s, mut p99s) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let mut latencies = [None, None];
        for &on in order(round) {
            latencies[usize::from(on)] = Some(latency::run(args, dir, on).await?);
        }
        if let [Some((off50, off99)), Some((on50, on99))] = latencies {
            p50s.push(latency::ratio(on50, off50));
            p99s.push(latency::ratio(on99, off99));
            println!(
                "  round {}: metrics on / off, local commit -> remote mirror: p50 {:.3}x  p99 {:.3}x",
                round + 1,
                p50s[round],
                p99s[round]
            );
        }
    }
    if both {
        println!(
            "\nmetrics on / off, local commit -> remote mirror, median of {rounds} rounds: p50 {:.3}x  p99 {:.3}x",
            median(&mut p50s),
            median(&mut p99s)
        );
    }
    let encodings: &[bool] = match args.encoding {
        Encoding::Once => &[true],
        Encoding::Each => &[false],
        Encoding::Both => &[false, true],
    };
    for &n in &args.subscribers {
        for &once in encodings {
            let (mut rates, mut cpus, mut per_cpu): (Vec<f64>, Vec<f64>, Vec<f64>) =
                (Vec::new(), Vec::new(), Vec::new());
            for round in 0..rounds {
                let mut runs = [None, None];
                for &on in order(round) {
                    runs[usize::from(on)] = Some(fanout(args, dir, n, once, on).await?);
                }
                if let [Some((off_rate, off_cpu)), Some((on_rate, on_cpu))] = runs {
                    rates.push(on_rate / off_rate.max(1e-9));
                    if let (Some(on), Some(off)) = (on_cpu, off_cpu) {
                        cpus.push(on / off.max(1e-9));
                        // What each CPU second delivered: the figure that
                        // does not move with the CPU the machine had to
                        // spare for the run.
                        let on_each = on_rate / on.max(1e-9);
                        per_cpu.push(on_each / (off_rate / off.max(1e-9)).max(1e-9));
                    }
                    let shown = |ratios: &Vec<f64>| {
                        ratios
                            .last()
                            .map_or("not available".to_owned(), |c| format!("{c:.3}x"))
                    };
                    println!(
                        "\nround {}: metrics on / off, fan-out to {n}: updates delivered {:.3}x, \
                         CPU {}, updates per CPU second {}",
                        round + 1,
                        rates[round],
                        shown(&cpus),
                        shown(&per_cpu)
                    );
                }
            }
            if both {
                println!(
                    "\nmetrics on / off, fan-out to {n}, median of {rounds} rounds: updates delivered \
                     {:.3}x, CPU {:.3}x, updates per CPU second {:.3}x",
                    median(&mut rates),
                    median(&mut cpus),
                    median(&mut per_cpu)
                );
            }
        }
    }
    Ok(())
}

/// The median of `ratios` (NaN when there are none).
fn median(ratios: &mut [f64]) -> f64 {
    ratios.sort_by(f64::total_cmp);
    ratios.get(ratios.len() / 2).copied().unwrap_or(f64::NAN)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

/// A runtime of its own for a client, as if it ran in another process.
fn client_runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("client")
        .enable_all()
        .build()?)
}

/// The process's CPU time (user + system) from `/proc/self/stat`.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // Clock ticks are 100 per second on Linux.
    Some(Duration::from_millis((utime + stime) * 10))
}

/// One fan-out run; gives the updates delivered per second and the cores
/// used.
async fn fanout(
    args: &Args,
    dir: &std::path::Path,
    n: usize,
    encode_once: bool,
    metrics: bool,
) -> Result<(f64, Option<f64>)> {
    let hub = Hub::start(config(dir, 100, encode_once, metrics)?).await?;
    let scraper = hub.http_addr().map(scrape::every_second);
    let url = format!("tcp://{}", hub.tcp_addr().context("no TCP address")?);
    let delivered = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::with_capacity(n);
    let mut mirrors: Vec<Mirror> = Vec::with_capacity(n);
    for _ in 0..n {
        let options = ClientOptions::new("bench", "bench", "bench-secret");
        let client = Client::connect(&url, options).await?;
        let mirror = client.subscribe("bench/r").await?;
        let mut changes = mirror.changes();
        let delivered = Arc::clone(&delivered);
        tokio::spawn(async move {
            while changes.next().await.is_some() {
                delivered.fetch_add(1, Ordering::Relaxed);
            }
        });
        clients.push(client);
        mirrors.push(mirror);
    }
    let writer = TurnWriter::open(&Root::new(dir), "bench/r", None)?;
    let running = Arc::new(AtomicBool::new(true));
    let written = Arc::new(AtomicU64::new(0));
    let period = Duration::from_secs(1) / args.rate.max(1);
    let thread = {
        let running = Arc::clone(&running);
        let written = Arc::clone(&written);
        std::thread::spawn(move || {
            let mut payload = [0u8; 1024];
            let mut next = Instant::now();
            let mut value = 0u64;
            while running.load(Ordering::Relaxed) {
                value += 1;
                payload.fill(value as u8);
                let ranges: [(usize, &[u8]); 2] = [(0, &value.to_le_bytes()), (8, &payload)];
                if writer.write_ranges(&ranges).is_ok() {
                    written.fetch_add(1, Ordering::Relaxed);
                }
                next += period;
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
        })
    };
    let cpu0 = cpu_time();
    let start = Instant::now();
    delivered.store(0, Ordering::Relaxed);
    let mut lags = Vec::new();
    for _ in 0..args.seconds {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let head = mirrors.first().map_or(0, |m| m.generation());
        let newest = hub_generation(dir)?;
        let slowest = mirrors.iter().map(Mirror::generation).min().unwrap_or(head);
        lags.push(newest.saturating_sub(slowest));
    }
    running.store(false, Ordering::Relaxed);
    let _ = thread.join();
    let elapsed = start.elapsed();
    let cpu = cpu_time().zip(cpu0).map(|(a, b)| a.saturating_sub(b));
    let got = delivered.load(Ordering::Relaxed);
    let writes = written.load(Ordering::Relaxed);
    let final_generation = hub_generation(dir)?;
    let drain_start = Instant::now();
    while mirrors.iter().any(|m| m.generation() < final_generation)
        && drain_start.elapsed() < Duration::from_secs(10)
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let drained = mirrors.iter().all(|m| m.generation() >= final_generation);
    let encoding = if encode_once {
        "encoded once per region"
    } else {
        "encoded per subscriber"
    };
    let metrics = if metrics { "metrics on" } else { "metrics off" };
    println!(
        "\nfan-out: {n} subscribers, {} writes/s of 1 KiB for {:.1?}, {encoding}, {metrics}",
        args.rate, elapsed
    );
    println!(
        "  updates delivered {:>10.0}/s  (writes x subscribers: {:.0}/s; subscribers are sent at most 100/s)",
        got as f64 / elapsed.as_secs_f64(),
        writes as f64 * n as f64 / elapsed.as_secs_f64()
    );
    match cpu {
        Some(cpu) => println!(
            "  CPU (hub, writer and all clients) {:.2} cores",
            cpu.as_secs_f64() / elapsed.as_secs_f64()
        ),
        None => println!("  CPU: not available"),
    }
    println!("  lag of the slowest mirror, generations, each second: {lags:?}");
    println!(
        "  all mirrors at the final generation {} after {:.1?}: {}",
        final_generation,
        drain_start.elapsed(),
        if drained { "yes" } else { "NO" }
    );
    for client in clients {
        client.close().await;
    }
    if let Some(scraper) = scraper {
        scraper.abort();
    }
    hub.shutdown().await;
    let rate = got as f64 / elapsed.as_secs_f64();
    let cores = cpu.map(|cpu| cpu.as_secs_f64() / elapsed.as_secs_f64());
    Ok((rate, cores))
}

fn hub_generation(dir: &std::path::Path) -> Result<u64> {
    let region = memwire_std::shm::ShmRegion::open(&Root::new(dir), "bench/r")?;
    Ok(region.generation()?)
}
