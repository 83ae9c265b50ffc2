//! `memwire serve`: run a hub until SIGINT or SIGTERM, reloading its
//! config file on SIGHUP.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use memwire_std::hub::config::{DEFAULT_TCP, DEMO_SECRET};
use memwire_std::hub::{Config, Hub};
use tokio::signal::unix::{SignalKind, signal};

pub(crate) const EXAMPLES: &str = "\
Examples:
  memwire serve                          the built-in config: tenant `demo`, region
                                         `demo/sensors`, on tcp://127.0.0.1:7878
  memwire serve hub.toml                 your own config (docs/hub-config.md)
  RUST_LOG=debug memwire serve --json    detailed logs as JSON lines
  kill -HUP <pid>                        reload the config file: tenants, clients
                                         and regions change without a restart
                                         (a changed [zenoh] section is refused)

Without --config the hub runs the built-in demo config, whose secrets are
published: it listens on the loopback interface only.";

/// `memwire serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The config file (TOML) [default: the built-in demo config].
    #[arg(long, short, value_name = "FILE")]
    config: Option<PathBuf>,

    /// The config file, given without --config.
    #[arg(value_name = "CONFIG", conflicts_with = "config")]
    file: Option<PathBuf>,

    /// Write logs as JSON lines (the same as --log-json).
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) async fn run(args: Args) -> Result<()> {
    let file = args.file.as_ref().or(args.config.as_ref());
    let config = match file {
        Some(file) => Config::load(file)?,
        None => Config::default_config(),
    };
    #[cfg(not(feature = "zenoh"))]
    if let Some(section) = &config.zenoh {
        anyhow::bail!(
            "{}: the config has a [zenoh] section, and this memwire was built without the \
             cargo feature `zenoh` (cargo install --path cli --features zenoh)",
            section.origin
        );
    }
    #[cfg(feature = "zenoh")]
    let bridge_config = config
        .zenoh
        .as_ref()
        .map(memwire_zenoh::BridgeConfig::from_section)
        .transpose()?;
    // Listen for signals before serving, so that none is missed.
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut hangup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;

    let hub = Arc::new(Hub::start(config).await.context("cannot start the hub")?);
    print_banner(&hub, file.is_none());
    #[cfg(feature = "zenoh")]
    let bridge = match &bridge_config {
        Some(bridge_config) => {
            let bridge = memwire_zenoh::Bridge::start(Arc::clone(&hub), bridge_config)
                .await
                .context("cannot start the zenoh bridge")?;
            let list = |names: Vec<String>| match names.is_empty() {
                true => "nothing".to_owned(),
                false => names.join(", "),
            };
            println!(
                "zenoh: exporting {}; importing {}",
                list(bridge.exported().to_vec()),
                list(bridge.imports().into_iter().map(|s| s.path).collect())
            );
            Some(bridge)
        }
        None => None,
    };

    let name = loop {
        tokio::select! {
            _ = interrupt.recv() => break "SIGINT",
            _ = terminate.recv() => break "SIGTERM",
            _ = hangup.recv() => reload(&hub, file.map(PathBuf::as_path)),
        }
    };
    tracing::info!(signal = name, "stopping");
    #[cfg(feature = "zenoh")]
    if let Some(bridge) = bridge {
        bridge.close().await;
    }
    shutdown(hub).await;
    Ok(())
}

/// Shuts the hub down once nothing else holds it (a write the bridge was
/// applying when it closed ends within a few hundred milliseconds).
async fn shutdown(mut hub: Arc<Hub>) {
    for _ in 0..100 {
        match Arc::try_unwrap(hub) {
            Ok(hub) => return hub.shutdown().await,
            Err(held) => hub = held,
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tracing::warn!("the hub is still in use: stopping without closing its connections in order");
}

/// SIGHUP: reads `file` again and applies it. A file that cannot be read
/// or is invalid, or a change that needs a restart, is logged and the hub
/// runs on with the config it had.
fn reload(hub: &Hub, file: Option<&Path>) {
    let Some(file) = file else {
        tracing::warn!("SIGHUP: no config file to reload (the built-in config is running)");
        return;
    };
    let outcome = Config::load(file)
        .map_err(anyhow::Error::from)
        .and_then(|config| hub.reload(config).map_err(anyhow::Error::from));
    match outcome {
        Ok(changes) => {
            tracing::info!(file = %file.display(), %changes, "SIGHUP: config reloaded");
        }
        Err(e) => tracing::error!(
            file = %file.display(),
            error = %e,
            "SIGHUP: config not reloaded; the hub runs on with the config it had"
        ),
    }
}

/// Where the hub listens, and with the built-in config how to connect.
fn print_banner(hub: &Hub, builtin: bool) {
    let mut urls = Vec::new();
    if let Some(addr) = hub.tcp_addr() {
        urls.push(format!("tcp://{addr}"));
    }
    if let Some(addr) = hub.tls_addr() {
        urls.push(format!("tls://{addr}"));
    }
    if let Some(path) = hub.unix_path() {
        urls.push(format!("unix://{}", path.display()));
    }
    if let Some(addr) = hub.ws_addr() {
        urls.push(format!("ws://{addr}/"));
    }
    if let Some(addr) = hub.wss_addr() {
        urls.push(format!("wss://{addr}/"));
    }
    println!("memwire hub listening on {}", urls.join(", "));
    if let (true, Some(addr)) = (hub.config().web.enabled, hub.http_addr()) {
        println!("web view: http://{addr}/");
    }
    for tenant in &hub.config().tenants {
        let mut regions: Vec<_> = tenant
            .regions
            .iter()
            .map(|r| format!("{}/{}", tenant.name.as_str(), r.name.as_str()))
            .collect();
        if tenant.discover {
            regions.push(format!(
                "{}/* (the region files found there)",
                tenant.name.as_str()
            ));
        }
        println!("serving {}", regions.join(", "));
    }
    if builtin {
        println!(
            "built-in demo config: tenant `demo`, client `demo`, secret `{DEMO_SECRET}` \
             (the client commands' defaults)"
        );
        let hub_option = match hub.tcp_addr() {
            Some(addr) if addr != DEFAULT_TCP => format!(" --hub tcp://{addr}"),
            _ => String::new(),
        };
        println!("try: {} watch{hub_option} demo/sensors", super::program());
    }
}
