//! `memwire serve` reloading its config file on SIGHUP, as `docs/cli.md`
//! says: a region added is served and a client removed is refused without
//! a restart; an invalid file is refused with its file:line:column in the
//! log, and the hub runs on with the config it had.

#![cfg(not(loom))]
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use memwire_std::hub::config::DEFAULT_TOML;

const BIN: &str = env!("CARGO_BIN_EXE_memwire");

/// How long the hub may take to start or to apply a reload: generous, for
/// a loaded machine; only a hang reaches it.
const DEADLINE: Duration = Duration::from_secs(30);

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

/// A `memwire serve` process on a config file, killed when dropped.
struct Serve {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Serve {
    fn start(config: &str) -> Serve {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        std::fs::write(dir.path().join("hub.toml"), config_on(config, port)).unwrap();
        let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
        let child = memwire(&dir.path().join("root"))
            .arg("serve")
            .arg(dir.path().join("hub.toml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut serve = Serve {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            dir,
        };
        let start = Instant::now();
        while TcpStream::connect(serve.addr).is_err() {
            if let Some(status) = serve.child.try_wait().unwrap() {
                panic!("memwire serve exited with {status}:\n{}", serve.log());
            }
            assert!(
                start.elapsed() < DEADLINE,
                "not listening:\n{}",
                serve.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        serve
    }

    /// Writes `config` as the hub's file and sends SIGHUP.
    fn reload(&self, config: &str) {
        std::fs::write(
            self.dir.path().join("hub.toml"),
            config_on(config, self.addr.port()),
        )
        .unwrap();
        let pid = rustix::process::Pid::from_raw(i32::try_from(self.child.id()).unwrap()).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::HUP).unwrap();
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }

    /// `memwire get` of `path` as `client`.
    fn get(&self, client: &str, secret: &str, path: &str) -> Output {
        memwire(&self.dir.path().join("root"))
            .env("MEMWIRE_HUB", format!("tcp://{}", self.addr))
            .args(["get", "--client", client, "--secret", secret, path])
            .output()
            .unwrap()
    }

    fn get_demo(&self, path: &str) -> Output {
        self.get("demo", "memwire-demo-secret", path)
    }

    /// Waits until the log holds `text`.
    fn logged(&self, text: &str) {
        let start = Instant::now();
        while !self.log().contains(text) {
            assert!(
                start.elapsed() < DEADLINE,
                "not logged: {text}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `config` listening on `port`.
fn config_on(config: &str, port: u16) -> String {
    config.replace("127.0.0.1:7878", &format!("127.0.0.1:{port}"))
}

/// `memwire` with a clean environment and the region root given.
fn memwire(root: &Path) -> Command {
    let mut command = Command::new(BIN);
    for var in [
        "MEMWIRE_HUB",
        "MEMWIRE_CLIENT",
        "MEMWIRE_SECRET",
        "MEMWIRE_CA",
        "RUST_LOG",
        "NO_COLOR",
    ] {
        command.env_remove(var);
    }
    command.env("MEMWIRE_ROOT", root).stdin(Stdio::null());
    command
}

#[track_caller]
fn assert_ok(output: &Output) {
    assert!(
        output.status.success(),
        "{}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn sighup_applies_a_changed_config_and_refuses_an_invalid_one() {
    assert!(DEFAULT_TOML.contains(VIEWER) && DEFAULT_TOML.contains("127.0.0.1:7878"));
    let serve = Serve::start(DEFAULT_TOML);
    assert!(!serve.get_demo("demo/extra").status.success());
    assert_ok(&serve.get("viewer", "memwire-viewer-secret", "demo/sensors"));

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
    assert_ok(&serve.get_demo("demo/extra"));
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
    assert_ok(&serve.get_demo("demo/extra"));
    assert_ok(&serve.get_demo("demo/sensors"));
}
