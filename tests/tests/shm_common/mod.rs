//! What the shared-memory tests share: a private root per test, a schema,
//! the child process, and a hub in a process of its own.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use memwire::schema::{Kind, SchemaBuf, SchemaBuilder};
use memwire_std::client::{Client, ClientOptions, Mirror};
use memwire_std::shm::Root;

/// Bounds on waits that only a hang reaches.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// `wide` is 64 words, so a torn copy is likely to show if the seqlock
/// ever accepted one.
pub static SCHEMA: SchemaBuf<5> = SchemaBuilder::new()
    .var("counter", Kind::U64, 1)
    .var("wide", Kind::U32, 64)
    .var("speed", Kind::F32, 1)
    .var("mode", Kind::U32, 1)
    .var("label", Kind::Bytes, 12)
    .build();

/// A fresh root directory for one test, removed when dropped.
pub struct TempRoot {
    pub root: Root,
}

impl TempRoot {
    pub fn new(test: &str) -> TempRoot {
        let dir: PathBuf =
            std::env::temp_dir().join(format!("memwire-test-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempRoot {
            root: Root::new(dir),
        }
    }

    pub fn dir(&self) -> &Path {
        self.root.dir()
    }
}

impl Drop for TempRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.root.dir());
    }
}

/// Starts `shm-child <root> <path> <args…>` with piped stdio.
pub fn child(root: &TempRoot, path: &str, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_shm-child"))
        .arg(root.dir())
        .arg(path)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn shm-child")
}

/// Reads one line of a child's stdout.
pub fn line(child: &mut Child) -> String {
    use std::io::BufRead;
    let out = child.stdout.as_mut().expect("piped stdout");
    let mut reader = std::io::BufReader::new(out);
    let mut line = String::new();
    reader.read_line(&mut line).expect("read child stdout");
    line.trim().to_owned()
}

/// A config with the hub's root `root`, listening on a free port, and a
/// tenant `tenant` with `rest` (its keys, then its regions), whose client
/// `rw` may read and write every region.
pub fn hub_config(root: &Path, tenant: &str, rest: &str) -> String {
    format!(
        r#"
root = "{}"
[listen]
tcp = "127.0.0.1:0"
[[tenant]]
name = "{tenant}"
{rest}
[[tenant.client]]
name = "rw"
secret = "s3cret"
rights = [{{ regions = "*", access = "read-write" }}]
"#,
        root.display()
    )
}

/// The hub in its own process (`hub-child`) on a config, killed when
/// dropped.
pub struct HubProcess {
    child: Child,
    pub url: String,
}

impl HubProcess {
    /// Starts the hub on `config`, written beside `root`, and reads where
    /// it listens.
    pub fn start(root: &TempRoot, config: &str) -> HubProcess {
        let file = root.dir().with_extension("toml");
        std::fs::write(&file, config).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_hub-child"))
            .arg(&file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn hub-child");
        let said = line(&mut child);
        let addr = said
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("hub-child said {said:?}"));
        HubProcess {
            url: format!("tcp://{addr}"),
            child,
        }
    }

    /// A client of `tenant` named `name`, with the config's secret.
    pub async fn client(&self, name: &str, tenant: &str) -> Client {
        Client::connect(&self.url, ClientOptions::new(name, tenant, "s3cret"))
            .await
            .unwrap()
    }

    /// How the hub exited, if it did.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `done`, polling it.
pub async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < DEADLINE,
            "{what}: not within {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Subscribes to `path` until the hub serves it.
pub async fn served(client: &Client, path: &str) -> Mirror {
    let start = Instant::now();
    loop {
        match client.subscribe(path).await {
            Ok(mirror) => return mirror,
            Err(e) => assert!(
                start.elapsed() < DEADLINE,
                "{path} not served within {DEADLINE:?}: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
