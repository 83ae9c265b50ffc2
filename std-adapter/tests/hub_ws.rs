//! WebSocket: a hub listening on `listen.ws` (and `listen.wss`) serves the
//! same sessions as over TCP, one frame body per binary message; what a
//! peer sends that is no frame (text, oversize or oversize fragmented
//! messages, ping floods, garbage) and a peer that stops reading end only
//! that connection, with a close code saying why, while another client
//! goes on.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{DEADLINE, body, options};
use futures_util::{SinkExt, StreamExt};
use memwire::codec::{Auth, ErrorCode, Frame, Hello, PROTOCOL_VERSION, Subscribe};
use memwire::session::auth;
use memwire_std::client::{Client, ClientError, Mirror};
use memwire_std::hub::SLOW_CONSUMER_GRACE;
use memwire_std::shm::{Root, ShmWriter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame as WsFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};

/// The hub's largest frame in these tests: small, so that oversize
/// messages are cheap to send.
const MAX_FRAME: usize = 4096;
/// The `blob` of region `big`: updates far larger than any buffer.
const BIG: usize = 4 << 20;

fn config_text(extra_listen: &str) -> String {
    format!(
        r#"
root = "regions"
[listen]
tcp = ""
ws = "127.0.0.1:0"
http = "127.0.0.1:0"
{extra_listen}
[limits]
max_frame = {MAX_FRAME}
outbound_cap = {MAX_FRAME}
keepalive_ms = 30000
timeout_ms = 60000
[[tenant]]
name = "t"
[[tenant.client]]
name = "ops"
secret = "ops-secret"
rights = [{{ regions = "*", access = "read-write" }}]
[[tenant.client]]
name = "viewer"
secret = "viewer-secret"
rights = [{{ regions = "*", access = "read" }}]
[[tenant.region]]
name = "line"
variables = [
  {{ name = "tick", kind = "u64" }},
  {{ name = "setpoint", kind = "f32", writable = true }},
]
[[tenant.region]]
name = "big"
variables = [
  {{ name = "tick", kind = "u64" }},
  {{ name = "blob", kind = "bytes", count = {BIG} }},
]
"#
    )
}

fn root(dir: &tempfile::TempDir) -> Root {
    Root::new(dir.path().join("regions"))
}

fn set_tick(root: &Root, path: &str, tick: u64) {
    let writer = ShmWriter::open(root, path).expect("local writer");
    writer.set_by_name("tick", tick).expect("tick");
}

/// The samples of the hub's `/metrics`.
async fn scrape(addr: SocketAddr) -> HashMap<String, f64> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = "GET /metrics HTTP/1.1\r\nHost: hub\r\n\r\n";
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    let (_, text) = answer.split_once("\r\n\r\n").expect("a head and a body");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn sample(samples: &HashMap<String, f64>, name: &str) -> f64 {
    samples.get(name).copied().unwrap_or(0.0)
}

/// A WebSocket peer speaking raw messages: frames in and out, nothing
/// answered unless the test does it.
struct Peer {
    ws: WebSocketStream<TcpStream>,
}

/// How a raw peer's connection ended.
#[derive(Debug)]
enum End {
    /// A close message with this code and reason.
    Closed(CloseCode, String),
    /// No close message: the stream ended or failed.
    Dropped,
}

impl Peer {
    async fn connect(addr: SocketAddr) -> Peer {
        let stream = TcpStream::connect(addr).await.expect("connect");
        Peer::over(stream, addr).await
    }

