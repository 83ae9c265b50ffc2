//! [`Region`]: a shared region opened for reading.

use std::path::PathBuf;
use std::time::Duration;

use memwire_std::shm::{Root, ShmRegion};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors;
use crate::reads;
use crate::schema::{self, VariableTuple};
use crate::watcher::{self, Watcher};

/// The root of a call: the directory given, else the same default as Rust
/// (`$MEMWIRE_ROOT`, the user's runtime directory, `/dev/shm`).
pub(crate) fn root(dir: Option<PathBuf>) -> Root {
    dir.map_or_else(Root::from_env, Root::new)
}

/// A shared region opened for reading.
#[pyclass(module = "memwire", frozen)]
pub(crate) struct Region {
    region: ShmRegion,
    name: String,
}

#[pymethods]
impl Region {
    /// Opens region `path` (`tenant/region`) under `root`. Reads wait at
    /// most `stall_bound` seconds for a write in progress before raising
    /// `WriterStalled`.
    #[staticmethod]
    #[pyo3(signature = (path, root=None, stall_bound=None))]
    fn open(
        py: Python<'_>,
        path: &str,
        root: Option<PathBuf>,
        stall_bound: Option<f64>,
    ) -> PyResult<Region> {
        let root = self::root(root);
        let mut region = py
            .allow_threads(|| ShmRegion::open(&root, path))
            .map_err(errors::shm)?;
        if let Some(bound) = watcher::timeout(stall_bound)? {
            region = region.with_stall_bound(bound.max(Duration::from_millis(1)));
        }
        Ok(Region {
            region,
            name: path.to_owned(),
        })
    }

    /// The region's path, `tenant/region`.
    #[getter]
    fn path(&self) -> &str {
        &self.name
    }

    /// The region file.
    #[getter]
    fn file(&self) -> PathBuf {
        self.region.path().to_owned()
    }

    /// The variables, in offset order, as `(name, kind, count, writable)`.
    #[getter]
    fn schema(&self) -> Vec<VariableTuple> {
        schema::to_python(self.region.schema())
    }

    /// The generation (number of commits).
    #[getter]
    fn generation(&self, py: Python<'_>) -> PyResult<u64> {
        py.allow_threads(|| self.region.generation())
            .map_err(errors::shm)
    }

    /// The pid of the process holding the writer lock (0 if none recorded).
    #[getter]
    fn writer_pid(&self) -> u32 {
        self.region.writer_pid()
    }

    /// A consistent copy of variable `name`.
    fn read(&self, py: Python<'_>, name: &str) -> PyResult<PyObject> {
        reads::read(py, &self.region, name)
    }

    /// Consistent copies of `names` as of one moment, as a dict.
    fn read_many<'py>(&self, py: Python<'py>, names: Vec<String>) -> PyResult<Bound<'py, PyDict>> {
        reads::read_many(py, &self.region, names)
    }

    /// A consistent copy of every variable, as a dict.
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        reads::snapshot(py, &self.region)
    }

    /// A watcher of the changes from now on.
    fn watch(&self, py: Python<'_>) -> PyResult<Watcher> {
        let watcher = py
            .allow_threads(|| self.region.watch())
            .map_err(errors::shm)?;
        Ok(Watcher::new(watcher))
    }

    fn __repr__(&self) -> String {
        format!("Region({:?})", self.name)
    }
}
