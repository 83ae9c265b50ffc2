use super::*;
use crate::layout::{RegionView, init, required_len};
use crate::schema::{Name, SchemaBuf, SchemaBuilder, name_index, place};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::vec;
use std::vec::Vec;

static ALL_KINDS: SchemaBuf<13> = SchemaBuilder::new()
    .var("u8", Kind::U8, 1)
    .var("u16", Kind::U16, 1)
    .var("u32", Kind::U32, 1)
    .var("u64", Kind::U64, 1)
    .var("i8", Kind::I8, 1)
    .var("i16", Kind::I16, 1)
    .var("i32", Kind::I32, 1)
    .var("i64", Kind::I64, 1)
    .var("f32", Kind::F32, 1)
    .var("f64", Kind::F64, 1)
    .var("bool", Kind::Bool, 1)
    .var("bytes", Kind::Bytes, 5)
    .var("vec3", Kind::F32, 3)
    .build();

/// A 4-byte aligned buffer holding a fresh region for `schema`.
fn memory(schema: &Schema<'_>) -> Vec<u32> {
    let len = required_len(schema).unwrap();
    let mut words = vec![0u32; len / 4];
    init(bytemuck::cast_slice_mut(&mut words), schema, 9).unwrap();
    words
}

#[test]
fn typed_round_trip_for_every_kind() {
    let schema = ALL_KINDS.as_schema();
    let mut mem = memory(&schema);
    let r = Region::from_bytes(bytemuck::cast_slice_mut(&mut mem), schema).unwrap();
    r.set_by_name("u8", 0xABu8).unwrap();
    r.set_by_name("u16", 0xABCDu16).unwrap();
    r.set_by_name("u32", 0xDEAD_BEEFu32).unwrap();
    r.set_by_name("u64", u64::MAX - 1).unwrap();
    r.set_by_name("i8", -5i8).unwrap();
    r.set_by_name("i16", -500i16).unwrap();
    r.set_by_name("i32", i32::MIN).unwrap();
    r.set_by_name("i64", -1i64).unwrap();
    r.set_by_name("f32", 1.5f32).unwrap();
    r.set_by_name("f64", -2.25f64).unwrap();
    r.set_by_name("bool", true).unwrap();
    r.set_by_name("bytes", *b"hello").unwrap();
    let last = r.set_by_name("vec3", [1.0f32, 2.0, 3.0]).unwrap();
    assert_eq!(last, 13);
    assert_eq!(r.generation(), Ok(13));
    assert_eq!(r.get_by_name::<u8>("u8"), Ok(0xAB));
    assert_eq!(r.get_by_name::<u16>("u16"), Ok(0xABCD));
    assert_eq!(r.get_by_name::<u32>("u32"), Ok(0xDEAD_BEEF));
    assert_eq!(r.get_by_name::<u64>("u64"), Ok(u64::MAX - 1));
    assert_eq!(r.get_by_name::<i8>("i8"), Ok(-5));
    assert_eq!(r.get_by_name::<i16>("i16"), Ok(-500));
    assert_eq!(r.get_by_name::<i32>("i32"), Ok(i32::MIN));
    assert_eq!(r.get_by_name::<i64>("i64"), Ok(-1));
    assert_eq!(r.get_by_name::<f32>("f32"), Ok(1.5));
    assert_eq!(r.get_by_name::<f64>("f64"), Ok(-2.25));
    assert_eq!(r.get_by_name::<bool>("bool"), Ok(true));
    assert_eq!(r.get_by_name::<[u8; 5]>("bytes"), Ok(*b"hello"));
    assert_eq!(r.get_by_name::<[f32; 3]>("vec3"), Ok([1.0, 2.0, 3.0]));
    // The bytes are little-endian where the layout says.
    let bytes: &[u8] = bytemuck::cast_slice(&mem);
    let view = RegionView::new_checked(bytes).unwrap();
    assert_eq!(
        view.value_bytes(VarId(2)),
        Some(&[0xEF, 0xBE, 0xAD, 0xDE][..])
    );
    assert_eq!(view.generation(), 13);
    assert_eq!(view.seq(VarId(0)), Some(2));
}

