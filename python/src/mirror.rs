//! [`Mirror`]: a hub region mirrored by a [`Client`](crate::client::Client),
//! with the reader's API, writes through the hub and change events.

use std::sync::Arc;

use memwire_std::client::{self, ClientError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use tokio::runtime::Runtime;

use crate::errors::{self, Closed};
use crate::reads;
use crate::schema::{self, VariableTuple};
use crate::value;
use crate::watcher::{Change, next_change, timeout};

/// A hub region mirrored locally: reads are local copies, writes go
/// through the hub, which checks rights.
#[pyclass(module = "memwire", frozen)]
pub(crate) struct Mirror {
    runtime: Arc<Runtime>,
    mirror: client::Mirror,
}

impl Mirror {
    /// A mirror whose writes run on `runtime`.
    pub(crate) fn new(runtime: Arc<Runtime>, mirror: client::Mirror) -> Mirror {
        Mirror { runtime, mirror }
    }

    fn variable(&self, name: &str) -> PyResult<memwire::schema::Variable> {
        self.mirror
            .schema()
            .lookup(name)
            .map(|(_, v)| *v)
            .ok_or_else(|| errors::client(ClientError::UnknownVariable(name.to_owned())))
    }

    fn send(&self, py: Python<'_>, name: &str, bytes: &[u8]) -> PyResult<u64> {
        py.allow_threads(|| self.runtime.block_on(self.mirror.write(name, bytes)))
            .map_err(errors::client)
    }
}

#[pymethods]
impl Mirror {
    /// The region's path, `tenant/region`.
    #[getter]
    fn path(&self) -> &str {
        self.mirror.path()
    }

    /// The variables, in offset order, as `(name, kind, count, writable)`.
    #[getter]
    fn schema(&self) -> Vec<VariableTuple> {
        schema::to_python(self.mirror.schema())
    }

    /// The generation the mirror holds.
    #[getter]
    fn generation(&self) -> u64 {
        self.mirror.generation()
    }

    /// Whether the hub ended the subscription.
    #[getter]
    fn is_ended(&self) -> bool {
        self.mirror.is_ended()
    }

    /// A consistent copy of variable `name`.
    fn read(&self, py: Python<'_>, name: &str) -> PyResult<PyObject> {
        let var = self.variable(name)?;
        let bytes = py
            .allow_threads(|| self.mirror.read(name))
            .map_err(errors::client)?;
        value::to_python(py, &var, &bytes)
    }

    /// Consistent copies of `names` as of one moment, as a dict.
    fn read_many<'py>(&self, py: Python<'py>, names: Vec<String>) -> PyResult<Bound<'py, PyDict>> {
        for name in &names {
            self.variable(name)?;
        }
        let all = self.snapshot(py)?;
        let out = PyDict::new(py);
        for name in &names {
            if let Some(v) = all.get_item(name)? {
                out.set_item(name, v)?;
            }
        }
        Ok(out)
    }

    /// A consistent copy of every variable, as a dict.
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let (_, data) = py
            .allow_threads(|| self.mirror.snapshot())
            .map_err(errors::client)?;
        reads::variables(py, self.mirror.schema().variables(), &data)
    }

    /// Writes `value` to variable `name` through the hub; the generation
    /// the hub committed it at.
    fn set(&self, py: Python<'_>, name: &str, value: &Bound<'_, PyAny>) -> PyResult<u64> {
        let var = self.variable(name)?;
        let bytes = value::from_python(&var, value)?;
        self.send(py, name, &bytes)
    }

    /// Writes raw `data` (exactly the variable's length) to variable
    /// `name` through the hub; the generation the hub committed it at.
    fn write(&self, py: Python<'_>, name: &str, data: Vec<u8>) -> PyResult<u64> {
        self.send(py, name, &data)
    }

    /// The change events from now on.
    fn changes(&self) -> MirrorChanges {
        MirrorChanges {
            runtime: self.runtime.clone(),
            changes: self.mirror.changes(),
        }
    }

    fn __repr__(&self) -> String {
        format!("Mirror({:?})", self.mirror.path())
    }
}

/// A mirror's change events, one per update the hub sent (past 256 unread,
/// one event marked `resynced`).
#[pyclass(module = "memwire")]
pub(crate) struct MirrorChanges {
    runtime: Arc<Runtime>,
    changes: client::Changes,
}

#[pymethods]
impl MirrorChanges {
    /// Blocks (without the GIL) until the next event or `timeout` seconds
    /// (`None`: forever); the change, or `None` on timeout. `Closed` once
    /// the client is closed.
    #[pyo3(signature = (timeout=None))]
    fn wait(&mut self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Change>> {
        let timeout = self::timeout(timeout)?;
        let runtime = self.runtime.clone();
        let changes = &mut self.changes;
        let event = py.allow_threads(|| {
            runtime.block_on(async {
                match timeout {
                    Some(t) => tokio::time::timeout(t, changes.next()).await.ok(),
                    None => Some(changes.next().await),
                }
            })
        });
        match event {
            None => Ok(None),
            Some(None) => Err(Closed::new_err("the client is closed")),
            Some(Some(e)) => Ok(Some(Change::new(
                e.generation,
                e.names().map(str::to_owned).collect(),
                e.resynced,
            ))),
        }
    }

    fn __aiter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __anext__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, PyAny>> {
        next_change(slf.into_any())
    }
}
