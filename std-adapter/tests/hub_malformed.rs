//! Malformed and hostile bytes over real sockets: garbage, length prefixes
//! past the maximum or not minimal, frames of random bytes, frames out of
//! order and truncated frames, before and after authentication. Each
//! connection gets an error frame and a close (or just a close when it
//! ended first); the hub keeps serving everyone else.

mod common;

use std::net::SocketAddr;
use std::path::Path;

use common::{Raw, XorShift, body, closing_error, framed, options};
use memwire::codec::{
    Ack, Auth, ErrorCode, Feed, Frame, FrameAccumulator, Hello, PROTOCOL_VERSION, Subscribe, Write,
    WriteTarget, peek_hello_version,
};
use memwire::schema::Name;
use memwire_std::client::Client;
use memwire_std::shm::{Root, ShmWriter};
use tokio::io::AsyncWriteExt;

/// The hub's largest frame body (the default).
const MAX_FRAME: usize = 65_536;

fn config_text(root: &Path) -> String {
    format!(
        r#"
root = {root}
[listen]
tcp = "127.0.0.1:0"
[limits]
handshake_ms = 2000
max_frame = {MAX_FRAME}
[[tenant]]
name = "t"
[[tenant.client]]
name = "ops"
secret = "ops-secret"
rights = [{{ regions = "*", access = "read-write" }}]
[[tenant.region]]
name = "line"
variables = [
  {{ name = "tick", kind = "u64" }},
  {{ name = "setpoint", kind = "f32", writable = true }},
]
"#,
        root = common::toml_path(root),
    )
}

/// What a connection must end with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// An error frame with this code, then the close.
    Error(ErrorCode),
    /// The close, with or without an error frame.
    Close,
}

/// One hostile connection.
#[derive(Debug)]
struct Case {
    name: String,
    /// Authenticate first.
    open: bool,
    bytes: Vec<u8>,
    /// Close the write half after the bytes.
    half_close: bool,
    expect: Expect,
}

impl Case {
    fn new(name: impl Into<String>, bytes: Vec<u8>, expect: Expect) -> Case {
        Case {
            name: name.into(),
            open: false,
            bytes,
            half_close: false,
            expect,
        }
    }

    fn after_auth(mut self) -> Case {
        self.open = true;
        self
    }
}

/// What the wire format says the hub answers to `bytes` as the first bytes
/// of a connection (`open`: right after the welcome).
fn expected(bytes: &[u8], open: bool) -> Expect {
    let mut frames = Box::new(FrameAccumulator::<MAX_FRAME>::length_prefix(MAX_FRAME));
    let body = match frames.feed(bytes) {
        // Nothing whole yet: the handshake deadline ends it, or after the
        // handshake, nothing does (such cases are not generated).
        Feed::Pending if !open => return Expect::Error(ErrorCode::HandshakeTimeout),
        Feed::Pending => panic!("a case that leaves an open session waiting"),
        Feed::Error { error, .. } => {
            return Expect::Error(match error {
                memwire::codec::AccumulateError::TooLarge => ErrorCode::FrameTooLarge,
                _ => ErrorCode::Malformed,
            });
        }
        Feed::Frame { body, .. } => body,
    };
    if !open && peek_hello_version(body).is_some_and(|v| v != PROTOCOL_VERSION) {
        return Expect::Error(ErrorCode::UnsupportedVersion);
    }
    match (open, Frame::decode(body)) {
        (_, Err(_)) => Expect::Error(ErrorCode::Malformed),
        (false, Ok(Frame::Hello(_))) => panic!("random bytes made a hello: change the seed"),
        (false, Ok(_)) => Expect::Error(ErrorCode::UnexpectedFrame),
        (
            true,
            Ok(
                Frame::Hello(_)
                | Frame::Challenge(_)
                | Frame::Auth(_)
                | Frame::Welcome(_)
                | Frame::Schema(_)
                | Frame::Update(_)
                | Frame::WriteResult(_),
            ),
        ) => Expect::Error(ErrorCode::UnexpectedFrame),
        (true, Ok(other)) => panic!("random bytes made a valid {other:?}: change the seed"),
    }
}

