use super::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::format;

static TELEMETRY: SchemaBuf<3> = SchemaBuilder::new()
    .var("uptime_ms", Kind::U64, 1)
    .var("temperature", Kind::F32, 1)
    .var("setpoint", Kind::F32, 1)
    .writable()
    .build();

fn var(name: &str, kind: Kind, count: u32, offset: u32) -> Variable {
    Variable::new(Name::new(name).unwrap(), kind, count, offset)
}

#[test]
fn builder_places_like_repr_c() {
    let buf = SchemaBuilder::<4>::new()
        .var("a", Kind::U8, 1)
        .var("b", Kind::U32, 1)
        .var("c", Kind::U16, 3)
        .var("d", Kind::F64, 1)
        .build();
    let s = buf.as_schema();
    let offsets: [u32; 4] = core::array::from_fn(|i| s.variables()[i].offset);
    assert_eq!(offsets, [0, 4, 8, 16]);
    assert_eq!(s.data_len(), 24);
}

#[test]
fn builder_reports_errors() {
    let dup = SchemaBuilder::<2>::new()
        .var("x", Kind::U8, 1)
        .var("x", Kind::U8, 1)
        .try_build();
    assert_eq!(dup.err(), Some(SchemaError::DuplicateName));
    let full = SchemaBuilder::<1>::new()
        .var("x", Kind::U8, 1)
        .var("y", Kind::U8, 1)
        .try_build();
    assert_eq!(full.err(), Some(SchemaError::TooManyVariables));
    let zero = SchemaBuilder::<1>::new().var("x", Kind::U8, 0).try_build();
    assert_eq!(zero.err(), Some(SchemaError::ZeroCount));
    let name = SchemaBuilder::<1>::new()
        .var("a b", Kind::U8, 1)
        .try_build();
    assert_eq!(name.err(), Some(SchemaError::Name(NameError::InvalidByte)));
    let huge = SchemaBuilder::<2>::new()
        .var("a", Kind::U64, u32::MAX / 8)
        .var("b", Kind::U64, 2)
        .try_build();
    assert_eq!(huge.err(), Some(SchemaError::TooLarge));
}

#[test]
fn find_uses_the_name_index() {
    let s = TELEMETRY.as_schema();
    assert_eq!(s.name_order(), &[2, 1, 0]);
    assert_eq!(s.find("uptime_ms"), Some(VarId(0)));
    assert_eq!(s.find("temperature"), Some(VarId(1)));
    assert_eq!(s.find("setpoint"), Some(VarId(2)));
    assert_eq!(s.find("nope"), None);
    assert_eq!(s.find(""), None);
    assert!(s.get(VarId(2)).unwrap().writable);
    assert!(!s.get(VarId(0)).unwrap().writable);
}

#[test]
fn new_checked_rejects_each_problem() {
    let ok = [var("a", Kind::U32, 1, 0), var("b", Kind::U8, 2, 4)];
    assert!(Schema::new_checked(&ok, &[0, 1]).is_ok());
    assert_eq!(
        Schema::new_checked(&ok, &[1, 0]),
        Err(SchemaError::BadNameIndex)
    );
    assert_eq!(
        Schema::new_checked(&ok, &[0, 0]),
        Err(SchemaError::DuplicateName)
    );
    assert_eq!(
        Schema::new_checked(&ok, &[0, 2]),
        Err(SchemaError::BadNameIndex)
    );
    assert_eq!(
        Schema::new_checked(&ok, &[0]),
        Err(SchemaError::BadNameIndex)
    );
    let overlap = [var("a", Kind::U32, 1, 0), var("b", Kind::U8, 1, 3)];
    assert_eq!(
        Schema::new_checked(&overlap, &[0, 1]),
        Err(SchemaError::Overlap)
    );
    let unaligned = [var("a", Kind::U32, 1, 2)];
    assert_eq!(
        Schema::new_checked(&unaligned, &[0]),
        Err(SchemaError::Misaligned)
    );
    let zero = [var("a", Kind::U32, 0, 0)];
    assert_eq!(
        Schema::new_checked(&zero, &[0]),
        Err(SchemaError::ZeroCount)
    );
    let past = [var("a", Kind::U8, 2, u32::MAX - 1)];
    assert_eq!(Schema::new_checked(&past, &[0]), Err(SchemaError::TooLarge));
    let mut index = [0u32; 2];
    let dup = [var("a", Kind::U8, 1, 0), var("a", Kind::U8, 1, 1)];
    assert_eq!(
        name_index(&dup, &mut index),
        Err(SchemaError::DuplicateName)
    );
}

