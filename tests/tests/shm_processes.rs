//! Shared regions across real processes: torn reads, a writer killed
//! mid-write, change events and wake-ups.

mod shm_common;

use std::time::Duration;

use memwire_std::shm::{ShmError, ShmRegion, ShmWriter};
use shm_common::{SCHEMA, TempRoot, child, line};

/// Reads per reader process; two readers make 10⁷ reads.
const READS_PER_READER: u64 = 5_000_000;

#[test]
fn no_torn_read_across_processes() {
    let root = TempRoot::new("torn");
    drop(ShmWriter::create(&root.root, "t/torn", SCHEMA.as_schema()).unwrap());
    let mut writer = child(&root, "t/torn", &["hammer", "wide"]);
    let reads = READS_PER_READER.to_string();
    let readers: Vec<_> = (0..2)
        .map(|_| child(&root, "t/torn", &["check", "wide", &reads]))
        .collect();
    let mut total = 0;
    for r in readers {
        let out = r.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "reader failed: {text}");
        let fields: Vec<u64> = text
            .split_whitespace()
            .map(|f| f.parse().unwrap())
            .collect();
        println!(
            "reader: {} reads, {} distinct values, {} stalled reads",
            fields[0], fields[1], fields[2]
        );
        total += fields[0] - fields[2];
        // The writer must really have raced this reader, or the run proves
        // nothing. (How many values a reader sees depends on scheduling.)
        assert!(
            fields[1] >= 3,
            "reader saw only {} distinct values",
            fields[1]
        );
    }
    writer.kill().unwrap();
    writer.wait().unwrap();
    assert!(
        total >= 10_000_000 - 2 * 1000,
        "too few checked reads: {total}"
    );
}

#[test]
fn writer_killed_mid_write_is_bounded_and_recovered() {
    let root = TempRoot::new("kill");
    let generation_before = {
        let w = ShmWriter::create(&root.root, "t/kill", SCHEMA.as_schema()).unwrap();
        w.set_by_name("speed", 1.0f32).unwrap()
    };
    let mut dying = child(&root, "t/kill", &["die-mid-write", "wide"]);
    assert_eq!(line(&mut dying), "in-write");
    let pid = dying.id();

    let bound = Duration::from_millis(50);
    let reader = ShmRegion::open(&root.root, "t/kill")
        .unwrap()
        .with_stall_bound(bound);
    let mut wide = [0u8; 256];
    let id = reader.schema().find("wide").unwrap();
    match reader.read(id, &mut wide) {
        Err(ShmError::WriterStalled { pid: p, bound: b }) => {
            assert_eq!(p, pid);
            assert_eq!(b, bound);
        }
        other => panic!("expected WriterStalled, got {other:?}"),
    }
    // A variable located beforehand is bounded the same way.
    match reader.var(id).unwrap().read(&mut wide) {
        Err(ShmError::WriterStalled { pid: p, bound: b }) => {
            assert_eq!(p, pid);
            assert_eq!(b, bound);
        }
        other => panic!("expected WriterStalled, got {other:?}"),
    }
    // A variable the write did not touch reads fine; the generation does not.
    assert_eq!(reader.get_by_name::<f32>("speed").unwrap(), 1.0);
    assert!(matches!(
        reader.generation(),
        Err(ShmError::WriterStalled { .. })
    ));
    // While the writer lives, nobody else can take the lock.
    assert!(matches!(
        ShmWriter::open(&root.root, "t/kill"),
        Err(ShmError::WriterBusy { pid: p, .. }) if p == pid
    ));

    dying.kill().unwrap();
    dying.wait().unwrap();

    let next = ShmWriter::open(&root.root, "t/kill").unwrap();
    let recovered = next.recovered().expect("a recovery report");
    assert_eq!(recovered.previous_writer, pid);
    assert_eq!(recovered.recovery.variables, 1);
    assert!(recovered.recovery.commit);
    assert!(recovered.recovery.generation > generation_before);
    assert_eq!(next.writer_pid(), std::process::id());
    // Readers work again, and the generation moves on from the recovery.
    reader.read(id, &mut wide).unwrap();
    assert_eq!(reader.generation().unwrap(), recovered.recovery.generation);
    let after = next.set_by_name("mode", 3u32).unwrap();
    assert_eq!(after, recovered.recovery.generation + 1);
    drop(next);
    assert_eq!(reader.writer_pid(), 0);
}

