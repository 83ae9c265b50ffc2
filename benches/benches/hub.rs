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
//! The report's ratios are update / ping-pong and remote-write / ping-pong.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
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

/// Returns once `mirror` holds `value` in `counter`.
async fn shows(mirror: &Mirror, changes: &mut Changes, value: u64) {
    while mirror.get::<u64>("counter").unwrap_or(0) != value {
        if changes.next().await.is_none() {
            panic!("client closed");
        }
    }
}

fn latency(c: &mut Criterion) {
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
    let writer = ShmWriter::open(&Root::new(&dir), "bench/r").unwrap_or_else(|e| panic!("{e}"));

    let mut group = c.benchmark_group("hub-latency");
    group.measurement_time(Duration::from_secs(4));
    let mut value = 0u64;
    group.bench_function("update", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let mut changes = mirror.changes();
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    value += 1;
                    let start = Instant::now();
                    writer
                        .set_by_name("counter", value)
                        .unwrap_or_else(|e| panic!("{e}"));
                    shows(&mirror, &mut changes, value).await;
                    total += start.elapsed();
                }
                total
            })
        });
    });

    // The hub writes remote writes in turns; a local writer would refuse them.
    drop(writer);
    let (writing, remote) = runtime.block_on(subscriber(&hub));
    group.bench_function("remote-write", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let mut changes = mirror.changes();
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    value += 1;
                    let start = Instant::now();
                    let seen = async {
                        shows(&mirror, &mut changes, value).await;
                        start.elapsed()
                    };
                    let (written, elapsed) = tokio::join!(remote.set("counter", value), seen);
                    written.unwrap_or_else(|e| panic!("remote write: {e}"));
                    total += elapsed;
                }
                total
            })
        });
    });

    let (mut ping, echo) = runtime.block_on(async {
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
    group.bench_function("tcp-pingpong", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
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
    group.finish();
    drop(ping);
    runtime.block_on(async {
        echo.abort();
        writing.close().await;
        client.close().await;
        hub.shutdown().await;
    });
    let _ = std::fs::remove_dir_all(&dir);
}

mod group {
    #![allow(missing_docs)]
    use super::{criterion_group, latency};
    criterion_group!(benches, latency);
}
use group::benches;
criterion_main!(benches);
