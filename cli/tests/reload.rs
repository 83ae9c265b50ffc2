//! `memwire serve` reloading its config file on SIGHUP, as `docs/cli.md`
//! says: a region added is served and a client removed is refused without
//! a restart; an invalid file is refused with its file:line:column in the
//! log, and the hub runs on with the config it had.

#![cfg(not(loom))]
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Output;

use common::{Serve, ok, on_port, signal, wait_for_log};
use memwire_std::hub::config::DEFAULT_TOML;

/// The viewer client of the built-in config, which the reload removes.
const VIEWER: &str = r#"[[tenant.client]]
name = "viewer"
secret = "memwire-viewer-secret"
rights = [{ regions = "*", access = "read" }]"#;

/// A region the reload adds to the `demo` tenant (the built-in config ends
/// with its region).
const EXTRA: &str = r#"
[[tenant.region]]
name = "extra"
variables = [{ name = "level", kind = "u32" }]
"#;

// What this test does with its hub, beside what every test does.
impl Serve {
    /// Writes `config` as the hub's file and sends SIGHUP.
    fn reload(&self, config: &str) {
        std::fs::write(
            self.dir.path().join("hub.toml"),
            on_port(config, self.addr.port(), ""),
        )
        .unwrap();
        signal(&self.process.0, rustix::process::Signal::HUP);
    }

    /// `memwire get` of `path` as `client`.
    fn get(&self, client: &str, secret: &str, path: &str) -> Output {
        self.run(&["get", "--client", client, "--secret", secret, path])
    }

    fn get_demo(&self, path: &str) -> Output {
        self.get("demo", "memwire-demo-secret", path)
    }

    /// Waits until the log holds `text`.
    fn logged(&self, text: &str) {
        wait_for_log(&self.dir.path().join("serve.log"), text);
    }
}

#[test]
fn sighup_applies_a_changed_config_and_refuses_an_invalid_one() {
    assert!(DEFAULT_TOML.contains(VIEWER) && DEFAULT_TOML.contains("127.0.0.1:7878"));
    // The file given without --config, as `memwire serve --help` shows it.
    let serve = Serve::start_with(&["serve"], DEFAULT_TOML, "");
    assert!(!serve.get_demo("demo/extra").status.success());
    ok(&serve.get("viewer", "memwire-viewer-secret", "demo/sensors"));

    let changed = DEFAULT_TOML.replace(VIEWER, "") + EXTRA;
    serve.reload(&changed);
    serve.logged("SIGHUP: config reloaded");
    assert!(
        serve
            .log()
            .contains("clients removed: demo/viewer; regions added: demo/extra"),
        "{}",
        serve.log()
    );
    ok(&serve.get_demo("demo/extra"));
    let viewer = serve.get("viewer", "memwire-viewer-secret", "demo/sensors");
    assert!(!viewer.status.success(), "the removed client is refused");

    // `name = 3` on the file's last line: a tenant's name must be a string.
    let invalid = changed.clone() + "[[tenant]]\nname = 3\n";
    let line = invalid.lines().count();
    serve.reload(&invalid);
    serve.logged("SIGHUP: config not reloaded");
    assert!(
        serve.log().contains(&format!("hub.toml:{line}:8: ")),
        "no file:line:column in the log:\n{}",
        serve.log()
    );
    // The hub runs on with the config it had.
    ok(&serve.get_demo("demo/extra"));
    ok(&serve.get_demo("demo/sensors"));
}
