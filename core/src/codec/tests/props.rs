//! Property tests with a fixed seed: round trips of every frame kind, the
//! accumulator under random splits, and random updates split into parts.

use std::vec::Vec;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use super::super::*;
use super::parts::{apply_parts, encode_parts};
use crate::schema::{Kind, Name, Variable};

pub(super) fn runner(cases: u32) -> TestRunner {
    TestRunner::new_with_rng(
        Config {
            cases: if cfg!(miri) { 3 } else { cases },
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[0x4d; 32]),
    )
}

/// Raw material for one frame of any kind.
#[derive(Debug, Clone)]
struct Raw {
    kind: u8,
    ints: [u64; 6],
    flags: [bool; 3],
    text: Vec<u8>,
    bytes: Vec<u8>,
    spans: Vec<(u16, Vec<u8>)>,
}

fn raw() -> impl Strategy<Value = Raw> {
    let ints = prop_oneof![Just(0u64), 0u64..200, any::<u64>()];
    (
        0u8..15,
        [
            ints.clone(),
            ints.clone(),
            ints.clone(),
            ints.clone(),
            ints.clone(),
            ints,
        ],
        any::<[bool; 3]>(),
        vec(any::<u8>(), 0..50),
        vec(any::<u8>(), 0..40),
        vec((any::<u16>(), vec(any::<u8>(), 1..20)), 0..6),
    )
        .prop_map(|(kind, ints, flags, text, bytes, spans)| Raw {
            kind,
            ints,
            flags,
            text,
            bytes,
            spans,
        })
}

const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";

/// A valid name made from `seed` bytes (1 to 40 of them).
fn name_from<'a>(seed: &[u8], out: &'a mut [u8; 40]) -> &'a str {
    let len = seed.len().clamp(1, 40);
    for (i, slot) in out.iter_mut().take(len).enumerate() {
        *slot = CHARS[usize::from(*seed.get(i).unwrap_or(&0)) % CHARS.len()];
    }
    core::str::from_utf8(&out[..len]).unwrap()
}

