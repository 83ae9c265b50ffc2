//! A client that publishes a region: the hub subscribes once the client is
//! welcomed and keeps a copy; deltas on reconnect, a full update for a new
//! instance, refusals and schema mismatches reported, the hub's writes
//! applied to writable variables only.

use super::*;
use crate::codec::{Frame, Framing, Write, WriteOutcome, WriteResult, WriteTarget};

/// A device's telemetry: read-only readings, one writable setting.
static TELEMETRY: SchemaBuf<4> = SchemaBuilder::new()
    .var("temp", Kind::F32, 1)
    .var("uptime", Kind::U32, 1)
    .var("led", Kind::Bool, 1)
    .writable()
    .var("samples", Kind::Bytes, 1000)
    .build();

/// The device's region, created at boot with `instance`.
fn device_region(instance: u64) -> Region<'static> {
    let schema = TELEMETRY.as_schema();
    let len = required_len(&schema).unwrap();
    let words: &'static mut [u32] = Box::leak(vec![0u32; len / 4].into_boxed_slice());
    let bytes: &'static mut [u8] = bytemuck::cast_slice_mut(words);
    init(bytes, &schema, instance).unwrap();
    Region::from_bytes(bytes, schema).unwrap()
}

fn publish(region: Region<'static>) -> OwnRegion<'static> {
    let len = region.data_len();
    let leak = |n| -> &'static mut [u8] { Box::leak(vec![0u8; n].into_boxed_slice()) };
    let table = Box::leak(vec![0u64; OwnRegion::table_len(len)].into_boxed_slice());
    OwnRegion::new("telemetry", region, leak(len), leak(len), table).unwrap()
}

/// A hub with a copy of the device's telemetry, subscribed from `resume`.
fn hub_with_copy(resume: Option<Resume>) -> TestHub {
    let mut hub = TestHub::new();
    hub.regions.push(TestRegion::new(
        "dev-telemetry",
        TELEMETRY.as_schema(),
        0x3333,
    ));
    hub.published = vec![("probe", "telemetry", "dev-telemetry", resume)];
    hub
}

fn connect(hub: TestHub, published: Option<OwnRegion<'static>>) -> Pair<4096> {
    let mut pair = Pair::new(hub);
    pair.observer = Some(Describer {
        published,
        ..Describer::default()
    });
    pair.drive();
    assert!(pair.client.is_connected());
    pair
}

/// Asserts the hub's copy holds the device's data area.
fn assert_copied(pair: &mut Pair<4096>) {
    let device = pair.observer.as_ref().unwrap().published.as_ref().unwrap();
    let (data, _) = contents(device.region());
    let copy = pair.hub.region("dev-telemetry");
    assert_eq!(&copy.live[..data.len()], &data[..]);
}

fn server_events(pair: &mut Pair<4096>) -> Vec<ServerEvent> {
    core::iter::from_fn(|| pair.server.poll_event()).collect()
}

#[test]
fn the_hub_copies_a_published_region_and_its_changes() {
    let region = device_region(0xD1);
    region.set_by_name("temp", 21.5f32).unwrap();
    region.write_ranges(&[(12, &[7; 1000])], None).unwrap();
    let mut pair = connect(hub_with_copy(None), Some(publish(region)));
    assert_copied(&mut pair);

    // A local write, picked up by a scan, goes as a small delta.
    region.set_by_name("uptime", 99u32).unwrap();
    let device = pair.observer.as_mut().unwrap().published.as_mut().unwrap();
    assert!(device.scan());
    assert!(!device.scan(), "nothing changed since the last scan");
    let generation = device.generation();
    let before = pair.client_log.len();
    pair.drive();
    let sent = pair.client_log.len() - before;
    assert!(sent < 100, "a 4-byte change took {sent} bytes");
    assert_copied(&mut pair);
    let held = pair.hub.published[0].3.unwrap();
    assert_eq!((held.instance, held.generation), (0xD1, generation));
    assert!(pair.server.stats().updates >= 2);
}

/// The client sends the exact bytes a scan found, as the hub does, not
/// the 64-byte chunks around them; more ranges than it keeps are merged
/// where that costs least.
#[test]
fn a_published_region_sends_exact_ranges() {
    let region = device_region(0xD1);
    let mut pair = connect(hub_with_copy(None), Some(publish(region)));

    // One byte of `uptime`: a one-byte range, not a chunk.
    region.set_by_name("uptime", 1u32).unwrap();
    let device = pair.observer.as_mut().unwrap().published.as_mut().unwrap();
    assert!(device.scan());
    let before = pair.client_log.len();
    pair.drive();
    let sent = pair.client_log.len() - before;
    assert!(sent <= 16, "a one-byte change took {sent} bytes");
    assert_copied(&mut pair);

    // 80 one-byte changes 12 bytes apart: more ranges than the device
    // keeps, so some neighbours go merged; still far below the 16 chunks.
    for i in 0..80 {
        region.write_ranges(&[(12 + 12 * i, &[1])], None).unwrap();
    }
    let device = pair.observer.as_mut().unwrap().published.as_mut().unwrap();
    assert!(device.scan());
    let before = pair.client_log.len();
    pair.drive();
    let sent = pair.client_log.len() - before;
    assert!(sent < 600, "80 scattered bytes took {sent} bytes");
    assert_copied(&mut pair);
}

#[test]
fn a_reconnect_resumes_with_a_delta_and_a_new_instance_gets_everything() {
    let region = device_region(0xD1);
    region.write_ranges(&[(12, &[3; 1000])], None).unwrap();
    let mut pair = connect(hub_with_copy(None), Some(publish(region)));
    let mut observer = pair.observer.take().unwrap();
    let hub = core::mem::take(&mut pair.hub);

    // Disconnected: the device goes on writing.
    region.set_by_name("temp", -4.0f32).unwrap();
    assert!(observer.published.as_mut().unwrap().scan());
    let mut pair = Pair::new(hub);
    pair.observer = Some(observer);
    pair.drive();
    assert!(pair.client.is_connected());
    assert!(pair.client_log.len() < 200, "a delta, not the 1 KiB region");
    assert_copied(&mut pair);

    // A reboot: a new instance, so the hub's resume point means nothing.
    let hub = core::mem::take(&mut pair.hub);
    let region = device_region(0xD2);
    region.write_ranges(&[(12, &[9; 1000])], None).unwrap();
    let mut pair = connect(hub, Some(publish(region)));
    assert!(pair.client_log.len() > 1000, "a full update");
    assert_copied(&mut pair);
    assert_eq!(pair.hub.published[0].3.unwrap().instance, 0xD2);
}

#[test]
fn a_client_that_publishes_nothing_refuses_and_stays_connected() {
    let mut pair = connect(hub_with_copy(None), None);
    let events = server_events(&mut pair);
    assert!(events.contains(&ServerEvent::Unmirrored {
        region: RegionId(2),
        code: ErrorCode::UnknownRegion,
    }));
    assert!(pair.client.is_connected());
    assert!(!pair.server.is_closed());
}

#[test]
fn a_schema_that_differs_from_the_hubs_copy_is_reported() {
    let mut hub = TestHub::new();
    hub.regions
        .push(TestRegion::new("dev-telemetry", OTHER.as_schema(), 0x3333));
    hub.published = vec![("probe", "telemetry", "dev-telemetry", None)];
    let region = device_region(0xD1);
    region.set_by_name("temp", 1.0f32).unwrap();
    let mut pair = connect(hub, Some(publish(region)));
    let events = server_events(&mut pair);
    assert!(events.contains(&ServerEvent::Unmirrored {
        region: RegionId(2),
        code: ErrorCode::SchemaMismatch,
    }));
    assert!(
        pair.hub
            .region("dev-telemetry")
            .live
            .iter()
            .all(|&b| b == 0)
    );
    assert!(pair.client.is_connected());
}

/// Feeds the client a write from the hub and returns its answer.
fn hub_writes(
    pair: &mut Pair<4096>,
    request: u32,
    name: &str,
    value: &[u8],
) -> WriteOutcome<'static> {
    let frame = Frame::Write(Write {
        request,
        handle: 0,
        target: WriteTarget::Variable {
            name: Name::new(name).unwrap(),
            value,
        },
    });
    let mut framed = [0u8; 64];
    let n = Framing::LengthPrefix.encode(&frame, &mut framed).unwrap();
    let observer = pair.observer.as_mut().unwrap();
    pair.client
        .handle_input_with(pair.now, &framed[..n], observer);
    let mut out = vec![0u8; 4096];
    let n = pair
        .client
        .poll_transmit_with(pair.now, &mut out, observer)
        .unwrap();
    let frames = split_frames(&out[..n]);
    // The update that carries the write goes to the hub; the answer would
    // go to the hub's writer, which this hub lacks.
    let mut answer = None;
    for f in &frames {
        match Frame::decode(body(f)).unwrap() {
            Frame::WriteResult(WriteResult { outcome, .. }) => answer = Some(outcome),
            _ => pair.server.handle_input(pair.now, f, &mut pair.hub),
        }
    }
    let answer = match answer.unwrap() {
        WriteOutcome::Applied { generation } => WriteOutcome::Applied { generation },
        WriteOutcome::Refused { code, .. } => WriteOutcome::Refused { code, reason: "" },
    };
    pair.drive();
    answer
}