/// The vectors of `spec/region-layout.md`.
#[test]
fn fingerprint_vectors() {
    assert_eq!(Schema::EMPTY.fingerprint(), 0xf581_b805_c597_e22a);
    assert_eq!(TELEMETRY.as_schema().fingerprint(), 0xb112_c30a_e4e1_ea2a);
    let buf = SchemaBuilder::<2>::new()
        .var("pos", Kind::F32, 3)
        .var("flags", Kind::Bytes, 5)
        .build();
    assert_eq!(buf.as_schema().fingerprint(), 0x2980_ace5_78b4_c7e4);
}

#[test]
fn fingerprint_ignores_writable_but_not_layout() {
    let base = [var("a", Kind::U32, 1, 0)];
    let mut writable = base;
    writable[0].writable = true;
    let moved = [var("a", Kind::U32, 1, 4)];
    let kind = [var("a", Kind::I32, 1, 0)];
    let fp = |v: &[Variable]| Schema::new_checked(v, &[0]).unwrap().fingerprint();
    assert_eq!(fp(&base), fp(&writable));
    assert_ne!(fp(&base), fp(&moved));
    assert_ne!(fp(&base), fp(&kind));
}

#[test]
fn overlapping_finds_touched_variables() {
    let buf = SchemaBuilder::<3>::new()
        .var("a", Kind::U32, 1)
        .var("b", Kind::U8, 1)
        .var("c", Kind::U64, 1)
        .build();
    let s = buf.as_schema();
    // a: 0..4, b: 4..5, padding 5..8, c: 8..16
    assert_eq!(s.overlapping(0..1), 0..1);
    assert_eq!(s.overlapping(3..5), 0..2);
    assert_eq!(s.overlapping(5..8), 2..2);
    assert_eq!(s.overlapping(6..9), 2..3);
    assert_eq!(s.overlapping(16..20), 3..3);
}

fn runner() -> TestRunner {
    TestRunner::new_with_rng(
        Config {
            cases: if cfg!(miri) { 4 } else { 128 },
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    )
}

#[test]
fn random_schemas_index_and_find() {
    let kinds = proptest::sample::select(Kind::ALL.to_vec());
    let strategy = proptest::collection::vec((kinds, 1u32..5), 0..24);
    runner()
        .run(&strategy, |spec| {
            let mut vars: [Variable; 24] = [var("x", Kind::U8, 1, 0); 24];
            let n = spec.len();
            for (i, (kind, count)) in spec.iter().enumerate() {
                let name = format!("v{}", (i * 7919) % 101);
                vars[i] = var(&name, *kind, *count, 0);
            }
            // Names from a permutation-ish map may collide: make them unique.
            for (i, v) in vars.iter_mut().enumerate().take(n) {
                v.name = Name::new(&format!("{}_{i}", v.name)).unwrap();
            }
            let end = place(&mut vars[..n]).unwrap();
            let mut index = [0u32; 24];
            name_index(&vars[..n], &mut index[..n]).unwrap();
            let s = Schema::new_checked(&vars[..n], &index[..n]).unwrap();
            prop_assert_eq!(s.data_len(), end);
            for (i, v) in s.variables().iter().enumerate() {
                prop_assert_eq!(s.find(v.name.as_str()), Some(VarId(i as u32)));
                prop_assert_eq!(v.offset as usize % v.kind.size(), 0);
            }
            Ok(())
        })
        .unwrap();
}
