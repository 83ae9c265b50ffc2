//! The bridge's configuration (`docs/hub-config.md`, "The zenoh bridge"):
//! how the hub's zenoh session reaches the others, and which regions it
//! exports and imports. It is the `[zenoh]` section of the hub's config
//! file, which `memwire-std` keeps as written ([`Section`]) so that the
//! hub knows nothing of zenoh; this crate reads it.
//!
//! ```toml
//! [zenoh]
//! mode = "client"
//! id = "a1"
//! connect = ["tcp/127.0.0.1:7447"]
//! listen = []
//! state = "zenoh-state"
//! export = ["plant/*"]
//! import = ["fleet/robot1"]
//! ```

use std::path::{Path, PathBuf};

use memwire_std::hub::config::Section;
use serde::Deserialize;

/// How the hub's zenoh session runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Mode {
    /// A client of the routers it connects to (the default): reaches
    /// every other hub through them, and goes over to the next router
    /// named when the one it uses is lost.
    #[default]
    Client,
    /// A peer: links directly with the peers it connects to or that
    /// connect to it (two hubs with no router; gossip is off, so a peer
    /// learns of no other peer through a router).
    Peer,
}

/// One region named by `tenant/region`, or every region a tenant declares
/// at the hub (`tenant/*`, exports only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionPath {
    /// The tenant.
    pub tenant: String,
    /// The region, or `None` for every region of the tenant.
    pub region: Option<String>,
}

impl RegionPath {
    fn parse(text: &str) -> Result<RegionPath, String> {
        let (tenant, region) = text
            .split_once('/')
            .ok_or_else(|| format!("{text:?} is not tenant/region"))?;
        let valid = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
        };
        if !valid(tenant) || !(region == "*" || valid(region)) {
            return Err(format!("{text:?} is not tenant/region"));
        }
        Ok(RegionPath {
            tenant: tenant.to_owned(),
            region: (region != "*").then(|| region.to_owned()),
        })
    }
}

/// The bridge's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BridgeConfig {
    /// Client (of routers) or peer.
    pub mode: Mode,
    /// The session's zenoh ID (hexadecimal, at most 32 digits), which a
    /// router's access control names the hub by (`zids`); a random one
    /// when absent.
    pub id: Option<String>,
    /// zenoh endpoints to connect to (`tcp/127.0.0.1:7447`).
    pub connect: Vec<String>,
    /// zenoh endpoints to listen on; none by default.
    pub listen: Vec<String>,
    /// Where the resume point of each imported region is kept (the owner's
    /// instance and generation its file holds).
    pub state: PathBuf,
    /// The regions this hub owns and puts on zenoh.
    pub export: Vec<RegionPath>,
    /// The regions this hub mirrors from their owners (`tenant/region`).
    pub import: Vec<RegionPath>,
    /// The user name and password the session authenticates with at the
    /// routers (zenoh's `transport.auth.usrpwd`), which a router's access
    /// control names the hub by (`usernames`).
    pub login: Option<Login>,
}

/// A user name and its password, for zenoh's username/password
/// authentication.
#[derive(Clone, PartialEq, Eq)]
pub struct Login {
    /// The user name.
    pub user: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password stays out of logs.
        f.debug_struct("Login").field("user", &self.user).finish()
    }
}

/// Why the bridge's configuration was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BridgeConfigError {
    /// The `[zenoh]` section is not of this shape.
    #[error("{origin}: [zenoh]: {message}")]
    Invalid {
        /// Where the section is, `file:line`.
        origin: String,
        /// What is wrong.
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    mode: Mode,
    id: Option<String>,
    #[serde(default)]
    connect: Vec<String>,
    #[serde(default)]
    listen: Vec<String>,
    state: PathBuf,
    #[serde(default)]
    export: Vec<String>,
    #[serde(default)]
    import: Vec<String>,
    user: Option<String>,
    password: Option<String>,
}

impl BridgeConfig {
    /// Reads the `[zenoh]` section of a hub's config ([`Config::zenoh`]);
    /// `state` is taken relative to the config file's directory.
    ///
    /// [`Config::zenoh`]: memwire_std::hub::Config::zenoh
    pub fn from_section(section: &Section) -> Result<BridgeConfig, BridgeConfigError> {
        BridgeConfig::parse(&section.toml, &section.base_dir).map_err(|message| {
            BridgeConfigError::Invalid {
                origin: section.origin.clone(),
                message,
            }
        })
    }

