//! Change events of a shared region: [`Watcher`] waits for them (blocking
//! with the GIL released, or as an `asyncio` async iterator) and
//! [`Change`] names the variables that changed.

use std::time::Duration;

use memwire_std::shm;
use pyo3::prelude::*;

use crate::errors;

/// What changed since the last event: the generation now, the names of the
/// variables written, and whether the copy was rewritten whole (a mirror's
/// resync; always `False` for a shared region).
#[pyclass(module = "memwire", frozen, get_all)]
pub(crate) struct Change {
    /// The generation the region or mirror is at.
    generation: u64,
    /// The variables that changed, in id order.
    names: Vec<String>,
    /// Every variable may have changed (a mirror's resync or missed events).
    resynced: bool,
}

impl Change {
    /// An event with these fields.
    pub(crate) fn new(generation: u64, names: Vec<String>, resynced: bool) -> Change {
        Change {
            generation,
            names,
            resynced,
        }
    }
}

#[pymethods]
impl Change {
    fn __contains__(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    fn __repr__(&self) -> String {
        format!(
            "Change(generation={}, names={:?}, resynced={})",
            self.generation,
            self.names,
            if self.resynced { "True" } else { "False" }
        )
    }
}

/// A timeout in seconds as a duration (`None`: no bound).
pub(crate) fn timeout(seconds: Option<f64>) -> PyResult<Option<Duration>> {
    seconds
        .map(|s| {
            Duration::try_from_secs_f64(s.max(0.0))
                .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
        })
        .transpose()
}

/// Waits for commits to a shared region and names what they changed.
/// Several commits between two looks make one event.
#[pyclass(module = "memwire")]
pub(crate) struct Watcher {
    watcher: shm::Watcher,
}

impl Watcher {
    /// Wraps a Rust watcher.
    pub(crate) fn new(watcher: shm::Watcher) -> Watcher {
        Watcher { watcher }
    }
}

#[pymethods]
impl Watcher {
    /// Blocks (without the GIL) until a commit lands or `timeout` seconds
    /// pass (`None`: forever); the change, or `None` on timeout.
    #[pyo3(signature = (timeout=None))]
    fn wait(&mut self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Change>> {
        let timeout = self::timeout(timeout)?;
        let event = py
            .allow_threads(|| self.watcher.wait(timeout))
            .map_err(errors::shm)?;
        Ok(event.map(|e| {
            Change::new(
                e.generation(),
                e.names().map(str::to_owned).collect(),
                false,
            )
        }))
    }

    /// The change since the last event, without blocking.
    fn poll(&mut self, py: Python<'_>) -> PyResult<Option<Change>> {
        self.wait(py, Some(0.0))
    }

    /// The generation as of the last event.
    #[getter]
    fn generation(&self) -> u64 {
        self.watcher.generation()
    }

    fn __aiter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __anext__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, PyAny>> {
        next_change(slf.into_any())
    }
}

/// The coroutine of `memwire._aio.next_change` that waits on `waiter`.
pub(crate) fn next_change(waiter: Bound<'_, PyAny>) -> PyResult<Bound<'_, PyAny>> {
    let py = waiter.py();
    py.import("memwire._aio")?
        .call_method1("next_change", (waiter,))
}
