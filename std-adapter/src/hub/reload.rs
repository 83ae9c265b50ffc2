//! Reloading the configuration while the hub runs
//! ([`Hub::reload`](super::Hub::reload)): what differs between the
//! configuration running and the new one ([`Reloaded`]), and applying it.
//!
//! Tenants, clients (secrets and rights) and regions change; the rest
//! (`listen`, `root`, `limits`, `publish`, `web`) is bound into listeners, region
//! files and every connection's session, and the `zenoh` section into the
//! bridge the tool started with it, so a new config that changes it is
//! refused whole ([`ReloadError::NeedsRestart`]) and the running one
//! kept.
//!
//! Applying makes a new [`Shared`]: the regions kept are the same objects,
//! so their files, snapshots and subscribers go on untouched; a region
//! added is opened (or created) and its scanner started; a region removed,
//! or whose declaration changed, is retired: it serves no file again and
//! its subscriptions end with an error frame naming the reload. Each
//! connection takes the new [`Shared`] in its own task (`handler.rs`):
//! its view takes the new rights (a subscription to a region its client
//! may no longer read ends with [`REVOKED`]), and the connection of a
//! client the reload removed, or whose secret it changed, is closed with
//! `AuthFailed` and the reason.

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use super::config::Config;
use super::error::HubError;
use super::region::{Served, State};
use super::shared::{Shared, checked_root, open_region};
use super::unavailable::Unavailable;

/// The reason that ends the subscriptions of a region a reload removed.
pub(crate) const REMOVED: &str = "region removed from the hub's configuration by a reload";
/// The reason that ends the subscriptions of a region whose declaration a
/// reload changed (its schema or its publisher): the region is served
/// anew, and subscribing again reaches it.
pub(crate) const CHANGED: &str = "region declared anew by a config reload: subscribe again";
/// The reason that ends a subscription whose right a reload took away.
pub(crate) const REVOKED: &str = "access to the region revoked by a config reload";

/// What a reload changed; every list holds `tenant` or `tenant/name`
/// paths, in the order of the configurations.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reloaded {
    /// Tenants added.
    pub tenants_added: Vec<String>,
    /// Tenants removed (with their clients and regions).
    pub tenants_removed: Vec<String>,
    /// Clients added.
    pub clients_added: Vec<String>,
    /// Clients removed: their connections were closed.
    pub clients_removed: Vec<String>,
    /// Clients whose secret changed (their connections were closed) or
    /// whose rights changed (their sessions follow the new rights).
    pub clients_changed: Vec<String>,
    /// Regions added, served from now on.
    pub regions_added: Vec<String>,
    /// Regions removed: their subscriptions ended.
    pub regions_removed: Vec<String>,
    /// Regions declared anew (another schema or publisher): their
    /// subscriptions ended, and the region is served as a new one.
    pub regions_changed: Vec<String>,
}

impl Reloaded {
    /// Whether the new configuration changed nothing.
    pub fn is_empty(&self) -> bool {
        self.lists().iter().all(|(_, list)| list.is_empty())
    }

    fn lists(&self) -> [(&'static str, &Vec<String>); 8] {
        [
            ("tenants added", &self.tenants_added),
            ("tenants removed", &self.tenants_removed),
            ("clients added", &self.clients_added),
            ("clients removed", &self.clients_removed),
            ("clients changed", &self.clients_changed),
            ("regions added", &self.regions_added),
            ("regions removed", &self.regions_removed),
            ("regions changed", &self.regions_changed),
        ]
    }
}

/// "regions added: t/a, t/b; clients removed: t/c", or "nothing changed".
impl fmt::Display for Reloaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("nothing changed");
        }
        let mut first = true;
        for (what, list) in self.lists() {
            if list.is_empty() {
                continue;
            }
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            write!(f, "{what}: {}", list.join(", "))?;
        }
        Ok(())
    }
}

/// Why a reload was refused; the hub runs on with the configuration it had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReloadError {
    /// The new configuration changes a section a reload cannot apply.
    #[error(
        "the new config changes [{section}], which a reload cannot apply: restart the hub to change listeners, the region root, limits, publishing, the web view or the zenoh bridge"
    )]
    NeedsRestart {
        /// `listen`, `root`, `limits`, `publish`, `web` or `zenoh`.
        section: &'static str,
    },
    /// The new configuration adds regions, and the root directory of the
    /// region files cannot be used.
    #[error(transparent)]
    Root(HubError),
}

/// The section of `next` that differs from `running` and that a reload
/// cannot apply, if any.
fn needs_restart(running: &Config, next: &Config) -> Option<&'static str> {
    if running.listen != next.listen {
        Some("listen")
    } else if running.root != next.root {
        Some("root")
    } else if running.limits != next.limits {
        Some("limits")
    } else if running.publish != next.publish {
        Some("publish")
    } else if running.web != next.web {
        Some("web")
    } else if running.zenoh != next.zenoh {
        // The bridge's session, exports and imports are started once, by
        // the tool: the running bridge is kept as it is.
        Some("zenoh")
    } else {
        None
    }
}

