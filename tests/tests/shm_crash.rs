//! Crash consistency across real processes (issue 21): a writer SIGKILLed
//! at random moments, over and over, each time replaced by a new writer
//! that recovers the region, while a reader checks that no value it accepts
//! is a mix of two commits: every element of `arr` equal, and `a == b`
//! (written together by `write_many`). A hub serves the region meanwhile,
//! and a remote mirror of it checks the same on every update it gets, and
//! a reader of that mirror at any moment, while updates are applied.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use memwire::schema::{Kind, SchemaBuf, SchemaBuilder};
use memwire_std::client::{Client, ClientOptions};
use memwire_std::hub::{Config, Hub};
use memwire_std::shm::{Root, ShmError, ShmRegion, ShmWriter};

mod shm_common;
use shm_common::{TempRoot, line};

/// `arr` is 16 KiB: a commit of it takes long enough that most kills land
/// inside one.
static CRASH: SchemaBuf<3> = SchemaBuilder::new()
    .var("arr", Kind::U32, 4096)
    .var("a", Kind::U64, 1)
    .var("b", Kind::U64, 1)
    .build();

const KILLS: usize = 120;

/// What a reader found wrong in one read, if anything.
fn mixed(region: &ShmRegion, arr: &mut [u8]) -> Result<Option<String>, ShmError> {
    let schema = region.schema();
    let (id_arr, a, b) = (
        schema.find("arr").unwrap(),
        schema.find("a").unwrap(),
        schema.find("b").unwrap(),
    );
    region.read(id_arr, arr)?;
    let first = &arr[..4];
    if let Some(i) = arr.chunks_exact(4).position(|w| w != first) {
        return Ok(Some(format!(
            "arr[0] = {:?} but arr[{i}] = {:?}",
            first,
            &arr[4 * i..4 * i + 4]
        )));
    }
    let (mut va, mut vb) = ([0u8; 8], [0u8; 8]);
    region.read_many(&[a, b], &mut [&mut va, &mut vb])?;
    if va != vb {
        return Ok(Some(format!(
            "a = {} but b = {}",
            u64::from_le_bytes(va),
            u64::from_le_bytes(vb)
        )));
    }
    Ok(None)
}

/// What is wrong with one snapshot of the data area, if anything.
fn mixed_snapshot(data: &[u8]) -> Option<String> {
    let schema = CRASH.as_schema();
    let range = |name| schema.get(schema.find(name).unwrap()).unwrap().range();
    let arr = &data[range("arr")];
    if let Some(i) = arr.chunks_exact(4).position(|w| w != &arr[..4]) {
        return Some(format!(
            "mirror: arr[0] = {:?} but arr[{i}] differs",
            &arr[..4]
        ));
    }
    (data[range("a")] != data[range("b")]).then(|| "mirror: a != b".to_owned())
}

/// A hub serving `root`'s region `t/crash` and a remote mirror of it,
/// checking every update and, from a thread of its own, the mirror at any
/// moment until `stop`: the mixed snapshots seen and how many updates were
/// checked.
fn remote_mirror(
    root: &Root,
    stop: Arc<AtomicBool>,
    ready: std::sync::mpsc::Sender<()>,
) -> std::thread::JoinHandle<(Vec<String>, u64)> {
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
rights = [{{ regions = "*", access = "read" }}]
[[tenant.region]]
name = "crash"
variables = [
  {{ name = "arr", kind = "u32", count = 4096 }},
  {{ name = "a", kind = "u64" }},
  {{ name = "b", kind = "u64" }},
]
"#,
        root.dir().display()
    );
    let config = Config::parse(&text, "test.toml", root.dir()).unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let hub = Hub::start(config).await.unwrap();
            let url = format!("tcp://{}", hub.tcp_addr().unwrap());
            let client = Client::connect(&url, ClientOptions::new("c", "t", "s"))
                .await
                .unwrap();
            let mirror = client.subscribe("t/crash").await.unwrap();
            let mut changes = mirror.changes();
            // Not only between updates: this thread also reads while one is
            // being applied, where a mirror written in several commits
            // shows a torn value.
            let anytime = {
                let (mirror, stop) = (mirror.clone(), Arc::clone(&stop));
                std::thread::spawn(move || {
                    let mut seen = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        // A read refused while busy is not a mixed one.
                        if let Ok((_, data)) = mirror.snapshot() {
                            seen.extend(mixed_snapshot(&data));
                        }
                    }
                    seen
                })
            };
            ready.send(()).unwrap();
            let (mut seen, mut checked) = (Vec::new(), 0u64);
            while !stop.load(Ordering::Relaxed) {
                let next = tokio::time::timeout(Duration::from_millis(50), changes.next());
                if next.await.is_err() {
                    continue;
                }
                let (_, data) = mirror.snapshot().unwrap();
                match mixed_snapshot(&data) {
                    Some(what) => seen.push(what),
                    None => checked += 1,
                }
            }
            seen.extend(anytime.join().unwrap());
            hub.shutdown().await;
            (seen, checked)
        })
    })
}

