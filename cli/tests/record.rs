//! `memwire record`, `replay` and `export` against a real hub: a region
//! recorded while a client changes it, across a restart of the hub, then
//! replayed into a fresh region and exported as JSON.
//!
//! With `MEMWIRE_KEEP_RECORDING=FILE` the test keeps its recording there,
//! for the reader written elsewhere that `.ci/run` checks it with
//! (`.ci/read_recording.py`, the Python `mcap` package).

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{
    Killed, free_port, memwire, ok, on_port, signal, spawn_serve, wait_for_log, wait_listening,
};
use memwire_std::hub::config::DEFAULT_TOML;
use memwire_std::shm::{Root, ShmRegion};

/// A `memwire serve` with the built-in config on a fixed port and root, so
/// that it can be stopped and started again in place.
struct Hub {
    dir: PathBuf,
    addr: SocketAddr,
    process: Option<Killed>,
}

impl Hub {
    fn new(dir: &Path) -> Hub {
        let port = free_port();
        std::fs::write(dir.join("hub.toml"), on_port(DEFAULT_TOML, port, "")).unwrap();
        Hub {
            dir: dir.to_owned(),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            process: None,
        }
    }

    fn root(&self) -> PathBuf {
        self.dir.join("root")
    }

    fn start(&mut self) {
        let process = self
            .process
            .insert(spawn_serve(&self.dir, &["serve", "--config"]));
        wait_listening(process, self.addr, &self.dir);
    }

    /// Stops the hub with SIGTERM and waits for it to exit.
    fn stop(&mut self) {
        self.process.take().unwrap().terminate();
    }

    fn client(&self) -> Command {
        let mut command = memwire(&self.root());
        command.env("MEMWIRE_HUB", format!("tcp://{}", self.addr));
        command
    }

    /// Writes the setpoint through the hub; returns the generation holding it.
    fn set(&self, value: f32) -> u64 {
        let out = ok(&self
            .client()
            .args(["set", "demo/sensors/setpoint", &value.to_string()])
            .output()
            .unwrap());
        let generation = out
            .rsplit("(generation ")
            .next()
            .and_then(|s| s.trim().strip_suffix(')'))
            .unwrap_or_else(|| panic!("no generation in {out:?}"));
        generation.parse().unwrap()
    }
}

/// The data area of region `path` under `root`, and its generation.
fn region_bytes(root: &Path, path: &str) -> (u64, Vec<u8>) {
    let region = ShmRegion::open(&Root::new(root), path).unwrap();
    let mut data = vec![0; region.data_len()];
    let generation = region.snapshot(&mut data).unwrap();
    (generation, data)
}