/// The hub after a reload to `config`, made from `running`: the new
/// [`Shared`], the regions opened for it (to start scanners for) and those
/// to retire once it is in place, with their reasons.
pub(crate) struct Plan {
    pub(crate) shared: Shared,
    pub(crate) added: Vec<Arc<Served>>,
    pub(crate) retired: Vec<(Arc<Served>, &'static str)>,
    pub(crate) changes: Reloaded,
}

/// Plans the reload of `running` to `config` (see the module docs); opens
/// the regions it adds.
pub(crate) fn plan(running: &Shared, config: Config) -> Result<Plan, ReloadError> {
    if let Some(section) = needs_restart(&running.config, &config) {
        return Err(ReloadError::NeedsRestart { section });
    }
    let mut changes = differences(&running.config, &config);
    let mut regions = running.regions.clone();
    let mut retired = Vec::new();
    for served in running.regions.iter().filter(|r| !r.retired()) {
        let before = running
            .config
            .tenant(&served.tenant)
            .and_then(|t| t.region(&served.name));
        let after = config
            .tenant(&served.tenant)
            .and_then(|t| t.region(&served.name));
        // A region found in a directory (`discover.rs`) stays while its
        // tenant discovers and declares no region of its name.
        let discovers = config.tenant(&served.tenant).is_some_and(|t| t.discover);
        match after {
            None if served.discovered && discovers => {}
            None if served.discovered => {
                changes.regions_removed.push(served.path());
                retired.push((Arc::clone(served), REMOVED));
            }
            None => retired.push((Arc::clone(served), REMOVED)),
            Some(_) if served.discovered => {
                changes.regions_changed.push(served.path());
                retired.push((Arc::clone(served), CHANGED));
            }
            Some(after) if Some(after) != before => {
                changes.regions_changed.push(served.path());
                retired.push((Arc::clone(served), CHANGED));
            }
            Some(_) => {}
        }
    }
    let mut added = Vec::new();
    let kept = |tenant: &str, name: &str| {
        running.regions.iter().any(|r| {
            r.tenant == tenant
                && r.name == name
                && !r.retired()
                && !retired.iter().any(|(gone, _)| Arc::ptr_eq(gone, r))
        })
    };
    let mut root = None;
    for tenant in &config.tenants {
        for decl in &tenant.regions {
            if kept(tenant.name.as_str(), decl.name.as_str()) {
                continue;
            }
            let root = match &root {
                Some(root) => root,
                None => root.insert(checked_root(&config).map_err(ReloadError::Root)?),
            };
            let served = Arc::new(open_region(root, &config, tenant, decl));
            regions.push(Arc::clone(&served));
            added.push(served);
        }
    }
    Ok(Plan {
        shared: running.next(config, regions),
        added,
        retired,
        changes,
    })
}

/// The tenants, clients and regions added and removed, and the clients
/// changed, from `running` to `next` (regions declared anew are found
/// while planning).
fn differences(running: &Config, next: &Config) -> Reloaded {
    let mut changes = Reloaded::default();
    for tenant in &next.tenants {
        let name = tenant.name.as_str();
        let Some(before) = running.tenant(name) else {
            changes.tenants_added.push(name.to_owned());
            for client in &tenant.clients {
                changes
                    .clients_added
                    .push(format!("{name}/{}", client.name));
            }
            for region in &tenant.regions {
                changes
                    .regions_added
                    .push(format!("{name}/{}", region.name.as_str()));
            }
            continue;
        };
        for client in &tenant.clients {
            let path = format!("{name}/{}", client.name);
            match before.client(&client.name) {
                None => changes.clients_added.push(path),
                Some(old) if old != client => changes.clients_changed.push(path),
                Some(_) => {}
            }
        }
        for client in before
            .clients
            .iter()
            .filter(|c| tenant.client(&c.name).is_none())
        {
            changes
                .clients_removed
                .push(format!("{name}/{}", client.name));
        }
        for region in &tenant.regions {
            if before.region(region.name.as_str()).is_none() {
                changes
                    .regions_added
                    .push(format!("{name}/{}", region.name.as_str()));
            }
        }
        for region in before
            .regions
            .iter()
            .filter(|r| tenant.region(r.name.as_str()).is_none())
        {
            changes
                .regions_removed
                .push(format!("{name}/{}", region.name.as_str()));
        }
    }
    for tenant in running
        .tenants
        .iter()
        .filter(|t| next.tenant(t.name.as_str()).is_none())
    {
        let name = tenant.name.as_str();
        changes.tenants_removed.push(name.to_owned());
        for client in &tenant.clients {
            changes
                .clients_removed
                .push(format!("{name}/{}", client.name));
        }
        for region in &tenant.regions {
            changes
                .regions_removed
                .push(format!("{name}/{}", region.name.as_str()));
        }
    }
    changes
}

/// Why the connection of `client` of `tenant`, authenticated under
/// `running`, ends under `next`: its tenant or itself removed, or its
/// secret changed. `None` when it goes on.
pub(crate) fn dropped(
    running: &Config,
    next: &Config,
    tenant: &str,
    client: &str,
) -> Option<&'static str> {
    let Some(after) = next.tenant(tenant) else {
        return Some("tenant removed from the hub's configuration by a reload");
    };
    let Some(after) = after.client(client) else {
        return Some("client removed from the hub's configuration by a reload");
    };
    match running.secret(tenant, client) {
        Some(secret) if secret != after.secret.as_slice() => {
            Some("client's secret changed by a config reload: authenticate again")
        }
        _ => None,
    }
}

