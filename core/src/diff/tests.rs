//! Byte fixtures for the scan, the table and the mapping; the property tests
//! against a byte-by-byte reference are in `props`.

extern crate std;

use std::format;
use std::vec;
use std::vec::Vec;

use super::*;
use crate::schema::{Kind, Name, SchemaBuf, SchemaBuilder, Variable, name_index};

mod props;

/// The ranges a scan must report, byte by byte: maximal runs of differing
/// bytes, merged when fewer than `gap` bytes (at least 1) separate them.
pub(super) fn reference(a: &[u8], b: &[u8], gap: usize) -> Vec<ByteRange> {
    let mut out: Vec<ByteRange> = Vec::new();
    let mut i = 0;
    while i < a.len() {
        if a[i] == b[i] {
            i += 1;
            continue;
        }
        let start = i;
        while i < a.len() && a[i] != b[i] {
            i += 1;
        }
        match out.last_mut() {
            Some(last) if start - last.end < gap.max(1) => last.end = i,
            _ => out.push(ByteRange::new(start, i)),
        }
    }
    out
}

/// The ranges a scan by cost must report, byte by byte: maximal runs of
/// differing bytes, each merged into the range before it when sending the
/// bytes between costs less than its gap and length varints
/// (`spec/wire-format.md`, `RangeEntry`).
pub(super) fn reference_by_cost(a: &[u8], b: &[u8]) -> Vec<ByteRange> {
    let leb = |v: usize| (usize::BITS - (v | 1).leading_zeros()).div_ceil(7) as isize;
    let mut out: Vec<ByteRange> = Vec::new();
    for run in reference(a, b, 1) {
        match out.last_mut() {
            Some(last) => {
                let gap = run.start - last.end;
                let merged = gap as isize + leb(run.end - last.start);
                let apart = leb(last.len()) + leb(gap) + leb(run.len());
                if merged < apart {
                    last.end = run.end;
                } else {
                    out.push(run);
                }
            }
            None => out.push(run),
        }
    }
    out
}

/// The chunks of size `chunk` that hold a differing byte.
pub(super) fn reference_chunks(a: &[u8], b: &[u8], chunk: usize) -> Vec<bool> {
    a.chunks(chunk)
        .zip(b.chunks(chunk))
        .map(|(x, y)| x != y)
        .collect()
}

fn differs() -> impl Iterator<Item = Differ> {
    Path::available().map(|p| Differ::new().with_path(p).unwrap())
}

fn scan(d: &Differ, current: &[u8], shadow: &[u8]) -> Vec<ByteRange> {
    let mut out = vec![ByteRange::default(); current.len() / 2 + 1];
    let n = d.changes(current, shadow, &mut out).unwrap();
    out.truncate(n);
    out
}

#[test]
fn one_changed_byte_is_found_at_every_position_and_memory_alignment() {
    // The vector paths align their loads to the memory, not to the slice:
    // every start alignment, with the change before, at and after each
    // step and block edge.
    let len = if cfg!(miri) { 200 } else { 700 };
    let alignments = if cfg!(miri) { 3 } else { 64 };
    let memory: Vec<u8> = (0..len + 64).map(|i| (i * 7) as u8).collect();
    let mut other = memory.clone();
    for skew in 0..alignments {
        let shadow = &memory[skew..skew + len];
        let current = &mut other[skew..skew + len];
        // Under miri, only the bytes at and beside each 16-byte edge.
        for at in (0..len).filter(|at| !cfg!(miri) || matches!(at % 16, 0 | 1 | 15)) {
            current[at] ^= 0x80;
            for d in differs() {
                assert_eq!(
                    scan(&d, current, shadow),
                    [ByteRange::new(at, at + 1)],
                    "{:?}, start {skew} bytes into the buffer, change at {at}",
                    d.path()
                );
            }
            current[at] ^= 0x80;
        }
    }
}

#[test]
fn portable_and_best_are_available() {
    assert!(Path::Portable.is_available());
    assert!(Path::best().is_available());
    assert_eq!(Path::available().next(), Some(Path::Portable));
    #[cfg(target_arch = "x86_64")]
    assert!(Path::Sse2.is_available());
    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    assert_eq!(Path::best(), Path::Neon);
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    assert_eq!(Path::available().count(), 1);
    for p in Path::ALL {
        assert_eq!(
            Differ::new().with_path(p).is_some(),
            p.is_available(),
            "{p}"
        );
    }
}

