//! Publisher and subscriber: mirrors follow their sources exactly.

use std::boxed::Box;
use std::vec::Vec;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use super::*;
use crate::codec::Frame;

fn updates_in<const RX: usize>(pair: &Pair<RX>) -> Vec<(u64, u64, bool)> {
    pair.server_updates
        .iter()
        .map(|&(_, base, generation, last)| (base, generation, last))
        .collect()
}

#[test]
fn subscribe_gets_schema_then_full_update() {
    let mut pair = Pair::<4096>::connect(TestHub::new());
    pair.hub.region("robot").live[0..4].copy_from_slice(&1.5f32.to_le_bytes());
    pair.hub.region("robot").scan();
    let (h, m) = pair.subscribe("robot", ROBOT.as_schema());
    pair.assert_synced("robot", &m);
    assert_eq!(m.get_by_name::<[f32; 3]>("pos"), Ok([1.5, 0.0, 0.0]));
    let events = pair.take_events();
    assert!(events.contains(&Event::Updated {
        handle: h,
        generation: 2,
        resynced: true
    }));
    assert_eq!(updates_in(&pair), [(0, 2, true)]);
    // A small change is one exact delta from the last scan.
    pair.clear_frames();
    pair.hub.region("robot").live[24..28].copy_from_slice(&7.0f32.to_le_bytes());
    pair.hub.region("robot").scan();
    pair.drive();
    pair.assert_synced("robot", &m);
    assert_eq!(updates_in(&pair), [(2, 3, true)]);
    assert!(
        pair.server_frames[0].len() < 16,
        "{:?}",
        pair.server_frames[0]
    );
    assert_eq!(
        pair.take_events(),
        [Event::Updated {
            handle: h,
            generation: 3,
            resynced: false
        }]
    );
    assert_eq!(
        resume_of(&pair, h),
        Resume {
            instance: 0x1111,
            generation: 3
        }
    );
    // Paths may name the tenant.
    let (_, m2) = pair.subscribe("acme/robot", ROBOT.as_schema());
    pair.assert_synced("robot", &m2);
}

/// An update of more ranges than the mirror is written in at a time is
/// still one commit of the mirror: a reader never sees it half applied (a
/// variable new in the ranges written first and old in the others).
#[test]
fn an_update_of_many_ranges_is_one_commit_of_the_mirror() {
    let mut pair = Pair::<4096>::connect(TestHub::new());
    let (_, m) = pair.subscribe("robot", ROBOT.as_schema());
    let schema = ROBOT.as_schema();
    let log = schema.get(schema.find("log").unwrap()).unwrap().range();
    // Bytes 4 apart: each its own range.
    for i in 0..40 {
        pair.hub.region("robot").live[log.start + 4 * i] = 1;
    }
    pair.hub.region("robot").scan();
    pair.clear_frames();
    let commits = m.commit_counter().load(crate::sync::Ordering::Relaxed);
    pair.drive();
    pair.assert_synced("robot", &m);
    let ranges: Vec<usize> = pair
        .server_frames
        .iter()
        .filter_map(|f| match Frame::decode(body(f)) {
            Ok(Frame::Update(u)) => Some(u.ranges.iter().count()),
            _ => None,
        })
        .collect();
    assert_eq!(ranges, [40]);
    assert_eq!(
        m.commit_counter().load(crate::sync::Ordering::Relaxed),
        commits + 2
    );
}

/// The commits an update of `log` made of the mirror: each of its 2000
/// bytes set to `value` (in frames of 256 bytes, eight parts or more).
fn commits_of_a_large_update(pair: &mut Pair<256>, m: &Region<'_>, value: u8) -> u32 {
    let schema = ROBOT.as_schema();
    let log = schema.get(schema.find("log").unwrap()).unwrap().range();
    pair.hub.region("robot").live[log].fill(value);
    pair.hub.region("robot").scan();
    pair.server_updates.clear();
    let commits = m.commit_counter().load(crate::sync::Ordering::Relaxed);
    pair.drive();
    pair.assert_synced("robot", m);
    assert!(updates_in(pair).len() >= 8);
    (m.commit_counter().load(crate::sync::Ordering::Relaxed) - commits) / 2
}

