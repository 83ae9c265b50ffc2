use super::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde_json::Value as Json;

fn var(kind: Kind, count: u32) -> Variable {
    Variable::new(Name::new("x").unwrap(), kind, count, 0)
}

fn problem(kind: Kind, count: u32, text: &str) -> Problem {
    parse(&var(kind, count), text).unwrap_err().problem
}

/// `text` is how `bytes` is written, and reads back to `bytes`.
#[track_caller]
fn round_trip(kind: Kind, count: u32, bytes: &[u8], text: &str) {
    let v = var(kind, count);
    assert_eq!(format(&v, bytes), text);
    assert_eq!(parse(&v, text).unwrap(), bytes, "{text}");
}

#[test]
fn integers_round_trip_at_their_limits() {
    round_trip(Kind::U8, 1, &[0], "0");
    round_trip(Kind::U8, 1, &[255], "255");
    round_trip(Kind::I8, 1, &[0x80], "-128");
    round_trip(Kind::I8, 1, &[0x7f], "127");
    round_trip(Kind::U16, 1, &[0xff, 0xff], "65535");
    round_trip(Kind::I16, 1, &[0x00, 0x80], "-32768");
    round_trip(Kind::U32, 1, &[0xff; 4], "4294967295");
    round_trip(Kind::I32, 1, &[0xfe, 0xff, 0xff, 0xff], "-2");
    round_trip(Kind::U64, 1, &[0xff; 8], "18446744073709551615");
    round_trip(
        Kind::I64,
        1,
        &i64::MIN.to_le_bytes(),
        "-9223372036854775808",
    );
    round_trip(Kind::I64, 1, &i64::MAX.to_le_bytes(), "9223372036854775807");
    round_trip(Kind::U16, 3, &[1, 0, 2, 0, 0xff, 0xff], "[1, 2, 65535]");
    round_trip(Kind::U8, 4, &[104, 105, 0, 255], "[104, 105, 0, 255]");
}

