//! A writer's death simulated at each step of a commit: the memory as it
//! stood at that instant is copied and recovered on its own, as the next
//! writer would find it.

use std::vec;
use std::vec::Vec;

use crate::layout::{RegionView, init, init_journaled, journaled_len, required_len};
use crate::region::{Recovery, Region};
use crate::schema::{Kind, Schema, SchemaBuf, SchemaBuilder, VarId};
use crate::sync::{self, Ordering};

/// `tag` and `x` share a word, so a partial word travels through the
/// journal; the data area has padding after `x`.
static CRASH: SchemaBuf<5> = SchemaBuilder::new()
    .var("a", Kind::U64, 1)
    .var("arr", Kind::U32, 16)
    .var("b", Kind::U64, 1)
    .var("tag", Kind::Bytes, 3)
    .var("x", Kind::U8, 1)
    .build();

const A: VarId = VarId(0);
const ARR: VarId = VarId(1);
const B: VarId = VarId(2);
const TAG: VarId = VarId(3);
const X: VarId = VarId(4);

fn schema() -> Schema<'static> {
    CRASH.as_schema()
}

fn memory(journal: bool) -> Vec<u32> {
    let s = schema();
    let len = if journal {
        journaled_len(&s)
    } else {
        required_len(&s)
    };
    let mut words = vec![0u32; len.unwrap() / 4];
    let bytes = bytemuck::cast_slice_mut(&mut words);
    if journal {
        init_journaled(bytes, &s, 3).unwrap();
    } else {
        init(bytes, &s, 3).unwrap();
    }
    words
}

fn open(words: &mut [u32]) -> Region<'_> {
    Region::from_bytes(bytemuck::cast_slice_mut(words), schema()).unwrap()
}

/// The region's memory at this instant.
fn copy_of(r: &Region<'_>) -> Vec<u32> {
    r.words()
        .iter()
        .map(|w| w.load(Ordering::Relaxed))
        .collect()
}

fn data(r: &Region<'_>) -> Vec<u8> {
    let mut out = vec![0u8; r.data_len()];
    r.snapshot(&mut out).unwrap();
    out
}

fn view(words: &[u32]) -> RegionView<'_> {
    RegionView::new_checked(bytemuck::cast_slice(words)).unwrap()
}

/// Old values everywhere: `a == b`, every element of `arr` equal.
fn committed(r: &Region<'_>) {
    r.write_many(&[
        (A, &5u64.to_le_bytes()),
        (ARR, bytemuck::cast_slice(&[5u32; 16])),
        (B, &5u64.to_le_bytes()),
        (TAG, b"old"),
        (X, &[5]),
    ])
    .unwrap();
}

