//! [`Client`]: a connection to a hub, run by a tokio runtime the binding
//! owns; every call that waits for the hub releases the GIL.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use memwire_std::client::{self, ClientOptions};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyType;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio::runtime::Runtime;

use crate::errors::{self, Closed, ConnectFailed};
use crate::mirror::Mirror;
use crate::region::root;

/// A connection to a hub, kept up: on a loss it reconnects with backoff
/// and resyncs every mirror, as the Rust client does.
#[pyclass(module = "memwire")]
pub(crate) struct Client {
    runtime: Arc<Runtime>,
    client: Option<client::Client>,
}

impl Client {
    fn held(&self) -> PyResult<&client::Client> {
        self.client
            .as_ref()
            .ok_or_else(|| Closed::new_err("the client is closed"))
    }
}

/// Connects to the hub at `url` (`tcp://host:port`, `tls://host:port` or
/// `unix:///path`) as client `client` of `tenant` with `secret`.
#[pyfunction]
#[allow(
    clippy::too_many_arguments,
    reason = "the arguments of the Python function, most of them optional"
)]
#[pyo3(signature = (url, client, tenant, secret, tls_ca=None, *, local_root=None, connect_timeout=10.0))]
pub(crate) fn connect(
    py: Python<'_>,
    url: &str,
    client: &str,
    tenant: &str,
    secret: &str,
    tls_ca: Option<PathBuf>,
    local_root: Option<PathBuf>,
    connect_timeout: f64,
) -> PyResult<Client> {
    let mut options = ClientOptions::new(client, tenant, secret.as_bytes());
    if let Some(file) = tls_ca {
        options.tls_roots = CertificateDer::pem_file_iter(&file)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| {
                ConnectFailed::new_err(format!("TLS: cannot read {}: {e}", file.display()))
            })?;
    }
    if local_root.is_some() {
        options.local_root = Some(root(local_root));
    }
    options.connect_timeout = Duration::try_from_secs_f64(connect_timeout)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    // One worker: the client is one task; it runs while no Python code does.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("memwire-client")
        .enable_all()
        .build()
        .map_err(|e| ConnectFailed::new_err(format!("cannot start the client's runtime: {e}")))?;
    let runtime = Arc::new(runtime);
    let connected = py
        .allow_threads(|| runtime.block_on(client::Client::connect(url, options)))
        .map_err(errors::client)?;
    Ok(Client {
        runtime,
        client: Some(connected),
    })
}

#[pymethods]
impl Client {
    /// Mirrors region `path` (`tenant/region`); returns once the mirror
    /// holds a full copy.
    fn subscribe(&self, py: Python<'_>, path: &str) -> PyResult<Mirror> {
        let client = self.held()?;
        let mirror = py
            .allow_threads(|| self.runtime.block_on(client.subscribe(path)))
            .map_err(errors::client)?;
        Ok(Mirror::new(self.runtime.clone(), mirror))
    }

    /// Whether the client is connected now (not reconnecting).
    #[getter]
    fn is_connected(&self) -> PyResult<bool> {
        Ok(self.held()?.is_connected())
    }

    /// How many times the client has connected (1 until a reconnection).
    #[getter]
    fn connections(&self) -> PyResult<u64> {
        Ok(self.held()?.connections())
    }

    /// Closes the connection; the mirrors end.
    fn close(&mut self, py: Python<'_>) {
        if let Some(client) = self.client.take() {
            py.allow_threads(|| self.runtime.block_on(client.close()));
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
}
