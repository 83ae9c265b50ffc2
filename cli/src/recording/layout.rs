//! A region's schema as a channel's schema record holds it: JSON a reader
//! anywhere can parse, giving each variable's name, kind, element count
//! and offset in the data area.
//!
//! ```json
//! {"format": 1, "data_len": 64, "fingerprint": "0x1234...",
//!  "variables": [{"name": "temperature", "kind": "f32", "count": 1,
//!                 "offset": 8, "writable": false}, ...]}
//! ```
//!
//! Kinds are `u8` … `u64`, `i8` … `i64`, `f32`, `f64`, `bool` (one byte,
//! 0 or 1) and `bytes`; every number in the data area is little-endian.

use memwire::schema::{Kind, Name, Schema, Variable};
use memwire_std::schema::OwnedSchema;
use serde_json::{Value as Json, json};
use thiserror::Error;

/// The version of the layout's JSON this code writes and reads.
const FORMAT: u64 = 1;

/// A recorded region's schema and the size of its data area.
#[derive(Debug)]
pub struct Layout {
    /// The schema, as the region holds it.
    pub schema: OwnedSchema,
    /// The size of the data area in bytes.
    pub data_len: usize,
}

/// Why a schema record is not a [`Layout`].
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LayoutJsonError {
    /// The record is not JSON.
    #[error("the schema record is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A field is missing or of the wrong type.
    #[error("the schema record has no valid `{0}`")]
    Field(&'static str),
    /// The record says a format this code does not read.
    #[error("the schema record is in format {0}; this memwire reads format 1")]
    Format(u64),
    /// The variables do not make a valid schema.
    #[error("the schema record's variables are not a valid schema: {0}")]
    Schema(memwire::schema::SchemaError),
}

impl Layout {
    /// The layout of `schema`, whose data area is `data_len` bytes.
    pub fn new(schema: Schema<'_>, data_len: usize) -> Layout {
        Layout {
            schema: OwnedSchema::from_schema(schema),
            data_len,
        }
    }

    /// The layout as the schema record's bytes.
    pub fn to_json(&self) -> Vec<u8> {
        let schema = self.schema.as_schema();
        let variables: Vec<Json> = schema
            .into_iter()
            .map(|v| {
                json!({
                    "name": v.name.as_str(),
                    "kind": v.kind.name(),
                    "count": v.count,
                    "offset": v.offset,
                    "writable": v.writable,
                })
            })
            .collect();
        let document = json!({
            "format": FORMAT,
            "data_len": self.data_len,
            "fingerprint": format!("{:#018x}", schema.fingerprint()),
            "variables": variables,
        });
        document.to_string().into_bytes()
    }

    /// Reads a schema record's bytes.
    pub fn from_json(bytes: &[u8]) -> Result<Layout, LayoutJsonError> {
        let document: Json = serde_json::from_slice(bytes)?;
        let format = document["format"]
            .as_u64()
            .ok_or(LayoutJsonError::Field("format"))?;
        if format != FORMAT {
            return Err(LayoutJsonError::Format(format));
        }
        let data_len = document["data_len"]
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or(LayoutJsonError::Field("data_len"))?;
        let list = document["variables"]
            .as_array()
            .ok_or(LayoutJsonError::Field("variables"))?;
        let mut variables = Vec::with_capacity(list.len());
        for item in list {
            let name = item["name"]
                .as_str()
                .and_then(|n| Name::new(n).ok())
                .ok_or(LayoutJsonError::Field("name"))?;
            let kind = item["kind"]
                .as_str()
                .and_then(Kind::from_name)
                .ok_or(LayoutJsonError::Field("kind"))?;
            let count = number(item, "count")?;
            let offset = number(item, "offset")?;
            let mut variable = Variable::new(name, kind, count, offset);
            variable.writable = item["writable"].as_bool().unwrap_or(false);
            variables.push(variable);
        }
        let schema = OwnedSchema::from_placed(variables).map_err(LayoutJsonError::Schema)?;
        Ok(Layout { schema, data_len })
    }
}

fn number(item: &Json, field: &'static str) -> Result<u32, LayoutJsonError> {
    item[field]
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or(LayoutJsonError::Field(field))
}
