//! The hub's limits against hostile or broken peers: the handshake deadline
//! (slowloris and idle connections), the slow-consumer rule, and the
//! connection limit. Each time, a well-behaved client is served meanwhile.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{End, Raw, closing_error, framed, options};
use memwire::codec::{Auth, ErrorCode, Frame, Hello, PROTOCOL_VERSION, Subscribe};
use memwire_std::client::{Client, ClientError};
use memwire_std::hub::SLOW_CONSUMER_GRACE;
use memwire_std::shm::{Root, ShmWriter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A hub configuration with `limits` (TOML lines of `[limits]`) and one
/// tenant `t`, with client `ops` and the regions `small` and `big` (`big`
/// holds `big_len` bytes).
fn config_text(root: &Path, limits: &str, big_len: usize) -> String {
    format!(
        r#"
root = {root}
[listen]
tcp = "127.0.0.1:0"
[limits]
{limits}
[[tenant]]
name = "t"
[[tenant.client]]
name = "ops"
secret = "ops-secret"
rights = [{{ regions = "*", access = "read-write" }}]
[[tenant.region]]
name = "small"
variables = [{{ name = "tick", kind = "u64" }}]
[[tenant.region]]
name = "big"
variables = [
  {{ name = "tick", kind = "u64" }},
  {{ name = "blob", kind = "u8", count = {big_len} }},
]
"#,
        root = common::toml_path(root),
    )
}

/// Sets `tick` of region `path` through a local writer.
fn tick(root: &Root, path: &str, value: u64) {
    let writer = ShmWriter::open(root, path).expect("local writer");
    writer.set_by_name("tick", value).expect("tick");
}

/// Connects and sends `drip` one byte every 300 ms (nothing if empty) while
/// reading; returns what the hub sent and how the stream ended. Fails if
/// the hub keeps the connection open for [`common::DEADLINE`].
async fn held_open(addr: SocketAddr, drip: Vec<u8>) -> (Vec<u8>, End) {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        for byte in drip {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if wr.write_all(&[byte]).await.is_err() {
                break;
            }
        }
        // Keep the write half open: closing it would end the handshake
        // for another reason.
        std::future::pending::<()>().await;
    });
    let deadline = tokio::time::Instant::now() + common::DEADLINE;
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        match tokio::time::timeout_at(deadline, rd.read(&mut buf)).await {
            Err(_) => panic!("the hub kept a connection open for {:?}", common::DEADLINE),
            Ok(Ok(0)) => break End::Eof,
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Ok(Err(e)) => break End::Failed(e.kind()),
        }
    };
    writer.abort();
    (received, end)
}

