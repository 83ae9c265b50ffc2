//! A region file truncated while a hub serves it and local processes read
//! and write it: to nothing, to the header alone, to half. Every process
//! survives (the `SIGBUS` of a load or store past the file's new end no
//! longer kills it); the local reader and writer are told
//! [`ShmError::Truncated`](memwire_std::shm::ShmError::Truncated), the
//! hub ends the region's remote subscriptions with an error frame, refuses
//! writes to it, keeps serving its other region, and serves the region
//! again once a valid file has its name.

#![cfg(not(loom))]
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod shm_common;

use std::path::Path;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use memwire::codec::ErrorCode;
use memwire::schema::{Kind, SchemaBuf, SchemaBuilder};
use memwire_std::client::ClientError;
use memwire_std::shm::{ShmError, ShmRegion, ShmWriter};
use shm_common::{
    DEADLINE, HubProcess, SCHEMA, TempRoot, child, eventually, hub_config, line, served,
};

/// `demo/big` as the configuration declares it, for the file created anew.
static BIG: SchemaBuf<2> = SchemaBuilder::new()
    .var("wide", Kind::U32, 8192)
    .var("setpoint", Kind::U32, 1)
    .writable()
    .build();

/// A 32 KiB array, so that every truncation below cuts pages the readers
/// touch, and a region beside it that is not truncated.
fn config(root: &Path) -> String {
    hub_config(
        root,
        "demo",
        r#"[[tenant.region]]
name = "big"
variables = [
  { name = "wide", kind = "u32", count = 8192 },
  { name = "setpoint", kind = "u32", writable = true },
]
[[tenant.region]]
name = "other"
variables = [{ name = "x", kind = "u32", writable = true }]"#,
    )
}

/// A local process of the test, killed when dropped (so also when the
/// test fails first).
struct Local(Child);

impl Local {
    /// Starts `shm-child` and reads the line that says it runs.
    fn start(root: &TempRoot, args: &[&str], started: &str) -> Local {
        let mut local = Local(child(root, "demo/big", args));
        assert_eq!(line(&mut local.0), started);
        local
    }

