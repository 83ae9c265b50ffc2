//! Writes from a mirror: rights and bounds.

use super::*;
use crate::codec::{ErrorCode, Frame};

fn writer(access: Access) -> (Pair<4096>, Handle, Region<'static>) {
    let mut hub = TestHub::new();
    hub.rights = std::vec![("probe", "robot", access)];
    let mut pair = Pair::<4096>::connect(hub);
    let (h, m) = pair.subscribe("robot", ROBOT.as_schema());
    pair.take_events();
    (pair, h, m)
}

fn answer(pair: &mut Pair<4096>, request: u32) -> Event {
    pair.drive();
    pair.take_events()
        .into_iter()
        .find(|e| matches!(e, Event::WriteApplied { request: r, .. } | Event::WriteRefused { request: r, .. } if *r == request))
        .unwrap()
}

#[test]
fn writes_by_name_and_by_range_are_applied_and_mirrored() {
    let (mut pair, h, m) = writer(Access::ReadWrite);
    let value = 2.5f32.to_le_bytes();
    let r1 = pair
        .client
        .write(
            h,
            WriteRequest::Variable {
                name: "setpoint",
                value: &value,
            },
        )
        .unwrap();
    let Event::WriteApplied { generation, .. } = answer(&mut pair, r1) else {
        panic!("refused");
    };
    assert_eq!(generation, pair.hub.region("robot").generation);
    assert_eq!(m.get_by_name::<f32>("setpoint"), Ok(2.5));
    // setpoint (24..28) and flag (28) in one range.
    let bytes = [0, 0, 0x80, 0x3f, 1];
    let r2 = pair
        .client
        .write(h, WriteRequest::Ranges(&[(24, &bytes)]))
        .unwrap();
    assert!(matches!(answer(&mut pair, r2), Event::WriteApplied { .. }));
    assert_eq!(m.get_by_name::<f32>("setpoint"), Ok(1.0));
    assert_eq!(m.get_by_name::<bool>("flag"), Ok(true));
    pair.assert_synced("robot", &m);
}

#[test]
fn read_only_peer_is_refused() {
    let (mut pair, h, m) = writer(Access::Read);
    let before = contents(&m);
    let r = pair
        .client
        .write(
            h,
            WriteRequest::Variable {
                name: "setpoint",
                value: &[0; 4],
            },
        )
        .unwrap();
    assert_eq!(
        answer(&mut pair, r),
        Event::WriteRefused {
            request: r,
            code: ErrorCode::AccessDenied
        }
    );
    assert_eq!(contents(&m), before);
}

#[test]
fn writes_outside_writable_variables_are_refused() {
    let (mut pair, h, m) = writer(Access::ReadWrite);
    let generation = pair.hub.region("robot").generation;
    let cases: [(WriteRequest<'_>, ErrorCode); 7] = [
        // pos is read-only.
        (WriteRequest::Ranges(&[(0, &[1])]), ErrorCode::ReadOnly),
        // From setpoint into pos... from flag into the padding after it.
        (
            WriteRequest::Ranges(&[(28, &[1, 0])]),
            ErrorCode::OutOfBounds,
        ),
        // Ends in count, which is read-only.
        (
            WriteRequest::Ranges(&[(24, &[0; 12])]),
            ErrorCode::OutOfBounds,
        ),
        (
            WriteRequest::Variable {
                name: "count",
                value: &[0; 4],
            },
            ErrorCode::ReadOnly,
        ),
        (
            WriteRequest::Variable {
                name: "nope",
                value: &[0; 4],
            },
            ErrorCode::UnknownVariable,
        ),
        (
            WriteRequest::Variable {
                name: "setpoint",
                value: &[0; 3],
            },
            ErrorCode::BadValue,
        ),
        (
            WriteRequest::Variable {
                name: "flag",
                value: &[2],
            },
            ErrorCode::BadValue,
        ),
    ];
    for (request, code) in cases {
        let r = pair.client.write(h, request).unwrap();
        assert_eq!(
            answer(&mut pair, r),
            Event::WriteRefused { request: r, code },
            "{request:?}"
        );
    }
    assert_eq!(pair.hub.region("robot").generation, generation);
    pair.assert_synced("robot", &m);
    // Past the mirror's data area: refused before it is sent.
    assert_eq!(
        pair.client
            .write(h, WriteRequest::Ranges(&[(4000, &[0; 200])])),
        Err(WriteError::Invalid)
    );
}

#[test]
fn writes_are_bounded() {
    let (mut pair, h, _) = writer(Access::ReadWrite);
    for _ in 0..8 {
        pair.client
            .write(
                h,
                WriteRequest::Variable {
                    name: "flag",
                    value: &[1],
                },
            )
            .unwrap();
    }
    assert_eq!(
        pair.client.write(
            h,
            WriteRequest::Variable {
                name: "flag",
                value: &[1]
            }
        ),
        Err(WriteError::Busy)
    );
    pair.drive();
    assert!(
        pair.client
            .write(
                h,
                WriteRequest::Variable {
                    name: "flag",
                    value: &[0]
                }
            )
            .is_ok()
    );
}

/// A region that stops being served (its file removed under the hub): the
/// subscription ends at once, with the hub's code and reason.
#[test]
fn a_region_that_stops_being_served_ends_its_subscription_with_the_reason() {
    let (mut pair, h, _m) = writer(Access::ReadWrite);
    let reason = "region unavailable: its file was removed or renamed";
    pair.hub.gone = Some(("robot", reason));
    // One call sends the error; no timer is needed.
    let mut out = vec![0u8; 4096];
    let n = pair
        .server
        .poll_transmit(pair.now, &mut out, &pair.hub)
        .expect("the error is sent at once");
    let ended =
        split_frames(&out[..n])
            .into_iter()
            .find_map(|f| match Frame::decode(body(&f)).unwrap() {
                Frame::Error(e) => Some((e.code, e.handle, e.reason == reason)),
                _ => None,
            });
    assert_eq!(ended, Some((ErrorCode::Other, Some(h.0), true)));
}