/// The frame bodies in `bytes` (length-prefixed, complete ones only).
fn frames_of(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let mut acc = Box::new(
        memwire::codec::FrameAccumulator::<{ common::RAW_MAX }>::length_prefix(common::RAW_MAX),
    );
    let mut input = bytes;
    loop {
        match acc.feed(input) {
            memwire::codec::Feed::Frame { body, rest } => {
                frames.push(body.to_vec());
                input = rest;
            }
            memwire::codec::Feed::Pending => return frames,
            memwire::codec::Feed::Error { error, .. } => {
                panic!("bad framing from the hub: {error}")
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_handshakes_are_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root_dir = dir.path().join("regions");
    let root = Root::new(&root_dir);
    let hub = common::start(
        dir.path(),
        &config_text(&root_dir, "handshake_ms = 1000", 8),
    )
    .await;
    let addr = hub.tcp_addr().expect("tcp");

    // A well-formed hello and auth, far too slowly: a byte per 300 ms.
    let hello = common::body(&Frame::Hello(Hello {
        version: PROTOCOL_VERSION,
        max_frame: 65_536,
        client: "ops",
        tenant: "t",
    }));
    let mut drip = framed(&hello);
    drip.extend(framed(&common::body(&Frame::Auth(Auth { proof: [7; 32] }))));
    let slow: Vec<_> = (0..5)
        .map(|_| tokio::spawn(held_open(addr, drip.clone())))
        .collect();
    let idle: Vec<_> = (0..5)
        .map(|_| tokio::spawn(held_open(addr, Vec::new())))
        .collect();

    // Meanwhile a normal client gets in and syncs.
    let client = Client::connect(&format!("tcp://{addr}"), options("ops", "t", "ops-secret"))
        .await
        .expect("connect");
    let mirror = client.subscribe("t/small").await.expect("subscribe");
    tick(&root, "t/small", 11);
    common::eventually("an update reaches the normal client", || {
        mirror.get::<u64>("tick").ok() == Some(11)
    })
    .await;

    for task in idle {
        let (received, end) = task.await.expect("idle connection");
        assert_eq!(
            closing_error(&frames_of(&received)),
            Some(ErrorCode::HandshakeTimeout),
            "idle connection, ended by {end:?}"
        );
        assert_eq!(end, End::Eof);
    }
    for task in slow {
        let (received, end) = task.await.expect("slow connection");
        let code = closing_error(&frames_of(&received));
        // A byte the hub did not read when it closed makes the kernel reset
        // the connection, which may drop the error frame on the way.
        assert!(
            code == Some(ErrorCode::HandshakeTimeout) || (code.is_none() && end != End::Eof),
            "slow connection: {code:?}, ended by {end:?}"
        );
    }
    assert_eq!(
        client.connections(),
        1,
        "the normal client was never dropped"
    );
    client.close().await;
    hub.shutdown().await;
}

/// Whether the kernel holds an established TCP connection from local port
/// `local` to remote port `remote` (Linux: `/proc/net/tcp`). The hub's side
/// of a connection leaves that state once the hub closes it, even while
/// the data it queued is still waiting for the peer to read.
fn established(local: u16, remote: u16) -> bool {
    const ESTABLISHED: &str = "01";
    let port = |field: &str| {
        field
            .rsplit_once(':')
            .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
    };
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|table| {
        std::fs::read_to_string(table)
            .unwrap_or_default()
            .lines()
            .skip(1)
            .any(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                matches!(fields.as_slice(), [_, l, r, st, ..]
                    if port(l) == Some(local) && port(r) == Some(remote) && *st == ESTABLISHED)
            })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_consumer_is_dropped_without_slowing_others() {
    const BIG: usize = 4 << 20;
    let dir = tempfile::tempdir().expect("tempdir");
    let root_dir = dir.path().join("regions");
    let root = Root::new(&root_dir);
    // Long keep-alive and timeout: the only reason left to drop the
    // consumer is the outbound cap.
    let limits =
        "outbound_cap = 65536\nmax_frame = 65536\nkeepalive_ms = 30000\ntimeout_ms = 60000";
    let hub = common::start(dir.path(), &config_text(&root_dir, limits, BIG)).await;
    let addr = hub.tcp_addr().expect("tcp");

    let client = Client::connect(&format!("tcp://{addr}"), options("ops", "t", "ops-secret"))
        .await
        .expect("connect");
    let mirror = client.subscribe("t/big").await.expect("subscribe");

    // A consumer with a tiny receive window that subscribes and then never
    // reads again.
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let stream = socket.connect(addr).await.expect("connect");
    let consumer_port = stream.local_addr().expect("local addr").port();
    let mut consumer = Raw::new(stream);
    consumer
        .authenticate("t", "ops", b"ops-secret")
        .await
        .expect("authenticated");
    consumer
        .send(&Frame::Subscribe(Subscribe {
            handle: 0,
            path: "t/big",
            resume: None,
            variables: false,
            full: false,
        }))
        .await;
    assert!(
        established(addr.port(), consumer_port),
        "found in /proc/net/tcp"
    );

    // A local writer rewrites the whole region a few times (updates far
    // larger than the socket buffers and the cap), then keeps ticking.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (root, stop) = (root.clone(), Arc::clone(&stop));
        tokio::task::spawn_blocking(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let writer = ShmWriter::open(&root, "t/big").expect("local writer");
                if i <= 3 {
                    let blob = vec![u8::try_from(i).expect("small"); BIG];
                    let id = writer.schema().find("blob").expect("blob");
                    writer.write(id, &blob).expect("blob");
                }
                writer.set_by_name("tick", i).expect("tick");
                drop(writer);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };

    // The hub drops the consumer...
    let deadline = tokio::time::Instant::now() + SLOW_CONSUMER_GRACE + common::DEADLINE;
    while established(addr.port(), consumer_port) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the hub kept a consumer that does not read"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // ... while the other client's updates keep flowing.
    let seen = mirror.generation();
    common::eventually("the normal client keeps receiving updates", || {
        mirror.generation() > seen
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    writer.await.expect("writer");
    common::converges(&mirror, &root).await;
    assert_eq!(
        client.connections(),
        1,
        "the normal client was never dropped"
    );

    // What the consumer finally reads ends in a close, and is bounded:
    // updates coalesced instead of queueing every rewrite.
    let (frames, end) = consumer.until_end().await;
    let bytes: usize = frames.iter().map(Vec::len).sum();
    assert!(
        bytes < 3 * BIG,
        "the consumer was queued {bytes} bytes ({end:?})"
    );
    client.close().await;
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_limit_are_told_the_hub_is_full() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root_dir = dir.path().join("regions");
    let hub = common::start(
        dir.path(),
        &config_text(&root_dir, "max_connections = 2", 8),
    )
    .await;
    let url = format!("tcp://{}", hub.tcp_addr().expect("tcp"));
    let first = Client::connect(&url, options("ops", "t", "ops-secret"))
        .await
        .expect("first");
    let second = Client::connect(&url, options("ops", "t", "ops-secret"))
        .await
        .expect("second");

    // A third is told the hub is full, then closed.
    let mut third = Raw::connect(hub.tcp_addr().expect("tcp")).await;
    let (frames, end) = third.until_end().await;
    assert_eq!(
        closing_error(&frames),
        Some(ErrorCode::Busy),
        "the third connection was not told the hub is full ({end:?})"
    );
    let reason = match Frame::decode(&frames[0]) {
        Ok(Frame::Error(e)) => e.reason.to_owned(),
        other => panic!("expected an error frame, got {other:?}"),
    };
    assert_eq!(reason, "hub full");
    // A client that sends its hello at once reads the same (or, if the
    // hello arrived after the hub closed, sees the reset that caused).
    let mut quick = options("ops", "t", "ops-secret");
    quick.connect_timeout = Duration::from_secs(3);
    let refused = Client::connect(&url, quick.clone()).await;
    assert!(
        matches!(
            refused,
            Err(ClientError::Refused(ErrorCode::Busy) | ClientError::Disconnected)
        ),
        "a third client was not refused: {refused:?}"
    );
    // A flood past the limit is answered alike, each connection at once.
    let addr = hub.tcp_addr().expect("tcp");
    let flood: Vec<_> = (0..64)
        .map(|_| {
            tokio::spawn(async move {
                let mut raw = Raw::connect(addr).await;
                closing_error(&raw.until_end().await.0)
            })
        })
        .collect();
    for connection in flood {
        assert_eq!(connection.await.expect("task"), Some(ErrorCode::Busy));
    }

    // The two admitted are served.
    first.subscribe("t/small").await.expect("first subscribes");
    second
        .subscribe("t/small")
        .await
        .expect("second subscribes");

    // A place freed is a place taken.
    first.close().await;
    let deadline = tokio::time::Instant::now() + common::DEADLINE;
    let again = loop {
        match Client::connect(&url, quick.clone()).await {
            Ok(client) => break client,
            Err(e) => assert!(
                tokio::time::Instant::now() < deadline,
                "no place freed after a client left: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    again.subscribe("t/small").await.expect("subscribes");
    again.close().await;
    second.close().await;
    hub.shutdown().await;
}