#[test]
fn typed_access_errors() {
    let schema = ALL_KINDS.as_schema();
    let mut mem = memory(&schema);
    let r = Region::from_bytes(bytemuck::cast_slice_mut(&mut mem), schema).unwrap();
    assert_eq!(
        r.get_by_name::<u16>("u32"),
        Err(AccessError::WrongKind {
            expected: Kind::U32,
            found: Kind::U16
        })
    );
    assert_eq!(
        r.get_by_name::<[f32; 2]>("vec3"),
        Err(AccessError::WrongLength {
            expected: 3,
            found: 2
        })
    );
    assert_eq!(
        r.get_by_name::<u8>("missing"),
        Err(AccessError::UnknownVariable)
    );
    assert_eq!(r.set(VarId(99), 1u8), Err(AccessError::UnknownVariable));
    assert_eq!(
        r.write(VarId(0), &[1, 2]),
        Err(AccessError::WrongLength {
            expected: 1,
            found: 2
        })
    );
    // A bool byte other than 0 or 1 is reported, not guessed.
    let (bool_id, _) = schema.lookup("bool").unwrap();
    r.write(bool_id, &[2]).unwrap();
    assert_eq!(r.get::<bool>(bool_id), Err(AccessError::InvalidValue));
    // Nothing was written by the failed calls: one commit so far.
    assert_eq!(r.generation(), Ok(1));
}

#[test]
fn write_many_commits_once_and_moves_only_touched_counters() {
    let schema = ALL_KINDS.as_schema();
    let mut mem = memory(&schema);
    let r = Region::from_bytes(bytemuck::cast_slice_mut(&mut mem), schema).unwrap();
    let g = r
        .write_many(&[(VarId(0), &[7]), (VarId(2), &[1, 2, 3, 4])])
        .unwrap();
    assert_eq!(g, 1);
    assert_eq!(r.seq(VarId(0)), Some(2));
    assert_eq!(r.seq(VarId(1)), Some(0));
    assert_eq!(r.seq(VarId(2)), Some(2));
    let mut a = [0u8; 1];
    let mut c = [0u8; 4];
    r.read_many(&[VarId(0), VarId(2)], &mut [&mut a, &mut c])
        .unwrap();
    assert_eq!((a, c), ([7], [1, 2, 3, 4]));
    assert_eq!(r.commit_counter().load(Ordering::Relaxed), 2);
    assert_eq!(
        r.read_many(&[VarId(0)], &mut [&mut a, &mut c]),
        Err(AccessError::TooMany)
    );
}

#[test]
fn write_ranges_moves_overlapping_counters_and_takes_a_generation() {
    let schema = ALL_KINDS.as_schema();
    let mut mem = memory(&schema);
    let r = Region::from_bytes(bytemuck::cast_slice_mut(&mut mem), schema).unwrap();
    // u16 is at 2..4, u32 at 4..8: one range across both.
    let g = r.write_ranges(&[(3, &[0xAA, 0xBB])], Some(500)).unwrap();
    assert_eq!(g, 500);
    assert_eq!(r.generation(), Ok(500));
    assert_eq!(
        (r.seq(VarId(1)), r.seq(VarId(2)), r.seq(VarId(3))),
        (Some(2), Some(2), Some(0))
    );
    assert_eq!(r.get::<u16>(VarId(1)), Ok(0xAA00));
    assert_eq!(r.get::<u32>(VarId(2)), Ok(0xBB));
    assert_eq!(
        r.write_ranges(&[(127, &[1, 2])], None),
        Err(AccessError::OutOfBounds)
    );
    assert_eq!(r.write_ranges(&[(0, &[1])], None), Ok(501));
    let mut snap = [0u8; 128];
    assert_eq!(r.snapshot(&mut snap), Ok(501));
    assert_eq!(&snap[..5], &[1, 0, 0, 0xAA, 0xBB]);
    let mut part = [0u8; 2];
    assert_eq!(r.snapshot_range(3, &mut part), Ok(501));
    assert_eq!(part, [0xAA, 0xBB]);
    assert_eq!(
        r.snapshot_range(127, &mut part),
        Err(AccessError::OutOfBounds)
    );
}

