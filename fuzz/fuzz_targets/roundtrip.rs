//! Arbitrary frames (built from a mirror type that derives `Arbitrary`)
//! encode, decode to themselves, encode to the same bytes again, and pass
//! through both framings and the accumulator.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use memwire::codec::*;
use memwire::schema::{Kind, Name, Variable};

#[derive(Arbitrary, Debug)]
enum Mirror<'a> {
    Hello {
        version: u16,
        max_frame: u32,
        client: &'a str,
        tenant: &'a str,
    },
    Challenge {
        version: u16,
        nonce: [u8; 32],
    },
    Auth {
        proof: [u8; 32],
    },
    Welcome {
        session: u64,
        limits: (u32, u16, u16, u32, u32, bool),
        complete: bool,
        regions: Vec<(&'a str, u64)>,
    },
    Error {
        code: u16,
        handle: Option<u16>,
        reason: &'a str,
    },
    Close,
    Ping(u64),
    Pong(u64),
    Subscribe {
        handle: u16,
        path: &'a str,
        resume: Option<(u64, u64)>,
        variables: bool,
        full: bool,
    },
    Unsubscribe(u16),
    Schema {
        handle: u16,
        instance: u64,
        fingerprint: u64,
        data_len: u32,
        count: u32,
        first: u32,
        vars: Vec<(&'a str, u8, u32, u32, bool)>,
    },
    Update {
        handle: u16,
        base: Option<u64>,
        check: u8,
        step: u64,
        last: bool,
        spans: Vec<(u32, &'a [u8])>,
    },
    Ack {
        handle: u16,
        generation: u64,
    },
    WriteRanges {
        request: u32,
        handle: u16,
        spans: Vec<(u32, &'a [u8])>,
    },
    WriteVariable {
        request: u32,
        handle: u16,
        name: &'a str,
        value: &'a [u8],
    },
    WritePart {
        request: u32,
        handle: u16,
        last: bool,
        spans: Vec<(u32, &'a [u8])>,
    },
    Applied {
        request: u32,
        generation: u64,
    },
    Refused {
        request: u32,
        code: u16,
        reason: &'a str,
    },
}

fn spans<'a>(raw: &[(u32, &'a [u8])]) -> Option<Vec<Span<'a>>> {
    let mut offset = 0u32;
    raw.iter()
        .map(|&(gap, bytes)| {
            let start = offset.checked_add(gap)?;
            offset = start.checked_add(u32::try_from(bytes.len()).ok()?)?;
            Some(Span {
                offset: start,
                bytes,
            })
        })
        .collect()
}

