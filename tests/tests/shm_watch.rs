//! Change events as `docs/shared-memory.md` describes them: a variable
//! rewritten with its old value, and the thread of a dropped change stream.
//! The only change stream of this test binary is the one counted here.

mod shm_common;

use std::time::{Duration, Instant};

use memwire_std::shm::{ShmRegion, ShmWriter};
use shm_common::{SCHEMA, TempRoot};

/// Far above what any wait here needs: it only bounds a hang.
const DEADLINE: Duration = Duration::from_secs(10);

/// A variable rewritten with its old value is named in the event but has no
/// byte range; the variable that changed has exactly its bytes.
#[test]
fn a_variable_rewritten_with_its_old_value_is_named_without_a_range() {
    let root = TempRoot::new("same-value");
    let writer = ShmWriter::create(&root.root, "t/r", SCHEMA.as_schema()).unwrap();
    writer.set_by_name("speed", 1.5f32).unwrap();
    let reader = ShmRegion::open(&root.root, "t/r").unwrap();
    let mut watcher = reader.watch_ranges().unwrap();

    writer.set_by_name("speed", 1.5f32).unwrap();
    writer.set_by_name("mode", 7u32).unwrap();
    let event = watcher.wait(Some(DEADLINE)).unwrap().expect("an event");
    let names: Vec<&str> = event.names().collect();
    assert_eq!(names, ["speed", "mode"]);
    let mode = reader
        .schema()
        .lookup("mode")
        .expect("a mode variable")
        .1
        .range();
    let ranges: Vec<_> = event
        .ranges()
        .expect("a watch_ranges event has ranges")
        .iter()
        .map(|r| (r.start, r.end))
        .collect();
    // 7 differs from 0 in the first byte only (little-endian).
    assert_eq!(ranges, [(mode.start, mode.start + 1)]);

    // The same value alone: named, and no range at all.
    writer.set_by_name("speed", 1.5f32).unwrap();
    let event = watcher.wait(Some(DEADLINE)).unwrap().expect("an event");
    assert_eq!(event.names().collect::<Vec<_>>(), ["speed"]);
    assert_eq!(event.ranges(), Some(&[][..]));
}

/// The threads of this process named as change streams name theirs.
fn watch_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == "memwire-watch")
        .count()
}

/// Waits until [`watch_threads`] is `n`.
fn until_watch_threads(n: usize) {
    let deadline = Instant::now() + DEADLINE;
    while watch_threads() != n {
        assert!(
            Instant::now() < deadline,
            "{} change stream threads, not {n}, after {DEADLINE:?}",
            watch_threads()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A change stream runs a thread of its own, which ends once the stream is
/// dropped, with no commit to wake it (`STREAM_CHECK`).
#[test]
fn a_dropped_change_stream_ends_its_thread() {
    let root = TempRoot::new("stream-drop");
    let _writer = ShmWriter::create(&root.root, "t/r", SCHEMA.as_schema()).unwrap();
    let reader = ShmRegion::open(&root.root, "t/r").unwrap();
    assert_eq!(watch_threads(), 0);
    let stream = reader.changes().unwrap();
    // The thread names itself once it runs.
    until_watch_threads(1);
    drop(stream);
    until_watch_threads(0);
}
