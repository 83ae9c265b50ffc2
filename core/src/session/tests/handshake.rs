//! Handshake: authentication, replay, versions.

use std::vec::Vec;

use super::*;
use crate::codec::{Frame, Framing, Hello};
use crate::session::AuthFailure;

#[test]
fn full_handshake() {
    let mut pair = Pair::<4096>::connect(TestHub::new());
    let events = pair.take_events();
    let Event::Connected { session, limits } = events[0] else {
        panic!("first event: {events:?}");
    };
    assert_eq!(session, 7);
    assert_eq!(limits.max_in_flight, 2);
    assert_eq!(limits.max_frame, 4096);
    assert_eq!(pair.server.identity(), Some((TENANT, "probe")));
    assert_eq!(pair.server.poll_event(), Some(ServerEvent::Authenticated));
    // Hello, auth; challenge, welcome.
    assert_eq!(pair.client.stats().frames_out, 2);
    assert_eq!(pair.server.stats().frames_out, 2);
}

fn refused(client: ClientConfig<'static>) -> Pair<4096> {
    let mut pair = Pair::<4096>::with(TestHub::new(), client, ServerConfig::new(1));
    pair.drive();
    assert!(!pair.client.is_connected());
    assert!(pair.client.is_closed());
    assert!(pair.server.is_closed());
    assert_eq!(pair.server.identity(), None);
    pair
}

#[test]
fn wrong_key_is_refused() {
    let pair = refused(ClientConfig::new("probe", TENANT, b"probe-secreT"));
    assert_eq!(
        pair.events,
        [Event::Closed {
            code: Some(ErrorCode::AuthFailed)
        }]
    );
}

#[test]
fn unknown_client_and_tenant_are_refused_alike() {
    for (client, tenant) in [("nobody", TENANT), ("probe", "nowhere")] {
        let pair = refused(ClientConfig::new(client, tenant, SECRET));
        assert_eq!(
            pair.events,
            [Event::Closed {
                code: Some(ErrorCode::AuthFailed)
            }]
        );
    }
}

#[test]
fn the_hub_is_told_why_a_login_was_refused() {
    for (client, tenant, secret, reason) in [
        (
            "probe",
            TENANT,
            &b"probe-secreT"[..],
            AuthFailure::WrongProof,
        ),
        ("nobody", TENANT, SECRET, AuthFailure::UnknownClient),
        ("probe", "nowhere", SECRET, AuthFailure::UnknownTenant),
    ] {
        let mut pair = refused(ClientConfig::new(client, tenant, secret));
        let events: Vec<ServerEvent> = core::iter::from_fn(|| pair.server.poll_event()).collect();
        assert_eq!(
            events,
            [
                ServerEvent::AuthFailed { reason },
                ServerEvent::Closed {
                    code: Some(ErrorCode::AuthFailed)
                }
            ],
            "{client} of {tenant}"
        );
        assert_eq!(pair.server.claimed(), Some((tenant, client)));
    }
}

#[test]
fn replayed_auth_is_refused() {
    // A first connection succeeds; its bytes (hello, auth) are recorded.
    let pair = Pair::<4096>::connect(TestHub::new());
    let recorded = pair.client_log.clone();
    // Replayed to a server with another nonce, the proof no longer holds.
    let mut hub = TestHub::new();
    let mut server = Server::<4, 4096>::new(Instant::ZERO, ServerConfig::new(2), [0x77; 32]);
    let mut buf = [0u8; 512];
    let recorded = split_frames(&recorded);
    let mut out = Vec::new();
    for frame in &recorded[..2] {
        server.handle_input(Instant::ZERO, frame, &mut hub);
        while let Some(n) = server.poll_transmit(Instant::ZERO, &mut buf, &hub) {
            out.extend_from_slice(&buf[..n]);
        }
    }
    let frames = split_frames(&out);
    assert!(matches!(
        Frame::decode(body(&frames[0])),
        Ok(Frame::Challenge(_))
    ));
    match Frame::decode(body(&frames[1])) {
        Ok(Frame::Error(e)) => assert_eq!(e.code, ErrorCode::AuthFailed),
        other => panic!("{other:?}"),
    }
    assert!(server.is_closed());
    assert_eq!(server.identity(), None);
}

#[test]
fn version_mismatch_is_reported_and_closed() {
    let mut hub = TestHub::new();
    let mut server = Server::<4, 4096>::new(Instant::ZERO, ServerConfig::new(2), [1; 32]);
    let mut hello = [0u8; 64];
    let n = Framing::LengthPrefix
        .encode(
            &Frame::Hello(Hello {
                version: 3,
                max_frame: 1024,
                client: "probe",
                tenant: TENANT,
            }),
            &mut hello,
        )
        .unwrap();
    server.handle_input(Instant::ZERO, &hello[..n], &mut hub);
    let mut buf = [0u8; 256];
    let n = server.poll_transmit(Instant::ZERO, &mut buf, &hub).unwrap();
    let frames = split_frames(&buf[..n]);
    match Frame::decode(body(&frames[0])) {
        Ok(Frame::Error(e)) => {
            assert_eq!(e.code, ErrorCode::UnsupportedVersion);
            assert_eq!(e.reason, "memwire protocol 2");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(Frame::decode(body(&frames[1])), Ok(Frame::Close));
    assert!(server.is_closed());
    assert_eq!(
        server.poll_event(),
        Some(ServerEvent::Closed {
            code: Some(ErrorCode::UnsupportedVersion)
        })
    );
}

#[test]
fn frames_before_welcome_are_unexpected() {
    let mut hub = TestHub::new();
    let mut server = Server::<4, 4096>::new(Instant::ZERO, ServerConfig::new(2), [1; 32]);
    // An ack instead of a hello.
    server.handle_input(Instant::ZERO, &[3, 0x0c, 0, 0], &mut hub);
    let mut buf = [0u8; 256];
    server.poll_transmit(Instant::ZERO, &mut buf, &hub).unwrap();
    assert!(server.is_closed());
    assert_eq!(
        server.poll_event(),
        Some(ServerEvent::Closed {
            code: Some(ErrorCode::UnexpectedFrame)
        })
    );
    // Garbage framing.
    let mut server = Server::<4, 4096>::new(Instant::ZERO, ServerConfig::new(2), [1; 32]);
    server.handle_input(Instant::ZERO, &[0], &mut hub);
    server.poll_transmit(Instant::ZERO, &mut buf, &hub).unwrap();
    assert_eq!(
        server.poll_event(),
        Some(ServerEvent::Closed {
            code: Some(ErrorCode::Malformed)
        })
    );
}
