//! The latency part of `memwire bench`: a write of an 8-byte variable until
//! a remote mirror shows it, beside TCP ping-pongs of 32 bytes, taken in
//! rounds that visit every case in turn.
//!
//! The hub runs on the caller's runtime, the subscribing client on a
//! runtime of its own, and the writes and the raw ping-pong on a thread of
//! their own, so that every hand-off wakes a thread as it does between
//! processes. Each sample ends when a task of the client's runtime,
//! awaiting the mirror's changes as a user's code does, sees the value.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use memwire_std::client::{Client, ClientOptions};
use memwire_std::hub::Hub;
use memwire_std::shm::{Root, TurnWriter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{Args, client_runtime, config, percentile};

/// Rounds the samples are taken in. Each round takes a batch of every case
/// in turn, so that a slow spell of a shared machine falls on the writes
/// and the baselines alike.
const ROUNDS: usize = 10;

/// The samples of each case, and each round's medians (local, hub, raw,
/// tokio).
#[derive(Default)]
struct Samples {
    local: Vec<Duration>,
    hub: Vec<Duration>,
    raw: Vec<Duration>,
    tokio: Vec<Duration>,
    rounds: Vec<[Duration; 4]>,
}

impl Samples {
    /// Adds a round's batches.
    fn add(
        &mut self,
        local: Vec<Duration>,
        hub: Vec<Duration>,
        raw: Vec<Duration>,
        tokio: Vec<Duration>,
    ) {
        self.rounds
            .push([&local, &hub, &raw, &tokio].map(|batch| median(batch)));
        self.local.extend(local);
        self.hub.extend(hub);
        self.raw.extend(raw);
        self.tokio.extend(tokio);
    }
}

fn median(batch: &[Duration]) -> Duration {
    let mut sorted = batch.to_vec();
    sorted.sort();
    percentile(&sorted, 0.5)
}

/// The latency figures, with the hub's metrics on or off; gives the local
/// commit's p50 and p99.
pub(super) async fn run(
    args: &Args,
    dir: &std::path::Path,
    metrics: bool,
) -> Result<(Duration, Duration)> {
    let hub = Arc::new(Hub::start(config(dir, 0, true, metrics)?).await?);
    let scraper = hub.http_addr().map(super::scrape::every_second);
    let addr = hub.tcp_addr().context("no TCP address")?;
    let client_rt = client_runtime()?;
    let (client, mirror) = client_rt
        .spawn(async move {
            let url = format!("tcp://{addr}");
            let client =
                Client::connect(&url, ClientOptions::new("bench", "bench", "bench-secret")).await?;
            let mirror = client.subscribe("bench/r").await?;
            Ok::<_, anyhow::Error>((client, mirror))
        })
        .await??;
    let (report, seen) = mpsc::channel::<(u64, Instant)>();
    let watched = mirror.clone();
    client_rt.spawn(async move {
        let mut changes = watched.changes();
        let mut last = watched.get::<u64>("counter").unwrap_or(0);
        while changes.next().await.is_some() {
            let now = watched.get::<u64>("counter").unwrap_or(last);
            if now != last {
                last = now;
                if report.send((now, Instant::now())).is_err() {
                    break;
                }
            }
        }
    });
    let counter = mirror
        .schema()
        .lookup("counter")
        .context("no counter")?
        .1
        .range()
        .start;
    let echo = tokio_echo().await?;
    let tokio_stream = client_rt
        .spawn(async move {
            let stream = TcpStream::connect(echo).await?;
            stream.set_nodelay(true)?;
            Ok::<_, std::io::Error>(stream)
        })
        .await??;

    // A thread of its own, as the writer's process would be: it blocks, and
    // drives the client's runtime for the tokio ping-pong.
    let writer = TurnWriter::open(&Root::new(dir), "bench/r", None)?;
    let batch = args.samples.div_ceil(ROUNDS).max(1);
    let on_hub = Arc::clone(&hub);
    let client_handle = client_rt.handle().clone();
    let (done, measured) = tokio::sync::oneshot::channel();
    let thread = std::thread::Builder::new().name("writer".into());
    thread.spawn(move || {
        let mut seen = Seen { seen, last: 0 };
        let run = || -> Result<Samples> {
            let mut raw = RawPingPong::start()?;
            let mut tokio_stream = Some(tokio_stream);
            let mut samples = Samples::default();
            for _ in 0..ROUNDS {
                let local = seen.time(batch, |value| {
                    writer.write_ranges(&[(counter, &value.to_le_bytes())])?;
                    Ok(())
                })?;
                // Made for each batch and dropped after: it holds the
                // region's lock, which the local writes take in turn.
                let at_hub = on_hub.writer("bench", "r")?;
                let hub = seen.time(batch, |value| {
                    at_hub.set_by_name("counter", value)?;
                    Ok(())
                })?;
                drop(at_hub);
                let raw_times = raw.round_trips(batch)?;
                // A task of the client's runtime, as for the mirror's watcher.
                let stream = tokio_stream.take().context("tokio ping-pong stream")?;
                let task = client_handle.spawn(tokio_round_trips(stream, batch));
                let (stream, tokio_times) = client_handle.block_on(task)??;
                tokio_stream = Some(stream);
                samples.add(local, hub, raw_times, tokio_times);
            }
            raw.stop();
            Ok(samples)
        };
        let result = run();
        // The hub's last other handle goes before the result, so that the
        // hub can be shut down as soon as the result is in.
        drop(on_hub);
        let _ = done.send(result);
    })?;
    let samples = measured.await.context("the latency thread ended")??;
    client_rt.spawn(client.close()).await?;
    if let Ok(hub) = Arc::try_unwrap(hub) {
        hub.shutdown().await;
    }
    client_rt.shutdown_background();
    if let Some(scraper) = scraper {
        scraper.abort();
    }
    let metrics = if metrics { ", metrics on" } else { "" };
    Ok(print(&samples, metrics))
}

/// Prints the figures; gives the local commit's p50 and p99.
fn print(samples: &Samples, metrics: &str) -> (Duration, Duration) {
    let rows = [
        ("update: local commit -> remote mirror", &samples.local),
        ("update: hub write -> remote mirror", &samples.hub),
        ("baseline: TCP ping-pong, 32 B, std::net", &samples.raw),
        ("TCP ping-pong, 32 B, tokio", &samples.tokio),
    ]
    .map(|(name, times)| {
        let mut times = times.clone();
        times.sort();
        (name, percentile(&times, 0.5), percentile(&times, 0.99))
    });
    println!(
        "\nlatency ({} samples of each, in {ROUNDS} rounds taking each in turn{metrics})",
        samples.raw.len()
    );
    for (name, p50, p99) in &rows {
        println!("  {name:<44} p50 {p50:>9.1?}  p99 {p99:>9.1?}");
    }
    let [(_, u50, u99), (_, h50, h99), (_, r50, r99), (_, t50, t99)] = rows;
    for (name, (p50, p99), (b50, b99), (case, base)) in [
        (
            "local commit / std::net ping-pong",
            (u50, u99),
            (r50, r99),
            (0, 2),
        ),
        (
            "local commit / tokio ping-pong",
            (u50, u99),
            (t50, t99),
            (0, 3),
        ),
        (
            "hub write / std::net ping-pong",
            (h50, h99),
            (r50, r99),
            (1, 2),
        ),
        (
            "hub write / tokio ping-pong",
            (h50, h99),
            (t50, t99),
            (1, 3),
        ),
    ] {
        // Each round's ratio of medians: a slow spell of the machine
        // weighs on both sides of it.
        let mut by_round: Vec<f64> = samples
            .rounds
            .iter()
            .map(|round| ratio(round[case], round[base]))
            .collect();
        by_round.sort_by(f64::total_cmp);
        let at = |p: f64| {
            let index = ((by_round.len() as f64 - 1.0) * p).round() as usize;
            by_round.get(index).copied().unwrap_or(0.0)
        };
        println!(
            "  {name:<33} p50 {:.2}x  p99 {:.2}x  rounds: p50 {:.2}x ({:.2}-{:.2}x)",
            ratio(p50, b50),
            ratio(p99, b99),
            at(0.5),
            at(0.0),
            at(1.0)
        );
    }
    (u50, u99)
}

pub(super) fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

/// What the subscriber's task reports, and the last value written.
struct Seen {
    seen: mpsc::Receiver<(u64, Instant)>,
    last: u64,
}

impl Seen {
    /// The times of `n` calls of `write` with the next value, each until
    /// the subscriber's task reports the value.
    fn time(&mut self, n: usize, write: impl Fn(u64) -> Result<()>) -> Result<Vec<Duration>> {
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            self.last += 1;
            let value = self.last;
            let start = Instant::now();
            write(value)?;
            loop {
                let (v, at) = self
                    .seen
                    .recv_timeout(Duration::from_secs(10))
                    .context("the mirror did not show the value")?;
                if v == value {
                    times.push(at.duration_since(start));
                    break;
                }
            }
        }
        Ok(times)
    }
}

