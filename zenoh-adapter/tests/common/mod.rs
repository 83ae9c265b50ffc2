//! Hubs and routers as child processes on loopback, and deadline-bounded
//! waits on what they print.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use memwire_std::client::{Client, ClientOptions, Mirror};
use memwire_std::shm::{Root, ShmRegion, ShmWriter};

/// Long enough for a slow CI machine; a passing test waits far less.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// A free TCP port on loopback.
pub fn port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Polls `check` until it holds, or panics with `what` at the deadline.
pub fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let end = Instant::now() + DEADLINE;
    while !check() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child process whose stdout lines are collected; killed when dropped.
pub struct Process {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Process {
    fn spawn(mut command: Command) -> Process {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .env("RUST_LOG", "info")
            .spawn()
            .expect("spawn");
        let stdout = child.stdout.take().expect("stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Process { child, lines }
    }

    /// The first line starting with `prefix`, waiting for it.
    pub fn line(&self, prefix: &str) -> String {
        let mut found = None;
        wait_until(prefix, || {
            found = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.starts_with(prefix))
                .cloned();
            found.is_some()
        });
        found.unwrap()
    }

    /// The last line starting with `prefix`, if any yet.
    pub fn last(&self, prefix: &str) -> Option<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|l| l.starts_with(prefix))
            .cloned()
    }

    /// Kills the process (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A zenoh router listening on `port`, connecting to the routers at
/// `peers`.
pub fn router(port: u16, peers: &[u16]) -> Process {
    router_with(port, peers, None, None)
}

/// A router as [`router`], whose access control is `acl` (json5, the
/// contents of its `access_control` object), and whose sessions log in
/// with the users of the file `users` (`user:password` lines).
pub fn router_with(port: u16, peers: &[u16], acl: Option<&str>, users: Option<&Path>) -> Process {
    let mut command = Command::new(env!("CARGO_BIN_EXE_zenoh-router"));
    if let Some(acl) = acl {
        command.env("ZENOH_ROUTER_ACL", acl);
    }
    if let Some(users) = users {
        command.env("ZENOH_ROUTER_USERS", users);
    }
    command.arg(format!("tcp/127.0.0.1:{port}"));
    for p in peers {
        command.arg(format!("tcp/127.0.0.1:{p}"));
    }
    let process = Process::spawn(command);
    process.line("ready");
    process
}

/// The region every test shares: written at hub A by a local process,
/// with one variable clients may write.
pub const LINE_VARIABLES: &str = r#"variables = [
  { name = "speed", kind = "f64" },
  { name = "setpoint", kind = "f64", writable = true },
  { name = "counts", kind = "u32", count = 256 },
]"#;

/// A hub's directory: its config, its bridge's config, its region files.
pub struct HubDir {
    pub dir: PathBuf,
}

impl HubDir {
    /// Writes the hub's config (tenants `plant` and `secret`, clients
    /// `op` read-write and `viewer` read-only in each, `regions` the TOML
    /// of the `[[tenant.region]]` tables per tenant) and the bridge's.
    pub fn new(
        parent: &Path,
        name: &str,
        regions: &[(&str, &str)],
        routers: &[u16],
        export: &[&str],
        import: &[&str],
    ) -> HubDir {
        let dir = parent.join(name);
        std::fs::create_dir_all(dir.join("root")).unwrap();
        let mut hub = format!(
            "root = {:?}\n[listen]\ntcp = \"127.0.0.1:0\"\nhttp = \"127.0.0.1:0\"\n",
            dir.join("root")
        );
        for tenant in ["plant", "secret"] {
            hub.push_str(&format!(
                "\n[[tenant]]\nname = \"{tenant}\"\n\
                 [[tenant.client]]\nname = \"op\"\nsecret = \"op-secret\"\n\
                 rights = [{{ regions = \"*\", access = \"read-write\" }}]\n\
                 [[tenant.client]]\nname = \"viewer\"\nsecret = \"viewer-secret\"\n\
                 rights = [{{ regions = \"*\", access = \"read\" }}]\n"
            ));
            for (t, region) in regions {
                if *t == tenant {
                    hub.push_str(&format!("\n[[tenant.region]]\n{region}\n"));
                }
            }
        }
        let list = |items: &[&str]| {
            items
                .iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let connect: Vec<String> = routers
            .iter()
            .map(|p| format!("tcp/127.0.0.1:{p}"))
            .collect();
        let connect: Vec<&str> = connect.iter().map(String::as_str).collect();
        hub.push_str(&format!(
            "\n[zenoh]\nconnect = [{}]\nstate = \"state\"\nexport = [{}]\nimport = [{}]\n",
            list(&connect),
            list(export),
            list(import)
        ));
        std::fs::write(dir.join("hub.toml"), hub).unwrap();
        HubDir { dir }
    }

    /// Adds `keys` (TOML lines) to the hub's `[zenoh]` section, the last
    /// of the file: the `id`, or `user` and `password`, a router's access
    /// control names the hub by.
    pub fn with_zenoh(self, keys: &str) -> HubDir {
        let file = self.dir.join("hub.toml");
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&file, format!("{text}{keys}\n")).unwrap();
        self
    }

