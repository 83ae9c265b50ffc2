//! An application that embeds the hub: it serves a `demo/heater` region,
//! simulates the heater and writes its temperature through the hub, and
//! follows the setpoint that clients write.
//!
//! `cargo run -p memwire-examples --bin hub-app [ADDR]` listens on
//! `127.0.0.1:7878` by default; the region file lives under `$MEMWIRE_ROOT`,
//! else the user's runtime directory. Ctrl-C stops it.

use std::error::Error;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use memwire_std::hub::{Config, Hub};
use memwire_std::shm::{Root, ShmRegion};

/// The tenant `demo`, its client `demo` (the secret `memwire` uses by
/// default) and the region; `docs/hub-config.md` has every key.
const CONFIG: &str = r#"
[[tenant]]
name = "demo"
[[tenant.client]]
name = "demo"
secret = "memwire-demo-secret"
rights = [{ regions = "*", access = "read-write" }]
[[tenant.region]]
name = "heater"
variables = [
  { name = "temperature", kind = "f32" },
  { name = "setpoint", kind = "f32", writable = true },
]
"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7878".into())
        .parse()?;
    let mut config = Config::parse(CONFIG, "hub-app", Path::new("."))?;
    config.listen.tcp = Some(addr);
    let hub = Hub::start(config).await?;
    println!(
        "listening on tcp://{}",
        hub.tcp_addr().ok_or("no TCP listener")?
    );

    // Writes through the hub are sent to subscribers from this thread.
    let heater = hub.writer("demo", "heater")?;
    // Clients' writes land in the region file (the config names no `root`,
    // so the hub's root is `Root::from_env()`); read them from there.
    let region = ShmRegion::open(&Root::from_env(), "demo/heater")?;
    let mut temperature = 20.0f32;
    heater.set_by_name("temperature", temperature)?;
    heater.set_by_name("setpoint", temperature)?;
    let mut setpoint = temperature;

    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut stop = std::pin::pin!(tokio::signal::ctrl_c());
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = &mut stop => break,
        }
        let wanted: f32 = region.get_by_name("setpoint")?;
        if wanted != setpoint {
            setpoint = wanted;
            println!("setpoint changed to {setpoint:.1}");
        }
        // Heat or cool by at most half a degree a tick.
        let step = (setpoint - temperature).clamp(-0.5, 0.5);
        if step != 0.0 {
            temperature += step;
            let generation = heater.set_by_name("temperature", temperature)?;
            println!("temperature {temperature:.1} (generation {generation})");
        }
    }
    hub.shutdown().await;
    Ok(())
}