/// One commit of each kind, called with the hook that runs between the
/// data stores and the commit point: the number of variables it touches
/// and a range of data words inside them.
type Commit = fn(&Region<'_>, &mut dyn FnMut()) -> (u32, core::ops::Range<usize>);

fn commits() -> [(&'static str, Commit); 3] {
    [
        ("write", |r, during| {
            r.write_many_then(&[(ARR, bytemuck::cast_slice(&[9u32; 16]))], during)
                .unwrap();
            (1, 2..10)
        }),
        ("write_many", |r, during| {
            r.write_many_then(
                &[(A, &9u64.to_le_bytes()), (B, &9u64.to_le_bytes())],
                during,
            )
            .unwrap();
            (2, 0..2)
        }),
        ("write_ranges", |r, during| {
            // From inside `arr` through `x` into the padding after it.
            let mut bytes = [9u8; 44];
            bytes[36..39].copy_from_slice(b"new");
            r.write_ranges_then([(44, &bytes[..])].into_iter(), Some(77), during)
                .unwrap();
            (4, 11..21)
        }),
    ]
}

#[test]
fn a_commit_its_writer_dies_in_before_the_commit_point_is_rolled_back() {
    for (what, commit) in commits() {
        let mut mem = memory(true);
        let r = open(&mut mem);
        committed(&r);
        let before = data(&r);
        let generation = r.generation().unwrap();
        let mut died = Vec::new();
        let (touched, inside) = commit(&r, &mut || died = copy_of(&r));
        // The journal is marked with the odd commit counter.
        let mark = view(&died).journal_mark();
        assert_eq!(mark & 1, 1, "{what}");
        assert_eq!(mark, view(&died).header().commit.get(), "{what}");
        // However far the data stores got: here, garbage in what it touched.
        let mut torn = died.clone();
        let data_word = view(&died).header().data_offset.get() as usize / 4;
        torn[data_word + inside.start..data_word + inside.end].fill(0xEEEE_EEEE);
        for mut state in [died, torn] {
            let r = open(&mut state);
            let report = r.recover();
            assert_eq!(report.variables, touched, "{what}");
            assert_eq!(report.rolled_back, touched, "{what}");
            assert!(report.commit && report.generation > generation, "{what}");
            let after = data(&r);
            // Every variable as before; padding is not journaled.
            for var in schema().variables() {
                assert_eq!(after[var.range()], before[var.range()], "{what} {var:?}");
            }
            assert_eq!(r.get::<[u32; 16]>(ARR), Ok([5; 16]), "{what}");
            assert_eq!(view(&copy_of(&r)).journal_mark(), 0, "{what}");
            assert_eq!(
                r.recover(),
                Recovery {
                    generation: report.generation,
                    ..Recovery::default()
                }
            );
        }
    }
}

#[test]
fn a_commit_past_its_commit_point_stands() {
    for (what, commit) in commits() {
        let mut mem = memory(true);
        let r = open(&mut mem);
        committed(&r);
        let (touched, _) = commit(&r, &mut || ());
        let after = data(&r);
        // Dead between the mark's clearing and the counters going even.
        sync::write_begin(r.commit_counter());
        for i in 0..5 {
            let seq = r.seq_word(VarId(i)).unwrap();
            if seq.load(Ordering::Relaxed) > 2 {
                sync::write_begin(seq);
            }
        }
        let report = r.recover();
        assert_eq!(
            (report.variables, report.rolled_back),
            (touched, 0),
            "{what}"
        );
        assert_eq!(data(&r), after, "{what}");
    }
}

#[test]
fn a_commit_that_dies_before_marking_the_journal_changed_nothing() {
    let mut mem = memory(true);
    let r = open(&mut mem);
    committed(&r);
    let before = data(&r);
    // Counters odd, the journal half filled with something else, no mark.
    sync::write_begin(r.commit_counter());
    sync::write_begin(r.seq_word(ARR).unwrap());
    sync::store_bytes(r.journal, 8, &[0x11; 32]).unwrap();
    let report = r.recover();
    assert_eq!((report.variables, report.rolled_back), (1, 0));
    assert_eq!(data(&r), before);
}

#[test]
fn a_mark_without_a_commit_in_progress_is_cleared_and_ignored() {
    let mut mem = memory(true);
    let r = open(&mut mem);
    committed(&r);
    let before = data(&r);
    sync::store_bytes(r.journal, 0, &[0x11; 64]).unwrap();
    r.mark
        .store(r.commit.load(Ordering::Relaxed) - 1, Ordering::Relaxed);
    assert!(!r.recover().repaired());
    assert_eq!(data(&r), before);
    assert_eq!(r.mark.load(Ordering::Relaxed), 0);
}

#[test]
fn a_region_without_a_journal_keeps_what_was_stored() {
    let mut mem = memory(false);
    let r = open(&mut mem);
    assert!(!r.is_journaled());
    committed(&r);
    let mut died = Vec::new();
    r.write_many_then(&[(ARR, bytemuck::cast_slice(&[9u32; 16]))], || {
        died = copy_of(&r);
    })
    .unwrap();
    assert_eq!(view(&died).journal_mark(), 0);
    let r = open(&mut died);
    let report = r.recover();
    assert_eq!((report.variables, report.rolled_back), (1, 0));
    assert_eq!(r.get::<[u32; 16]>(ARR), Ok([9; 16]));
}

#[test]
fn journaled_commits_read_back_as_unjournaled_ones() {
    let (mut plain, mut journaled) = (memory(false), memory(true));
    let (p, j) = (open(&mut plain), open(&mut journaled));
    assert!(j.is_journaled());
    for r in [&p, &j] {
        committed(r);
        for (_, commit) in commits() {
            commit(r, &mut || ());
        }
    }
    assert_eq!(data(&p), data(&j));
    assert_eq!(p.generation(), j.generation());
    assert_eq!(view(&journaled).journal_mark(), 0);
}
