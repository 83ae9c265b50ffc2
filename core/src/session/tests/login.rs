//! The hub's handshake in its own small state ([`Handshake`]), then the
//! server built from it with [`Server::after_login`]: the bytes it answers
//! (fixtures from `spec/wire-format.md`, section 6), frames longer than any
//! handshake frame, and the two peers driven through both stages.

use std::vec;
use std::vec::Vec;

use super::*;
use crate::codec::{Frame, Framing, Write, WriteTarget};
use crate::session::{AuthFailure, Handshake, auth};

const NONCE: auth::Nonce = [0x11; 32];

/// The spec's worked Hello, framed: `{ version: 2, max_frame: 1024,
/// client: "probe", tenant: "acme" }`.
const HELLO: [u8; 16] = [
    0x0f, 0x00, 0x02, 0x80, 0x08, 0x05, b'p', b'r', b'o', b'b', b'e', 0x04, b'a', b'c', b'm', b'e',
];

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn handshake() -> Handshake {
    Handshake::new(at(0), ServerConfig::new(1), NONCE)
}

/// A framed frame.
fn framed(frame: &Frame<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; 1024];
    let n = Framing::LengthPrefix.encode(frame, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

/// The framed Auth with the right proof for [`HELLO`] and [`NONCE`].
fn auth_frame(secret: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x21, 0x02];
    frame.extend(auth::proof(secret, &NONCE, &HELLO[1..]));
    frame
}

/// Everything the handshake has to send now.
fn sent(h: &mut Handshake) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 128];
    while let Some(n) = h.poll_transmit(at(0), &mut buf) {
        out.extend_from_slice(&buf[..n]);
    }
    out
}

/// The code of the error frame first in `bytes`.
fn error_code(bytes: &[u8]) -> Option<ErrorCode> {
    let frames = split_frames(bytes);
    match Frame::decode(body(frames.first()?)) {
        Ok(Frame::Error(e)) => Some(e.code),
        _ => None,
    }
}

/// A Write frame body of 300 bytes: valid, and longer than any frame a
/// client may send before the welcome.
fn long_write() -> Vec<u8> {
    let value = [7u8; 280];
    let frame = framed(&Frame::Write(Write {
        request: 1,
        handle: 1,
        target: WriteTarget::Variable {
            name: Name::new("setpoint").unwrap(),
            value: &value,
        },
    }));
    assert!(body(&frame).len() > 256);
    frame
}

#[test]
fn a_handshake_is_small() {
    let size = core::mem::size_of::<Handshake>();
    assert!(size <= 1024, "{size} bytes");
    assert!(size * 16 < core::mem::size_of::<Server<32, { 64 * 1024 }>>());
}

#[test]
fn a_hello_is_answered_with_the_challenge() {
    let hub = TestHub::new();
    let mut h = handshake();
    assert!(h.handle_input(at(0), &HELLO, &hub).is_empty());
    let mut challenge = vec![0x22, 0x01, 0x02];
    challenge.extend([0x11; 32]);
    assert_eq!(sent(&mut h), challenge);
    assert_eq!(h.claimed(), Some((TENANT, "probe")));
    assert!(!h.is_authenticated());
    assert!(Server::<4, 4096>::after_login(&h).is_none());
    assert_eq!(h.poll_event(), None);
}

#[test]
fn a_wrong_proof_gets_the_error_and_the_close() {
    let hub = TestHub::new();
    let mut h = handshake();
    h.handle_input(at(0), &HELLO, &hub);
    sent(&mut h);
    assert!(
        h.handle_input(at(0), &auth_frame(b"wrong"), &hub)
            .is_empty()
    );
    // Error { code: 6, handle: None, reason: "authentication failed" },
    // then Close.
    let mut expected = vec![0x19, 0x04, 0x06, 0x00, 0x15];
    expected.extend_from_slice(b"authentication failed");
    expected.extend_from_slice(&[0x01, 0x05]);
    assert_eq!(sent(&mut h), expected);
    assert!(h.is_closed());
    assert_eq!(
        h.poll_event(),
        Some(ServerEvent::AuthFailed {
            reason: AuthFailure::WrongProof
        })
    );
    assert_eq!(
        h.poll_event(),
        Some(ServerEvent::Closed {
            code: Some(ErrorCode::AuthFailed)
        })
    );
    assert_eq!(h.poll_event(), None);
    assert!(Server::<4, 4096>::after_login(&h).is_none());
}

