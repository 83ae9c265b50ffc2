//! Property tests: every available path against the byte-by-byte reference,
//! on random sizes, unaligned starts and change patterns.

use std::vec;
use std::vec::Vec;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

use super::{reference, reference_by_cost, reference_chunks};
use crate::diff::{ByteRange, DiffError, Differ, Generations, Overflow, Path, touched};
use crate::schema::{Kind, Name, Schema, VarId, Variable, name_index};

/// Few cases by default so `cargo test` stays quick; fewer and smaller under
/// miri, which runs the portable path about a thousand times slower.
fn config() -> Config {
    Config {
        cases: if cfg!(miri) { 3 } else { 200 },
        rng_seed: RngSeed::Fixed(0x6d65_6d77_6972_6501),
        failure_persistence: None,
        ..Config::default()
    }
}

const MAX_LEN: usize = if cfg!(miri) { 300 } else { 5000 };

/// A small deterministic generator, so one `u64` seed describes a case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    /// A nonzero byte to XOR in: single bits (high bit included) half of
    /// the time.
    fn flip(&mut self) -> u8 {
        match self.next() % 2 {
            0 => 1 << (self.next() % 8),
            _ => (self.next() % 255 + 1) as u8,
        }
    }
}

/// How the current bytes differ from the shadow.
#[derive(Clone, Copy, Debug)]
enum Pattern {
    None,
    /// Single bytes next to 64-byte edges (of the slice and of memory).
    Edges,
    /// A few scattered bytes.
    Sparse,
    /// Each byte with probability 1/2.
    Dense,
    /// Every byte.
    All,
    /// Runs separated by gaps around the coalescing threshold.
    Runs,
}

fn pattern() -> impl Strategy<Value = Pattern> {
    prop_oneof![
        1 => Just(Pattern::None),
        3 => Just(Pattern::Edges),
        3 => Just(Pattern::Sparse),
        2 => Just(Pattern::Dense),
        1 => Just(Pattern::All),
        3 => Just(Pattern::Runs),
    ]
}

fn apply(pattern: Pattern, current: &mut [u8], gap: usize, rng: &mut Rng) {
    let len = current.len();
    let mut flip = |at: usize, rng: &mut Rng| {
        if let Some(b) = current.get_mut(at) {
            *b ^= rng.flip();
        }
    };
    match pattern {
        Pattern::None => {}
        Pattern::Edges => {
            for _ in 0..=rng.below(6) {
                let edge = 64 * rng.below(len / 64 + 1);
                let at = (edge + rng.below(3)).wrapping_sub(1);
                flip(at, rng);
            }
            flip(0, rng);
            flip(len.wrapping_sub(1), rng);
        }
        Pattern::Sparse => {
            for _ in 0..=rng.below(len / 50 + 2) {
                let at = rng.below(len);
                flip(at, rng);
            }
        }
        Pattern::Dense => {
            for at in 0..len {
                if rng.next().is_multiple_of(2) {
                    flip(at, rng);
                }
            }
        }
        Pattern::All => (0..len).for_each(|at| flip(at, rng)),
        Pattern::Runs => {
            let mut at = rng.below(70);
            while at < len {
                let run = 1 + rng.below(80);
                (at..at + run).for_each(|i| flip(i, rng));
                at += run + (gap + rng.below(3)).saturating_sub(1).max(1);
            }
        }
    }
}

/// A case: shadow and current bytes at the given misalignments.
struct Case {
    shadow: Vec<u8>,
    current: Vec<u8>,
    shadow_at: usize,
    current_at: usize,
    len: usize,
}

impl Case {
    fn new(
        len: usize,
        shadow_at: usize,
        current_at: usize,
        seed: u64,
        p: Pattern,
        gap: usize,
    ) -> Case {
        let mut rng = Rng(seed);
        let base: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let mut changed = base.clone();
        apply(p, &mut changed, gap, &mut rng);
        let mut shadow = vec![0u8; len + shadow_at];
        shadow[shadow_at..].copy_from_slice(&base);
        let mut current = vec![0u8; len + current_at];
        current[current_at..].copy_from_slice(&changed);
        Case {
            shadow,
            current,
            shadow_at,
            current_at,
            len,
        }
    }
    fn shadow(&self) -> &[u8] {
        &self.shadow[self.shadow_at..]
    }
    fn current(&self) -> &[u8] {
        &self.current[self.current_at..]
    }
}

