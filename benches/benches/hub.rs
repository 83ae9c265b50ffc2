//! The hub end to end, beside a raw TCP ping-pong in the same run.
//!
//! `cargo bench -p memwire-benches --bench hub`
//!
//! The parties run as they would in separate processes: the hub on a
//! runtime of its own (two worker threads, as `memwire serve` has here),
//! the subscribing client on another (one worker), a writing client on a
//! third, and the local writer on the bench's thread. None shares a thread
//! with another, so every hand-off between them wakes a thread, as it does
//! between processes.
//!
//! - `hub-latency/update`: the bench's thread commits an 8-byte variable
//!   of a region the hub serves (`ShmWriter::set_by_name`); the hub's
//!   scanner wakes on the futex, finds the change and publishes it; the
//!   time ends when a task of the subscribing client's runtime, awaiting
//!   the mirror's changes as a user's code does, sees the new value. The
//!   subscriber rate limit is off (`max_rate_hz = 0`).
//! - `hub-latency/hub-write`: the bench's thread writes the same variable
//!   through the hub in its own process (`HubWriter::set_by_name`), which
//!   commits, scans and sends the update from that thread; the time ends
//!   as above. This is a write applied at the hub, with no thread woken
//!   before the subscriber's.
//! - `hub-latency/remote-write`: a task of the writing client's runtime
//!   sets the same variable (`Mirror::set`); the hub applies it, scans and
//!   publishes in the writer's connection task; the time ends as above.
//!   The writing client connects for these writes only: while it is
//!   subscribed, every update goes to its mirror too, and the other cases
//!   would time a fan-out to two.
//! - `hub-latency/tcp-pingpong`: the baseline, 32 bytes to an echo thread
//!   and back over loopback TCP with blocking `std::net` sockets and
//!   `TCP_NODELAY` (a request-response round trip, netperf's `TCP_RR`; 32
//!   bytes is about the update's frame). Two threads woken per round trip.
//! - `hub-latency/tokio-pingpong`: the same round trip between a task of
//!   the subscriber's runtime and an echo task of the hub's, for what the
//!   async runtime adds.
//!
//! `MEMWIRE_BENCH_PAIRED=<rounds>` instead times the update and the
//! remote write in alternating batches with each ping-pong
//! (`memwire_benches::paired`) and prints each median ratio with its
//! quartiles. `MEMWIRE_BENCH_STEPS=1` reports where an update's time goes,
//! step by step (see `hub/steps.rs`). `MEMWIRE_BENCH_METRICS=<rounds>`
//! times the update through two hubs side by side, one with its metrics
//! off and one with them on and scraped every second, in alternating
//! batches (see `hub/metrics.rs`).

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use memwire_benches::paired::paired;
use memwire_std::client::{Client, ClientOptions, Mirror};
use memwire_std::hub::{Config, Hub, HubWriter};
use memwire_std::shm::{Root, ShmWriter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;

/// The bench hub's configuration; `metrics` serves them (`listen.http`),
/// which turns their counting on.
fn config(root: &std::path::Path, metrics: bool) -> Config {
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
rate_frames = 1000000
rate_frame_burst = 1000000
[publish]
max_rate_hz = 0
[[tenant]]
name = "bench"
[[tenant.client]]
name = "bench"
secret = "bench-secret"
rights = [{{ regions = "*", access = "read-write" }}]
[[tenant.region]]
name = "r"
variables = [
  {{ name = "counter", kind = "u64", writable = true }},
  {{ name = "payload", kind = "u8", count = 1016 }},
]
"#,
        root.display()
    );
    match Config::parse(&text, "bench.toml", root) {
        Ok(c) => c,
        Err(e) => panic!("bench config: {e}"),
    }
}

/// A runtime of `workers` threads named `name` (as profilers show them).
fn runtime(name: &str, workers: usize) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name(name)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

