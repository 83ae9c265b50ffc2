//! Every diff path against a byte-by-byte reference on arbitrary data,
//! changes, misalignments, gaps, output capacities and chunk sizes.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use memwire::diff::{ByteRange, DiffError, Differ, Generations, Overflow, Path};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    /// The shadow's bytes.
    shadow: &'a [u8],
    /// Runs to change in the current bytes: (start, length, XOR value).
    changes: Vec<(u16, u8, u8)>,
    /// Misalignment of the shadow and of the current bytes (mod 64).
    shadow_at: u8,
    current_at: u8,
    gap: u8,
    /// Capacity of the output buffer.
    capacity: u8,
    /// log2 of the generation table's chunk size (mod 9).
    chunk_log: u8,
}

/// Maximal runs of differing bytes, merged when fewer than `gap` (at least
/// 1) bytes separate them.
fn reference(a: &[u8], b: &[u8], gap: usize) -> Vec<ByteRange> {
    let mut out: Vec<ByteRange> = Vec::new();
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if x == y {
            continue;
        }
        match out.last_mut() {
            Some(last) if i - last.end < gap.max(1) => last.end = i + 1,
            _ => out.push(ByteRange::new(i, i + 1)),
        }
    }
    out
}

fn placed(bytes: &[u8], at: u8) -> (Vec<u8>, usize) {
    let at = usize::from(at % 64);
    let mut buf = vec![0u8; at + bytes.len()];
    buf[at..].copy_from_slice(bytes);
    (buf, at)
}

fuzz_target!(|input: Input<'_>| {
    let len = input.shadow.len();
    let mut changed = input.shadow.to_vec();
    if len > 0 {
        for &(start, run, xor) in &input.changes {
            for i in usize::from(start)..usize::from(start) + usize::from(run % 80) + 1 {
                changed[i % len] ^= xor;
            }
        }
    }
    let (shadow_buf, s_at) = placed(input.shadow, input.shadow_at);
    let (current_buf, c_at) = placed(&changed, input.current_at);
    let (shadow, current) = (&shadow_buf[s_at..], &current_buf[c_at..]);
    let gap = usize::from(input.gap);
    let expected = reference(current, shadow, gap);
    let chunk = 1usize << (input.chunk_log % 9);
    let stamped_expected: Vec<bool> = current
        .chunks(chunk)
        .zip(shadow.chunks(chunk))
        .map(|(x, y)| x != y)
        .collect();

    for path in Path::available() {
        let d = Differ::new().with_path(path).unwrap().with_gap(gap);
        let capacity = usize::from(input.capacity);
        let mut out = vec![ByteRange::default(); capacity];
        let result = d.changes(current, shadow, &mut out);
        match (expected.first(), expected.last()) {
            (Some(first), Some(last)) if capacity == 0 => {
                let overflow = Overflow {
                    needed: expected.len(),
                    span: ByteRange::new(first.start, last.end),
                };
                assert_eq!(result, Err(DiffError::Overflow(overflow)), "{path}");
            }
            // Merged to fit: whole exact ranges joined, every one covered.
            // Room is made a quarter of the buffer at a time, so the ranges
            // may end up fewer than the capacity.
            _ if expected.len() > capacity => {
                let n = result.unwrap_or_else(|e| panic!("{path}: {e:?}"));
                assert!((1..=capacity).contains(&n), "{path}: {n} ranges");
                let out = &out[..n];
                for pair in out.windows(2) {
                    assert!(pair[0].end < pair[1].start, "{path}");
                }
                for r in out {
                    assert!(expected.iter().any(|e| e.start == r.start), "{path}");
                    assert!(expected.iter().any(|e| e.end == r.end), "{path}");
                }
                for e in &expected {
                    assert!(out.iter().any(|r| r.start <= e.start && e.end <= r.end), "{path}");
                }
            }
            _ => {
                assert_eq!(result, Ok(expected.len()), "{path}");
                assert_eq!(out[..expected.len()], expected[..], "{path}");
            }
        }

        let mut copy = shadow.to_vec();
        let mut table = vec![0u64; Generations::chunks_for(len, chunk)];
        let mut gens = Generations::new(&mut table, len, chunk).unwrap();
        let mut all = vec![ByteRange::default(); expected.len()];
        let n = d.update(current, &mut copy, &mut all, Some((&mut gens, 1)));
        assert_eq!(n, Ok(expected.len()), "{path}");
        assert_eq!(all, expected, "{path}");
        assert_eq!(copy, current, "{path}");
        let stamped: Vec<bool> = (0..gens.len()).map(|i| gens.get(i) == Some(1)).collect();
        assert_eq!(stamped, stamped_expected, "{path}");
    }
});
