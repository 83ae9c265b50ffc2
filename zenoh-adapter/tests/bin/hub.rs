//! A hub with its zenoh bridge, for the tests: `zenoh-hub <hub.toml>`, the
//! file's `[zenoh]` section configuring the bridge. Prints `ready <tcp
//! address> <metrics address>` once serving, then a
//! `status` line per imported region whenever one changes.

use std::sync::Arc;
use std::time::Duration;

use memwire_std::hub::{Config, Hub};
use memwire_zenoh::{Bridge, BridgeConfig};

#[tokio::main]
async fn main() {
    let hub_file = std::env::args()
        .nth(1)
        .expect("usage: zenoh-hub <hub.toml>");
    let config = Config::load(hub_file.as_ref()).expect("hub config");
    let section = config.zenoh.as_ref().expect("a [zenoh] section");
    let bridge_config = BridgeConfig::from_section(section).expect("bridge config");
    let hub = Arc::new(Hub::start(config).await.expect("hub start"));
    let bridge = Bridge::start(Arc::clone(&hub), &bridge_config)
        .await
        .expect("bridge start");
    println!(
        "ready {} {}",
        hub.tcp_addr().expect("a TCP listener"),
        hub.http_addr().expect("an HTTP listener")
    );
    let mut last = Vec::new();
    loop {
        let now = bridge.imports();
        if now != last {
            for s in &now {
                let held = s
                    .held
                    .map_or("none".to_owned(), |(i, g)| format!("{i}:{g}"));
                println!(
                    "status {} owner={} held={held} full={} deltas={} updates={}",
                    s.path,
                    if s.owner_up { "up" } else { "lost" },
                    s.full,
                    s.deltas,
                    s.updates
                );
            }
            last = now;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
