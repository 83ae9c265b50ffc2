//! The hub end to end, beside a raw TCP ping-pong in the same run.
//!
//! `cargo bench -p memwire-benches --bench hub`
//!
//! - `hub-latency/update`: a local process commits a change to a region the
//!   hub serves (`ShmWriter::set_by_name` on an 8-byte variable); the hub's
//!   scanner wakes on the futex, finds the change and publishes it; the time
//!   ends when a client's mirror, over loopback TCP, has the new value. The
//!   subscriber rate limit is off (`max_rate_hz = 0`).
//! - `hub-latency/remote-write`: a second client writes the same variable
//!   (`Mirror::set`); the hub's connection task applies it, scans the
//!   region in the same task and publishes; the time ends when the first
//!   client's mirror has the new value. Two network hops, like the
//!   ping-pong; the frame rate limit is raised so the run is not cut off.
//! - `hub-latency/tcp-pingpong`: the baseline, one 32-byte message to an echo
//!   task and back over loopback TCP (about the size of that update's frame).
//!
//! Each case runs twice, by where the code that waits runs: `task`, a task
//! of the runtime that runs the hub and the clients (where a user's async
//! code awaits its mirror), and `thread`, the bench's own thread blocking
//! on the runtime. The thread pays one more wake-up per round, which the
//! ping-pong pays too.
//!
//! The report's ratios are update / ping-pong and remote-write / ping-pong,
//! each against the ping-pong of the same waiter. With
//! `MEMWIRE_BENCH_STEPS=1` the bench instead reports where an update's time
//! goes, step by step (see `hub/steps.rs`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group};
use memwire_std::client::{Changes, Client, ClientOptions, Mirror};
use memwire_std::hub::{Config, Hub};
use memwire_std::shm::{Root, ShmWriter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn config(root: &std::path::Path) -> Config {
    let text = format!(
        r#"
root = "{}"
[listen]
tcp = "127.0.0.1:0"
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

/// A client of `hub` with its mirror of `bench/r`.
async fn subscriber(hub: &Hub) -> (Client, Mirror) {
    let url = format!(
        "tcp://{}",
        hub.tcp_addr().unwrap_or_else(|| panic!("no tcp"))
    );
    let client = Client::connect(&url, ClientOptions::new("bench", "bench", "bench-secret"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mirror = client
        .subscribe("bench/r")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (client, mirror)
}

/// Where the code that waits for a result runs.
#[derive(Clone, Copy, Debug)]
enum Waiter {
    /// A task of the runtime that also runs the hub and the clients.
    Task,
    /// The bench's own thread, blocking on the runtime (`block_on`).
    Thread,
}

impl Waiter {
    const ALL: [Waiter; 2] = [Waiter::Task, Waiter::Thread];

    fn name(self) -> &'static str {
        match self {
            Waiter::Task => "task",
            Waiter::Thread => "thread",
        }
    }

    /// Runs `work` to its end where this waiter runs.
    fn run<T: Send + 'static>(
        self,
        runtime: &tokio::runtime::Runtime,
        work: impl Future<Output = T> + Send + 'static,
    ) -> T {
        match self {
            Waiter::Task => runtime
                .block_on(runtime.spawn(work))
                .unwrap_or_else(|e| panic!("measuring task: {e}")),
            Waiter::Thread => runtime.block_on(work),
        }
    }
}

/// The total time of `iters` updates: each writes the next `value` with
/// `write` and ends when `mirror` shows it in `counter` (not waiting for
/// anything else `write` awaits, such as the hub's answer).
fn measure<W, F>(
    runtime: &tokio::runtime::Runtime,
    waiter: Waiter,
    mirror: &Mirror,
    value: &mut u64,
    iters: u64,
    write: W,
) -> Duration
where
    W: Fn(u64) -> F + Send + 'static,
    F: Future<Output = ()> + Send,
{
    let mirror = mirror.clone();
    let first = *value;
    *value += iters;
    waiter.run(runtime, async move {
        let mut changes = mirror.changes();
        let mut total = Duration::ZERO;
        for target in first + 1..=first + iters {
            let start = Instant::now();
            let seen = async {
                shows(&mirror, &mut changes, target).await;
                start.elapsed()
            };
            let ((), elapsed) = tokio::join!(write(target), seen);
            total += elapsed;
        }
        total
    })
}

/// Returns once `mirror` holds `value` in `counter`.
async fn shows(mirror: &Mirror, changes: &mut Changes, value: u64) {
    while mirror.get::<u64>("counter").unwrap_or(0) != value {
        if changes.next().await.is_none() {
            panic!("client closed");
        }
    }
}

/// A hub serving `bench/r` from a fresh directory, and a client mirroring it.
struct Fixture {
    runtime: tokio::runtime::Runtime,
    dir: std::path::PathBuf,
    hub: Hub,
    client: Client,
    mirror: Mirror,
}

impl Fixture {
    fn start() -> Fixture {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        let dir = std::env::temp_dir().join(format!("memwire-bench-hub-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let (hub, client, mirror) = runtime.block_on(async {
            let hub = Hub::start(config(&dir))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let (client, mirror) = subscriber(&hub).await;
            (hub, client, mirror)
        });
        Fixture {
            runtime,
            dir,
            hub,
            client,
            mirror,
        }
    }

    /// A local writer of the region.
    fn writer(&self) -> ShmWriter {
        ShmWriter::open(&Root::new(&self.dir), "bench/r").unwrap_or_else(|e| panic!("{e}"))
    }

    fn stop(self) {
        self.runtime.block_on(async {
            self.client.close().await;
            self.hub.shutdown().await;
        });
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn latency(c: &mut Criterion) {
    let fixture = Fixture::start();
    let Fixture {
        runtime,
        hub,
        mirror,
        ..
    } = &fixture;
    let writer = Arc::new(fixture.writer());

    let mut group = c.benchmark_group("hub-latency");
    group.measurement_time(Duration::from_secs(4));
    let mut value = 0u64;
    for waiter in Waiter::ALL {
        group.bench_function(BenchmarkId::new("update", waiter.name()), |b| {
            b.iter_custom(|iters| {
                let writer = Arc::clone(&writer);
                measure(runtime, waiter, mirror, &mut value, iters, move |v| {
                    writer
                        .set_by_name("counter", v)
                        .unwrap_or_else(|e| panic!("{e}"));
                    std::future::ready(())
                })
            });
        });
    }

    // A local writer holding the region makes the hub refuse remote
    // writes (busy), so it goes first.
    drop(writer);
    let (writing, remote) = runtime.block_on(subscriber(hub));
    for waiter in Waiter::ALL {
        group.bench_function(BenchmarkId::new("remote-write", waiter.name()), |b| {
            b.iter_custom(|iters| {
                let remote = remote.clone();
                measure(runtime, waiter, mirror, &mut value, iters, move |v| {
                    let remote = remote.clone();
                    async move {
                        remote
                            .set("counter", v)
                            .await
                            .unwrap_or_else(|e| panic!("remote write: {e}"));
                    }
                })
            });
        });
    }

    let (ping, echo) = runtime.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let echo = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap_or_else(|e| panic!("{e}"));
            let _ = s.set_nodelay(true);
            let mut buf = [0u8; 32];
            while s.read_exact(&mut buf).await.is_ok() {
                if s.write_all(&buf).await.is_err() {
                    break;
                }
            }
        });
        let ping = TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let _ = ping.set_nodelay(true);
        (ping, echo)
    });
    // Shared with each run's task, which holds it alone while it runs.
    let ping = Arc::new(tokio::sync::Mutex::new(ping));
    for waiter in Waiter::ALL {
        group.bench_function(BenchmarkId::new("tcp-pingpong", waiter.name()), |b| {
            b.iter_custom(|iters| {
                let ping = Arc::clone(&ping);
                waiter.run(runtime, async move {
                    let mut ping = ping.lock().await;
                    let mut buf = [7u8; 32];
                    let start = Instant::now();
                    for _ in 0..iters {
                        ping.write_all(&buf).await.unwrap_or_else(|e| panic!("{e}"));
                        ping.read_exact(&mut buf)
                            .await
                            .unwrap_or_else(|e| panic!("{e}"));
                    }
                    start.elapsed()
                })
            });
        });
    }
    group.finish();
    drop(ping);
    runtime.block_on(async {
        echo.abort();
        writing.close().await;
    });
    fixture.stop();
}

mod group {
    #![allow(missing_docs)]
    use super::{criterion_group, latency};
    criterion_group!(benches, latency);
}

#[path = "hub/steps.rs"]
mod steps;

fn main() {
    if std::env::var_os("MEMWIRE_BENCH_STEPS").is_some() {
        steps::report(Fixture::start());
        return;
    }
    group::benches();
    Criterion::default().configure_from_args().final_summary();
}