impl Served {
    /// Takes the region out of service for good, for `reason`: no file is
    /// served again (its scanner ends, `recheck.rs` takes none up), a
    /// writer in the hub's process is refused, and every listener is told,
    /// so its subscriptions end with an error frame giving `reason`.
    pub(crate) fn retire(&self, reason: &'static str) {
        {
            let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
            // Set under the lock that `swap` checks it under.
            self.retired.store(true, Ordering::Release);
            self.forget_held();
            *state = State::Unavailable(Unavailable { reason });
        }
        tracing::info!(region = %self.path(), reason, "region retired");
        self.tell(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config(text: &str) -> Config {
        Config::parse(text, "test.toml", Path::new("")).expect("config")
    }

    const BASE: &str = r#"
[[tenant]]
name = "t"
[[tenant.client]]
name = "a"
secret = "s"
rights = [{ regions = "*", access = "read" }]
[[tenant.client]]
name = "b"
secret = "s"
[[tenant.region]]
name = "r"
variables = [{ name = "x", kind = "u8" }]
"#;

    #[test]
    fn the_differences_name_what_was_added_removed_and_changed() {
        let next = BASE
            .replace(r#"name = "b""#, r#"name = "c""#)
            .replace(r#"access = "read""#, r#"access = "read-write""#)
            + r#"
[[tenant.region]]
name = "q"
variables = [{ name = "x", kind = "u8" }]
[[tenant]]
name = "u"
"#;
        let changes = differences(&config(BASE), &config(&next));
        assert_eq!(changes.tenants_added, ["u"]);
        assert_eq!(changes.clients_added, ["t/c"]);
        assert_eq!(changes.clients_removed, ["t/b"]);
        assert_eq!(changes.clients_changed, ["t/a"]);
        assert_eq!(changes.regions_added, ["t/q"]);
        assert!(changes.regions_removed.is_empty());
        assert_eq!(
            changes.to_string(),
            "tenants added: u; clients added: t/c; clients removed: t/b; \
             clients changed: t/a; regions added: t/q"
        );
        assert!(differences(&config(BASE), &config(BASE)).is_empty());
    }

    #[test]
    fn listeners_and_limits_need_a_restart() {
        let moved = format!("[listen]\ntcp = \"127.0.0.1:9999\"\n{BASE}");
        assert_eq!(
            needs_restart(&config(BASE), &config(&moved)),
            Some("listen")
        );
        let limits = format!("[limits]\nmax_connections = 3\n{BASE}");
        assert_eq!(
            needs_restart(&config(BASE), &config(&limits)),
            Some("limits")
        );
        // The page's listener and the WebSocket port it is told are bound
        // at start.
        let listen = "[listen]\nhttp = \"127.0.0.1:0\"\nws = \"127.0.0.1:0\"\n";
        let web = format!("{listen}[web]\nenabled = true\n{BASE}");
        let http = format!("{listen}{BASE}");
        assert_eq!(needs_restart(&config(&http), &config(&web)), Some("web"));
        assert_eq!(needs_restart(&config(BASE), &config(BASE)), None);
    }

    #[test]
    fn a_changed_zenoh_section_needs_a_restart() {
        let bridge = format!("{BASE}[zenoh]\nstate = \"s\"\nexport = [\"t/r\"]\n");
        let more = bridge.replace("[\"t/r\"]", "[\"t/*\"]");
        assert_eq!(
            needs_restart(&config(BASE), &config(&bridge)),
            Some("zenoh")
        );
        assert_eq!(
            needs_restart(&config(&bridge), &config(&more)),
            Some("zenoh")
        );
        assert_eq!(needs_restart(&config(&bridge), &config(&bridge)), None);
    }

    #[test]
    fn a_removed_client_or_a_new_secret_ends_the_connection() {
        let running = config(BASE);
        let renamed = config(&BASE.replace(r#"name = "b""#, r#"name = "c""#));
        assert!(dropped(&running, &renamed, "t", "b").is_some());
        assert_eq!(dropped(&running, &renamed, "t", "a"), None);
        let secret = config(&BASE.replacen(r#"secret = "s""#, r#"secret = "z""#, 1));
        assert!(dropped(&running, &secret, "t", "a").is_some());
        let gone = config("[[tenant]]\nname = \"u\"\n");
        assert!(dropped(&running, &gone, "t", "a").is_some());
    }
}
