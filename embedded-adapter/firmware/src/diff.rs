//! The portable diff: exact, coalesced ranges; the shadow brought up to
//! date; the per-chunk generation table; the variables touched.

use memwire::diff::{ByteRange, DiffError, Differ, Generations, Path, touched};
use memwire::{Kind, SchemaBuilder, VarId};

use crate::Report;

const LEN: usize = 256;

/// Runs the diff checks.
pub(crate) fn run(report: &mut Report) {
    report.section("diff (portable)");
    let differ = Differ::portable();
    report.check(
        "portable path, merging by cost",
        differ.path() == Path::Portable && differ.gap().is_none(),
    );

    let mut current = [0u8; LEN];
    let mut shadow = [0u8; LEN];
    let mut out = [ByteRange::default(); 8];
    report.check(
        "equal data: no ranges",
        differ.changes(&current, &shadow, &mut out) == Ok(0),
    );

    // Two bytes one apart coalesce; the others stand alone.
    for i in [3usize, 5, 100, 101, 102, 103, 255] {
        if let Some(b) = current.get_mut(i) {
            *b = 0xA5;
        }
    }
    let expected = [
        ByteRange::new(3, 6),
        ByteRange::new(100, 104),
        ByteRange::new(255, 256),
    ];
    let n = differ.changes(&current, &shadow, &mut out);
    report.check(
        "changes: exact coalesced ranges",
        n == Ok(3) && out.get(..3) == Some(&expected[..]),
    );
    let n = differ.with_gap(0).changes(&current, &shadow, &mut out);
    report.check(
        "changes: gap 0 keeps ranges apart",
        n == Ok(4) && out.first() == Some(&ByteRange::new(3, 4)),
    );
    let mut one = [ByteRange::default(); 1];
    report.check(
        "changes: a full buffer merges to fit",
        differ.changes(&current, &shadow, &mut one) == Ok(1)
            && one.first() == Some(&ByteRange::new(3, 256)),
    );
    report.check(
        "changes: no room at all reports overflow",
        matches!(
            differ.changes(&current, &shadow, &mut []),
            Err(DiffError::Overflow(_))
        ),
    );
    report.check(
        "changes: lengths must agree",
        differ.changes(&current, &shadow[..LEN - 4], &mut out) == Err(DiffError::LengthMismatch),
    );

    let mut table = [0u64; Generations::chunks_for(LEN, 64)];
    let Ok(mut gens) = Generations::new(&mut table, LEN, 64) else {
        report.check("Generations::new", false);
        return;
    };
    gens.reset(1);
    let n = differ.update(&current, &mut shadow, &mut out, Some((&mut gens, 2)));
    report.check(
        "update: ranges, and the shadow equals the data",
        n == Ok(3) && shadow == current,
    );
    report.check(
        "update: changed chunks stamped",
        gens.len() == 4
            && gens.get(0) == Some(2)
            && gens.get(1) == Some(2)
            && gens.get(2) == Some(1)
            && gens.get(3) == Some(2),
    );
    let mut since = gens.changed_since(1);
    report.check(
        "changed_since: adjacent chunks merged",
        since.next() == Some(ByteRange::new(0, 128))
            && since.next() == Some(ByteRange::new(192, 256))
            && since.next().is_none()
            && gens.changed_since(2).next().is_none(),
    );
    report.check(
        "update: nothing left to find",
        differ.update(&current, &mut shadow, &mut out, Some((&mut gens, 3))) == Ok(0),
    );

    static THREE: memwire::SchemaBuf<3> = SchemaBuilder::new()
        .var("a", Kind::U32, 1)
        .var("b", Kind::U32, 1)
        .var("c", Kind::U32, 1)
        .build();
    let ranges = [ByteRange::new(2, 3), ByteRange::new(9, 12)];
    let mut ids = touched(THREE.as_schema(), &ranges);
    report.check(
        "touched: the variables of the ranges",
        ids.next() == Some(VarId(0)) && ids.next() == Some(VarId(2)) && ids.next().is_none(),
    );
}
