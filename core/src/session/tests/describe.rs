//! Described subscriptions (the table comes from the hub) and the welcome's
//! region list.

use std::vec::Vec;

use super::*;
use crate::codec::{Frame, Framing, Ranges, SchemaPart, Update, UpdateBase, VarTable};
use crate::schema::place;

/// Forty variables of mixed kinds: a table that takes several schema parts
/// in 128-byte frames.
fn many_schema(vars: usize) -> Schema<'static> {
    let kinds = [Kind::F32, Kind::U8, Kind::U64, Kind::Bool, Kind::I16];
    let mut list: Vec<Variable> = (0..vars)
        .map(|i| {
            let name = std::format!("sensor_{i:02}");
            let mut var = Variable::new(
                Name::new(&name).unwrap(),
                kinds[i % kinds.len()],
                1 + (i % 3) as u32,
                0,
            );
            var.writable = i % 4 == 0;
            var
        })
        .collect();
    place(&mut list).unwrap();
    leak_schema(list)
}

/// The test hub with a region `many` of forty variables, written to.
fn many_hub() -> TestHub {
    let mut hub = TestHub::new();
    let mut many = TestRegion::new("many", many_schema(40), 0x3333);
    for (i, b) in many.live.iter_mut().enumerate() {
        *b = (i * 13 % 251) as u8;
    }
    // Bool variables hold 0 or 1.
    for var in many.schema.variables() {
        if var.kind == Kind::Bool {
            for b in &mut many.live[var.range()] {
                *b &= 1;
            }
        }
    }
    many.scan();
    hub.regions.push(many);
    hub.rights.push(("probe", "many", Access::ReadWrite));
    hub
}

fn observed<const RX: usize>(hub: TestHub) -> Pair<RX> {
    let mut pair = Pair::<RX>::new(hub);
    pair.observer = Some(Describer::default());
    pair.drive();
    assert!(pair.client.is_connected());
    pair
}

fn describer<const RX: usize>(pair: &mut Pair<RX>) -> &mut Describer {
    pair.observer.as_mut().unwrap()
}

/// Updates among framed frames: (handle, base, generation).
fn updates<const RX: usize>(pair: &Pair<RX>) -> Vec<(u16, u64, u64)> {
    pair.server_updates
        .iter()
        .map(|&(handle, base, generation, _)| (handle, base, generation))
        .collect()
}

/// The subscribes and unsubscribes the client sent: (handle, variables) and
/// (handle, None).
fn subscriptions(log: &[u8]) -> Vec<(u16, Option<bool>)> {
    split_frames(log)
        .iter()
        .filter_map(|f| match Frame::decode(body(f)) {
            Ok(Frame::Subscribe(s)) => Some((s.handle, Some(s.variables))),
            Ok(Frame::Unsubscribe(u)) => Some((u.handle, None)),
            _ => None,
        })
        .collect()
}

/// Feeds one frame to the client through the pair's observer.
fn feed<const RX: usize>(pair: &mut Pair<RX>, frame: &Frame<'_>) {
    let mut buf = [0u8; 256];
    let n = Framing::LengthPrefix.encode(frame, &mut buf).unwrap();
    let observer = pair.observer.as_mut().unwrap();
    pair.client.handle_input_with(pair.now, &buf[..n], observer);
}

#[test]
fn described_subscription_takes_the_table_in_parts() {
    let mut pair = observed::<128>(many_hub());
    pair.take_events();
    let h = pair.client.subscribe_described("many").unwrap();
    pair.drive();
    assert_eq!(subscriptions(&pair.client_log), [(h.0, Some(true))]);
    let d = describer(&mut pair);
    assert!(d.parts.len() >= 4, "{:?}", d.parts);
    // In order, whole variables, the table whole at the last part.
    let mut next = 0;
    for &(handle, first, n, count) in &d.parts {
        assert_eq!((handle, first, count), (h, next, 40));
        assert!(n > 0);
        next += n as u32;
    }
    assert_eq!(next, 40);
    assert_eq!(d.mirrors.len(), 1);
    let m = d.mirrors[0].1;
    let generation = pair.hub.region("many").generation;
    pair.assert_synced("many", &m);
    assert_eq!(
        pair.take_events(),
        [Event::Updated {
            handle: h,
            generation,
            resynced: true
        }]
    );
    // From here on it is an ordinary subscription: deltas...
    pair.clear_frames();
    pair.hub.region("many").live[5] ^= 0xFF;
    pair.hub.region("many").scan();
    pair.drive();
    pair.assert_synced("many", &m);
    assert_eq!(updates(&pair), [(h.0, generation, generation + 1)]);
    // ...and writes by name.
    let request = pair
        .client
        .write(
            h,
            WriteRequest::Variable {
                name: "sensor_00",
                value: &2.5f32.to_le_bytes(),
            },
        )
        .unwrap();
    pair.drive();
    assert!(
        pair.take_events()
            .iter()
            .any(|e| matches!(e, Event::WriteApplied { request: r, .. } if *r == request))
    );
    assert_eq!(m.get_by_name::<f32>("sensor_00"), Ok(2.5));
    pair.assert_synced("many", &m);
}