/// Builds a frame of kind `raw.kind` from the raw material; views are
/// encoded into `scratch`.
fn build<'a>(raw: &'a Raw, scratch: &'a mut [u8], text: &'a mut [u8; 40]) -> Frame<'a> {
    let [a, b, c, d, e, f] = raw.ints;
    let short = |max: usize| {
        let s = core::str::from_utf8(&raw.text).unwrap_or("ünïcode");
        let mut end = s.len().min(max);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        &s[..end]
    };
    let name_str = name_from(&raw.text, text);
    let name = Name::new(name_str).unwrap();
    let code = ErrorCode::from_value(a as u16);
    match raw.kind {
        0 => Frame::Hello(Hello {
            version: a as u16,
            max_frame: (b as u32).max(MIN_FRAME),
            client: short(CLIENT_NAME_MAX),
            tenant: name_str,
        }),
        1 => Frame::Challenge(Challenge {
            version: a as u16,
            nonce: [b as u8; 32],
        }),
        2 => Frame::Auth(Auth {
            proof: [c as u8; 32],
        }),
        3 => {
            let regions: Vec<RegionInfo> = raw
                .spans
                .iter()
                .map(|_| RegionInfo { name, instance: f })
                .collect();
            Frame::Welcome(Welcome {
                session: a,
                limits: Limits {
                    max_frame: (b as u32).max(MIN_FRAME),
                    max_in_flight: c as u16,
                    max_subscriptions: d as u16,
                    keepalive_ms: e as u32,
                    timeout_ms: f as u32,
                    write: raw.flags[0],
                },
                complete: raw.flags[1],
                regions: RegionList::encode(&regions, scratch).unwrap(),
            })
        }
        4 => Frame::Error(ErrorFrame {
            code,
            handle: raw.flags[0].then_some(b as u16),
            reason: short(REASON_MAX),
        }),
        5 => Frame::Close,
        6 => Frame::Ping { nonce: a },
        7 => Frame::Pong { nonce: b },
        8 => Frame::Subscribe(Subscribe {
            handle: a as u16,
            path: name_str,
            resume: raw.flags[0].then_some(Resume {
                instance: b,
                generation: c,
            }),
            variables: raw.flags[1],
            full: raw.flags[2],
        }),
        9 => Frame::Unsubscribe(Unsubscribe { handle: a as u16 }),
        10 => {
            let vars: Vec<Variable> = raw
                .spans
                .iter()
                .enumerate()
                .map(|(i, (o, _))| {
                    let kind = Kind::ALL[i % Kind::ALL.len()];
                    Variable {
                        name,
                        kind,
                        count: 1 + i as u32,
                        offset: u32::from(*o),
                        writable: i % 2 == 0,
                    }
                })
                .collect();
            let count = b as u32;
            Frame::Schema(SchemaPart {
                handle: a as u16,
                instance: c,
                fingerprint: d,
                data_len: e as u32,
                count,
                first: (f as u32).min(count),
                variables: VarTable::encode(&vars, scratch).unwrap(),
            })
        }
        11 | 13 => {
            let mut offset = 0u32;
            let spans: Vec<Span<'_>> = raw
                .spans
                .iter()
                .map(|(gap, bytes)| {
                    offset += u32::from(*gap);
                    let span = Span { offset, bytes };
                    offset += bytes.len() as u32;
                    span
                })
                .collect();
            let ranges = Ranges::encode(spans, scratch).unwrap();
            if raw.kind == 11 {
                Frame::Update(Update {
                    handle: a as u16,
                    base: if raw.flags[1] {
                        UpdateBase::At(b)
                    } else {
                        UpdateBase::Reference(b as u8)
                    },
                    step: if raw.flags[2] { c } else { 1 },
                    last: raw.flags[0],
                    ranges,
                })
            } else if raw.flags[1] && raw.flags[2] {
                Frame::Write(Write {
                    request: a as u32,
                    handle: b as u16,
                    target: WriteTarget::Part {
                        last: raw.flags[0],
                        ranges,
                    },
                })
            } else if raw.flags[1] {
                Frame::Write(Write {
                    request: a as u32,
                    handle: b as u16,
                    target: WriteTarget::Ranges(ranges),
                })
            } else {
                Frame::Write(Write {
                    request: a as u32,
                    handle: b as u16,
                    target: WriteTarget::Variable {
                        name,
                        value: &raw.bytes,
                    },
                })
            }
        }
        12 => Frame::Ack(Ack {
            handle: a as u16,
            generation: b,
        }),
        _ => Frame::WriteResult(WriteResult {
            request: b as u32,
            outcome: if raw.flags[0] {
                WriteOutcome::Applied { generation: c }
            } else {
                WriteOutcome::Refused {
                    code,
                    reason: short(REASON_MAX),
                }
            },
        }),
    }
}

/// Runs `check` on random frames (600 cases), and fails unless every
/// frame kind was among them.
pub(super) fn for_random_frames(check: impl Fn(Frame<'_>) -> Result<(), TestCaseError>) {
    let seen = core::cell::Cell::new([false; 15]);
    runner(600)
        .run(&raw(), |raw| {
            let mut scratch = [0u8; 1024];
            let mut text = [0u8; 40];
            let frame = build(&raw, &mut scratch, &mut text);
            let mut s = seen.get();
            let kind = match frame {
                Frame::Update(_) => 11,
                _ => frame.tag(),
            };
            s[usize::from(kind)] = true;
            seen.set(s);
            check(frame)
        })
        .unwrap();
    if !cfg!(miri) {
        assert_eq!(seen.get(), [true; 15], "every frame kind was generated");
    }
}

#[test]
fn every_frame_kind_round_trips() {
    for_random_frames(|frame| {
        let mut buf = [0u8; 2048];
        let n = frame.encode(&mut buf).unwrap();
        prop_assert_eq!(n, frame.encoded_len());
        prop_assert_eq!(Frame::decode(&buf[..n]), Ok(frame));
        // Deterministic: encoding the decoded frame gives the same bytes.
        let mut again = [0u8; 2048];
        let decoded = Frame::decode(&buf[..n]).unwrap();
        prop_assert_eq!(decoded.encode(&mut again), Ok(n));
        prop_assert_eq!(&again[..n], &buf[..n]);
        // Through each framing and the accumulator.
        for framing in [Framing::LengthPrefix, Framing::Cobs] {
            let m = framing.encode(&frame, &mut again).unwrap();
            prop_assert!(m <= n + framing.overhead(n));
            let mut acc = if framing == Framing::Cobs {
                FrameAccumulator::<2048>::cobs(n)
            } else {
                FrameAccumulator::<2048>::length_prefix(n)
            };
            match acc.feed(&again[..m]) {
                Feed::Frame { body, rest } => {
                    prop_assert_eq!(body, &buf[..n]);
                    prop_assert!(rest.is_empty());
                }
                other => prop_assert!(false, "{:?}", other),
            }
        }
        Ok(())
    });
}

type Event = Result<Vec<u8>, AccumulateError>;

fn events<const N: usize>(acc: &mut FrameAccumulator<N>, chunks: &[&[u8]]) -> Vec<Event> {
    let mut out = Vec::new();
    for chunk in chunks {
        let mut input = *chunk;
        loop {
            match acc.feed(input) {
                Feed::Pending => break,
                Feed::Frame { body, rest } => {
                    out.push(Ok(body.to_vec()));
                    input = rest;
                }
                Feed::Error {
                    error: AccumulateError::Broken,
                    ..
                } => return out,
                Feed::Error { error, rest } => {
                    out.push(Err(error));
                    input = rest;
                }
            }
        }
    }
    out
}

fn split<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    let mut chunks = Vec::new();
    let mut start = 0;
    for p in points.into_iter().chain([bytes.len()]) {
        chunks.push(&bytes[start..p]);
        start = p;
    }
    chunks
}

