//! Region layout and checked views: a fresh layout validates, a damaged one
//! does not, and the views agree with the schema.

use memwire::layout::{LayoutError, RegionView, init, required_len};
use memwire::{Kind, Region, SchemaBuilder};

use crate::Report;
use crate::schema::{DATA_LEN, REGION_LEN, ROBOT, Words, words};

/// A region the checks lay out in atomic words.
static WORDS: Words = words();

/// Bytes of a region, 4-byte aligned as regions require.
#[repr(C, align(8))]
struct Bytes([u8; REGION_LEN]);

/// Runs the layout checks.
pub(crate) fn run(report: &mut Report) {
    report.section("layout");
    let schema = ROBOT.as_schema();
    report.check(
        "required_len is whole words",
        required_len(&schema) == Ok(REGION_LEN) && REGION_LEN.is_multiple_of(4),
    );

    let mut buf = Bytes([0xEE; REGION_LEN]);
    report.check(
        "init lays out the region",
        init(&mut buf.0, &schema, 0x1234_5678_9ABC_DEF0) == Ok(REGION_LEN),
    );
    match RegionView::new_checked(&buf.0) {
        Ok(view) => {
            report.check(
                "view: fingerprint, instance, generation 0",
                view.fingerprint() == schema.fingerprint()
                    && view.instance() == 0x1234_5678_9ABC_DEF0
                    && view.generation() == 0,
            );
            report.check(
                "view: the variables are the schema's",
                view.variables().eq(schema.variables().iter().copied()),
            );
            let count = view.find("count");
            report.check(
                "view: name lookup",
                count.is_some() && count == schema.find("count") && view.find("nope").is_none(),
            );
            let log = view.find("log").and_then(|id| view.value_bytes(id));
            report.check(
                "view: data is zeroed, values in bounds",
                view.data().len() == DATA_LEN
                    && view.data().iter().all(|&b| b == 0)
                    && log.is_some_and(|b| b.len() == 600),
            );
        }
        Err(_) => report.check("view: a fresh region validates", false),
    }

    // Damage: every byte the checksum covers is checked.
    let mut damaged = Bytes(buf.0);
    if let Some(b) = damaged.0.get_mut(40) {
        *b ^= 0x01;
    }
    report.check(
        "view: a flipped header byte is refused",
        RegionView::new_checked(&damaged.0).is_err(),
    );
    let mut damaged = Bytes(buf.0);
    if let Some(b) = damaged.0.get_mut(0) {
        *b ^= 0xFF;
    }
    report.check(
        "view: a bad magic is refused",
        RegionView::new_checked(&damaged.0).is_err(),
    );
    report.check(
        "view: a truncated region is refused",
        buf.0
            .get(..REGION_LEN - 4)
            .is_some_and(|short| RegionView::new_checked(short).is_err())
            && RegionView::new_checked(&[]).is_err(),
    );

    // The same layout in atomic words.
    match Region::init(&WORDS, schema, 0x42) {
        Ok(region) => {
            report.check(
                "Region::init in static words",
                region.instance() == 0x42
                    && region.fingerprint() == schema.fingerprint()
                    && region.data_len() == DATA_LEN
                    && region.generation() == Ok(0),
            );
        }
        Err(_) => report.check("Region::init in static words", false),
    }
    static OTHER: memwire::SchemaBuf<1> = SchemaBuilder::new().var("pos", Kind::F64, 3).build();
    report.check(
        "Region::new_checked refuses another schema",
        matches!(
            Region::new_checked(&WORDS, OTHER.as_schema()),
            Err(LayoutError::SchemaMismatch)
        ) && Region::new_checked(&WORDS, schema).is_ok(),
    );
}
