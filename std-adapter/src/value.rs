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
//! use memwire_std::value;
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

use memwire::schema::{Kind, Name, Schema, Variable};
use serde_json::Value as Json;

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

/// The variable's value as JSON (see the [module docs](self)); `null` when
/// `bytes` is not `var.len()` long.
pub fn to_json(var: &Variable, bytes: &[u8]) -> Json {
    if !has_len(var.kind, var.count, bytes) {
        return Json::Null;
    }
    if var.kind == Kind::Bytes {
        return Json::String(format(var, bytes));
    }
    let mut elements = bytes
        .chunks_exact(var.kind.size())
        .map(|e| element_json(var.kind, e));
    if var.count == 1 {
        elements.next().unwrap_or(Json::Null)
    } else {
        Json::Array(elements.collect())
    }
}

/// Every variable of `schema` as a JSON object, name to value, in the order
/// of the schema (`serde_json` keeps keys sorted unless its `preserve_order`
/// feature is on). A variable that `data` does not fully hold is `null`.
pub fn schema_to_json(schema: Schema<'_>, data: &[u8]) -> Json {
    let object = schema
        .into_iter()
        .map(|var| {
            let value = data
                .get(var.range())
                .map_or(Json::Null, |b| to_json(var, b));
            (var.name.as_str().to_owned(), value)
        })
        .collect();
    Json::Object(object)
}

fn element_json(kind: Kind, chunk: &[u8]) -> Json {
    match decode(kind, chunk) {
        Element::Int(v) => u64::try_from(v)
            .map(Json::from)
            .or_else(|_| i64::try_from(v).map(Json::from))
            .unwrap_or(Json::Null),
        // The f64 nearest to the f32's shortest decimal, so that JSON shows
        // `0.1` rather than `0.10000000149011612`.
        Element::F32(v) => float_json(
            v.to_string()
                .parse::<f64>()
                .unwrap_or_else(|_| f64::from(v)),
        ),
        Element::F64(v) => float_json(v),
        Element::Bool(b) => Json::Bool(b),
        Element::BadBool(_) => Json::Null,
    }
}

fn float_json(v: f64) -> Json {
    match serde_json::Number::from_f64(v) {
        Some(n) => Json::Number(n),
        None if v.is_nan() => Json::from("NaN"),
        None if v > 0.0 => Json::from("inf"),
        None => Json::from("-inf"),
    }
}

/// Reads a JSON value as a value of `var` and returns its bytes, `var.len()`
/// long: the inverse of [`to_json`].
pub fn from_json(var: &Variable, value: &Json) -> Result<Vec<u8>, ValueError> {
    json_value(var.kind, var.count, value).map_err(|p| ValueError::new(var, p))
}

fn json_type(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

fn json_value(kind: Kind, count: u32, value: &Json) -> Result<Vec<u8>, Problem> {
    if let (Kind::Bytes, Json::String(s)) = (kind, value) {
        let s = s.trim();
        let hex = s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .unwrap_or(s);
        let mut out = Vec::new();
        push_hex(count, hex, s, &mut out)?;
        return Ok(out);
    }
    let mut out = Vec::new();
    match value {
        Json::Array(items) => {
            if u64::try_from(items.len()) != Ok(u64::from(count)) {
                return Err(Problem::WrongCount { found: items.len() });
            }
            let index = |i| (count != 1).then_some(i);
            for (i, item) in items.iter().enumerate() {
                json_element(kind, item, index(i), &mut out)?;
            }
        }
        _ if count != 1 => return Err(Problem::NotAList),
        _ => json_element(kind, value, None, &mut out)?,
    }
    Ok(out)
}

fn json_element(
    kind: Kind,
    value: &Json,
    element: Option<usize>,
    out: &mut Vec<u8>,
) -> Result<(), Problem> {
    let wrong_type = || Problem::JsonType {
        element,
        found: json_type(value),
    };
    match (kind, value) {
        (_, Json::String(s)) => {
            let s = s.trim();
            push_text(kind, s, out).map_err(|bad| bad.at(element, s))
        }
        (Kind::Bool, Json::Bool(b)) => {
            out.push(u8::from(*b));
            Ok(())
        }
        (Kind::F64, Json::Number(n)) => {
            let v = n.as_f64().ok_or_else(wrong_type)?;
            out.extend(v.to_le_bytes());
            Ok(())
        }
        // serde_json holds the number as an f64 (or an integer); reading its
        // shortest decimal as f32 rounds once, where `as f32` would round a
        // second time.
        (Kind::F32, Json::Number(n)) => {
            let text = n.to_string();
            let v = parse_float::<f32>(&text).map_err(|bad| bad.at(element, &text))?;
            out.extend(v.to_le_bytes());
            Ok(())
        }
        (Kind::Bool, Json::Number(n)) => {
            let text = n.to_string();
            let b = parse_bool(&text).map_err(|bad| bad.at(element, &text))?;
            out.push(u8::from(b));
            Ok(())
        }
        (_, Json::Number(n)) => {
            let text = n.to_string();
            let v = json_int(n).map_err(|bad| bad.at(element, &text))?;
            push_int(kind, v, out).map_err(|bad| bad.at(element, &text))
        }
        _ => Err(wrong_type()),
    }
}

/// A JSON number as an integer: integers as they are, floats only when whole
/// and exactly representable.
fn json_int(n: &serde_json::Number) -> Result<i128, Bad> {
    if let Some(v) = n.as_i64() {
        return Ok(v.into());
    }
    if let Some(v) = n.as_u64() {
        return Ok(v.into());
    }
    let f = n.as_f64().ok_or(Bad::Invalid)?;
    // Past 2^64 every f64 is whole but no integer kind holds it.
    if f.fract() != 0.0 {
        return Err(Bad::Invalid);
    }
    if f.abs() >= 18_446_744_073_709_551_616.0 {
        return Err(Bad::OutOfRange);
    }
    #[allow(
        clippy::cast_possible_truncation,
        reason = "whole and below 2^64 in magnitude: exact in i128"
    )]
    Ok(f as i128)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngSeed};

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
}