#[test]
fn the_hubs_writes_reach_writable_variables_only() {
    let region = device_region(0xD1);
    let mut pair = connect(hub_with_copy(None), Some(publish(region)));

    let answer = hub_writes(&mut pair, 1, "led", &[1]);
    let WriteOutcome::Applied { generation } = answer else {
        panic!("write refused: {answer:?}");
    };
    assert!(region.get_by_name::<bool>("led").unwrap());
    let device = pair.observer.as_ref().unwrap().published.as_ref().unwrap();
    assert_eq!(device.generation(), generation);
    assert_copied(&mut pair);

    let refused = hub_writes(&mut pair, 2, "temp", &[0; 4]);
    assert_eq!(
        refused,
        WriteOutcome::Refused {
            code: ErrorCode::ReadOnly,
            reason: ""
        }
    );
    let bad = hub_writes(&mut pair, 3, "led", &[2]);
    assert!(matches!(
        bad,
        WriteOutcome::Refused {
            code: ErrorCode::BadValue,
            ..
        }
    ));
    assert_eq!(region.get_by_name::<f32>("temp").unwrap(), 0.0);
}

#[test]
fn a_copy_cut_off_in_a_new_instances_full_update_does_not_resume_from_the_old_generation() {
    // The hub's copy holds generation 3 of instance 0xD1, all of it 0xEE.
    let mut hub = hub_with_copy(Some(Resume {
        instance: 0xD1,
        generation: 3,
    }));
    hub.region("dev-telemetry").live.fill(0xEE);
    hub.region("dev-telemetry").scan();
    // The device rebooted as 0xD2 and reached generation 3 of its own.
    let region = device_region(0xD2);
    region.write_ranges(&[(12, &[9; 1000])], None).unwrap();
    let mut published = publish(region);
    region.set_by_name("temp", 1.0f32).unwrap();
    assert!(published.scan());
    region.set_by_name("uptime", 2u32).unwrap();
    assert!(published.scan());
    assert_eq!(published.generation(), 3);

    let small = ServerConfig {
        max_frame: 256,
        ..ServerConfig::new(7)
    };
    let mut pair = Pair::<4096>::with(hub, client_config(), small);
    pair.observer = Some(Describer {
        published: Some(published),
        ..Describer::default()
    });
    // Hello, auth, then the schema and the full update's parts: held back.
    for _ in 0..3 {
        pair.hold_client = true;
        pair.drive();
        if pair.client.is_connected() {
            break;
        }
        pair.release();
    }
    let frames = split_frames(&core::mem::take(&mut pair.held));
    let parts = frames
        .iter()
        .filter(|f| matches!(Frame::decode(body(f)), Ok(Frame::Update(_))))
        .count();
    assert!(parts > 1, "the full update goes in parts");
    // The connection drops after the schema and the first part.
    let first_update = frames
        .iter()
        .position(|f| matches!(Frame::decode(body(f)), Ok(Frame::Update(_))))
        .unwrap();
    for f in &frames[..=first_update] {
        pair.server.handle_input(pair.now, f, &mut pair.hub);
    }
    let held = pair.hub.published[0].3;
    assert!(
        held.is_none_or(|r| r.instance != 0xD2 || r.generation == 0),
        "the copy vouches for {held:?} after one part of a full update"
    );

    // Reconnected: whatever the resume point, the copy ends up whole.
    let observer = pair.observer.take();
    let hub = core::mem::take(&mut pair.hub);
    let mut pair = Pair::new(hub);
    pair.observer = observer;
    pair.drive();
    assert!(pair.client.is_connected());
    assert_copied(&mut pair);
}