/// A small xorshift: the kill delays vary from run to run without a
/// dependency.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn writer(root: &Root, path: &str) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_crash-writer"))
        .arg(root.dir())
        .arg(path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("spawn crash-writer")
}

#[test]
fn no_mixed_value_after_a_writer_is_killed_at_random_moments() {
    let root = TempRoot::new("crash");
    let path = "t/crash";
    drop(ShmWriter::create(&root.root, path, CRASH.as_schema()).unwrap());

    let stop = Arc::new(AtomicBool::new(false));
    let (ready, mirroring) = std::sync::mpsc::channel();
    let mirror = remote_mirror(&root.root, Arc::clone(&stop), ready);
    mirroring
        .recv_timeout(Duration::from_secs(30))
        .expect("the hub and its mirror start");
    let checked = Arc::new(AtomicU64::new(0));
    let checker = {
        let (stop, checked) = (Arc::clone(&stop), Arc::clone(&checked));
        let region = ShmRegion::open(&root.root, path).unwrap();
        std::thread::spawn(move || -> Vec<String> {
            let mut arr = vec![0u8; 4096 * 4];
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                match mixed(&region, &mut arr) {
                    Ok(Some(what)) => seen.push(what),
                    Ok(None) => {
                        checked.fetch_add(1, Ordering::Relaxed);
                    }
                    // A dead writer's odd counters until the next one
                    // recovers: a refused read, not a mixed one.
                    Err(ShmError::WriterStalled { .. }) => {}
                    Err(e) => panic!("read failed: {e}"),
                }
            }
            seen
        })
    };

    let mut rng = u64::from(std::process::id()) | 1;
    let (mut rolled_back, mut after_recovery) = (0usize, Vec::new());
    let started = Instant::now();
    // On a loaded machine fewer kills land inside a commit: go on killing
    // (up to eight times as many) until enough have.
    let mut kills = 0;
    while kills < KILLS || (rolled_back < KILLS / 10 && kills < 8 * KILLS) {
        kills += 1;
        let mut child = writer(&root.root, path);
        let ready = line(&mut child);
        let fields: Vec<u32> = ready
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("writer said {ready:?}"))
            .split(' ')
            .map(|f| f.parse().unwrap())
            .collect();
        if fields[1] > 0 {
            rolled_back += 1;
        }
        // Right after the recovery, before the new writer's first commit
        // can hide what it found.
        let region = ShmRegion::open(&root.root, path).unwrap();
        let mut arr = vec![0u8; 4096 * 4];
        match mixed(&region, &mut arr) {
            Ok(Some(what)) => after_recovery.push(what),
            Ok(None) | Err(ShmError::WriterStalled { .. }) => {}
            Err(e) => panic!("read after recovery failed: {e}"),
        }
        std::thread::sleep(Duration::from_micros(next(&mut rng) % 3000));
        child.kill().unwrap();
        child.wait().unwrap();
    }
    // The last writer's death is recovered too.
    let mut last = writer(&root.root, path);
    let _ = line(&mut last);
    last.kill().unwrap();
    last.wait().unwrap();

    stop.store(true, Ordering::Relaxed);
    let seen = checker.join().unwrap();
    let (remote, updates) = mirror.join().unwrap();
    let checked = checked.load(Ordering::Relaxed);
    println!(
        "{kills} kills in {:?}: {rolled_back} rolled back, {checked} checked reads, \
         {updates} checked mirror updates, mixed: {} after recovery, {} read, {} mirrored",
        started.elapsed(),
        after_recovery.len(),
        seen.len(),
        remote.len(),
    );
    assert!(
        remote.is_empty(),
        "{} mixed mirror updates, first: {}",
        remote.len(),
        remote[0]
    );
    assert!(
        after_recovery.is_empty(),
        "mixed right after recovery: {after_recovery:?}"
    );
    assert!(
        seen.is_empty(),
        "{} mixed reads, first: {}",
        seen.len(),
        seen[0]
    );
    // Or the run proved nothing: kills must land inside commits, and the
    // reader must have raced the writers.
    assert!(
        rolled_back >= KILLS / 10,
        "only {rolled_back} of {kills} kills mid-commit"
    );
    assert!(checked >= 1000, "only {checked} checked reads");
    assert!(updates >= 10, "only {updates} checked mirror updates");
}