#[test]
fn floats_round_trip_in_shortest_form() {
    let f32s: &[(f32, &str)] = &[
        (1.5, "1.5"),
        (2.0, "2.0"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (0.1, "0.1"),
        (-3.25, "-3.25"),
        (123_456.0, "123456.0"),
        (f32::MAX, "3.4028235e38"),
        (f32::MIN, "-3.4028235e38"),
        (f32::MIN_POSITIVE, "1.1754944e-38"),
        (1e-45, "1e-45"),
        (1e16, "1e16"),
        (9_999_999_000_000_000.0, "9999999000000000.0"),
        (1.0000001e16, "1.0000001e16"),
        (f32::INFINITY, "inf"),
        (f32::NEG_INFINITY, "-inf"),
    ];
    for &(v, text) in f32s {
        round_trip(Kind::F32, 1, &v.to_le_bytes(), text);
    }
    let f64s: &[(f64, &str)] = &[
        (0.1 + 0.2, "0.30000000000000004"),
        (1e-5, "0.00001"),
        (9.9e-6, "9.9e-6"),
        (1e15, "1000000000000000.0"),
        (1e16, "1e16"),
        (f64::MAX, "1.7976931348623157e308"),
        (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
        (5e-324, "5e-324"),
        (-0.0, "-0.0"),
    ];
    for &(v, text) in f64s {
        round_trip(Kind::F64, 1, &v.to_le_bytes(), text);
    }
    let mut pair = Vec::new();
    pair.extend(1.0f64.to_le_bytes());
    pair.extend((-0.5f64).to_le_bytes());
    round_trip(Kind::F64, 2, &pair, "[1.0, -0.5]");
}

#[test]
fn nan_is_written_nan_and_reads_back_as_a_nan() {
    // A negative NaN with a payload: its sign and payload are not kept.
    let odd_nan = f32::from_bits(0xffc0_1234);
    assert_eq!(format(&var(Kind::F32, 1), &odd_nan.to_le_bytes()), "NaN");
    let back = parse(&var(Kind::F32, 1), "NaN").unwrap();
    assert!(f32::from_le_bytes(array(&back)).is_nan());
    let back = parse(&var(Kind::F64, 1), "nan").unwrap();
    assert!(f64::from_le_bytes(array(&back)).is_nan());
}

#[test]
fn bools_and_bytes_round_trip() {
    round_trip(Kind::Bool, 1, &[1], "true");
    round_trip(Kind::Bool, 1, &[0], "false");
    round_trip(Kind::Bool, 3, &[1, 0, 1], "[true, false, true]");
    round_trip(Kind::Bytes, 3, &[0x00, 0xff, 0x10], "0x00ff10");
    round_trip(Kind::Bytes, 1, &[0xab], "0xab");
    let b = var(Kind::Bool, 2);
    assert_eq!(parse(&b, "[1, 0]").unwrap(), [1, 0]);
    assert_eq!(parse(&b, "[TRUE, False]").unwrap(), [1, 0]);
    let bytes = var(Kind::Bytes, 3);
    assert_eq!(parse(&bytes, "0XAbCd01").unwrap(), [0xab, 0xcd, 0x01]);
    assert_eq!(parse(&bytes, "[1, 0x02, 255]").unwrap(), [1, 2, 255]);
    assert_eq!(parse(&var(Kind::Bytes, 1), "7").unwrap(), [7]);
}

#[test]
fn integers_read_hex_signs_and_separators() {
    let read = |kind, text| parse(&var(kind, 1), text).unwrap();
    assert_eq!(read(Kind::U8, "0xff"), [255]);
    assert_eq!(read(Kind::U8, "0XFF"), [255]);
    assert_eq!(read(Kind::I8, "-0x80"), [0x80]);
    assert_eq!(read(Kind::U16, "1_000"), 1000u16.to_le_bytes());
    assert_eq!(read(Kind::I32, "+5"), [5, 0, 0, 0]);
    assert_eq!(read(Kind::U8, "-0"), [0]);
    assert_eq!(read(Kind::U32, " 7 "), [7, 0, 0, 0]);
    assert_eq!(
        read(Kind::U8, "000000000000000000000000000000000000000042"),
        [42]
    );
    assert_eq!(read(Kind::F32, "3"), 3.0f32.to_le_bytes());
    assert_eq!(
        read(Kind::F64, "-Infinity"),
        f64::NEG_INFINITY.to_le_bytes()
    );
}

#[test]
fn numbers_outside_the_kind_are_refused_not_wrapped() {
    let out = |text: &str| Problem::OutOfRange {
        element: None,
        text: text.to_owned(),
    };
    assert_eq!(problem(Kind::U8, 1, "300"), out("300"));
    assert_eq!(problem(Kind::U8, 1, "256"), out("256"));
    assert_eq!(problem(Kind::U8, 1, "-1"), out("-1"));
    assert_eq!(problem(Kind::I8, 1, "128"), out("128"));
    assert_eq!(problem(Kind::I8, 1, "0xff"), out("0xff"));
    assert_eq!(problem(Kind::I16, 1, "-32769"), out("-32769"));
    assert_eq!(
        problem(Kind::U64, 1, "18446744073709551616"),
        out("18446744073709551616")
    );
    let huge = "9".repeat(50);
    assert!(matches!(
        problem(Kind::I64, 1, &huge),
        Problem::OutOfRange { text, .. } if text.chars().count() == 33
    ));
    assert_eq!(problem(Kind::F32, 1, "1e39"), out("1e39"));
    assert_eq!(problem(Kind::F64, 1, "-1e309"), out("-1e309"));
    assert_eq!(
        problem(Kind::U8, 3, "[1, 300, 3]"),
        Problem::OutOfRange {
            element: Some(1),
            text: "300".into()
        }
    );
}

#[test]
fn malformed_text_is_refused() {
    let bad = |text: &str| Problem::Invalid {
        element: None,
        text: text.to_owned(),
    };
    for (kind, text) in [
        (Kind::U8, ""),
        (Kind::U8, "abc"),
        (Kind::U8, "0x"),
        (Kind::U8, "--1"),
        (Kind::U8, "-+1"),
        (Kind::U8, "_1"),
        (Kind::U8, "1.5"),
        (Kind::I32, "1e3"),
        (Kind::F32, "1.5.5"),
        (Kind::F32, "0x10"),
        (Kind::Bool, "2"),
        (Kind::Bool, "yes"),
        (Kind::Bytes, "0x001"),
        (Kind::Bytes, "0xzz"),
        (Kind::U8, "[1"),
    ] {
        assert_eq!(problem(kind, 1, text), bad(text), "{kind} {text:?}");
    }
}

#[test]
fn lists_must_have_exactly_count_elements() {
    let wrong = |found| Problem::WrongCount { found };
    assert_eq!(problem(Kind::U8, 3, "[1, 2]"), wrong(2));
    assert_eq!(problem(Kind::U8, 3, "[1, 2, 3, 4]"), wrong(4));
    assert_eq!(problem(Kind::U8, 3, "[]"), wrong(0));
    assert_eq!(problem(Kind::U8, 1, "[1, 2]"), wrong(2));
    assert_eq!(problem(Kind::Bytes, 3, "0x0011"), wrong(2));
    assert_eq!(problem(Kind::U8, 3, "5"), Problem::NotAList);
    assert_eq!(
        problem(Kind::U8, 3, "[1, , 3]"),
        Problem::Invalid {
            element: Some(1),
            text: String::new()
        }
    );
    let v = var(Kind::U8, 3);
    assert_eq!(parse(&v, " [ 1 ,2,3, ] ").unwrap(), [1, 2, 3]);
    assert_eq!(parse(&var(Kind::U8, 1), "[9]").unwrap(), [9]);
}

#[test]
fn errors_name_the_variable_its_type_and_the_problem() {
    let v = Variable::new(Name::new("speed").unwrap(), Kind::U8, 3, 0);
    let e = parse(&v, "[1, 300, 3]").unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid value for `speed` (u8[3]): element 1: `300` is out of range for u8 (0 to 255)"
    );
    let e = parse(&v, "[1]").unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid value for `speed` (u8[3]): found 1 elements, expected 3"
    );
    let flag = Variable::new(Name::new("on").unwrap(), Kind::Bool, 1, 0);
    assert_eq!(
        parse(&flag, "maybe").unwrap_err().to_string(),
        "invalid value for `on` (bool): cannot read `maybe` as bool (true, false, 1 or 0)"
    );
    let key = Variable::new(Name::new("key").unwrap(), Kind::Bytes, 2, 0);
    assert_eq!(
        parse(&key, "7").unwrap_err().to_string(),
        "invalid value for `key` (bytes[2]): expected a list `[a, b, ...]` of 2 elements \
         or `0x` and 2 hex byte pairs"
    );
    let t = Variable::new(Name::new("t").unwrap(), Kind::F32, 1, 0);
    assert_eq!(
        from_json(&t, &Json::Null).unwrap_err().to_string(),
        "invalid value for `t` (f32): expected a f32 value, found JSON null"
    );
}