#[test]
fn a_described_mirror_resumes_with_a_delta_on_a_new_connection() {
    let mut pair = observed::<128>(many_hub());
    let h = pair.client.subscribe_described("many").unwrap();
    pair.drive();
    let m = describer(&mut pair).mirrors[0].1;
    let resume = pair.client.resume_point(h).unwrap();
    assert_eq!(resume.instance, 0x3333);
    // The region moves while the client is away.
    pair.hub.region("many").live[100..140].fill(0x42);
    pair.hub.region("many").scan();
    let mut again = Pair::<128>::connect(core::mem::take(&mut pair.hub));
    let h2 = again.client.subscribe("many", m, Some(resume)).unwrap();
    again.drive();
    again.assert_synced("many", &m);
    assert_eq!(subscriptions(&again.client_log), [(h2.0, Some(false))]);
    let sent = updates(&again);
    assert!(!sent.is_empty());
    assert!(
        sent.iter().all(|&(_, base, _)| base == resume.generation),
        "{sent:?}"
    );
    assert!(again.take_events().contains(&Event::Updated {
        handle: h2,
        generation: resume.generation + 1,
        resynced: false
    }));
}

#[test]
fn no_mirror_for_the_table_ends_the_subscription() {
    let mut pair = observed::<4096>(many_hub());
    describer(&mut pair).decline = true;
    pair.take_events();
    let h = pair.client.subscribe_described("many").unwrap();
    pair.drive();
    assert_eq!(pair.take_events(), [Event::SchemaMismatch { handle: h }]);
    assert_eq!(pair.client.resume_point(h), None);
    // The hub was told: later changes send nothing.
    assert_eq!(
        subscriptions(&pair.client_log),
        [(h.0, Some(true)), (h.0, None)]
    );
    pair.clear_frames();
    pair.hub.region("many").live[0] ^= 1;
    pair.hub.region("many").scan();
    pair.drive();
    assert!(updates(&pair).is_empty());
    // The slot is free again.
    let schema = pair.hub.region("many").schema;
    let (h2, m) = pair.subscribe("many", schema);
    assert_eq!(h2, h);
    pair.assert_synced("many", &m);
}

#[test]
fn a_mirror_known_by_its_fingerprint_starts_at_the_first_part() {
    let mut pair = observed::<128>(many_hub());
    let schema = pair.hub.region("many").schema;
    describer(&mut pair).known = Some(mirror(schema));
    let h = pair.client.subscribe_described("many").unwrap();
    pair.drive();
    let d = describer(&mut pair);
    // Later parts went to the subscription, not to the observer.
    assert_eq!(d.parts.len(), 1);
    let m = d.mirrors[0].1;
    pair.assert_synced("many", &m);
    assert!(pair.client.resume_point(h).is_some());
}

#[test]
fn a_region_created_anew_mid_table_restarts_the_table() {
    let mut pair = observed::<128>(many_hub());
    let h = pair.client.subscribe_described("many").unwrap();
    // The subscribe reaches the hub and one schema part comes back.
    let mut buf = [0u8; 256];
    let n = pair.client.poll_transmit(pair.now, &mut buf).unwrap();
    pair.server.handle_input(pair.now, &buf[..n], &mut pair.hub);
    let mut small = [0u8; 133];
    let n = pair
        .server
        .poll_transmit(pair.now, &mut small, &pair.hub)
        .unwrap();
    let observer = pair.observer.as_mut().unwrap();
    pair.client
        .handle_input_with(pair.now, &small[..n], observer);
    assert_eq!(describer(&mut pair).parts.len(), 1);
    // The region is created anew with another schema.
    let mut fresh = TestRegion::new("many", many_schema(25), 0x4444);
    fresh.live[3] = 3;
    fresh.scan();
    let index = pair.hub.regions.iter().position(|r| r.name == "many");
    pair.hub.regions[index.unwrap()] = fresh;
    pair.drive();
    let d = describer(&mut pair);
    assert_eq!(d.parts[1].1, 0, "{:?}", d.parts);
    assert!(d.parts[1..].iter().all(|&(_, _, _, count)| count == 25));
    let m = d.mirrors[0].1;
    assert_eq!(m.schema().len(), 25);
    pair.assert_synced("many", &m);
    assert_eq!(pair.client.resume_point(h).unwrap().instance, 0x4444);
}

