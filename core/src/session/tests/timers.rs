//! Deadlines, keep-alive, dead peers and rate limits.

use std::vec::Vec;

use super::*;
use crate::codec::{ErrorCode, Frame, Framing};

#[test]
fn handshake_deadline_closes_silent_connections() {
    let mut hub = TestHub::new();
    let t0 = Instant::from_millis(500);
    let mut server = Server::<4, 4096>::new(t0, ServerConfig::new(1), [3; 32]);
    assert_eq!(server.poll_timeout(), Some(t0 + Duration::from_secs(10)));
    // A slow hello does not extend the deadline.
    server.handle_input(t0 + Duration::from_secs(9), &[30, 0, 1], &mut hub);
    server.handle_timeout(t0 + Duration::from_millis(9_999));
    assert!(!server.is_closed());
    server.handle_timeout(t0 + Duration::from_secs(10));
    let mut buf = [0u8; 256];
    let n = server.poll_transmit(t0, &mut buf, &hub).unwrap();
    match Frame::decode(body(&split_frames(&buf[..n])[0])) {
        Ok(Frame::Error(e)) => assert_eq!(e.code, ErrorCode::HandshakeTimeout),
        other => panic!("{other:?}"),
    }
    assert!(server.is_closed());
    assert_eq!(server.poll_timeout(), None);
    // The client gives up on a hub that never answers, too.
    let mut pair = Pair::<4096>::new(TestHub::new());
    let mut buf = [0u8; 256];
    pair.client.poll_transmit(pair.now, &mut buf).unwrap();
    pair.advance(Duration::from_secs(10));
    pair.client.poll_transmit(pair.now, &mut buf);
    assert!(pair.client.is_closed());
    assert_eq!(
        pair.client.poll_event(),
        Some(Event::Closed {
            code: Some(ErrorCode::HandshakeTimeout)
        })
    );
}

#[test]
fn keepalive_pings_and_dead_peer_timeout() {
    let mut pair = Pair::<4096>::connect(TestHub::new());
    let (_, m) = pair.subscribe("robot", ROBOT.as_schema());
    let out_before = pair.server.stats().frames_out;
    pair.advance(Duration::from_secs(5));
    pair.drive();
    // Both pinged and both answered: 1 ping + 1 pong each way.
    assert_eq!(pair.server.stats().frames_out, out_before + 2);
    assert!(pair.client.is_connected());
    // Idle for a long time with pings answered: still connected.
    for _ in 0..10 {
        pair.advance(Duration::from_secs(5));
        pair.drive();
    }
    assert!(pair.client.is_connected() && !pair.server.is_closed());
    // The client goes silent: the server closes after the timeout.
    pair.hold_client = true;
    for _ in 0..3 {
        pair.advance(Duration::from_secs(5));
        pair.drive();
    }
    assert!(pair.server.is_closed());
    assert_eq!(pair.server.poll_event(), Some(ServerEvent::Authenticated));
    assert_eq!(
        pair.server.poll_event(),
        Some(ServerEvent::Closed {
            code: Some(ErrorCode::Timeout)
        })
    );
    assert!(pair.events.contains(&Event::Closed {
        code: Some(ErrorCode::Timeout)
    }));
    pair.assert_synced("robot", &m);
}

#[test]
fn rate_limit_closes_a_flooding_client() {
    let mut pair = Pair::<4096>::connect(TestHub::new());
    let mut ping = [0u8; 16];
    let n = Framing::LengthPrefix
        .encode(&Frame::Ping { nonce: 1 }, &mut ping)
        .unwrap();
    let flood: Vec<u8> = ping[..n].iter().copied().cycle().take(n * 600).collect();
    pair.server.handle_input(pair.now, &flood, &mut pair.hub);
    pair.drive();
    assert!(pair.server.is_closed());
    assert!(pair.events.contains(&Event::Closed {
        code: Some(ErrorCode::RateLimited)
    }));
    // At a conforming pace the same pings are fine. The pongs go to a
    // client that sent no ping: they are kept from it.
    let mut pair = Pair::<4096>::connect(TestHub::new());
    pair.mangle = Some(Box::new(|frames| {
        frames.into_iter().filter(|f| body(f)[0] != 7).collect()
    }));
    for _ in 0..600 {
        pair.server
            .handle_input(pair.now, &ping[..n], &mut pair.hub);
        pair.drive();
        pair.advance(Duration::from_millis(2));
    }
    assert!(!pair.server.is_closed());
}