#[test]
fn the_hub_writes_to_a_published_region_through_its_client() {
    let region = device_region(0xD1);
    let mut pair = connect(hub_with_copy(None), Some(publish(region)));
    let copy = RegionId(2);
    let led = TELEMETRY.as_schema().lookup("led").unwrap().1.range().start;

    let request = pair.server.write(copy, &[(led, &[1])]).unwrap();
    pair.drive();
    let events = server_events(&mut pair);
    let device = pair.observer.as_ref().unwrap().published.as_ref().unwrap();
    assert!(
        events.contains(&ServerEvent::WriteApplied {
            request,
            generation: device.generation()
        }),
        "{events:?}"
    );
    assert!(region.get_by_name::<bool>("led").unwrap());
    assert_copied(&mut pair);

    let refused = pair.server.write(copy, &[(0, &[0; 4])]).unwrap();
    pair.drive();
    assert!(
        server_events(&mut pair).contains(&ServerEvent::WriteRefused {
            request: refused,
            code: ErrorCode::ReadOnly,
        })
    );
    assert_eq!(
        pair.server.write(RegionId(0), &[(0, &[0])]),
        Err(WriteError::UnknownHandle),
        "the hub's own region is not the client's"
    );
}

#[test]
fn deferred_writes_are_answered_when_the_hub_says_and_in_order() {
    let mut pair = Pair::<4096>::connect(TestHub::new());
    let (h, _m) = pair.subscribe("robot", ROBOT.as_schema());
    pair.hub.defer = true;
    let first = pair
        .client
        .write(
            h,
            WriteRequest::Variable {
                name: "setpoint",
                value: &2.0f32.to_le_bytes(),
            },
        )
        .unwrap();
    let second = pair
        .client
        .write(
            h,
            WriteRequest::Variable {
                name: "flag",
                value: &[1],
            },
        )
        .unwrap();
    pair.drive();
    assert_eq!(pair.hub.deferred.len(), 2);
    assert_eq!(pair.hub.deferred[0].0, first);
    assert_eq!(
        pair.hub.deferred[0].2,
        [(24, 2.0f32.to_le_bytes().to_vec())]
    );
    let written = |e: &Event| matches!(e, Event::WriteApplied { .. } | Event::WriteRefused { .. });
    assert!(!pair.take_events().iter().any(written));

    // The second is answered first, but waits for the first.
    assert!(pair.server.answer_write(second, Ok(77)));
    assert!(!pair.server.answer_write(second, Ok(78)), "answered once");
    pair.drive();
    assert!(!pair.take_events().iter().any(written));
    assert!(pair.server.answer_write(first, Err(ErrorCode::Busy)));
    pair.drive();
    let answers: Vec<Event> = pair.take_events().into_iter().filter(written).collect();
    assert_eq!(
        answers,
        [
            Event::WriteRefused {
                request: first,
                code: ErrorCode::Busy
            },
            Event::WriteApplied {
                request: second,
                generation: 77
            },
        ]
    );
    // Nothing was written by the session itself.
    assert_eq!(pair.hub.region("robot").live[24..28], [0; 4]);
}
