//! The hub's configuration, read from TOML: where it listens, the limits on
//! each connection, how often subscribers are sent updates, and per tenant
//! the clients (secret and rights), the regions (name and variables, or
//! none to adopt the file's) and whether other region files are discovered.
//!
//! `docs/hub-config.md` describes every key and its default.
//! [`DEFAULT_TOML`] is what `memwire serve` runs with no file. The file is
//! read into private types that keep each value's position, then checked
//! into the public ones, so every error names the file, line and column of
//! the value at fault.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use memwire::schema::Name;
use memwire::session::{Access, RateConfig};

use crate::schema::OwnedSchema;

/// The configuration `memwire serve` runs without a file: the `demo` tenant
/// with its `sensors` region and the clients `demo` (read-write) and
/// `viewer` (read-only), on `127.0.0.1:7878`.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

/// The `demo` client's secret in [`DEFAULT_TOML`], printed by `memwire serve`.
pub const DEMO_SECRET: &str = "memwire-demo-secret";

/// The read-only `viewer` client's secret in [`DEFAULT_TOML`], carried by
/// the web view's URL that `memwire demo` prints.
pub const VIEWER_SECRET: &str = "memwire-viewer-secret";

/// The TCP address listened on when `listen.tcp` is absent.
pub const DEFAULT_TCP: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 7878);

/// The longest handshake deadline accepted: a connection that has not
/// authenticated by then is dropped, whatever it sends.
pub const HANDSHAKE_MAX: Duration = Duration::from_secs(10);

/// The longest `auth_delay_max` accepted: a source is remembered for a
/// minute after its last turn, so a longer wait would outlast its record.
pub const AUTH_DELAY_MAX: Duration = Duration::from_secs(60);

/// The hub's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Where the hub accepts connections.
    pub listen: Listen,
    /// The bounds on each connection.
    pub limits: Limits,
    /// How subscribers are sent updates.
    pub publish: Publish,
    /// The live web view on the HTTP listener.
    pub web: Web,
    /// The tenants, in file order; names are unique.
    pub tenants: Vec<Tenant>,
    /// The directory of the region files; `None` for the one
    /// `shm::Root::from_env` picks.
    pub root: Option<PathBuf>,
    /// The `[zenoh]` section as written, for the zenoh bridge
    /// (`memwire-zenoh`) to read; this crate keeps it without reading it.
    pub zenoh: Option<Section>,
}

/// A section of the file that another crate reads (the `[zenoh]` section,
/// `docs/hub-config.md`, "The zenoh bridge"): its TOML text and where it
/// came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// The section's keys and values, as TOML.
    pub toml: String,
    /// Where the section is, `file:line`, for errors to name.
    pub origin: String,
    /// The config file's directory, against which relative paths in the
    /// section are resolved.
    pub base_dir: PathBuf,
}

/// Where the hub accepts connections; at least one is set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listen {
    /// Plain TCP; [`DEFAULT_TCP`] unless the file says otherwise.
    pub tcp: Option<SocketAddr>,
    /// A Unix socket, over which clients may map region files directly.
    pub unix: Option<PathBuf>,
    /// TLS over TCP.
    pub tls: Option<TlsListen>,
    /// The HTTP listener of the hub's metrics (`/metrics`, the Prometheus
    /// text format); off unless the file sets `listen.http`.
    pub http: Option<SocketAddr>,
    /// WebSocket (`ws://`): one frame body per binary message; off unless
    /// the file sets `listen.ws`.
    pub ws: Option<SocketAddr>,
    /// Secure WebSocket (`wss://`) with the certificate of `[listen.tls]`;
    /// off unless the file sets `listen.wss`.
    pub wss: Option<SocketAddr>,
}

impl Default for Listen {
    fn default() -> Listen {
        Listen {
            tcp: Some(DEFAULT_TCP),
            unix: None,
            tls: None,
            http: None,
            ws: None,
            wss: None,
        }
    }
}

/// A TLS listener and its certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsListen {
    /// The address listened on.
    pub addr: SocketAddr,
    /// The certificate chain, PEM (resolved against the config file's
    /// directory).
    pub cert: PathBuf,
    /// The private key, PEM (resolved against the config file's directory).
    pub key: PathBuf,
}