#[test]
fn equal_and_empty_slices_have_no_changes() {
    for d in differs() {
        assert_eq!(scan(&d, &[], &[]), []);
        let a = [7u8; 1000];
        assert_eq!(scan(&d, &a, &a), [], "{}", d.path());
    }
}

#[test]
fn single_bytes_at_block_edges_are_exact() {
    let len = 300;
    for d in differs() {
        for at in [0, 1, 62, 63, 64, 65, 127, 128, 255, 256, 299] {
            let shadow = vec![0u8; len];
            let mut current = shadow.clone();
            current[at] = 0x80;
            assert_eq!(
                scan(&d, &current, &shadow),
                [ByteRange::new(at, at + 1)],
                "{} at {at}",
                d.path()
            );
        }
    }
}

#[test]
fn a_run_across_blocks_is_one_range() {
    for d in differs() {
        let shadow = [0u8; 256];
        let mut current = shadow;
        current[60..140].fill(1);
        assert_eq!(scan(&d, &current, &shadow), [ByteRange::new(60, 140)]);
        // A run ending exactly at a block edge, the next one starting there.
        let mut current = shadow;
        current[10..64].fill(1);
        current[64..70].fill(2);
        assert_eq!(scan(&d, &current, &shadow), [ByteRange::new(10, 70)]);
    }
}

#[test]
fn gaps_below_the_threshold_coalesce() {
    let shadow = [0u8; 128];
    let mut current = shadow;
    current[10] = 1;
    current[18] = 1; // 7 unchanged bytes between: merged with gap 8
    current[27] = 1; // 8 unchanged bytes between: a new range
    current[62] = 1;
    current[66] = 1; // across a block edge: merged
    for d in differs() {
        assert_eq!(
            scan(&d.with_gap(8), &current, &shadow),
            [
                ByteRange::new(10, 19),
                ByteRange::new(27, 28),
                ByteRange::new(62, 67)
            ]
        );
        assert_eq!(
            scan(&d.with_gap(9), &current, &shadow),
            [ByteRange::new(10, 28), ByteRange::new(62, 67)]
        );
        for gap in [0, 1] {
            assert_eq!(scan(&d.with_gap(gap), &current, &shadow).len(), 5);
        }
    }
}

/// Ranges merge when the unchanged bytes between cost less than the next
/// range's gap and length varints, as `RangeEntry` encodes them.
#[test]
fn ranges_merge_when_the_gap_costs_less_than_a_range() {
    let shadow = [0u8; 400];
    let mut current = shadow;
    // One byte between one-byte runs: 3 bytes merged (10..13) against 4
    // apart (1 + 1 + 1 for 10, then gap 1 + len 1 + 1 for 12).
    current[10] = 1;
    current[12] = 1;
    // Two bytes between: 4 bytes either way, kept apart.
    current[20] = 1;
    current[23] = 1;
    // Counters 4 bytes apart, low byte changed: 3 unchanged bytes cost more
    // than a 2-byte range header.
    for at in (40..56).step_by(4) {
        current[at] = 1;
    }
    // A 127-byte range: one more byte makes its length varint 2 bytes, so a
    // one-byte gap to a one-byte run costs 1 + 1 extra against 2 for a new
    // range: a tie, kept apart.
    current[100..227].fill(1);
    current[228] = 1;
    // A run across a block edge (256) is one run, merged over one byte.
    current[250..260].fill(1);
    current[261..263].fill(1);
    let expected = [
        ByteRange::new(10, 13),
        ByteRange::new(20, 21),
        ByteRange::new(23, 24),
        ByteRange::new(40, 41),
        ByteRange::new(44, 45),
        ByteRange::new(48, 49),
        ByteRange::new(52, 53),
        ByteRange::new(100, 227),
        ByteRange::new(228, 229),
        ByteRange::new(250, 263),
    ];
    for d in differs() {
        assert_eq!(scan(&d, &current, &shadow), expected, "{:?}", d.path());
    }
    assert_eq!(reference_by_cost(&current, &shadow), expected);
    assert_eq!(Differ::new().gap(), None);
    assert_eq!(Differ::new().with_gap(8).gap(), Some(8));
}

