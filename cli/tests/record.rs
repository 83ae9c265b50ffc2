//! `memwire record`, `replay` and `export` against a real hub: a region
//! recorded while a client changes it, across a restart of the hub, then
//! replayed into a fresh region and exported as JSON; a burst of commits
//! recorded one update per update the hub sent; a recorder killed with
//! SIGKILL, whose file is read up to the cut.
//!
//! With `MEMWIRE_KEEP_RECORDING=FILE` the test keeps its recording there,
//! for the reader written elsewhere that `.ci/run` checks it with
//! (`.ci/read_recording.py`, the Python `mcap` package).

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{
    DEADLINE, Killed, free_port, memwire, ok, on_port, shown, signal, spawn_serve, wait_for_log,
    wait_listening,
};
use memwire_cli::recording::Recording;
use memwire_std::hub::config::DEFAULT_TOML;
use memwire_std::shm::{Root, ShmRegion, ShmWriter};

/// A `memwire serve` with the built-in config on a fixed port and root, so
/// that it can be stopped and started again in place.
struct Hub {
    dir: PathBuf,
    addr: SocketAddr,
    process: Option<Killed>,
}

impl Hub {
    fn new(dir: &Path) -> Hub {
        Hub::with(dir, DEFAULT_TOML, "")
    }

