//! What the client commands share: the hub options (`--hub`, `--client`,
//! `--secret`...), the `tenant/region[/variable]` path syntax, and
//! connecting and subscribing.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use memwire::Schema;
use memwire_std::client::{Client, ClientError, ClientOptions, Mirror};
use memwire_std::hub::config::DEMO_SECRET;
use memwire_std::shm::Root;

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

    /// The tenant to authenticate with [default: the path's first part].
    #[arg(long, value_name = "NAME")]
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
    })
}

/// Parses `tenant/region` (clap value parser).
pub(crate) fn region_path(text: &str) -> Result<RegionPath, String> {
    let path = any_path(text)?;
    if path.var.is_some() {
        return Err(format!("`{text}` names a variable: expected tenant/region"));
    }
    Ok(path)
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

/// Connects to the hub and authenticates for `tenant` (unless `--tenant`
/// says otherwise).
pub(crate) async fn connect(args: &HubArgs, tenant: &str) -> Result<Client> {
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
        Err(e @ ClientError::Refused(_)) => {
            Err(e).context(format!("client `{}` of tenant `{tenant}`", args.client))
        }
        Err(ClientError::Tls(message)) => {
            let hint = tls_hint(&message, args.ca.is_some());
            let e = anyhow::Error::new(ClientError::Tls(message));
            Err(match hint {
                Some(hint) => e.context(hint),
                None => e,
            })
        }
        Err(e) => Err(e.into()),
    }
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
    let client = connect(args, &path.tenant).await?;
    let region = path.region_path();
    match client.subscribe(&region).await {
        Ok(mirror) => Ok((client, mirror)),
        Err(e) => {
            client.close().await;
            Err(e).with_context(|| format!("cannot subscribe to {region}"))
        }
    }
}

/// The message for a variable that `path` names and the region lacks.
pub(crate) fn no_such_variable(schema: Schema<'_>, path: &RegionPath) -> String {
    let names: Vec<&str> = schema.variables().iter().map(|v| v.name.as_str()).collect();
    format!(
        "{} has no variable `{}`; it has: {}",
        path.region_path(),
        path.var_name(),
        names.join(", ")
    )
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
