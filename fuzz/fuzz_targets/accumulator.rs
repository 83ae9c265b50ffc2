//! The frame accumulator fed arbitrary bytes in arbitrary chunks gives the
//! same frames and errors as when fed the whole input at once, and never a
//! frame above its maximum.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use memwire::codec::{AccumulateError, Feed, FrameAccumulator};

#[derive(Arbitrary, Debug)]
struct Input {
    cobs: bool,
    max: u8,
    cuts: Vec<u16>,
    bytes: Vec<u8>,
}

type Event = Result<Vec<u8>, AccumulateError>;

fn run(cobs: bool, max: usize, chunks: &[&[u8]]) -> Vec<Event> {
    let mut acc = if cobs {
        FrameAccumulator::<256>::cobs(max)
    } else {
        FrameAccumulator::<256>::length_prefix(max)
    };
    let mut out = Vec::new();
    for chunk in chunks {
        let mut input = *chunk;
        loop {
            match acc.feed(input) {
                Feed::Pending => break,
                Feed::Frame { body, rest } => {
                    assert!(!body.is_empty() && body.len() <= max);
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

fuzz_target!(|input: Input| {
    let max = usize::from(input.max).max(1);
    let whole = run(input.cobs, max, &[&input.bytes]);
    let mut points: Vec<usize> = input
        .cuts
        .iter()
        .map(|&c| usize::from(c) % (input.bytes.len() + 1))
        .collect();
    points.sort_unstable();
    let mut chunks = Vec::new();
    let mut start = 0;
    for p in points.into_iter().chain([input.bytes.len()]) {
        chunks.push(&input.bytes[start..p]);
        start = p;
    }
    assert_eq!(run(input.cobs, max, &chunks), whole);
});