/// Checks every path's `changes` and `update` on one case, coalescing by
/// `gap` or, for `None`, by cost.
fn check(case: &Case, gap: Option<usize>, chunk: usize) -> Result<(), TestCaseError> {
    let (current, shadow) = (case.current(), case.shadow());
    let expected = match gap {
        Some(gap) => reference(current, shadow, gap),
        None => reference_by_cost(current, shadow),
    };
    let chunks = reference_chunks(current, shadow, chunk);
    for path in Path::available() {
        let d = Differ::new().with_path(path).unwrap();
        let d = gap.map_or(d, |gap| d.with_gap(gap));
        let mut out = vec![ByteRange::default(); expected.len()];
        let n = d.changes(current, shadow, &mut out);
        prop_assert_eq!(n, Ok(expected.len()), "{}", path);
        prop_assert_eq!(&out, &expected, "{}", path);

        // Half the room: merged to fit, still covering every changed byte.
        let cap = expected.len() / 2;
        let mut short = vec![ByteRange::default(); cap];
        match (
            d.changes(current, shadow, &mut short),
            expected.first(),
            expected.last(),
        ) {
            (Ok(n), _, _) => {
                let some = !expected.is_empty();
                prop_assert!(
                    n <= cap && (n > 0) == some,
                    "{}: {} ranges in {}",
                    path,
                    n,
                    cap
                );
                fits(&short[..n], &expected, current, shadow)?;
            }
            (Err(e), Some(first), Some(last)) => {
                prop_assert_eq!(cap, 0, "{}", path);
                let overflow = Overflow {
                    needed: expected.len(),
                    span: ByteRange::new(first.start, last.end),
                };
                prop_assert_eq!(e, DiffError::Overflow(overflow), "{}", path);
            }
            (Err(e), _, _) => prop_assert!(false, "{}: {:?} with nothing changed", path, e),
        }

        let mut copy = shadow.to_vec();
        let mut table = vec![0u64; Generations::chunks_for(case.len, chunk)];
        let mut gens = Generations::new(&mut table, case.len, chunk).unwrap();
        gens.reset(1);
        let n = d.update(current, &mut copy, &mut out, Some((&mut gens, 2)));
        prop_assert_eq!(n, Ok(expected.len()), "{}", path);
        prop_assert_eq!(&out, &expected, "{}", path);
        prop_assert_eq!(&copy[..], current, "{}", path);
        let stamped: Vec<bool> = (0..gens.len()).map(|i| gens.get(i) == Some(2)).collect();
        prop_assert_eq!(&stamped, &chunks, "{}", path);
    }
    Ok(())
}

