//! Readers against a writer in another process: never reported stalled
//! while the writer lives and commits, reported stalled within a bound once
//! it is killed or stopped, and reading again once it resumes.

mod shm_common;

use std::io::Write;
use std::process::Child;
use std::time::{Duration, Instant};

use memwire::schema::{Kind, SchemaBuf, SchemaBuilder};
use memwire_std::shm::{ShmError, ShmRegion, ShmWriter};
use rustix::process::{Pid, Signal};
use rustix::thread::{CpuSet, sched_getaffinity, sched_setaffinity};
use shm_common::{TempRoot, child, line};

/// `big` is 16 KiB: a copy long enough to be overtaken by the next commit.
static SCHEMA: SchemaBuf<2> = SchemaBuilder::new()
    .var("big", Kind::U32, 4096)
    .var("small", Kind::U64, 1)
    .build();

const READER_PROCESSES: usize = 8;
const READER_THREADS: &str = "8";
const READ_MILLIS: &str = "3000";

/// How long a reader process may take beyond its reading time before the
/// test gives up on it (a read that never ends).
const PROCESS_DEADLINE: Duration = Duration::from_secs(120);

/// The stall bound of the tests below; a live writer holding a write open
/// is waited for ten of them.
const BOUND: Duration = Duration::from_millis(300);

fn pid(child: &Child) -> Pid {
    Pid::from_raw(i32::try_from(child.id()).unwrap()).unwrap()
}