#[test]
fn record_across_a_hub_restart_then_replay_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let mut hub = Hub::new(dir.path());
    hub.start();
    let file = dir.path().join("run.mcap");
    let log = dir.path().join("record.log");
    let recorder = hub
        .client()
        .args([
            "record",
            "demo/sensors",
            "--snapshot-every",
            "0",
            "-vv",
            "-o",
        ])
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut recorder = Killed(recorder);
    wait_for_log(&log, "recorded demo/sensors generation");

    // Each value is seen by the recorder before the next is written, so
    // every one of them is an update of its own.
    let mut written = Vec::new();
    for value in [1.5_f32, 2.5, 3.5] {
        let generation = hub.set(value);
        wait_for_log(
            &log,
            &format!("recorded demo/sensors generation {generation}\n"),
        );
        written.push((generation, value));
    }
    hub.stop();
    wait_for_log(&log, "lost the hub");
    hub.start();
    wait_for_log(&log, "resumed at generation");
    for value in [4.5_f32, 5.5] {
        let generation = hub.set(value);
        wait_for_log(
            &log,
            &format!("recorded demo/sensors generation {generation}\n"),
        );
        written.push((generation, value));
    }
    signal(&recorder.0, rustix::process::Signal::INT);
    let status = recorder.0.wait().unwrap();
    assert!(status.success(), "{status}");
    if let Some(keep) = std::env::var_os("MEMWIRE_KEEP_RECORDING") {
        std::fs::copy(&file, keep).unwrap();
    }

    let info = ok(&hub
        .client()
        .args(["record", "--info"])
        .arg(&file)
        .output()
        .unwrap());
    assert!(info.contains("demo/sensors: "), "{info}");
    assert!(info.contains("(2 snapshots, 1 gaps)"), "{info}");

    // The export: a snapshot first, the deltas with the values written in
    // order, and one snapshot marked as a gap after the restart.
    let export = ok(&hub
        .client()
        .args(["export", "--json"])
        .arg(&file)
        .output()
        .unwrap());
    let lines: Vec<serde_json::Value> = export
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["snapshot"], true);
    assert_eq!(lines[0]["gap"], false);
    let deltas: Vec<(u64, f64)> = lines
        .iter()
        .filter(|l| l["snapshot"] == false)
        .map(|l| {
            assert_eq!(l["changed"].as_object().unwrap().len(), 1, "{l}");
            (
                l["generation"].as_u64().unwrap(),
                l["changed"]["setpoint"].as_f64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(u64, f64)> = written.iter().map(|&(g, v)| (g, f64::from(v))).collect();
    assert_eq!(deltas, expected);
    let gaps: Vec<&serde_json::Value> = lines.iter().filter(|l| l["gap"] == true).collect();
    assert_eq!(gaps.len(), 1, "{export}");
    assert_eq!(gaps[0]["snapshot"], true);
    assert_eq!(gaps[0]["changed"]["setpoint"], 3.5);

    // Replayed into a fresh root: the same bytes at the same generation.
    let fresh = dir.path().join("fresh");
    let out = ok(&hub
        .client()
        .args(["replay", "--speed", "0", "--root"])
        .arg(&fresh)
        .arg(&file)
        .output()
        .unwrap());
    assert_eq!(out.trim(), format!("replayed {} updates", lines.len()));
    let original = region_bytes(&hub.root(), "demo/sensors");
    let replayed = region_bytes(&fresh, "demo/sensors");
    assert_eq!(replayed.0, written.last().unwrap().0);
    assert_eq!(replayed, original);

    // Through a fresh hub: the writable setpoint ends as recorded, and the
    // read-only variables the snapshots hold are reported as left out.
    let other = tempfile::tempdir().unwrap();
    let mut fresh_hub = Hub::new(other.path());
    fresh_hub.start();
    let out = ok(&fresh_hub
        .client()
        .args(["replay", "--speed", "0", "--through-hub"])
        .arg(&file)
        .output()
        .unwrap());
    assert!(
        out.starts_with(&format!("replayed {} updates; ", lines.len())),
        "{out}"
    );
    assert!(out.contains("left out"), "{out}");
    let setpoint = ok(&fresh_hub
        .client()
        .args(["get", "demo/sensors/setpoint"])
        .output()
        .unwrap());
    assert_eq!(setpoint.trim(), "setpoint = 5.5");

    // Stepping prints each update's changed values, in recorded order.
    let mut step = hub
        .client()
        .args(["replay", "--step", "--root"])
        .arg(dir.path().join("stepped"))
        .arg(&file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = step.stdin.take().unwrap();
        stdin
            .write_all("\n".repeat(lines.len()).as_bytes())
            .unwrap();
    }
    let stepped = ok(&step.wait_with_output().unwrap());
    let shown: Vec<&str> = stepped
        .split("[Enter] ")
        .filter(|s| s.contains("generation"))
        .collect();
    assert_eq!(shown.len(), lines.len(), "{stepped}");
    for ((generation, value), text) in written
        .iter()
        .zip(shown.iter().filter(|s| !s.contains("uptime_ms")))
    {
        assert_eq!(
            *text,
            format!("demo/sensors generation {generation}: setpoint = {value}  "),
        );
    }
}

#[test]
fn the_recording_commands_have_help_with_examples() {
    let dir = tempfile::tempdir().unwrap();
    let top = ok(&memwire(dir.path()).arg("--help").output().unwrap());
    for command in ["record", "replay", "export"] {
        assert!(
            top.contains(&format!("  {command} ")),
            "{command} missing: {top}"
        );
        let help = ok(&memwire(dir.path())
            .args([command, "--help"])
            .output()
            .unwrap());
        assert!(help.contains("Examples:"), "{command}: {help}");
    }
}