    /// A hub on `config` (the built-in one or one made from it) with
    /// `listen` added to its `[listen]` section.
    fn with(dir: &Path, config: &str, listen: &str) -> Hub {
        let port = free_port();
        std::fs::write(dir.join("hub.toml"), on_port(config, port, listen)).unwrap();
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

    /// `memwire record demo/sensors` into `file`, its log (`-vv`) in `log`,
    /// with `args` before the region.
    fn record(&self, file: &Path, log: &Path, args: &[&str]) -> Killed {
        let recorder = self
            .client()
            .arg("record")
            .args(args)
            .args(["demo/sensors", "-vv", "-o"])
            .arg(file)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        Killed(recorder)
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
    // Past generation 0, after which the hub's first update would be a
    // full one (recorded as a snapshot).
    hub.set(0.5);
    let file = dir.path().join("run.mcap");
    let log = dir.path().join("record.log");
    let mut recorder = hub.record(&file, &log, &["--snapshot-every", "0"]);
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

/// The body of `GET /metrics` from the hub's HTTP listener at `addr`.
fn scrape(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text
}

/// The value of the sample `name{labels}` in a scrape.
fn sample(text: &str, name: &str, labels: &str) -> u64 {
    let key = format!("{name}{{{labels}}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(key.as_str()))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in\n{text}"))
}

/// The lines of `memwire export --json FILE`, with what it printed on stderr.
fn export(hub: &Hub, file: &Path) -> (Vec<serde_json::Value>, String) {
    let out = hub
        .client()
        .args(["export", "--json"])
        .arg(file)
        .output()
        .unwrap();
    let lines = ok(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (lines, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// `memwire replay --speed 0` of `file` into a fresh root `into`.
fn replay(hub: &Hub, file: &Path, into: &Path) -> Output {
    hub.client()
        .args(["replay", "--speed", "0", "--root"])
        .arg(into)
        .arg(file)
        .output()
        .unwrap()
}

#[test]
fn updates_that_arrive_together_are_recorded_one_each() {
    let dir = tempfile::tempdir().unwrap();
    // No limit on the rate of updates, so that each scan is sent at once.
    let config = DEFAULT_TOML.replace("max_rate_hz = 100", "max_rate_hz = 0");
    assert_ne!(config, DEFAULT_TOML);
    let http = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut hub = Hub::with(dir.path(), &config, &format!("http = \"{http}\""));
    hub.start();
    // Past generation 0: the updates that follow are deltas.
    hub.set(0.5);
    let file = dir.path().join("burst.mcap");
    let log = dir.path().join("record.log");
    let mut recorder = hub.record(&file, &log, &["--snapshot-every", "0"]);
    wait_for_log(&log, "recorded demo/sensors generation");

    // While the recorder is stopped, a local writer commits `counter` = n
    // three times, each once the hub has scanned the one before: the hub
    // sends the first two as updates of their own (as many as it sends
    // before an ack), which the recorder's client then reads together,
    // and the third with what follows. The value of each generation is
    // known.
    let writer = ShmWriter::open(&Root::new(hub.root()), "demo/sensors").unwrap();
    let labels = "tenant=\"demo\",region=\"sensors\"";
    let scans = || sample(&scrape(http), "memwire_region_commits_total", labels);
    let mut written: HashMap<u64, u64> = HashMap::new();
    let mut last = 0;
    for round in 0..5_u64 {
        signal(&recorder.0, rustix::process::Signal::STOP);
        for k in 1..=3 {
            let before = scans();
            let n = round * 3 + k;
            last = writer.set_by_name("counter", n).unwrap();
            written.insert(last, n);
            let start = Instant::now();
            while scans() == before {
                assert!(start.elapsed() < DEADLINE, "the hub did not scan");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        signal(&recorder.0, rustix::process::Signal::CONT);
        wait_for_log(&log, &format!("recorded demo/sensors generation {last}\n"));
    }
    drop(writer);
    wait_for_log(&log, &format!("recorded demo/sensors generation {last}\n"));
    signal(&recorder.0, rustix::process::Signal::INT);
    let status = recorder.0.wait().unwrap();
    assert!(status.success(), "{status}");

    // One record per update the hub sent: the full copy the recording
    // starts from, then every update after it, as many as the recorder's
    // client applied (counted by its session).
    let said = std::fs::read_to_string(&log).unwrap();
    let (lines, _) = export(&hub, &file);
    let n = lines.len();
    assert!(
        said.contains(&format!(
            "demo/sensors: {n} updates recorded, 0 lost behind; the client applied {n} on"
        )),
        "{n} records: {said}"
    );
    assert!(n > 10, "{n} updates of 15 commits");
    assert_eq!(lines[0]["snapshot"], true);

    // Each record holds its generation's value, in order.
    let mut previous = 0;
    for line in &lines[1..] {
        let generation = line["generation"].as_u64().unwrap();
        assert!(generation > previous, "{line}");
        previous = generation;
        assert_eq!(line["snapshot"], false, "{line}");
        assert_eq!(line["gap"], false, "{line}");
        assert_eq!(
            line["changed"]["counter"].as_u64(),
            written.get(&generation).copied(),
            "{line}"
        );
    }
    assert_eq!(previous, last);

    // Replayed, each update prints its generation's value, and the region
    // ends as the hub's.
    let mut step = hub
        .client()
        .args(["replay", "--step", "--root"])
        .arg(dir.path().join("stepped"))
        .arg(&file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = step.stdin.take().unwrap();
    let enter = "\n".repeat(lines.len());
    let feed = std::thread::spawn(move || stdin.write_all(enter.as_bytes()));
    let stepped = ok(&step.wait_with_output().unwrap());
    feed.join().unwrap().unwrap();
    let shown: Vec<&str> = stepped
        .split("[Enter] ")
        .filter(|s| s.contains("generation"))
        .collect();
    assert_eq!(shown.len(), lines.len());
    for text in &shown[1..] {
        let generation: u64 = text
            .strip_prefix("demo/sensors generation ")
            .and_then(|t| t.split(':').next())
            .and_then(|g| g.parse().ok())
            .unwrap_or_else(|| panic!("{text:?}"));
        let value = written[&generation];
        assert_eq!(
            *text,
            format!("demo/sensors generation {generation}: counter = {value}  ")
        );
    }
    let stepped_region = region_bytes(&dir.path().join("stepped"), "demo/sensors");
    assert_eq!(stepped_region, region_bytes(&hub.root(), "demo/sensors"));
}

#[test]
fn a_recorder_killed_outright_leaves_a_file_read_up_to_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    let mut hub = Hub::new(dir.path());
    hub.start();
    let file = dir.path().join("killed.mcap");
    let log = dir.path().join("record.log");
    let mut recorder = hub.record(&file, &log, &["--flush-every", "0.1"]);
    wait_for_log(&log, "recorded demo/sensors generation");
    let mut last = 0;
    for value in [1.5_f32, 2.5, 3.5] {
        last = hub.set(value);
        wait_for_log(&log, &format!("recorded demo/sensors generation {last}\n"));
    }
    // Flushed within --flush-every: the file shows the last update.
    let start = Instant::now();
    let info = loop {
        let info = hub
            .client()
            .args(["record", "--info"])
            .arg(&file)
            .output()
            .unwrap();
        let text = ok(&info);
        if text.contains(&format!(" to {last}\n")) {
            break text;
        }
        assert!(start.elapsed() < DEADLINE, "not flushed: {text}");
        std::thread::sleep(Duration::from_millis(50));
    };
    recorder.0.kill().unwrap();
    recorder.0.wait().unwrap();
    assert!(
        info.contains("cut: the file ends without its summary"),
        "{info}"
    );
    assert!(info.contains("4 updates"), "{info}");

    let (lines, warning) = export(&hub, &file);
    assert!(warning.contains("is cut"), "{warning}");
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[3]["generation"].as_u64(), Some(last));
    assert_eq!(lines[3]["changed"]["setpoint"], 3.5);

    let fresh = dir.path().join("fresh");
    let out = replay(&hub, &file, &fresh);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is cut"),
        "{}",
        shown(&out)
    );
    assert_eq!(ok(&out).trim(), "replayed 4 updates");
    assert_eq!(
        region_bytes(&fresh, "demo/sensors"),
        region_bytes(&hub.root(), "demo/sensors")
    );

    // Cut anywhere, the file reads as the updates before the cut.
    let bytes = std::fs::read(&file).unwrap();
    let whole = Recording::parse(&bytes).unwrap();
    assert!(whole.cut);
    let mut fewer = 0;
    for len in 0..bytes.len() {
        let cut = Recording::parse(&bytes[..len]).unwrap_or_else(|e| panic!("cut at {len}: {e}"));
        assert!(cut.cut);
        assert!(cut.updates.len() <= whole.updates.len());
        for (a, b) in cut.updates.iter().zip(&whole.updates) {
            assert_eq!(a.update, b.update, "cut at {len}");
        }
        fewer += usize::from(cut.updates.len() < whole.updates.len());
    }
    assert!(fewer > 0);
}