/// The proof and a ping behind it in one read: the handshake stops after
/// the proof, the server built from it takes the ping, and the two send
/// byte for byte what one server made with `Server::new` sends.
#[test]
fn the_server_after_the_login_takes_the_rest_and_sends_what_one_server_sends() {
    let mut hub = TestHub::new();
    let ping = framed(&Frame::Ping { nonce: 5 });
    let input = [auth_frame(SECRET), ping.clone()].concat();

    let mut h = handshake();
    h.handle_input(at(0), &HELLO, &hub);
    let challenge = sent(&mut h);
    let rest = h.handle_input(at(0), &input, &hub);
    assert_eq!(rest, &ping[..]);
    assert!(h.is_authenticated());
    // Bytes after the login are the server's: the handshake leaves them.
    assert_eq!(h.handle_input(at(0), &ping, &hub), &ping[..]);
    assert!(sent(&mut h).is_empty());
    assert_eq!(h.poll_event(), None);
    let mut server = Server::<4, 4096>::after_login(&h).unwrap();
    assert_eq!(server.identity(), Some((TENANT, "probe")));
    server.handle_input(at(0), rest, &mut hub);

    let mut whole = Server::<4, 4096>::new(at(0), ServerConfig::new(1), NONCE);
    whole.handle_input(at(0), &HELLO, &mut hub);
    let mut buf = vec![0u8; 4096];
    let n = whole.poll_transmit(at(0), &mut buf, &hub).unwrap();
    assert_eq!(&buf[..n], &challenge[..]);
    whole.handle_input(at(0), &input, &mut hub);

    let mut outs = [Vec::new(), Vec::new()];
    for (out, server) in outs.iter_mut().zip([&mut server, &mut whole]) {
        while let Some(n) = server.poll_transmit(at(0), &mut buf, &hub) {
            out.extend_from_slice(&buf[..n]);
        }
        assert_eq!(server.poll_event(), Some(ServerEvent::Authenticated));
        assert_eq!(server.poll_event(), None);
    }
    assert_eq!(outs[0], outs[1]);
    let frames = split_frames(&outs[0]);
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0], framed(&Frame::Pong { nonce: 5 }));
    assert!(matches!(
        Frame::decode(body(&frames[1])),
        Ok(Frame::Welcome(_))
    ));
    assert_eq!(server.stats(), whole.stats());
}

/// A frame longer than any handshake frame is read to its end, keeping
/// its first bytes only, and answered as reading it whole would answer.
#[test]
fn a_long_frame_is_answered_once_whole() {
    let hub = TestHub::new();
    let write = long_write();
    let mut close = vec![0xAC, 0x02, 0x05];
    close.resize(2 + 300, 0);
    let mut version = vec![0xAC, 0x02, 0x00, 0x03];
    version.resize(2 + 300, 0);
    let cases = [
        (&write, ErrorCode::UnexpectedFrame),
        (&close, ErrorCode::Malformed),
        (&version, ErrorCode::UnsupportedVersion),
    ];
    for (bytes, code) in cases {
        for hello_first in [false, true] {
            if hello_first && code == ErrorCode::UnsupportedVersion {
                continue;
            }
            let mut h = handshake();
            if hello_first {
                h.handle_input(at(0), &HELLO, &hub);
                sent(&mut h);
            }
            let (first, second) = bytes.split_at(200);
            h.handle_input(at(0), first, &hub);
            assert!(sent(&mut h).is_empty(), "answered before the frame ended");
            assert!(!h.is_closed());
            h.handle_input(at(0), second, &hub);
            assert_eq!(error_code(&sent(&mut h)), Some(code), "{code}");
            assert!(h.is_closed());

            let mut whole = Server::<4, 4096>::new(at(0), ServerConfig::new(1), NONCE);
            let mut hub = TestHub::new();
            let mut buf = vec![0u8; 4096];
            if hello_first {
                whole.handle_input(at(0), &HELLO, &mut hub);
                whole.poll_transmit(at(0), &mut buf, &hub);
            }
            whole.handle_input(at(0), bytes, &mut hub);
            let n = whole.poll_transmit(at(0), &mut buf, &hub).unwrap();
            assert_eq!(error_code(&buf[..n]), Some(code));
        }
    }
}

#[test]
fn a_frame_over_the_maximum_is_refused_at_its_prefix() {
    let hub = TestHub::new();
    let mut config = ServerConfig::new(1);
    config.max_frame = 1000;
    let mut h = Handshake::new(at(0), config, NONCE);
    // 1001 as a varint.
    h.handle_input(at(0), &[0xE9, 0x07], &hub);
    assert_eq!(error_code(&sent(&mut h)), Some(ErrorCode::FrameTooLarge));
}

#[test]
fn the_handshake_deadline_closes_a_silent_peer() {
    let mut h = handshake();
    let deadline = h.poll_timeout().unwrap();
    assert_eq!(deadline, at(10_000));
    h.handle_timeout(deadline);
    assert_eq!(error_code(&sent(&mut h)), Some(ErrorCode::HandshakeTimeout));
    assert!(h.is_closed());
    assert_eq!(h.poll_timeout(), None);
}

/// The two peers through the hub's two stages: the handshake, then the
/// server built from it, which serves a subscription as usual.
#[test]
fn two_peers_through_the_handshake_then_the_server() {
    let mut pair = Pair::<4096>::new(TestHub::new());
    pair.login = Some(Handshake::new(pair.now, ServerConfig::new(7), [0x5A; 32]));
    pair.drive();
    assert!(pair.client.is_connected());
    assert!(pair.login.is_none());
    let events = pair.take_events();
    let Event::Connected { session, limits } = events[0] else {
        panic!("first event: {events:?}");
    };
    assert_eq!(session, 7);
    assert_eq!(limits.max_frame, 4096);
    assert_eq!(pair.server.identity(), Some((TENANT, "probe")));
    assert_eq!(pair.server.poll_event(), Some(ServerEvent::Authenticated));
    assert_eq!(pair.server.stats().frames_out, 2);
    pair.hub.region("robot").live[0..4].copy_from_slice(&1.5f32.to_le_bytes());
    pair.hub.region("robot").scan();
    let (_, m) = pair.subscribe("robot", ROBOT.as_schema());
    pair.assert_synced("robot", &m);
}