#[test]
fn accumulator_gives_the_same_frames_for_any_split() {
    // Streams of valid frames, sometimes with a corrupt byte, cut anywhere.
    let strategy = (
        vec(vec(any::<u8>(), 1..80), 1..8),
        vec(any::<usize>(), 0..12),
        any::<bool>(),
        proptest::option::of((any::<usize>(), any::<u8>())),
    );
    runner(300)
        .run(&strategy, |(bodies, cuts, cobs, corrupt)| {
            let framing = if cobs {
                Framing::Cobs
            } else {
                Framing::LengthPrefix
            };
            let mut stream = Vec::new();
            let mut buf = [0u8; 128];
            for body in &bodies {
                let n = framing.wrap(body, &mut buf).unwrap();
                stream.extend_from_slice(&buf[..n]);
            }
            if let Some((at, byte)) = corrupt {
                let at = at % stream.len();
                stream[at] = byte;
            }
            let fresh = || {
                if cobs {
                    FrameAccumulator::<64>::cobs(64)
                } else {
                    FrameAccumulator::<64>::length_prefix(64)
                }
            };
            let whole = events(&mut fresh(), &[&stream]);
            let pieces = split(&stream, &cuts);
            prop_assert_eq!(&events(&mut fresh(), &pieces), &whole);
            let bytes: Vec<&[u8]> = stream.chunks(1).collect();
            prop_assert_eq!(&events(&mut fresh(), &bytes), &whole);
            if corrupt.is_none() {
                let expected: Vec<Event> = bodies
                    .iter()
                    .map(|b| {
                        if b.len() > 64 {
                            Err(AccumulateError::TooLarge)
                        } else {
                            Ok(b.clone())
                        }
                    })
                    .collect();
                let cut = expected
                    .iter()
                    .position(|e| e.is_err())
                    .map_or(expected.len(), |i| i + 1);
                // A length-prefixed stream stops at its first error.
                let expected = if cobs {
                    &expected[..]
                } else {
                    &expected[..cut]
                };
                prop_assert_eq!(&whole[..], expected);
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn random_updates_split_and_reassemble() {
    let strategy = (
        1usize..3000,
        vec((0usize..400, 0usize..700), 0..12),
        128usize..700,
        any::<bool>(),
    );
    runner(120)
        .run(&strategy, |(len, raw_ranges, max_frame, cobs)| {
            let framing = if cobs {
                Framing::Cobs
            } else {
                Framing::LengthPrefix
            };
            let data: Vec<u8> = (0..len).map(|i| (i % 253) as u8 + 1).collect();
            let mut ranges = Vec::new();
            let mut at = 0;
            for (gap, n) in raw_ranges {
                let start = (at + gap).min(len);
                let end = (start + n).min(len);
                ranges.push(start..end);
                at = end;
            }
            let stream = encode_parts(&data, &ranges, max_frame, framing, 1024).unwrap();
            let mut mirror = std::vec![0u8; len];
            apply_parts(&stream, framing, max_frame, &mut mirror, (3, 7, 9));
            let mut expected = std::vec![0u8; len];
            for r in &ranges {
                expected[r.clone()].copy_from_slice(&data[r.clone()]);
            }
            prop_assert!(mirror == expected);
            Ok(())
        })
        .unwrap();
}
