//! Splitting writes across frames.

use std::vec;
use std::vec::Vec;

use super::super::*;

/// A decoded Write frame: `None` for a plain write, else its `last` flag;
/// and its ranges.
type Decoded = (Option<bool>, Vec<(usize, Vec<u8>)>);

/// Decodes the framed Write frames in `stream`; checks that each body fits
/// `max_frame` and that each is what `Frame::encode` writes.
fn frames(stream: &[u8], max_frame: usize) -> Vec<Decoded> {
    let mut acc = FrameAccumulator::<70_000>::length_prefix(max_frame);
    let mut input = stream;
    let mut out = Vec::new();
    loop {
        match acc.feed(input) {
            Feed::Pending => break,
            Feed::Error { error, .. } => panic!("{error:?}"),
            Feed::Frame { body, rest } => {
                input = rest;
                assert!(body.len() <= max_frame, "{} > {max_frame}", body.len());
                let Ok(frame @ Frame::Write(w)) = Frame::decode(body) else {
                    panic!("not a write")
                };
                assert_eq!((w.request, w.handle), (9, 3));
                let mut again = vec![0u8; body.len()];
                assert_eq!(frame.encode(&mut again), Ok(body.len()));
                assert_eq!(again, body);
                let (last, ranges) = match w.target {
                    WriteTarget::Ranges(ranges) => (None, ranges),
                    WriteTarget::Part { last, ranges } => (Some(last), ranges),
                    WriteTarget::Variable { .. } => panic!("a write by name"),
                };
                assert!(ranges.iter().count() <= WRITE_RANGES_MAX);
                let spans = ranges.iter().map(|s| (s.range().start, s.bytes.to_vec()));
                out.push((last, spans.collect()));
            }
        }
    }
    out
}

/// Encodes the write of `ranges` with frames of `max_frame` bytes.
fn encode(ranges: &[(usize, &[u8])], max_frame: usize) -> Vec<u8> {
    let mut parts = WriteParts::new(9, 3, ranges, max_frame, Framing::LengthPrefix).unwrap();
    let mut stream = Vec::new();
    let mut buf = vec![0u8; max_frame + 5];
    while let Some(n) = parts.next_frame(&mut buf) {
        stream.extend_from_slice(&buf[..n.unwrap()]);
    }
    assert!(parts.is_done());
    stream
}

/// The bytes the frames write, range by range, joined where they touch.
fn joined(frames: &[Decoded]) -> Vec<(usize, Vec<u8>)> {
    let mut all: Vec<(usize, Vec<u8>)> = Vec::new();
    for (offset, bytes) in frames.iter().flat_map(|(_, r)| r.iter().cloned()) {
        match all.last_mut() {
            Some((start, kept)) if *start + kept.len() == offset => kept.extend(bytes),
            _ => all.push((offset, bytes)),
        }
    }
    all
}

#[test]
fn a_write_that_fits_one_frame_is_a_plain_write() {
    let bytes = [7u8; 100];
    let stream = encode(&[(40, &bytes), (200, &[1, 2])], 128);
    let mut expect = [0u8; 140];
    let ranges = Ranges::encode(
        [(40u32, &bytes[..]), (200, &[1, 2])].map(|(offset, bytes)| Span { offset, bytes }),
        &mut expect,
    )
    .unwrap();
    let frame = Frame::Write(Write {
        request: 9,
        handle: 3,
        target: WriteTarget::Ranges(ranges),
    });
    let mut framed = [0u8; 140];
    let n = Framing::LengthPrefix.encode(&frame, &mut framed).unwrap();
    assert_eq!(stream, &framed[..n]);
}

