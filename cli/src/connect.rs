//! What the client commands share: the hub options (`--hub`, `--client`,
//! `--secret`...), the `tenant/region[/variable]` path syntax, and
//! connecting and subscribing, with errors that say what to do next (start
//! a hub, the tenant the client belongs to, the nearest region or variable
//! name).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use memwire::Schema;
use memwire::codec::ErrorCode;
use memwire_std::client::{Client, ClientError, ClientOptions, Mirror};
use memwire_std::hub::config::DEMO_SECRET;
use memwire_std::shm::Root;

use crate::nearest::nearest;

/// The hub a client command talks to, and as whom.
#[derive(Debug, clap::Args)]
pub(crate) struct HubArgs {
    /// The hub: tcp://HOST:PORT, tls://HOST:PORT or unix:///PATH.
    #[arg(
        long,
        env = "MEMWIRE_HUB",
        value_name = "URL",
        default_value = "tcp://127.0.0.1:7878"
    )]
    pub(crate) hub: String,

    /// The tenant the client belongs to [default: `demo` for the demo
    /// client and secret, else the path's first part].
    #[arg(long, env = "MEMWIRE_TENANT", value_name = "NAME")]
    pub(crate) tenant: Option<String>,

    /// The client name to authenticate as.
    #[arg(
        long,
        env = "MEMWIRE_CLIENT",
        value_name = "NAME",
        default_value = "demo"
    )]
    pub(crate) client: String,

    /// The client's secret [default: the demo secret]. Prefer the variable
    /// to the option: other users can see command lines.
    #[arg(
        long,
        env = "MEMWIRE_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub(crate) secret: Option<String>,

    /// PEM certificates to trust for tls:// hubs: the CA that signed the
    /// hub's certificate (ca.pem of `memwire cert`).
    #[arg(long, env = "MEMWIRE_CA", value_name = "FILE")]
    pub(crate) ca: Option<PathBuf>,
}

/// `tenant/region` or `tenant/region/variable`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RegionPath {
    pub(crate) tenant: String,
    pub(crate) region: String,
    pub(crate) var: Option<String>,
    /// Whether the command takes a variable's path as well as a region's.
    pub(crate) takes_variable: bool,
}

impl RegionPath {
    /// `tenant/region`, the path the hub knows.
    pub(crate) fn region_path(&self) -> String {
        format!("{}/{}", self.tenant, self.region)
    }

    /// The variable's name; only called on paths parsed by [`var_path`].
    pub(crate) fn var_name(&self) -> &str {
        self.var.as_deref().unwrap_or_default()
    }
}

impl std::fmt::Display for RegionPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.tenant, self.region)?;
        match &self.var {
            Some(var) => write!(f, "/{var}"),
            None => Ok(()),
        }
    }
}

/// Parses `tenant/region` or `tenant/region/variable` (clap value parser).
pub(crate) fn any_path(text: &str) -> Result<RegionPath, String> {
    let mut parts = text.splitn(3, '/');
    let tenant = parts.next().unwrap_or_default();
    let region = parts.next().unwrap_or_default();
    let var = parts.next();
    if tenant.is_empty() || region.is_empty() || var.is_some_and(str::is_empty) {
        return Err(format!(
            "`{text}` is not a path: expected tenant/region or tenant/region/variable"
        ));
    }
    Ok(RegionPath {
        tenant: tenant.to_owned(),
        region: region.to_owned(),
        var: var.map(str::to_owned),
        takes_variable: true,
    })
}

/// Parses `tenant/region` (clap value parser).
pub(crate) fn region_path(text: &str) -> Result<RegionPath, String> {
    let path = any_path(text)?;
    if path.var.is_some() {
        return Err(format!("`{text}` names a variable: expected tenant/region"));
    }
    Ok(RegionPath {
        takes_variable: false,
        ..path
    })
}

