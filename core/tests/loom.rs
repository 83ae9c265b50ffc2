//! A loom model of the region seqlock: one writer and one reader. Readers
//! only load, so a second reader adds interleavings (and minutes to the
//! run) without adding a case: each reader meets the writer alone.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p memwire --test loom --release`.
#![cfg(loom)]
#![allow(missing_docs)]

use loom::sync::atomic::AtomicU32;
use loom::thread;
use memwire::Region;
use memwire::layout::{init, required_len};
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
    let words: Vec<AtomicU32> = bytes
        .chunks_exact(4)
        .map(|w| AtomicU32::new(u32::from_le_bytes(w.try_into().unwrap())))
        .collect();
    let words: &'static [AtomicU32] = Box::leak(words.into_boxed_slice());
    Region::new_checked(words, schema).unwrap()
}

/// A value is `[k; 8]` for the k-th write: a mix of two writes is torn.
fn whole(v: &[u8; 8]) -> Option<u8> {
    v.iter().all(|&b| b == v[0]).then_some(v[0])
}

#[test]
fn no_torn_read_and_no_missed_commit() {
    loom::model(|| {
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
