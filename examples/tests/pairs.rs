//! Runs the examples as their READMEs say, each in a temporary root and
//! the hub on a free port, and checks what they print.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// How long an example may take to print a line or to end. Far above what
/// any needs: it only bounds a hang.
const DEADLINE: Duration = Duration::from_secs(60);

/// A running example, killed when dropped (so also when a test fails).
struct Running {
    name: String,
    child: Child,
    lines: Receiver<String>,
    printed: Vec<String>,
}

impl Running {
    /// Starts the binary at `exe` with `args`, its regions under `root`.
    fn start(exe: &str, root: &Path, args: &[&str]) -> Running {
        let name = Path::new(exe)
            .file_name()
            .map_or(exe.into(), |n| n.to_string_lossy().into());
        let mut child = Command::new(exe)
            .args(args)
            .env("MEMWIRE_ROOT", root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let (send, lines) = mpsc::channel();
        forward(child.stdout.take(), "", send.clone());
        forward(child.stderr.take(), "stderr: ", send);
        Running {
            name,
            child,
            lines,
            printed: Vec::new(),
        }
    }

    /// The next line printed, or `None` once both outputs are closed.
    fn next_line(&mut self, deadline: Instant) -> Option<String> {
        match self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            Ok(line) => {
                self.printed.push(line.clone());
                Some(line)
            }
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => self.fail(&format!("nothing within {DEADLINE:?}")),
        }
    }

    /// Waits for a line that contains `text` and returns it.
    fn wait_for(&mut self, text: &str) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            match self.next_line(deadline) {
                Some(line) if line.contains(text) => return line,
                Some(_) => {}
                None => self.fail(&format!("ended without printing {text:?}")),
            }
        }
    }

    /// Waits for the example to end by itself, successfully; returns
    /// everything it printed.
    fn finish(&mut self) -> Vec<String> {
        let deadline = Instant::now() + DEADLINE;
        while self.next_line(deadline).is_some() {}
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) if status.success() => return self.printed.clone(),
                Ok(Some(status)) => self.fail(&format!("ended with {status}")),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Ok(None) => self.fail("closed its output but did not end"),
                Err(e) => self.fail(&e.to_string()),
            }
        }
    }

    fn fail(&self, why: &str) -> ! {
        panic!(
            "{}: {why}; it printed:\n{}",
            self.name,
            self.printed.join("\n")
        )
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends the lines of `output`, prefixed, to `send` from a thread of its own.
fn forward(output: Option<impl Read + Send + 'static>, prefix: &'static str, send: Sender<String>) {
    let output = output.expect("piped");
    std::thread::spawn(move || {
        for line in BufReader::new(output).lines().map_while(Result::ok) {
            if send.send(format!("{prefix}{line}")).is_err() {
                break;
            }
        }
    });
}

#[test]
fn shared_memory_writer_and_reader() {
    let root = tempfile::tempdir().unwrap();
    let mut writer = Running::start(env!("CARGO_BIN_EXE_shm-writer"), root.path(), &["20"]);
    // The reader opens the region once the writer has started it over.
    writer.wait_for("writing ");
    let mut reader = Running::start(env!("CARGO_BIN_EXE_shm-reader"), root.path(), &[]);

    let read = reader.finish();
    assert!(read[0].starts_with("opened "), "{read:?}");
    assert!(
        read[0].ends_with(" with variables count, speed, done"),
        "{read:?}"
    );
    assert_eq!(read.last().unwrap(), "the writer is done at count 20");
    let written = writer.finish();
    assert_eq!(written.last().unwrap(), "done after 20 updates");
    assert!(
        written
            .iter()
            .any(|l| l.starts_with("count 20 (generation ")),
        "{written:?}"
    );
}

#[test]
fn hub_app_and_remote_mirror() {
    let root = tempfile::tempdir().unwrap();
    let mut hub = Running::start(env!("CARGO_BIN_EXE_hub-app"), root.path(), &["127.0.0.1:0"]);
    let listening = hub.wait_for("listening on ");
    let url = listening.trim_start_matches("listening on ");
    assert!(url.starts_with("tcp://127.0.0.1:"), "{listening}");

    let mut mirror = Running::start(
        env!("CARGO_BIN_EXE_remote-mirror"),
        root.path(),
        &[url, "23"],
    );
    let mirrored = mirror.finish();
    assert!(
        mirrored[0].starts_with("mirroring demo/heater at generation "),
        "{mirrored:?}"
    );
    assert!(
        mirrored[1].starts_with("setpoint 23.0 written at generation "),
        "{mirrored:?}"
    );
    // The application may have moved already: it runs on its own clock.
    assert!(mirrored[2].starts_with("temperature "), "{mirrored:?}");
    let [.., reached, last] = mirrored.as_slice() else {
        panic!("{mirrored:?}")
    };
    assert!(reached.ends_with("temperature 23.0"), "{mirrored:?}");
    assert_eq!(last, "reached the setpoint");

    // The application saw the write and wrote through the hub until there.
    hub.wait_for("setpoint changed to 23.0");
    hub.wait_for("temperature 23.0 (generation ");
}

#[test]
fn device_region() {
    let root = tempfile::tempdir().unwrap();
    let mut device = Running::start(env!("CARGO_BIN_EXE_device-region"), root.path(), &[]);
    let printed = device.finish();
    assert!(printed[0].starts_with("the region needs "), "{printed:?}");
    assert!(
        printed[1].ends_with(" (uptime_ms, temperature)"),
        "{printed:?}"
    );
    assert!(
        printed[2].ends_with(" (uptime_ms, temperature, setpoint, samples)"),
        "{printed:?}"
    );
    assert!(
        printed[3].ends_with(" (uptime_ms, temperature)"),
        "{printed:?}"
    );
    assert_eq!(
        printed[4],
        "Telemetry { uptime_ms: 300, temperature: 21.5, setpoint: 22.5, samples: [2, 2, 2, 2, 2, 2, 2, 2] }"
    );
}
