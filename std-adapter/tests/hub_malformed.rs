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
    Ack, Auth, ErrorCode, Frame, Hello, PROTOCOL_VERSION, Subscribe, Write, WriteOutcome,
    WriteTarget,
};
use memwire::schema::Name;
use memwire_std::client::Client;
use memwire_std::shm::{Root, ShmRegion, ShmWriter};
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

/// Unsigned LEB128, shortest form (`spec/wire-format.md` §2).
fn leb(mut v: u64) -> Vec<u8> {
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
}

/// What `spec/wire-format.md` says the hub answers to `bytes` as the first
/// bytes of a connection, worked out from the spec by hand (not with the
/// codec the hub uses): the length prefix (§3.1), the tag (§4) and the
/// version at the start of a hello (§4.2). `None` where that is not enough
/// to tell: a body that only a decoder of the fields could judge.
fn framing_oracle(bytes: &[u8]) -> Option<Expect> {
    let max = u64::try_from(MAX_FRAME).expect("fits");
    let mut len = 0u64;
    let mut prefix = 0;
    loop {
        let Some(&byte) = bytes.get(prefix) else {
            // The prefix goes on past the bytes sent: refused once its
            // smallest possible value is over the maximum, else waiting
            // until the handshake deadline.
            return Some(if prefix > 0 && len > max || prefix >= 5 {
                Expect::Error(ErrorCode::FrameTooLarge)
            } else {
                Expect::Error(ErrorCode::HandshakeTimeout)
            });
        };
        if prefix == 5 {
            // A sixth byte: more than 32 bits.
            return Some(Expect::Error(ErrorCode::FrameTooLarge));
        }
        len |= u64::from(byte & 0x7f) << (7 * prefix);
        prefix += 1;
        if len > max {
            return Some(Expect::Error(ErrorCode::FrameTooLarge));
        }
        if byte & 0x80 == 0 {
            if prefix > 1 && byte == 0 {
                return Some(Expect::Error(ErrorCode::Malformed));
            }
            break;
        }
    }
    if len > u64::from(u32::MAX) {
        return Some(Expect::Error(ErrorCode::FrameTooLarge));
    }
    if len == 0 {
        return Some(Expect::Error(ErrorCode::Malformed));
    }
    let len = usize::try_from(len).expect("fits");
    let Some(body) = bytes.get(prefix..prefix + len) else {
        return Some(Expect::Error(ErrorCode::HandshakeTimeout));
    };
    match body {
        // A tag of 15 or more, in one byte.
        [tag, ..] if (15..0x80).contains(tag) => Some(Expect::Error(ErrorCode::Malformed)),
        // A hello of a version other than 1, in one byte.
        [0, version, ..] if *version != 1 && *version < 0x80 => {
            Some(Expect::Error(ErrorCode::UnsupportedVersion))
        }
        _ => None,
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
        full: false,
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
    let max = u64::try_from(MAX_FRAME).expect("fits");
    let err = Expect::Error;
    let mut cases = vec![
        Case::new("prefix u32::MAX", leb(u32::MAX.into()), err(FrameTooLarge)),
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

/// Random cases from a fixed seed, each with the answer the spec gives by
/// construction, worked out by hand: garbage whose framing, tag or hello
/// version decides it (other garbage is drawn again), and frames laid out
/// field by field (§4) with random contents, whole or with trailing bytes.
fn random() -> Vec<Case> {
    use ErrorCode::{Malformed, UnexpectedFrame};
    let mut rng = XorShift::new(0x6d65_6d77_6972_6531);
    let mut cases = Vec::new();
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    while cases.len() < 16 {
        let len = usize::try_from(1 + rng.below(4096)).expect("small");
        let bytes = rng.bytes(len);
        if let Some(expect) = framing_oracle(&bytes) {
            *seen.entry(format!("{expect:?}")).or_default() += 1;
            let name = format!("garbage #{} ({len} bytes)", cases.len());
            cases.push(Case::new(
                name,
                bytes,
                Expect::Error(match expect {
                    Expect::Error(code) => code,
                    Expect::Close => unreachable!("the oracle names a code"),
                }),
            ));
        }
    }
    // The garbage reaches more than one answer.
    assert!(seen.len() >= 2, "garbage answers: {seen:?}");
    for i in 0..32 {
        let open = i % 2 == 1;
        // A frame the spec lays out by hand: (tag, fields).
        let (kind, tag, fields): (&str, u8, Vec<u8>) = match rng.below(4) {
            0 => (
                "unknown tag",
                u8::try_from(15 + rng.below(113)).expect("< 128"),
                {
                    let n = usize::try_from(rng.below(40)).expect("small");
                    rng.bytes(n)
                },
            ),
            // Auth: `proof: [u8; 32]`.
            1 => ("auth", 2, rng.bytes(32)),
            // Ping: `nonce: u64`.
            2 => ("ping", 6, leb(rng.next_u64())),
            // Ack: `handle: u16`, `generation: u64`.
            _ => ("ack", 12, {
                let mut f = leb(rng.below(1 << 16));
                f.extend(leb(rng.next_u64()));
                f
            }),
        };
        let mut body = vec![tag];
        body.extend(&fields);
        // Trailing bytes make any frame malformed (§2, "Whole input"); so
        // does a frame cut short, for the fixed 32-byte proof.
        let shape = rng.below(3);
        match shape {
            1 => {
                let n = usize::try_from(1 + rng.below(8)).expect("small");
                body.extend(rng.bytes(n));
            }
            2 if tag == 2 => body.truncate(1 + usize::try_from(rng.below(32)).expect("small")),
            _ => {}
        }
        let whole = shape == 0 || (shape == 2 && tag != 2);
        let expect = match (kind, whole, open) {
            ("unknown tag", _, _) | (_, false, _) => Malformed,
            // Before the hello only a hello is expected (§4.2); after the
            // welcome an auth is out of place.
            (_, true, false) | ("auth", true, true) => UnexpectedFrame,
            // A whole ping is answered and an ack of no subscription is
            // another matter: neither ends the connection as tested here.
            (_, true, true) => continue,
        };
        let name = format!("random {kind} #{i} ({} bytes)", body.len());
        let case = Case::new(name, framed(&body), Expect::Error(expect));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_writes_are_answered_before_the_close() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root_dir = dir.path().join("regions");
    let root = Root::new(&root_dir);
    let hub = common::start(dir.path(), &config_text(&root_dir)).await;
    let mut raw = Raw::connect(hub.tcp_addr().expect("tcp")).await;
    raw.authenticate("t", "ops", b"ops-secret")
        .await
        .expect("authenticated");
    // A subscribe and nine writes in one go, without reading an answer.
    let mut bytes = framed(&body(&Frame::Subscribe(Subscribe {
        handle: 1,
        path: "t/line",
        resume: None,
        variables: false,
        full: false,
    })));
    let values: Vec<[u8; 4]> = (1..=9u8).map(|v| f32::from(v).to_le_bytes()).collect();
    for (request, value) in (1u32..).zip(&values) {
        bytes.extend(framed(&body(&Frame::Write(Write {
            request,
            handle: 1,
            target: WriteTarget::Variable {
                name: Name::new("setpoint").expect("name"),
                value,
            },
        }))));
    }
    raw.send_bytes(&bytes).await.expect("send");
    let (frames, _) = raw.until_end().await;
    let decoded: Vec<Frame<'_>> = frames
        .iter()
        .map(|f| Frame::decode(f).expect("a frame"))
        .collect();
    let applied: Vec<u32> = decoded
        .iter()
        .filter_map(|f| match f {
            Frame::WriteResult(r) if matches!(r.outcome, WriteOutcome::Applied { .. }) => {
                Some(r.request)
            }
            _ => None,
        })
        .collect();
    assert_eq!(applied, (1..=8).collect::<Vec<u32>>(), "{decoded:?}");
    let tail = frames.len().saturating_sub(2);
    assert_eq!(
        closing_error(&frames[tail..]),
        Some(ErrorCode::LimitExceeded)
    );
    // The ninth changed nothing.
    let region = ShmRegion::open(&root, "t/line").expect("open");
    assert_eq!(
        region.get_by_name::<f32>("setpoint").expect("setpoint"),
        8.0
    );
    hub.shutdown().await;
}