    async fn over(stream: TcpStream, addr: SocketAddr) -> Peer {
        let (ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/"), stream)
            .await
            .expect("WebSocket upgrade");
        Peer { ws }
    }

    async fn send(&mut self, message: Message) {
        self.ws.send(message).await.expect("send a message");
    }

    async fn frame(&mut self, frame: &Frame<'_>) {
        self.send(Message::binary(body(frame))).await;
    }

    /// The next binary message, or how the connection ended.
    async fn next(&mut self) -> Result<Vec<u8>, End> {
        loop {
            let message = tokio::time::timeout(DEADLINE, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("no message and no close within {DEADLINE:?}"));
            match message {
                Some(Ok(Message::Binary(bytes))) => return Ok(bytes.to_vec()),
                Some(Ok(Message::Close(Some(close)))) => {
                    return Err(End::Closed(close.code, close.reason.to_string()));
                }
                Some(Ok(Message::Close(None))) | None | Some(Err(_)) => return Err(End::Dropped),
                Some(Ok(_)) => {}
            }
        }
    }

    /// Reads until the connection ends; the binary messages and the end.
    async fn until_end(&mut self) -> (Vec<Vec<u8>>, End) {
        let mut messages = Vec::new();
        loop {
            match self.next().await {
                Ok(m) => messages.push(m),
                Err(end) => return (messages, end),
            }
        }
    }

    /// The handshake as `client` of tenant `t`.
    async fn authenticate(&mut self, client: &str, secret: &[u8]) {
        let hello = body(&Frame::Hello(Hello {
            version: PROTOCOL_VERSION,
            max_frame: u32::try_from(MAX_FRAME).expect("fits"),
            client,
            tenant: "t",
        }));
        self.send(Message::binary(hello.clone())).await;
        let challenge = self.next().await.expect("a challenge");
        let Ok(Frame::Challenge(c)) = Frame::decode(&challenge) else {
            panic!("expected a challenge, got {challenge:02x?}");
        };
        let proof = auth::proof(secret, &c.nonce, &hello);
        self.frame(&Frame::Auth(Auth { proof })).await;
        let welcome = self.next().await.expect("a welcome");
        assert!(
            matches!(Frame::decode(&welcome), Ok(Frame::Welcome(_))),
            "expected a welcome, got {welcome:02x?}"
        );
    }
}

/// The closing code of what a peer got after misbehaving.
async fn closed_with(peer: &mut Peer) -> (CloseCode, String) {
    match peer.until_end().await {
        (_, End::Closed(code, reason)) => (code, reason),
        (_, end) => panic!("expected a close message, got {end:?}"),
    }
}

/// A local tick reaches `mirror`: the well-behaved client goes on.
async fn still_served(root: &Root, mirror: &Mirror, tick: u64) {
    set_tick(root, "t/line", tick);
    common::eventually("the other client still gets updates", || {
        mirror.get::<u64>("tick").ok() == Some(tick)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_over_websocket_mirrors_and_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = common::start(dir.path(), &config_text("")).await;
    let root = root(&dir);
    let ws = hub.ws_addr().expect("listen.ws");
    let http = hub.http_addr().expect("listen.http");

    let client = Client::connect(&format!("ws://{ws}/"), options("ops", "t", "ops-secret"))
        .await
        .expect("connect over WebSocket");
    let mirror = client.subscribe("t/line").await.expect("subscribe");
    set_tick(&root, "t/line", 41);
    common::eventually("a local change reaches the mirror", || {
        mirror.get::<u64>("tick").ok() == Some(41)
    })
    .await;
    let generation = mirror.set("setpoint", 0.5f32).await.expect("write");
    common::eventually("the write comes back", || mirror.generation() >= generation).await;
    common::converges(&mirror, &root).await;
    assert_eq!(mirror.get::<f32>("setpoint").expect("setpoint"), 0.5);

    // Rights hold as over TCP.
    let viewer = Client::connect(
        &format!("ws://{ws}"),
        options("viewer", "t", "viewer-secret"),
    )
    .await
    .expect("viewer");
    let seen = viewer.subscribe("t/line").await.expect("viewer subscribes");
    let refused = seen.set("setpoint", 2.0f32).await;
    assert!(
        matches!(refused, Err(ClientError::Hub(ErrorCode::AccessDenied))),
        "{refused:?}"
    );
    let wrong = Client::connect(&format!("ws://{ws}"), options("ops", "t", "nope")).await;
    assert!(
        matches!(wrong, Err(ClientError::Refused(ErrorCode::AuthFailed))),
        "a wrong secret is refused over WebSocket too: {wrong:?}"
    );

    let samples = scrape(http).await;
    assert!(
        sample(&samples, r#"memwire_connections_total{transport="WS"}"#) >= 3.0,
        "{samples:?}"
    );
    assert_eq!(
        sample(&samples, r#"memwire_connections_open{transport="WS"}"#),
        2.0
    );
    viewer.close().await;
    client.close().await;
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_websocket_uses_the_tls_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    std::fs::write(dir.path().join("cert.pem"), certified.cert.pem()).expect("cert.pem");
    std::fs::write(
        dir.path().join("key.pem"),
        certified.signing_key.serialize_pem(),
    )
    .expect("key.pem");
    let tls = "wss = \"127.0.0.1:0\"\n[listen.tls]\naddr = \"127.0.0.1:0\"\ncert = \"cert.pem\"\nkey = \"key.pem\"";
    let hub = common::start(dir.path(), &config_text(tls)).await;
    let root = root(&dir);
    let port = hub.wss_addr().expect("listen.wss").port();

    let mut trusting = options("ops", "t", "ops-secret");
    trusting.tls_roots = vec![certified.cert.der().clone()];
    let client = Client::connect(&format!("wss://localhost:{port}/"), trusting)
        .await
        .expect("connect over secure WebSocket");
    let mirror = client.subscribe("t/line").await.expect("subscribe");
    set_tick(&root, "t/line", 7);
    common::eventually("a change reaches the wss client", || {
        mirror.get::<u64>("tick").ok() == Some(7)
    })
    .await;
    mirror
        .set("setpoint", 1.5f32)
        .await
        .expect("write over wss");

    let mut untrusting = options("ops", "t", "ops-secret");
    untrusting.connect_timeout = Duration::from_secs(3);
    let refused = Client::connect(&format!("wss://localhost:{port}/"), untrusting).await;
    assert!(refused.is_err(), "an untrusted certificate fails");
    client.close().await;
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_messages_close_only_their_connection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = common::start(dir.path(), &config_text("")).await;
    let root = root(&dir);
    let ws = hub.ws_addr().expect("listen.ws");
    let client = Client::connect(&format!("ws://{ws}"), options("ops", "t", "ops-secret"))
        .await
        .expect("connect");
    let mirror = client.subscribe("t/line").await.expect("subscribe");

    // A text message.
    let mut peer = Peer::connect(ws).await;
    peer.send(Message::text("hello")).await;
    let (code, reason) = closed_with(&mut peer).await;
    assert_eq!(code, CloseCode::Unsupported, "{reason}");
    assert!(reason.contains("text"), "{reason}");
    still_served(&root, &mirror, 1).await;

    // A message one byte over the largest frame, before and after login,
    // and one far over it, most of which the hub never reads: the close
    // message still reaches the peer (not a reset over unread bytes).
    for (login, size) in [
        (false, MAX_FRAME + 1),
        (true, MAX_FRAME + 1),
        (false, 64 * MAX_FRAME),
        (true, 64 * MAX_FRAME),
    ] {
        let mut peer = Peer::connect(ws).await;
        if login {
            peer.authenticate("ops", b"ops-secret").await;
        }
        peer.send(Message::binary(vec![0u8; size])).await;
        let (code, reason) = closed_with(&mut peer).await;
        assert_eq!(code, CloseCode::Size, "{reason}");
        assert!(reason.contains(&MAX_FRAME.to_string()), "{reason}");
    }
    still_served(&root, &mirror, 2).await;

    // Fragments are reassembled within the bound: a hello in two pieces
    // is answered with a challenge…
    let mut peer = Peer::connect(ws).await;
    let hello = body(&Frame::Hello(Hello {
        version: PROTOCOL_VERSION,
        max_frame: 4096,
        client: "ops",
        tenant: "t",
    }));
    let (first, second) = hello.split_at(3);
    peer.send(Message::Frame(WsFrame::message(
        first.to_vec(),
        OpCode::Data(Data::Binary),
        false,
    )))
    .await;
    peer.send(Message::Frame(WsFrame::message(
        second.to_vec(),
        OpCode::Data(Data::Continue),
        true,
    )))
    .await;
    let challenge = peer.next().await.expect("a challenge");
    assert!(matches!(Frame::decode(&challenge), Ok(Frame::Challenge(_))));
    // …and refused past it, though each fragment is within it.
    let piece = vec![0u8; MAX_FRAME / 2 + 1];
    peer.send(Message::Frame(WsFrame::message(
        piece.clone(),
        OpCode::Data(Data::Binary),
        false,
    )))
    .await;
    let _ = peer
        .ws
        .send(Message::Frame(WsFrame::message(
            piece,
            OpCode::Data(Data::Continue),
            true,
        )))
        .await;
    let (code, reason) = closed_with(&mut peer).await;
    assert_eq!(code, CloseCode::Size, "{reason}");
    still_served(&root, &mirror, 3).await;

    // A ping flood: answered at first, then closed.
    let mut peer = Peer::connect(ws).await;
    for i in 0..200u32 {
        if peer
            .ws
            .send(Message::Ping(i.to_le_bytes().to_vec().into()))
            .await
            .is_err()
        {
            break;
        }
    }
    let (code, reason) = closed_with(&mut peer).await;
    assert_eq!(code, CloseCode::Policy, "{reason}");
    assert!(reason.contains("ping"), "{reason}");
    still_served(&root, &mirror, 4).await;

    // Garbage in a binary message is the session's to refuse, as over TCP:
    // an Error frame, then the close.
    let mut peer = Peer::connect(ws).await;
    peer.send(Message::binary(vec![0xffu8, 0x01])).await;
    let (messages, end) = peer.until_end().await;
    assert_eq!(
        common::closing_error(&messages),
        Some(ErrorCode::Malformed),
        "{end:?}"
    );
    still_served(&root, &mirror, 5).await;

    assert_eq!(client.connections(), 1, "the good client was never dropped");
    client.close().await;
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_consumer_that_stops_reading_is_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = common::start(dir.path(), &config_text("")).await;
    let root = root(&dir);
    let ws = hub.ws_addr().expect("listen.ws");
    let http = hub.http_addr().expect("listen.http");
    let client = Client::connect(&format!("ws://{ws}"), options("ops", "t", "ops-secret"))
        .await
        .expect("connect");
    let mirror = client.subscribe("t/line").await.expect("subscribe");

    // A consumer with a tiny receive window that subscribes to the big
    // region and then never reads again.
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let stream = socket.connect(ws).await.expect("connect");
    let mut consumer = Peer::over(stream, ws).await;
    consumer.authenticate("ops", b"ops-secret").await;
    consumer
        .frame(&Frame::Subscribe(Subscribe {
            handle: 0,
            path: "t/big",
            resume: None,
            variables: false,
            full: false,
        }))
        .await;

    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (root, stop) = (root.clone(), Arc::clone(&stop));
        tokio::task::spawn_blocking(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let writer = ShmWriter::open(&root, "t/big").expect("local writer");
                let blob = vec![u8::try_from(i % 251).expect("small"); BIG];
                let id = writer.schema().find("blob").expect("blob");
                writer.write(id, &blob).expect("blob");
                drop(writer);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };

    let deadline = tokio::time::Instant::now() + SLOW_CONSUMER_GRACE + DEADLINE;
    loop {
        let samples = scrape(http).await;
        if sample(&samples, "memwire_slow_consumer_drops_total") >= 1.0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the hub kept a WebSocket consumer that does not read"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    writer.await.expect("writer");
    still_served(&root, &mirror, 9).await;
    assert_eq!(client.connections(), 1, "the good client was never dropped");
    let open = sample(
        &scrape(http).await,
        r#"memwire_connections_open{transport="WS"}"#,
    );
    assert_eq!(open, 1.0, "only the good client's connection is open");
    client.close().await;
    hub.shutdown().await;
}