/// Waits for `child` to exit, killing it after `deadline`; its stdout.
fn output_within(mut child: Child, deadline: Duration) -> (bool, String) {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > deadline {
            child.kill().unwrap();
            let _ = child.wait();
            panic!("a reader process still ran after {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The state letter of process `pid` in `/proc/<pid>/stat`.
fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}

/// Reads `big` once, returning the answer and how long it took.
fn timed_read(reader: &ShmRegion) -> (Result<(), ShmError>, Duration) {
    let id = reader.schema().find("big").unwrap();
    let mut out = vec![0u8; 16 * 1024];
    let start = Instant::now();
    let result = reader.read(id, &mut out);
    (result, start.elapsed())
}

#[test]
fn a_live_writer_committing_continuously_is_never_reported_stalled() {
    let root = TempRoot::new("progress");
    drop(ShmWriter::create(&root.root, "t/live", SCHEMA.as_schema()).unwrap());
    let mut writer = child(&root, "t/live", &["hammer", "big"]);
    let reader = ShmRegion::open(&root.root, "t/live").unwrap();
    let started = Instant::now();
    while reader.seq(reader.schema().find("big").unwrap()) < Some(2) {
        assert!(
            started.elapsed() < PROCESS_DEADLINE,
            "the writer never wrote"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let readers: Vec<_> = (0..READER_PROCESSES)
        .map(|_| {
            child(
                &root,
                "t/live",
                &["readers", "big", READER_THREADS, READ_MILLIS],
            )
        })
        .collect();
    let mut stalls = 0;
    for r in readers {
        let (ok, text) = output_within(r, PROCESS_DEADLINE);
        assert!(ok, "reader failed: {text}");
        let fields: Vec<u64> = text
            .split_whitespace()
            .map(|f| f.parse().unwrap())
            .collect();
        println!(
            "reader: {} reads, {} stalled, {} values",
            fields[0], fields[1], fields[2]
        );
        // The writer must have raced the readers, or this proves nothing.
        assert!(fields[2] >= 2, "a reader saw {} values", fields[2]);
        stalls += fields[1];
    }
    assert!(
        writer.try_wait().unwrap().is_none(),
        "the writer died meanwhile"
    );
    writer.kill().unwrap();
    writer.wait().unwrap();
    assert_eq!(stalls, 0, "reads reported a live writer stalled");
}

#[test]
fn a_writer_holding_a_write_open_is_waited_for_until_stopped_and_read_once_resumed() {
    let root = TempRoot::new("stopped");
    drop(ShmWriter::create(&root.root, "t/stop", SCHEMA.as_schema()).unwrap());
    let mut holder = child(&root, "t/stop", &["hold", "big"]);
    assert_eq!(line(&mut holder), "in-write");
    let reader = ShmRegion::open(&root.root, "t/stop")
        .unwrap()
        .with_stall_bound(BOUND);

    // Alive and sleeping mid-write: waited for ten bounds, not one.
    let (result, took) = timed_read(&reader);
    assert!(
        matches!(result, Err(ShmError::WriterStalled { pid, .. }) if pid == holder.id()),
        "{result:?}"
    );
    assert!(
        took >= BOUND * 10,
        "a live writer was given up after {took:?}"
    );

    // Stopped: reported once the counter stood still for one bound.
    rustix::process::kill_process(pid(&holder), Signal::STOP).unwrap();
    let started = Instant::now();
    while !matches!(state(holder.id()), Some('T' | 't')) {
        assert!(
            started.elapsed() < PROCESS_DEADLINE,
            "the writer never stopped"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let (result, took) = timed_read(&reader);
    assert!(
        matches!(result, Err(ShmError::WriterStalled { pid, .. }) if pid == holder.id()),
        "{result:?}"
    );
    assert!(
        took < BOUND * 5,
        "a stopped writer was taken for a live one: {took:?}"
    );

    // Resumed: a read waits for the write to end and gets its value.
    rustix::process::kill_process(pid(&holder), Signal::CONT).unwrap();
    let patient = reader.clone().with_stall_bound(Duration::from_secs(10));
    let read = std::thread::spawn(move || {
        let mut out = vec![0u8; 16 * 1024];
        let id = patient.schema().find("big").unwrap();
        patient.read(id, &mut out).map(|()| out)
    });
    std::thread::sleep(BOUND);
    writeln!(holder.stdin.as_mut().unwrap(), "end the write").unwrap();
    assert_eq!(line(&mut holder), "written");
    let value = read.join().unwrap().unwrap();
    assert!(value.iter().all(|&b| b == 0xcd));
    writeln!(holder.stdin.as_mut().unwrap(), "exit").unwrap();
    assert!(holder.wait().unwrap().success());
}

#[test]
fn a_writer_killed_mid_write_is_reported_stalled_within_a_bound() {
    let root = TempRoot::new("killed");
    drop(ShmWriter::create(&root.root, "t/kill", SCHEMA.as_schema()).unwrap());
    let mut holder = child(&root, "t/kill", &["hold", "big"]);
    assert_eq!(line(&mut holder), "in-write");
    let dead = holder.id();
    holder.kill().unwrap();
    holder.wait().unwrap();

    let reader = ShmRegion::open(&root.root, "t/kill")
        .unwrap()
        .with_stall_bound(BOUND);
    let (result, took) = timed_read(&reader);
    assert!(
        matches!(result, Err(ShmError::WriterStalled { pid, .. }) if pid == dead),
        "{result:?}"
    );
    assert!(took >= BOUND, "reported after {took:?}, within the bound");
    assert!(
        took < BOUND * 5,
        "a dead writer was taken for a live one: {took:?}"
    );

    // The next writer repairs the counters and readers read again.
    let next = ShmWriter::open(&root.root, "t/kill").unwrap();
    assert!(next.recovered().is_some());
    let (result, _) = timed_read(&reader);
    result.unwrap();
}

/// The first two CPUs this process may run on, if it may run on two.
fn two_cpus() -> Option<(usize, usize)> {
    let allowed = sched_getaffinity(None).ok()?;
    let mut cpus = (0..CpuSet::MAX_CPU).filter(|&cpu| allowed.is_set(cpu));
    Some((cpus.next()?, cpus.next()?))
}

/// Keeps process `pid` (the calling thread for `None`) on `cpu`.
fn pin(pid: Option<Pid>, cpu: usize) {
    let mut set = CpuSet::new();
    set.set(cpu);
    sched_setaffinity(pid, &set).unwrap();
}

/// `area` is 256 KiB: a snapshot of the whole data area takes tens of
/// microseconds, far longer than a commit of `tick`, so it never fits
/// between two commits of a writer in a tight loop.
static WIDE: SchemaBuf<2> = SchemaBuilder::new()
    .var("area", Kind::U32, 64 * 1024)
    .var("tick", Kind::U64, 1)
    .build();

const SNAPSHOTS: usize = 20;

/// The time all snapshots get. With the writer's pause each takes a few
/// milliseconds (at most a few hundred: the core retries a failed copy
/// [`memwire::region::SPIN_LIMIT`] times before the adapter may ask);
/// without it, on a machine where nothing else preempts the writer and
/// leaves a gap, not one completes.
const SNAPSHOT_DEADLINE: Duration = Duration::from_secs(30);

#[test]
fn snapshots_of_a_large_area_complete_against_a_writer_committing_in_a_tight_loop() {
    let root = TempRoot::new("pause");
    drop(ShmWriter::create(&root.root, "t/wide", WIDE.as_schema()).unwrap());
    let mut writer = child(&root, "t/wide", &["hammer", "tick"]);
    // The writer and the reader each on a CPU of its own, running side by
    // side: on one CPU they take turns, and a reader that runs while the
    // writer waits for the CPU always gets its copy.
    let cpus = two_cpus();
    if let Some((writer_cpu, _)) = cpus {
        pin(Some(pid(&writer)), writer_cpu);
    }
    // A reader's own open: a mapping whose header alone it may store to.
    let reader = ShmRegion::open(&root.root, "t/wide").unwrap();
    let (tick, at) = reader
        .schema()
        .lookup("tick")
        .map(|(id, var)| (id, var.range()))
        .unwrap();
    let started = Instant::now();
    while reader.seq(tick) < Some(2) {
        assert!(
            started.elapsed() < PROCESS_DEADLINE,
            "the writer never wrote"
        );
        std::thread::sleep(Duration::from_millis(5));
    }

    let (done, copies) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if let Some((_, reader_cpu)) = cpus {
            pin(None, reader_cpu);
        }
        let mut out = vec![0u8; reader.data_len()];
        let mut seen = reader.seq(tick);
        for _ in 0..SNAPSHOTS {
            // Starts while the writer is running, not while it waits for
            // a CPU, so that each copy faces its commits.
            while reader.seq(tick) == seen {
                std::thread::yield_now();
            }
            let copied = reader.snapshot(&mut out).map(|_| out[at.clone()].to_vec());
            seen = reader.seq(tick);
            if done.send(copied).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + SNAPSHOT_DEADLINE;
    let mut ticks = Vec::new();
    for _ in 0..SNAPSHOTS {
        let copied = copies.recv_timeout(deadline.saturating_duration_since(Instant::now()));
        let Ok(copied) = copied else {
            writer.kill().unwrap();
            writer.wait().unwrap();
            panic!(
                "{} of {SNAPSHOTS} snapshots completed within {SNAPSHOT_DEADLINE:?}",
                ticks.len()
            );
        };
        ticks.push(copied.unwrap());
    }
    println!(
        "{SNAPSHOTS} snapshots in {:?}",
        SNAPSHOT_DEADLINE.saturating_sub(deadline.saturating_duration_since(Instant::now()))
    );
    assert!(
        writer.try_wait().unwrap().is_none(),
        "the writer died meanwhile"
    );
    writer.kill().unwrap();
    writer.wait().unwrap();
    // The writer kept committing between the snapshots.
    ticks.dedup();
    assert!(ticks.len() >= 2, "every snapshot saw tick {ticks:?}");
}