/// The bounds on each connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once; more are refused.
    pub max_connections: usize,
    /// Time allowed from accept to authenticated (at most [`HANDSHAKE_MAX`]).
    pub handshake: Duration,
    /// The largest frame body taken or sent (at least 128 bytes).
    pub max_frame: u32,
    /// Bytes queued for one connection before it is dropped as a slow
    /// consumer (at least `max_frame`).
    pub outbound_cap: usize,
    /// Frames a client may send per second.
    pub rate_frames: u32,
    /// Frames a client may send in a burst.
    pub rate_frame_burst: u32,
    /// Frame body bytes a client may send per second.
    pub rate_bytes: u32,
    /// Frame body bytes a client may send in a burst (at least `max_frame`).
    pub rate_byte_burst: u32,
    /// The largest write, in bytes, taken in parts (a write larger than a
    /// frame), whose parts the hub keeps for the connection until the last
    /// one; a larger write is refused with `LimitExceeded`. 0 takes only
    /// writes that fit a frame.
    pub max_write: usize,
    /// Ping a client when nothing was sent to it for this long.
    pub keepalive: Duration,
    /// Close a connection when nothing was heard for this long (longer than
    /// `keepalive`).
    pub timeout: Duration,
    /// The wait before a source whose login failed is answered again,
    /// doubled with each further failure; zero turns the throttle off.
    pub auth_delay: Duration,
    /// The longest such wait (at least `auth_delay`, at most
    /// [`AUTH_DELAY_MAX`]); a connection that would wait longer is refused.
    pub auth_delay_max: Duration,
    /// Sources whose failed logins are remembered; past it the oldest is
    /// forgotten.
    pub auth_sources: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 1024,
            handshake: Duration::from_secs(5),
            max_frame: 65_536,
            outbound_cap: 4 << 20,
            rate_frames: 1_000,
            rate_frame_burst: 500,
            rate_bytes: 1 << 20,
            rate_byte_burst: 256 << 10,
            max_write: 256 << 10,
            keepalive: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
            auth_delay: Duration::from_millis(100),
            auth_delay_max: Duration::from_secs(5),
            auth_sources: 1024,
        }
    }
}

impl Limits {
    /// The rate limits in the core's terms.
    pub fn rate(&self) -> RateConfig {
        RateConfig {
            frames: self.rate_frames,
            frame_burst: self.rate_frame_burst,
            bytes: self.rate_bytes,
            byte_burst: self.rate_byte_burst,
        }
    }
}

/// How subscribers are sent updates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Publish {
    /// At most this many updates per second to each subscriber (changes in
    /// between coalesce); 0 for no limit.
    pub max_rate_hz: u32,
    /// The bytes of data area tracked as one unit of change, a power of two.
    pub chunk: usize,
    /// Encode each update part once per region and send the same bytes to
    /// every subscriber due it (only the subscription's handle differs).
    pub encode_once: bool,
}

impl Default for Publish {
    fn default() -> Publish {
        Publish {
            max_rate_hz: 100,
            chunk: 64,
            encode_once: true,
        }
    }
}

/// The live web view (`[web]`): the page the HTTP listener serves at `/`,
/// which logs in over the WebSocket listener as a client of the config.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Web {
    /// Whether `listen.http` serves the page; off unless the file sets
    /// `web.enabled`.
    pub enabled: bool,
}

/// A group of regions with its own clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    /// The tenant's name: the first part of `tenant/region`.
    pub name: Name,
    /// The clients that may authenticate for this tenant; names are unique.
    pub clients: Vec<ClientEntry>,
    /// The regions the hub creates (or adopts) and serves; names are unique.
    pub regions: Vec<RegionDecl>,
    /// Whether the hub also serves every other valid region file in the
    /// tenant's directory, with the file's own schema, as files come and go.
    pub discover: bool,
}

impl Tenant {
    /// The client called `name`.
    pub fn client(&self, name: &str) -> Option<&ClientEntry> {
        self.clients.iter().find(|c| c.name == name)
    }

    /// The region called `name`.
    pub fn region(&self, name: &str) -> Option<&RegionDecl> {
        self.regions.iter().find(|r| r.name.as_str() == name)
    }
}

/// A client of a tenant: what it proves it knows, and what it may do.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientEntry {
    /// The name the client gives in its hello.
    pub name: String,
    /// The key of the client's authentication proof (never empty).
    pub secret: Vec<u8>,
    /// What the client may do, by region name pattern.
    pub rights: Vec<Right>,
}

impl ClientEntry {
    /// What the client may do with `region`: the most permissive right whose
    /// pattern matches it, or [`Access::None`].
    pub fn access(&self, region: &str) -> Access {
        self.rights
            .iter()
            .filter(|r| r.matches(region))
            .map(|r| r.access)
            .max_by_key(|&a| rank(a))
            .unwrap_or(Access::None)
    }
}