#[test]
fn wrong_lengths_and_bad_bools_are_shown_not_panicked_on() {
    assert_eq!(
        format(&var(Kind::F32, 1), &[1, 2, 3]),
        "<3 bytes, expected 4>"
    );
    assert_eq!(format(&var(Kind::U16, 3), &[]), "<0 bytes, expected 6>");
    assert_eq!(to_json(&var(Kind::F32, 1), &[1, 2, 3]), Json::Null);
    assert_eq!(format(&var(Kind::Bool, 2), &[1, 2]), "[true, invalid(2)]");
    assert_eq!(
        to_json(&var(Kind::Bool, 2), &[1, 2]),
        serde_json::json!([true, null])
    );
    assert_eq!(
        format(&var(Kind::U64, u32::MAX), &[0; 8]),
        "<8 bytes, expected 34359738360>"
    );
}

#[test]
fn json_holds_numbers_bools_and_named_non_finite_floats() {
    use serde_json::json;
    let j = |kind, count, bytes: &[u8]| to_json(&var(kind, count), bytes);
    assert_eq!(j(Kind::U64, 1, &[0xff; 8]), json!(u64::MAX));
    assert_eq!(j(Kind::I64, 1, &i64::MIN.to_le_bytes()), json!(i64::MIN));
    assert_eq!(j(Kind::I8, 2, &[0xff, 1]), json!([-1, 1]));
    assert_eq!(j(Kind::Bool, 1, &[1]), json!(true));
    assert_eq!(j(Kind::Bytes, 2, &[0xde, 0xad]), json!("0xdead"));
    assert_eq!(j(Kind::F64, 1, &f64::NAN.to_le_bytes()), json!("NaN"));
    assert_eq!(j(Kind::F32, 1, &f32::INFINITY.to_le_bytes()), json!("inf"));
    assert_eq!(
        j(Kind::F64, 1, &f64::NEG_INFINITY.to_le_bytes()),
        json!("-inf")
    );
    // An f32 shows its own shortest decimal, not that of its f64 widening.
    let tenth = j(Kind::F32, 1, &0.1f32.to_le_bytes());
    assert_eq!(serde_json::to_string(&tenth).unwrap(), "0.1");
}