/// `merged` (ranges merged to fit a buffer) is ascending, each range a
/// union of neighbouring ranges of `exact`, and covers every changed byte.
fn fits(
    merged: &[ByteRange],
    exact: &[ByteRange],
    current: &[u8],
    shadow: &[u8],
) -> Result<(), TestCaseError> {
    for pair in merged.windows(2) {
        prop_assert!(pair[0].end < pair[1].start, "{:?} out of order", pair);
    }
    for r in merged {
        prop_assert!(
            exact.iter().any(|e| e.start == r.start),
            "{:?} starts inside",
            r
        );
        prop_assert!(exact.iter().any(|e| e.end == r.end), "{:?} ends inside", r);
    }
    for (i, (a, b)) in current.iter().zip(shadow).enumerate() {
        if a != b {
            prop_assert!(
                merged.iter().any(|r| r.start <= i && i < r.end),
                "changed byte {} not covered",
                i
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_path_matches_the_reference(
        len in 0..MAX_LEN,
        shadow_at in 0..64usize,
        current_at in 0..64usize,
        seed in any::<u64>(),
        p in pattern(),
        gap in prop_oneof![Just(None), (0..24usize).prop_map(Some)],
        chunk_log in 0..9u32,
    ) {
        let case = Case::new(len, shadow_at, current_at, seed, p, gap.unwrap_or(3));
        check(&case, gap, 1 << chunk_log)?;
    }

    #[test]
    fn moved_variables_match_the_reference(
        seed in any::<u64>(),
        vars in 1..if cfg!(miri) { 8 } else { 40usize },
        p in pattern(),
    ) {
        let mut rng = Rng(seed);
        // Variables of random kinds and counts with random holes between.
        let mut list = Vec::new();
        let mut end = 0usize;
        for i in 0..vars {
            let kind = Kind::ALL[rng.below(Kind::ALL.len())];
            let size = kind.size();
            let offset = (end + rng.below(3) * rng.below(40)).div_ceil(size) * size;
            let most = if rng.next().is_multiple_of(4) && !cfg!(miri) { 100 } else { 4 };
            let count = 1 + rng.below(most);
            let name = Name::new(&std::format!("v{i}")).unwrap();
            list.push(Variable::new(name, kind, count as u32, offset as u32));
            end = offset + count * size;
        }
        let mut by_name = vec![0; list.len()];
        name_index(&list, &mut by_name).unwrap();
        let schema = Schema::new_checked(&list, &by_name).unwrap();
        let len = end + rng.below(100);
        let case = Case::new(len, rng.below(64), rng.below(64), rng.next(), p, 8);
        let moved: Vec<VarId> =
            (0..vars as u32).filter(|_| !rng.next().is_multiple_of(3)).map(VarId).collect();

        // The reference sees only the moved variables' bytes change.
        let mut visible = case.shadow().to_vec();
        for id in &moved {
            let r = list[id.index()].range();
            visible[r.clone()].copy_from_slice(&case.current()[r]);
        }
        let expected = reference_by_cost(&visible, case.shadow());
        for path in Path::available() {
            let d = Differ::new().with_path(path).unwrap();
            let mut copy = case.shadow().to_vec();
            let mut out = vec![ByteRange::default(); expected.len()];
            let n = d.update_moved(case.current(), &mut copy, schema, moved.iter().copied(), &mut out, None);
            prop_assert_eq!(n, Ok(expected.len()), "{}", path);
            prop_assert_eq!(&out, &expected, "{}", path);
            prop_assert_eq!(&copy, &visible, "{}", path);
            let ids: Vec<VarId> = touched(schema, &out).collect();
            prop_assert_eq!(&ids, &overlapping(&list, &out), "{}", path);
            for id in ids {
                prop_assert!(moved.contains(&id) || expected.iter().any(|r| {
                    let v = list[id.index()].range();
                    v.start >= r.start && v.end <= r.end
                }), "{:?} reported but neither moved nor inside a coalesced range", id);
            }
        }
    }

    #[test]
    fn touched_matches_a_linear_scan(
        seed in any::<u64>(),
        vars in 0..300usize,
        cuts in proptest::collection::vec(0..5000usize, 0..40),
    ) {
        let mut rng = Rng(seed);
        let mut list = Vec::new();
        let mut end = 0usize;
        for i in 0..vars {
            // Clusters and holes, so that guesses by position are often off.
            let hole = if rng.next().is_multiple_of(8) { rng.below(2000) } else { rng.below(3) };
            let count = 1 + rng.below(20);
            let name = Name::new(&std::format!("v{i}")).unwrap();
            list.push(Variable::new(name, Kind::U8, count as u32, (end + hole) as u32));
            end += hole + count;
        }
        let mut by_name = vec![0; list.len()];
        name_index(&list, &mut by_name).unwrap();
        let schema = Schema::new_checked(&list, &by_name).unwrap();
        let mut cuts = cuts;
        cuts.sort_unstable();
        cuts.dedup();
        let ranges: Vec<ByteRange> = cuts.chunks_exact(2).map(|c| ByteRange::new(c[0], c[1])).collect();
        let ids: Vec<VarId> = touched(schema, &ranges).collect();
        prop_assert_eq!(ids, overlapping(&list, &ranges));
    }
}

/// The variables that share a byte with any of `ranges`, by a linear scan.
fn overlapping(vars: &[Variable], ranges: &[ByteRange]) -> Vec<VarId> {
    (0..vars.len())
        .filter(|&i| {
            let v = vars[i].range();
            ranges.iter().any(|r| r.start < v.end && v.start < r.end)
        })
        .map(|i| VarId(i as u32))
        .collect()
}

/// Regions of a few MiB at odd lengths and unaligned starts.
#[test]
#[cfg_attr(miri, ignore = "too slow under miri")]
fn large_regions_match_the_reference() {
    let sizes = [(1 << 20) + 13, (3 << 20) + 7];
    for (i, len) in sizes.into_iter().enumerate() {
        for (k, p) in [
            Pattern::None,
            Pattern::Edges,
            Pattern::Sparse,
            Pattern::Runs,
        ]
        .into_iter()
        .enumerate()
        {
            let case = Case::new(len, 3 + i, 17 * k, (i * 10 + k) as u64, p, 8);
            check(&case, None, 64).unwrap();
        }
    }
}
