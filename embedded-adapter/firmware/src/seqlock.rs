//! The seqlock over a region's words: typed writes commit and move the
//! generation and the sequence counters; reads see what was committed.

use memwire::region::AccessError;
use memwire::{Region, VarId};

use crate::Report;
use crate::schema::{ROBOT, Words, words};

static WORDS: Words = words();

/// Runs the seqlock checks.
pub(crate) fn run(report: &mut Report) {
    report.section("seqlock");
    let Ok(region) = Region::init(&WORDS, ROBOT.as_schema(), 7) else {
        report.check("Region::init", false);
        return;
    };
    let id = |name| region.schema().find(name).unwrap_or(VarId(u32::MAX));
    let (pos, count, flag, log) = (id("pos"), id("count"), id("flag"), id("log"));

    report.check(
        "set commits generation 1",
        region.set(count, 7u32) == Ok(1) && region.generation() == Ok(1),
    );
    report.check(
        "get reads it back; the sequence counter moved by 2",
        region.get::<u32>(count) == Ok(7)
            && region.seq(count) == Some(2)
            && region.seq(pos) == Some(0),
    );

    let xyz = [1.5f32, -2.0, 3.25];
    let mut raw = [0u8; 12];
    for (out, v) in raw.chunks_exact_mut(4).zip(xyz) {
        out.copy_from_slice(&v.to_le_bytes());
    }
    let generation = region.write_many(&[(pos, &raw), (count, &9u32.to_le_bytes())]);
    report.check("write_many commits once", generation == Ok(2));
    let (mut a, mut b) = ([0u8; 12], [0u8; 4]);
    let read = region.read_many(&[pos, count], &mut [&mut a, &mut b]);
    report.check(
        "read_many sees both",
        read.is_ok() && a == raw && u32::from_le_bytes(b) == 9,
    );
    report.check("typed array get", region.get::<[f32; 3]>(pos) == Ok(xyz));
    report.check(
        "set_by_name and get_by_name",
        region.set_by_name("flag", true) == Ok(3)
            && region.get::<bool>(flag) == Ok(true)
            && region.get_by_name::<u32>("count") == Ok(9),
    );
    report.check(
        "wrong kind and wrong length are refused",
        matches!(region.get::<u64>(count), Err(AccessError::WrongKind { .. }))
            && matches!(
                region.write(pos, &[0u8; 8]),
                Err(AccessError::WrongLength { .. })
            )
            && region.generation() == Ok(3),
    );
    let text = *b"boot ok";
    report.check(
        "write_ranges inside the data area",
        region
            .schema()
            .get(log)
            .map(|v| v.range().start)
            .is_some_and(|at| region.write_ranges(&[(at, &text)], None) == Ok(4))
            && region.write_ranges(&[(region.data_len(), &text)], None)
                == Err(AccessError::OutOfBounds),
    );
    let mut data = [0u8; crate::schema::DATA_LEN];
    let snapshot = region.snapshot(&mut data);
    let at = region.schema().get(log).map_or(0, |v| v.range().start);
    report.check(
        "snapshot holds every committed write",
        snapshot == Ok(4) && data.get(at..at + text.len()) == Some(&text[..]),
    );
    report.check(
        "no write left open",
        !region.recover().repaired()
            && region
                .commit_counter()
                .load(core::sync::atomic::Ordering::Acquire)
                & 1
                == 0,
    );
}
