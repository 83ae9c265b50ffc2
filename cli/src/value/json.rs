//! A variable's value as JSON, for `memwire dump` and `set --json` (see
//! the [module docs](super)).

use memwire::schema::{Kind, Schema, Variable};
use serde_json::Value as Json;

use super::{
    Bad, Element, Problem, ValueError, decode, format, has_len, parse_bool, parse_float, push_hex,
    push_int, push_text,
};
/// The variable's value as JSON (see the [module docs](super)); `null` when
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
