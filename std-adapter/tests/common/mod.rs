//! What the hub end-to-end tests share: configurations in a temporary
//! directory, waiting for a condition, and a raw protocol peer that speaks
//! frames over a plain TCP socket (to do what a well-behaved client never
//! does).

// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use memwire::codec::{
    Auth, ErrorCode, Feed, Frame, FrameAccumulator, Framing, Hello, NONCE_LEN, PROTOCOL_VERSION,
};
use memwire::session::auth;
use memwire_std::client::{Client, ClientOptions, Mirror};
use memwire_std::hub::{Config, Hub};
use memwire_std::shm::{Root, ShmRegion, ShmWriter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long any awaited condition may take before the test fails. Far above
/// what any of them needs: it only bounds a hang.
pub(crate) const DEADLINE: Duration = Duration::from_secs(10);

/// The largest frame body the raw peer takes: the hub's default maximum.
pub(crate) const RAW_MAX: usize = 65_536;

/// `path` as a TOML basic string.
pub(crate) fn toml_path(path: &Path) -> String {
    // Debug formatting escapes `\` and `"` as TOML does.
    format!("{:?}", path.display().to_string())
}

/// Parses a configuration whose relative paths are read from `dir`.
pub(crate) fn config(dir: &Path, text: &str) -> Config {
    Config::parse(text, "test.toml", dir).unwrap_or_else(|e| panic!("config: {e}\n{text}"))
}

/// Starts a hub on `text`.
pub(crate) async fn start(dir: &Path, text: &str) -> Hub {
    Hub::start(config(dir, text))
        .await
        .unwrap_or_else(|e| panic!("hub: {e}"))
}

/// A hub on `text`, a client of it over TCP as `(name, tenant, secret)`,
/// and the hub's root (`regions` under `dir`).
pub(crate) async fn hub_and_client(
    dir: &Path,
    text: &str,
    (name, tenant, secret): (&str, &str, &str),
) -> (Hub, Client, Root) {
    let hub = start(dir, text).await;
    let url = format!("tcp://{}", hub.tcp_addr().expect("tcp"));
    let client = Client::connect(&url, options(name, tenant, secret))
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    (hub, client, Root::new(dir.join("regions")))
}

/// Writes variable `count` of region `path` through a local writer,
/// released at once.
pub(crate) fn set_count(root: &Root, path: &str, count: u64) {
    let writer = ShmWriter::open(root, path).expect("local writer");
    writer.set_by_name("count", count).expect("write");
}

/// Client options that reconnect quickly.
pub(crate) fn options(name: &str, tenant: &str, secret: &str) -> ClientOptions {
    let mut options = ClientOptions::new(name, tenant, secret);
    options.reconnect_min = Duration::from_millis(50);
    options.reconnect_max = Duration::from_millis(400);
    options.connect_timeout = Duration::from_secs(5);
    options
}

/// Waits until `done` holds, failing the test after [`DEADLINE`].
pub(crate) async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The generation and data area of region `path` as its file holds them.
pub(crate) fn file_snapshot(root: &Root, path: &str) -> (u64, Vec<u8>) {
    let region = ShmRegion::open(root, path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut data = vec![0u8; region.data_len()];
    let generation = region
        .snapshot(&mut data)
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    (generation, data)
}

/// Waits until `mirror` holds exactly what the region file holds: the same
/// generation and the same bytes.
pub(crate) async fn converges(mirror: &Mirror, root: &Root) {
    let path = mirror.path().to_owned();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let (generation, data) = mirror.snapshot().expect("mirror snapshot");
        let (file_generation, file_data) = file_snapshot(root, &path);
        if generation == file_generation && data == file_data {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            let differ = data.iter().zip(&file_data).filter(|(a, b)| a != b).count();
            panic!(
                "{path}: the mirror (generation {generation}) is not the region file \
                 (generation {file_generation}) within {DEADLINE:?}: {differ} bytes differ"
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A small deterministic generator (xorshift64*), for reproducible bytes.
#[derive(Clone, Debug)]
pub(crate) struct XorShift(u64);

impl XorShift {
    /// A generator from a non-zero seed.
    pub(crate) fn new(seed: u64) -> XorShift {
        XorShift(seed.max(1))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (n > 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// `len` random bytes.
    pub(crate) fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64().to_le_bytes()[7]).collect()
    }
}

/// The encoded body of `frame`.
pub(crate) fn body(frame: &Frame<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; frame.encoded_len()];
    let n = frame.encode(&mut buf).expect("encode");
    buf.truncate(n);
    buf
}

/// `body` with its length prefix.
pub(crate) fn framed(body: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; body.len() + 5];
    let n = Framing::LengthPrefix.wrap(body, &mut buf).expect("wrap");
    buf.truncate(n);
    buf
}

/// The error a hub closed a connection with, from the frames it sent last:
/// an error frame, optionally followed by a close frame. `None` if it sent
/// nothing. Fails the test on anything else.
pub(crate) fn closing_error(frames: &[Vec<u8>]) -> Option<ErrorCode> {
    let decoded: Vec<Frame<'_>> = frames
        .iter()
        .map(|f| Frame::decode(f).unwrap_or_else(|e| panic!("the hub sent a bad frame: {e}")))
        .collect();
    match decoded.as_slice() {
        [] => None,
        [Frame::Error(e)] | [Frame::Error(e), Frame::Close] if e.handle.is_none() => Some(e.code),
        other => panic!("expected an error frame and a close, got {other:?}"),
    }
}

/// How a stream ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// The peer closed it in order.
    Eof,
    /// A read failed (the peer reset it).
    Failed(io::ErrorKind),
}

/// A protocol peer over a raw TCP socket: frames in and out, nothing
/// checked or answered unless the test does it.
pub(crate) struct Raw {
    pub(crate) stream: TcpStream,
    frames: Box<FrameAccumulator<RAW_MAX>>,
    pending: Vec<u8>,
    /// Every byte written, for replays.
    pub(crate) sent: Vec<u8>,
    /// Each subscription's reference, as a client follows it.
    references: std::collections::BTreeMap<u16, memwire::codec::UpdateReference>,
    /// The base and generation of the last update part read, if the last
    /// frame read was one (`None` for a part no client could place).
    pub(crate) last_update: Option<(u64, u64)>,
}

impl Raw {
    pub(crate) async fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        Raw::new(stream)
    }

    pub(crate) fn new(stream: TcpStream) -> Raw {
        Raw {
            stream,
            frames: Box::new(FrameAccumulator::length_prefix(RAW_MAX)),
            pending: Vec::new(),
            sent: Vec::new(),
            references: std::collections::BTreeMap::new(),
            last_update: None,
        }
    }

    /// Follows each subscription's reference through the frames read, as
    /// a client does, to name each update part's base and generation.
    fn follow(&mut self, body: &[u8]) {
        self.last_update = None;
        match Frame::decode(body) {
            Ok(Frame::Schema(s)) => self.references.entry(s.handle).or_default().reset(),
            Ok(Frame::Update(u)) => {
                self.last_update = self.references.entry(u.handle).or_default().take(&u);
            }
            _ => {}
        }
    }

    /// Writes `bytes` as they are.
    pub(crate) async fn send_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.sent.extend_from_slice(bytes);
        self.stream.write_all(bytes).await
    }

    /// Writes `frame`, length-prefixed.
    pub(crate) async fn send(&mut self, frame: &Frame<'_>) {
        let bytes = framed(&body(frame));
        self.send_bytes(&bytes).await.expect("send a frame");
    }

    /// The next frame body from the hub, or how the stream ended. Fails the
    /// test after [`DEADLINE`] or on bytes that are not frames.
    pub(crate) async fn next(&mut self) -> Result<Vec<u8>, End> {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            if !self.pending.is_empty() {
                let input = std::mem::take(&mut self.pending);
                match self.frames.feed(&input) {
                    Feed::Pending => {}
                    Feed::Frame { body, rest } => {
                        let body = body.to_vec();
                        self.pending = rest.to_vec();
                        self.follow(&body);
                        return Ok(body);
                    }
                    Feed::Error { error, .. } => panic!("the hub sent bad framing: {error}"),
                }
            }
            let read = tokio::time::timeout(DEADLINE, self.stream.read(&mut buf)).await;
            match read {
                Err(_) => panic!("no frame and no close from the hub within {DEADLINE:?}"),
                Ok(Ok(0)) => return Err(End::Eof),
                Ok(Ok(n)) => self.pending.extend_from_slice(&buf[..n]),
                Ok(Err(e)) => return Err(End::Failed(e.kind())),
            }
        }
    }

    /// The next frame body; fails the test if the stream ends.
    pub(crate) async fn expect_frame(&mut self) -> Vec<u8> {
        match self.next().await {
            Ok(body) => body,
            Err(end) => panic!("expected a frame, the stream ended: {end:?}"),
        }
    }

    /// Reads every frame until the hub ends the stream (within
    /// [`DEADLINE`]).
    pub(crate) async fn until_end(&mut self) -> (Vec<Vec<u8>>, End) {
        let mut frames = Vec::new();
        loop {
            match self.next().await {
                Ok(body) => frames.push(body),
                Err(end) => return (frames, end),
            }
        }
    }

    /// Sends a hello for `client` of `tenant`; returns its body.
    pub(crate) async fn hello(&mut self, tenant: &str, client: &str) -> Vec<u8> {
        let hello = body(&Frame::Hello(Hello {
            version: PROTOCOL_VERSION,
            max_frame: u32::try_from(RAW_MAX).expect("fits"),
            client,
            tenant,
        }));
        self.send_bytes(&framed(&hello)).await.expect("send hello");
        hello
    }

    /// Reads the challenge's nonce.
    pub(crate) async fn challenge(&mut self) -> [u8; NONCE_LEN] {
        let frame = self.expect_frame().await;
        match Frame::decode(&frame) {
            Ok(Frame::Challenge(c)) => c.nonce,
            other => panic!("expected a challenge, got {other:?}"),
        }
    }

    /// The whole handshake; `Err` with the hub's error code if refused.
    pub(crate) async fn authenticate(
        &mut self,
        tenant: &str,
        client: &str,
        secret: &[u8],
    ) -> Result<(), ErrorCode> {
        let hello = self.hello(tenant, client).await;
        let nonce = self.challenge().await;
        let proof = auth::proof(secret, &nonce, &hello);
        self.send(&Frame::Auth(Auth { proof })).await;
        let answer = self.expect_frame().await;
        match Frame::decode(&answer) {
            Ok(Frame::Welcome(_)) => Ok(()),
            Ok(Frame::Error(e)) => Err(e.code),
            other => panic!("expected a welcome, got {other:?}"),
        }
    }
}
