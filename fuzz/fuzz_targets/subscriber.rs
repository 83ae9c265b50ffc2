//! A client past its handshake, subscribed with a mirror, fed arbitrary
//! stream bytes split arbitrarily: no panic, the mirror's layout stays
//! valid, and its generation moves only to that of a completed update (or
//! back to 0, when it asks for a full update).
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};
use libfuzzer_sys::fuzz_target;
use memwire::codec::{
    Challenge, Frame, Framing, Limits, PROTOCOL_VERSION, RegionList, SchemaPart, VarTable, Welcome,
};

use memwire::layout::required_len;
use memwire::schema::{Kind, SchemaBuf, SchemaBuilder};
use memwire::session::{Client, ClientConfig, Event};
use memwire::time::Instant;
use memwire::{Region, RegionView};

static SCHEMA: SchemaBuf<3> = SchemaBuilder::new()
    .var("pos", Kind::F32, 3)
    .var("flag", Kind::Bool, 1)
    .var("log", Kind::Bytes, 300)
    .build();

fn framed(frame: &Frame<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; 512];
    let n = Framing::LengthPrefix.encode(frame, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

fn bytes_of(region: &Region<'_>) -> Vec<u8> {
    region
        .words()
        .iter()
        .flat_map(|w| w.load(Ordering::Relaxed).to_le_bytes())
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let schema = SCHEMA.as_schema();
    let len = required_len(&schema).unwrap();
    let words: Vec<AtomicU32> = (0..len / 4).map(|_| AtomicU32::new(0)).collect();
    let mirror = Region::init(&words, schema, 5).unwrap();

    let now = Instant::from_millis(1);
    let mut client = Client::<2, 512>::new(now, ClientConfig::new("fuzz", "acme", b"k"));
    let mut out = [0u8; 1024];
    client.poll_transmit(now, &mut out).unwrap();
    client.handle_input(
        now,
        &framed(&Frame::Challenge(Challenge {
            version: PROTOCOL_VERSION,
            nonce: [1; 32],
        })),
    );
    client.poll_transmit(now, &mut out).unwrap();
    let limits = Limits {
        max_frame: 512,
        max_in_flight: 2,
        max_subscriptions: 2,
        keepalive_ms: 5000,
        timeout_ms: 15000,
        write: true,
    };
    client.handle_input(
        now,
        &framed(&Frame::Welcome(Welcome {
            session: 1,
            limits,
            complete: true,
            regions: RegionList::EMPTY,
        })),
    );
    let handle = client.subscribe("robot", mirror, None).unwrap();
    while client.poll_transmit(now, &mut out).is_some() {}
    let part = SchemaPart {
        handle: handle.0,
        instance: 9,
        fingerprint: mirror.fingerprint(),
        data_len: mirror.data_len() as u32,
        count: 3,
        first: 3,
        variables: VarTable::EMPTY,
    };
    client.handle_input(now, &framed(&Frame::Schema(part)));
    while client.poll_event().is_some() {}

    // The first byte sets how the rest is split.
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let step = usize::from(split % 64) + 1;
    let mut generation = mirror.generation().unwrap();
    for chunk in rest.chunks(step) {
        client.handle_input(now, chunk);
        while client.poll_transmit(now, &mut out).is_some() {}
        let mut reported = Vec::new();
        while let Some(event) = client.poll_event() {
            if let Event::Updated { generation, .. } = event {
                reported.push(generation);
            }
        }
        let now_at = mirror.generation().unwrap();
        assert!(
            now_at == generation || now_at == 0 || reported.contains(&now_at),
            "generation moved from {generation} to {now_at} without a completed update"
        );
        generation = now_at;
        let snapshot = bytes_of(&mirror);
        RegionView::new_checked(&snapshot).expect("the mirror's layout stays valid");
    }
});
