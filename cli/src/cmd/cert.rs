//! `memwire cert`: a private CA and a hub certificate signed by it, so that
//! TLS works in one command.
//!
//! Clients refuse a certificate that is its own CA (what a plain
//! `openssl req -x509` makes: `CaUsedAsEndEntity`); this writes the two a
//! client accepts, a CA to trust (`--ca`) and the hub's certificate for the
//! names clients connect to. The CA's key is used once and not kept.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls_pki_types::ServerName;
use time::{Duration, OffsetDateTime};

pub(crate) const EXAMPLES: &str = "\
Examples:
  memwire cert                               for localhost, 127.0.0.1 and ::1, into ./memwire-tls/
  memwire cert hub.example.net 10.0.0.5      for the names clients connect to
  memwire cert --dir /etc/memwire/tls --force hub.example.net

Writes ca.pem (the CA clients trust: `--ca` or MEMWIRE_CA), cert.pem and
key.pem (the hub's certificate and private key, mode 0600), then prints the
[listen.tls] lines for the hub's config and a client command to try.";

/// The CA certificate, for clients.
const CA_FILE: &str = "ca.pem";
/// The hub's certificate.
const CERT_FILE: &str = "cert.pem";
/// The hub's private key.
const KEY_FILE: &str = "key.pem";

/// The names of a certificate for a hub on this machine.
const LOCAL_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// `memwire cert`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Host names and IP addresses clients reach the hub by
    /// [default: localhost 127.0.0.1 ::1].
    #[arg(value_name = "NAME", value_parser = host_name)]
    names: Vec<String>,

    /// The directory to write into; created if missing.
    #[arg(long, short, value_name = "DIR", default_value = "memwire-tls")]
    dir: PathBuf,

    /// How long the certificates are valid, in days.
    #[arg(
        long,
        value_name = "DAYS",
        default_value_t = 3650,
        value_parser = clap::value_parser!(u32).range(1..=36_500)
    )]
    days: u32,

    /// Replace the files if they exist.
    #[arg(long)]
    force: bool,
}

/// A file to write: its name, its text and its mode.
struct File {
    name: &'static str,
    text: String,
    mode: u32,
}

pub(crate) async fn run(args: Args) -> Result<()> {
    let names = if args.names.is_empty() {
        LOCAL_NAMES.map(str::to_owned).to_vec()
    } else {
        args.names
    };
    if !args.force {
        refuse_existing(&args.dir)?;
    }
    let files = make(&names, args.days)?;
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    for file in &files {
        write(&args.dir.join(file.name), file, args.force)?;
    }
    let dir = std::path::absolute(&args.dir).unwrap_or(args.dir);
    print_usage(&dir, &names, args.days)?;
    Ok(())
}

/// Parses a name a TLS client can check a certificate against (clap value
/// parser).
fn host_name(text: &str) -> Result<String, String> {
    match ServerName::try_from(text) {
        Ok(_) => Ok(text.to_owned()),
        Err(_) => Err(format!("`{text}` is not a host name or an IP address")),
    }
}

/// Fails, naming them, if any of the files is in `dir` already: nothing is
/// written then.
fn refuse_existing(dir: &Path) -> Result<()> {
    let existing: Vec<String> = [CA_FILE, CERT_FILE, KEY_FILE]
        .iter()
        .map(|name| dir.join(name))
        .filter(|path| path.symlink_metadata().is_ok())
        .map(|path| path.display().to_string())
        .collect();
    if !existing.is_empty() {
        bail!(
            "{} already exist{}; pass --force to replace {}, or choose another --dir",
            existing.join(", "),
            if existing.len() == 1 { "s" } else { "" },
            if existing.len() == 1 { "it" } else { "them" },
        );
    }
    Ok(())
}