#[test]
fn json_reads_numbers_strings_and_lists() {
    use serde_json::json;
    let read = |kind, count, value: Json| from_json(&var(kind, count), &value);
    assert_eq!(read(Kind::U8, 1, json!(255)).unwrap(), [255]);
    assert_eq!(read(Kind::U8, 1, json!("0xff")).unwrap(), [255]);
    assert_eq!(read(Kind::U8, 1, json!(3.0)).unwrap(), [3]);
    assert_eq!(read(Kind::U8, 1, json!([3])).unwrap(), [3]);
    assert_eq!(
        read(Kind::I16, 2, json!([-1, "2"])).unwrap(),
        [0xff, 0xff, 2, 0]
    );
    assert_eq!(read(Kind::U64, 1, json!(u64::MAX)).unwrap(), [0xff; 8]);
    assert_eq!(read(Kind::Bool, 2, json!([true, 0])).unwrap(), [1, 0]);
    assert_eq!(
        read(Kind::F32, 1, json!(0.1)).unwrap(),
        0.1f32.to_le_bytes()
    );
    assert_eq!(read(Kind::F32, 1, json!(7)).unwrap(), 7.0f32.to_le_bytes());
    assert_eq!(
        read(Kind::F64, 1, json!("-inf")).unwrap(),
        f64::NEG_INFINITY.to_le_bytes()
    );
    assert_eq!(read(Kind::Bytes, 2, json!("dead")).unwrap(), [0xde, 0xad]);
    assert_eq!(read(Kind::Bytes, 2, json!("0xdead")).unwrap(), [0xde, 0xad]);
    assert_eq!(read(Kind::Bytes, 2, json!([1, 2])).unwrap(), [1, 2]);

    let problem = |kind, count, value| read(kind, count, value).unwrap_err().problem;
    assert_eq!(
        problem(Kind::U8, 1, json!(256)),
        Problem::OutOfRange {
            element: None,
            text: "256".into()
        }
    );
    assert_eq!(
        problem(Kind::U8, 1, json!(2.5)),
        Problem::Invalid {
            element: None,
            text: "2.5".into()
        }
    );
    assert!(matches!(
        problem(Kind::U64, 1, json!(1e20)),
        Problem::OutOfRange { .. }
    ));
    assert!(matches!(
        problem(Kind::F32, 1, json!(1e39)),
        Problem::OutOfRange { .. }
    ));
    assert_eq!(
        problem(Kind::U8, 2, json!([1, {}])),
        Problem::JsonType {
            element: Some(1),
            found: "object"
        }
    );
    assert_eq!(
        problem(Kind::Bool, 1, json!(null)),
        Problem::JsonType {
            element: None,
            found: "null"
        }
    );
    assert_eq!(problem(Kind::U8, 2, json!(1)), Problem::NotAList);
    assert_eq!(
        problem(Kind::U8, 2, json!([1, 2, 3])),
        Problem::WrongCount { found: 3 }
    );
    assert_eq!(
        problem(Kind::Bytes, 2, json!("0xde")),
        Problem::WrongCount { found: 1 }
    );
}

