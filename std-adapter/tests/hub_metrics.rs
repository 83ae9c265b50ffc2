//! The hub's metrics: `GET /metrics` on the HTTP listener (`listen.http`)
//! answers the Prometheus text format, and the counters move by what the
//! clients did: logins accepted and refused, writes applied and refused,
//! commits seen, subscribers, connections by transport; and per region,
//! the updates sent, full and deltas, and their bytes.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

use memwire::codec::ErrorCode;
use memwire_std::client::{Client, ClientError};
use memwire_std::hub::Hub;
use memwire_std::shm::{Root, ShmWriter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A hub with its metrics listener on and the read-write client `ops`
/// in the tenant `plant`, followed by `rest` (clients, regions).
fn config_with(root: &Path, rest: &str) -> String {
    format!(
        r#"root = {}
[listen]
tcp = "127.0.0.1:0"
http = "127.0.0.1:0"

[[tenant]]
name = "plant"
[[tenant.client]]
name = "ops"
secret = "ops-secret"
rights = [{{ regions = "*", access = "read-write" }}]
{rest}"#,
        common::toml_path(root)
    )
}

fn config_text(root: &Path) -> String {
    config_with(
        root,
        r#"[[tenant.client]]
name = "viewer"
secret = "viewer-secret"
rights = [{ regions = "*", access = "read" }]
[[tenant.region]]
name = "line"
variables = [
  { name = "speed", kind = "u32", writable = true },
  { name = "count", kind = "u64" },
]
"#,
    )
}

/// Two regions of one tenant, for the per-region traffic counters.
fn two_regions(root: &Path) -> String {
    config_with(
        root,
        r#"[[tenant.region]]
name = "line"
variables = [{ name = "speed", kind = "u32", writable = true }]
[[tenant.region]]
name = "tank"
variables = [{ name = "level", kind = "u32", writable = true }]
"#,
    )
}

/// The body of `GET path` on `addr`, and the status line.
async fn get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: hub\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    let status = head.lines().next().unwrap_or_default().to_owned();
    (status, body.to_owned())
}

/// The samples of a scrape: each `name{labels}` and its value.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

async fn scrape(addr: SocketAddr) -> HashMap<String, f64> {
    let (status, body) = get(addr, "/metrics").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.ends_with("# EOF\n"), "{body}");
    samples(&body)
}