/// More ranges than the buffer holds: the neighbours cheapest to merge are
/// merged until they fit, and every changed byte stays covered.
#[test]
fn a_full_buffer_merges_the_cheapest_neighbours() {
    let shadow = [0u8; 1000];
    let mut current = shadow;
    for at in [5, 100, 300, 305, 900] {
        current[at] = 9;
    }
    for d in differs() {
        // Five ranges into three: 300 and 305 (4 bytes between) first, then
        // 5 and 100 (94 between) before 305 and 900 (594 between).
        let mut out = [ByteRange::default(); 3];
        assert_eq!(d.changes(&current, &shadow, &mut out), Ok(3));
        assert_eq!(
            out,
            [
                ByteRange::new(5, 101),
                ByteRange::new(300, 306),
                ByteRange::new(900, 901)
            ]
        );
        let mut one = [ByteRange::default(); 1];
        assert_eq!(d.changes(&current, &shadow, &mut one), Ok(1));
        assert_eq!(one, [ByteRange::new(5, 901)]);
        // Only a buffer with no room fails.
        assert_eq!(
            d.changes(&current, &shadow, &mut []),
            Err(DiffError::Overflow(Overflow {
                needed: 5,
                span: ByteRange::new(5, 901)
            }))
        );
    }
}

#[test]
fn making_room_merges_the_cheapest_pairs_wherever_they_are() {
    let mut out = [
        ByteRange::new(0, 1),
        ByteRange::new(50, 51),
        ByteRange::new(53, 54), // 2 bytes after 50..51: the cheapest
        ByteRange::new(200, 201),
    ];
    assert_eq!(crate::diff::cost::make_room(&mut out), 3);
    assert_eq!(
        out[..3],
        [
            ByteRange::new(0, 1),
            ByteRange::new(50, 54),
            ByteRange::new(200, 201)
        ]
    );
    // Eight ranges, the gaps 3, 40, 3, 200, 3, 40, 3: a quarter of the room
    // is made from the three cheapest (all costing 2), left to right, and
    // the far ones are left apart.
    let starts = [0, 4, 45, 49, 250, 254, 295, 299];
    let mut out = starts.map(|s| ByteRange::new(s, s + 1));
    assert_eq!(crate::diff::cost::make_room(&mut out), 6);
    assert_eq!(
        out[..6],
        [
            ByteRange::new(0, 5),
            ByteRange::new(45, 50),
            ByteRange::new(250, 251),
            ByteRange::new(254, 255),
            ByteRange::new(295, 296),
            ByteRange::new(299, 300)
        ]
    );
}

#[test]
fn update_copies_changes_even_on_overflow() {
    for d in differs() {
        let mut shadow = vec![0u8; 777];
        let mut current = shadow.clone();
        for at in (3..777).step_by(50) {
            current[at] = 1;
        }
        let err = d.update(&current, &mut shadow, &mut [], None).unwrap_err();
        assert!(
            matches!(err, DiffError::Overflow(Overflow { needed: 16, .. })),
            "{err:?}"
        );
        assert_eq!(shadow, current);
        assert_eq!(d.update(&current, &mut shadow, &mut [], None), Ok(0));
    }
}

#[test]
fn lengths_must_agree() {
    let d = Differ::portable();
    assert_eq!(
        d.changes(&[0; 3], &[0; 4], &mut []),
        Err(DiffError::LengthMismatch)
    );
    let mut table = [0u64; 2];
    let mut gens = Generations::new(&mut table, 100, 64).unwrap();
    let mut shadow = [0u8; 99];
    assert_eq!(
        d.update(&[0; 99], &mut shadow, &mut [], Some((&mut gens, 1))),
        Err(DiffError::TableMismatch)
    );
}

