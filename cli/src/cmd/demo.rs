//! `memwire demo`: a hub with the built-in config, the simulated sensor
//! writing `demo/sensors`, and the live view of it, in one process; the
//! hub serves the web view too, at the URL it prints.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use memwire_std::client::{Client, ClientOptions};
use memwire_std::hub::config::{DEFAULT_TCP, DEMO_SECRET, VIEWER_SECRET};
use memwire_std::hub::{Config, Hub, HubError};
use memwire_std::shm::Root;
use tokio::time::Instant;

use crate::cmd::watch;

mod sensor;

pub(crate) const EXAMPLES: &str = "\
Examples:
  memwire demo                         until Ctrl-C
  memwire demo --duration 10           for ten seconds
  memwire demo --listen 127.0.0.1:0 --web 127.0.0.1:0 --ws 127.0.0.1:0
                                       on free ports (printed), if the defaults are taken

While it runs, from another terminal:
  memwire watch demo/sensors
  memwire set demo/sensors/setpoint 25      the temperature follows within seconds
  memwire set demo/sensors/enabled false    and drifts back to 18 °C

The web view's URL, printed at the start, opens the page logged in as the
read-only client `viewer` (the secret is in the URL's fragment, which the
browser never sends); log out and in as `demo` (secret memwire-demo-secret)
to write from the page.

Region files go under $MEMWIRE_ROOT (else $XDG_RUNTIME_DIR/memwire, else
/dev/shm/memwire-<uid>).";

/// `memwire demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Stop after this many seconds [default: run until Ctrl-C].
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,

    /// The TCP address the demo hub listens on.
    #[arg(long, value_name = "ADDR", default_value_t = DEFAULT_TCP)]
    listen: SocketAddr,

    /// The HTTP address of the web view (and the hub's metrics).
    #[arg(long, value_name = "ADDR", default_value_t = DEMO_WEB)]
    web: SocketAddr,

    /// The WebSocket address the web view's client connects to.
    #[arg(long, value_name = "ADDR", default_value_t = DEMO_WS)]
    ws: SocketAddr,
}

/// The web view's address unless `--web` says otherwise.
const DEMO_WEB: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 7880);
/// The WebSocket listener's address unless `--ws` says otherwise.
const DEMO_WS: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 7881);

pub(crate) async fn run(args: Args) -> Result<()> {
    let until = match args.duration {
        Some(secs) => Some(
            Duration::try_from_secs_f64(secs)
                .map(|d| Instant::now() + d)
                .map_err(|_| anyhow!("--duration {secs}: not a number of seconds"))?,
        ),
        None => None,
    };
    let mut config = Config::default_config();
    config.listen.tcp = Some(args.listen);
    config.listen.http = Some(args.web);
    config.listen.ws = Some(args.ws);
    config.web.enabled = true;
    let root = config.root.clone().map_or_else(Root::from_env, Root::new);
    let hub = match Hub::start(config).await {
        Ok(hub) => hub,
        Err(e @ HubError::Listen { .. }) => {
            return Err(e).context(
                "cannot start the demo hub (is `memwire serve` or another demo running? \
                 --listen, --web and --ws pick other addresses, e.g. --listen 127.0.0.1:0)",
            );
        }
        Err(e) => return Err(e).context("cannot start the demo hub"),
    };

    let stop = Arc::new(AtomicBool::new(false));
    let sensor = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || sensor::run(&root, &stop))
    };
    let shown = show(&hub, until).await;

    stop.store(true, Ordering::Relaxed);
    let sensor = tokio::task::spawn_blocking(move || sensor.join()).await;
    hub.shutdown().await;
    shown?;
    match sensor {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(anyhow!("the simulated sensor panicked")),
        Err(e) => Err(e.into()),
    }
}

/// Connects to the demo hub, prints how to join from elsewhere, and shows
/// the region until Ctrl-C or `until`.
async fn show(hub: &Hub, until: Option<Instant>) -> Result<()> {
    let addr = hub
        .tcp_addr()
        .context("the demo hub does not listen on TCP")?;
    let url = format!("tcp://{addr}");
    let hub_option = if addr == DEFAULT_TCP {
        String::new()
    } else {
        format!(" --hub {url}")
    };
    let path = sensor::PATH;
    let memwire = super::program();
    let web = hub
        .http_addr()
        .map(|a| format!("http://{a}/#tenant=demo&client=viewer&secret={VIEWER_SECRET}"))
        .context("the demo hub serves no web view")?;
    let footer = [
        format!("memwire demo: hub {url}, a simulated sensor writes {path}"),
        format!("Web view: {web}"),
        format!("Try in another terminal: {memwire} watch{hub_option} {path}"),
        format!("                         {memwire} set{hub_option} {path}/setpoint 21.5"),
        "Ctrl-C quits.".to_owned(),
    ];
    for line in &footer {
        println!("{line}");
    }
    let options = ClientOptions::new("demo", "demo", DEMO_SECRET);
    let client = Client::connect(&url, options)
        .await
        .with_context(|| format!("cannot connect to the demo hub at {url}"))?;
    let result = match client.subscribe(sensor::PATH).await {
        Ok(mirror) => watch::show(&client, &mirror, until, &footer).await,
        Err(e) => Err(e).with_context(|| format!("cannot subscribe to {path}")),
    };
    client.close().await;
    result
}
