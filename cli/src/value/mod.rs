//! A variable's value as text and as JSON: what `memwire get`, `set`, `watch`
//! and `dump` print and accept.
//!
//! A variable is `count` elements of one [`Kind`], little-endian (see
//! [`Variable`]). Its value is written as follows.
//!
//! | kind | text | JSON |
//! | --- | --- | --- |
//! | `u8`..`u64`, `i8`..`i64` | decimal: `42`, `-3` | number |
//! | `f32`, `f64` | shortest form that reads back to the same number: `1.5`, `2.0`, `-0.0`, `1e-7`, `3.4028235e38`; `NaN`, `inf`, `-inf` | number; the strings `"NaN"`, `"inf"`, `"-inf"` |
//! | `bool` | `true`, `false` | `true`, `false` |
//! | `bytes` | `0x` and two lower-case hex digits per byte, whatever the count: `0x00ff10` | the same string |
//!
//! A variable of one element is written as that element; more elements as a
//! list, `[1, 2, 3]` (a JSON array), including `u8` arrays. Floats use plain
//! decimals from 1e-5 up to 1e16 and exponent form outside that range, and
//! always show a fraction or an exponent, like Rust literals. A NaN reads back
//! as the canonical NaN: its sign and payload are not kept.
//!
//! Bytes that are not a value are still shown, never a panic: a `bool` byte
//! other than 0 or 1 is written `invalid(2)` (JSON `null`), and bytes of the
//! wrong length for the variable are written `<3 bytes, expected 4>` (JSON
//! `null`).
//!
//! For `memwire watch`, [`fitted`] writes a value in a given number of
//! characters, a long numeric array as a [`summary`] (`fit.rs`).
//!
//! Reading ([`parse`], [`from_json`]) accepts what is written and a little
//! more:
//!
//! - integers in decimal or hex (`0xff`, `-0x80`), with an optional sign and
//!   `_` between digits; checked against the kind's range (300 is not a `u8`);
//! - floats in any form Rust reads (`1`, `.5`, `1e3`, `nan`, `infinity`); a
//!   finite number too large for the kind is out of range, not infinity;
//! - `bool` as `true`/`false` (any case) or `1`/`0`;
//! - `bytes` as the hex string or as a list of integers 0 to 255;
//! - a one-element list for a single value; otherwise a list must have exactly
//!   `count` elements, and a trailing comma is allowed;
//! - in JSON, any element may also be a string in the text form (`"0xff"`,
//!   `"NaN"`), and an integral float (`3.0`) is accepted for an integer kind.
//!
//! ```
//! use memwire_std::core::schema::{Kind, Name, Variable};
//! use memwire_cli::value;
//!
//! let pos = Variable::new(Name::new("pos")?, Kind::I16, 3, 0);
//! let bytes = value::parse(&pos, "[1, -2, 0x10]")?;
//! assert_eq!(bytes, [1, 0, 0xfe, 0xff, 16, 0]);
//! assert_eq!(value::format(&pos, &bytes), "[1, -2, 16]");
//! assert_eq!(value::to_json(&pos, &bytes), serde_json::json!([1, -2, 16]));
//!
//! let err = value::parse(&pos, "[1, 2, 40000]").unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "invalid value for `pos` (i16[3]): element 2: `40000` is out of range for i16 (-32768 to 32767)"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt::{self, Write as _};

use memwire::schema::{Kind, Name, Variable};

mod fit;
mod json;
#[cfg(test)]
mod tests;

pub use fit::{fitted, summary};
pub use json::{from_json, schema_to_json, to_json};

/// The longest piece of the input quoted in an error message, in characters.
const QUOTE_MAX: usize = 32;

/// Floats at least this large (in magnitude) are written with an exponent.
const EXP_ABOVE: f64 = 1e16;
/// Nonzero floats smaller than this (in magnitude) are written with an exponent.
const EXP_BELOW: f64 = 1e-5;

