//! The hub: serves regions to clients over TCP, TLS, a Unix socket and
//! WebSocket.
//!
//! - `handle.rs`: the [`Hub`] handle and its lifecycle: start, the
//!   addresses it listens on, [`Hub::writer`], [`Hub::reload`], shutdown.
//! - `accept.rs`: the transports (TCP, TLS, Unix) behind one small trait,
//!   and the accept loop with the connection limit (a connection past it
//!   told so), the throttle's wait and the orderly close.
//! - `peer.rs`: where a connection comes from: its name in the logs and
//!   the source its failed logins count against.
//! - `logins.rs`: refused logins: the per-source throttle and the
//!   operator's log of refusals, held to a few lines a second.
//! - `handler.rs`: one task per connection, running the core's sans-IO
//!   [`Server`](memwire::session::Server) session over the stream in named
//!   steps (prepare and events, wait, read, timer, forward).
//! - `connection.rs`: what a connection shares with the scans (the session
//!   behind a mutex), and the update a scan sends from its own thread.
//! - `wire.rs`: a connection's byte stream, shared with the scans when
//!   plain, the task's own when TLS.
//! - `websocket.rs`: the WebSocket listeners (`listen.ws`, `listen.wss`),
//!   one frame body per binary message.
//! - `view.rs`: the hub as one connection's session sees it (rights, and a
//!   snapshot of each region, refreshed at the subscriber rate).
//! - `region.rs`: each region as a shared-memory file, the hub's turns at
//!   writing it, the copy of a region a client publishes, and the
//!   listeners it tells of new snapshots.
//! - `shadow.rs`: the snapshot sessions publish from, and what the scan
//!   keeps between scans.
//! - `scan.rs`: scanning: the scanner threads (woken by the region's
//!   futex), the scan (narrowed by sequence counters), and the direct sends
//!   to the first subscribers.
//! - `parts.rs`: update parts encoded once and copied to every subscriber
//!   (`[publish] encode_once`).
//! - `forward.rs`: writes to a region a client publishes, forwarded to
//!   that client.
//! - `writer.rs`: [`HubWriter`], writes made in the hub's process and
//!   published from the writing thread.
//! - `recheck.rs`: noticing that a served file was removed, renamed,
//!   replaced or changed, and taking up its successor.
//! - `unavailable.rs`: why a region serves no file now, and the reason
//!   its subscribers get.
//! - `discover.rs`: the regions of a tenant that discovers them, found in
//!   its directory as files come and go, with each file's own schema.
//! - `reload.rs`: [`Hub::reload`]: what differs between the configuration
//!   running and a new one ([`Reloaded`]), and applying it to the regions
//!   and connections.
//! - `bridge.rs`: what a bridge between hubs (`memwire-zenoh`) needs: a
//!   region's snapshots as its scans publish them ([`Feed`]), writes made
//!   elsewhere applied ([`Hub::apply_write`]), and the writes to a region
//!   it imports handed to it ([`Inbox`]).
//! - `shared.rs`: what every part of a running hub shares (the regions, the
//!   configuration, the session clock); it names none of them.
//! - `metrics.rs`: the hub's counters (connections, logins, writes,
//!   closes, traffic, slow consumers; per region: generation, commits,
//!   subscribers, scan durations, updates sent full and as deltas and
//!   their bytes) and the scrape that writes them in the
//!   Prometheus text format, the counters added to per connection turn
//!   and per update part striped over cache lines (`striped.rs`);
//!   `http.rs`: the HTTP listener that serves it at `/metrics`
//!   (`listen.http`, off by default), and the web view's page; `web.rs`:
//!   the page's files, embedded, and `/web.json` (where the page's client
//!   connects; `[web] enabled`, off by default).
//! - `config.rs`: the TOML configuration ([`Config`]) and its embedded
//!   default (a `demo` tenant with a demo region).
//! - `error.rs`: [`HubError`].
//!
//! ```no_run
//! # async fn run() -> Result<(), memwire_std::hub::HubError> {
//! use memwire_std::hub::{Config, Hub};
//!
//! let hub = Hub::start(Config::default_config()).await?;
//! println!("listening on {:?}", hub.tcp_addr());
//! tokio::signal::ctrl_c().await.ok();
//! hub.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! `docs/hub.md` is the operator's guide; `docs/hub-config.md` documents
//! every configuration key; `docs/architecture.md` maps the files.

mod accept;
mod bridge;
pub mod config;
mod connection;
mod discover;
mod error;
mod forward;
mod handle;
mod handler;
mod http;
mod logins;
mod metrics;
mod parts;
mod peer;
mod recheck;
mod region;
mod reload;
mod scan;
mod shadow;
mod shared;
mod striped;
mod unavailable;
mod view;
mod web;
mod websocket;
mod wire;
mod writer;

pub use bridge::{BridgeError, Feed, ForwardedWrite, Inbox, Snapshot};
pub use config::{Config, ConfigError, PublishPolicy};
pub use error::HubError;
pub use handle::Hub;
pub use handler::SLOW_CONSUMER_GRACE;
pub use region::REQUEST_TIMEOUT;
pub use reload::{ReloadError, Reloaded};
pub use writer::{HubWriter, WriterError};
