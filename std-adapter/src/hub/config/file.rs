//! The config file as written, with the position of every value that a
//! check can refuse, and the checks that turn it into a [`Config`]. Defaults
//! are applied while checking.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use memwire::codec::{CLIENT_NAME_MAX, MIN_FRAME};
use memwire::schema::{Kind, Name, NameError, Variable};
use memwire::session::Access;
use serde::Deserialize;
use toml::Spanned;

use super::{
    AUTH_DELAY_MAX, ClientEntry, Config, ConfigError, DEFAULT_TCP, HANDSHAKE_MAX, Limits, Listen,
    Publish, PublishPolicy, RegionDecl, Right, Section, Tenant, TlsListen, Web,
};
use crate::schema::OwnedSchema;

/// Checks the config `text`; errors name `origin`, relative paths are
/// resolved against `base_dir`.
pub(super) fn parse(text: &str, origin: &str, base_dir: &Path) -> Result<Config, ConfigError> {
    let src = Source {
        text,
        origin,
        base_dir,
    };
    let file: FileConfig = toml::from_str(text)
        .map_err(|e| src.at(e.span().unwrap_or(0..0), e.message().trim_end()))?;
    src.config(file)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    root: Option<Spanned<String>>,
    listen: Option<Spanned<FileListen>>,
    #[serde(default)]
    limits: FileLimits,
    #[serde(default)]
    publish: FilePublish,
    web: Option<Spanned<FileWeb>>,
    #[serde(default)]
    tenant: Vec<FileTenant>,
    zenoh: Option<Spanned<toml::Table>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileListen {
    tcp: Option<Spanned<String>>,
    unix: Option<Spanned<String>>,
    tls: Option<FileTls>,
    http: Option<Spanned<String>>,
    ws: Option<Spanned<String>>,
    wss: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTls {
    addr: Spanned<String>,
    cert: Spanned<String>,
    key: Spanned<String>,
}

type Num<T> = Option<Spanned<T>>;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLimits {
    max_connections: Num<usize>,
    handshake_ms: Num<u64>,
    max_frame: Num<u32>,
    outbound_cap: Num<usize>,
    rate_frames: Num<u32>,
    rate_frame_burst: Num<u32>,
    rate_bytes: Num<u32>,
    rate_byte_burst: Num<u32>,
    max_write: Num<usize>,
    keepalive_ms: Num<u64>,
    timeout_ms: Num<u64>,
    auth_delay_ms: Num<u64>,
    auth_delay_max_ms: Num<u64>,
    auth_sources: Num<usize>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePublish {
    max_rate_hz: Option<u32>,
    chunk: Num<usize>,
    encode_once: Option<bool>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileWeb {
    #[serde(default)]
    enabled: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTenant {
    name: Spanned<String>,
    #[serde(default)]
    client: Vec<FileClient>,
    #[serde(default)]
    region: Vec<FileRegion>,
    #[serde(default)]
    discover: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileClient {
    name: Spanned<String>,
    secret: Option<Spanned<String>>,
    secret_hex: Option<Spanned<String>>,
    #[serde(default)]
    rights: Vec<FileRight>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRight {
    regions: Spanned<String>,
    access: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRegion {
    name: Spanned<String>,
    variables: Option<Spanned<Vec<FileVariable>>>,
    publisher: Option<Spanned<String>>,
    publish: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileVariable {
    name: Spanned<String>,
    kind: Spanned<String>,
    count: Num<u32>,
    #[serde(default)]
    writable: bool,
}

/// The text being checked, to turn byte spans into positions.
struct Source<'a> {
    text: &'a str,
    origin: &'a str,
    base_dir: &'a Path,
}

/// The names seen so far in one scope, with the line each was first seen on.
#[derive(Default)]
struct Seen(HashMap<String, usize>);

impl Source<'_> {
    /// The line and column (both from 1, column in characters) of byte
    /// `offset`.
    fn position(&self, offset: usize) -> (usize, usize) {
        let bytes = self.text.as_bytes();
        let before = bytes.get(..offset).unwrap_or(bytes);
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let column = before
            .get(line_start..)
            .unwrap_or_default()
            .iter()
            .filter(|&&b| b & 0xC0 != 0x80)
            .count();
        (line, column + 1)
    }

    fn at(&self, span: Range<usize>, message: impl Into<String>) -> ConfigError {
        let (line, column) = self.position(span.start);
        ConfigError::Invalid {
            file: self.origin.to_owned(),
            line,
            column,
            message: message.into(),
        }
    }

    fn config(&self, file: FileConfig) -> Result<Config, ConfigError> {
        let root = file.root.map(|p| self.path(p, "root")).transpose()?;
        let listen = self.listen(file.listen)?;
        let limits = self.limits(file.limits)?;
        let defaults = Publish::default();
        let chunk = self.checked(file.publish.chunk, defaults.chunk, "chunk", |c| {
            c.is_power_of_two()
                .then_some(())
                .ok_or("must be a power of two")
        })?;
        let publish = Publish {
            max_rate_hz: file.publish.max_rate_hz.unwrap_or(defaults.max_rate_hz),
            chunk: chunk.0,
            encode_once: file.publish.encode_once.unwrap_or(defaults.encode_once),
        };
        let web = self.web(file.web, &listen)?;
        let mut seen = Seen::default();
        let mut tenants = Vec::with_capacity(file.tenant.len());
        for tenant in file.tenant {
            tenants.push(self.tenant(tenant, &mut seen)?);
        }
        let zenoh = file.zenoh.map(|table| self.section(table)).transpose()?;
        Ok(Config {
            listen,
            limits,
            publish,
            web,
            tenants,
            root,
            zenoh,
        })
    }

    /// A section kept for another crate to read, as TOML.
    fn section(&self, table: Spanned<toml::Table>) -> Result<Section, ConfigError> {
        let (line, _) = self.position(table.span().start);
        let toml =
            toml::to_string(table.get_ref()).map_err(|e| self.at(table.span(), e.to_string()))?;
        Ok(Section {
            toml,
            origin: format!("{}:{line}", self.origin),
            base_dir: self.base_dir.to_owned(),
        })
    }

    /// The web view's switch; the page needs the listener that serves it
    /// and one its client connects to.
    fn web(&self, web: Option<Spanned<FileWeb>>, listen: &Listen) -> Result<Web, ConfigError> {
        let Some(web) = web else {
            return Ok(Web::default());
        };
        let span = web.span();
        let enabled = web.into_inner().enabled;
        if enabled && listen.http.is_none() {
            let msg = "`web.enabled` needs `listen.http`, the listener that serves the page";
            return Err(self.at(span, msg));
        }
        if enabled && listen.ws.is_none() && listen.wss.is_none() {
            let msg = "`web.enabled` needs `listen.ws` or `listen.wss`, the listener the page's client connects to";
            return Err(self.at(span, msg));
        }
        Ok(Web { enabled })
    }

    /// A path from the file, relative ones resolved against the file's
    /// directory.
    fn path(&self, path: Spanned<String>, key: &str) -> Result<PathBuf, ConfigError> {
        if path.get_ref().is_empty() {
            return Err(self.at(path.span(), format!("`{key}` is an empty path")));
        }
        Ok(self.base_dir.join(path.into_inner()))
    }

    fn addr(&self, addr: &Spanned<String>, key: &str) -> Result<SocketAddr, ConfigError> {
        addr.get_ref().parse().map_err(|_| {
            let msg = format!(
                "`{key}` = {:?} is not an address: expected IP:PORT, such as 127.0.0.1:7878 or [::1]:7878",
                addr.get_ref()
            );
            self.at(addr.span(), msg)
        })
    }

    fn listen(&self, listen: Option<Spanned<FileListen>>) -> Result<Listen, ConfigError> {
        let Some(listen) = listen else {
            return Ok(Listen::default());
        };
        let span = listen.span();
        let listen = listen.into_inner();
        let tcp = match &listen.tcp {
            None => Some(DEFAULT_TCP),
            Some(tcp) if tcp.get_ref().is_empty() => None,
            Some(tcp) => Some(self.addr(tcp, "listen.tcp")?),
        };
        let unix = listen
            .unix
            .map(|p| self.path(p, "listen.unix"))
            .transpose()?;
        let tls = match listen.tls {
            None => None,
            Some(tls) => {
                let addr = self.addr(&tls.addr, "listen.tls.addr")?;
                if tcp == Some(addr) {
                    let msg = format!("`listen.tls.addr` is {addr}, the same as `listen.tcp`");
                    return Err(self.at(tls.addr.span(), msg));
                }
                Some(TlsListen {
                    addr,
                    cert: self.path(tls.cert, "listen.tls.cert")?,
                    key: self.path(tls.key, "listen.tls.key")?,
                })
            }
        };
        let http = listen
            .http
            .map(|a| self.addr(&a, "listen.http"))
            .transpose()?;
        let ws = listen.ws.map(|a| self.addr(&a, "listen.ws")).transpose()?;
        let wss = match listen.wss {
            None => None,
            Some(wss) if tls.is_none() => {
                let msg = "`listen.wss` needs `[listen.tls]`: its certificate and key";
                return Err(self.at(wss.span(), msg));
            }
            Some(wss) => Some(self.addr(&wss, "listen.wss")?),
        };
        if tcp.is_none() && unix.is_none() && tls.is_none() && ws.is_none() {
            let msg = "nothing to listen on: `listen.tcp` is off and none of `listen.unix`, `listen.tls` and `listen.ws` is set";
            return Err(self.at(span, msg));
        }
        Ok(Listen {
            tcp,
            unix,
            tls,
            http,
            ws,
            wss,
        })
    }

    /// The value of `key`, or `default`, checked by `ok`; with the value's
    /// span when the file gave it.
    fn checked<T: Copy + fmt::Display>(
        &self,
        value: Num<T>,
        default: T,
        key: &str,
        ok: impl FnOnce(T) -> Result<(), &'static str>,
    ) -> Result<(T, Option<Range<usize>>), ConfigError> {
        let Some(value) = value else {
            return Ok((default, None));
        };
        let (span, value) = (value.span(), value.into_inner());
        match ok(value) {
            Ok(()) => Ok((value, Some(span))),
            Err(why) => Err(self.at(span, format!("`{key}` = {value} {why}"))),
        }
    }

    /// An error about two keys' values together, at the one the file gave
    /// (the later one if both).
    fn pair(
        &self,
        first: Option<Range<usize>>,
        second: Option<Range<usize>>,
        msg: String,
    ) -> ConfigError {
        self.at(second.or(first).unwrap_or(0..0), msg)
    }

    fn limits(&self, file: FileLimits) -> Result<Limits, ConfigError> {
        let d = Limits::default();
        let max_connections = self.checked(
            file.max_connections,
            d.max_connections,
            "max_connections",
            at_least_one,
        )?;
        let handshake = self.checked(
            file.handshake_ms,
            millis(d.handshake),
            "handshake_ms",
            |ms| {
                (1..=millis(HANDSHAKE_MAX))
                    .contains(&ms)
                    .then_some(())
                    .ok_or("must be from 1 to 10000 (10 s)")
            },
        )?;
        let max_frame = self.checked(file.max_frame, d.max_frame, "max_frame", |n| {
            (n >= MIN_FRAME).then_some(()).ok_or("must be at least 128")
        })?;
        let outbound_cap = self.checked(
            file.outbound_cap,
            d.outbound_cap,
            "outbound_cap",
            |_| Ok(()),
        )?;
        let frames = self.checked(file.rate_frames, d.rate_frames, "rate_frames", at_least_one)?;
        let frame_burst = self.checked(
            file.rate_frame_burst,
            d.rate_frame_burst,
            "rate_frame_burst",
            at_least_one,
        )?;
        let bytes = self.checked(file.rate_bytes, d.rate_bytes, "rate_bytes", at_least_one)?;
        let byte_burst = self.checked(
            file.rate_byte_burst,
            d.rate_byte_burst,
            "rate_byte_burst",
            |_| Ok(()),
        )?;
        let max_write = self.checked(file.max_write, d.max_write, "max_write", |_| Ok(()))?;
        let keepalive = self.checked(
            file.keepalive_ms,
            millis(d.keepalive),
            "keepalive_ms",
            at_least_one,
        )?;
        let timeout = self.checked(file.timeout_ms, millis(d.timeout), "timeout_ms", |_| Ok(()))?;
        let auth_delay = self.checked(
            file.auth_delay_ms,
            millis(d.auth_delay),
            "auth_delay_ms",
            |_| Ok(()),
        )?;
        let auth_delay_max = self.checked(
            file.auth_delay_max_ms,
            millis(d.auth_delay_max),
            "auth_delay_max_ms",
            |ms| {
                (ms <= millis(AUTH_DELAY_MAX))
                    .then_some(())
                    .ok_or("must be at most 60000 (60 s)")
            },
        )?;
        let auth_sources = self.checked(
            file.auth_sources,
            d.auth_sources,
            "auth_sources",
            at_least_one,
        )?;

        let frame = usize::try_from(max_frame.0).unwrap_or(usize::MAX);
        if outbound_cap.0 < frame {
            let msg = format!(
                "`outbound_cap` = {} must be at least `max_frame` = {}",
                outbound_cap.0, max_frame.0
            );
            return Err(self.pair(max_frame.1, outbound_cap.1, msg));
        }
        if byte_burst.0 < max_frame.0 {
            let msg = format!(
                "`rate_byte_burst` = {} must be at least `max_frame` = {}, or the largest frames never pass",
                byte_burst.0, max_frame.0
            );
            return Err(self.pair(max_frame.1, byte_burst.1, msg));
        }
        if timeout.0 <= keepalive.0 {
            let msg = format!(
                "`timeout_ms` = {} must be longer than `keepalive_ms` = {}",
                timeout.0, keepalive.0
            );
            return Err(self.pair(keepalive.1, timeout.1, msg));
        }
        if auth_delay_max.0 < auth_delay.0 {
            let msg = format!(
                "`auth_delay_max_ms` = {} must be at least `auth_delay_ms` = {}",
                auth_delay_max.0, auth_delay.0
            );
            return Err(self.pair(auth_delay.1, auth_delay_max.1, msg));
        }
        Ok(Limits {
            max_connections: max_connections.0,
            handshake: Duration::from_millis(handshake.0),
            max_frame: max_frame.0,
            outbound_cap: outbound_cap.0,
            rate_frames: frames.0,
            rate_frame_burst: frame_burst.0,
            rate_bytes: bytes.0,
            rate_byte_burst: byte_burst.0,
            max_write: max_write.0,
            keepalive: Duration::from_millis(keepalive.0),
            timeout: Duration::from_millis(timeout.0),
            auth_delay: Duration::from_millis(auth_delay.0),
            auth_delay_max: Duration::from_millis(auth_delay_max.0),
            auth_sources: auth_sources.0,
        })
    }

    /// A name under [`Name`] rules; `in_path` adds the rule of region files
    /// and tenant directories (no leading dot).
    fn name(&self, name: &Spanned<String>, what: &str, in_path: bool) -> Result<Name, ConfigError> {
        let text = name.get_ref();
        let why = match Name::new(text) {
            Ok(_) if in_path && text.starts_with('.') => "starts with a dot".to_owned(),
            Ok(name) => return Ok(name),
            Err(NameError::Empty) => "is empty".to_owned(),
            Err(NameError::TooLong) => "is longer than 40 bytes".to_owned(),
            Err(NameError::InvalidByte) => "holds a character outside A-Z a-z 0-9 _ . -".to_owned(),
            Err(e) => e.to_string(),
        };
        Err(self.at(name.span(), format!("{what} name {text:?} {why}")))
    }

    fn tenant(&self, file: FileTenant, tenants: &mut Seen) -> Result<Tenant, ConfigError> {
        let name = self.name(&file.name, "tenant", true)?;
        tenants.insert(self, &file.name, "tenant")?;
        let mut seen = Seen::default();
        let mut clients = Vec::with_capacity(file.client.len());
        for client in file.client {
            seen.insert(self, &client.name, "client")?;
            clients.push(self.client(client)?);
        }
        let mut seen = Seen::default();
        let mut regions = Vec::with_capacity(file.region.len());
        for region in file.region {
            let name = self.name(&region.name, "region", true)?;
            seen.insert(self, &region.name, "region")?;
            let publisher = match &region.publisher {
                Some(p) if !clients.iter().any(|c| c.name == *p.get_ref()) => {
                    let msg = format!(
                        "publisher {:?} of region {:?} is not a client of the tenant",
                        p.get_ref(),
                        region.name.get_ref()
                    );
                    return Err(self.at(p.span(), msg));
                }
                p => p.as_ref().map(|p| p.get_ref().clone()),
            };
            let publish = self.policy(region.publish.as_ref())?;
            if let (PublishPolicy::Manual, Some(p), Some(_)) =
                (publish, &region.publish, &publisher)
            {
                let msg = "a region a client publishes is sent as its publisher sends it: \
                    no \"manual\" policy";
                return Err(self.at(p.span(), msg));
            }
            if let (None, Some(p)) = (&region.variables, &region.publisher) {
                let msg = format!(
                    "region {:?} is published by client {:?}: the hub creates its copy, so it needs its `variables`",
                    region.name.get_ref(),
                    p.get_ref()
                );
                return Err(self.at(region.name.span(), msg));
            }
            regions.push(RegionDecl {
                name,
                schema: self.schema(region)?,
                publisher,
                publish,
            });
        }
        Ok(Tenant {
            name,
            clients,
            regions,
            discover: file.discover,
        })
    }

    fn client(&self, file: FileClient) -> Result<ClientEntry, ConfigError> {
        let name = file.name.get_ref();
        if name.is_empty() || name.len() > CLIENT_NAME_MAX || name.chars().any(char::is_control) {
            let msg = format!(
                "client name {name:?} must be 1 to {CLIENT_NAME_MAX} bytes with no control characters"
            );
            return Err(self.at(file.name.span(), msg));
        }
        let secret = match (file.secret, file.secret_hex) {
            (Some(_), Some(hex)) => {
                let msg = "give `secret` or `secret_hex`, not both";
                return Err(self.at(hex.span(), msg));
            }
            (None, None) => {
                let msg = format!("client {name:?} has no `secret` (or `secret_hex`)");
                return Err(self.at(file.name.span(), msg));
            }
            (Some(text), None) => (text.span(), text.into_inner().into_bytes()),
            (None, Some(hex)) => {
                let bytes = decode_hex(hex.get_ref()).ok_or_else(|| {
                    self.at(
                        hex.span(),
                        "`secret_hex` is not an even number of hex digits",
                    )
                })?;
                (hex.span(), bytes)
            }
        };
        if secret.1.is_empty() {
            return Err(self.at(secret.0, "the secret is empty"));
        }
        let mut rights = Vec::with_capacity(file.rights.len());
        for right in file.rights {
            rights.push(self.right(right)?);
        }
        Ok(ClientEntry {
            name: file.name.into_inner(),
            secret: secret.1,
            rights,
        })
    }

    fn right(&self, file: FileRight) -> Result<Right, ConfigError> {
        let pattern = file.regions.get_ref();
        let valid = match pattern.strip_suffix('*') {
            Some("") => true,
            Some(prefix) => Name::new(prefix).is_ok(),
            None => Name::new(pattern).is_ok() && !pattern.starts_with('.'),
        };
        if !valid {
            let msg = format!(
                "region pattern {pattern:?} is not a region name, \"*\", or a name prefix followed by \"*\""
            );
            return Err(self.at(file.regions.span(), msg));
        }
        let access = match file.access.get_ref().as_str() {
            "read" => Access::Read,
            "read-write" => Access::ReadWrite,
            other => {
                let msg = format!("access {other:?} is not \"read\" or \"read-write\"");
                return Err(self.at(file.access.span(), msg));
            }
        };
        Ok(Right {
            pattern: file.regions.into_inner(),
            access,
        })
    }

    fn policy(&self, publish: Option<&Spanned<String>>) -> Result<PublishPolicy, ConfigError> {
        match publish.map(|p| (p.get_ref().as_str(), p.span())) {
            None | Some(("delta", _)) => Ok(PublishPolicy::Delta),
            Some(("manual", _)) => Ok(PublishPolicy::Manual),
            Some((other, span)) => Err(self.at(
                span,
                format!("unknown publish policy {other:?}: expected \"delta\" or \"manual\""),
            )),
        }
    }

    /// The declared variables; `None` when the region adopts its file's.
    fn schema(&self, region: FileRegion) -> Result<Option<OwnedSchema>, ConfigError> {
        let Some(variables) = region.variables else {
            return Ok(None);
        };
        let span = variables.span();
        let list = variables.into_inner();
        if list.is_empty() {
            return Err(self.at(span, "a region needs at least one variable"));
        }
        let mut seen = Seen::default();
        let mut vars = Vec::with_capacity(list.len());
        for var in list {
            let name = self.name(&var.name, "variable", false)?;
            seen.insert(self, &var.name, "variable")?;
            let kind = Kind::from_name(var.kind.get_ref()).ok_or_else(|| {
                let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
                let msg = format!(
                    "unknown kind {:?}: expected one of {}",
                    var.kind.get_ref(),
                    names.join(", ")
                );
                self.at(var.kind.span(), msg)
            })?;
            let count = self.checked(var.count, 1, "count", at_least_one)?;
            vars.push(Variable {
                writable: var.writable,
                ..Variable::new(name, kind, count.0, 0)
            });
        }
        OwnedSchema::new(vars).map(Some).map_err(|e| {
            let msg = format!("region {:?}: {e}", region.name.get_ref());
            self.at(span, msg)
        })
    }
}

impl Seen {
    /// Records `name`; a second one is an error.
    fn insert(
        &mut self,
        src: &Source<'_>,
        name: &Spanned<String>,
        what: &str,
    ) -> Result<(), ConfigError> {
        let (line, _) = src.position(name.span().start);
        match self.0.insert(name.get_ref().clone(), line) {
            None => Ok(()),
            Some(first) => {
                let msg = format!(
                    "duplicate {what} {:?} (first on line {first})",
                    name.get_ref()
                );
                Err(src.at(name.span(), msg))
            }
        }
    }
}

/// The check of counts, rates and times that cannot be zero.
fn at_least_one<T: PartialOrd + From<u8>>(n: T) -> Result<(), &'static str> {
    (n >= T::from(1)).then_some(()).ok_or("must be at least 1")
}

/// A duration in whole milliseconds, as the file writes it.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The bytes written as hex digits (either case), two per byte.
pub(super) fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks_exact(2)
        .map(|pair| {
            let hi = char::from(*pair.first()?).to_digit(16)?;
            let lo = char::from(*pair.get(1)?).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}
