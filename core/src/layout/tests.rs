use super::*;
use crate::schema::{Kind, SchemaBuf, SchemaBuilder, VarId};
use std::vec;
use std::vec::Vec;

static FIXTURE: SchemaBuf<3> = SchemaBuilder::new()
    .var("count", Kind::U32, 1)
    .var("flag", Kind::Bool, 1)
    .writable()
    .var("name", Kind::Bytes, 3)
    .build();

fn fixture() -> Vec<u8> {
    let schema = FIXTURE.as_schema();
    let mut buf = vec![0xAA; required_len(&schema).unwrap()];
    assert_eq!(init(&mut buf, &schema, 0x1122_3344_5566_7788), Ok(512));
    buf
}

fn put(buf: &mut [u8], at: usize, bytes: &[u8]) {
    buf[at..at + bytes.len()].copy_from_slice(bytes);
}

fn reseal(buf: &mut [u8]) {
    let (h, _) = Header::read_from_prefix(buf).unwrap();
    let sum = checksum(buf, &Geometry::of(&h)).unwrap();
    put(buf, 64, &sum.to_le_bytes());
}

#[test]
fn fixture_bytes() {
    let b = fixture();
    assert_eq!(&b[0..8], b"MEMWIRE\0");
    assert_eq!(&b[8..12], &[2, 0, 192, 0]); // version 2, header length 192
    assert_eq!(&b[12..16], &[0; 4]); // flags
    assert_eq!(&b[16..24], &0x2a1e_734b_aca4_9738u64.to_le_bytes()); // fingerprint
    assert_eq!(
        &b[24..32],
        &[0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]
    );
    assert_eq!(&b[32..36], &[3, 0, 0, 0]); // variables
    assert_eq!(&b[36..40], &[64, 0, 0, 0]); // entry length
    assert_eq!(&b[40..44], &[192, 0, 0, 0]); // table offset
    assert_eq!(&b[44..48], &[128, 1, 0, 0]); // index offset 384
    assert_eq!(&b[48..52], &[192, 1, 0, 0]); // data offset 448
    assert_eq!(&b[52..56], &[64, 0, 0, 0]); // data length
    assert_eq!(&b[56..60], &[0, 2, 0, 0]); // total length 512
    assert_eq!(&b[60..64], &[0; 4]); // no journal
    assert_eq!(&b[64..72], &0xb70d_c606_80f1_ac21u64.to_le_bytes()); // checksum
    assert!(b[72..192].iter().all(|&x| x == 0)); // reserved and live words
    // Entry 1, "flag": bool, writable, one element at offset 4.
    let e = &b[256..320];
    assert_eq!(&e[..5], b"flag\0");
    assert!(e[5..40].iter().all(|&x| x == 0));
    assert_eq!(&e[40..44], &[11, 1, 0, 0]);
    assert_eq!(
        &e[44..64],
        &[1, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    );
    // Name index: count(0), flag(1), name(2).
    assert_eq!(&b[384..396], &[0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0]);
    assert!(b[396..512].iter().all(|&x| x == 0));
}

#[test]
fn journaled_fixture_bytes() {
    let schema = FIXTURE.as_schema();
    let mut b = vec![0xAA; journaled_len(&schema).unwrap()];
    assert_eq!(
        init_journaled(&mut b, &schema, 0x1122_3344_5566_7788),
        Ok(768)
    );
    let plain = fixture();
    // The same region, but for the journal length, the total and the
    // checksum over them, with a request area of 64 + 128 bytes (the data
    // area and a range header per variable, rounded up to 64).
    assert_eq!(&b[..56], &plain[..56]);
    assert_eq!(&b[56..60], &[0, 3, 0, 0]); // total length 768
    assert_eq!(&b[60..64], &[64, 0, 0, 0]); // journal length 64
    assert_eq!(&b[64..72], &0xeda6_328d_5704_5f53u64.to_le_bytes()); // checksum
    assert_eq!(&b[72..512], &plain[72..512]);
    assert!(b[512..768].iter().all(|&x| x == 0)); // the journal, requests
    let view = RegionView::new_checked(&b).unwrap();
    assert_eq!(view.data().len(), 64);
    assert_eq!(view.journal().len(), 64);
    assert_eq!(view.journal_mark(), 0);
    assert!(
        RegionView::new_checked(&plain)
            .unwrap()
            .journal()
            .is_empty()
    );
}

#[test]
fn fixture_validates_and_reads_back() {
    let b = fixture();
    let view = RegionView::new_checked(&b).unwrap();
    assert_eq!(view.len(), 3);
    assert_eq!(view.instance(), 0x1122_3344_5566_7788);
    assert_eq!(view.fingerprint(), FIXTURE.as_schema().fingerprint());
    assert_eq!(view.generation(), 0);
    assert_eq!(view.data().len(), 64);
    assert_eq!(view.find("name"), Some(VarId(2)));
    assert_eq!(view.find("nam"), None);
    assert_eq!(view.value_bytes(VarId(2)), Some(&[0u8, 0, 0][..]));
    let flag = view.variable(VarId(1)).unwrap();
    assert!(flag.writable && flag.kind == Kind::Bool && flag.offset == 4);
    assert_eq!(view.variable(VarId(3)), None);
    let mut vars = [FIXTURE.as_schema().variables()[0]; 3];
    let mut index = [0u32; 3];
    let copy = view.copy_schema(&mut vars, &mut index).unwrap();
    assert_eq!(copy, FIXTURE.as_schema());
    let mut short = [FIXTURE.as_schema().variables()[0]; 2];
    assert_eq!(
        view.copy_schema(&mut short, &mut index).err(),
        Some(LayoutError::BufferTooSmall)
    );
}

#[test]
fn init_reports_the_size_it_needs() {
    let schema = FIXTURE.as_schema();
    let mut small = vec![0u8; 511];
    assert_eq!(
        init(&mut small, &schema, 1),
        Err(LayoutError::BufferTooSmall)
    );
    let mut big = vec![0x55u8; 600];
    assert_eq!(init(&mut big, &schema, 1), Ok(512));
    assert!(big[512..].iter().all(|&x| x == 0x55));
    // Trailing bytes past the region are ignored by the view.
    assert_eq!(RegionView::new_checked(&big).unwrap().as_bytes().len(), 512);
    let empty = crate::schema::Schema::EMPTY;
    assert_eq!(required_len(&empty), Ok(192));
}

/// One corruption per distinct error; `seal` recomputes the checksum so that
/// the checks behind it are reached.
#[test]
fn each_corruption_has_its_own_error() {
    type Edit = fn(&mut Vec<u8>);
    let cases: &[(&str, Edit, bool, LayoutError)] = &[
        ("short", |b| b.truncate(100), false, LayoutError::TooShort),
        ("magic", |b| b[0] ^= 1, false, LayoutError::BadMagic),
        (
            "version",
            |b| put(b, 8, &[3, 0]),
            false,
            LayoutError::UnsupportedVersion(3),
        ),
        (
            "version 1",
            |b| put(b, 8, &[1, 0]),
            false,
            LayoutError::UnsupportedVersion(1),
        ),
        (
            "header len",
            |b| put(b, 10, &[128, 0]),
            false,
            LayoutError::BadHeaderLen,
        ),
        ("flags", |b| b[12] = 1, false, LayoutError::UnknownFlags),
        ("reserved", |b| b[100] = 1, false, LayoutError::UnknownFlags),
        (
            "entry len",
            |b| put(b, 36, &[32, 0, 0, 0]),
            false,
            LayoutError::BadEntryLen,
        ),
        (
            "table",
            |b| put(b, 40, &[200, 0, 0, 0]),
            false,
            LayoutError::TableOutOfBounds,
        ),
        (
            "many vars",
            |b| put(b, 32, &[0, 0, 1, 0]),
            false,
            LayoutError::TableOutOfBounds,
        ),
        (
            "index",
            |b| put(b, 44, &[132, 1, 0, 0]),
            false,
            LayoutError::IndexOutOfBounds,
        ),
        (
            "data align",
            |b| put(b, 48, &[193, 1, 0, 0]),
            false,
            LayoutError::DataOutOfBounds,
        ),
        (
            "data len",
            |b| put(b, 52, &[65, 0, 0, 0]),
            false,
            LayoutError::DataOutOfBounds,
        ),
        (
            "total",
            |b| put(b, 56, &[64, 2, 0, 0]),
            false,
            LayoutError::BadTotalLen,
        ),
        (
            "journal len",
            |b| {
                put(b, 56, &[32, 2, 0, 0]);
                put(b, 60, &[32, 0, 0, 0]);
            },
            false,
            LayoutError::BadJournalLen,
        ),
        (
            "journal past total",
            |b| put(b, 60, &[64, 0, 0, 0]),
            false,
            LayoutError::BadTotalLen,
        ),
        (
            "declared past end",
            |b| {
                put(b, 52, &[128, 0, 0, 0]);
                put(b, 56, &[64, 2, 0, 0]);
            },
            false,
            LayoutError::Truncated,
        ),
        (
            "cut file",
            |b| b.truncate(511),
            false,
            LayoutError::Truncated,
        ),
        (
            "checksum",
            |b| b[192] = b'C',
            false,
            LayoutError::ChecksumMismatch,
        ),
        ("name", |b| b[256] = b'/', true, LayoutError::BadName(1)),
        (
            "empty name",
            |b| b[256..296].fill(0),
            true,
            LayoutError::BadName(1),
        ),
        ("kind", |b| b[232] = 99, true, LayoutError::BadKind(0)),
        (
            "var flags",
            |b| b[233] = 0x80,
            true,
            LayoutError::BadVariableFlags(0),
        ),
        ("length", |b| b[244] = 5, true, LayoutError::BadLength(0)),
        (
            "zero count",
            |b| put(b, 236, &[0; 4]),
            true,
            LayoutError::BadLength(0),
        ),
        (
            "misaligned",
            |b| b[240] = 2,
            true,
            LayoutError::Misaligned(0),
        ),
        (
            "out of data",
            |b| b[368] = 62,
            true,
            LayoutError::VariableOutOfBounds(2),
        ),
        ("overlap", |b| b[304] = 0, true, LayoutError::Overlap(1)),
        (
            "index order",
            |b| put(b, 384, &[1, 0, 0, 0, 0, 0, 0, 0]),
            true,
            LayoutError::BadNameIndex,
        ),
        (
            "index range",
            |b| b[392] = 3,
            true,
            LayoutError::BadNameIndex,
        ),
        (
            "duplicate",
            |b| put(b, 320, b"flag\0"),
            true,
            LayoutError::DuplicateName,
        ),
        (
            "fingerprint",
            |b| b[16] ^= 1,
            true,
            LayoutError::FingerprintMismatch,
        ),
    ];
    for (what, edit, seal, want) in cases {
        let mut b = fixture();
        edit(&mut b);
        if *seal {
            reseal(&mut b);
        }
        assert_eq!(RegionView::new_checked(&b).err(), Some(*want), "{what}");
    }
}

#[test]
fn every_prefix_is_rejected_without_panic() {
    let b = fixture();
    for len in 0..b.len() {
        assert!(RegionView::new_checked(&b[..len]).is_err(), "prefix {len}");
    }
}

#[test]
fn live_bytes_do_not_affect_validation() {
    let mut b = fixture();
    put(
        &mut b,
        128,
        &[7, 0, 0, 0, 42, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0],
    );
    put(&mut b, 192 + 56, &[3, 0, 0, 0]);
    let view = RegionView::new_checked(&b).unwrap();
    assert_eq!(view.generation(), (1 << 32) | 9);
    assert_eq!(view.seq(VarId(0)), Some(3));
}