/// An update larger than a frame is one commit of a mirror whose client
/// lends room for its parts (a reader never sees its first parts without
/// the others); without that room, each part is a commit of its own.
#[test]
fn an_update_of_many_parts_is_one_commit_of_a_mirror_with_room_for_parts() {
    let mut pair = Pair::<256>::connect(TestHub::new());
    pair.observer = Some(Describer {
        held: Some(TestHeld::default()),
        ..Describer::default()
    });
    let (_, m) = pair.subscribe("robot", ROBOT.as_schema());
    assert_eq!(commits_of_a_large_update(&mut pair, &m, 1), 1);
    assert_eq!(commits_of_a_large_update(&mut pair, &m, 2), 1);
    pair.observer = None;
    assert!(commits_of_a_large_update(&mut pair, &m, 3) >= 8);
}

/// An update whose last part never arrives leaves the mirror's bytes and
/// generation as they were; the next update, from another base, is an
/// anomaly as before: one commit that vouches for no generation, then the
/// full update as one commit.
#[test]
fn an_update_without_its_last_part_leaves_the_mirror_as_it_was() {
    let mut pair = Pair::<256>::connect(TestHub::new());
    pair.observer = Some(Describer {
        held: Some(TestHeld::default()),
        ..Describer::default()
    });
    let (_, m) = pair.subscribe("robot", ROBOT.as_schema());
    let before = contents(&m);
    pair.mangle = Some(Box::new(|frames: Vec<Vec<u8>>| {
        frames
            .into_iter()
            .filter(|f| !matches!(Frame::decode(body(f)), Ok(Frame::Update(u)) if u.last))
            .collect()
    }));
    let schema = ROBOT.as_schema();
    let log = schema.get(schema.find("log").unwrap()).unwrap().range();
    pair.hub.region("robot").live[log].fill(9);
    pair.hub.region("robot").scan();
    pair.drive();
    assert_eq!(contents(&m), before);
    pair.mangle = None;
    assert_eq!(commits_of_a_large_update(&mut pair, &m, 4), 2);
}

/// One step of a random workload.
#[derive(Clone, Debug)]
enum Step {
    /// A local writer changes bytes.
    Write { offset: usize, bytes: Vec<u8> },
    /// The hub scans.
    Scan,
    /// Bytes move between the peers.
    Drive,
}

fn step(len: usize) -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..len, proptest::collection::vec(any::<u8>(), 1..40))
            .prop_map(|(offset, bytes)| Step::Write { offset, bytes }),
        2 => Just(Step::Scan),
        1 => Just(Step::Drive),
    ]
}