#[test]
fn update_stamps_changed_chunks() {
    let mut table = [0u64; 5];
    let mut gens = Generations::new(&mut table, 300, 64).unwrap();
    gens.reset(1);
    let mut shadow = [0u8; 300];
    let mut current = shadow;
    current[63] = 1;
    current[64] = 1;
    current[299] = 1;
    let mut out = [ByteRange::default(); 4];
    let n = Differ::new()
        .update(&current, &mut shadow, &mut out, Some((&mut gens, 5)))
        .unwrap();
    assert_eq!(
        &out[..n],
        [ByteRange::new(63, 65), ByteRange::new(299, 300)]
    );
    let stamps: Vec<u64> = (0..5).map(|i| gens.get(i).unwrap()).collect();
    assert_eq!(stamps, [5, 5, 1, 1, 5]);
    assert_eq!(
        gens.changed_since(4).collect::<Vec<_>>(),
        [ByteRange::new(0, 128), ByteRange::new(256, 300)]
    );
    assert_eq!(gens.changed_since(5).count(), 0);
    let mut one = [ByteRange::default(); 1];
    assert_eq!(
        gens.write_changed_since(1, &mut one),
        Err(Overflow {
            needed: 2,
            span: ByteRange::new(0, 300)
        })
    );
    assert_eq!(one, [ByteRange::new(0, 128)]);
    assert_eq!(gens.write_changed_since(0, &mut one), Ok(1));
    assert_eq!(one, [ByteRange::new(0, 300)]);
}

#[test]
fn tables_check_their_shape() {
    let mut table = [0u64; 4];
    assert_eq!(
        Generations::new(&mut table, 10, 3).unwrap_err(),
        TableError::BadChunk
    );
    assert_eq!(
        Generations::new(&mut table, 10, 0).unwrap_err(),
        TableError::BadChunk
    );
    assert_eq!(
        Generations::new(&mut table, 257, 64).unwrap_err(),
        TableError::TooShort
    );
    let gens = Generations::new(&mut table, 0, 64).unwrap();
    assert!(gens.is_empty());
    assert_eq!(gens.changed_since(0).count(), 0);
    let mut gens = Generations::new(&mut table, 4, 1).unwrap();
    gens.mark(ByteRange::new(3, 100), 2);
    gens.mark(ByteRange::new(1, 1), 2);
    assert_eq!(
        gens.changed_since(0).collect::<Vec<_>>(),
        [ByteRange::new(3, 4)]
    );
}

/// The entity layout of the benchmarks, smaller: `e{i}.pos` then `e{i}.vel`,
/// three f32 each.
fn entities(n: usize) -> (Vec<Variable>, Vec<u32>) {
    let mut vars = Vec::new();
    for i in 0..n {
        for (k, field) in ["pos", "vel"].into_iter().enumerate() {
            let name = Name::new(&format!("e{i}.{field}")).unwrap();
            let offset = u32::try_from(24 * i + 12 * k).unwrap();
            vars.push(Variable::new(name, Kind::F32, 3, offset));
        }
    }
    let mut by_name = vec![0; vars.len()];
    name_index(&vars, &mut by_name).unwrap();
    (vars, by_name)
}

#[test]
fn entity_positions_map_to_exactly_their_variables() {
    let n = if cfg!(miri) { 40 } else { 1000 };
    let (vars, by_name) = entities(n);
    let schema = Schema::new_checked(&vars, &by_name).unwrap();
    let mut shadow = vec![0u8; 24 * n];
    for (i, b) in shadow.iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    let mut current = shadow.clone();
    // Neighbouring entities, and one change of a single low mantissa byte.
    let moved = [3usize, 4, 5, n / 2, n / 2 + 1, n - 1];
    for &e in &moved {
        let pos = 24 * e;
        current[pos..pos + 12]
            .copy_from_slice(&[1.5f32, -2.0, 3.25].map(f32::to_le_bytes).concat());
    }
    let lone = n * 7 / 10;
    current[24 * lone + 4] ^= 1;
    let mut expected: Vec<VarId> = moved.iter().map(|&e| VarId(2 * e as u32)).collect();
    expected.push(VarId(2 * lone as u32));
    expected.sort();
    for d in differs() {
        let ranges = scan(&d, &current, &shadow);
        let ids: Vec<VarId> = touched(schema, &ranges).collect();
        assert_eq!(ids, expected, "{}", d.path());
        let mut copy = shadow.clone();
        let mut out = [ByteRange::default(); 16];
        let n = d
            .update_moved(
                &current,
                &mut copy,
                schema,
                expected.iter().copied(),
                &mut out,
                None,
            )
            .unwrap();
        assert_eq!(&out[..n], ranges);
        assert_eq!(copy, current);
    }
}