/// The type of a variable as shown to users: `f32` for one element, `f32[3]`
/// for more.
pub fn type_name(kind: Kind, count: u32) -> String {
    if count == 1 {
        kind.name().to_owned()
    } else {
        format!("{}[{count}]", kind.name())
    }
}

/// The variable's value as text (see the [module docs](self)).
pub fn format(var: &Variable, bytes: &[u8]) -> String {
    text(var, bytes).to_string()
}

/// The variable's value as a [`fmt::Display`], written without building a
/// `String` first: a caller that shows only the start of a long array can
/// stop writing early.
pub fn text<'a>(var: &Variable, bytes: &'a [u8]) -> Text<'a> {
    Text {
        kind: var.kind,
        count: var.count,
        bytes,
    }
}

/// A variable's value, displayed as [`format()`] writes it.
#[derive(Clone, Copy, Debug)]
pub struct Text<'a> {
    kind: Kind,
    count: u32,
    bytes: &'a [u8],
}

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !has_len(self.kind, self.count, self.bytes) {
            return write!(
                f,
                "<{} bytes, expected {}>",
                self.bytes.len(),
                expected_len(self.kind, self.count)
            );
        }
        if self.kind == Kind::Bytes {
            f.write_str("0x")?;
            return self.bytes.iter().try_for_each(|b| write!(f, "{b:02x}"));
        }
        let mut elements = self.bytes.chunks_exact(self.kind.size());
        if self.count == 1 {
            return elements
                .next()
                .map_or(Ok(()), |e| write_element(self.kind, e, f));
        }
        f.write_char('[')?;
        for (i, element) in elements.enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write_element(self.kind, element, f)?;
        }
        f.write_char(']')
    }
}

/// The number of bytes `count` elements of `kind` take.
fn expected_len(kind: Kind, count: u32) -> u64 {
    u64::from(count) * kind.size() as u64
}

fn has_len(kind: Kind, count: u32, bytes: &[u8]) -> bool {
    u64::try_from(bytes.len()).is_ok_and(|n| n == expected_len(kind, count))
}

/// The first `N` bytes of `chunk`, zero-padded: callers pass exact chunks,
/// and a short one cannot panic.
fn array<const N: usize>(chunk: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    out.iter_mut().zip(chunk).for_each(|(o, b)| *o = *b);
    out
}

/// One decoded element.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Element {
    Int(i128),
    F32(f32),
    F64(f64),
    Bool(bool),
    /// A `bool` byte other than 0 or 1.
    BadBool(u8),
}

fn decode(kind: Kind, chunk: &[u8]) -> Element {
    match kind {
        Kind::U8 | Kind::Bytes => Element::Int(u8::from_le_bytes(array(chunk)).into()),
        Kind::U16 => Element::Int(u16::from_le_bytes(array(chunk)).into()),
        Kind::U32 => Element::Int(u32::from_le_bytes(array(chunk)).into()),
        Kind::U64 => Element::Int(u64::from_le_bytes(array(chunk)).into()),
        Kind::I8 => Element::Int(i8::from_le_bytes(array(chunk)).into()),
        Kind::I16 => Element::Int(i16::from_le_bytes(array(chunk)).into()),
        Kind::I32 => Element::Int(i32::from_le_bytes(array(chunk)).into()),
        Kind::I64 => Element::Int(i64::from_le_bytes(array(chunk)).into()),
        Kind::F32 => Element::F32(f32::from_le_bytes(array(chunk))),
        Kind::F64 => Element::F64(f64::from_le_bytes(array(chunk))),
        Kind::Bool => match u8::from_le_bytes(array(chunk)) {
            0 => Element::Bool(false),
            1 => Element::Bool(true),
            b => Element::BadBool(b),
        },
    }
}

