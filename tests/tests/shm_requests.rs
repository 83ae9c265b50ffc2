//! Remote writes to a region that a local process writes: the hub posts
//! them in the region's request area and the writer process applies them
//! at its commits (or in `apply_requests`); a writer that never takes one
//! makes the write time out, withdrawn for good.

mod shm_common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::FileExt;
use std::process::{Child, ChildStdout};
use std::time::Duration;

use memwire::codec::ErrorCode;
use memwire_std::client::{Client, ClientError, ClientOptions, Mirror};
use memwire_std::hub::{Config, Hub};
use memwire_std::shm::{ShmRegion, ShmWriter};
use shm_common::TempRoot;

const DEADLINE: Duration = Duration::from_secs(10);

async fn hub_and_mirror(root: &TempRoot) -> (Hub, Client, Mirror) {
    let text = format!(
        r#"
root = "{}"
[listen]
tcp = "127.0.0.1:0"
[publish]
max_rate_hz = 0
[[tenant]]
name = "t"
[[tenant.client]]
name = "c"
secret = "s"
rights = [{{ regions = "*", access = "read-write" }}]
[[tenant.region]]
name = "ctl"
variables = [
  {{ name = "telemetry", kind = "u64" }},
  {{ name = "setpoint", kind = "f32", writable = true }},
]
"#,
        root.dir().display()
    );
    let config = Config::parse(&text, "test.toml", root.dir()).unwrap();
    let hub = Hub::start(config).await.unwrap();
    let url = format!("tcp://{}", hub.tcp_addr().unwrap());
    let client = Client::connect(&url, ClientOptions::new("c", "t", "s"))
        .await
        .unwrap();
    let mirror = client.subscribe("t/ctl").await.unwrap();
    (hub, client, mirror)
}

/// A child writer process and its stdout, read line by line.
struct Writer {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl Writer {
    fn start(root: &TempRoot, args: &[&str]) -> Writer {
        let mut child = shm_common::child(root, "t/ctl", args);
        let out = BufReader::new(child.stdout.take().unwrap());
        Writer { child, out }
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.out.read_line(&mut line).unwrap();
        line.trim().to_owned()
    }

    fn say(&mut self) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(b"go\n").unwrap();
        stdin.flush().unwrap();
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The request area's state word, read from the file.
fn request_state(root: &TempRoot) -> u32 {
    let file = std::fs::File::open(root.dir().join("t/ctl")).unwrap();
    let word = |at: u64| {
        let mut b = [0u8; 4];
        file.read_exact_at(&mut b, at).unwrap();
        u64::from(u32::from_le_bytes(b))
    };
    let (data_offset, data_len, journal_len) = (word(48), word(52), word(60));
    word(data_offset + data_len + journal_len) as u32
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_write_is_applied_by_the_writer_process_and_answered() {
    let root = TempRoot::new("requests-applied");
    let (hub, client, mirror) = hub_and_mirror(&root).await;
    let mut writer = Writer::start(&root, &["telemetry", "telemetry"]);
    assert_eq!(writer.line(), "writing");

    let generation = tokio::time::timeout(DEADLINE, mirror.set("setpoint", 21.5f32))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("the remote write was not applied: {e}"));

    // The writer process saw it as a remote write of its own commit.
    let seen = tokio::task::spawn_blocking(move || (writer.line(), writer))
        .await
        .unwrap();
    let (line, writer) = seen;
    assert_eq!(line, format!("remote {generation} setpoint"));

    // Local readers and the remote mirror see it, while telemetry moves on.
    let local = ShmRegion::open(&root.root, "t/ctl").unwrap();
    assert_eq!(local.get_by_name::<f32>("setpoint").unwrap(), 21.5);
    let before = local.get_by_name::<u64>("telemetry").unwrap();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while mirror.get::<f32>("setpoint").ok() != Some(21.5)
        || local.get_by_name::<u64>("telemetry").unwrap() == before
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the mirror never showed the write"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(writer);
    client.close().await;
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_the_writer_never_takes_times_out_and_is_never_applied() {
    let root = TempRoot::new("requests-idle");
    let (hub, client, mirror) = hub_and_mirror(&root).await;
    let mut writer = Writer::start(&root, &["idle"]);
    assert_eq!(writer.line(), "ready");
    let local = ShmRegion::open(&root.root, "t/ctl").unwrap();
    let generation = local.generation().unwrap();

    let refused = tokio::time::timeout(DEADLINE, mirror.set("setpoint", 5.0f32))
        .await
        .unwrap();
    assert!(
        matches!(refused, Err(ClientError::Hub(ErrorCode::Busy))),
        "{refused:?}"
    );
    assert_eq!(local.generation().unwrap(), generation);
    assert_eq!(request_state(&root), 0, "the request was withdrawn");

    // A drain after the withdrawal finds nothing to apply.
    writer.say();
    assert_eq!(writer.line(), "none");
    assert_eq!(local.get_by_name::<f32>("setpoint").unwrap(), 0.0);
    assert_eq!(local.generation().unwrap(), generation);
    writer.say();
    assert!(writer.child.wait().unwrap().success());

    client.close().await;
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_killed_with_a_request_posted_leaves_the_region_writable() {
    let root = TempRoot::new("requests-killed");
    let (hub, client, mirror) = hub_and_mirror(&root).await;
    let mut writer = Writer::start(&root, &["idle"]);
    assert_eq!(writer.line(), "ready");

    // Kill the writer while the hub's request is posted (a post missed on
    // a busy machine times out and is made again).
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let pending = loop {
        let pending = {
            let mirror = mirror.clone();
            tokio::spawn(async move { mirror.set("setpoint", 7.0f32).await })
        };
        while request_state(&root) & 3 != 1 && !pending.is_finished() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        if !pending.is_finished() {
            break pending;
        }
        let missed = pending.await.unwrap();
        assert!(
            matches!(missed, Err(ClientError::Hub(ErrorCode::Busy))),
            "{missed:?}"
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "the hub never posted"
        );
    };
    writer.child.kill().unwrap();
    writer.child.wait().unwrap();
    let answer = tokio::time::timeout(DEADLINE, pending)
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(answer, Err(ClientError::Hub(ErrorCode::Busy))),
        "an unapplied write is not acknowledged: {answer:?}"
    );

    // With no writer, the hub writes the file itself; an acknowledged
    // write is in the region.
    let generation = tokio::time::timeout(DEADLINE, mirror.set("setpoint", 8.0f32))
        .await
        .unwrap()
        .unwrap();
    let local = ShmRegion::open(&root.root, "t/ctl").unwrap();
    assert_eq!(local.get_by_name::<f32>("setpoint").unwrap(), 8.0);
    assert_eq!(local.generation().unwrap(), generation);

    // The next writer finds nothing left to apply, and takes new requests.
    let next = ShmWriter::open(&root.root, "t/ctl").unwrap();
    assert_eq!(next.apply_requests(), None);
    let pending = {
        let mirror = mirror.clone();
        tokio::spawn(async move { mirror.set("setpoint", 9.0f32).await })
    };
    let deadline = std::time::Instant::now() + DEADLINE;
    let applied = loop {
        if let Some(applied) = next.apply_requests() {
            break applied;
        }
        assert!(std::time::Instant::now() < deadline, "no request came");
        std::thread::sleep(Duration::from_millis(1));
    };
    let answer = pending.await.unwrap().unwrap();
    assert_eq!(answer, applied.generation);
    assert_eq!(next.get_by_name::<f32>("setpoint").unwrap(), 9.0);
    drop(next);
    client.close().await;
    hub.shutdown().await;
}
