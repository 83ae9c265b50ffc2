//! Splitting updates and schemas across frames.

#![allow(clippy::single_range_in_vec_init)] // one range is the case under test

use std::vec::Vec;

use super::super::*;
use super::name;
use crate::schema::{Kind, Variable};

/// Decodes framed parts from `stream` and applies them to `mirror`; returns
/// the number of frames and checks the part invariants.
pub(super) fn apply_parts(
    stream: &[u8],
    framing: Framing,
    max_frame: usize,
    mirror: &mut [u8],
    expect: (u16, u64, u64),
) -> usize {
    let mut acc = FrameAccumulator::<4096>::length_prefix(max_frame);
    if framing == Framing::Cobs {
        acc = FrameAccumulator::cobs(max_frame);
    }
    let mut input = stream;
    let mut frames = 0;
    let mut saw_last = false;
    loop {
        match acc.feed(input) {
            Feed::Pending => break,
            Feed::Error { error, .. } => panic!("{error:?}"),
            Feed::Frame { body, rest } => {
                input = rest;
                frames += 1;
                assert!(body.len() <= max_frame, "{} > {max_frame}", body.len());
                let Ok(Frame::Update(update)) = Frame::decode(body) else {
                    panic!("not an update")
                };
                assert!(!saw_last, "a part after the last one");
                saw_last = update.last;
                let (base, generation) = UpdateReference::new().take(&update).unwrap();
                assert_eq!((update.handle, base, generation), expect);
                // The parts encoder writes what `Frame::encode` writes.
                let mut again = [0u8; 4096];
                let n = Frame::Update(update).encode(&mut again).unwrap();
                assert_eq!(&again[..n], body);
                for span in update.ranges {
                    mirror[span.range()].copy_from_slice(span.bytes);
                }
            }
        }
    }
    assert!(saw_last, "no last part");
    frames
}

/// Encodes all parts into one stream.
pub(super) fn encode_parts(
    data: &[u8],
    ranges: &[core::ops::Range<usize>],
    max_frame: usize,
    framing: Framing,
    buf_len: usize,
) -> Result<Vec<u8>, EncodeError> {
    let mut parts = UpdateParts::new(3, 7, 9, data, ranges.iter().cloned(), max_frame, framing);
    let mut buf = std::vec![0u8; buf_len];
    let mut stream = Vec::new();
    while let Some(n) = parts.next_frame(&mut buf) {
        stream.extend_from_slice(&buf[..n?]);
    }
    assert!(parts.is_done());
    Ok(stream)
}

#[test]
fn full_snapshot_to_a_256_byte_peer() {
    let len = if cfg!(miri) { 4 << 10 } else { 1 << 20 };
    let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    for framing in [Framing::LengthPrefix, Framing::Cobs] {
        let stream = encode_parts(&data, &[0..len], 256, framing, 512).unwrap();
        let mut mirror = std::vec![0u8; len];
        let frames = apply_parts(&stream, framing, 256, &mut mirror, (3, 7, 9));
        assert!(mirror == data);
        // 256-byte frames carry at least 240 data bytes each.
        assert!(frames <= len / 240 + 1, "{frames} frames");
    }
}

#[test]
fn small_buffer_limits_frames_too() {
    let data = [0x42u8; 1000];
    let stream = encode_parts(&data, &[0..1000], 4096, Framing::LengthPrefix, 130).unwrap();
    let mut mirror = [0u8; 1000];
    let frames = apply_parts(&stream, Framing::LengthPrefix, 128, &mut mirror, (3, 7, 9));
    assert_eq!(mirror, data);
    assert_eq!(frames, 9);
}

#[test]
fn ranges_are_checked_and_empty_updates_are_one_frame() {
    let data = [1u8; 64];
    assert_eq!(
        encode_parts(&data, &[8..16, 4..6], 256, Framing::Bare, 256),
        Err(EncodeError::BadRanges)
    );
    assert_eq!(
        encode_parts(&data, &[8..16, 12..20], 256, Framing::Bare, 256),
        Err(EncodeError::BadRanges)
    );
    assert_eq!(
        encode_parts(&data, &[60..65], 256, Framing::Bare, 256),
        Err(EncodeError::BadRanges)
    );
    assert_eq!(
        encode_parts(&data, &[0..8], 5, Framing::Bare, 256),
        Err(EncodeError::TooLarge)
    );
    // No ranges, or only empty ones: one last part with no bytes.
    for ranges in [&[][..], &[3..3, 5..5]] {
        let stream = encode_parts(&data, ranges, 256, Framing::LengthPrefix, 256).unwrap();
        assert_eq!(super::hex(&stream), "04 47 03 07 02");
    }
    // Adjacent ranges stay separate entries; gaps are relative.
    let stream = encode_parts(&data, &[2..4, 4..5, 9..10], 256, Framing::Bare, 256).unwrap();
    assert_eq!(
        super::hex(&stream),
        "47 03 07 02 02 02 01 01 00 01 01 04 01 01"
    );
}

#[test]
fn schema_parts_carry_whole_variables() {
    let names: Vec<std::string::String> = (0..20)
        .map(|i| std::format!("a_rather_long_variable_name_number_{i:02}"))
        .collect();
    let vars: Vec<Variable> = names
        .iter()
        .enumerate()
        .map(|(i, n)| Variable::new(name(n), Kind::U32, 1, 4 * i as u32))
        .collect();
    let header = SchemaHeader {
        handle: 2,
        instance: 5,
        fingerprint: 6,
        data_len: 80,
    };
    let mut parts = SchemaParts::new(header, &vars, true, 128, Framing::Bare);
    let mut buf = [0u8; 256];
    let mut got = Vec::new();
    let mut frames = 0;
    while let Some(n) = parts.next_frame(&mut buf) {
        let n = n.unwrap();
        assert!(n <= 128);
        frames += 1;
        let Ok(Frame::Schema(part)) = Frame::decode(&buf[..n]) else {
            panic!()
        };
        assert_eq!(
            (
                part.handle,
                part.instance,
                part.fingerprint,
                part.data_len,
                part.count
            ),
            (2, 5, 6, 80, 20)
        );
        assert_eq!(part.first as usize, got.len());
        let mut again = [0u8; 256];
        assert_eq!(Frame::Schema(part).encode(&mut again), Ok(n));
        assert_eq!(&again[..n], &buf[..n]);
        got.extend(part.variables.iter());
    }
    assert_eq!(got, vars);
    assert_eq!(frames, 10);

    let mut parts = SchemaParts::new(header, &vars, false, 128, Framing::LengthPrefix);
    let n = parts.next_frame(&mut buf).unwrap().unwrap();
    assert!(parts.next_frame(&mut buf).is_none());
    let Ok(Frame::Schema(part)) = Frame::decode(&buf[1..n]) else {
        panic!()
    };
    assert_eq!(
        (part.count, part.first, part.variables.is_empty()),
        (20, 0, true)
    );
}