fn write_element(kind: Kind, chunk: &[u8], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match decode(kind, chunk) {
        Element::Int(v) => write!(f, "{v}"),
        Element::F32(v) => write_float(f, v, f64::from(v)),
        Element::F64(v) => write_float(f, v, v),
        Element::Bool(b) => write!(f, "{b}"),
        Element::BadBool(b) => write!(f, "invalid({b})"),
    }
}

/// Writes `v` (whose value as `f64` is `wide`) in the shortest form that
/// reads back to `v`, as a Rust literal.
///
/// Rust's `Display` never uses an exponent (`1e300` would be 301 digits) and
/// drops the fraction of whole numbers; its `Debug` form is close to this but
/// not documented as stable, so the rule is spelled out here.
fn write_float<F: fmt::Display + fmt::LowerExp>(
    f: &mut fmt::Formatter<'_>,
    v: F,
    wide: f64,
) -> fmt::Result {
    if wide.is_nan() {
        f.write_str("NaN")
    } else if wide.is_infinite() {
        f.write_str(if wide > 0.0 { "inf" } else { "-inf" })
    } else if wide != 0.0 && !(EXP_BELOW..EXP_ABOVE).contains(&wide.abs()) {
        write!(f, "{v:e}")
    } else if wide.fract() == 0.0 {
        write!(f, "{v}.0")
    } else {
        write!(f, "{v}")
    }
}

/// Why a value could not be read; see [`ValueError`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// A piece of the input is not a value of the kind.
    Invalid {
        /// The element's index, when the variable has several.
        element: Option<usize>,
        /// The piece, cut to 32 characters.
        text: String,
    },
    /// A number outside the kind's range.
    OutOfRange {
        /// The element's index, when the variable has several.
        element: Option<usize>,
        /// The number as given, cut to 32 characters.
        text: String,
    },
    /// A list (or hex string) with the wrong number of elements.
    WrongCount {
        /// The number of elements given.
        found: usize,
    },
    /// A single value where the variable needs a list of several.
    NotAList,
    /// A JSON value of a type the kind cannot take.
    JsonType {
        /// The element's index, when the variable has several.
        element: Option<usize>,
        /// The JSON type found: `null`, `object`...
        found: &'static str,
    },
}

/// A value that does not fit a variable: names the variable, its type and
/// what was wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueError {
    /// The variable's name.
    pub name: Name,
    /// The variable's element kind.
    pub kind: Kind,
    /// The variable's element count.
    pub count: u32,
    /// What was wrong.
    pub problem: Problem,
}

impl ValueError {
    fn new(var: &Variable, problem: Problem) -> Self {
        ValueError {
            name: var.name,
            kind: var.kind,
            count: var.count,
            problem,
        }
    }
}

fn write_at(f: &mut fmt::Formatter<'_>, element: Option<usize>) -> fmt::Result {
    match element {
        Some(i) => write!(f, "element {i}: "),
        None => Ok(()),
    }
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, count) = (self.kind, self.count);
        write!(
            f,
            "invalid value for `{}` ({}): ",
            self.name,
            type_name(kind, count)
        )?;
        match &self.problem {
            Problem::Invalid { element, text } => {
                write_at(f, *element)?;
                write!(f, "cannot read `{text}` as {kind}")?;
                match kind {
                    Kind::Bool => f.write_str(" (true, false, 1 or 0)"),
                    Kind::Bytes if count > 1 => {
                        f.write_str(" (0x and two hex digits per byte, or integers 0 to 255)")
                    }
                    _ => Ok(()),
                }
            }
            Problem::OutOfRange { element, text } => {
                write_at(f, *element)?;
                write!(f, "`{text}` is out of range for {kind}")?;
                match int_range(kind) {
                    Some((min, max)) => write!(f, " ({min} to {max})"),
                    None => Ok(()),
                }
            }
            Problem::WrongCount { found } => {
                write!(f, "found {found} elements, expected {count}")
            }
            Problem::NotAList => {
                write!(f, "expected a list `[a, b, ...]` of {count} elements")?;
                if kind == Kind::Bytes {
                    write!(f, " or `0x` and {count} hex byte pairs")?;
                }
                Ok(())
            }
            Problem::JsonType { element, found } => {
                write_at(f, *element)?;
                write!(f, "expected a {kind} value, found JSON {found}")
            }
        }
    }
}