#[test]
fn a_write_in_progress_is_busy_and_recover_repairs_it() {
    let schema = ALL_KINDS.as_schema();
    let mut mem = memory(&schema);
    let r = Region::from_bytes(bytemuck::cast_slice_mut(&mut mem), schema).unwrap();
    r.set(VarId(0), 1u8).unwrap();
    // A writer dies between its first and last step.
    sync::write_begin(r.commit_counter());
    sync::write_begin(r.seq_word(VarId(0)).unwrap());
    let mut out = [0u8; 1];
    assert_eq!(r.try_read(VarId(0), &mut out), Err(AccessError::Busy));
    assert_eq!(r.read(VarId(0), &mut out), Err(AccessError::Busy));
    assert_eq!(r.generation(), Err(AccessError::Busy));
    // Other variables stay readable.
    assert_eq!(r.get::<u16>(VarId(1)), Ok(0));
    let report = r.recover();
    assert!(report.repaired());
    assert_eq!(
        (report.variables, report.commit, report.generation),
        (1, true, 2)
    );
    assert_eq!(r.get::<u8>(VarId(0)), Ok(1));
    assert_eq!(r.generation(), Ok(2));
    assert_eq!(
        r.recover(),
        Recovery {
            variables: 0,
            rolled_back: 0,
            commit: false,
            generation: 2
        }
    );
}

#[test]
fn opening_checks_alignment_and_schema() {
    let schema = ALL_KINDS.as_schema();
    let mut mem = memory(&schema);
    let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut mem);
    let mut vars = [schema.variables()[0]; 13];
    let mut index = [0u32; 13];
    {
        let words = <[AtomicU32] as zerocopy::FromBytes>::mut_from_bytes(&mut bytes[..]).unwrap();
        let copy = Region::read_schema(words, &mut vars, &mut index).unwrap();
        assert_eq!(copy, schema);
    }
    let other = SchemaBuilder::<1>::new().var("u8", Kind::U8, 1).build();
    assert_eq!(
        Region::from_bytes(bytes, other.as_schema()).err(),
        Some(LayoutError::SchemaMismatch)
    );
    let mut shifted = vec![0u32; mem.len() + 1];
    let raw: &mut [u8] = bytemuck::cast_slice_mut(&mut shifted);
    raw[1..1 + mem.len() * 4].copy_from_slice(bytemuck::cast_slice(&mem));
    assert_eq!(
        Region::from_bytes(&mut raw[1..], schema).err(),
        Some(LayoutError::Unaligned)
    );
    let mut writable = schema.variables().to_vec();
    writable[0].writable = true;
    let by_name = schema.name_order();
    let differs = Schema::new_checked(&writable, by_name).unwrap();
    assert_eq!(
        Region::from_bytes(bytemuck::cast_slice_mut(&mut mem), differs).err(),
        Some(LayoutError::SchemaMismatch)
    );
}

#[test]
fn writer_word_round_trips() {
    let schema = ALL_KINDS.as_schema();
    let mut mem = memory(&schema);
    let r = Region::from_bytes(bytemuck::cast_slice_mut(&mut mem), schema).unwrap();
    assert_eq!(r.writer_id(), 0);
    r.set_writer_id(4242);
    assert_eq!(r.writer_id(), 4242);
    assert_eq!(r.instance(), 9);
    assert_eq!(r.data_len(), 128);
}

