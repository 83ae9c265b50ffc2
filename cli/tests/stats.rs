//! `memwire stats` against a `memwire serve` with its metrics listener on:
//! after known traffic (logins accepted and refused, writes applied and
//! refused) the table shows those counts.

#![cfg(not(loom))]
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use memwire_std::hub::config::DEFAULT_TOML;

const BIN: &str = env!("CARGO_BIN_EXE_memwire");

/// How long the hub may take to start: only a hang reaches it.
const DEADLINE: Duration = Duration::from_secs(30);

/// `memwire` with a clean environment and the region root given.
fn memwire(root: &Path) -> Command {
    let mut command = Command::new(BIN);
    for var in [
        "MEMWIRE_HUB",
        "MEMWIRE_CLIENT",
        "MEMWIRE_SECRET",
        "MEMWIRE_CA",
        "MEMWIRE_METRICS",
        "RUST_LOG",
    ] {
        command.env_remove(var);
    }
    command.env("MEMWIRE_ROOT", root).stdin(Stdio::null());
    command
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The hub process, killed when dropped.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn output(output: &Output) -> String {
    format!(
        "{}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The VALUE of the row of `metric` with `labels`.
fn row(table: &str, metric: &str, labels: &str) -> Option<u64> {
    table.lines().find_map(|line| {
        let rest = line.strip_prefix(metric)?.trim_start();
        let rest = rest.strip_prefix(labels)?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

#[test]
fn stats_shows_the_counts_of_known_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let (port, http) = (free_port(), free_port());
    let default_listen = "tcp = \"127.0.0.1:7878\"";
    assert!(DEFAULT_TOML.contains(default_listen));
    let config = DEFAULT_TOML.replace(
        default_listen,
        &format!("tcp = \"127.0.0.1:{port}\"\nhttp = \"127.0.0.1:{http}\""),
    );
    let config_file = dir.path().join("hub.toml");
    std::fs::write(&config_file, config).unwrap();
    let root = dir.path().join("root");
    let serve = memwire(&root)
        .args(["serve", "--config"])
        .arg(&config_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _serve = Serve(serve);
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < DEADLINE, "the hub did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let client = |args: &[&str]| {
        memwire(&root)
            .env("MEMWIRE_HUB", format!("tcp://127.0.0.1:{port}"))
            .args(args)
            .output()
            .unwrap()
    };

    for value in ["21.5", "22.5"] {
        let set = client(&["set", "demo/sensors/setpoint", value]);
        assert!(set.status.success(), "{}", output(&set));
    }
    let viewer = [
        "set",
        "--client",
        "viewer",
        "--secret",
        "memwire-viewer-secret",
        "demo/sensors/setpoint",
        "1",
    ];
    let refused = client(&viewer);
    assert!(!refused.status.success(), "{}", output(&refused));
    let wrong = client(&["get", "--secret", "wrong", "demo/sensors"]);
    assert!(!wrong.status.success(), "{}", output(&wrong));

    let metrics = format!("127.0.0.1:{http}");
    let stats = memwire(&root)
        .args(["stats", "--metrics", &metrics, "--interval", "0.2"])
        .output()
        .unwrap();
    assert!(stats.status.success(), "{}", output(&stats));
    let table = String::from_utf8(stats.stdout).unwrap();
    assert!(table.starts_with("METRIC"), "{table}");
    assert_eq!(row(&table, "logins", "outcome=ok"), Some(3), "{table}");
    assert_eq!(
        row(&table, "logins", "outcome=wrong proof"),
        Some(1),
        "{table}"
    );
    assert_eq!(row(&table, "writes", "outcome=ok"), Some(2), "{table}");
    assert_eq!(
        row(&table, "writes", "outcome=access denied"),
        Some(1),
        "{table}"
    );
    // The four commands, and the probe that saw the hub listening.
    assert_eq!(
        row(&table, "connections", "transport=TCP"),
        Some(5),
        "{table}"
    );
    assert!(
        row(&table, "region_generation", "tenant=demo region=sensors").is_some(),
        "{table}"
    );

    // Nothing listening: an error that says where to look.
    let closed = format!("127.0.0.1:{}", free_port());
    let none = memwire(&root)
        .args(["stats", "--metrics", &closed, "--interval", "0.1"])
        .output()
        .unwrap();
    assert_eq!(none.status.code(), Some(1), "{}", output(&none));
    let err = String::from_utf8_lossy(&none.stderr);
    assert!(err.contains("listen"), "{err}");
}