#[test]
fn change_event_names_exactly_the_written_variables() {
    let root = TempRoot::new("pair");
    drop(ShmWriter::create(&root.root, "t/pair", SCHEMA.as_schema()).unwrap());
    let reader = ShmRegion::open(&root.root, "t/pair").unwrap();
    let mut watcher = reader.watch_ranges().unwrap();
    let mut writer = child(&root, "t/pair", &["pair", "speed", "label"]);
    assert_eq!(line(&mut writer), "ready");
    assert_eq!(watcher.poll().unwrap(), None);
    use std::io::Write;
    writeln!(writer.stdin.as_mut().unwrap(), "go").unwrap();

    let event = watcher
        .wait(Some(Duration::from_secs(20)))
        .unwrap()
        .expect("an event");
    let names: Vec<&str> = event.names().collect();
    assert_eq!(names, ["speed", "label"]);
    assert_eq!(event.generation(), 1);
    // speed is 4 bytes at 264, label 12 bytes at 272: the 4 unchanged bytes
    // between them cost more than a second range's offset and length, so
    // the ranges stay apart (`docs/decisions.md`, the merge cost rule).
    let speed = reader.schema().lookup("speed").unwrap().1.range();
    let label = reader.schema().lookup("label").unwrap().1.range();
    let ranges = event.ranges().unwrap();
    let ranges: Vec<_> = ranges.iter().map(|r| (r.start, r.end)).collect();
    assert_eq!(ranges, [(speed.start, speed.end), (label.start, label.end)]);
    assert!(writer.wait().unwrap().success());
}

#[test]
fn async_stream_names_exactly_the_written_variables() {
    let root = TempRoot::new("stream");
    drop(ShmWriter::create(&root.root, "t/stream", SCHEMA.as_schema()).unwrap());
    let reader = ShmRegion::open(&root.root, "t/stream").unwrap();
    let mut events = reader.changes().unwrap();
    let mut writer = child(&root, "t/stream", &["pair", "counter", "mode"]);
    assert_eq!(line(&mut writer), "ready");
    use std::io::Write;
    writeln!(writer.stdin.as_mut().unwrap(), "go").unwrap();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let event = runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(20), events.next()).await });
    let event = event
        .expect("an event in time")
        .expect("stream open")
        .unwrap();
    assert_eq!(event.names().collect::<Vec<_>>(), ["counter", "mode"]);
    assert!(event.ranges().is_none());
    assert!(writer.wait().unwrap().success());
}

#[test]
fn no_lost_wake_up_under_rapid_commits() {
    const COMMITS: u64 = 100_000;
    let root = TempRoot::new("rapid");
    drop(ShmWriter::create(&root.root, "t/rapid", SCHEMA.as_schema()).unwrap());
    let reader = ShmRegion::open(&root.root, "t/rapid").unwrap();
    let mut watcher = reader.watch().unwrap();
    let waiter = {
        let reader = reader.clone();
        std::thread::spawn(move || {
            // wait_for_change from the generation last seen, as a user would.
            let mut seen = 0;
            while seen < COMMITS {
                match reader
                    .wait_for_change(seen, Some(Duration::from_secs(20)))
                    .unwrap()
                {
                    Some(g) => seen = g,
                    None => break,
                }
            }
            seen
        })
    };
    let writer = child(
        &root,
        "t/rapid",
        &["rapid", "counter", &COMMITS.to_string()],
    );
    let mut events = 0u64;
    let mut last = 0;
    while last < COMMITS {
        // A lost wake-up shows as a timeout: nothing else will be committed.
        let event = watcher
            .wait(Some(Duration::from_secs(20)))
            .unwrap()
            .expect("woken before the timeout");
        assert!(event.generation() > last);
        last = event.generation();
        events += 1;
        assert_eq!(event.names().collect::<Vec<_>>(), ["counter"]);
    }
    println!("{COMMITS} commits seen in {events} events");
    assert_eq!(last, COMMITS);
    assert_eq!(waiter.join().unwrap(), COMMITS);
    let out = writer.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        COMMITS.to_string()
    );
}
