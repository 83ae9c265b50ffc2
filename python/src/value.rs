//! Values between Python and a variable's bytes (native byte order, as the
//! region stores them): a scalar is an `int`, `float` or `bool`, a `bytes`
//! variable is `bytes`, an array is a read-only `numpy` array over a copy
//! of its own (never a view of the region, which a writer could tear).

use memwire::Kind;
use memwire::schema::Variable;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::PyBytes;

use crate::errors::WrongValue;

/// `numpy`, imported on the first array.
static NUMPY: GILOnceCell<Py<PyModule>> = GILOnceCell::new();

fn numpy(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    NUMPY
        .get_or_try_init(py, || Ok(py.import("numpy")?.unbind()))
        .map(|m| m.bind(py))
}

/// The `numpy` type code of one element of `kind`.
fn dtype(kind: Kind) -> &'static str {
    match kind {
        Kind::U8 | Kind::Bytes => "=u1",
        Kind::U16 => "=u2",
        Kind::U32 => "=u4",
        Kind::U64 => "=u8",
        Kind::I8 => "=i1",
        Kind::I16 => "=i2",
        Kind::I32 => "=i4",
        Kind::I64 => "=i8",
        Kind::F32 => "=f4",
        Kind::F64 => "=f8",
        Kind::Bool => "?",
    }
}

/// The element at the start of `b` as an array of `N` bytes.
fn word<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    let n = N.min(b.len());
    out[..n].copy_from_slice(&b[..n]);
    out
}

/// Variable `var`'s `bytes` (exactly its length) as a Python value.
pub(crate) fn to_python(py: Python<'_>, var: &Variable, bytes: &[u8]) -> PyResult<PyObject> {
    if var.kind == Kind::Bytes {
        return Ok(PyBytes::new(py, bytes).into_any().unbind());
    }
    if var.count != 1 {
        let copy = PyBytes::new(py, bytes);
        return Ok(numpy(py)?
            .call_method1("frombuffer", (copy, dtype(var.kind)))?
            .unbind());
    }
    let value = match var.kind {
        Kind::U8 => u8::from_ne_bytes(word(bytes)).into_pyobject(py)?.into_any(),
        Kind::U16 => u16::from_ne_bytes(word(bytes))
            .into_pyobject(py)?
            .into_any(),
        Kind::U32 => u32::from_ne_bytes(word(bytes))
            .into_pyobject(py)?
            .into_any(),
        Kind::U64 => u64::from_ne_bytes(word(bytes))
            .into_pyobject(py)?
            .into_any(),
        Kind::I8 => i8::from_ne_bytes(word(bytes)).into_pyobject(py)?.into_any(),
        Kind::I16 => i16::from_ne_bytes(word(bytes))
            .into_pyobject(py)?
            .into_any(),
        Kind::I32 => i32::from_ne_bytes(word(bytes))
            .into_pyobject(py)?
            .into_any(),
        Kind::I64 => i64::from_ne_bytes(word(bytes))
            .into_pyobject(py)?
            .into_any(),
        Kind::F32 => f32::from_ne_bytes(word(bytes))
            .into_pyobject(py)?
            .into_any(),
        Kind::F64 => f64::from_ne_bytes(word(bytes))
            .into_pyobject(py)?
            .into_any(),
        Kind::Bool => match bytes.first() {
            Some(0) => false.into_pyobject(py)?.to_owned().into_any(),
            Some(1) => true.into_pyobject(py)?.to_owned().into_any(),
            _ => {
                return Err(WrongValue::new_err(format!(
                    "variable {} does not hold a valid bool (a bool is the byte 0 or 1)",
                    var.name.as_str()
                )));
            }
        },
        Kind::Bytes => PyBytes::new(py, bytes).into_any(),
    };
    Ok(value.unbind())
}

/// The bytes of `value` for variable `var`: a scalar of the variable's
/// kind, `bytes` for a `bytes` variable, any sequence or array `numpy`
/// converts to the kind's type for an array. The length is checked by the
/// write, as in Rust.
pub(crate) fn from_python(var: &Variable, value: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if var.kind == Kind::Bytes {
        if let Ok(b) = value.downcast::<PyBytes>() {
            return Ok(b.as_bytes().to_vec());
        }
        return value.extract::<Vec<u8>>();
    }
    if var.count != 1 {
        let array =
            numpy(value.py())?.call_method1("ascontiguousarray", (value, dtype(var.kind)))?;
        let bytes = array.call_method0("tobytes")?;
        return Ok(bytes.downcast::<PyBytes>()?.as_bytes().to_vec());
    }
    Ok(match var.kind {
        Kind::U8 => value.extract::<u8>()?.to_ne_bytes().to_vec(),
        Kind::U16 => value.extract::<u16>()?.to_ne_bytes().to_vec(),
        Kind::U32 => value.extract::<u32>()?.to_ne_bytes().to_vec(),
        Kind::U64 => value.extract::<u64>()?.to_ne_bytes().to_vec(),
        Kind::I8 => value.extract::<i8>()?.to_ne_bytes().to_vec(),
        Kind::I16 => value.extract::<i16>()?.to_ne_bytes().to_vec(),
        Kind::I32 => value.extract::<i32>()?.to_ne_bytes().to_vec(),
        Kind::I64 => value.extract::<i64>()?.to_ne_bytes().to_vec(),
        Kind::F32 => value.extract::<f32>()?.to_ne_bytes().to_vec(),
        Kind::F64 => value.extract::<f64>()?.to_ne_bytes().to_vec(),
        Kind::Bool => vec![u8::from(value.extract::<bool>()?)],
        Kind::Bytes => value.extract::<Vec<u8>>()?,
    })
}