fn value(samples: &HashMap<String, f64>, name: &str) -> f64 {
    samples.get(name).copied().unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_counters_move_by_what_clients_did() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root_dir = dir.path().join("regions");
    let hub: Hub = common::start(dir.path(), &config_text(&root_dir)).await;
    let http = hub.http_addr().expect("the HTTP listener");
    let url = format!("tcp://{}", hub.tcp_addr().expect("tcp"));
    let root = Root::new(&root_dir);

    let before = scrape(http).await;
    let login =
        |name: &str, secret: &str| Client::connect(&url, common::options(name, "plant", secret));
    let ops = login("ops", "ops-secret").await.expect("ops");
    let viewer = login("viewer", "viewer-secret").await.expect("viewer");
    let refused = login("viewer", "not-the-secret").await;
    assert!(refused.is_err(), "a wrong secret logs in");

    let mirror = ops.subscribe("plant/line").await.expect("subscribe");
    let seen = viewer.subscribe("plant/line").await.expect("subscribe");
    for speed in 1..=3u32 {
        mirror.set("speed", speed).await.expect("write");
    }
    let denied = seen.set("speed", 9u32).await;
    assert!(
        matches!(denied, Err(ClientError::Hub(ErrorCode::AccessDenied))),
        "{denied:?}"
    );
    let unknown = mirror.write("pressure", &[0; 4]).await;
    assert!(unknown.is_err(), "{unknown:?}");
    {
        let writer = ShmWriter::open(&root, "plant/line").expect("writer");
        for count in 1..=2u64 {
            writer.set_by_name("count", count).expect("set");
            common::eventually("the local commit reaches the mirror", || {
                mirror.get::<u64>("count").ok() == Some(count)
            })
            .await;
        }
    }

    let after = scrape(http).await;
    let moved = |name: &str| value(&after, name) - value(&before, name);
    let line = r#"{tenant="plant",region="line"}"#;
    assert_eq!(moved(r#"memwire_logins_total{outcome="ok"}"#), 2.0);
    assert_eq!(moved(r#"memwire_logins_total{outcome="wrong proof"}"#), 1.0);
    assert_eq!(moved(r#"memwire_writes_total{outcome="ok"}"#), 3.0);
    assert_eq!(
        moved(r#"memwire_writes_total{outcome="access denied"}"#),
        1.0
    );
    assert_eq!(moved(r#"memwire_connections_total{transport="TCP"}"#), 3.0);
    assert_eq!(
        value(&after, r#"memwire_connections_open{transport="TCP"}"#),
        2.0
    );
    // Three writes and two local commits, each scanned once.
    assert_eq!(moved(&format!("memwire_region_commits_total{line}")), 5.0);
    assert_eq!(moved(&format!("memwire_scan_seconds_count{line}")), 5.0);
    assert_eq!(
        value(&after, &format!("memwire_region_subscribers{line}")),
        2.0
    );
    // Two subscribers: a part encoded for one is sent from the store to the
    // other.
    let hits = moved(&format!("memwire_region_encode_once_hits_total{line}"));
    assert!(hits >= 1.0, "encode-once hits {hits}");
    assert!(moved(&format!("memwire_region_encoded_parts_total{line}")) >= 1.0);
    let generation = value(&after, &format!("memwire_region_generation{line}"));
    assert!(generation >= 5.0, "generation {generation}");
    assert!(moved("memwire_updates_sent_total") >= 10.0, "{after:?}");
    assert!(moved("memwire_bytes_sent_total") > 0.0);
    assert!(value(&after, "memwire_process_resident_memory_bytes") > 0.0);
    assert!(after.contains_key("memwire_process_cpu_seconds_total"));

    // The clients count the same writes, by outcome.
    let ops_writes = ops.writes();
    assert_eq!((ops_writes.applied, ops_writes.refused), (3, 1));
    let viewer_writes = viewer.writes();
    assert_eq!((viewer_writes.applied, viewer_writes.refused), (0, 1));
    assert_eq!(viewer_writes.unanswered, 0);
    assert_eq!(ops.connections(), 1);
    assert!(ops.stats().updates >= 5, "{:?}", ops.stats());

    let (status, _) = get(http, "/other").await;
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    ops.close().await;
    viewer.close().await;
    hub.shutdown().await;
}

/// A region's traffic counters between two scrapes: updates sent, full
/// updates, deltas, update bytes.
fn traffic(before: &HashMap<String, f64>, after: &HashMap<String, f64>, region: &str) -> [f64; 4] {
    let label = format!(r#"{{tenant="plant",region="{region}"}}"#);
    ["updates_sent", "full_updates", "deltas", "update_bytes"].map(|name| {
        let series = format!("memwire_region_{name}_total{label}");
        value(after, &series) - value(before, &series)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_are_counted_by_region() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root_dir = dir.path().join("regions");
    let hub: Hub = common::start(dir.path(), &two_regions(&root_dir)).await;
    let http = hub.http_addr().expect("the HTTP listener");
    let url = format!("tcp://{}", hub.tcp_addr().expect("tcp"));
    // A local commit to each region first: an update from generation 0
    // is full whatever its base (0 is no base), so the deltas below need
    // a region past it.
    let root = Root::new(&root_dir);
    for (region, variable) in [("plant/tank", "level"), ("plant/line", "speed")] {
        let writer = ShmWriter::open(&root, region).expect("writer");
        writer.set_by_name(variable, 100u32).expect("set");
    }
    let label = |region: &str| format!(r#"{{tenant="plant",region="{region}"}}"#);
    for _ in 0..200 {
        let now = scrape(http).await;
        let generation =
            |region: &str| value(&now, &format!("memwire_region_generation{}", label(region)));
        if generation("tank") >= 1.0 && generation("line") >= 1.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let ops = Client::connect(&url, common::options("ops", "plant", "ops-secret"))
        .await
        .expect("ops");
    let before = scrape(http).await;

    // The tank: its first update (full: `subscribe` returns once the
    // mirror holds it), then one write (a delta).
    let tank = ops.subscribe("plant/tank").await.expect("subscribe");
    tank.set("level", 7u32).await.expect("write");
    common::eventually("the write reaches the mirror", || {
        tank.get::<u32>("level").ok() == Some(7)
    })
    .await;
    let middle = scrape(http).await;

    // The line: its first update, three writes, each seen before the
    // next (three deltas), and a resync (full).
    let line = ops.subscribe("plant/line").await.expect("subscribe");
    for speed in 1..=3u32 {
        line.set("speed", speed).await.expect("write");
        common::eventually("the write reaches the mirror", || {
            line.get::<u32>("speed").ok() == Some(speed)
        })
        .await;
    }
    let held = line.generation();
    line.resync().await.expect("resync");
    // The mirror holds generation 0 until the full update comes.
    common::eventually("the resync's full update", || line.generation() == held).await;
    let after = scrape(http).await;

    let [updates, full, deltas, bytes] = traffic(&before, &middle, "tank");
    assert_eq!((updates, full, deltas), (2.0, 1.0, 1.0), "{middle:?}");
    assert!(bytes > 0.0, "tank update bytes {bytes}");
    // Nothing the line did moved the tank's counters.
    assert_eq!(traffic(&middle, &after, "tank"), [0.0; 4], "{after:?}");
    assert_eq!(traffic(&before, &middle, "line"), [0.0; 4], "{middle:?}");
    let [updates, full, deltas, bytes] = traffic(&middle, &after, "line");
    assert_eq!((updates, full, deltas), (5.0, 2.0, 3.0), "{after:?}");
    // Two full updates of 4 bytes of data each, besides three deltas.
    assert!(bytes >= 2.0 * 4.0 + 3.0, "line update bytes {bytes}");
    assert_eq!(moved_by(&before, &after, "memwire_resyncs_total"), 1.0);

    ops.close().await;
    hub.shutdown().await;
}

fn moved_by(before: &HashMap<String, f64>, after: &HashMap<String, f64>, name: &str) -> f64 {
    value(after, name) - value(before, name)
}