    /// Waits for it to exit and returns its last line and status.
    fn finish(&mut self) -> (String, ExitStatus) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                // Its last line waits in the pipe.
                return (line(&mut self.0), status);
            }
            assert!(
                start.elapsed() < DEADLINE,
                "a local process still runs {DEADLINE:?} after the truncation"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn truncate(file: &Path, len: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(file)
        .unwrap()
        .set_len(len)
        .unwrap();
}

/// One truncation of `demo/big` to `len(file)` bytes, with everyone running.
async fn survive(test: &str, len: impl FnOnce(u64) -> u64) {
    let root = TempRoot::new(test);
    let mut hub = HubProcess::start(&root, &config(root.dir()));
    let client = hub.client("rw", "demo").await;
    let big = client.subscribe("demo/big").await.unwrap();
    let other = client.subscribe("demo/other").await.unwrap();
    let mut writer = Local::start(&root, &["write-until", "wide"], "writing");
    let mut reader = Local::start(&root, &["read-until", "wide"], "reading");
    // The hub publishes the local writer's commits.
    eventually("an update of the local writes", || big.generation() > 0).await;

    let file = root.dir().join("demo").join("big");
    let full = std::fs::metadata(&file).unwrap().len();
    let cut = len(full);
    truncate(&file, cut);

    // The hub lives on and ends the region's subscription with an error
    // frame.
    eventually("the end of the truncated region's subscription", || {
        if let Some(status) = hub.exited() {
            panic!("the hub died after a truncation to {cut} of {full} bytes: {status}");
        }
        big.is_ended()
    })
    .await;
    // The local writer and reader are told, and exit on their own.
    for (who, process) in [("writer", &mut writer), ("reader", &mut reader)] {
        let (said, status) = process.finish();
        assert!(
            status.success() && said == "truncated",
            "the local {who} after a truncation to {cut} of {full} bytes: said {said:?}, {status}"
        );
    }
    // A new subscriber is told why; a write is refused, not reported done.
    match client.subscribe("demo/big").await {
        Err(ClientError::Hub(ErrorCode::Other)) => {}
        other => panic!("a subscription to the truncated region: {other:?}"),
    }
    // The ended mirror takes no write; a new one is refused (above).
    assert!(matches!(
        big.set("setpoint", 5u32).await,
        Err(ClientError::NotConnected)
    ));
    // The other region is served as before, remote writes included.
    let generation = other.set("x", 42u32).await.unwrap();
    eventually("the other region's update", || {
        other.generation() >= generation && other.get::<u32>("x").unwrap() == 42
    })
    .await;
    let local = ShmRegion::open(&root.root, "demo/other").unwrap();
    assert_eq!(local.get_by_name::<u32>("x").unwrap(), 42);
    let fresh = client.subscribe("demo/other").await.unwrap();
    assert_eq!(fresh.get::<u32>("x").unwrap(), 42);

    // A valid file under the name is served again, without a hub restart:
    // the hub maps the new file afresh (the truncated mapping is never
    // used again), and a remote subscriber gets the new instance's data.
    std::fs::remove_file(&file).unwrap();
    let recreated = ShmWriter::create(&root.root, "demo/big", BIG.as_schema()).unwrap();
    let instance = recreated.reader().instance();
    recreated.set_by_name("setpoint", 77u32).unwrap();
    drop(recreated);
    let again = served(&client, "demo/big").await;
    eventually("the recreated file's data", || {
        again.get::<u32>("setpoint").ok() == Some(77)
    })
    .await;
    let generation = again.set("setpoint", 78u32).await.unwrap();
    assert!(generation > 0);
    let local = ShmRegion::open(&root.root, "demo/big").unwrap();
    assert_eq!(local.instance(), instance);
    assert_eq!(local.get_by_name::<u32>("setpoint").unwrap(), 78);
    assert!(hub.exited().is_none(), "the hub died: {:?}", hub.exited());
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_file_truncated_to_nothing_kills_no_process() {
    survive("truncate-zero", |_| 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_file_truncated_to_its_header_kills_no_process() {
    survive("truncate-header", |_| memwire::layout::HEADER_LEN as u64).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_file_truncated_to_half_kills_no_process() {
    survive("truncate-half", |full| full / 2).await;
}

/// A region smaller than a page cut to 100 bytes: no load or store faults
/// (the page stays, its tail reads zeros), so only the file's length shows
/// the cut. The hub finds it and stops serving the region; its other region
/// is served on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_file_cut_inside_its_page_stops_only_that_region() {
    let root = TempRoot::new("truncate-in-page");
    let mut hub = HubProcess::start(&root, &config(root.dir()));
    let client = hub.client("rw", "demo").await;
    let small = client.subscribe("demo/other").await.unwrap();
    let big = client.subscribe("demo/big").await.unwrap();
    truncate(&root.dir().join("demo").join("other"), 100);
    eventually("the end of the truncated region's subscription", || {
        if let Some(status) = hub.exited() {
            panic!("the hub died: {status}");
        }
        small.is_ended()
    })
    .await;
    assert!(matches!(
        small.set("x", 1u32).await,
        Err(ClientError::NotConnected)
    ));
    match client.subscribe("demo/other").await {
        Err(ClientError::Hub(ErrorCode::Other)) => {}
        other => panic!("a subscription to the truncated region: {other:?}"),
    }
    let generation = big.set("setpoint", 7u32).await.unwrap();
    eventually("the other region's update", || {
        big.generation() >= generation && big.get::<u32>("setpoint").unwrap() == 7
    })
    .await;
    assert!(hub.exited().is_none(), "the hub died: {:?}", hub.exited());
    client.close().await;
}

/// In one process: a cut that raises no fault is found by the file check,
/// which a waiting watcher runs by itself; the handles then refuse every
/// read and commit.
#[test]
fn a_cut_without_a_fault_is_found_by_the_file_check() {
    let root = TempRoot::new("truncate-check");
    let writer = ShmWriter::create(&root.root, "t/r", SCHEMA.as_schema()).unwrap();
    writer.set_by_name("counter", 5u64).unwrap();
    let reader = ShmRegion::open(&root.root, "t/r").unwrap();
    let mut watcher = ShmRegion::open(&root.root, "t/r").unwrap().watch().unwrap();
    assert!(reader.mapped_len() < 4096, "the region fits in one page");
    truncate(&root.dir().join("t").join("r"), 100);

    let truncated = |r: Result<(), ShmError>| matches!(r, Err(ShmError::Truncated { .. }));
    let start = Instant::now();
    let waited = watcher.wait(Some(DEADLINE));
    assert!(
        matches!(waited, Err(ShmError::Truncated { .. })),
        "a waiting watcher: {waited:?} after {:?}",
        start.elapsed()
    );
    assert!(truncated(reader.check_file()));
    assert!(truncated(reader.get_by_name::<u64>("counter").map(drop)));
    assert!(truncated(writer.check_file()));
    assert!(truncated(writer.set_by_name("counter", 6u64).map(drop)));
}

/// A read facing a write left open in a file cut without a fault (the
/// writer, this process, lives and holds the lock): the read reports the
/// truncation, not `WriterStalled`.
#[test]
fn a_read_stalled_on_a_truncated_file_reports_the_truncation() {
    let root = TempRoot::new("truncate-stall");
    let writer = ShmWriter::create(&root.root, "t/r", SCHEMA.as_schema()).unwrap();
    let reader = ShmRegion::open(&root.root, "t/r").unwrap();
    let counter = SCHEMA.as_schema().find("counter").unwrap();
    let file = root.dir().join("t").join("r");
    let mut read = None;
    let _ = writer.write_many_then(&[(counter, &7u64.to_le_bytes())], || {
        // The header and the table (with the write's odd counter) stay,
        // the data goes.
        let table = memwire::layout::HEADER_LEN + 5 * memwire::layout::ENTRY_LEN + 5 * 4;
        truncate(&file, table as u64);
        read = Some(reader.get_by_name::<u64>("counter"));
    });
    let read = read.expect("the read ran while the write was open");
    assert!(
        matches!(read, Err(ShmError::Truncated { .. })),
        "a read behind a write open in a truncated file: {read:?}"
    );
}