#[test]
fn mirror_equals_source_after_random_workloads() {
    let len = TestRegion::new("robot", ROBOT.as_schema(), 1).live.len();
    let config = Config {
        cases: if cfg!(miri) { 2 } else { 48 },
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let max_steps = if cfg!(miri) { 8 } else { 60 };
    runner
        .run(
            &proptest::collection::vec(step(len), 1..max_steps),
            |steps| {
                let mut pair = Pair::<4096>::connect(TestHub::new());
                let (h, m) = pair.subscribe("robot", ROBOT.as_schema());
                for s in steps {
                    match s {
                        Step::Write { offset, bytes } => {
                            let live = &mut pair.hub.region("robot").live;
                            let end = (offset + bytes.len()).min(live.len());
                            live[offset..end].copy_from_slice(&bytes[..end - offset]);
                        }
                        Step::Scan => pair.hub.region("robot").scan(),
                        Step::Drive => pair.drive(),
                    }
                }
                pair.hub.region("robot").scan();
                pair.drive();
                pair.assert_synced("robot", &m);
                prop_assert_eq!(
                    pair.client.resume_point(h).unwrap().generation,
                    pair.hub.region("robot").generation
                );
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn slow_acker_gets_coalesced_updates() {
    let mut pair = Pair::<4096>::connect(TestHub::new());
    let (_, m) = pair.subscribe("robot", ROBOT.as_schema());
    pair.clear_frames();
    pair.hold_client = true;
    for i in 0..50u32 {
        pair.hub.region("robot").live[32..36].copy_from_slice(&i.to_le_bytes());
        pair.hub.region("robot").live[40 + i as usize] = 1;
        pair.hub.region("robot").scan();
        pair.drive();
    }
    // Two updates in flight, then nothing until acks come back.
    assert_eq!(updates_in(&pair).len(), 2);
    pair.clear_frames();
    pair.release();
    pair.drive();
    // One update covers the 48 generations that were not sent.
    let updates = updates_in(&pair);
    assert_eq!(updates.len(), 1, "{updates:?}");
    pair.assert_synced("robot", &m);
    // The server's memory does not depend on how far behind the peer is.
    assert!(core::mem::size_of::<Server<4, 4096>>() < 8192);
}

#[test]
fn disconnect_mid_update_then_resume_with_a_delta() {
    let mut pair = Pair::<256>::connect(TestHub::new());
    let m = mirror(ROBOT.as_schema());
    let h = pair.client.subscribe("robot", m, None).unwrap();
    pair.drive();
    let resume = pair.client.resume_point(h).unwrap();
    // A change spanning many 256-byte frames; the link drops after two.
    for b in &mut pair.hub.region("robot").live[100..1900] {
        *b = 0xEE;
    }
    pair.hub.region("robot").scan();
    pair.budget = Some(2);
    pair.drive();
    let (partial, generation) = contents(&m);
    assert_eq!(
        generation, resume.generation,
        "a partial update moves no generation"
    );
    assert!(partial[100..1900].contains(&0xEE) && partial[100..1900].contains(&0));
    assert_eq!(pair.client.resume_point(h), Some(resume));
    // A new connection resumes from the generation held: a delta, not a
    // full update.
    let mut again = Pair::<256>::connect(core::mem::take(&mut pair.hub));
    let h2 = again.client.subscribe("robot", m, Some(resume)).unwrap();
    again.drive();
    again.assert_synced("robot", &m);
    let updates = updates_in(&again);
    assert!(
        updates
            .iter()
            .all(|&(base, _, _)| base == resume.generation),
        "{updates:?}"
    );
    assert!(again.take_events().contains(&Event::Updated {
        handle: h2,
        generation: resume.generation + 1,
        resynced: false
    }));
}

#[test]
fn resume_across_a_new_instance_is_a_full_update() {
    let mut pair = Pair::<4096>::connect(TestHub::new());
    let (h, m) = pair.subscribe("robot", ROBOT.as_schema());
    let resume = resume_of(&pair, h);
    let mut hub = core::mem::take(&mut pair.hub);
    // The region is created anew, at a generation past the mirror's.
    let mut fresh = TestRegion::new("robot", ROBOT.as_schema(), 0x9999);
    fresh.live[5] = 5;
    fresh.scan();
    fresh.live[6] = 6;
    fresh.scan();
    hub.regions[0] = fresh;
    let mut again = Pair::<4096>::connect(hub);
    let h2 = again.client.subscribe("robot", m, Some(resume)).unwrap();
    again.drive();
    again.assert_synced("robot", &m);
    assert_eq!(updates_in(&again), [(0, 3, true)]);
    assert!(again.take_events().contains(&Event::Updated {
        handle: h2,
        generation: 3,
        resynced: true
    }));
    assert_eq!(again.client.resume_point(h2).unwrap().instance, 0x9999);
    // The same happens within a connection.
    let mut newer = TestRegion::new("robot", ROBOT.as_schema(), 0x7777);
    newer.live[9] = 9;
    newer.scan();
    again.hub.regions[0] = newer;
    again.drive();
    again.assert_synced("robot", &m);
}

#[test]
fn tiny_frame_limit_mirrors_a_large_region() {
    let mut pair = Pair::<256>::connect(TestHub::new());
    for (i, b) in pair.hub.region("blob").live.iter_mut().enumerate() {
        *b = (i * 7 % 251) as u8;
    }
    pair.hub.region("blob").scan();
    let (_, m) = pair.subscribe("blob", BLOB.as_schema());
    pair.assert_synced("blob", &m);
    let frames = pair.server_frames.len();
    assert!(frames > BIG as usize / 256, "{frames} frames");
    // A later small change is small.
    pair.clear_frames();
    pair.hub.region("blob").live[BIG as usize / 2] ^= 0xFF;
    pair.hub.region("blob").scan();
    pair.drive();
    pair.assert_synced("blob", &m);
    assert_eq!(pair.server_frames.len(), 1);
}

#[test]
fn duplicated_and_reordered_frames_are_harmless() {
    use std::cell::RefCell;
    use std::rc::Rc;
    let mut pair = Pair::<4096>::connect(TestHub::new());
    let (_, m) = pair.subscribe("robot", ROBOT.as_schema());
    // Every third batch is duplicated; every fifth batch loses its first
    // frame to the next batch (delivered after it).
    let held: Rc<RefCell<Option<Vec<u8>>>> = Rc::default();
    let slot = held.clone();
    let mut count = 0usize;
    pair.mangle = Some(Box::new(move |mut frames: Vec<Vec<u8>>| {
        count += 1;
        let late = slot.borrow_mut().take();
        if count.is_multiple_of(5) {
            *slot.borrow_mut() = Some(frames.remove(0));
        } else if count % 3 == 1 {
            frames.extend(frames.clone());
        }
        frames.extend(late);
        frames
    }));
    for round in 0..20u8 {
        let live = &mut pair.hub.region("robot").live;
        for b in &mut live[usize::from(round) * 50..usize::from(round) * 50 + 700] {
            *b = b.wrapping_add(round + 1);
        }
        for k in 0..4 {
            live[1500 + usize::from(round) * 20 + k * 5] ^= 0x5A;
        }
        pair.hub.region("robot").scan();
        pair.drive();
        pair.advance(Duration::from_millis(500));
    }
    pair.mangle = None;
    if let Some(frame) = held.borrow_mut().take() {
        pair.client.handle_input(pair.now, &frame);
    }
    // Whatever was refused has been asked for again.
    pair.drive();
    pair.assert_synced("robot", &m);
    assert!(pair.client.stats().resyncs > 0);
    assert!(pair.server.stats().resyncs > 0);
}

#[test]
fn schema_mismatch_leaves_the_mirror_untouched() {
    let mut pair = Pair::<4096>::connect(TestHub::new());
    pair.hub.region("robot").live[0] = 1;
    pair.hub.region("robot").scan();
    pair.take_events();
    let (h, m) = pair.subscribe("robot", OTHER.as_schema());
    assert_eq!(pair.take_events(), [Event::SchemaMismatch { handle: h }]);
    let (data, generation) = contents(&m);
    assert_eq!(generation, 0);
    assert!(data.iter().all(|&b| b == 0));
    assert_eq!(pair.client.resume_point(h), None);
    // The slot is free again, and the server dropped the subscription.
    pair.hub.region("robot").live[0] = 2;
    pair.hub.region("robot").scan();
    pair.clear_frames();
    pair.drive();
    assert!(updates_in(&pair).is_empty());
}

#[test]
fn unknown_region_and_other_tenants_end_the_subscription() {
    let mut pair = Pair::<4096>::connect(TestHub::new());
    pair.take_events();
    let (h1, _) = pair.subscribe("nothing", ROBOT.as_schema());
    let (h2, _) = pair.subscribe("other/robot", ROBOT.as_schema());
    assert_eq!(
        pair.take_events(),
        [
            Event::Ended {
                handle: h1,
                code: ErrorCode::UnknownRegion
            },
            Event::Ended {
                handle: h2,
                code: ErrorCode::AccessDenied
            },
        ]
    );
    assert!(pair.client.is_connected());
}