/// Hand-made cases, each with the answer the wire format prescribes.
fn crafted() -> Vec<Case> {
    use ErrorCode::{FrameTooLarge, Malformed, UnexpectedFrame, UnsupportedVersion};
    let hello = body(&Frame::Hello(Hello {
        version: PROTOCOL_VERSION,
        max_frame: 65_536,
        client: "ops",
        tenant: "t",
    }));
    let subscribe = body(&Frame::Subscribe(Subscribe {
        handle: 1,
        path: "t/line",
        resume: None,
        variables: true,
    }));
    let value = 1.5f32.to_le_bytes();
    let write = body(&Frame::Write(Write {
        request: 1,
        handle: 1,
        target: WriteTarget::Variable {
            name: Name::new("setpoint").expect("name"),
            value: &value,
        },
    }));
    let auth = body(&Frame::Auth(Auth { proof: [1; 32] }));
    let ack = body(&Frame::Ack(Ack {
        handle: 1,
        generation: 3,
    }));
    let mut other_version = hello.clone();
    other_version[1] = 99;
    let mut trailing = hello.clone();
    trailing.push(0);
    let max = u32::try_from(MAX_FRAME).expect("fits");
    let leb = |mut v: u32| {
        let mut out = Vec::new();
        loop {
            let byte = u8::try_from(v & 0x7f).expect("7 bits");
            v >>= 7;
            if v == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    };
    let err = Expect::Error;
    let mut cases = vec![
        Case::new("prefix u32::MAX", leb(u32::MAX), err(FrameTooLarge)),
        Case::new("prefix max_frame + 1", leb(max + 1), err(FrameTooLarge)),
        Case::new("prefix over 32 bits", vec![0xff; 6], err(FrameTooLarge)),
        Case::new("zero length", vec![0], err(Malformed)),
        Case::new(
            "prefix not minimal",
            vec![0x85, 0x00, 1, 2, 3, 4, 5],
            err(Malformed),
        ),
        Case::new(
            "subscribe before hello",
            framed(&subscribe),
            err(UnexpectedFrame),
        ),
        Case::new("auth before hello", framed(&auth), err(UnexpectedFrame)),
        Case::new("write before hello", framed(&write), err(UnexpectedFrame)),
        Case::new("ack before hello", framed(&ack), err(UnexpectedFrame)),
        Case::new(
            "hello of version 99",
            framed(&other_version),
            err(UnsupportedVersion),
        ),
        Case::new(
            "hello with a trailing byte",
            framed(&trailing),
            err(Malformed),
        ),
        Case::new("unknown tag", framed(&[200, 1, 2, 3]), err(Malformed)),
        Case::new("text", b"GET / HTTP/1.1\r\n\r\n".to_vec(), Expect::Close),
        Case::new("hello again", framed(&hello), err(UnexpectedFrame)).after_auth(),
        Case::new("auth again", framed(&auth), err(UnexpectedFrame)).after_auth(),
        Case::new("frame too large", leb(max + 1), err(FrameTooLarge)).after_auth(),
        Case::new("zero length", vec![0], err(Malformed)).after_auth(),
        Case::new("unknown tag", framed(&[99]), err(Malformed)).after_auth(),
    ];
    // Truncated frames: the peer closes in the middle.
    for (name, open) in [("truncated hello", false), ("truncated write", true)] {
        let whole = framed(if open { &write } else { &hello });
        let mut case = Case::new(name, whole[..whole.len() / 2].to_vec(), Expect::Close);
        case.open = open;
        case.half_close = true;
        cases.push(case);
    }
    cases
}

/// Random cases from a fixed seed: garbage, and frames of a valid length
/// holding random bytes.
fn random() -> Vec<Case> {
    let mut rng = XorShift::new(0x6d65_6d77_6972_6531);
    let mut cases = Vec::new();
    for i in 0..16 {
        let len = usize::try_from(1 + rng.below(4096)).expect("small");
        let bytes = rng.bytes(len);
        let expect = expected(&bytes, false);
        cases.push(Case::new(
            format!("garbage #{i} ({len} bytes)"),
            bytes,
            expect,
        ));
    }
    for i in 0..32 {
        let open = i % 2 == 1;
        let len = usize::try_from(1 + rng.below(300)).expect("small");
        let bytes = framed(&rng.bytes(len));
        let expect = expected(&bytes, open);
        let case = Case::new(format!("random frame #{i} ({len} bytes)"), bytes, expect);
        cases.push(if open { case.after_auth() } else { case });
    }
    cases
}

async fn run(addr: SocketAddr, case: Case) -> Result<(), String> {
    let mut raw = Raw::connect(addr).await;
    if case.open {
        raw.authenticate("t", "ops", b"ops-secret")
            .await
            .map_err(|code| format!("{}: not authenticated: {code:?}", case.name))?;
    }
    // The hub may close before it has read everything; that is its right.
    let _ = raw.send_bytes(&case.bytes).await;
    if case.half_close {
        raw.stream
            .shutdown()
            .await
            .map_err(|e| format!("{}: {e}", case.name))?;
    }
    let (frames, end) = raw.until_end().await;
    let code = closing_error(&frames);
    match case.expect {
        Expect::Error(expected) if code != Some(expected) => Err(format!(
            "{}: expected {expected:?} and a close, got {code:?}, then {end:?}",
            case.name
        )),
        _ => Ok(()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bytes_get_an_error_and_a_close() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root_dir = dir.path().join("regions");
    let root = Root::new(&root_dir);
    let hub = common::start(dir.path(), &config_text(&root_dir)).await;
    let addr = hub.tcp_addr().expect("tcp");
    let url = format!("tcp://{addr}");

    // A client connected through it all.
    let bystander = Client::connect(&url, options("ops", "t", "ops-secret"))
        .await
        .expect("connect");
    let watched = bystander.subscribe("t/line").await.expect("subscribe");

    let mut tasks = tokio::task::JoinSet::new();
    for case in crafted().into_iter().chain(random()) {
        tasks.spawn(run(addr, case));
    }
    let mut failures = Vec::new();
    while let Some(done) = tasks.join_next().await {
        if let Err(failure) = done.expect("case task") {
            failures.push(failure);
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // The hub serves on: the bystander gets updates, a new client syncs.
    {
        let writer = ShmWriter::open(&root, "t/line").expect("local writer");
        writer.set_by_name("tick", 99u64).expect("tick");
    }
    common::eventually("the bystander still gets updates", || {
        watched.get::<u64>("tick").ok() == Some(99)
    })
    .await;
    assert_eq!(
        bystander.connections(),
        1,
        "the bystander was never dropped"
    );
    let late = Client::connect(&url, options("ops", "t", "ops-secret"))
        .await
        .expect("a new client connects");
    let mirror = late.subscribe("t/line").await.expect("subscribe");
    assert_eq!(mirror.get::<u64>("tick").expect("tick"), 99);
    mirror.set("setpoint", 2.0f32).await.expect("write");
    common::converges(&watched, &root).await;
    late.close().await;
    bystander.close().await;
    hub.shutdown().await;
}