#[test]
fn updates_before_the_table_are_ignored_and_broken_tables_end() {
    let mut pair = observed::<4096>(TestHub::new());
    pair.take_events();
    let h = pair.client.subscribe_described("robot").unwrap();
    // Before the hub answers: an update with no mirror to go to.
    let ranges = Ranges::new_checked(&[0, 1, 7]).unwrap();
    feed(
        &mut pair,
        &Frame::Update(Update {
            handle: h.0,
            base: UpdateBase::At(0),
            step: 9,
            last: true,
            ranges,
        }),
    );
    assert!(pair.client.poll_event().is_none());
    assert!(pair.client.is_connected());
    pair.drive();
    let m = describer(&mut pair).mirrors[0].1;
    pair.assert_synced("robot", &m);
    pair.take_events();
    // A part that does not continue the table.
    let mut scratch = [0u8; 64];
    let vars = ROBOT.as_schema().variables();
    let one = VarTable::encode(&vars[2..3], &mut scratch).unwrap();
    let part = |handle: Handle, first, variables| {
        Frame::Schema(SchemaPart {
            handle: handle.0,
            instance: 0x1111,
            fingerprint: ROBOT.as_schema().fingerprint(),
            data_len: ROBOT.as_schema().data_len(),
            count: 6,
            first,
            variables,
        })
    };
    let h2 = pair.client.subscribe_described("robot").unwrap();
    feed(&mut pair, &part(h2, 2, one));
    // A part with no variables before the table is whole: a hub that
    // ignored `variables`.
    let h3 = pair.client.subscribe_described("robot").unwrap();
    feed(&mut pair, &part(h3, 0, VarTable::EMPTY));
    let code = ErrorCode::UnexpectedFrame;
    assert_eq!(
        [pair.client.poll_event(), pair.client.poll_event()],
        [
            Some(Event::Ended { handle: h2, code }),
            Some(Event::Ended { handle: h3, code })
        ]
    );
    // Neither part was shown to the observer.
    assert!(describer(&mut pair).parts.iter().all(|p| p.0 == h));
    pair.drive();
    assert!(pair.client.is_connected());
    // The first subscription goes on.
    pair.hub.region("robot").live[0] = 9;
    pair.hub.region("robot").scan();
    pair.drive();
    pair.assert_synced("robot", &m);
}

#[test]
fn the_welcome_lists_the_regions_the_client_may_access() {
    let mut hub = many_hub();
    hub.rights.push(("probe", "blob", Access::None));
    let mut pair = observed::<4096>(hub);
    let name = |s: &str| Name::new(s).unwrap();
    assert_eq!(
        describer(&mut pair).welcome,
        Some((
            std::vec![
                RegionInfo {
                    name: name("robot"),
                    instance: 0x1111
                },
                RegionInfo {
                    name: name("many"),
                    instance: 0x3333
                },
            ],
            true
        ))
    );
}

#[test]
fn the_welcome_lists_as_many_regions_as_fit() {
    let mut hub = TestHub::new();
    for i in 0..12 {
        let name: &'static str = std::format!("region-{i:02}").leak();
        hub.regions
            .push(TestRegion::new(name, OTHER.as_schema(), 0x100 + i));
    }
    let mut pair = observed::<128>(hub);
    let (list, complete) = describer(&mut pair).welcome.clone().unwrap();
    assert!(!complete);
    // A prefix of the hub's list, in its order.
    let all: Vec<_> = pair.hub.regions.iter().map(|r| r.name).collect();
    let shown: Vec<_> = list.iter().map(|r| r.name.as_str()).collect();
    assert!(shown.len() > 2 && shown.len() < all.len(), "{shown:?}");
    assert_eq!(shown[..], all[..shown.len()]);
    // Packed: the next region would not have fit.
    let welcome = &pair.server_frames[1];
    let Ok(Frame::Welcome(w)) = Frame::decode(body(welcome)) else {
        panic!("second frame is not the welcome");
    };
    assert_eq!(w.regions.iter().count(), shown.len());
    let next = all[shown.len()].len() + 1 + 8;
    assert!(body(welcome).len() <= 128);
    assert!(body(welcome).len() + next > 128, "{}", body(welcome).len());
}

#[test]
fn a_hub_that_does_not_list_says_its_list_is_incomplete() {
    let mut hub = TestHub::new();
    hub.unlisted = true;
    let mut pair = observed::<4096>(hub);
    assert_eq!(describer(&mut pair).welcome, Some((Vec::new(), false)));
}
