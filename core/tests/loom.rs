//! A loom model of the region seqlock: one writer and one reader. Readers
//! only load, so a second reader adds interleavings (and minutes to the
//! run) without adding a case: each reader meets the writer alone. The
//! writer commits with and without the undo journal, and a recovery rolls
//! a dead writer's commit back while a reader reads.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p memwire --test loom --release`.
#![cfg(loom)]
#![allow(missing_docs)]

use loom::sync::atomic::AtomicU32;
use loom::thread;
use memwire::Region;
use memwire::layout::{
    COMMIT_OFFSET, ENTRY_LEN, ENTRY_SEQ_OFFSET, GENERATION_LO_OFFSET, HEADER_LEN, JOURNAL_OFFSET,
    RegionView, init, init_journaled, journaled_len, required_len,
};
use memwire::region::AccessError;
use memwire::schema::{Kind, SchemaBuf, SchemaBuilder, VarId};

static PAIR: SchemaBuf<2> = SchemaBuilder::new()
    .var("a", Kind::Bytes, 8)
    .var("b", Kind::Bytes, 8)
    .build();

/// A fresh region in loom atomics, leaked so that threads can share it.
fn region() -> Region<'static> {
    let schema = PAIR.as_schema();
    let mut bytes = vec![0u8; required_len(&schema).unwrap()];
    init(&mut bytes, &schema, 1).unwrap();
    leak(
        bytes
            .chunks_exact(4)
            .map(|w| u32::from_le_bytes(w.try_into().unwrap())),
    )
}

/// A fresh region with an undo journal.
fn journaled() -> Region<'static> {
    let schema = PAIR.as_schema();
    let mut bytes = vec![0u8; journaled_len(&schema).unwrap()];
    init_journaled(&mut bytes, &schema, 1).unwrap();
    leak(
        bytes
            .chunks_exact(4)
            .map(|w| u32::from_le_bytes(w.try_into().unwrap())),
    )
}

/// A region in fresh loom atomics holding `words`.
fn leak(words: impl Iterator<Item = u32>) -> Region<'static> {
    let words: Vec<AtomicU32> = words.map(AtomicU32::new).collect();
    let words: &'static [AtomicU32] = Box::leak(words.into_boxed_slice());
    Region::new_checked(words, PAIR.as_schema()).unwrap()
}

/// A value is `[k; 8]` for the k-th write: a mix of two writes is torn.
fn whole(v: &[u8; 8]) -> Option<u8> {
    v.iter().all(|&b| b == v[0]).then_some(v[0])
}

#[test]
fn no_torn_read_and_no_missed_commit() {
    commit_against_a_reader(region);
}

#[test]
fn no_torn_read_and_no_missed_commit_with_a_journal() {
    commit_against_a_reader(journaled);
}

fn commit_against_a_reader(region: fn() -> Region<'static>) {
    loom::model(move || {
        let r = region();
        let writer = thread::spawn(move || {
            r.write_many(&[(VarId(0), &[1; 8]), (VarId(1), &[1; 8])])
                .unwrap();
        });
        let reader = thread::spawn(move || {
            let (mut a, mut b) = ([0u8; 8], [0u8; 8]);
            match r.read_many(&[VarId(0), VarId(1)], &mut [&mut a, &mut b]) {
                Ok(()) => {
                    let k = whole(&a).expect("torn read of a");
                    assert_eq!(whole(&b), Some(k), "a and b from different commits");
                }
                Err(AccessError::Busy) => {}
                Err(e) => panic!("{e}"),
            }
        });
        writer.join().unwrap();
        reader.join().unwrap();
        let mut a = [0u8; 8];
        r.read(VarId(0), &mut a).unwrap();
        assert_eq!(a, [1; 8], "a committed write was missed");
        assert_eq!(r.generation(), Ok(1));
    });
}

#[test]
fn single_variable_reads_are_never_torn() {
    loom::model(|| {
        let r = region();
        let writer = thread::spawn(move || {
            for k in 1..=2u8 {
                r.write(VarId(0), &[k; 8]).unwrap();
            }
        });
        let reader = thread::spawn(move || {
            let mut a = [0u8; 8];
            for _ in 0..2 {
                if r.try_read(VarId(0), &mut a).is_ok() {
                    assert!(whole(&a).is_some(), "torn read {a:?}");
                }
            }
        });
        writer.join().unwrap();
        reader.join().unwrap();
        let mut a = [0u8; 8];
        r.read(VarId(0), &mut a).unwrap();
        assert_eq!(a, [2; 8]);
    });
}

/// A journaled region as a writer leaves it when it dies between the data
/// stores and the commit point of its second commit, `a` and `b` from
/// `[1; 8]` to `[2; 8]`: counters odd, the journal marked and holding the
/// old bytes, the new bytes in the data area. (Laid out in plain bytes: the
/// commits themselves, in loom atomics, would exhaust the model's branches.)
fn died_mid_commit() -> Vec<u32> {
    let schema = PAIR.as_schema();
    let mut bytes = vec![0u8; journaled_len(&schema).unwrap()];
    init_journaled(&mut bytes, &schema, 1).unwrap();
    let data = RegionView::new_checked(&bytes)
        .unwrap()
        .header()
        .data_offset
        .get() as usize;
    let journal = data + 64;
    let mut put = |at: usize, value: &[u8]| bytes[at..at + value.len()].copy_from_slice(value);
    put(COMMIT_OFFSET, &3u32.to_le_bytes());
    put(JOURNAL_OFFSET, &3u32.to_le_bytes());
    put(GENERATION_LO_OFFSET, &2u32.to_le_bytes());
    for i in 0..2 {
        put(
            HEADER_LEN + i * ENTRY_LEN + ENTRY_SEQ_OFFSET,
            &3u32.to_le_bytes(),
        );
        put(data + 8 * i, &[2; 8]);
        put(journal + 8 * i, &[1; 8]);
    }
    bytes
        .chunks_exact(4)
        .map(|w| u32::from_le_bytes(w.try_into().unwrap()))
        .collect()
}

#[test]
fn a_recovery_rolls_back_while_a_reader_reads() {
    let died = died_mid_commit();
    loom::model(move || {
        let r = leak(died.iter().copied());
        let recovering = thread::spawn(move || r.recover());
        let reader = thread::spawn(move || {
            let (mut a, mut b) = ([0u8; 8], [0u8; 8]);
            match r.read_many(&[VarId(0), VarId(1)], &mut [&mut a, &mut b]) {
                Ok(()) => {
                    assert_eq!(whole(&a), Some(1), "a not rolled back: {a:?}");
                    assert_eq!(whole(&b), Some(1), "b not rolled back: {b:?}");
                }
                Err(AccessError::Busy) => {}
                Err(e) => panic!("{e}"),
            }
        });
        assert_eq!(recovering.join().unwrap().rolled_back, 2);
        reader.join().unwrap();
        let mut a = [0u8; 8];
        r.read(VarId(0), &mut a).unwrap();
        assert_eq!(a, [1; 8]);
    });
}