/// The frame for `m`, or `None` when `m` breaks a bound the encoder checks.
fn build<'a>(m: &Mirror<'a>, scratch: &'a mut [u8]) -> Option<Frame<'a>> {
    Some(match *m {
        Mirror::Hello {
            version,
            max_frame,
            client,
            tenant,
        } => Frame::Hello(Hello {
            version,
            max_frame,
            client,
            tenant,
        }),
        Mirror::Challenge { version, nonce } => Frame::Challenge(Challenge { version, nonce }),
        Mirror::Auth { proof } => Frame::Auth(Auth { proof }),
        Mirror::Welcome {
            session,
            limits: (a, b, c, d, e, f),
            complete,
            ref regions,
        } => {
            let list: Option<Vec<RegionInfo>> = regions
                .iter()
                .map(|&(n, instance)| {
                    Some(RegionInfo {
                        name: Name::new(n).ok()?,
                        instance,
                    })
                })
                .collect();
            let limits = Limits {
                max_frame: a,
                max_in_flight: b,
                max_subscriptions: c,
                keepalive_ms: d,
                timeout_ms: e,
                write: f,
            };
            let regions = RegionList::encode(&list?, scratch).ok()?;
            Frame::Welcome(Welcome {
                session,
                limits,
                complete,
                regions,
            })
        }
        Mirror::Error {
            code,
            handle,
            reason,
        } => Frame::Error(ErrorFrame {
            code: ErrorCode::from_value(code),
            handle,
            reason,
        }),
        Mirror::Close => Frame::Close,
        Mirror::Ping(nonce) => Frame::Ping { nonce },
        Mirror::Pong(nonce) => Frame::Pong { nonce },
        Mirror::Subscribe {
            handle,
            path,
            resume,
            variables,
            full,
        } => Frame::Subscribe(Subscribe {
            handle,
            path,
            resume: resume.map(|(instance, generation)| Resume {
                instance,
                generation,
            }),
            variables,
            full,
        }),
        Mirror::Unsubscribe(handle) => Frame::Unsubscribe(Unsubscribe { handle }),
        Mirror::Schema {
            handle,
            instance,
            fingerprint,
            data_len,
            count,
            first,
            ref vars,
        } => {
            let vars: Option<Vec<Variable>> = vars
                .iter()
                .map(|&(n, kind, count, offset, writable)| {
                    let var = Variable {
                        name: Name::new(n).ok()?,
                        kind: Kind::from_code(kind)?,
                        count,
                        offset,
                        writable,
                    };
                    (count > 0 && var.end() <= u64::from(u32::MAX)).then_some(var)
                })
                .collect();
            let variables = VarTable::encode(&vars?, scratch).ok()?;
            Frame::Schema(SchemaPart {
                handle,
                instance,
                fingerprint,
                data_len,
                count,
                first,
                variables,
            })
        }
        Mirror::Update {
            handle,
            base,
            check,
            step,
            last,
            spans: ref s,
        } => {
            let ranges = Ranges::encode(spans(s)?, scratch).ok()?;
            Frame::Update(Update {
                handle,
                base: base.map_or(UpdateBase::Reference(check), UpdateBase::At),
                step,
                last,
                ranges,
            })
        }
        Mirror::Ack { handle, generation } => Frame::Ack(Ack { handle, generation }),
        Mirror::WriteRanges {
            request,
            handle,
            spans: ref s,
        } => {
            let ranges = Ranges::encode(spans(s)?, scratch).ok()?;
            Frame::Write(Write {
                request,
                handle,
                target: WriteTarget::Ranges(ranges),
            })
        }
        Mirror::WritePart {
            request,
            handle,
            last,
            spans: ref s,
        } => {
            let ranges = Ranges::encode(spans(s)?, scratch).ok()?;
            Frame::Write(Write {
                request,
                handle,
                target: WriteTarget::Part { last, ranges },
            })
        }
        Mirror::WriteVariable {
            request,
            handle,
            name,
            value,
        } => Frame::Write(Write {
            request,
            handle,
            target: WriteTarget::Variable {
                name: Name::new(name).ok()?,
                value,
            },
        }),
        Mirror::Applied {
            request,
            generation,
        } => Frame::WriteResult(WriteResult {
            request,
            outcome: WriteOutcome::Applied { generation },
        }),
        Mirror::Refused {
            request,
            code,
            reason,
        } => Frame::WriteResult(WriteResult {
            request,
            outcome: WriteOutcome::Refused {
                code: ErrorCode::from_value(code),
                reason,
            },
        }),
    })
}

fuzz_target!(|m: Mirror<'_>| {
    let mut scratch = vec![0u8; 1 << 13];
    let Some(frame) = build(&m, &mut scratch) else {
        return;
    };
    let mut buf = vec![0u8; 1 << 14];
    let n = match frame.encode(&mut buf) {
        Ok(n) => n,
        Err(EncodeError::Invalid) => return,
        Err(e) => panic!("{e:?} for {frame:?}"),
    };
    assert_eq!(n, frame.encoded_len());
    let body = &buf[..n];
    assert_eq!(Frame::decode(body), Ok(frame));
    let mut again = vec![0u8; n];
    assert_eq!(Frame::decode(body).unwrap().encode(&mut again), Ok(n));
    assert_eq!(&again[..], body);
    for framing in [Framing::LengthPrefix, Framing::Cobs] {
        let mut framed = vec![0u8; n + framing.overhead(n)];
        let m = framing.encode(&frame, &mut framed).unwrap();
        let mut acc = if framing == Framing::Cobs {
            Box::new(FrameAccumulator::<{ 1 << 14 }>::cobs(n))
        } else {
            Box::new(FrameAccumulator::<{ 1 << 14 }>::length_prefix(n))
        };
        match acc.feed(&framed[..m]) {
            Feed::Frame { body: got, rest } => {
                assert_eq!(got, body);
                assert!(rest.is_empty());
            }
            other => panic!("{other:?}"),
        }
    }
});