/// Random schemas laid out, written through the live view and read back
/// through both views.
#[test]
fn random_layouts_read_back_every_variable() {
    let kinds = proptest::sample::select(Kind::ALL.to_vec());
    let strategy = proptest::collection::vec((kinds, 1u32..9, any::<u64>()), 1..20);
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: if cfg!(miri) { 3 } else { 64 },
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[42; 32]),
    );
    runner
        .run(&strategy, |spec| {
            let mut vars: Vec<Variable> = spec
                .iter()
                .enumerate()
                .map(|(i, (k, c, _))| {
                    Variable::new(Name::new(&std::format!("v{i}")).unwrap(), *k, *c, 0)
                })
                .collect();
            place(&mut vars).unwrap();
            let mut index = vec![0u32; vars.len()];
            name_index(&vars, &mut index).unwrap();
            let schema = Schema::new_checked(&vars, &index).unwrap();
            let mut mem = memory(&schema);
            let r = Region::from_bytes(bytemuck::cast_slice_mut(&mut mem), schema).unwrap();
            let values: Vec<Vec<u8>> = spec
                .iter()
                .zip(&vars)
                .map(|((kind, _, seed), v)| {
                    (0..v.len())
                        .map(|j| {
                            let b = (seed.rotate_left(j as u32) & 0xFF) as u8;
                            if *kind == Kind::Bool { b & 1 } else { b }
                        })
                        .collect()
                })
                .collect();
            for (i, val) in values.iter().enumerate() {
                r.write(VarId(i as u32), val).unwrap();
            }
            prop_assert_eq!(r.generation(), Ok(vars.len() as u64));
            for (i, val) in values.iter().enumerate() {
                let mut out = vec![0u8; val.len()];
                r.read(VarId(i as u32), &mut out).unwrap();
                prop_assert_eq!(&out, val);
            }
            let view = RegionView::new_checked(bytemuck::cast_slice(&mem)).unwrap();
            for (i, val) in values.iter().enumerate() {
                let name = std::format!("v{i}");
                prop_assert_eq!(view.find(&name), Some(VarId(i as u32)));
                prop_assert_eq!(view.value_bytes(VarId(i as u32)), Some(&val[..]));
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn init_in_atomic_words_matches_init_in_bytes() {
    let schema = ALL_KINDS.as_schema();
    let bytes_mem = memory(&schema);
    let words: Vec<AtomicU32> = (0..bytes_mem.len())
        .map(|_| AtomicU32::new(0xFFFF_FFFF))
        .collect();
    let r = Region::init(&words, schema, 9).unwrap();
    assert_eq!(r.generation(), Ok(0));
    let laid: Vec<u32> = words.iter().map(|w| w.load(Ordering::Relaxed)).collect();
    assert_eq!(laid, bytes_mem);
    // `init` trusts the layout it wrote; the validator finds the same one.
    let checked = Region::new_checked(&words, schema).unwrap();
    assert_eq!(r.geo, checked.geo);
    assert_eq!(
        (r.words.len(), r.data.len()),
        (checked.words.len(), checked.data.len())
    );
    let short = &words[..words.len() - 1];
    assert_eq!(
        Region::init(short, schema, 9).err(),
        Some(LayoutError::BufferTooSmall)
    );
}

#[test]
fn a_located_variable_reads_what_the_region_reads() {
    let schema = ALL_KINDS.as_schema();
    let mut mem = memory(&schema);
    let r = Region::from_bytes(bytemuck::cast_slice_mut(&mut mem), schema).unwrap();
    r.set_by_name("u64", 0x0102_0304_0506_0708u64).unwrap();
    r.set_by_name("bytes", *b"hello").unwrap();
    r.set_by_name("vec3", [1.0f32, 2.0, 3.0]).unwrap();
    for i in 0..schema.len() {
        let id = VarId(u32::try_from(i).unwrap());
        let var = r.var(id).unwrap();
        let len = usize::try_from(schema.get(id).unwrap().len()).unwrap();
        assert_eq!(var.len(), len);
        let (mut a, mut b) = (vec![0u8; len], vec![0xFFu8; len]);
        r.read(id, &mut a).unwrap();
        var.read(&mut b).unwrap();
        assert_eq!(a, b, "variable {i}");
        var.try_read(&mut b).unwrap();
        assert_eq!(a, b, "variable {i}");
    }
    // Bytes at an unaligned offset come out whole.
    let bytes = r.var(schema.find("bytes").unwrap()).unwrap();
    let mut out = [0u8; 5];
    bytes.read(&mut out).unwrap();
    assert_eq!(&out, b"hello");
    // A later write shows through the same VarRef.
    let vec3 = r.var(schema.find("vec3").unwrap()).unwrap();
    r.set_by_name("vec3", [4.0f32, 5.0, 6.0]).unwrap();
    let mut out = [0u8; 12];
    vec3.read(&mut out).unwrap();
    assert_eq!(out, bytemuck::cast::<[f32; 3], [u8; 12]>([4.0, 5.0, 6.0]));
}

#[test]
fn a_located_variable_checks_its_length_and_sees_a_write_in_progress() {
    let schema = ALL_KINDS.as_schema();
    let mut mem = memory(&schema);
    let r = Region::from_bytes(bytemuck::cast_slice_mut(&mut mem), schema).unwrap();
    assert_eq!(
        r.var(VarId(u32::try_from(schema.len()).unwrap())).err(),
        Some(AccessError::UnknownVariable)
    );
    let u16_var = r.var(VarId(1)).unwrap();
    let mut wrong = [0u8; 4];
    assert_eq!(
        u16_var.read(&mut wrong),
        Err(AccessError::WrongLength {
            expected: 2,
            found: 4
        })
    );
    let u8_var = r.var(VarId(0)).unwrap();
    sync::write_begin(r.seq_word(VarId(0)).unwrap());
    let mut out = [0u8; 1];
    assert_eq!(u8_var.try_read(&mut out), Err(AccessError::Busy));
    assert_eq!(u8_var.read(&mut out), Err(AccessError::Busy));
    // Other variables stay readable.
    let mut two = [0u8; 2];
    u16_var.read(&mut two).unwrap();
}

#[test]
fn word_copies_keep_byte_order_for_every_word_count() {
    // Little-endian words 0x03020100, 0x07060504, ...: the bytes 0, 1, 2, ...
    // in order whatever the pairing into 8-byte stores.
    let words: Vec<AtomicU32> = (0u32..5)
        .map(|i| AtomicU32::new(u32::from_le_bytes([0, 1, 2, 3].map(|b| b + 4 * i as u8))))
        .collect();
    for count in 1..=words.len() {
        let mut out = vec![0xffu8; count * WORD];
        copy_words(&words[..count], &mut out);
        let expected: Vec<u8> = (0..count * WORD).map(|b| b as u8).collect();
        assert_eq!(out, expected, "{count} words");
    }
}

#[test]
fn reads_of_odd_word_counts_see_every_word() {
    // 3 and 5 words: a pair copy must not drop the last word.
    static ODD: SchemaBuf<3> = SchemaBuilder::new()
        .var("three", Kind::U32, 3)
        .var("five", Kind::F32, 5)
        .var("one", Kind::I32, 1)
        .build();
    let schema = ODD.as_schema();
    let mut mem = memory(&schema);
    let region = Region::from_bytes(bytemuck::cast_slice_mut(&mut mem), schema).unwrap();
    let (three, five, one) = (VarId(0), VarId(1), VarId(2));
    region.set(three, [1u32, 2, 3]).unwrap();
    region.set(five, [0.5f32, 1.5, 2.5, 3.5, 4.5]).unwrap();
    region.set(one, -7i32).unwrap();
    assert_eq!(region.get::<[u32; 3]>(three).unwrap(), [1, 2, 3]);
    assert_eq!(
        region.get::<[f32; 5]>(five).unwrap(),
        [0.5, 1.5, 2.5, 3.5, 4.5]
    );
    assert_eq!(region.get::<i32>(one).unwrap(), -7);
    let mut out = [0u8; 12];
    region.var(three).unwrap().read(&mut out).unwrap();
    assert_eq!(out, bytemuck::cast::<[u32; 3], [u8; 12]>([1, 2, 3]));
}

/// A read facing a write in progress gives up after the region's budget of
/// attempts ([`Region::with_read_tries`]) and hands `Busy` back to its
/// caller, which may then ask the writer to pause; without a budget, after
/// [`SPIN_LIMIT`]. Counted in the spins between attempts.
#[test]
fn a_read_hands_back_busy_after_its_budget_of_attempts() {
    use crate::sync::SPINS;
    let schema = ALL_KINDS.as_schema();
    let mut mem = memory(&schema);
    let r = Region::from_bytes(bytemuck::cast_slice_mut(&mut mem), schema).unwrap();
    let budget = r.with_read_tries(5);
    assert_eq!(budget.read_tries(), 5);
    assert_eq!(r.with_read_tries(0).read_tries(), 1);
    let id = schema.find("u64").unwrap();
    let spins = |read: &dyn Fn() -> bool| {
        SPINS.with(|s| s.set(0));
        assert!(read(), "the read was not busy");
        SPINS.with(core::cell::Cell::get)
    };
    r.write_many_then(&[(id, &7u64.to_le_bytes())], || {
        let busy = |e: Result<(), AccessError>| e == Err(AccessError::Busy);
        // A read by id: the first attempt, then four more after a spin each.
        assert_eq!(spins(&|| busy(budget.read(id, &mut [0u8; 8]))), 4);
        assert_eq!(
            spins(&|| budget.get::<u64>(id) == Err(AccessError::Busy)),
            4
        );
        let var = budget.var(id).unwrap();
        assert_eq!(spins(&|| busy(var.read(&mut [0u8; 8]))), 4);
        // Reads under the commit counter spin after every failed attempt.
        let data_len = r.data_len();
        assert_eq!(
            spins(&|| budget.snapshot(&mut vec![0u8; data_len]).is_err()),
            5
        );
        assert_eq!(
            spins(&|| busy(budget.read_many(&[id], &mut [&mut [0u8; 8]]))),
            5
        );
        assert_eq!(spins(&|| busy(r.read(id, &mut [0u8; 8]))), SPIN_LIMIT - 1);
    })
    .unwrap();
    assert_eq!(r.get::<u64>(id), Ok(7));
}
