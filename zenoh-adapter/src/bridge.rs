//! [`Bridge`]: a hub's zenoh session, with a task per exported and per
//! imported region.

use std::sync::{Arc, Mutex, PoisonError};

use memwire_std::hub::Hub;
use tokio::task::JoinSet;

use crate::config::BridgeConfig;
use crate::error::Error;
use crate::import::ImportStatus;
use crate::{export, import};

/// A hub's link to the other hubs over zenoh: its exported regions put on
/// zenoh, its imported regions mirrored from their owners. Dropping it
/// stops nothing: call [`close`](Self::close).
pub struct Bridge {
    session: zenoh::Session,
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
    /// Opens the zenoh session of `config` and starts exporting and
    /// importing `hub`'s regions as it says. An exported region must be
    /// one the hub serves (`tenant/*` takes every region the hub's config
    /// declares for the tenant); an imported one must be declared in the
    /// hub's config with no variables (the hub serves the file the bridge
    /// creates with the owner's schema). Must run inside a tokio runtime.
    pub async fn start(hub: Arc<Hub>, config: &BridgeConfig) -> Result<Bridge, Error> {
        let zenoh_config = config.zenoh().map_err(Error::Config)?;
        let session = zenoh::open(zenoh_config).await?;
        let mut tasks = JoinSet::new();
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
        for name in &exported {
            let (tenant, region) = name.split_once('/').unwrap_or((name, ""));
            // Fails now rather than in the task when the hub has no such region.
            hub.feed(tenant, region)?;
            let task = export::run(
                Arc::clone(&hub),
                session.clone(),
                tenant.to_owned(),
                region.to_owned(),
            );
            tasks.spawn(report(name.clone(), "export", task));
        }
        let mut imports = Vec::new();
        for path in &config.import {
            let region = path.region.clone().unwrap_or_default();
            let name = format!("{}/{region}", path.tenant);
            hub.feed(&path.tenant, &region)?;
            let status = Arc::new(Mutex::new(ImportStatus {
                path: name.clone(),
                ..ImportStatus::default()
            }));
            imports.push(Arc::clone(&status));
            let task = import::run(
                Arc::clone(&hub),
                session.clone(),
                path.tenant.clone(),
                region,
                config.state.clone(),
                status,
            );
            tasks.spawn(report(name, "import", task));
        }
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
        if let Err(e) = self.session.close().await {
            tracing::debug!(error = %e, "closing the zenoh session");
        }
    }
}

/// Runs one region's task and logs why it ended.
async fn report(name: String, what: &'static str, task: impl Future<Output = Result<(), Error>>) {
    if let Err(e) = task.await {
        tracing::error!(region = %name, error = %e, "{what} stopped");
    }
}
