//! Writes in parts, as raw frames into the server: kept until the last
//! part, applied in one commit and answered once; a part refused refuses
//! the write; a write between the parts of another closes the connection.

use std::vec::Vec;

use super::hostile::{Seen, feed, sent};
use super::*;
use crate::codec::{ErrorCode, Frame, Ranges, Span, Write, WriteTarget};
use crate::schema::Name;

/// A connected pair whose client mirrors `robot` (read-write): setpoint at
/// 24..28 and flag at 28 are writable, pos at 0..12 is not.
fn connected() -> (Pair<4096>, Handle) {
    let mut pair = Pair::<4096>::connect(TestHub::new());
    let (h, _) = pair.subscribe("robot", ROBOT.as_schema());
    pair.take_events();
    (pair, h)
}

/// A part of write `request` to `handle` with `spans`, encoded in `buf`.
fn part<'b>(
    request: u32,
    handle: Handle,
    last: bool,
    spans: &[(u32, &[u8])],
    buf: &'b mut [u8],
) -> Frame<'b> {
    let spans = spans.iter().map(|&(offset, bytes)| Span { offset, bytes });
    Frame::Write(Write {
        request,
        handle: handle.0,
        target: WriteTarget::Part {
            last,
            ranges: Ranges::encode(spans, buf).unwrap(),
        },
    })
}

/// The write results and errors the server sent (not the updates).
fn answers(pair: &mut Pair<4096>) -> Vec<Seen> {
    let mut seen = sent(pair);
    seen.retain(|s| !matches!(s, Seen::Other(_)));
    seen
}

fn robot(pair: &mut Pair<4096>) -> (u64, Vec<u8>) {
    let r = pair.hub.region("robot");
    (r.generation, r.data().to_vec())
}

#[test]
fn a_write_in_parts_is_applied_at_its_last_part_in_one_commit() {
    let (mut pair, h) = connected();
    let (before, data) = robot(&mut pair);
    let value = 2.5f32.to_le_bytes();
    let mut buf = [0u8; 64];
    // The setpoint cut across two parts.
    let first = part(3, h, false, &[(24, &value[..2])], &mut buf);
    feed(&mut pair, &[first]);
    assert_eq!(answers(&mut pair), []);
    assert_eq!(robot(&mut pair), (before, data.clone()), "a part applied");
    let mut buf = [0u8; 64];
    let last = part(3, h, true, &[(26, &value[2..]), (28, &[1])], &mut buf);
    feed(&mut pair, &[last]);
    assert_eq!(answers(&mut pair), [Seen::Result(3, Ok(before + 1))]);
    let (after, now) = robot(&mut pair);
    assert_eq!(after, before + 1);
    assert_eq!(&now[24..29], &[0, 0, 0x20, 0x40, 1]);
    assert_eq!(pair.hub.writes_applied, 1);
}

#[test]
fn a_part_refused_refuses_the_write_once_at_its_last_part() {
    let (mut pair, h) = connected();
    let (before, data) = robot(&mut pair);
    let mut b1 = [0u8; 64];
    let mut b2 = [0u8; 64];
    let mut b3 = [0u8; 64];
    let frames = [
        part(4, h, false, &[(24, &[1, 2, 3, 4])], &mut b1),
        // `count` (at 32) is read-only.
        part(4, h, false, &[(32, &[9])], &mut b2),
        part(4, h, true, &[(28, &[1])], &mut b3),
    ];
    feed(&mut pair, &frames);
    assert_eq!(
        answers(&mut pair),
        [Seen::Result(4, Err(ErrorCode::ReadOnly))]
    );
    assert_eq!(robot(&mut pair), (before, data), "a part applied");
    assert!(
        pair.hub.staged.is_empty(),
        "the parts kept were not dropped"
    );
    // Parts out of order refuse the write too.
    let mut b1 = [0u8; 64];
    let mut b2 = [0u8; 64];
    let frames = [
        part(5, h, false, &[(26, &[1, 2])], &mut b1),
        part(5, h, true, &[(24, &[1, 2])], &mut b2),
    ];
    feed(&mut pair, &frames);
    assert_eq!(
        answers(&mut pair),
        [Seen::Result(5, Err(ErrorCode::BadValue))]
    );
    assert!(!pair.server.is_closed());
}

#[test]
fn a_write_before_the_last_part_of_another_closes_the_connection() {
    for other in [6u32, 7] {
        let (mut pair, h) = connected();
        let (before, data) = robot(&mut pair);
        let mut b1 = [0u8; 64];
        let mut b2 = [0u8; 64];
        let next = if other == 6 {
            // Another write in parts.
            part(6, h, false, &[(28, &[1])], &mut b2)
        } else {
            Frame::Write(Write {
                request: 7,
                handle: h.0,
                target: WriteTarget::Variable {
                    name: Name::new("flag").unwrap(),
                    value: &[1],
                },
            })
        };
        let frames = [part(5, h, false, &[(24, &[1, 2, 3, 4])], &mut b1), next];
        feed(&mut pair, &frames);
        assert_eq!(
            answers(&mut pair),
            [Seen::Error(ErrorCode::UnexpectedFrame, None), Seen::Close]
        );
        assert_eq!(robot(&mut pair), (before, data));
        assert!(pair.hub.staged.is_empty());
    }
}

#[test]
fn a_client_sends_a_write_in_parts_from_its_own_bytes() {
    let (mut pair, h) = connected();
    let (before, _) = robot(&mut pair);
    let value = 1.5f32.to_le_bytes();
    let ranges = [(24usize, &value[..]), (28, &[1u8][..])];
    let mut parts = pair.client.write_parts(h, &ranges).unwrap();
    let request = parts.request();
    let mut out = std::vec![0u8; 256];
    let mut stream = Vec::new();
    while let Some(n) = parts.next_frame(&mut out) {
        stream.extend_from_slice(&out[..n.unwrap()]);
    }
    pair.server.handle_input(pair.now, &stream, &mut pair.hub);
    pair.drive();
    let events = pair.take_events();
    assert!(
        events.contains(&Event::WriteApplied {
            request,
            generation: before + 1
        }),
        "{events:?}"
    );
    // Past the mirror's data area: refused before anything is sent.
    assert!(matches!(
        pair.client.write_parts(h, &[(5000, &[1][..])]),
        Err(WriteError::Invalid)
    ));
}
