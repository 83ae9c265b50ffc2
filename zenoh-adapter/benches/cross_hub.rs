//! A local commit at hub A to a client's mirror at hub B, against the two
//! costs it is made of, measured in the same run: the single-hub path (the
//! same commit to a client of hub A) and zenoh's own pub/sub of an update's
//! bytes between two sessions through the same router. Everything runs in
//! this process on loopback (two hubs, their bridges, a router). The hubs
//! publish without a rate limit (`max_rate_hz = 0`), so what is measured
//! is the path, not the default 100 Hz pacing.
//!
//! `cargo bench -p memwire-zenoh --bench cross_hub [-- SAMPLES]`; prints
//! p50 and p99 of each path and the ratio of the cross-hub path to the sum
//! of the other two (the goal: at most 1.5).

use std::sync::Arc;
use std::time::{Duration, Instant};

use memwire_std::client::{Client, ClientOptions, Mirror};
use memwire_std::hub::{Config, Hub};
use memwire_std::shm::{Root, ShmWriter};
use memwire_zenoh::{Bridge, BridgeConfig};

const VARIABLES: &str = r#"variables = [
  { name = "speed", kind = "f64" },
  { name = "setpoint", kind = "f64", writable = true },
  { name = "counts", kind = "u32", count = 256 },
]"#;

fn hub_config(root: &std::path::Path, region: &str) -> Config {
    let text = format!(
        "root = {root:?}\n[listen]\ntcp = \"127.0.0.1:0\"\n[publish]\nmax_rate_hz = 0\n\
         [[tenant]]\nname = \"plant\"\n\
         [[tenant.client]]\nname = \"op\"\nsecret = \"op-secret\"\n\
         rights = [{{ regions = \"*\", access = \"read-write\" }}]\n\
         [[tenant.region]]\nname = \"line\"\n{region}\n"
    );
    Config::parse(&text, "bench", root).expect("hub config")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn client_mirror(hub: &Hub) -> (Client, Mirror) {
    let addr = hub.tcp_addr().expect("tcp");
    let client = Client::connect(
        &format!("tcp://{addr}"),
        ClientOptions::new("op", "plant", b"op-secret".to_vec()),
    )
    .await
    .expect("client");
    let mirror = client.subscribe("plant/line").await.expect("subscribe");
    (client, mirror)
}

/// Waits until `mirror` holds `value` as its speed.
async fn seen(mirror: &Mirror, value: f64) -> Instant {
    let mut changes = mirror.changes();
    loop {
        if mirror.get::<f64>("speed").is_ok_and(|v| v == value) {
            return Instant::now();
        }
        let _ = tokio::time::timeout(Duration::from_millis(100), changes.next()).await;
    }
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index.min(samples.len() - 1)]
}

#[tokio::main]
async fn main() {
    let samples: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(500);
    let tmp = tempfile::tempdir().expect("tempdir");
    let (root_a, root_b) = (tmp.path().join("a"), tmp.path().join("b"));
    std::fs::create_dir_all(&root_a).unwrap();
    std::fs::create_dir_all(&root_b).unwrap();

    let port = free_port();
    let router = zenoh::Config::from_json5(&format!(
        r#"{{ mode: "router", listen: {{ endpoints: ["tcp/127.0.0.1:{port}"] }},
             scouting: {{ multicast: {{ enabled: false }}, gossip: {{ enabled: false }} }} }}"#
    ))
    .unwrap();
    let _router = zenoh::open(router).await.expect("router");
    let bridge_file = |export: &str, import: &str| {
        BridgeConfig::parse(
            &format!(
                "connect = [\"tcp/127.0.0.1:{port}\"]\nstate = \"state\"\n\
                 export = [{export}]\nimport = [{import}]\n"
            ),
            tmp.path(),
        )
        .expect("bridge config")
    };

    let hub_a = Arc::new(
        Hub::start(hub_config(&root_a, VARIABLES))
            .await
            .expect("hub A"),
    );
    let writer = ShmWriter::open(&Root::new(&root_a), "plant/line").expect("writer");
    let speed = writer.reader().schema().find("speed").expect("speed");
    let bridge_a = Bridge::start(Arc::clone(&hub_a), &bridge_file("\"plant/*\"", ""))
        .await
        .expect("bridge A");
    let hub_b = Arc::new(Hub::start(hub_config(&root_b, "")).await.expect("hub B"));
    let bridge_b = Bridge::start(Arc::clone(&hub_b), &bridge_file("", "\"plant/line\""))
        .await
        .expect("bridge B");
    let end = Instant::now() + Duration::from_secs(20);
    while bridge_b.imports()[0].held.is_none() {
        assert!(Instant::now() < end, "hub B never copied the region");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_client_a, mirror_a) = client_mirror(&hub_a).await;
    let (_client_b, mirror_b) = client_mirror(&hub_b).await;

    // zenoh alone: an update's bytes (its header and one 8-byte range) put
    // by one client session of the router and received by another.
    let session = |_: ()| {
        zenoh::Config::from_json5(&format!(
            r#"{{ mode: "client", connect: {{ endpoints: ["tcp/127.0.0.1:{port}"] }},
                 scouting: {{ multicast: {{ enabled: false }}, gossip: {{ enabled: false }} }} }}"#
        ))
        .unwrap()
    };
    let put_side = zenoh::open(session(())).await.expect("session");
    let get_side = zenoh::open(session(())).await.expect("session");
    let publisher = put_side.declare_publisher("bench/raw").await.unwrap();
    let subscriber = get_side.declare_subscriber("bench/raw").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let raw_payload = vec![7u8; 29];

    let (mut single, mut cross, mut raw) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..samples + samples / 10 {
        let value = i as f64 + 0.5;
        let start = Instant::now();
        writer.write(speed, &value.to_le_bytes()).expect("commit");
        let (at_a, at_b) = tokio::join!(seen(&mirror_a, value), seen(&mirror_b, value));

        let sent = Instant::now();
        publisher.put(raw_payload.clone()).await.unwrap();
        subscriber.recv_async().await.unwrap();
        let received = Instant::now();
        if i >= samples / 10 {
            // The first tenth warms up.
            single.push(at_a - start);
            cross.push(at_b - start);
            raw.push(received - sent);
        }
    }

    let row = |name: &str, s: &mut Vec<Duration>| {
        let (p50, p99) = (percentile(s, 0.5), percentile(s, 0.99));
        println!(
            "{name:<34} p50 {:>9.1} µs   p99 {:>9.1} µs",
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6
        );
        (p50, p99)
    };
    println!("{samples} samples, one 8-byte change each");
    let (s50, s99) = row("single hub (commit at A → A's client)", &mut single);
    let (r50, r99) = row("zenoh pub/sub (client → router → client)", &mut raw);
    let (c50, c99) = row("cross hub (commit at A → B's client)", &mut cross);
    let ratio = |c: Duration, a: Duration, b: Duration| c.as_secs_f64() / (a + b).as_secs_f64();
    println!(
        "cross / (single + zenoh): p50 {:.2}, p99 {:.2} (goal: at most 1.5)",
        ratio(c50, s50, r50),
        ratio(c99, s99, r99)
    );

    bridge_b.close().await;
    bridge_a.close().await;
}
