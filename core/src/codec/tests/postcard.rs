//! The codec against postcard itself: every frame kind, with random
//! fields, encodes to exactly the bytes postcard gives for the same fields
//! (a struct is its fields in order, so a tuple stands for it), and decodes
//! from them.

use std::vec::Vec;

use proptest::prelude::*;
use serde::Serialize;

use super::super::*;
use super::props::for_random_frames;

/// postcard's encoding of `value`.
fn pc<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut buf = std::vec![0u8; 4096];
    let n = postcard::to_slice(value, &mut buf).unwrap().len();
    buf.truncate(n);
    buf
}

/// A byte string whose contents are `items`, back to back: how views
/// travel.
fn seq(items: impl IntoIterator<Item = Vec<u8>>) -> Vec<u8> {
    let payload: Vec<u8> = items.into_iter().flatten().collect();
    pc(&payload[..])
}

fn ranges(r: Ranges<'_>) -> Vec<u8> {
    let mut end = 0u32;
    seq(r.iter().map(|span| {
        let gap = span.offset - end;
        end = span.offset + span.bytes.len() as u32;
        pc(&(gap, span.bytes))
    }))
}

/// postcard's encoding of the frame's fields, tag first (a `u32`).
fn postcard_frame(frame: &Frame<'_>) -> Vec<u8> {
    let mut out = pc(&u32::from(frame.tag()));
    out.extend(match *frame {
        Frame::Hello(h) => pc(&(h.version, h.max_frame, h.client, h.tenant)),
        Frame::Challenge(c) => pc(&(c.version, c.nonce)),
        Frame::Auth(a) => pc(&a.proof),
        Frame::Welcome(w) => {
            let l = w.limits;
            let mut v = pc(&(
                w.session,
                l.max_frame,
                l.max_in_flight,
                l.max_subscriptions,
                l.keepalive_ms,
                l.timeout_ms,
                l.write,
                w.complete,
            ));
            v.extend(seq(w
                .regions
                .iter()
                .map(|r| pc(&(r.name.as_str(), r.instance.to_le_bytes())))));
            v
        }
        Frame::Error(e) => pc(&(e.code.value(), e.handle, e.reason)),
        Frame::Close => Vec::new(),
        Frame::Ping { nonce } | Frame::Pong { nonce } => pc(&nonce),
        Frame::Subscribe(s) => pc(&(
            s.handle,
            s.path,
            s.resume.map(|r| (r.instance.to_le_bytes(), r.generation)),
            // A u8 of flags, which is the bool `variables` without `full`.
            u8::from(s.variables) | (u8::from(s.full) << 1),
        )),
        Frame::Unsubscribe(u) => pc(&u.handle),
        Frame::Schema(s) => {
            let mut v = pc(&(
                s.handle,
                s.instance.to_le_bytes(),
                s.fingerprint.to_le_bytes(),
                s.data_len,
                s.count,
                s.first,
            ));
            v.extend(seq(s.variables.iter().map(|var| {
                pc(&(
                    var.name.as_str(),
                    var.kind.code(),
                    var.count,
                    var.offset,
                    var.writable,
                ))
            })));
            v
        }
        Frame::Update(u) => {
            // The flags are in the tag; the fields they announce follow
            // the handle, and the ranges run to the end of the body.
            let mut v = pc(&u.handle);
            v.extend(match u.base {
                UpdateBase::At(base) => pc(&base),
                UpdateBase::Reference(check) => pc(&check),
            });
            if u.step != 1 {
                v.extend(pc(&u.step));
            }
            v.extend(u.ranges.as_bytes());
            v
        }
        Frame::Ack(a) => pc(&(a.handle, a.generation)),
        Frame::Write(w) => {
            let mut v = pc(&(w.request, w.handle));
            match w.target {
                WriteTarget::Ranges(r) => {
                    v.extend(pc(&0u32));
                    v.extend(ranges(r));
                }
                WriteTarget::Variable { name, value } => {
                    v.extend(pc(&(1u32, name.as_str(), value)));
                }
                WriteTarget::Part { last, ranges: r } => {
                    v.extend(pc(&(2u32, last)));
                    v.extend(ranges(r));
                }
            }
            v
        }
        Frame::WriteResult(w) => {
            let mut v = pc(&w.request);
            v.extend(match w.outcome {
                WriteOutcome::Applied { generation } => pc(&(0u32, generation)),
                WriteOutcome::Refused { code, reason } => pc(&(1u32, code.value(), reason)),
            });
            v
        }
    });
    out
}

#[test]
fn frames_are_postcard() {
    for_random_frames(|frame| {
        let expected = postcard_frame(&frame);
        let mut buf = [0u8; 2048];
        let n = frame.encode(&mut buf).unwrap();
        prop_assert_eq!(&buf[..n], &expected[..], "{:?}", frame);
        prop_assert_eq!(Frame::decode(&expected), Ok(frame));
        Ok(())
    });
}
