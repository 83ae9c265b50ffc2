//! memwire across hubs over [zenoh](https://zenoh.io): a hub **exports**
//! the regions it owns and **imports** regions other hubs own, each
//! imported region a local region file its processes, clients and devices
//! are served from as from any other. `docs/multi-host.md` is the guide;
//! `spec/zenoh-keys.md` freezes the keys and payloads.
//!
//! - `bridge.rs`: [`Bridge`], the hub's zenoh session and a task per
//!   region.
//! - `export.rs`: the owner: updates put on the region's `update` key,
//!   `snapshot` and `write` queries answered, the `owner` token.
//! - `import.rs`: the mirror: resume, query, apply, forward writes.
//! - `keys.rs`: the key expressions ([`RegionKeys`]).
//! - `payload.rs`: what each key carries, in the wire format's encoding.
//! - `config.rs`: [`BridgeConfig`], the `[zenoh]` section of the hub's config.
//! - `error.rs`: [`Error`].
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use memwire_std::hub::{Config, Hub};
//! use memwire_zenoh::{Bridge, BridgeConfig};
//!
//! // hub.toml holds the hub's settings and the bridge's `[zenoh]` section.
//! let config = Config::load("hub.toml".as_ref())?;
//! let bridge_config = BridgeConfig::from_section(config.zenoh.as_ref().ok_or("no [zenoh]")?)?;
//! let hub = Arc::new(Hub::start(config).await?);
//! let bridge = Bridge::start(Arc::clone(&hub), &bridge_config).await?;
//! tokio::signal::ctrl_c().await?;
//! bridge.close().await;
//! # Ok(()) }
//! ```

mod bridge;
pub mod config;
mod error;
mod export;
mod import;
pub mod keys;
pub mod payload;

pub use bridge::Bridge;
pub use config::{BridgeConfig, BridgeConfigError, Login, Mode};
pub use error::Error;
pub use import::ImportStatus;
pub use keys::RegionKeys;
