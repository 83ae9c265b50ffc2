//! [`Writer`]: a shared region held for writing (the OS writer lock, as a
//! Rust `ShmWriter` holds it), with the reader's API besides.

use std::path::PathBuf;

use memwire::VarId;
use memwire_std::shm::{ShmRegion, ShmWriter};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyType};

use crate::errors::{self, Closed};
use crate::reads;
use crate::region::root;
use crate::schema::{self, VariableTuple};
use crate::value;
use crate::watcher::Watcher;

/// A shared region held for writing: the only writer until `close()` (or
/// the end of a `with` block, or the process).
#[pyclass(module = "memwire")]
pub(crate) struct Writer {
    writer: Option<ShmWriter>,
    name: String,
}

impl Writer {
    fn held(&self) -> PyResult<&ShmWriter> {
        self.writer
            .as_ref()
            .ok_or_else(|| Closed::new_err(format!("the writer of {} is closed", self.name)))
    }

    fn reader(&self) -> PyResult<&ShmRegion> {
        Ok(self.held()?.reader())
    }

    fn new(writer: ShmWriter, name: &str) -> Writer {
        Writer {
            writer: Some(writer),
            name: name.to_owned(),
        }
    }
}

#[pymethods]
impl Writer {
    /// Creates region `path` with `schema` (a list of `(name, kind, count,
    /// writable)` or a dict) and holds it; `RegionExists` if one is there.
    #[staticmethod]
    #[pyo3(signature = (path, schema, root=None))]
    fn create(
        py: Python<'_>,
        path: &str,
        schema: &Bound<'_, PyAny>,
        root: Option<PathBuf>,
    ) -> PyResult<Writer> {
        let schema = schema::from_python(schema)?;
        let root = self::root(root);
        py.allow_threads(|| ShmWriter::create(&root, path, schema.as_schema()))
            .map(|w| Writer::new(w, path))
            .map_err(errors::shm)
    }

    /// Opens existing region `path` and holds it.
    #[staticmethod]
    #[pyo3(signature = (path, root=None))]
    fn open(py: Python<'_>, path: &str, root: Option<PathBuf>) -> PyResult<Writer> {
        let root = self::root(root);
        py.allow_threads(|| ShmWriter::open(&root, path))
            .map(|w| Writer::new(w, path))
            .map_err(errors::shm)
    }

    /// Opens region `path`, creating it with `schema` if it is absent;
    /// `SchemaMismatch` if it exists with other variables.
    #[staticmethod]
    #[pyo3(signature = (path, schema, root=None))]
    fn open_or_create(
        py: Python<'_>,
        path: &str,
        schema: &Bound<'_, PyAny>,
        root: Option<PathBuf>,
    ) -> PyResult<Writer> {
        let schema = schema::from_python(schema)?;
        let root = self::root(root);
        py.allow_threads(|| ShmWriter::open_or_create(&root, path, schema.as_schema()))
            .map(|w| Writer::new(w, path))
            .map_err(errors::shm)
    }

    /// Writes `value` to variable `name` and commits; the new generation.
    fn set(&self, py: Python<'_>, name: &str, value: &Bound<'_, PyAny>) -> PyResult<u64> {
        let writer = self.held()?;
        let (id, var) = reads::lookup(writer.reader(), name)?;
        let bytes = value::from_python(var, value)?;
        py.allow_threads(|| writer.write(id, &bytes))
            .map_err(errors::shm)
    }

    /// Writes raw `data` (exactly the variable's length) to variable
    /// `name` and commits; the new generation.
    fn write(&self, py: Python<'_>, name: &str, data: Vec<u8>) -> PyResult<u64> {
        let writer = self.held()?;
        let (id, _) = reads::lookup(writer.reader(), name)?;
        py.allow_threads(|| writer.write(id, &data))
            .map_err(errors::shm)
    }

    /// Writes several variables (a dict of name to value) in one commit;
    /// the new generation.
    fn set_many(&self, py: Python<'_>, values: &Bound<'_, PyDict>) -> PyResult<u64> {
        let writer = self.held()?;
        let mut parts: Vec<(VarId, Vec<u8>)> = Vec::with_capacity(values.len());
        for (name, value) in values.iter() {
            let name: String = name.extract()?;
            let (id, var) = reads::lookup(writer.reader(), &name)?;
            parts.push((id, value::from_python(var, &value)?));
        }
        py.allow_threads(|| {
            let parts: Vec<(VarId, &[u8])> =
                parts.iter().map(|(id, b)| (*id, b.as_slice())).collect();
            writer.write_many(&parts)
        })
        .map_err(errors::shm)
    }

    /// Marks the current state consistent (for a hub's `manual` publish
    /// policy); the generation marked.
    fn publish(&self, py: Python<'_>) -> PyResult<u64> {
        let writer = self.held()?;
        py.allow_threads(|| writer.publish()).map_err(errors::shm)
    }

    /// Applies the writes other processes (a hub) asked of this writer;
    /// the generation of the last one applied, or `None`.
    fn apply_requests(&self, py: Python<'_>) -> PyResult<Option<u64>> {
        let writer = self.held()?;
        Ok(py
            .allow_threads(|| writer.apply_requests())
            .map(|w| w.generation))
    }

    /// Lets go of the region (the writer lock); reads and writes then
    /// raise `Closed`.
    fn close(&mut self, py: Python<'_>) {
        if let Some(writer) = self.writer.take() {
            py.allow_threads(|| drop(writer));
        }
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __exit__(
        &mut self,
        py: Python<'_>,
        kind: Option<&Bound<'_, PyType>>,
        value: Option<&Bound<'_, PyAny>>,
        traceback: Option<&Bound<'_, PyAny>>,
    ) -> bool {
        // Closed whatever ended the block; an exception goes on.
        let _ = (kind, value, traceback);
        self.close(py);
        false
    }

    /// The region's path, `tenant/region`.
    #[getter]
    fn path(&self) -> &str {
        &self.name
    }

    /// The variables, in offset order, as `(name, kind, count, writable)`.
    #[getter]
    fn schema(&self) -> PyResult<Vec<VariableTuple>> {
        Ok(schema::to_python(self.reader()?.schema()))
    }

    /// The generation (number of commits).
    #[getter]
    fn generation(&self, py: Python<'_>) -> PyResult<u64> {
        let reader = self.reader()?;
        py.allow_threads(|| reader.generation())
            .map_err(errors::shm)
    }

    /// A consistent copy of variable `name`.
    fn read(&self, py: Python<'_>, name: &str) -> PyResult<PyObject> {
        reads::read(py, self.reader()?, name)
    }

    /// Consistent copies of `names` as of one moment, as a dict.
    fn read_many<'py>(&self, py: Python<'py>, names: Vec<String>) -> PyResult<Bound<'py, PyDict>> {
        reads::read_many(py, self.reader()?, names)
    }

    /// A consistent copy of every variable, as a dict.
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        reads::snapshot(py, self.reader()?)
    }

    /// A watcher of the changes from now on.
    fn watch(&self, py: Python<'_>) -> PyResult<Watcher> {
        let reader = self.reader()?;
        let watcher = py.allow_threads(|| reader.watch()).map_err(errors::shm)?;
        Ok(Watcher::new(watcher))
    }

    fn __repr__(&self) -> String {
        format!("Writer({:?})", self.name)
    }
}
