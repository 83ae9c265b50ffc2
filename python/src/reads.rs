//! Reading a shared region from Python, the same for a [`Region`] and a
//! [`Writer`]: one variable, several as of one moment, or all of them.
//! Every copy is made by the Rust reader (the seqlock, bounded waits) with
//! the GIL released; the Python values are made from the copy.
//!
//! [`Region`]: crate::region::Region
//! [`Writer`]: crate::writer::Writer

use memwire::VarId;
use memwire::region::MANY_MAX;
use memwire::schema::Variable;
use memwire_std::shm::ShmRegion;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{self, UnknownVariable};
use crate::value;

/// Variable `name` and its id, or the error Rust gives for an unknown name.
pub(crate) fn lookup(region: &ShmRegion, name: &str) -> PyResult<(VarId, &'static Variable)> {
    region
        .schema()
        .lookup(name)
        .ok_or_else(|| UnknownVariable::new_err(format!("no variable named {name}")))
}

/// A consistent copy of variable `name`, as a Python value.
pub(crate) fn read(py: Python<'_>, region: &ShmRegion, name: &str) -> PyResult<PyObject> {
    let (id, var) = lookup(region, name)?;
    let len = var.range().len();
    if len <= 8 {
        let mut word = [0u8; 8];
        py.allow_threads(|| region.read(id, &mut word[..len]))
            .map_err(errors::shm)?;
        return value::to_python(py, var, &word[..len]);
    }
    let mut out = vec![0u8; len];
    py.allow_threads(|| region.read(id, &mut out))
        .map_err(errors::shm)?;
    value::to_python(py, var, &out)
}

/// Consistent copies of the variables `names` as of one moment, as a dict.
pub(crate) fn read_many<'py>(
    py: Python<'py>,
    region: &ShmRegion,
    names: Vec<String>,
) -> PyResult<Bound<'py, PyDict>> {
    let vars = names
        .iter()
        .map(|n| lookup(region, n))
        .collect::<PyResult<Vec<_>>>()?;
    if vars.len() > MANY_MAX {
        // More than one seqlock read takes: the whole area is one moment too.
        let all = snapshot(py, region)?;
        let out = PyDict::new(py);
        for name in &names {
            if let Some(v) = all.get_item(name)? {
                out.set_item(name, v)?;
            }
        }
        return Ok(out);
    }
    let ids: Vec<VarId> = vars.iter().map(|(id, _)| *id).collect();
    let mut bufs: Vec<Vec<u8>> = vars.iter().map(|(_, v)| vec![0; v.range().len()]).collect();
    py.allow_threads(|| {
        let mut outs: Vec<&mut [u8]> = bufs.iter_mut().map(Vec::as_mut_slice).collect();
        region.read_many(&ids, &mut outs)
    })
    .map_err(errors::shm)?;
    let out = PyDict::new(py);
    for (name, ((_, var), bytes)) in names.iter().zip(vars.iter().zip(&bufs)) {
        out.set_item(name, value::to_python(py, var, bytes)?)?;
    }
    Ok(out)
}

/// A consistent copy of every variable, as a dict in offset order.
pub(crate) fn snapshot<'py>(py: Python<'py>, region: &ShmRegion) -> PyResult<Bound<'py, PyDict>> {
    let (_, dict) = snapshot_with_generation(py, region)?;
    Ok(dict)
}

/// [`snapshot`] and the generation it was taken at.
pub(crate) fn snapshot_with_generation<'py>(
    py: Python<'py>,
    region: &ShmRegion,
) -> PyResult<(u64, Bound<'py, PyDict>)> {
    let mut data = vec![0u8; region.data_len()];
    let generation = py
        .allow_threads(|| region.snapshot(&mut data))
        .map_err(errors::shm)?;
    Ok((
        generation,
        variables(py, region.schema().variables(), &data)?,
    ))
}

/// Every variable of `vars` cut from a copy of the data area, as a dict.
pub(crate) fn variables<'py>(
    py: Python<'py>,
    vars: &[Variable],
    data: &[u8],
) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    for var in vars {
        let bytes = data.get(var.range()).unwrap_or_default();
        out.set_item(var.name.as_str(), value::to_python(py, var, bytes)?)?;
    }
    Ok(out)
}