impl std::error::Error for ValueError {}

/// The smallest and largest value of an integer kind.
fn int_range(kind: Kind) -> Option<(i128, i128)> {
    Some(match kind {
        Kind::U8 | Kind::Bytes => (0, u8::MAX.into()),
        Kind::U16 => (0, u16::MAX.into()),
        Kind::U32 => (0, u32::MAX.into()),
        Kind::U64 => (0, u64::MAX.into()),
        Kind::I8 => (i8::MIN.into(), i8::MAX.into()),
        Kind::I16 => (i16::MIN.into(), i16::MAX.into()),
        Kind::I32 => (i32::MIN.into(), i32::MAX.into()),
        Kind::I64 => (i64::MIN.into(), i64::MAX.into()),
        Kind::F32 | Kind::F64 | Kind::Bool => return None,
    })
}

/// `text` cut to [`QUOTE_MAX`] characters for an error message.
fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTE_MAX) {
        Some((end, _)) => format!("{}…", text.get(..end).unwrap_or_default()),
        None => text.to_owned(),
    }
}

/// An element-level problem, before the element's index is known.
enum Bad {
    Invalid,
    OutOfRange,
}

impl Bad {
    fn at(self, element: Option<usize>, text: &str) -> Problem {
        let text = quote(text);
        match self {
            Bad::Invalid => Problem::Invalid { element, text },
            Bad::OutOfRange => Problem::OutOfRange { element, text },
        }
    }
}

fn parse_int(text: &str) -> Result<i128, Bad> {
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, text.get(1..).unwrap_or_default()),
        Some(b'+') => (false, text.get(1..).unwrap_or_default()),
        _ => (false, text),
    };
    let (radix, digits) = match rest.get(..2) {
        Some("0x" | "0X") => (16, rest.get(2..).unwrap_or_default()),
        _ => (10, rest),
    };
    // Check the digits here: `from_str_radix` would also take a second sign.
    let valid = digits.starts_with(|c: char| c.is_digit(radix))
        && digits.chars().all(|c| c == '_' || c.is_digit(radix));
    if !valid {
        return Err(Bad::Invalid);
    }
    let digits: String = digits.chars().filter(|&c| c != '_').collect();
    // The digits are valid, so the only error left is overflow.
    let magnitude = u128::from_str_radix(&digits, radix).map_err(|_| Bad::OutOfRange)?;
    let value = i128::try_from(magnitude).map_err(|_| Bad::OutOfRange)?;
    Ok(if negative { -value } else { value })
}

/// Reads a float; a finite number that rounds to infinity is out of range.
fn parse_float<F: std::str::FromStr + Into<f64> + Copy>(text: &str) -> Result<F, Bad> {
    let value: F = text.parse().map_err(|_| Bad::Invalid)?;
    let unsigned = text.trim_start_matches(['+', '-']);
    let names_infinity =
        unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity");
    if value.into().is_infinite() && !names_infinity {
        return Err(Bad::OutOfRange);
    }
    Ok(value)
}

fn parse_bool(text: &str) -> Result<bool, Bad> {
    if text.eq_ignore_ascii_case("true") || text == "1" {
        Ok(true)
    } else if text.eq_ignore_ascii_case("false") || text == "0" {
        Ok(false)
    } else {
        Err(Bad::Invalid)
    }
}

