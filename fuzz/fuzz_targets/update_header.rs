//! The compact update header (protocol 2): a publisher's updates, each cut
//! into parts by `UpdateParts` against the subscription's reference, read
//! back by a subscriber following its own reference. Every part decodes,
//! names the base and generation it was sent with, and carries exactly the
//! bytes of its ranges; a part repeated on the way is never placed on a
//! wrong base it could be mistaken for (its check byte is not the new
//! reference's, or its base is named in full).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use memwire::codec::{
    Feed, Frame, FrameAccumulator, Framing, UpdateBase, UpdateParts, UpdateReference,
};

/// One update the publisher sends: from `base` (the reference, or another
/// generation after a resync) forward by `step`, over a range of the data,
/// to a peer taking frames of `max_frame` bytes.
#[derive(Arbitrary, Debug)]
struct Sent {
    from_reference: bool,
    other_base: u64,
    step: u16,
    start: u16,
    len: u16,
    max_frame: u8,
    repeat_last: bool,
    schema_after: bool,
}

fuzz_target!(|updates: Vec<Sent>| {
    let data: Vec<u8> = (0..4096u32).map(|i| (i * 7) as u8).collect();
    let mut sender = UpdateReference::new();
    let mut receiver = UpdateReference::new();
    let mut buf = vec![0u8; 600];
    for sent in updates.iter().take(64) {
        let reference = sender.get();
        let base = if sent.from_reference {
            reference
        } else {
            sent.other_base
        };
        let Some(generation) = base.checked_add(u64::from(sent.step)) else {
            continue;
        };
        let start = usize::from(sent.start) % data.len();
        let end = (start + usize::from(sent.len)).min(data.len());
        let max_frame = 32 + usize::from(sent.max_frame) * 2;
        let mut parts = UpdateParts::new(
            5,
            base,
            generation,
            &data,
            core::iter::once(start..end),
            max_frame,
            Framing::LengthPrefix,
        )
        .after(reference);
        let mut acc = FrameAccumulator::<600>::length_prefix(max_frame);
        let mut covered = start;
        let mut last_part = Vec::new();
        while let Some(n) = parts.next_frame(&mut buf) {
            let n = n.expect("a range always fits a frame of 32 bytes or more");
            let Feed::Frame { body, rest } = acc.feed(&buf[..n]) else {
                panic!("one whole frame per call");
            };
            assert!(rest.is_empty());
            let Ok(Frame::Update(update)) = Frame::decode(body) else {
                panic!("not an update");
            };
            sender.sent(generation, update.last);
            assert_eq!(receiver.take(&update), Some((base, generation)));
            for span in update.ranges {
                assert_eq!(span.range().start, covered);
                assert_eq!(span.bytes, &data[span.range()]);
                covered = span.range().end;
            }
            if update.last {
                last_part = body.to_vec();
            }
        }
        assert_eq!(covered, end.max(start));
        if sent.repeat_last {
            let Ok(Frame::Update(again)) = Frame::decode(&last_part) else {
                panic!("the last part decodes again");
            };
            match (again.base, receiver.take(&again)) {
                (UpdateBase::At(_), placed) => assert_eq!(placed, Some((base, generation))),
                // Placed only where the check bytes of the two bases meet
                // (the same base, for an update of step 0).
                (UpdateBase::Reference(_), Some((b, _))) => {
                    assert_eq!(UpdateBase::check(b), UpdateBase::check(base));
                }
                (UpdateBase::Reference(_), None) => {}
            }
            // The receiver asks for a resync, which the publisher answers
            // with a named base: both ends meet again at the publisher's
            // reference.
            receiver = sender;
        }
        if sent.schema_after {
            sender.reset();
            receiver.reset();
        }
    }
});