#[test]
fn a_write_larger_than_a_frame_is_cut_into_parts() {
    let value: Vec<u8> = (0..65_536u32).map(|i| (i * 7 % 251) as u8).collect();
    for max_frame in [128usize, 1024, 65_536] {
        let stream = encode(&[(8, &value)], max_frame);
        let frames = frames(&stream, max_frame);
        assert!(frames.len() > 1, "{max_frame}");
        let lasts: Vec<_> = frames.iter().map(|(last, _)| *last).collect();
        let mut expect = vec![Some(false); frames.len() - 1];
        expect.push(Some(true));
        assert_eq!(lasts, expect, "{max_frame}");
        assert_eq!(joined(&frames), vec![(8, value.clone())], "{max_frame}");
        // Full frames: no more than one frame beyond the bytes' share.
        let share = value.len().div_ceil(max_frame - 20);
        assert!(frames.len() <= share + 1, "{max_frame}: {}", frames.len());
    }
}

#[test]
fn a_frame_carries_at_most_the_ranges_a_publisher_takes() {
    let bytes = [5u8; 1];
    let ranges: Vec<(usize, &[u8])> = (0..100).map(|i| (i * 3, &bytes[..])).collect();
    let frames = frames(&encode(&ranges, 4096), 4096);
    assert_eq!(frames.len(), 4);
    assert!(frames.iter().all(|(_, r)| r.len() <= WRITE_RANGES_MAX));
    assert_eq!(frames.last().map(|(last, _)| *last), Some(Some(true)));
    let expect: Vec<(usize, Vec<u8>)> = ranges.iter().map(|&(o, b)| (o, b.to_vec())).collect();
    assert_eq!(joined(&frames), expect);
}

#[test]
fn bad_ranges_and_tiny_frames_are_refused() {
    let b = [1u8; 4];
    let new = |ranges: &[(usize, &[u8])]| {
        WriteParts::new(1, 1, ranges, 128, Framing::LengthPrefix).map(|_| ())
    };
    assert_eq!(new(&[]), Err(EncodeError::BadRanges));
    assert_eq!(new(&[(0, &[])]), Err(EncodeError::BadRanges));
    assert_eq!(new(&[(8, &b), (10, &b)]), Err(EncodeError::BadRanges));
    assert_eq!(new(&[(u32::MAX as usize, &b)]), Err(EncodeError::BadRanges));
    let ranges = [(0usize, &b[..])];
    let mut parts = WriteParts::new(1, 1, &ranges, 6, Framing::LengthPrefix).unwrap();
    assert_eq!(
        parts.next_frame(&mut [0u8; 64]),
        Some(Err(EncodeError::TooLarge))
    );
    assert_eq!(parts.next_frame(&mut [0u8; 64]), None);
}

#[test]
fn random_writes_split_and_join_back() {
    use proptest::collection::vec;
    use proptest::prelude::*;
    // Ranges as (gap before, length), a frame limit, a seed for the bytes.
    let strategy = (vec((0usize..300, 1usize..700), 1..80), 128usize..3000);
    super::props::runner(300)
        .run(&strategy, |(shape, max_frame)| {
            let mut offset = 0;
            let mut owned = Vec::new();
            for (i, &(gap, len)) in shape.iter().enumerate() {
                offset += gap;
                owned.push((offset, vec![i as u8; len]));
                offset += len;
            }
            let ranges: Vec<(usize, &[u8])> = owned.iter().map(|(o, b)| (*o, &b[..])).collect();
            let frames = frames(&encode(&ranges, max_frame), max_frame);
            let mut expect: Vec<(usize, Vec<u8>)> = Vec::new();
            for (o, b) in owned {
                match expect.last_mut() {
                    Some((start, kept)) if *start + kept.len() == o => kept.extend(b),
                    _ => expect.push((o, b)),
                }
            }
            prop_assert_eq!(joined(&frames), expect);
            let lasts: Vec<Option<bool>> = frames.iter().map(|(last, _)| *last).collect();
            if frames.len() == 1 {
                prop_assert_eq!(lasts, vec![None]);
            } else {
                let mut want = vec![Some(false); frames.len() - 1];
                want.push(Some(true));
                prop_assert_eq!(lasts, want);
            }
            Ok(())
        })
        .unwrap();
}
