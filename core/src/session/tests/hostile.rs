//! A careless or hostile client, as raw frames into the server: pipelined
//! writes, empty writes, frames nobody asked for, names that say nothing.

use std::vec::Vec;

use super::*;
use crate::codec::{
    Ack, ErrorCode, Frame, Framing, Ranges, SchemaPart, Unsubscribe, Update, UpdateBase, VarTable,
    Write, WriteOutcome, WriteResult, WriteTarget,
};

/// What the server sent, as far as these tests look.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Seen {
    Result(u32, Result<u64, ErrorCode>),
    Error(ErrorCode, Option<u16>),
    Close,
    Pong(u64),
    Other(u8),
}

/// Frames straight into the server, as a client that does not wait.
pub(super) fn feed(pair: &mut Pair<4096>, frames: &[Frame<'_>]) {
    let mut bytes = Vec::new();
    for frame in frames {
        let mut buf = std::vec![0u8; 4096];
        let n = Framing::LengthPrefix.encode(frame, &mut buf).unwrap();
        bytes.extend_from_slice(&buf[..n]);
    }
    pair.server.handle_input(pair.now, &bytes, &mut pair.hub);
}

/// Everything the server has to send now (twice over: an error queued
/// while transmitting goes out with the next call).
pub(super) fn sent(pair: &mut Pair<4096>) -> Vec<Seen> {
    let mut buf = std::vec![0u8; 8192];
    let mut seen = Vec::new();
    let mut empty = 0;
    while empty < 2 {
        let Some(n) = pair.server.poll_transmit(pair.now, &mut buf, &pair.hub) else {
            empty += 1;
            continue;
        };
        for framed in split_frames(&buf[..n]) {
            seen.push(match Frame::decode(body(&framed)).unwrap() {
                Frame::WriteResult(r) => Seen::Result(
                    r.request,
                    match r.outcome {
                        WriteOutcome::Applied { generation } => Ok(generation),
                        WriteOutcome::Refused { code, .. } => Err(code),
                    },
                ),
                Frame::Error(e) => Seen::Error(e.code, e.handle),
                Frame::Close => Seen::Close,
                Frame::Pong { nonce } => Seen::Pong(nonce),
                _ => Seen::Other(body(&framed)[0]),
            });
        }
    }
    seen
}

/// A connected pair whose client mirrors `robot` (read-write).
fn connected() -> (Pair<4096>, Handle) {
    let mut pair = Pair::<4096>::connect(TestHub::new());
    let (h, _) = pair.subscribe("robot", ROBOT.as_schema());
    pair.take_events();
    (pair, h)
}

fn setpoint(pair: &mut Pair<4096>) -> f32 {
    let r = pair.hub.region("robot");
    f32::from_le_bytes(r.data()[24..28].try_into().unwrap())
}

#[test]
fn pipelined_writes_past_the_limit_are_answered_then_closed() {
    let (mut pair, h) = connected();
    let before = pair.hub.region("robot").generation;
    let values: Vec<[u8; 4]> = (1..=9).map(|v| (v as f32).to_le_bytes()).collect();
    let writes: Vec<Frame<'_>> = values
        .iter()
        .zip(1u32..)
        .map(|(value, request)| {
            Frame::Write(Write {
                request,
                handle: h.0,
                target: WriteTarget::Variable {
                    name: Name::new("setpoint").unwrap(),
                    value,
                },
            })
        })
        .collect();
    feed(&mut pair, &writes);
    let seen = sent(&mut pair);
    // The ninth is over the limit: nothing of it is applied, and the eight
    // before it are answered before the error.
    let mut expected: Vec<Seen> = (1..=8)
        .map(|request| Seen::Result(request, Ok(before + u64::from(request))))
        .collect();
    expected.extend([Seen::Error(ErrorCode::LimitExceeded, None), Seen::Close]);
    assert_eq!(seen, expected);
    assert_eq!(pair.hub.region("robot").generation, before + 8);
    assert_eq!(setpoint(&mut pair), 8.0);
    assert!(pair.server.is_closed());
}

#[test]
fn eight_pipelined_writes_are_all_answered() {
    let (mut pair, h) = connected();
    let value = 1f32.to_le_bytes();
    let writes: Vec<Frame<'_>> = (1..=8)
        .map(|request| {
            Frame::Write(Write {
                request,
                handle: h.0,
                target: WriteTarget::Variable {
                    name: Name::new("setpoint").unwrap(),
                    value: &value,
                },
            })
        })
        .collect();
    feed(&mut pair, &writes);
    let seen = sent(&mut pair);
    let answered = seen
        .iter()
        .filter(|s| matches!(s, Seen::Result(_, Ok(_))))
        .count();
    assert_eq!(answered, 8, "{seen:?}");
    assert!(!pair.server.is_closed());
}

fn welcome_limits(hub: TestHub) -> crate::codec::Limits {
    let mut pair = Pair::<4096>::connect(hub);
    let events = pair.take_events();
    let Some(Event::Connected { limits, .. }) = events.first() else {
        panic!("first event: {events:?}");
    };
    *limits
}

#[test]
fn the_welcome_says_write_only_to_a_client_with_a_write_right() {
    assert!(welcome_limits(TestHub::new()).write);
    let mut read_only = TestHub::new();
    read_only.rights = std::vec![("probe", "robot", Access::Read)];
    assert!(!welcome_limits(read_only).write);
    let mut nothing = TestHub::new();
    nothing.rights = std::vec![
        ("probe", "robot", Access::None),
        ("probe", "blob", Access::None)
    ];
    assert!(!welcome_limits(nothing).write);
    // A hub that does not list its regions cannot tell: each write is
    // checked on its own.
    let mut unlisted = TestHub::new();
    unlisted.rights = std::vec![("probe", "robot", Access::Read)];
    unlisted.unlisted = true;
    assert!(welcome_limits(unlisted).write);
}

#[test]
fn a_write_with_no_ranges_is_refused_and_changes_nothing() {
    let (mut pair, h) = connected();
    let before = pair.hub.region("robot").generation;
    feed(
        &mut pair,
        &[Frame::Write(Write {
            request: 5,
            handle: h.0,
            target: WriteTarget::Ranges(Ranges::EMPTY),
        })],
    );
    assert_eq!(sent(&mut pair), [Seen::Result(5, Err(ErrorCode::BadValue))]);
    assert_eq!(pair.hub.region("robot").generation, before);
    assert!(!pair.server.is_closed());
    // The client does not send one.
    assert_eq!(
        pair.client.write(h, WriteRequest::Ranges(&[])),
        Err(WriteError::Invalid)
    );
}

/// The server's answer to `frame` from a connected client.
fn answer_to(frame: Frame<'_>) -> (Vec<Seen>, bool) {
    let (mut pair, _) = connected();
    feed(&mut pair, &[frame]);
    let seen = sent(&mut pair);
    (seen, pair.server.is_closed())
}

fn protocol_error() -> (Vec<Seen>, bool) {
    (
        std::vec![Seen::Error(ErrorCode::UnexpectedFrame, None), Seen::Close],
        true,
    )
}

#[test]
fn frames_nobody_asked_for_close_the_connection() {
    // The hub sent no ping.
    assert_eq!(answer_to(Frame::Pong { nonce: 1 }), protocol_error());
    // Nor a write.
    let result = Frame::WriteResult(WriteResult {
        request: 1,
        outcome: WriteOutcome::Applied { generation: 3 },
    });
    assert_eq!(answer_to(result), protocol_error());
    // Nor a subscription to a region of the client's.
    let schema = Frame::Schema(SchemaPart {
        handle: 0,
        instance: 1,
        fingerprint: 2,
        data_len: 64,
        count: 0,
        first: 0,
        variables: VarTable::EMPTY,
    });
    assert_eq!(answer_to(schema), protocol_error());
    let update = Frame::Update(Update {
        handle: 0,
        base: UpdateBase::At(0),
        step: 1,
        last: true,
        ranges: Ranges::EMPTY,
    });
    assert_eq!(answer_to(update), protocol_error());
}

#[test]
fn frames_about_unknown_subscriptions_get_an_error_with_the_handle() {
    let (mut pair, h) = connected();
    let other = h.0 + 9;
    feed(
        &mut pair,
        &[
            Frame::Ack(Ack {
                handle: other,
                generation: 1,
            }),
            Frame::Unsubscribe(Unsubscribe { handle: other }),
            Frame::Ping { nonce: 4 },
        ],
    );
    // They end nothing: the connection goes on.
    assert_eq!(
        sent(&mut pair),
        [
            Seen::Pong(4),
            Seen::Error(ErrorCode::UnknownHandle, Some(other)),
            Seen::Error(ErrorCode::UnknownHandle, Some(other)),
        ]
    );
    assert!(!pair.server.is_closed());
}

#[test]
fn acks_sent_before_the_client_read_that_its_subscription_ended_are_no_mistake() {
    let mut pair = Pair::<4096>::connect(TestHub::new());
    let (h, _) = pair.subscribe("blob", BLOB.as_schema());
    // The region goes: the hub ends the subscription.
    pair.hub.regions.pop();
    assert_eq!(
        sent(&mut pair),
        [Seen::Error(ErrorCode::UnknownRegion, Some(h.0))]
    );
    // An ack and an unsubscribe the client sent before it read that.
    feed(
        &mut pair,
        &[
            Frame::Ack(Ack {
                handle: h.0,
                generation: 2,
            }),
            Frame::Unsubscribe(Unsubscribe { handle: h.0 }),
        ],
    );
    assert_eq!(sent(&mut pair), []);
    // The unsubscribe closed the matter: another is a mistake.
    feed(
        &mut pair,
        &[Frame::Unsubscribe(Unsubscribe { handle: h.0 })],
    );
    assert_eq!(
        sent(&mut pair),
        [Seen::Error(ErrorCode::UnknownHandle, Some(h.0))]
    );
}

/// A pair whose client calls itself `name`, a name the hub knows.
fn named(name: &'static str) -> Pair<4096> {
    let mut hub = TestHub::new();
    hub.clients.push((TENANT, name, SECRET));
    let mut pair = Pair::<4096>::with(
        hub,
        ClientConfig::new(name, TENANT, SECRET),
        ServerConfig::new(1),
    );
    pair.drive();
    pair
}

#[test]
fn a_client_name_that_says_nothing_or_moves_the_cursor_is_refused() {
    for name in [
        "",
        "probe\n",
        "\u{1b}[2Jprobe",
        "pro\u{7f}be",
        "pro\u{85}be",
    ] {
        let pair = named(name);
        assert!(!pair.client.is_connected(), "{name:?}");
        assert!(pair.server.is_closed(), "{name:?}");
        assert_eq!(
            pair.events,
            [Event::Closed {
                code: Some(ErrorCode::Malformed)
            }],
            "{name:?}"
        );
    }
    // Any other text is a name.
    assert!(named("Probe 7 · ünïcode").client.is_connected());
}
