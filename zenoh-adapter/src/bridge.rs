//! [`Bridge`]: a hub's zenoh session, with a task per exported and per
//! imported region.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use memwire_std::hub::Hub;
use tokio::task::JoinSet;

use crate::config::BridgeConfig;
use crate::error::Error;
use crate::import::ImportStatus;
use crate::{export, import};

/// The pause between two attempts at opening the zenoh session.
const REOPEN: Duration = Duration::from_secs(1);

/// A hub's link to the other hubs over zenoh: its exported regions put on
/// zenoh, its imported regions mirrored from their owners. Dropping it
/// stops nothing: call [`close`](Self::close).
pub struct Bridge {
    /// The session once opened, for [`close`](Self::close).
    session: Arc<Mutex<Option<zenoh::Session>>>,
    tasks: JoinSet<()>,
    exported: Vec<String>,
    imports: Vec<Arc<Mutex<ImportStatus>>>,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge")
            .field("exported", &self.exported)
            .finish()
    }
}

impl Bridge {
    /// Starts exporting and importing `hub`'s regions as `config` says. An
    /// exported region must be one the hub serves (`tenant/*` takes every
    /// region the hub's config declares for the tenant); an imported one
    /// must be declared in the hub's config with no variables (the hub
    /// serves the file the bridge creates with the owner's schema). The
    /// zenoh session is opened in the background, again every second while
    /// none of the endpoints answers, so a hub starts before its routers.
    /// Must run inside a tokio runtime.
    pub async fn start(hub: Arc<Hub>, config: &BridgeConfig) -> Result<Bridge, Error> {
        let zenoh_config = config.zenoh().map_err(Error::Config)?;
        let hub_config = hub.config();
        let mut exported = Vec::new();
        for tenant in &hub_config.tenants {
            for decl in &tenant.regions {
                let (t, r) = (tenant.name.as_str(), decl.name.as_str());
                if config.exports(t, r) {
                    exported.push(format!("{t}/{r}"));
                }
            }
        }
        for path in &config.export {
            if let Some(region) = &path.region {
                let name = format!("{}/{region}", path.tenant);
                if !exported.contains(&name) {
                    exported.push(name);
                }
            }
        }
        let mut imports = Vec::new();
        // Fails now rather than in a task when the hub has no such region.
        for name in &exported {
            let (tenant, region) = name.split_once('/').unwrap_or((name, ""));
            hub.feed(tenant, region)?;
        }
        for path in &config.import {
            let region = path.region.clone().unwrap_or_default();
            hub.feed(&path.tenant, &region)?;
            imports.push(Arc::new(Mutex::new(ImportStatus {
                path: format!("{}/{region}", path.tenant),
                ..ImportStatus::default()
            })));
        }
        let session = Arc::new(Mutex::new(None));
        let mut tasks = JoinSet::new();
        tasks.spawn(run(
            hub,
            zenoh_config,
            Arc::clone(&session),
            exported.clone(),
            imports.clone(),
            config.state.clone(),
        ));
        Ok(Bridge {
            session,
            tasks,
            exported,
            imports,
        })
    }

    /// The regions exported, as `tenant/region`.
    pub fn exported(&self) -> &[String] {
        &self.exported
    }

    /// Where each imported region stands, in the configuration's order.
    pub fn imports(&self) -> Vec<ImportStatus> {
        self.imports
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).clone())
            .collect()
    }

    /// Stops every export and import and closes the zenoh session (the
    /// owner's tokens go with it, so mirrors mark their copies stale).
    pub async fn close(mut self) {
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
        let session = self
            .session
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(session) = session {
            if let Err(e) = session.close().await {
                tracing::debug!(error = %e, "closing the zenoh session");
            }
        }
    }
}

/// Opens the session, then runs a task per region until aborted (which
/// drops `tasks`, aborting them).
async fn run(
    hub: Arc<Hub>,
    config: zenoh::Config,
    opened: Arc<Mutex<Option<zenoh::Session>>>,
    exported: Vec<String>,
    imports: Vec<Arc<Mutex<ImportStatus>>>,
    state: PathBuf,
) {
    let session = loop {
        match zenoh::open(config.clone()).await {
            Ok(session) => break session,
            Err(e) => {
                tracing::warn!(error = %e, "zenoh: no endpoint answers yet; trying again in a second");
                tokio::time::sleep(REOPEN).await;
            }
        }
    };
    *opened.lock().unwrap_or_else(PoisonError::into_inner) = Some(session.clone());
    let mut tasks = JoinSet::new();
    for name in exported {
        let (tenant, region) = name.split_once('/').unwrap_or((&name, ""));
        let task = export::run(
            Arc::clone(&hub),
            session.clone(),
            tenant.to_owned(),
            region.to_owned(),
        );
        tasks.spawn(report(name.clone(), "export", task));
    }
    for status in imports {
        let name = status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .path
            .clone();
        let (tenant, region) = name.split_once('/').unwrap_or((&name, ""));
        let task = import::run(
            Arc::clone(&hub),
            session.clone(),
            tenant.to_owned(),
            region.to_owned(),
            state.clone(),
            status,
        );
        tasks.spawn(report(name.clone(), "import", task));
    }
    while tasks.join_next().await.is_some() {}
}

/// Runs one region's task and logs why it ended.
async fn report(name: String, what: &'static str, task: impl Future<Output = Result<(), Error>>) {
    if let Err(e) = task.await {
        tracing::error!(region = %name, error = %e, "{what} stopped");
    }
}
