//! Byte fixtures (the worked examples of `spec/wire-format.md`) and unit
//! tests of the codec.

#![allow(clippy::single_range_in_vec_init)] // one range is the case under test

extern crate std;

use std::string::String;
use std::vec::Vec;

use super::*;
use crate::schema::{Kind, Name, Variable};

mod parts;
mod postcard;
mod props;
mod write_parts;

pub(super) fn hex(bytes: &[u8]) -> String {
    let mut s = String::new();
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&std::format!("{b:02x}"));
    }
    s
}

fn unhex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

fn encode(frame: &Frame<'_>) -> Vec<u8> {
    let mut buf = [0u8; 512];
    let n = frame.encode(&mut buf).unwrap();
    assert_eq!(n, frame.encoded_len());
    buf[..n].to_vec()
}

fn name(s: &str) -> Name {
    Name::new(s).unwrap()
}

/// One 12-byte range at offset 16: gap 16, length 12, the bytes.
const RANGES: [u8; 14] = [0x10, 0x0c, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
/// `temperature: f32` at offset 8, read-only.
const VARS: [u8; 16] = [
    0x0b, b't', b'e', b'm', b'p', b'e', b'r', b'a', b't', b'u', b'r', b'e', 0x09, 0x01, 0x08, 0x00,
];
/// `robot`, instance 0x0102030405060708.
const REGIONS: [u8; 14] = [0x05, b'r', b'o', b'b', b'o', b't', 8, 7, 6, 5, 4, 3, 2, 1];

/// Every frame kind, with its bytes. The spec quotes these.
fn fixtures() -> Vec<(Frame<'static>, &'static str)> {
    let ranges = Ranges::new_checked(&RANGES).unwrap();
    std::vec![
        (
            Frame::Hello(Hello {
                version: 2,
                max_frame: 1024,
                client: "probe",
                tenant: "acme"
            }),
            "00 02 80 08 05 70 72 6f 62 65 04 61 63 6d 65",
        ),
        (
            Frame::Challenge(Challenge {
                version: 2,
                nonce: [0x11; 32]
            }),
            "01 02 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 \
             11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11",
        ),
        (
            Frame::Auth(Auth { proof: [0x22; 32] }),
            "02 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 \
             22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22",
        ),
        (
            Frame::Welcome(Welcome {
                session: 9,
                limits: Limits {
                    max_frame: 4096,
                    max_in_flight: 4,
                    max_subscriptions: 16,
                    keepalive_ms: 5000,
                    timeout_ms: 15000,
                    write: true,
                },
                complete: true,
                regions: RegionList::new_checked(&REGIONS).unwrap(),
            }),
            "03 09 80 20 04 10 88 27 98 75 01 01 0e 05 72 6f 62 6f 74 08 07 06 05 04 03 02 01",
        ),
        (
            Frame::Error(ErrorFrame {
                code: ErrorCode::UnsupportedVersion,
                handle: None,
                reason: "memwire protocol 2",
            }),
            "04 02 00 12 6d 65 6d 77 69 72 65 20 70 72 6f 74 6f 63 6f 6c 20 32",
        ),
        (Frame::Close, "05"),
        (Frame::Ping { nonce: 7 }, "06 07"),
        (Frame::Pong { nonce: 7 }, "07 07"),
        (
            Frame::Subscribe(Subscribe {
                handle: 1,
                path: "acme/robot",
                resume: Some(Resume {
                    instance: 0x0102_0304_0506_0708,
                    generation: 42
                }),
                variables: true,
                full: false,
            }),
            "08 01 0a 61 63 6d 65 2f 72 6f 62 6f 74 01 08 07 06 05 04 03 02 01 2a 01",
        ),
        (Frame::Unsubscribe(Unsubscribe { handle: 1 }), "09 01"),
        (
            Frame::Schema(SchemaPart {
                handle: 1,
                instance: 0x0102_0304_0506_0708,
                fingerprint: 0x1122_3344_5566_7788,
                data_len: 16,
                count: 3,
                first: 1,
                variables: VarTable::new_checked(&VARS).unwrap(),
            }),
            "0a 01 08 07 06 05 04 03 02 01 88 77 66 55 44 33 22 11 10 03 01 \
             10 0b 74 65 6d 70 65 72 61 74 75 72 65 09 01 08 00",
        ),
        (
            Frame::Update(Update {
                handle: 1,
                base: UpdateBase::At(41),
                step: 1,
                last: true,
                ranges
            }),
            "43 01 29 10 0c 01 02 03 04 05 06 07 08 09 0a 0b 0c",
        ),
        (
            // The base is the subscription's reference, named by its check
            // byte, and the step is 1.
            Frame::Update(Update {
                handle: 1,
                base: UpdateBase::Reference(UpdateBase::check(41)),
                step: 1,
                last: true,
                ranges
            }),
            "41 01 56 10 0c 01 02 03 04 05 06 07 08 09 0a 0b 0c",
        ),
        (
            // A part that is not the last, three generations on.
            Frame::Update(Update {
                handle: 1,
                base: UpdateBase::Reference(0xc7),
                step: 3,
                last: false,
                ranges: Ranges::EMPTY
            }),
            "44 01 c7 03",
        ),
        (
            Frame::Ack(Ack {
                handle: 1,
                generation: 42
            }),
            "0c 01 2a"
        ),
        (
            Frame::Write(Write {
                request: 5,
                handle: 1,
                target: WriteTarget::Variable {
                    name: name("setpoint"),
                    value: &[0, 0, 0xc0, 0x3f]
                },
            }),
            "0d 05 01 01 08 73 65 74 70 6f 69 6e 74 04 00 00 c0 3f",
        ),
        (
            Frame::Write(Write {
                request: 6,
                handle: 1,
                target: WriteTarget::Ranges(ranges)
            }),
            "0d 06 01 00 0e 10 0c 01 02 03 04 05 06 07 08 09 0a 0b 0c",
        ),
        (
            Frame::Write(Write {
                request: 7,
                handle: 1,
                target: WriteTarget::Part {
                    last: false,
                    ranges
                }
            }),
            "0d 07 01 02 00 0e 10 0c 01 02 03 04 05 06 07 08 09 0a 0b 0c",
        ),
        (
            Frame::Write(Write {
                request: 7,
                handle: 1,
                target: WriteTarget::Part { last: true, ranges }
            }),
            "0d 07 01 02 01 0e 10 0c 01 02 03 04 05 06 07 08 09 0a 0b 0c",
        ),
        (
            Frame::WriteResult(WriteResult {
                request: 5,
                outcome: WriteOutcome::Applied { generation: 43 },
            }),
            "0e 05 00 2b",
        ),
        (
            Frame::WriteResult(WriteResult {
                request: 6,
                outcome: WriteOutcome::Refused {
                    code: ErrorCode::ReadOnly,
                    reason: "setpoint"
                },
            }),
            "0e 06 01 0d 08 73 65 74 70 6f 69 6e 74",
        ),
    ]
}

#[test]
fn fixtures_encode_to_their_bytes_and_back() {
    let all = fixtures();
    // Every update tag is the update's kind, 11 in version 1.
    let mut tags: Vec<u8> = all
        .iter()
        .map(|(f, _)| match f {
            Frame::Update(_) => 11,
            f => f.tag(),
        })
        .collect();
    tags.dedup();
    assert_eq!(
        tags,
        (0..15).collect::<Vec<u8>>(),
        "one fixture per frame kind, in tag order"
    );
    for (frame, expected) in all {
        let bytes = encode(&frame);
        assert_eq!(hex(&bytes), hex(&unhex(expected)), "{frame:?}");
        assert_eq!(bytes[0], frame.tag());
        assert_eq!(Frame::decode(&bytes), Ok(frame));
    }
}

#[test]
fn fixture_views_iterate() {
    let ranges = Ranges::new_checked(&RANGES).unwrap();
    let spans: Vec<_> = ranges.iter().collect();
    assert_eq!(
        spans,
        [Span {
            offset: 16,
            bytes: &RANGES[2..]
        }]
    );
    assert_eq!(spans[0].range(), 16..28);
    let vars: Vec<_> = VarTable::new_checked(&VARS).unwrap().iter().collect();
    assert_eq!(vars, [Variable::new(name("temperature"), Kind::F32, 1, 8)]);
    let regions: Vec<_> = RegionList::new_checked(&REGIONS).unwrap().iter().collect();
    assert_eq!(
        regions,
        [RegionInfo {
            name: name("robot"),
            instance: 0x0102_0304_0506_0708
        }]
    );

    let mut buf = [0u8; 64];
    let made = Ranges::encode(
        [Span {
            offset: 16,
            bytes: &RANGES[2..],
        }],
        &mut buf,
    )
    .unwrap();
    assert_eq!(made.as_bytes(), &RANGES);
    let mut buf = [0u8; 64];
    let vars = [Variable::new(name("temperature"), Kind::F32, 1, 8)];
    assert_eq!(VarTable::encode(&vars, &mut buf).unwrap().as_bytes(), &VARS);
    assert_eq!(VarTable::entry_len(&vars[0]), VARS.len());
    let mut buf = [0u8; 64];
    let regions = [RegionInfo {
        name: name("robot"),
        instance: 0x0102_0304_0506_0708,
    }];
    assert_eq!(
        RegionList::encode(&regions, &mut buf).unwrap().as_bytes(),
        &REGIONS
    );
}

#[test]
fn framed_fixtures() {
    let mut buf = [0u8; 64];
    let ping = Frame::Ping { nonce: 7 };
    let n = Framing::LengthPrefix.encode(&ping, &mut buf).unwrap();
    assert_eq!(hex(&buf[..n]), "02 06 07");
    let n = Framing::Cobs.encode(&ping, &mut buf).unwrap();
    assert_eq!(hex(&buf[..n]), "03 06 07 00");
    let n = Framing::Bare.encode(&ping, &mut buf).unwrap();
    assert_eq!(hex(&buf[..n]), "06 07");
    // Zeros in the body are stuffed.
    let n = Framing::Cobs
        .encode(
            &Frame::Ack(Ack {
                handle: 0,
                generation: 0,
            }),
            &mut buf,
        )
        .unwrap();
    assert_eq!(hex(&buf[..n]), "02 0c 01 01 00");
    let update = fixtures()
        .into_iter()
        .find(|(f, _)| f.tag() == 0x43)
        .unwrap()
        .0;
    let n = Framing::LengthPrefix.encode(&update, &mut buf).unwrap();
    assert_eq!(
        hex(&buf[..n]),
        "11 43 01 29 10 0c 01 02 03 04 05 06 07 08 09 0a 0b 0c"
    );
}

#[test]
fn one_range_update_overhead() {
    // The overhead of a 12-byte update: frame bytes beyond the 12 data
    // bytes, with the base sent and with the base the subscription's
    // reference (then the same at any generation).
    let data = [0x5a; 64];
    let mut buf = [0u8; 64];
    let cases = [
        (41u64, 42u64, 6usize),
        (99_999_999, 100_000_000, 9),
        (u64::MAX - 1, u64::MAX, 15),
    ];
    for (base, generation, overhead) in cases {
        for (reference, overhead) in [(None, overhead), (Some(base), 6)] {
            let mut parts = UpdateParts::new(
                1,
                base,
                generation,
                &data,
                [16..28].into_iter(),
                1024,
                Framing::LengthPrefix,
            );
            if let Some(reference) = reference {
                parts = parts.after(reference);
            }
            let n = parts.next_frame(&mut buf).unwrap().unwrap();
            assert_eq!(n - 12, overhead, "generation {generation}, {reference:?}");
            assert!(parts.next_frame(&mut buf).is_none());
        }
    }
}

/// A one-byte change costs at most 8 bytes on the wire at any generation
/// (issue 23): length prefix, tag, handle, check byte, and the range's
/// gap, length and byte, its offset below 2^14.
#[test]
fn one_byte_update_at_any_generation() {
    let data = [7u8; 1 << 14];
    let mut buf = [0u8; 64];
    for generation in [2u64, 1 << 20, 100_000_000, u64::MAX] {
        for at in [0usize, 100, (1 << 14) - 1] {
            let mut parts = UpdateParts::new(
                3,
                generation - 1,
                generation,
                &data,
                [at..at + 1].into_iter(),
                1024,
                Framing::LengthPrefix,
            )
            .after(generation - 1);
            let n = parts.next_frame(&mut buf).unwrap().unwrap();
            assert!(n <= 8, "{n} bytes at generation {generation}, offset {at}");
        }
    }
}

/// A part without a base is read against the subscription's reference,
/// which moves with each last part and starts over at a schema part.
#[test]
fn parts_follow_the_reference() {
    let data = [1u8; 32];
    let mut buf = [0u8; 64];
    let mut sender = UpdateReference::new();
    let mut receiver = UpdateReference::new();
    let mut last = None;
    // A full update, an update from it, a resync's update from an older
    // generation, then one from that.
    for (base, generation) in [(0u64, 5u64), (5, 6), (3, 9), (9, 10)] {
        let mut parts = UpdateParts::new(
            1,
            base,
            generation,
            &data,
            [0..2].into_iter(),
            1024,
            Framing::LengthPrefix,
        )
        .after(sender.get());
        let n = parts.next_frame(&mut buf).unwrap().unwrap();
        sender.sent(generation, true);
        let Ok(Frame::Update(update)) = Frame::decode(&buf[1..n]) else {
            panic!("not an update");
        };
        let named = matches!(update.base, UpdateBase::At(_));
        assert_eq!(named, base != receiver.get());
        assert_eq!(receiver.take(&update), Some((base, generation)));
        last = Some(update);
    }
    // The last part again, as if repeated on the way: its check byte is
    // not the reference's, and it is refused until a part names its base.
    let again = last.unwrap();
    assert_eq!(receiver.take(&again), None);
    assert_eq!(receiver.take(&again), None);
    assert_eq!(receiver.get(), 10);
    let mut named = again;
    named.base = UpdateBase::At(9);
    assert_eq!(receiver.take(&named), Some((9, 10)));
    receiver.reset();
    assert_eq!(receiver.get(), 0);
}

#[test]
fn decode_refuses_bad_bytes() {
    assert_eq!(Frame::decode(&[]), Err(DecodeError::Truncated));
    assert_eq!(Frame::decode(&[0x0f]), Err(DecodeError::UnknownFrame));
    assert_eq!(Frame::decode(&[0x80, 0x01]), Err(DecodeError::UnknownFrame));
    assert_eq!(
        Frame::decode(&[0x05, 0x00]),
        Err(DecodeError::TrailingBytes)
    );
    assert_eq!(Frame::decode(&[0x06]), Err(DecodeError::Truncated));
    assert_eq!(Frame::decode(&[0x06, 0xff]), Err(DecodeError::Truncated));
    assert_eq!(
        Frame::decode(&unhex("06 ff ff ff ff ff ff ff ff ff ff 01")),
        Err(DecodeError::BadVarint)
    );
    // Version 1's update tag, and one past the update tags.
    assert_eq!(
        Frame::decode(&unhex("0b 01 29 2a 01 00")),
        Err(DecodeError::UnknownFrame)
    );
    assert_eq!(
        Frame::decode(&unhex("48 01 29")),
        Err(DecodeError::UnknownFrame)
    );
    // An update whose last range is cut, and one with no check byte.
    assert_eq!(
        Frame::decode(&unhex("41 01 56 10 0c 01 02")),
        Err(DecodeError::Truncated)
    );
    assert_eq!(Frame::decode(&unhex("41 01")), Err(DecodeError::Truncated));
    // Invalid UTF-8 client name.
    assert_eq!(
        Frame::decode(&unhex("00 01 80 08 01 ff 04 61 63 6d 65")),
        Err(DecodeError::BadUtf8)
    );
    // Tenant with a slash; maximum frame below 128; empty tenant.
    assert_eq!(
        Frame::decode(&unhex("00 01 80 08 00 03 61 2f 62")),
        Err(DecodeError::Invalid)
    );
    assert_eq!(
        Frame::decode(&unhex("00 01 7f 00 01 61")),
        Err(DecodeError::Invalid)
    );
    assert_eq!(
        Frame::decode(&unhex("00 01 80 08 00 00")),
        Err(DecodeError::Invalid)
    );
    // Ranges: an empty range; a range ending past 4 GiB; a length past the payload.
    assert_eq!(
        Frame::decode(&unhex("43 01 00 05 00")),
        Err(DecodeError::Invalid)
    );
    assert_eq!(
        Frame::decode(&unhex("43 01 00 ff ff ff ff 0f 01 00")),
        Err(DecodeError::Invalid)
    );
    // (The ranges run to the end of the body: a length past it is a cut
    // body.)
    assert_eq!(
        Frame::decode(&unhex("43 01 00 00 05 01")),
        Err(DecodeError::Truncated)
    );
    // Variable with kind 0, with count 0.
    assert_eq!(
        Frame::decode(&unhex(
            "0a 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 04 01 00 06 01 61 00 01 00 00"
        )),
        Err(DecodeError::Invalid)
    );
    assert_eq!(
        Frame::decode(&unhex(
            "0a 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 04 01 00 06 01 61 01 00 00 00"
        )),
        Err(DecodeError::Invalid)
    );
    // A schema part whose first variable is past the count.
    assert_eq!(
        Frame::decode(&unhex(
            "0a 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 04 01 02 00"
        )),
        Err(DecodeError::Invalid)
    );
    // Every strict prefix of every fixture is refused, but for an
    // update's cut between two of its ranges: its ranges run to the end of
    // the body the framing delimits, so that prefix is the same part with
    // fewer ranges.
    for (frame, _) in fixtures() {
        let bytes = encode(&frame);
        for end in 0..bytes.len() {
            match (Frame::decode(&bytes[..end]), frame) {
                (Err(_), _) => {}
                (Ok(Frame::Update(cut)), Frame::Update(whole)) => {
                    assert_eq!(
                        (cut.base, cut.step, cut.last),
                        (whole.base, whole.step, whole.last)
                    );
                    assert!(cut.ranges.iter().count() < whole.ranges.iter().count());
                }
                (Ok(other), _) => panic!("{frame:?} cut at {end}: {other:?}"),
            }
        }
    }
}

#[test]
fn unknown_error_codes_decode_as_other() {
    let bytes = unhex("04 e7 07 01 03 00");
    let frame = Frame::decode(&bytes).unwrap();
    assert_eq!(
        frame,
        Frame::Error(ErrorFrame {
            code: ErrorCode::Other,
            handle: Some(3),
            reason: ""
        })
    );
}

#[test]
fn hello_version_is_readable_from_any_hello() {
    assert_eq!(
        peek_hello_version(&unhex("00 01 80 08 05 70 72 6f 62 65 04 61 63 6d 65")),
        Some(1)
    );
    // A future hello whose other fields this version cannot read.
    assert_eq!(peek_hello_version(&unhex("00 02 ff ff")), Some(2));
    assert_eq!(peek_hello_version(&unhex("00 ac 02")), Some(300));
    assert_eq!(peek_hello_version(&unhex("01 01")), None);
    assert_eq!(peek_hello_version(&[]), None);
}

#[test]
fn encode_refuses_invalid_frames_and_small_buffers() {
    let long = "x".repeat(REASON_MAX + 1);
    let frame = Frame::Error(ErrorFrame {
        code: ErrorCode::Other,
        handle: None,
        reason: &long,
    });
    assert_eq!(frame.encode(&mut [0u8; 512]), Err(EncodeError::Invalid));
    assert_eq!(
        Framing::LengthPrefix.encode(&frame, &mut [0u8; 512]),
        Err(EncodeError::Invalid)
    );
    let ok = Frame::Error(ErrorFrame {
        code: ErrorCode::Other,
        handle: None,
        reason: &long[1..],
    });
    assert_eq!(ok.encode(&mut [0u8; 512]), Ok(1 + 1 + 1 + 1 + REASON_MAX));
    assert_eq!(ok.encode(&mut [0u8; 50]), Err(EncodeError::BufferTooSmall));
    let hello = Frame::Hello(Hello {
        version: 1,
        max_frame: 127,
        client: "",
        tenant: "a",
    });
    assert_eq!(hello.encode(&mut [0u8; 64]), Err(EncodeError::Invalid));
    let sub = Frame::Subscribe(Subscribe {
        handle: 0,
        path: "a/b/c",
        resume: None,
        variables: false,
        full: false,
    });
    assert_eq!(sub.encode(&mut [0u8; 64]), Err(EncodeError::Invalid));
    let mut buf = [0u8; 8];
    assert_eq!(
        Ranges::encode(
            [
                Span {
                    offset: 4,
                    bytes: &[1]
                },
                Span {
                    offset: 2,
                    bytes: &[1]
                }
            ],
            &mut buf
        ),
        Err(EncodeError::BadRanges)
    );
    assert_eq!(
        Ranges::encode(
            [Span {
                offset: 4,
                bytes: &[]
            }],
            &mut buf
        ),
        Err(EncodeError::BadRanges)
    );
}

fn collect<const N: usize>(
    acc: &mut FrameAccumulator<N>,
    mut input: &[u8],
) -> Vec<Result<Vec<u8>, AccumulateError>> {
    let mut out = Vec::new();
    loop {
        match acc.feed(input) {
            Feed::Pending => return out,
            Feed::Frame { body, rest } => {
                out.push(Ok(body.to_vec()));
                input = rest;
            }
            Feed::Error { error, rest } => {
                out.push(Err(error));
                if error == AccumulateError::Broken {
                    return out;
                }
                input = rest;
            }
        }
    }
}

#[test]
fn length_prefix_accumulator() {
    let mut acc = FrameAccumulator::<256>::length_prefix(256);
    let stream = unhex("02 06 07 01 05 03 0c 01 2a");
    let whole = collect(&mut acc, &stream);
    assert_eq!(
        whole,
        [
            Ok(std::vec![6, 7]),
            Ok(std::vec![5]),
            Ok(std::vec![0x0c, 1, 0x2a])
        ]
    );
    let mut bytewise = Vec::new();
    for b in &stream {
        bytewise.extend(collect(&mut acc, core::slice::from_ref(b)));
    }
    assert_eq!(bytewise, whole);

    // A length above the maximum is refused as soon as it is read, even
    // while the prefix is still incomplete; the stream stays broken.
    let mut acc = FrameAccumulator::<256>::length_prefix(128);
    assert_eq!(acc.max_frame(), 128);
    assert_eq!(acc.feed(&[0x80]), Feed::Pending);
    assert_eq!(
        acc.feed(&[0x80, 0xAA]),
        Feed::Error {
            error: AccumulateError::TooLarge,
            rest: &[0xAA]
        }
    );
    assert!(acc.is_broken());
    assert_eq!(
        acc.feed(&[0x01, 0x05]),
        Feed::Error {
            error: AccumulateError::Broken,
            rest: &[]
        }
    );
    acc.reset();
    assert_eq!(
        collect(&mut acc, &[0x81, 0x01]),
        [Err(AccumulateError::TooLarge), Err(AccumulateError::Broken)]
    );
    acc.reset();
    assert_eq!(
        collect(&mut acc, &[0x00]),
        [Err(AccumulateError::Empty), Err(AccumulateError::Broken)]
    );
    acc.reset();
    assert_eq!(
        collect(&mut acc, &[0x81, 0x00]),
        [
            Err(AccumulateError::BadLength),
            Err(AccumulateError::Broken)
        ]
    );
    // 128 is allowed and needs two bytes.
    acc.reset();
    let mut frame = std::vec![0x80, 0x01];
    frame.extend([0x05; 128]);
    assert_eq!(collect(&mut acc, &frame), [Ok(std::vec![0x05; 128])]);
    // An over-long prefix.
    let mut acc = FrameAccumulator::<16>::length_prefix(usize::MAX);
    assert_eq!(acc.max_frame(), 16);
    assert_eq!(
        collect(&mut acc, &[0x90]).first(),
        Some(&Err(AccumulateError::TooLarge))
    );
    let mut acc = FrameAccumulator::<16>::length_prefix(16);
    assert_eq!(collect(&mut acc, &[0x10, 0x01]), []);
}

#[test]
fn zero_copy_when_a_frame_arrives_whole() {
    let mut acc = FrameAccumulator::<8>::length_prefix(8);
    let stream = [0x02, 0x06, 0x07];
    match acc.feed(&stream) {
        Feed::Frame { body, rest } => {
            assert_eq!(body.as_ptr(), stream[1..].as_ptr());
            assert!(rest.is_empty());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn cobs_accumulator() {
    let mut acc = FrameAccumulator::<300>::cobs(300);
    // Padding delimiters, two frames, an empty packet.
    let stream = unhex("00 00 03 06 07 00 02 0c 01 01 00 01 00");
    let got = collect(&mut acc, &stream);
    assert_eq!(
        got,
        [
            Ok(std::vec![6, 7]),
            Ok(std::vec![0x0c, 0, 0]),
            Err(AccumulateError::Empty)
        ]
    );
    // A delimiter in the middle of a block; the next packet is read.
    assert_eq!(
        collect(&mut acc, &unhex("05 01 02 00 03 06 07 00")),
        [Err(AccumulateError::BadCobs), Ok(std::vec![6, 7])]
    );
    // A 254-byte run (code 0xff, no implicit zero) and the 255-byte case.
    let mut buf = [0u8; 600];
    for len in [253usize, 254, 255, 300] {
        let body: Vec<u8> = (0..len).map(|i| (i % 7) as u8 + 1).collect();
        let n = Framing::Cobs.wrap(&body, &mut buf).unwrap();
        assert_eq!(collect(&mut acc, &buf[..n]), [Ok(body)], "{len}");
    }
    // Too large: refused at the first byte past the maximum, then bytes are
    // dropped up to the delimiter and the next packet is read.
    let mut acc = FrameAccumulator::<4>::cobs(4);
    let mut input = unhex("06 01 02 03 04 05");
    input.extend(unhex("09 09 00 02 07 00"));
    assert_eq!(
        acc.feed(&input),
        Feed::Error {
            error: AccumulateError::TooLarge,
            rest: &input[6..]
        }
    );
    assert_eq!(collect(&mut acc, &input[6..]), [Ok(std::vec![7])]);
    assert!(!acc.is_broken());
}

/// The subscribe's last byte: bit 0 `variables`, bit 1 `full`. A
/// subscribe without `full` keeps the bytes it had when the byte was the
/// bool `variables`; unknown bits are refused as an out-of-range bool was.
#[test]
fn subscribe_flags_keep_the_old_bytes_and_refuse_unknown_bits() {
    let sub = |variables, full| {
        Frame::Subscribe(Subscribe {
            handle: 1,
            path: "r",
            resume: None,
            variables,
            full,
        })
    };
    for (variables, full, last) in [
        (false, false, 0),
        (true, false, 1),
        (false, true, 2),
        (true, true, 3),
    ] {
        let bytes = encode(&sub(variables, full));
        assert_eq!(hex(&bytes), hex(&[0x08, 0x01, 0x01, b'r', 0x00, last]));
        assert_eq!(Frame::decode(&bytes), Ok(sub(variables, full)));
    }
    for bad in [4u8, 0x80, 0xff] {
        assert_eq!(
            Frame::decode(&[0x08, 0x01, 0x01, b'r', 0x00, bad]),
            Err(DecodeError::BadTag),
            "{bad:#x}"
        );
    }
}
