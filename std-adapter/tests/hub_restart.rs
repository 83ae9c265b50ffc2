//! A hub restarted under a connected client: the client reconnects by
//! itself, resubscribes and resyncs, and its mirror ends equal to the
//! region file byte for byte, including changes made while the hub was
//! down.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{converges, options};
use memwire_std::client::{Client, ClientError};
use memwire_std::shm::{Root, ShmWriter};
use tokio::net::TcpListener;

fn config_text(root: &Path, tcp: SocketAddr) -> String {
    format!(
        r#"
root = {root}
[listen]
tcp = "{tcp}"
[[tenant]]
name = "plant"
[[tenant.client]]
name = "ops"
secret = "ops-secret"
rights = [{{ regions = "*", access = "read-write" }}]
[[tenant.region]]
name = "line"
variables = [
  {{ name = "speed", kind = "f64" }},
  {{ name = "count", kind = "u64" }},
  {{ name = "setpoint", kind = "f32", writable = true }},
  {{ name = "samples", kind = "i16", count = 200 }},
]
"#,
        root = common::toml_path(root),
    )
}

/// Writes through a local writer, released at once (the hub writes to the
/// region too and needs the writer lock then).
fn write_locally(root: &Root, apply: impl FnOnce(&ShmWriter)) {
    let writer = ShmWriter::open(root, "plant/line").expect("local writer");
    apply(&writer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_resyncs_across_a_hub_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root_dir = dir.path().join("regions");
    let root = Root::new(&root_dir);
    let any_port: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let hub = common::start(dir.path(), &config_text(&root_dir, any_port)).await;
    let addr = hub.tcp_addr().expect("tcp");

    let client = Client::connect(
        &format!("tcp://{addr}"),
        options("ops", "plant", "ops-secret"),
    )
    .await
    .expect("connect");
    let mirror = client.subscribe("plant/line").await.expect("subscribe");
    assert_eq!(client.connections(), 1);
    assert!(client.is_connected());
    write_locally(&root, |w| {
        w.set_by_name("count", 1u64).expect("count");
    });
    common::eventually("the first change reaches the mirror", || {
        mirror.get::<u64>("count").ok() == Some(1)
    })
    .await;

    hub.shutdown().await;
    common::eventually("the client sees the hub go", || !client.is_connected()).await;

    // Changed while no hub runs: only the file knows.
    let mut samples = [0i16; 200];
    for (i, s) in samples.iter_mut().enumerate() {
        *s = i16::try_from(i).expect("small") * -3;
    }
    write_locally(&root, |w| {
        w.set_by_name("speed", 2.5f64).expect("speed");
        w.set_by_name("samples", samples).expect("samples");
    });

    // The same port and root.
    let hub = common::start(dir.path(), &config_text(&root_dir, addr)).await;
    assert_eq!(hub.tcp_addr(), Some(addr));
    common::eventually("the client reconnects", || client.connections() >= 2).await;
    assert!(client.is_connected());

    // Changed after the restart, locally and through the new hub.
    write_locally(&root, |w| {
        w.set_by_name("count", 2u64).expect("count");
    });
    let deadline = tokio::time::Instant::now() + common::DEADLINE;
    let generation = loop {
        match mirror.set("setpoint", 7.75f32).await {
            Ok(generation) => break generation,
            // The resubscription may still be on its way.
            Err(ClientError::NotConnected) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("write through the new hub: {e}"),
        }
    };
    common::eventually("the write reaches the mirror", || {
        mirror.generation() >= generation
    })
    .await;

    converges(&mirror, &root).await;
    assert_eq!(mirror.get::<f64>("speed").expect("speed"), 2.5);
    assert_eq!(
        mirror.get::<[i16; 200]>("samples").expect("samples"),
        samples
    );
    assert_eq!(mirror.get::<u64>("count").expect("count"), 2);
    assert_eq!(mirror.get::<f32>("setpoint").expect("setpoint"), 7.75);
    assert!(!mirror.is_ended());
    assert_eq!(client.connections(), 2, "one reconnection, no more");

    client.close().await;
    hub.shutdown().await;
}

/// The pauses between reconnection attempts double from `reconnect_min` up
/// to `reconnect_max` while no attempt gets in (jitter only stretches
/// them). Checked from below only: a loaded machine can lengthen a pause,
/// never shorten it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnection_attempts_back_off() {
    const MIN: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_millis(800);
    const ATTEMPTS: usize = 6;
    let dir = tempfile::tempdir().expect("tempdir");
    let root_dir = dir.path().join("regions");
    let any_port: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let hub = common::start(dir.path(), &config_text(&root_dir, any_port)).await;
    let addr = hub.tcp_addr().expect("tcp");
    let mut opts = options("ops", "plant", "ops-secret");
    opts.reconnect_min = MIN;
    opts.reconnect_max = MAX;
    let client = Client::connect(&format!("tcp://{addr}"), opts)
        .await
        .expect("connect");
    hub.shutdown().await;

    // In the hub's place, a listener that closes every connection at once:
    // no attempt gets in, so the pause keeps growing.
    let listener = TcpListener::bind(addr).await.expect("the hub's port");
    let mut accepted = Vec::new();
    while accepted.len() < ATTEMPTS {
        let (stream, _) = tokio::time::timeout(2 * common::DEADLINE, listener.accept())
            .await
            .expect("the client tries again")
            .expect("accept");
        accepted.push(Instant::now());
        drop(stream);
    }
    assert_eq!(client.connections(), 1, "an attempt got in");
    for (k, pair) in accepted.windows(2).enumerate() {
        // The pause before attempt k + 1 is at least the nominal one of
        // the (k + 1)th failure (attempts refused before the listener was
        // bound only make it longer).
        let nominal = (MIN * 2u32.pow(u32::try_from(k + 1).expect("small"))).min(MAX);
        let gap = pair[1] - pair[0];
        assert!(
            gap >= nominal,
            "attempt {} came {gap:?} after the one before, less than {nominal:?}",
            k + 1
        );
    }
    client.close().await;
}
