//! What the tests of the `memwire` binary share: the binary run with a
//! clean environment, a hub (`memwire serve` on the built-in config moved
//! to a free port) started in a directory of its own and waited for,
//! child processes killed when dropped and sent signals, and a command's
//! output shown when an assertion on it fails.
//!
//! A hub's directory holds its config file `hub.toml`, its log
//! `serve.log` (stdout and stderr) and its region root `root`.

// Every test file is a crate of its own that uses only part of this module.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use memwire_std::hub::config::DEFAULT_TOML;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_memwire");

/// How long a hub may take to start or stop, a reload to apply or a log
/// line to appear: generous, for a loaded machine; only a hang reaches it.
pub(crate) const DEADLINE: Duration = Duration::from_secs(60);

/// The built-in config's TCP listener, which the tests move to a free port.
const DEFAULT_LISTEN: &str = "tcp = \"127.0.0.1:7878\"";

/// `memwire` with a clean environment: the region root given, nothing from
/// the caller's environment that the binary reads.
pub(crate) fn memwire(root: &Path) -> Command {
    let mut command = Command::new(BIN);
    for var in [
        "MEMWIRE_HUB",
        "MEMWIRE_CLIENT",
        "MEMWIRE_SECRET",
        "MEMWIRE_CA",
        "MEMWIRE_TENANT",
        "MEMWIRE_METRICS",
        "RUST_LOG",
        "NO_COLOR",
    ] {
        command.env_remove(var);
    }
    command.env("MEMWIRE_ROOT", root).stdin(Stdio::null());
    command
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `config` (the built-in one or one made from it) listening on `port`
/// instead of the default, with the lines `listen` added to its `[listen]`
/// section.
pub(crate) fn on_port(config: &str, port: u16, listen: &str) -> String {
    assert!(config.contains(DEFAULT_LISTEN), "{config}");
    let mut tcp = format!("tcp = \"127.0.0.1:{port}\"");
    // Nothing added when there is nothing to add, so that the lines of
    // the file stay where they are in `config`.
    if !listen.is_empty() {
        tcp.push('\n');
        tcp.push_str(listen);
    }
    config.replace(DEFAULT_LISTEN, &tcp)
}

/// A child process killed when dropped (so also when the test panics).
pub(crate) struct Killed(pub(crate) Child);

impl Killed {
    /// Sends SIGTERM and returns how the process exited.
    pub(crate) fn terminate(&mut self) -> ExitStatus {
        signal(&self.0, rustix::process::Signal::TERM);
        let start = Instant::now();
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "the process did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

pub(crate) fn signal(child: &Child, signal: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(i32::try_from(child.id()).unwrap()).unwrap();
    rustix::process::kill_process(pid, signal).unwrap();
}

/// Starts `memwire` with `args` and the hub directory's `hub.toml` after
/// them, on the directory's region root and with its output in the log.
pub(crate) fn spawn_serve(dir: &Path, args: &[&str]) -> Killed {
    let log = std::fs::File::create(dir.join("serve.log")).unwrap();
    let child = memwire(&dir.join("root"))
        .args(args)
        .arg(dir.join("hub.toml"))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    Killed(child)
}

/// The log of the hub in `dir` so far.
pub(crate) fn serve_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default()
}

/// Waits until the hub in `dir` accepts connections at `addr`; fails
/// with its log if it exits first. One connection is made: the hub's
/// metrics count it.
pub(crate) fn wait_listening(hub: &mut Killed, addr: SocketAddr, dir: &Path) {
    let start = Instant::now();
    while TcpStream::connect(addr).is_err() {
        if let Some(status) = hub.0.try_wait().unwrap() {
            panic!("memwire serve exited with {status}:\n{}", serve_log(dir));
        }
        assert!(
            start.elapsed() < DEADLINE,
            "memwire serve did not start listening:\n{}",
            serve_log(dir)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the file `log` holds `text`.
pub(crate) fn wait_for_log(log: &Path, text: &str) {
    let start = Instant::now();
    loop {
        let now = std::fs::read_to_string(log).unwrap_or_default();
        if now.contains(text) {
            return;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "{} does not hold {text:?}:\n{now}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A `memwire serve` in a temporary hub directory of its own, killed when
/// dropped.
pub(crate) struct Serve {
    // Before `dir`, so that the process is gone when its files are removed.
    pub(crate) process: Killed,
    pub(crate) addr: SocketAddr,
    pub(crate) dir: tempfile::TempDir,
}

impl Serve {
    /// `memwire serve --config` with the built-in config on a free port
    /// and `listen` added to its `[listen]` section (whose listeners are
    /// bound before the hub serves), once it accepts connections.
    pub(crate) fn start(listen: &str) -> Serve {
        Serve::start_with(&["serve", "--config"], DEFAULT_TOML, listen)
    }

    /// `memwire` with `args` and the file of `config` on a free port, once
    /// it accepts connections.
    pub(crate) fn start_with(args: &[&str], config: &str, listen: &str) -> Serve {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        std::fs::write(dir.path().join("hub.toml"), on_port(config, port, listen)).unwrap();
        let mut process = spawn_serve(dir.path(), args);
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        wait_listening(&mut process, addr, dir.path());
        Serve { process, addr, dir }
    }

    pub(crate) fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub(crate) fn log(&self) -> String {
        serve_log(self.dir.path())
    }

    /// `memwire` as a client of this hub.
    pub(crate) fn client(&self) -> Command {
        let mut command = memwire(&self.root());
        command.env("MEMWIRE_HUB", format!("tcp://{}", self.addr));
        command
    }

    /// A client command against this hub.
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.client().args(args).output().unwrap()
    }

    /// Sends SIGTERM and returns how the hub exited.
    pub(crate) fn terminate(mut self) -> ExitStatus {
        self.process.terminate()
    }
}

/// How `output`'s command exited, and what it printed.
pub(crate) fn shown(output: &Output) -> String {
    format!(
        "{}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The stdout of a command that succeeded.
#[track_caller]
pub(crate) fn ok(output: &Output) -> String {
    assert!(output.status.success(), "{}", shown(output));
    String::from_utf8(output.stdout.clone()).unwrap()
}