/// Round trips of 32 bytes to an echo thread over loopback TCP, blocking
/// `std::net` sockets with `TCP_NODELAY` on both ends (netperf's `TCP_RR`).
struct RawPingPong {
    stream: std::net::TcpStream,
    echo: std::thread::JoinHandle<()>,
}

impl RawPingPong {
    fn start() -> Result<RawPingPong> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let echo = std::thread::spawn(move || {
            if let Ok((mut s, _)) = listener.accept() {
                let _ = s.set_nodelay(true);
                let mut buf = [0u8; 32];
                while s.read_exact(&mut buf).is_ok() && s.write_all(&buf).is_ok() {}
            }
        });
        let stream = std::net::TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(RawPingPong { stream, echo })
    }

    fn round_trips(&mut self, n: usize) -> Result<Vec<Duration>> {
        let mut times = Vec::with_capacity(n);
        let mut buf = [7u8; 32];
        for _ in 0..n {
            let start = Instant::now();
            self.stream.write_all(&buf)?;
            self.stream.read_exact(&mut buf)?;
            times.push(start.elapsed());
        }
        Ok(times)
    }

    fn stop(self) {
        drop(self.stream);
        let _ = self.echo.join();
    }
}

/// An echo task on the caller's runtime (the hub's); its address.
async fn tokio_echo() -> Result<std::net::SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Ok((mut s, _)) = listener.accept().await {
            let _ = s.set_nodelay(true);
            let mut buf = [0u8; 32];
            while s.read_exact(&mut buf).await.is_ok() {
                if s.write_all(&buf).await.is_err() {
                    break;
                }
            }
        }
    });
    Ok(addr)
}

/// `n` round trips to the echo task over `stream`; hands it back.
async fn tokio_round_trips(mut stream: TcpStream, n: usize) -> Result<(TcpStream, Vec<Duration>)> {
    let mut times = Vec::with_capacity(n);
    let mut buf = [7u8; 32];
    for _ in 0..n {
        let start = Instant::now();
        stream.write_all(&buf).await?;
        stream.read_exact(&mut buf).await?;
        times.push(start.elapsed());
    }
    Ok((stream, times))
}