/// Parses `tenant/region/variable` (clap value parser).
pub(crate) fn var_path(text: &str) -> Result<RegionPath, String> {
    let path = any_path(text)?;
    if path.var.is_none() {
        return Err(format!(
            "`{text}` names no variable: expected tenant/region/variable"
        ));
    }
    Ok(path)
}

/// The tenant the client belongs to, when known before connecting:
/// `--tenant`, or `demo` for the built-in config's demo client (client
/// `demo` with the demo secret, no secret given).
fn known_tenant(args: &HubArgs) -> Option<&str> {
    match &args.tenant {
        Some(tenant) => Some(tenant),
        None if args.client == "demo" && args.secret.is_none() => Some("demo"),
        None => None,
    }
}

/// Whether the client is known to belong to a tenant other than `tenant`
/// (a path's first part), and if so the text that says so: a session
/// reaches its own tenant's regions only, and the hub would answer
/// "authentication failed" without saying why.
fn other_tenant(args: &HubArgs, tenant: &str) -> Option<String> {
    known_tenant(args)
        .filter(|known| *known != tenant)
        .map(|known| {
            format!(
                "client `{}` belongs to tenant `{known}`, not `{tenant}`",
                args.client
            )
        })
}

/// Connects to the hub and authenticates for `tenant` (unless `--tenant`
/// says otherwise).
pub(crate) async fn connect(args: &HubArgs, tenant: &str) -> Result<Client> {
    if let Some(other) = other_tenant(args, tenant) {
        bail!("{other}; name a client of tenant `{tenant}` with --client and --secret");
    }
    let tenant = args.tenant.as_deref().unwrap_or(tenant);
    let secret = args.secret.as_deref().unwrap_or(DEMO_SECRET);
    let mut options = ClientOptions::new(&args.client, tenant, secret.as_bytes());
    if args.hub.starts_with("unix://") {
        // On the hub's host: read the region files themselves when this
        // user may open them (same root as the hub: MEMWIRE_ROOT).
        options.local_root = Some(Root::from_env());
    }
    if let Some(file) = &args.ca {
        options.tls_roots = read_certificates(file)?;
    }
    match Client::connect(&args.hub, options).await {
        Ok(client) => Ok(client),
        // Which credentials were refused; other errors name the hub already.
        Err(e @ ClientError::Refused(code)) => {
            let who = format!("client `{}` of tenant `{tenant}`", args.client);
            // The hub says no more, on purpose; a tenant taken from the path
            // may be a region's name with the tenant left out.
            Err(match code {
                ErrorCode::AuthFailed if args.tenant.is_none() => {
                    let text = format!(
                        "{who}: {e}; is `{tenant}` a tenant of client `{}`? A path starts with \
                         the tenant, and a wrong secret is refused the same way",
                        args.client
                    );
                    anyhow::Error::new(e).context(who).context(text)
                }
                _ => anyhow::Error::new(e).context(who),
            })
        }
        Err(ClientError::Tls(message)) => {
            let hint = tls_hint(&message, args.ca.is_some());
            let e = anyhow::Error::new(ClientError::Tls(message));
            Err(match hint {
                Some(hint) => e.context(hint),
                None => e,
            })
        }
        Err(ClientError::Connect { url, source }) => {
            let hint = no_hub_hint(&url, &source);
            let e = anyhow::Error::new(ClientError::Connect { url, source });
            Err(match hint {
                Some(hint) => {
                    let text = format!("{e}; {hint}");
                    e.context(text)
                }
                None => e,
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// What to do when nothing answers at `url`: start a hub there.
fn no_hub_hint(url: &str, error: &std::io::Error) -> Option<String> {
    use std::io::ErrorKind;
    // A Unix socket that is not there is refused as not found.
    let nothing_there = match error.kind() {
        ErrorKind::ConnectionRefused => true,
        ErrorKind::NotFound => url.starts_with("unix://"),
        _ => false,
    };
    nothing_there.then(|| format!("is a hub running at {url}? Start one with `memwire serve`"))
}

/// What to do about a refused hub certificate, for the two refusals a new
/// user meets first; `trusting` is whether `--ca` was given.
fn tls_hint(message: &str, trusting: bool) -> Option<&'static str> {
    // rustls names the certificate errors only in its text: `UnknownIssuer`,
    // and webpki's `CaUsedAsEndEntity` wrapped in `Other`.
    if message.contains("CaUsedAsEndEntity") {
        Some(
            "the hub's certificate is a CA certificate, which clients do not accept as a \
             hub's own (a plain `openssl req -x509` makes one); make a CA and a hub \
             certificate signed by it with `memwire cert`, and pass its ca.pem with --ca",
        )
    } else if message.contains("UnknownIssuer") && trusting {
        Some(
            "the hub's certificate is not signed by a CA in the --ca file (--ca takes the CA \
             certificate: ca.pem of `memwire cert`, not the hub's cert.pem)",
        )
    } else if message.contains("UnknownIssuer") {
        Some(
            "the hub's certificate is not signed by a CA this client trusts: pass the CA \
             certificate with --ca FILE (ca.pem of `memwire cert`)",
        )
    } else {
        None
    }
}

/// Connects and subscribes to the region of `path`; the mirror holds a
/// full copy when this returns.
pub(crate) async fn subscribe(args: &HubArgs, path: &RegionPath) -> Result<(Client, Mirror)> {
    if let Some(other) = other_tenant(args, &path.tenant) {
        let known = known_tenant(args).unwrap_or_default();
        bail!(
            "{other}: a path starts with the client's tenant; did you mean `{}`?",
            without_tenant(path, known)
        );
    }
    let client = connect(args, &path.tenant).await?;
    let region = path.region_path();
    match client.subscribe(&region).await {
        Ok(mirror) => Ok((client, mirror)),
        Err(e) => {
            let hint = match &e {
                ClientError::Hub(ErrorCode::UnknownRegion) => {
                    no_such_region(&client.regions(), path)
                }
                _ => None,
            };
            client.close().await;
            let e = anyhow::Error::new(e).context(format!("cannot subscribe to {region}"));
            Err(match hint {
                Some(hint) => {
                    let text = format!("{e:#}; {hint}");
                    e.context(text)
                }
                None => e,
            })
        }
    }
}

/// `path` read as if its tenant had been left out, in tenant `known`:
/// `sensors/temperature` is `demo/sensors/temperature`, or `demo/sensors`
/// for a command that takes regions only; a path with all three parts keeps
/// its region and variable.
fn without_tenant(path: &RegionPath, known: &str) -> String {
    match &path.var {
        Some(var) => format!("{known}/{}/{var}", path.region),
        None if path.takes_variable => format!("{known}/{}/{}", path.tenant, path.region),
        None => format!("{known}/{}", path.tenant),
    }
}

/// The nearest of the regions the hub listed to the unknown one of
/// `path`, or the list when none is near; `None` when the hub listed none.
fn no_such_region(listed: &[(String, u64)], path: &RegionPath) -> Option<String> {
    // The hub lists names within the tenant; accept full paths too.
    let names: Vec<&str> = listed
        .iter()
        .map(|(name, _)| {
            let prefix = format!("{}/", path.tenant);
            name.strip_prefix(&prefix).unwrap_or(name)
        })
        .collect();
    if names.is_empty() {
        return None;
    }
    Some(match nearest(&path.region, names.iter().copied()) {
        Some(near) => format!("did you mean `{}/{near}`?", path.tenant),
        None => format!("the hub lists: {}", names.join(", ")),
    })
}

/// The message for a variable that `path` names and the region lacks: the
/// nearest name, or the names the region has.
pub(crate) fn no_such_variable(schema: Schema<'_>, path: &RegionPath) -> String {
    let names: Vec<&str> = schema.variables().iter().map(|v| v.name.as_str()).collect();
    let missing = format!(
        "{} has no variable `{}`",
        path.region_path(),
        path.var_name()
    );
    match nearest(path.var_name(), names.iter().copied()) {
        Some(near) => format!("{missing}; did you mean `{}/{near}`?", path.region_path()),
        None => format!("{missing}; it has: {}", names.join(", ")),
    }
}

fn read_certificates(
    file: &std::path::Path,
) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;

    let certs = CertificateDer::pem_file_iter(file)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .with_context(|| format!("cannot read certificates from {}", file.display()))?;
    if certs.is_empty() {
        bail!("no certificate in {}", file.display());
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let p = any_path("demo/sensors/temperature").unwrap();
        assert_eq!(
            (p.tenant.as_str(), p.region.as_str(), p.var.as_deref()),
            ("demo", "sensors", Some("temperature"))
        );
        assert_eq!(p.to_string(), "demo/sensors/temperature");
        assert_eq!(p.region_path(), "demo/sensors");
        assert_eq!(any_path("demo/sensors").unwrap().var, None);
        for bad in ["", "demo", "demo/", "/sensors", "demo/sensors/"] {
            assert!(any_path(bad).is_err(), "{bad:?}");
        }
        assert!(region_path("demo/sensors/x").is_err());
        assert!(var_path("demo/sensors").is_err());
        assert_eq!(var_path("a/b/c").unwrap().var_name(), "c");
    }

    #[test]
    fn a_path_without_its_tenant_is_read_in_the_clients() {
        let get = any_path("sensors/temperature").unwrap();
        assert_eq!(without_tenant(&get, "demo"), "demo/sensors/temperature");
        let watch = region_path("sensors/temperature").unwrap();
        assert_eq!(without_tenant(&watch, "demo"), "demo/sensors");
        let wrong = any_path("plant/sensors/temperature").unwrap();
        assert_eq!(without_tenant(&wrong, "demo"), "demo/sensors/temperature");
    }

    #[test]
    fn an_unknown_region_gets_the_nearest_or_the_list() {
        let listed = [("sensors".to_owned(), 1), ("demo/motors".to_owned(), 2)];
        let path = |text| region_path(text).unwrap();
        assert_eq!(
            no_such_region(&listed, &path("demo/sensor")).as_deref(),
            Some("did you mean `demo/sensors`?")
        );
        assert_eq!(
            no_such_region(&listed, &path("demo/motor")).as_deref(),
            Some("did you mean `demo/motors`?")
        );
        assert_eq!(
            no_such_region(&listed, &path("demo/pumps")).as_deref(),
            Some("the hub lists: sensors, motors")
        );
        assert_eq!(no_such_region(&[], &path("demo/pumps")), None);
    }

    #[test]
    fn no_hub_means_start_one() {
        use std::io::{Error, ErrorKind};
        let refused = Error::from(ErrorKind::ConnectionRefused);
        assert_eq!(
            no_hub_hint("tcp://h:1", &refused).as_deref(),
            Some("is a hub running at tcp://h:1? Start one with `memwire serve`")
        );
        let missing = Error::from(ErrorKind::NotFound);
        assert!(no_hub_hint("unix:///run/m.sock", &missing).is_some());
        assert!(no_hub_hint("tcp://h:1", &missing).is_none());
        assert!(no_hub_hint("tcp://h:1", &Error::from(ErrorKind::TimedOut)).is_none());
    }

    #[test]
    fn refused_certificates_say_what_to_do() {
        // The texts rustls gives.
        let ca_as_hub = "invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))";
        let unknown = "invalid peer certificate: UnknownIssuer";
        for trusting in [false, true] {
            assert!(
                tls_hint(ca_as_hub, trusting)
                    .unwrap()
                    .contains("memwire cert")
            );
        }
        assert!(tls_hint(unknown, false).unwrap().contains("pass the CA"));
        assert!(
            tls_hint(unknown, true)
                .unwrap()
                .contains("not the hub's cert.pem")
        );
        assert_eq!(tls_hint("invalid peer certificate: Expired", true), None);
    }
}
