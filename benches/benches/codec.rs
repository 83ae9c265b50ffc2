//! Encode and decode throughput of update frames of 10 B, 1 KiB and 64 KiB,
//! each beside a plain copy of the same bytes measured in the same run.
//!
//! - `encode`: `UpdateParts` writes one length-prefixed update frame holding
//!   the payload as one range, straight from the data area into a buffer.
//! - `decode`: `FrameAccumulator` takes the framed bytes (the frame arrives
//!   whole, so no copy), `Frame::decode` checks it, and its spans are copied
//!   into a mirror, which is what a subscriber does.
//! - `memcpy`: `copy_from_slice` of the payload, the lower bound of both.

#![allow(missing_docs)] // criterion_group! makes an undocumented pub fn

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use memwire::codec::{Feed, Frame, FrameAccumulator, Framing, UpdateParts, UpdateReference};

const SIZES: [(usize, &str); 3] = [(10, "10B"), (1024, "1KiB"), (65536, "64KiB")];

fn encode(data: &[u8], buf: &mut [u8]) -> usize {
    let len = data.len();
    let mut parts = UpdateParts::new(
        1,
        41,
        42,
        data,
        core::iter::once(0..len),
        len + 64,
        Framing::LengthPrefix,
    );
    let n = parts.next_frame(buf).and_then(Result::ok).unwrap_or(0);
    debug_assert!(parts.next_frame(buf).is_none());
    n
}

fn decode(acc: &mut FrameAccumulator<{ 65536 + 64 }>, framed: &[u8], mirror: &mut [u8]) -> u64 {
    let Feed::Frame { body, .. } = acc.feed(framed) else {
        return 0;
    };
    let Ok(Frame::Update(update)) = Frame::decode(body) else {
        return 0;
    };
    for span in update.ranges {
        if let Some(dst) = mirror.get_mut(span.range()) {
            dst.copy_from_slice(span.bytes);
        }
    }
    // The frame names its base: any reference reads it.
    UpdateReference::new()
        .take(&update)
        .map_or(0, |(_, generation)| generation)
}

fn codec(c: &mut Criterion) {
    let mut acc = Box::new(FrameAccumulator::<{ 65536 + 64 }>::length_prefix(
        65536 + 64,
    ));
    for (size, label) in SIZES {
        let data: Vec<u8> = (0..size).map(|i| (i * 7 + 1) as u8).collect();
        let mut buf = vec![0u8; size + 128];
        let mut mirror = vec![0u8; size];
        let framed_len = encode(&data, &mut buf);
        let framed = buf[..framed_len].to_vec();

        let mut group = c.benchmark_group(format!("codec/{label}"));
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function("memcpy", |b| {
            b.iter(|| {
                mirror.copy_from_slice(black_box(&data));
                black_box(&mirror);
            })
        });
        group.bench_function("encode", |b| {
            b.iter(|| black_box(encode(black_box(&data), &mut buf)))
        });
        group.bench_function("decode", |b| {
            b.iter(|| black_box(decode(&mut acc, black_box(&framed), &mut mirror)))
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(30);
    targets = codec
}
criterion_main!(benches);
