//! A client past its handshake that publishes a region the hub subscribed
//! to, fed arbitrary stream bytes in arbitrary splits (with local writes
//! and time passing between them): no panic, every transmit fits the buffer
//! and holds whole frames that decode, the hub's input never changes a
//! read-only variable nor puts anything but 0 or 1 in a bool, and the
//! region's layout stays valid.
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};
use libfuzzer_sys::fuzz_target;
use memwire::codec::{
    Challenge, Feed, Frame, FrameAccumulator, Framing, Limits, PROTOCOL_VERSION, RegionList,
    Subscribe, Welcome,
};
use memwire::layout::required_len;
use memwire::schema::{Kind, SchemaBuf, SchemaBuilder};
use memwire::session::{Client, ClientConfig, Observer, OwnRegion, OwnRegions};
use memwire::time::{Duration, Instant};
use memwire::{Region, RegionView};

/// A device's telemetry: read-only readings, writable settings.
static SCHEMA: SchemaBuf<5> = SchemaBuilder::new()
    .var("temp", Kind::F32, 1)
    .var("uptime", Kind::U32, 1)
    .var("led", Kind::Bool, 2)
    .writable()
    .var("gain", Kind::F32, 2)
    .writable()
    .var("samples", Kind::Bytes, 300)
    .build();

/// The largest frame body either side takes.
const MAX_FRAME: usize = 512;

struct Device<'r> {
    published: OwnRegion<'r>,
}

impl Observer<'_> for Device<'_> {
    fn published(&mut self) -> Option<&mut dyn OwnRegions> {
        Some(&mut self.published)
    }
}

fn framed(frame: &Frame<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; MAX_FRAME + 5];
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

fn data_of(region: &Region<'_>) -> Vec<u8> {
    let mut out = vec![0; region.data_len()];
    region.snapshot(&mut out).expect("no writer is busy");
    out
}

/// Drains the client's transmits: each fits `out` and is whole frames that
/// decode and stay within the hub's maximum frame.
fn drain(client: &mut Client<'_, 2, MAX_FRAME>, now: Instant, device: &mut Device<'_>) {
    let mut out = [0u8; MAX_FRAME + 5];
    // Bounded: a client must run out of things to send.
    for _ in 0..10_000 {
        let Some(n) = client.poll_transmit_with(now, &mut out, device) else {
            return;
        };
        assert!(n <= out.len(), "transmit of {n} bytes over the buffer");
        let mut rx = FrameAccumulator::<MAX_FRAME>::length_prefix(MAX_FRAME);
        let mut input = &out[..n];
        loop {
            match rx.feed(input) {
                Feed::Frame { body, rest } => {
                    Frame::decode(body).expect("the client sends frames that decode");
                    input = rest;
                }
                Feed::Pending => break,
                Feed::Error { error, .. } => panic!("the client's framing is broken: {error:?}"),
            }
        }
        assert!(input.is_empty(), "a transmit ends inside a frame");
    }
    panic!("poll_transmit never ran dry");
}

fuzz_target!(|data: &[u8]| {
    let schema = SCHEMA.as_schema();
    let len = required_len(&schema).unwrap();
    let words: Vec<AtomicU32> = (0..len / 4).map(|_| AtomicU32::new(0)).collect();
    let region = Region::init(&words, schema, 0xD1).unwrap();
    region.set_by_name("temp", 21.5f32).unwrap();
    let (samples, _) = schema.lookup("samples").unwrap();
    region.write(samples, &[7; 300]).unwrap();
    let data_len = region.data_len();
    let mut shadow = vec![0u8; data_len];
    let mut scratch = vec![0u8; data_len];
    let mut table = vec![0u64; OwnRegion::table_len(data_len)];
    let published =
        OwnRegion::new("telemetry", region, &mut shadow, &mut scratch, &mut table).unwrap();
    let mut device = Device { published };

    let mut now = Instant::from_millis(1);
    let mut client = Client::<2, MAX_FRAME>::new(now, ClientConfig::new("fuzz", "acme", b"k"));
    drain(&mut client, now, &mut device);
    let challenge = Frame::Challenge(Challenge {
        version: PROTOCOL_VERSION,
        nonce: [1; 32],
    });
    client.handle_input_with(now, &framed(&challenge), &mut device);
    drain(&mut client, now, &mut device);
    let limits = Limits {
        max_frame: MAX_FRAME as u32,
        max_in_flight: 2,
        max_subscriptions: 2,
        keepalive_ms: 5000,
        timeout_ms: 15000,
        write: true,
    };
    let welcome = Frame::Welcome(Welcome {
        session: 1,
        limits,
        complete: true,
        regions: RegionList::EMPTY,
    });
    client.handle_input_with(now, &framed(&welcome), &mut device);
    assert!(client.is_connected(), "honest handshake accepted");
    // The hub subscribes, as a hub's server does once the client is in.
    let subscribe = Frame::Subscribe(Subscribe {
        handle: 0,
        path: "telemetry",
        resume: None,
        variables: false,
        full: false,
    });
    client.handle_input_with(now, &framed(&subscribe), &mut device);
    drain(&mut client, now, &mut device);
    while client.poll_event().is_some() {}

    let variables = schema.variables();
    let mut expected = data_of(&region);
    let mut uptime = 0u32;
    // The first byte of each piece says how long the piece is, whether a
    // local writer changes a read-only variable first, and whether time
    // passes after it.
    let mut rest = data;
    while let Some((&head, tail)) = rest.split_first() {
        if head & 0x80 != 0 {
            uptime += 1;
            region.set_by_name("uptime", uptime).unwrap();
            device.published.scan();
            expected = data_of(&region);
        }
        let take = usize::from(head & 0x3F).min(tail.len());
        let (piece, after) = tail.split_at(take);
        client.handle_input_with(now, piece, &mut device);
        drain(&mut client, now, &mut device);
        if head & 0x40 != 0 {
            now = now + Duration::from_millis(u64::from(head & 0x3F) * 500);
            client.handle_timeout(now);
            drain(&mut client, now, &mut device);
        }
        while client.poll_event().is_some() {}
        rest = after;

        let got = data_of(&region);
        for var in variables {
            let range = var.range();
            if var.writable {
                if var.kind == Kind::Bool {
                    assert!(
                        got[range].iter().all(|&b| b <= 1),
                        "bool {} holds a byte other than 0 or 1",
                        var.name.as_str()
                    );
                }
            } else {
                assert_eq!(
                    &got[range.clone()],
                    &expected[range],
                    "read-only {} changed",
                    var.name.as_str()
                );
            }
        }
        let snapshot = bytes_of(&region);
        RegionView::new_checked(&snapshot).expect("the region's layout stays valid");
    }
});
