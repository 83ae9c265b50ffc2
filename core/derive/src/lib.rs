//! `#[derive(Schema)]`: a memwire region schema from a `#[repr(C)]` struct.
//!
//! Depend on `memwire` with its `derive` feature, which re-exports this
//! macro as `memwire::Schema`; the generated code names `::memwire`, so
//! `memwire-derive` is not a dependency of its own:
//!
//! ```toml
//! memwire = { version = "0.1", features = ["derive"] }
//! ```
//!
//! Each named field of the struct is one variable of the schema, in
//! declaration order, at the field's offset. The derive implements
//! [`memwire::schema::Record`](https://docs.rs/memwire/latest/memwire/schema/trait.Record.html),
//! whose `schema()` returns a schema built at compile time by the same
//! `SchemaBuilder` a hand-written schema uses, so both have the same
//! variables and fingerprint.
//!
//! ```
//! use memwire::Schema;
//! use memwire::schema::{Kind, Record};
//!
//! #[derive(Schema)]
//! #[repr(C)]
//! struct Telemetry {
//!     uptime_ms: u64,
//!     #[memwire(name = "motor.rpm")]
//!     rpm: [f32; 2],
//!     #[memwire(writable)]
//!     setpoint: f32,
//!     enabled: bool,
//!     mode: u8,
//!     _reserved: [u8; 2],
//! }
//!
//! let schema = Telemetry::schema();
//! let (_, rpm) = schema.lookup("motor.rpm").unwrap();
//! assert_eq!((rpm.kind, rpm.count, rpm.offset), (Kind::F32, 2, 8));
//! assert!(schema.lookup("setpoint").unwrap().1.writable);
//! assert_eq!(schema.data_len() as usize, size_of::<Telemetry>());
//!
//! // Read and written field by field, each in its stored form.
//! let mut data = [0u8; Telemetry::DATA_LEN];
//! let telemetry = Telemetry {
//!     uptime_ms: 5,
//!     rpm: [1.0, 2.0],
//!     setpoint: 0.5,
//!     enabled: true,
//!     mode: 2,
//!     _reserved: [0; 2],
//! };
//! telemetry.encode(&mut data).unwrap();
//! assert_eq!(data[20], 1); // `enabled`, the byte 1
//! assert_eq!(Telemetry::decode(&data).unwrap().rpm, [1.0, 2.0]);
//! ```
//!
//! # Fields
//!
//! A field's type is a scalar (`u8`..`u64`, `i8`..`i64`, `f32`, `f64`,
//! `bool`) or an array `[S; N]` of one; any type that implements
//! `memwire::schema::Value` is accepted, so a type alias of those works too.
//! Field attributes:
//!
//! - `#[memwire(name = "...")]`: the variable's name, instead of the field's
//!   (names are 1 to 40 bytes of `[A-Za-z0-9_.-]`).
//! - `#[memwire(writable)]`: remote peers with write rights may write the
//!   variable.
//!
//! # Reading and writing
//!
//! `Record::encode` and `Record::decode` write and read each field in its
//! variable's stored form, so the struct needs no `bytemuck::Pod` and a
//! `bool` field works: it is stored as the byte 0 or 1, and `decode` fails
//! with `RecordError::InvalidValue` naming the variable whose byte is
//! anything else. memwire-std's typed handles (`ShmWriter::store`,
//! `ShmRegion::load`, `Mirror::load`) go through them.
//!
//! # Sizes
//!
//! The `Record` constants give the memory a region of the struct needs, in
//! a `const` context, so a device sizes its `static`s with them:
//! `REGION_LEN` and `REGION_WORDS` (the region, for `Region::init`),
//! `DATA_LEN` and `TABLE_LEN` (a published region's shadow, scan buffer and
//! chunk table), `WRITE_LEN` (the largest writable variable) and
//! `FRAME_LEN` (the smallest largest-frame that carries a write of it).
//!
//! # What is checked at compile time
//!
//! The struct must be `#[repr(C)]` (not `packed`), have named fields and no
//! generics. Every field must sit at the offset the schema gives it, and the
//! struct must have no padding, since padding bytes are uninitialised and
//! would be copied into the region; reorder the fields (largest first) or add
//! explicit fields such as `_reserved: [u8; 3]` to fill the gaps:
//!
//! ```compile_fail,E0080
//! use memwire::Schema;
//!
//! #[derive(Schema)]
//! #[repr(C)]
//! struct Padded {
//!     flag: u8,
//!     count: u32, // three padding bytes before it
//! }
//! ```
//!
//! The generated code names `::memwire`; a crate that reaches `memwire` by
//! another path (a re-export such as `memwire_embassy::core`) says so on
//! the struct with `#[memwire(crate = "path::to::memwire")]`.

mod expand;
mod parse;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Implements `memwire::schema::Record` for a `#[repr(C)]` struct whose
/// fields are the variables of a region.
///
/// See the [crate documentation](crate) for the accepted fields, the
/// `#[memwire(...)]` attributes and the compile-time checks.
#[proc_macro_derive(Schema, attributes(memwire))]
pub fn derive_schema(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    parse::Record::from_input(&input)
        .map(|record| expand::expand(&record))
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
