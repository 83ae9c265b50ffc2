//! The derived schema is the builder's schema for the same fields.

use core::mem::{offset_of, size_of};

use memwire::schema::{Kind, Record, Schema, SchemaBuf, SchemaBuilder, Variable};
use memwire_derive::Schema;

/// Every supported scalar and arrays, ordered so that there is no padding.
#[derive(Schema)]
#[repr(C)]
struct Telemetry {
    uptime_ms: u64,
    energy: f64,
    #[memwire(writable)]
    offsets: [i64; 2],
    temperature: f32,
    #[memwire(name = "motor.rpm", writable)]
    rpm: u32,
    delta: i32,
    samples: [u16; 3],
    bias: i16,
    #[memwire(writable)]
    #[memwire(name = "enabled")]
    on: bool,
    mode: u8,
    trim: i8,
    flags: [bool; 5],
    r#type: [u8; 4],
}

static TELEMETRY: SchemaBuf<13> = SchemaBuilder::new()
    .var("uptime_ms", Kind::U64, 1)
    .var("energy", Kind::F64, 1)
    .var("offsets", Kind::I64, 2)
    .writable()
    .var("temperature", Kind::F32, 1)
    .var("motor.rpm", Kind::U32, 1)
    .writable()
    .var("delta", Kind::I32, 1)
    .var("samples", Kind::U16, 3)
    .var("bias", Kind::I16, 1)
    .var("enabled", Kind::Bool, 1)
    .writable()
    .var("mode", Kind::U8, 1)
    .var("trim", Kind::I8, 1)
    .var("flags", Kind::Bool, 5)
    .var("type", Kind::U8, 4)
    .build();

fn var<'a>(schema: &Schema<'a>, name: &str) -> &'a Variable {
    match schema.lookup(name) {
        Some((_, v)) => v,
        None => panic!("no variable {name}"),
    }
}

#[test]
fn equals_the_builder_schema() {
    let derived = Telemetry::schema();
    let built = TELEMETRY.as_schema();
    assert_eq!(derived.variables(), built.variables());
    assert_eq!(derived.name_order(), built.name_order());
    assert_eq!(derived, built);
    assert_eq!(derived.fingerprint(), built.fingerprint());
}

#[test]
fn variables_follow_the_fields() {
    let schema = Telemetry::schema();
    let offsets = [
        offset_of!(Telemetry, uptime_ms),
        offset_of!(Telemetry, energy),
        offset_of!(Telemetry, offsets),
        offset_of!(Telemetry, temperature),
        offset_of!(Telemetry, rpm),
        offset_of!(Telemetry, delta),
        offset_of!(Telemetry, samples),
        offset_of!(Telemetry, bias),
        offset_of!(Telemetry, on),
        offset_of!(Telemetry, mode),
        offset_of!(Telemetry, trim),
        offset_of!(Telemetry, flags),
        offset_of!(Telemetry, r#type),
    ];
    let expected: [(&str, Kind, u32, bool); 13] = [
        ("uptime_ms", Kind::U64, 1, false),
        ("energy", Kind::F64, 1, false),
        ("offsets", Kind::I64, 2, true),
        ("temperature", Kind::F32, 1, false),
        ("motor.rpm", Kind::U32, 1, true),
        ("delta", Kind::I32, 1, false),
        ("samples", Kind::U16, 3, false),
        ("bias", Kind::I16, 1, false),
        ("enabled", Kind::Bool, 1, true),
        ("mode", Kind::U8, 1, false),
        ("trim", Kind::I8, 1, false),
        ("flags", Kind::Bool, 5, false),
        ("type", Kind::U8, 4, false),
    ];
    assert_eq!(schema.len(), expected.len());
    let actual = schema.variables().iter().zip(expected).zip(offsets);
    for ((v, (name, kind, count, writable)), offset) in actual {
        assert_eq!(v.name.as_str(), name);
        assert_eq!(v.kind, kind, "{name}");
        assert_eq!(v.count, count, "{name}");
        assert_eq!(v.offset as usize, offset, "{name}");
        assert_eq!(v.writable, writable, "{name}");
    }
    assert_eq!(var(&schema, "samples").offset, 44);
    assert_eq!(var(&schema, "type").offset, 60);
    assert_eq!(schema.data_len() as usize, size_of::<Telemetry>());
    assert_eq!(size_of::<Telemetry>(), 64);
    assert!(schema.lookup("rpm").is_none());
    assert!(schema.lookup("on").is_none());
}

#[test]
fn returns_the_same_static_every_call() {
    let a = Telemetry::schema();
    let b = Telemetry::schema();
    assert!(core::ptr::eq(a.variables(), b.variables()));
}

type Celsius = f32;

mod wire {
    pub(crate) type Samples = [u16; 4];
}

/// Type aliases and `core` paths are accepted: the `Value` bound decides.
#[derive(Schema)]
#[repr(C, align(8))]
struct Aliased {
    samples: wire::Samples,
    temperature: Celsius,
    count: core::primitive::u32,
}

#[test]
fn aliases_and_paths_resolve_to_their_kinds() {
    let schema = Aliased::schema();
    let kinds: Vec<_> = schema
        .variables()
        .iter()
        .map(|v| (v.kind, v.count, v.offset))
        .collect();
    assert_eq!(
        kinds,
        [(Kind::U16, 4, 0), (Kind::F32, 1, 8), (Kind::U32, 1, 12)]
    );
}

/// Explicit padding fields make a layout with gaps derivable.
#[derive(Schema)]
#[repr(C)]
struct Filled {
    flag: u8,
    _pad: [u8; 3],
    count: u32,
}

#[test]
fn explicit_padding_fields_are_variables() {
    let schema = Filled::schema();
    assert_eq!(var(&schema, "_pad").count, 3);
    assert_eq!(var(&schema, "count").offset, 4);
    assert_eq!(schema.data_len(), 8);
}

#[derive(Schema)]
#[repr(C)]
struct Empty {}

#[test]
fn a_struct_without_fields_has_the_empty_schema() {
    assert_eq!(Empty::schema(), Schema::EMPTY);
    assert_eq!(Empty::schema().fingerprint(), Schema::EMPTY.fingerprint());
}

mod renamed {
    pub(crate) use memwire as wire_core;
}

/// `#[memwire(crate = "...")]` names the core crate by another path.
#[derive(Schema)]
#[memwire(crate = "renamed::wire_core")]
#[repr(C)]
struct ViaPath {
    value: u16,
}

#[test]
fn crate_path_can_be_overridden() {
    assert_eq!(var(&ViaPath::schema(), "value").kind, Kind::U16);
}
