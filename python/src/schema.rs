//! Schemas between Python and Rust: a schema given as a list of
//! `(name, kind, count, writable)` tuples or a dict of `name: kind` /
//! `name: (kind, count, writable)`, and a region's schema as that list.

use memwire::Kind;
use memwire::schema::{Name, Schema, Variable};
use memwire_std::schema::OwnedSchema;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

/// One variable as Python sees it: `(name, kind, count, writable)`.
pub(crate) type VariableTuple = (String, &'static str, u32, bool);

/// The variables of `schema` in offset order, as tuples.
pub(crate) fn to_python(schema: Schema<'_>) -> Vec<VariableTuple> {
    schema
        .variables()
        .iter()
        .map(|v| {
            (
                v.name.as_str().to_owned(),
                v.kind.name(),
                v.count,
                v.writable,
            )
        })
        .collect()
}

/// The schema a Python value describes, variables placed in the order given.
pub(crate) fn from_python(spec: &Bound<'_, PyAny>) -> PyResult<OwnedSchema> {
    let mut vars = Vec::new();
    if let Ok(dict) = spec.downcast::<PyDict>() {
        for (name, rest) in dict.iter() {
            let name: String = name.extract()?;
            let var = match rest.extract::<String>() {
                Ok(kind) => variable(&name, &kind, 1, false)?,
                Err(_) => {
                    let rest = rest.downcast::<PyTuple>().map_err(|_| {
                        PyTypeError::new_err(format!(
                            "schema entry {name}: expected a kind or a (kind, count, writable) tuple"
                        ))
                    })?;
                    let (kind, count, writable) = rest_of(rest, 0)?;
                    variable(&name, &kind, count, writable)?
                }
            };
            vars.push(var);
        }
    } else {
        let list = spec.downcast::<PyList>().map_err(|_| {
            PyTypeError::new_err(
                "a schema is a list of (name, kind, count, writable) tuples or a dict",
            )
        })?;
        for entry in list.iter() {
            let entry = entry.downcast::<PyTuple>().map_err(|_| {
                PyTypeError::new_err("a schema entry is a (name, kind, count, writable) tuple")
            })?;
            if entry.is_empty() {
                return Err(PyTypeError::new_err("a schema entry starts with the name"));
            }
            let name: String = entry.get_item(0)?.extract()?;
            let (kind, count, writable) = rest_of(entry, 1)?;
            vars.push(variable(&name, &kind, count, writable)?);
        }
    }
    OwnedSchema::new(vars).map_err(|e| PyValueError::new_err(format!("invalid schema: {e}")))
}

/// `(kind[, count[, writable]])` from `tuple[first..]`.
fn rest_of(tuple: &Bound<'_, PyTuple>, first: usize) -> PyResult<(String, u32, bool)> {
    let n = tuple.len().saturating_sub(first);
    if !(1..=3).contains(&n) {
        return Err(PyTypeError::new_err(
            "a schema entry is (name, kind), (name, kind, count) or (name, kind, count, writable)",
        ));
    }
    let kind: String = tuple.get_item(first)?.extract()?;
    let count: u32 = if n > 1 {
        tuple.get_item(first + 1)?.extract()?
    } else {
        1
    };
    let writable: bool = if n > 2 {
        tuple.get_item(first + 2)?.extract()?
    } else {
        false
    };
    Ok((kind, count, writable))
}

/// One variable, checked.
fn variable(name: &str, kind: &str, count: u32, writable: bool) -> PyResult<Variable> {
    let checked = Name::new(name)
        .map_err(|e| PyValueError::new_err(format!("invalid variable name {name:?}: {e}")))?;
    let kind = Kind::from_name(kind).ok_or_else(|| {
        let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        PyValueError::new_err(format!(
            "variable {name}: unknown kind {kind:?} (one of {})",
            kinds.join(", ")
        ))
    })?;
    let mut var = Variable::new(checked, kind, count, 0);
    var.writable = writable;
    Ok(var)
}