    /// Reads the section's `text` (its keys, without the `[zenoh]`
    /// header); a relative `state` is taken relative to `dir`.
    pub fn parse(text: &str, dir: &Path) -> Result<BridgeConfig, String> {
        // The section's own line is in the error's origin; the text is its
        // re-serialized keys, whose positions would mislead.
        let file: File = toml::from_str(text).map_err(|e| e.message().trim_end().to_owned())?;
        let paths = |list: Vec<String>| {
            list.iter()
                .map(|s| RegionPath::parse(s))
                .collect::<Result<Vec<_>, _>>()
        };
        let import = paths(file.import)?;
        if let Some(any) = import.iter().find(|p| p.region.is_none()) {
            return Err(format!(
                "import {}/*: an import names its region",
                any.tenant
            ));
        }
        if let Some(id) = &file.id {
            if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!("id {id:?} is not a zenoh ID (1 to 32 hex digits)"));
            }
        }
        let login = match (file.user, file.password) {
            (Some(user), Some(password)) => Some(Login { user, password }),
            (None, None) => None,
            _ => return Err("user and password go together".to_owned()),
        };
        Ok(BridgeConfig {
            login,
            mode: file.mode,
            id: file.id,
            connect: file.connect,
            listen: file.listen,
            state: dir.join(file.state),
            export: paths(file.export)?,
            import,
        })
    }

    /// Whether region `tenant/region` is exported.
    pub fn exports(&self, tenant: &str, region: &str) -> bool {
        self.export
            .iter()
            .any(|p| p.tenant == tenant && p.region.as_deref().is_none_or(|r| r == region))
    }

    /// The zenoh session's configuration: the endpoints named, multicast
    /// and gossip scouting off (no traffic to any address not named). A
    /// hub starts even when none of its routers is up yet: zenoh goes on
    /// trying them.
    pub fn zenoh(&self) -> Result<zenoh::Config, String> {
        let mode = match self.mode {
            Mode::Peer => "peer",
            Mode::Client => "client",
        };
        let json = |v: &Vec<String>| serde_json_list(v);
        let id = self
            .id
            .as_ref()
            .map_or(String::new(), |id| format!("id: \"{id}\","));
        let auth = self.login.as_ref().map_or(String::new(), |login| {
            format!(
                "transport: {{ auth: {{ usrpwd: {{ user: {:?}, password: {:?} }} }} }},",
                login.user, login.password
            )
        });
        let text = format!(
            r#"{{
                {id}
                {auth}
                mode: "{mode}",
                connect: {{ endpoints: {}, exit_on_failure: false }},
                listen: {{ endpoints: {} }},
                scouting: {{ multicast: {{ enabled: false }}, gossip: {{ enabled: false }} }},
            }}"#,
            json(&self.connect),
            json(&self.listen),
        );
        zenoh::Config::from_json5(&text).map_err(|e| e.to_string())
    }
}

/// `["a", "b"]`, each string escaped.
fn serde_json_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_section_of_a_hub_config() {
        let text = "[zenoh]\nstate = \"state\"\nexport = [\"plant/*\"]\n";
        let hub =
            memwire_std::hub::Config::parse(text, "hub.toml", Path::new("/etc/memwire")).unwrap();
        let config = BridgeConfig::from_section(hub.zenoh.as_ref().unwrap()).unwrap();
        assert_eq!(config.state, Path::new("/etc/memwire/state"));
        assert!(config.exports("plant", "line"));
        let wrong = memwire_std::hub::Config::parse(
            "\n[zenoh]\nexport = [\"plant\"]\n",
            "hub.toml",
            Path::new("."),
        )
        .unwrap();
        let error = BridgeConfig::from_section(wrong.zenoh.as_ref().unwrap()).unwrap_err();
        assert!(
            error.to_string().starts_with("hub.toml:2: [zenoh]: "),
            "{error}"
        );
    }

    #[test]
    fn reads_a_bridge_section() {
        let text = r#"
            connect = ["tcp/127.0.0.1:7447"]
            id = "a1"
            state = "state"
            export = ["plant/*", "fleet/robot1"]
            import = ["other/line"]
        "#;
        let config = BridgeConfig::parse(text, Path::new("/etc/memwire")).unwrap();
        assert_eq!(config.mode, Mode::Client);
        assert_eq!(config.state, Path::new("/etc/memwire/state"));
        assert!(config.exports("plant", "anything"));
        assert!(config.exports("fleet", "robot1"));
        assert!(!config.exports("fleet", "robot2"));
        assert!(!config.exports("other", "line"));
        let zenoh = config.zenoh().unwrap();
        assert_eq!(zenoh.get_json("id").unwrap(), "\"a1\"");
        assert_eq!(
            zenoh.get_json("scouting/multicast/enabled").unwrap(),
            "false"
        );
        assert_eq!(zenoh.get_json("connect/exit_on_failure").unwrap(), "false");
        assert!(config.login.is_none());
    }

    #[test]
    fn a_login_goes_to_zenoh_and_not_to_logs() {
        let text = "state = \"s\"\nuser = \"hub-b\"\npassword = \"pa\\\"ss\"\n";
        let config = BridgeConfig::parse(text, Path::new(".")).unwrap();
        let zenoh = config.zenoh().unwrap();
        assert_eq!(
            zenoh.get_json("transport/auth/usrpwd/user").unwrap(),
            "\"hub-b\""
        );
        assert_eq!(
            zenoh.get_json("transport/auth/usrpwd/password").unwrap(),
            "\"pa\\\"ss\""
        );
        assert!(!format!("{config:?}").contains("pa\\\"ss"));
        let alone = "state = \"s\"\nuser = \"hub-b\"\n";
        assert!(BridgeConfig::parse(alone, Path::new(".")).is_err());
    }

    #[test]
    fn refuses_what_it_cannot_follow() {
        let dir = Path::new(".");
        assert!(BridgeConfig::parse("state = \"s\"\nimport = [\"plant/*\"]", dir).is_err());
        assert!(BridgeConfig::parse("state = \"s\"\nexport = [\"plant\"]", dir).is_err());
        assert!(BridgeConfig::parse("state = \"s\"\nexport = [\"pl*nt/a\"]", dir).is_err());
        assert!(BridgeConfig::parse("state = \"s\"\nunknown = 1", dir).is_err());
        assert!(
            BridgeConfig::parse("export = []", dir).is_err(),
            "state is required"
        );
    }
}