/// The CA certificate, and the hub's certificate for `names` signed by it
/// with its key.
fn make(names: &[String], days: u32) -> Result<[File; 3]> {
    let now = OffsetDateTime::now_utc();
    // An hour back, so that a client whose clock is a little behind accepts
    // a certificate made just now.
    let not_before = now - Duration::HOUR;
    let not_after = now + Duration::days(days.into());

    let mut ca = CertificateParams::default();
    ca.distinguished_name = common_name("memwire private CA");
    // The CA signs hub certificates only, never another CA.
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = not_before;
    ca.not_after = not_after;
    let ca_key = KeyPair::generate().context("cannot make the CA's key")?;
    let ca_cert = ca
        .self_signed(&ca_key)
        .context("cannot make the CA certificate")?;
    let issuer = Issuer::new(ca, ca_key);

    let mut hub = CertificateParams::new(names.to_vec())
        .context("cannot make the hub's certificate for these names")?;
    hub.distinguished_name = common_name(&names[0]);
    hub.is_ca = IsCa::ExplicitNoCa;
    hub.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    hub.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    hub.use_authority_key_identifier_extension = true;
    hub.not_before = not_before;
    hub.not_after = not_after;
    let hub_key = KeyPair::generate().context("cannot make the hub's key")?;
    let hub_cert = hub
        .signed_by(&hub_key, &issuer)
        .context("cannot sign the hub's certificate")?;

    Ok([
        File {
            name: CA_FILE,
            text: ca_cert.pem(),
            mode: 0o644,
        },
        File {
            name: CERT_FILE,
            text: hub_cert.pem(),
            mode: 0o644,
        },
        File {
            name: KEY_FILE,
            text: hub_key.serialize_pem(),
            mode: 0o600,
        },
    ])
}

fn common_name(name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    dn
}

/// Writes `file` at `path` with its mode from the start, so that a key is
/// never readable by others, not even for a moment.
fn write(path: &Path, file: &File, force: bool) -> Result<()> {
    if force {
        // A file created anew takes the mode; an old one kept its own.
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("cannot replace {}", path.display()));
            }
            _ => {}
        }
    }
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(file.mode)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    out.write_all(file.text.as_bytes())
        .and_then(|()| out.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// What was written, the hub's config lines and a client command.
fn print_usage(dir: &Path, names: &[String], days: u32) -> Result<()> {
    let path = |name: &str| dir.join(name).display().to_string();
    let host = match names[0].parse::<std::net::Ipv6Addr>() {
        Ok(_) => format!("[{}]", names[0]),
        Err(_) => names[0].clone(),
    };
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "wrote {}  the CA certificate: clients trust it (--ca)",
        path(CA_FILE)
    )?;
    writeln!(
        out,
        "wrote {}  the hub's certificate for {}, valid {days} days",
        path(CERT_FILE),
        names.join(", ")
    )?;
    writeln!(
        out,
        "wrote {}  the hub's private key (mode 0600)",
        path(KEY_FILE)
    )?;
    writeln!(out)?;
    writeln!(out, "In the hub's config file (docs/hub-config.md):")?;
    writeln!(out)?;
    writeln!(out, "[listen.tls]")?;
    writeln!(out, "addr = \"0.0.0.0:7879\"")?;
    writeln!(out, "cert = {}", toml_string(&path(CERT_FILE)))?;
    writeln!(out, "key = {}", toml_string(&path(KEY_FILE)))?;
    writeln!(out)?;
    writeln!(out, "Then from a client:")?;
    writeln!(out)?;
    writeln!(
        out,
        "memwire get --hub tls://{host}:7879 --ca {} demo/sensors",
        shell_word(&path(CA_FILE))
    )?;
    out.flush()?;
    Ok(())
}

/// `text` as a TOML basic string.
fn toml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `text` as one word of a shell command.
fn shell_word(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+:,@%".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(toml_string(r#"/a "b"\c"#), r#""/a \"b\"\\c""#);
        assert_eq!(toml_string("a\tb"), r#""a\u0009b""#);
        assert_eq!(
            shell_word("/tmp/memwire-tls/ca.pem"),
            "/tmp/memwire-tls/ca.pem"
        );
        assert_eq!(shell_word("/my dir/it's"), r"'/my dir/it'\''s'");
    }

    #[test]
    fn names() {
        for good in ["localhost", "hub.example.net", "10.0.0.5", "::1"] {
            assert_eq!(host_name(good).as_deref(), Ok(good));
        }
        for bad in ["", "two words", "hub..example", "*.example.net"] {
            assert!(host_name(bad).is_err(), "{bad:?}");
        }
    }
}