/// A client of `hub` with its mirror of `bench/r`, on the runtime it is
/// called in.
async fn subscriber(addr: std::net::SocketAddr) -> (Client, Mirror) {
    let client = Client::connect(
        &format!("tcp://{addr}"),
        ClientOptions::new("bench", "bench", "bench-secret"),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let mirror = client
        .subscribe("bench/r")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (client, mirror)
}

/// The hub, the subscribing client and the writing client, each on a
/// runtime of its own, with a task of the subscriber's runtime that
/// reports every new value of `counter` with the time it saw it.
struct Fixture {
    dir: std::path::PathBuf,
    hub_rt: Runtime,
    client_rt: Runtime,
    writer_rt: Runtime,
    hub: Hub,
    client: Client,
    /// The writing client and its mirror, connected for the remote writes
    /// only: while it is subscribed, every update goes to two mirrors.
    writing: Option<(Client, Mirror)>,
    seen: std_mpsc::Receiver<(u64, Instant)>,
    /// The last value written.
    value: u64,
    /// Each write's time, when kept (`keep_samples`).
    samples: Option<Vec<Duration>>,
}

impl Fixture {
    fn start() -> Fixture {
        Fixture::with_metrics(false, "")
    }

    /// The fixture with the hub's metrics on or off; several with
    /// different `name`s may run side by side.
    fn with_metrics(metrics: bool, name: &str) -> Fixture {
        let dir =
            std::env::temp_dir().join(format!("memwire-bench-hub-{}{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let hub_rt = runtime("hub", 2);
        let client_rt = runtime("subscriber", 1);
        let writer_rt = runtime("writer", 1);
        let hub = hub_rt.block_on(async { Hub::start(config(&dir, metrics)).await });
        let hub = hub.unwrap_or_else(|e| panic!("{e}"));
        let addr = hub.tcp_addr().unwrap_or_else(|| panic!("no tcp"));
        let (client, mirror) = client_rt.block_on(subscriber(addr));
        let (report, seen) = std_mpsc::channel();
        client_rt.spawn(async move {
            let mut changes = mirror.changes();
            let mut last = mirror.get::<u64>("counter").unwrap_or(0);
            while changes.next().await.is_some() {
                let now = mirror.get::<u64>("counter").unwrap_or(last);
                if now != last {
                    last = now;
                    if report.send((now, Instant::now())).is_err() {
                        break;
                    }
                }
            }
        });
        Fixture {
            dir,
            hub_rt,
            client_rt,
            writer_rt,
            hub,
            client,
            writing: None,
            seen,
            value: 0,
            samples: None,
        }
    }

    /// A local writer of the region.
    fn local_writer(&self) -> ShmWriter {
        ShmWriter::open(&Root::new(&self.dir), "bench/r").unwrap_or_else(|e| panic!("{e}"))
    }

    /// A writer of the region in the hub's process.
    fn hub_writer(&self) -> HubWriter {
        self.hub
            .writer("bench", "r")
            .unwrap_or_else(|e| panic!("hub writer: {e}"))
    }

    /// Waits for the subscriber to report `value`; the time it saw it.
    fn seen(&self, value: u64) -> Instant {
        loop {
            match self.seen.recv_timeout(Duration::from_secs(10)) {
                Ok((v, at)) if v == value => return at,
                Ok(_) => {}
                Err(e) => panic!("the mirror did not show {value}: {e}"),
            }
        }
    }

    /// The total time of `n` local commits, each until the subscriber saw
    /// it, the next one `pace` after.
    fn updates(&mut self, writer: &ShmWriter, n: u64, pace: Duration) -> Duration {
        self.writes(n, pace, |value| writer.set_by_name("counter", value))
    }

    /// The total time of `n` writes through the hub, each until the
    /// subscriber saw it, the next one `pace` after.
    fn hub_writes(&mut self, writer: &HubWriter, n: u64, pace: Duration) -> Duration {
        self.writes(n, pace, |value| writer.set_by_name("counter", value))
    }

    /// The total time of `n` calls of `write` with the next value, each
    /// until the subscriber saw it, the next one `pace` after.
    fn writes<E: std::fmt::Display>(
        &mut self,
        n: u64,
        pace: Duration,
        write: impl Fn(u64) -> Result<u64, E>,
    ) -> Duration {
        let mut total = Duration::ZERO;
        for _ in 0..n {
            rest(pace);
            self.value += 1;
            let start = Instant::now();
            write(self.value).unwrap_or_else(|e| panic!("{e}"));
            let took = self.seen(self.value).duration_since(start);
            if let Some(samples) = &mut self.samples {
                samples.push(took);
            }
            total += took;
        }
        total
    }

    /// The total time of `n` remote writes, each from a task of the writing
    /// client's runtime (where a user's code calls `Mirror::set`) until the
    /// subscriber saw it, the next one `pace` after.
    fn remote_writes(&mut self, n: u64, pace: Duration) -> Duration {
        let remote = match &self.writing {
            Some((_, remote)) => remote.clone(),
            None => {
                let addr = self.hub.tcp_addr().unwrap_or_else(|| panic!("no tcp"));
                let (client, remote) = self.writer_rt.block_on(subscriber(addr));
                self.writing = Some((client, remote.clone()));
                remote
            }
        };
        let mut total = Duration::ZERO;
        for _ in 0..n {
            rest(pace);
            self.value += 1;
            let remote = remote.clone();
            let value = self.value;
            let (started, start) = std_mpsc::channel();
            // Handing the task over wakes the writer's thread before the
            // time starts.
            self.writer_rt.spawn(async move {
                let _ = started.send(Instant::now());
                remote
                    .set("counter", value)
                    .await
                    .unwrap_or_else(|e| panic!("remote write: {e}"));
            });
            let start = start
                .recv_timeout(Duration::from_secs(10))
                .unwrap_or_else(|e| panic!("writer task: {e}"));
            total += self.seen(self.value).duration_since(start);
        }
        total
    }

    /// Closes the writing client, if connected.
    fn stop_writing(&mut self) {
        if let Some((client, _)) = self.writing.take() {
            self.writer_rt.block_on(client.close());
        }
    }

    fn stop(mut self) {
        self.stop_writing();
        self.client_rt.block_on(self.client.close());
        self.hub_rt.block_on(self.hub.shutdown());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Sleeps for `pace`, unless it is zero (back to back).
fn rest(pace: Duration) {
    if !pace.is_zero() {
        std::thread::sleep(pace);
    }
}

/// A round trip of 32 bytes to an echo thread, blocking `std::net`
/// sockets on both ends.
struct RawPingPong {
    stream: std::net::TcpStream,
    echo: std::thread::JoinHandle<()>,
}

impl RawPingPong {
    fn start() -> RawPingPong {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let echo = std::thread::spawn(move || {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            let _ = s.set_nodelay(true);
            let mut buf = [0u8; 32];
            while s.read_exact(&mut buf).is_ok() {
                if s.write_all(&buf).is_err() {
                    break;
                }
            }
        });
        let stream = std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("{e}"));
        stream.set_nodelay(true).unwrap_or_else(|e| panic!("{e}"));
        RawPingPong { stream, echo }
    }

    /// The time of `n` round trips, each `pace` after the one before.
    fn run(&mut self, n: u64, pace: Duration) -> Duration {
        let mut buf = [7u8; 32];
        let mut total = Duration::ZERO;
        for _ in 0..n {
            rest(pace);
            let start = Instant::now();
            self.stream
                .write_all(&buf)
                .unwrap_or_else(|e| panic!("{e}"));
            self.stream
                .read_exact(&mut buf)
                .unwrap_or_else(|e| panic!("{e}"));
            total += start.elapsed();
        }
        total
    }

    fn stop(self) {
        drop(self.stream);
        let _ = self.echo.join();
    }
}

/// The same round trip between a task of `client_rt` and an echo task of
/// `hub_rt`: the time of `n` of them, each `pace` after the one before.
fn tokio_pingpong(
    hub_rt: &Runtime,
    client_rt: &Runtime,
    pace: Duration,
) -> impl FnMut(u64) -> Duration + use<> {
    let listener = hub_rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    hub_rt.spawn(async move {
        let Ok((mut s, _)) = listener.accept().await else {
            return;
        };
        let _ = s.set_nodelay(true);
        let mut buf = [0u8; 32];
        while s.read_exact(&mut buf).await.is_ok() {
            if s.write_all(&buf).await.is_err() {
                break;
            }
        }
    });
    let stream = client_rt
        .block_on(tokio::net::TcpStream::connect(addr))
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = stream.set_nodelay(true);
    let stream = Arc::new(tokio::sync::Mutex::new(stream));
    let handle = client_rt.handle().clone();
    move |n| {
        let stream = Arc::clone(&stream);
        let task = handle.spawn(async move {
            let mut stream = stream.lock().await;
            let mut buf = [7u8; 32];
            let mut total = Duration::ZERO;
            for _ in 0..n {
                if !pace.is_zero() {
                    tokio::time::sleep(pace).await;
                }
                let start = Instant::now();
                stream
                    .write_all(&buf)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                stream
                    .read_exact(&mut buf)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                total += start.elapsed();
            }
            total
        });
        handle
            .block_on(task)
            .unwrap_or_else(|e| panic!("ping-pong task: {e}"))
    }
}

fn latency(c: &mut Criterion) {
    let mut fixture = Fixture::start();
    let mut group = c.benchmark_group("hub-latency");
    group.measurement_time(Duration::from_secs(4));
    let back_to_back = Duration::ZERO;

    let writer = fixture.local_writer();
    group.bench_function("update", |b| {
        b.iter_custom(|n| fixture.updates(&writer, n, back_to_back));
    });
    // A local writer holding the region makes the hub refuse remote
    // writes (busy), so it goes first.
    drop(writer);
    let writer = fixture.hub_writer();
    group.bench_function("hub-write", |b| {
        b.iter_custom(|n| fixture.hub_writes(&writer, n, back_to_back));
    });
    drop(writer);
    group.bench_function("remote-write", |b| {
        b.iter_custom(|n| fixture.remote_writes(n, back_to_back));
    });
    fixture.stop_writing();

    let mut raw = RawPingPong::start();
    group.bench_function("tcp-pingpong", |b| {
        b.iter_custom(|n| raw.run(n, back_to_back));
    });
    raw.stop();
    let mut pingpong = tokio_pingpong(&fixture.hub_rt, &fixture.client_rt, back_to_back);
    group.bench_function("tokio-pingpong", |b| b.iter_custom(&mut pingpong));
    drop(pingpong);
    group.finish();
    fixture.stop();
}

/// The update, the hub write and the remote write in alternating batches
/// with each ping-pong: back to back, then each round trip a millisecond
/// after the last, as a writer at 1 kHz makes them (every thread on the way
/// has gone idle by then, and waking an idle one costs more).
fn paired_report(rounds: usize) {
    let mut fixture = Fixture::start();
    let mut raw = RawPingPong::start();
    for (pace, batch, label) in [
        (Duration::ZERO, 200, "back to back"),
        (Duration::from_millis(1), 50, "1 ms apart"),
    ] {
        let mut tokio = tokio_pingpong(&fixture.hub_rt, &fixture.client_rt, pace);
        let mut against_both = |name: &str, case: &mut dyn FnMut(u64) -> Duration| {
            let ratio = paired(rounds, batch, &mut *case, |n| raw.run(n, pace));
            println!(
                "{label:>12}: {:<34}{ratio}",
                format!("{name} / std::net ping-pong")
            );
            let ratio = paired(rounds, batch, &mut *case, &mut tokio);
            println!(
                "{label:>12}: {:<34}{ratio}",
                format!("{name} / tokio ping-pong")
            );
        };
        let writer = fixture.local_writer();
        against_both("update", &mut |n| fixture.updates(&writer, n, pace));
        drop(writer);
        let writer = fixture.hub_writer();
        against_both("hub write", &mut |n| fixture.hub_writes(&writer, n, pace));
        // Remote writes as usual: without the hub's writer, each takes the
        // region's writer lock for itself.
        drop(writer);
        against_both("remote write", &mut |n| fixture.remote_writes(n, pace));
        fixture.stop_writing();
    }
    raw.stop();
    fixture.stop();
}

mod group {
    #![allow(missing_docs)]
    use super::{criterion_group, latency};
    criterion_group!(benches, latency);
}

#[path = "hub/steps.rs"]
mod steps;

#[path = "hub/metrics.rs"]
mod metrics;

fn main() {
    if let Some(rounds) = std::env::var_os("MEMWIRE_BENCH_METRICS") {
        let rounds = rounds.to_str().and_then(|r| r.parse().ok()).unwrap_or(200);
        metrics::report(rounds);
        return;
    }
    if std::env::var_os("MEMWIRE_BENCH_STEPS").is_some() {
        steps::report(Fixture::start());
        return;
    }
    if let Some(rounds) = memwire_benches::paired::rounds(100) {
        paired_report(rounds);
        return;
    }
    group::benches();
    Criterion::default().configure_from_args().final_summary();
}