    pub fn root(&self) -> Root {
        Root::new(self.dir.join("root"))
    }

    /// Starts the hub with its bridge.
    pub fn start(&self) -> Hub {
        let mut command = Command::new(env!("CARGO_BIN_EXE_zenoh-hub"));
        command.arg(self.dir.join("hub.toml"));
        let process = Process::spawn(command);
        let ready = process.line("ready ");
        let mut addrs = ready["ready ".len()..].split(' ');
        let mut next = || -> SocketAddr { addrs.next().unwrap().parse().expect("an address") };
        let (addr, http) = (next(), next());
        Hub {
            process,
            addr,
            http,
        }
    }
}

/// A running hub process.
pub struct Hub {
    pub process: Process,
    pub addr: SocketAddr,
    /// The hub's metrics listener.
    pub http: SocketAddr,
}

/// An import's status as the hub last printed it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Status {
    pub owner_up: bool,
    pub held: Option<(u64, u64)>,
    pub full: u64,
    pub deltas: u64,
    pub updates: u64,
}

impl Hub {
    /// The last status printed for `region`.
    /// The value of the hub's metric `name` for `region` (`tenant/name`),
    /// `None` when the hub shows none.
    pub fn metric(&self, name: &str, region: &str) -> Option<f64> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(self.http).unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        let (tenant, region) = region.split_once('/').unwrap();
        text.lines()
            .filter(|l| l.starts_with(&format!("{name}{{")))
            .filter(|l| {
                l.contains(&format!("tenant=\"{tenant}\""))
                    && l.contains(&format!("region=\"{region}\""))
            })
            .find_map(|l| l.rsplit_once(' ')?.1.parse().ok())
    }

    pub fn status(&self, region: &str) -> Status {
        let Some(line) = self.process.last(&format!("status {region} ")) else {
            return Status::default();
        };
        let fields: HashMap<&str, &str> = line
            .split_whitespace()
            .filter_map(|f| f.split_once('='))
            .collect();
        let number = |k: &str| fields.get(k).and_then(|v| v.parse().ok()).unwrap_or(0);
        Status {
            owner_up: fields.get("owner") == Some(&"up"),
            held: fields.get("held").and_then(|h| {
                let (i, g) = h.split_once(':')?;
                Some((i.parse().ok()?, g.parse().ok()?))
            }),
            full: number("full"),
            deltas: number("deltas"),
            updates: number("updates"),
        }
    }

    /// A client of this hub in tenant `plant`.
    pub async fn client(&self, name: &str) -> Client {
        let options = ClientOptions::new(name, "plant", format!("{name}-secret").into_bytes());
        Client::connect(&format!("tcp://{}", self.addr), options)
            .await
            .expect("client")
    }
}

/// The data area of region `path` in `root`, as a local reader sees it.
pub fn file_bytes(root: &Root, path: &str) -> Vec<u8> {
    let region = ShmRegion::open(root, path).expect("open the region file");
    let mut data = vec![0u8; region.data_len()];
    region.snapshot(&mut data).expect("snapshot");
    data
}

/// Waits until `mirror` holds exactly the bytes of `path` in `root`.
pub async fn converge(mirror: &Mirror, root: &Root, path: &str) {
    let end = Instant::now() + DEADLINE;
    loop {
        let want = file_bytes(root, path);
        if mirror.snapshot().is_ok_and(|(_, got)| got == want) {
            return;
        }
        assert!(
            Instant::now() < end,
            "the mirror never held the owner's bytes of {path}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A local writer of region `plant/line` at a hub's root, taking the hub's
/// remote writes from a thread of its own while it lives.
pub struct LocalWriter {
    pub writer: Arc<ShmWriter>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl LocalWriter {
    pub fn open(root: &Root, path: &str) -> LocalWriter {
        let writer = Arc::new(ShmWriter::open(root, path).expect("open the writer"));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (w, s) = (Arc::clone(&writer), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                w.apply_requests();
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        LocalWriter { writer, stop }
    }

    /// Sets every count to `seed + index` and the speed to `seed`, in one
    /// commit.
    pub fn change(&self, seed: u32) {
        let counts: Vec<u8> = (0..256u32)
            .flat_map(|i| (seed.wrapping_add(i)).to_le_bytes())
            .collect();
        let speed = f64::from(seed).to_le_bytes();
        let schema = self.writer.reader().schema();
        let id = |name: &str| schema.find(name).expect("a variable");
        self.writer
            .write_many(&[(id("speed"), &speed), (id("counts"), &counts)])
            .expect("commit");
    }
}

impl Drop for LocalWriter {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}