/// Appends the little-endian bytes of integer `v` as `kind`, range-checked.
fn push_int(kind: Kind, v: i128, out: &mut Vec<u8>) -> Result<(), Bad> {
    let range = || Bad::OutOfRange;
    match kind {
        Kind::U8 | Kind::Bytes => out.push(u8::try_from(v).map_err(|_| range())?),
        Kind::U16 => out.extend(u16::try_from(v).map_err(|_| range())?.to_le_bytes()),
        Kind::U32 => out.extend(u32::try_from(v).map_err(|_| range())?.to_le_bytes()),
        Kind::U64 => out.extend(u64::try_from(v).map_err(|_| range())?.to_le_bytes()),
        Kind::I8 => out.extend(i8::try_from(v).map_err(|_| range())?.to_le_bytes()),
        Kind::I16 => out.extend(i16::try_from(v).map_err(|_| range())?.to_le_bytes()),
        Kind::I32 => out.extend(i32::try_from(v).map_err(|_| range())?.to_le_bytes()),
        Kind::I64 => out.extend(i64::try_from(v).map_err(|_| range())?.to_le_bytes()),
        Kind::F32 | Kind::F64 | Kind::Bool => return Err(Bad::Invalid),
    }
    Ok(())
}

/// Reads one element written as text and appends its bytes.
fn push_text(kind: Kind, text: &str, out: &mut Vec<u8>) -> Result<(), Bad> {
    match kind {
        Kind::F32 => out.extend(parse_float::<f32>(text)?.to_le_bytes()),
        Kind::F64 => out.extend(parse_float::<f64>(text)?.to_le_bytes()),
        Kind::Bool => out.push(u8::from(parse_bool(text)?)),
        _ => push_int(kind, parse_int(text)?, out)?,
    }
    Ok(())
}

/// Reads `text` as a value of `var` and returns its bytes, `var.len()` long.
///
/// The inverse of [`format()`]; see the [module docs](self) for what is
/// accepted. Never allocates more than the input's size suggests, whatever
/// the variable's count.
pub fn parse(var: &Variable, text: &str) -> Result<Vec<u8>, ValueError> {
    parse_text(var.kind, var.count, text.trim()).map_err(|p| ValueError::new(var, p))
}

fn parse_text(kind: Kind, count: u32, text: &str) -> Result<Vec<u8>, Problem> {
    let mut out = Vec::new();
    let hex = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"));
    if let (Kind::Bytes, Some(hex)) = (kind, hex) {
        push_hex(count, hex, text, &mut out)?;
        return Ok(out);
    }
    let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) else {
        if count != 1 {
            return Err(Problem::NotAList);
        }
        push_text(kind, text, &mut out).map_err(|bad| bad.at(None, text))?;
        return Ok(out);
    };
    let inner = inner.trim();
    let inner = inner.strip_suffix(',').unwrap_or(inner);
    let found = if inner.is_empty() {
        0
    } else {
        inner.split(',').count()
    };
    if u64::try_from(found) != Ok(u64::from(count)) {
        return Err(Problem::WrongCount { found });
    }
    let index = |i| (count != 1).then_some(i);
    for (i, piece) in inner.split(',').filter(|_| found > 0).enumerate() {
        let piece = piece.trim();
        push_text(kind, piece, &mut out).map_err(|bad| bad.at(index(i), piece))?;
    }
    Ok(out)
}

/// Appends the bytes of a hex string (without its `0x`); `whole` is the input
/// quoted in errors.
fn push_hex(count: u32, hex: &str, whole: &str, out: &mut Vec<u8>) -> Result<(), Problem> {
    if !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Bad::Invalid.at(None, whole));
    }
    let found = hex.len() / 2;
    if u64::try_from(found) != Ok(u64::from(count)) {
        return Err(Problem::WrongCount { found });
    }
    for pair in hex.as_bytes().chunks_exact(2) {
        let pair = std::str::from_utf8(pair).map_err(|_| Bad::Invalid.at(None, whole))?;
        out.push(u8::from_str_radix(pair, 16).map_err(|_| Bad::Invalid.at(None, whole))?);
    }
    Ok(())
}