#[test]
fn a_schema_becomes_one_json_object() {
    use memwire::schema::{SchemaBuf, SchemaBuilder};
    static SCHEMA: SchemaBuf<3> = SchemaBuilder::new()
        .var("speed", Kind::F32, 1)
        .var("on", Kind::Bool, 1)
        .var("pos", Kind::I16, 2)
        .build();
    let mut data = Vec::new();
    data.extend(1.5f32.to_le_bytes());
    data.extend([1, 0]); // `on`, then padding before `pos`
    data.extend([0xff, 0xff, 4, 0]);
    let all = schema_to_json(SCHEMA.as_schema(), &data);
    assert_eq!(
        all,
        serde_json::json!({"speed": 1.5, "on": true, "pos": [-1, 4]})
    );
    let short = schema_to_json(SCHEMA.as_schema(), data.get(..4).unwrap());
    assert_eq!(
        short,
        serde_json::json!({"speed": 1.5, "on": null, "pos": null})
    );
}

/// `bytes` with every NaN element replaced by the NaN that reading `NaN` gives.
fn canonical(kind: Kind, bytes: &[u8]) -> Vec<u8> {
    let size = kind.size();
    bytes
        .chunks_exact(size)
        .flat_map(|e| match decode(kind, e) {
            Element::F32(v) if v.is_nan() => f32::NAN.to_le_bytes().to_vec(),
            Element::F64(v) if v.is_nan() => f64::NAN.to_le_bytes().to_vec(),
            _ => e.to_vec(),
        })
        .collect()
}

fn config() -> Config {
    Config {
        cases: 2048,
        rng_seed: RngSeed::Fixed(0x6d65_6d77_6972_6531),
        failure_persistence: None,
        ..Config::default()
    }
}

/// A variable of any kind and 1 to 5 elements, and bytes that hold a
/// value of it (bools are 0 or 1).
fn any_value() -> impl Strategy<Value = (Variable, Vec<u8>)> {
    (
        0..Kind::ALL.len(),
        1u32..6,
        proptest::collection::vec(any::<u8>(), 40),
    )
        .prop_map(|(k, count, mut bytes)| {
            let kind = Kind::ALL.get(k).copied().unwrap_or(Kind::U8);
            bytes.truncate(kind.size() * count as usize);
            if kind == Kind::Bool {
                bytes.iter_mut().for_each(|b| *b &= 1);
            }
            (var(kind, count), bytes)
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn text_round_trips((v, bytes) in any_value()) {
        let text = format(&v, &bytes);
        let back = parse(&v, &text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back, canonical(v.kind, &bytes), "{}", text);
    }

    #[test]
    fn json_round_trips_through_its_text((v, bytes) in any_value()) {
        let text = serde_json::to_string(&to_json(&v, &bytes)).unwrap();
        let json: Json = serde_json::from_str(&text).unwrap();
        let back = from_json(&v, &json).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back, canonical(v.kind, &bytes), "{}", text);
    }

    #[test]
    fn no_input_panics(
        k in 0..Kind::ALL.len(),
        count in 0u32..4,
        bytes in proptest::collection::vec(any::<u8>(), 0..20),
        text in "[\\[\\]0-9a-fA-FxX_+\\-., einftyNa]{0,24}",
    ) {
        let v = var(Kind::ALL.get(k).copied().unwrap_or(Kind::U8), count);
        let _ = format(&v, &bytes);
        let _ = to_json(&v, &bytes);
        if let Ok(out) = parse(&v, &text) {
            prop_assert_eq!(out.len() as u64, v.len());
        }
        let json = serde_json::from_str::<Json>(&text).ok();
        if let Some(out) = json.and_then(|json| from_json(&v, &json).ok()) {
            prop_assert_eq!(out.len() as u64, v.len());
        }
    }
}