#[test]
fn touched_reports_a_variable_once() {
    static SCHEMA: SchemaBuf<3> = SchemaBuilder::new()
        .var("a", Kind::U8, 10)
        .var("b", Kind::U32, 1)
        .var("c", Kind::U8, 1)
        .build();
    let schema = SCHEMA.as_schema();
    let ranges = [
        ByteRange::new(1, 2),
        ByteRange::new(4, 5),
        ByteRange::new(9, 13),
        ByteRange::new(14, 15),
        ByteRange::new(20, 30),
    ];
    let ids: Vec<VarId> = touched(schema, &ranges).collect();
    assert_eq!(ids, [VarId(0), VarId(1)]);
    assert_eq!(touched(schema, &[ByteRange::new(16, 16)]).count(), 0);
}

#[test]
fn moved_variables_are_checked() {
    static SCHEMA: SchemaBuf<2> = SchemaBuilder::new()
        .var("a", Kind::U32, 1)
        .var("b", Kind::U32, 4)
        .build();
    let schema = SCHEMA.as_schema();
    let d = Differ::portable();
    let current = [1u8; 20];
    let mut shadow = [0u8; 20];
    let run = |shadow: &mut [u8], moved: &[VarId]| {
        d.update_moved(
            &current[..shadow.len()],
            shadow,
            schema,
            moved.iter().copied(),
            &mut [],
            None,
        )
    };
    assert_eq!(
        run(&mut shadow, &[VarId(1), VarId(0)]),
        Err(DiffError::Unordered)
    );
    assert_eq!(
        run(&mut shadow, &[VarId(0), VarId(0)]),
        Err(DiffError::Unordered)
    );
    assert_eq!(
        run(&mut shadow, &[VarId(2)]),
        Err(DiffError::UnknownVariable(VarId(2)))
    );
    assert_eq!(
        run(&mut shadow[..19], &[VarId(1)]),
        Err(DiffError::OutOfBounds(VarId(1)))
    );
    let mut shadow = [0u8; 20];
    let mut out = [ByteRange::default(); 1];
    let n = d
        .update_moved(&current, &mut shadow, schema, [VarId(1)], &mut out, None)
        .unwrap();
    assert_eq!(&out[..n], [ByteRange::new(4, 20)]);
    assert_eq!(
        shadow[..4],
        [0; 4],
        "variables that did not move are not scanned"
    );
    assert_eq!(shadow[4..], [1; 16]);
}

#[test]
fn errors_display() {
    let e = DiffError::Overflow(Overflow {
        needed: 3,
        span: ByteRange::new(1, 9),
    });
    assert_eq!(
        format!("{e}"),
        "3 changed ranges do not fit the output buffer (all within 1..9)"
    );
    assert_eq!(
        format!("{}", DiffError::Unordered),
        "moved variables are not in ascending order"
    );
    assert_eq!(
        format!("{}", TableError::BadChunk),
        "chunk size is not a power of two"
    );
}

/// Ranges merged to fit can hold more unchanged bytes than the chunks
/// around the changes: then the chunks are the cheaper cover.
#[test]
fn changed_chunks_are_cheaper_than_ranges_merged_too_far() {
    let merged = [ByteRange::new(10, 1000)];
    let chunks = [ByteRange::new(0, 64), ByteRange::new(960, 1000)];
    assert!(chunks_are_cheaper(&merged, chunks.iter().copied()));
    // Exact short ranges are never compared with chunks.
    let exact = [ByteRange::new(10, 11), ByteRange::new(990, 991)];
    assert!(!chunks_are_cheaper(&exact, chunks.iter().copied()));
    // A long range that the chunks cannot beat.
    let long = [ByteRange::new(0, 1000)];
    let all = [ByteRange::new(0, 1024)];
    assert!(!chunks_are_cheaper(&long, all.iter().copied()));
}