impl fmt::Debug for ClientEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Configs end up in logs; secrets must not.
        f.debug_struct("ClientEntry")
            .field("name", &self.name)
            .field("secret", &format_args!("<{} bytes>", self.secret.len()))
            .field("rights", &self.rights)
            .finish()
    }
}

/// How permissive an access is, for picking the most permissive right.
fn rank(access: Access) -> u8 {
    match access {
        Access::None => 0,
        Access::Read => 1,
        Access::ReadWrite => 2,
    }
}

/// A client's access to the regions whose names match a pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Right {
    /// A region name, `*` for every region, or `prefix*` for the regions whose
    /// names start with `prefix`.
    pub pattern: String,
    /// What the client may do with them.
    pub access: Access,
}

impl Right {
    /// Whether the pattern matches the region called `region`.
    pub fn matches(&self, region: &str) -> bool {
        match self.pattern.strip_suffix('*') {
            Some(prefix) => region.starts_with(prefix),
            None => self.pattern == region,
        }
    }
}

/// A region declared in the config: the hub creates it with its schema, or
/// adopts the schema of the file its writer created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionDecl {
    /// The region's name: the second part of `tenant/region`.
    pub name: Name,
    /// The variables, placed in the order declared at natural alignment;
    /// `None` when the config gives none: the hub then serves the file
    /// with the schema in its own table, once its writer has created it.
    pub schema: Option<OwnedSchema>,
    /// The client that publishes the region, if one does: the hub
    /// subscribes to the region of that name at the client once it is
    /// welcomed, and keeps its file a copy of it.
    pub publisher: Option<String>,
    /// When subscribers are sent the region's changes.
    pub publish: PublishPolicy,
}

/// When a region's subscribers are sent its changes (a region's `publish`
/// key; `docs/hub.md`, "Publish policies").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublishPolicy {
    /// Every commit the hub finds, as a delta (`"delta"`, the default).
    #[default]
    Delta,
    /// Only the states the region's writer marks as consistent
    /// (`"manual"`: [`ShmWriter::publish`](crate::shm::ShmWriter::publish),
    /// [`HubWriter::publish`](super::HubWriter::publish)).
    Manual,
}

impl Config {
    /// Reads and checks the config file at `path`; relative paths in it are
    /// resolved against its directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            file: file.clone(),
            error,
        })?;
        Config::parse(&text, &file, path.parent().unwrap_or(Path::new("")))
    }

    /// Checks the config `text`; errors name `origin` as the file, and
    /// relative paths are resolved against `base_dir`.
    pub fn parse(text: &str, origin: &str, base_dir: &Path) -> Result<Config, ConfigError> {
        file::parse(text, origin, base_dir)
    }

    /// The configuration in [`DEFAULT_TOML`].
    pub fn default_config() -> Config {
        match Config::parse(DEFAULT_TOML, "<built-in config>", Path::new("")) {
            Ok(config) => config,
            #[allow(
                clippy::panic,
                reason = "the embedded config is checked by a unit test"
            )]
            Err(e) => panic!("the built-in config is invalid: {e}"),
        }
    }

    /// The tenant called `name`.
    pub fn tenant(&self, name: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.name.as_str() == name)
    }

    /// The secret of client `client` of tenant `tenant`.
    pub fn secret(&self, tenant: &str, client: &str) -> Option<&[u8]> {
        Some(&self.tenant(tenant)?.client(client)?.secret)
    }

    /// What client `client` of tenant `tenant` may do with region `region`:
    /// the most permissive matching right; [`Access::None`] for an unknown
    /// tenant or client or no matching right. Whether the region exists is
    /// not checked.
    pub fn access(&self, tenant: &str, client: &str, region: &str) -> Access {
        self.tenant(tenant)
            .and_then(|t| t.client(client))
            .map_or(Access::None, |c| c.access(region))
    }
}

/// Why a config could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {file}: {error}")]
    Read {
        /// The file.
        file: String,
        /// What the system said.
        error: std::io::Error,
    },
    /// The text is not TOML, or not a valid config.
    #[error("{file}:{line}:{column}: {message}")]
    Invalid {
        /// The file, or the origin given to [`Config::parse`].
        file: String,
        /// The line of the value at fault, from 1.
        line: usize,
        /// The column (in characters) of the value at fault, from 1.
        column: usize,
        /// What is wrong.
        message: String,
    },
}

impl ConfigError {
    /// The line at fault, from 1; `None` when the file could not be read.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Invalid { line, .. } => Some(*line),
            ConfigError::Read { .. } => None,
        }
    }
}

mod file;

#[cfg(test)]
mod tests;
