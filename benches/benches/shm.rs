//! Shared-memory regions beside their baselines, in the same run.
//!
//! `cargo bench -p memwire-benches --bench shm`
//!
//! - `shm-read/<size>/<case>`: reading an 8-byte and a 1 KiB variable of a
//!   mapped region (`seqlock`: `ShmRegion::read` by id, which looks the
//!   variable up and checks the length, then the seqlock with atomic word
//!   copies and a bounded retry; `located`: `ShmVar::read` of a variable
//!   located once with `ShmRegion::var`, the seqlock alone; `get`:
//!   `ShmRegion::get::<u64>`, which also checks the kind), uncontended
//!   and while a writer thread on the other core
//!   rewrites another variable of the same region as fast as it can.
//!   Baselines: a `std::sync::RwLock` around the same bytes (one lock for
//!   the whole record, as a process would share it between threads; the
//!   contended writer takes it for the other field) and a plain copy.
//! - `shm-write/<size>/<case>`: `ShmWriter::write` (commit and futex wake)
//!   against an `RwLock` write and a plain copy.
//! - `shm-journal/<read|write>/<size>/<case>`: the price of crash
//!   consistency (issue 21) for an 8-byte, a 64-byte and a 16 KiB variable
//!   of a core `Region` in process memory: `journaled` (format 2 with an
//!   undo journal, as region files are made), `unjournaled` (the same
//!   protocol without the journal: the code before the change), an `RwLock`
//!   around the same bytes, and `double-buffer`, a prototype of the design
//!   weighed against the journal (two copies of the variable and a
//!   published index; written here only).
//! - `shm-wake/<case>`: cross-process round trip: this process commits to
//!   region `ping`; a peer process waiting on it wakes and commits to `pong`,
//!   on which this process waits. Two wake-ups per iteration. Baselines: the
//!   same ping-pong on two raw futex words in a shared mapping, and one byte
//!   each way over a Unix socket.
//!
//! `MEMWIRE_BENCH_PAIRED=<rounds>` instead measures the issue's two targets
//! in pairs of alternating batches (`memwire_benches::paired`): the
//! uncontended 8-byte read (by id, and located once) against the RwLock
//! read, and the round trip against the raw futex, each as a median ratio
//! with its quartiles.

#[path = "../src/bin/shm-bench-peer/shared.rs"]
#[allow(dead_code)]
mod shared;

use std::hint::black_box;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use memwire::Region;
use memwire::layout::{init, init_journaled, journaled_len, required_len};
use memwire::schema::{Kind, SchemaBuf, SchemaBuilder};
use memwire::sync::{AtomicU32, fence, load_bytes, store_bytes};
use memwire_benches::paired::paired;
use memwire_std::shm::{Root, ShmRegion, ShmWriter};

/// `small` and `other` are 1 KiB apart, on different cache lines.
static SCHEMA: SchemaBuf<3> = SchemaBuilder::new()
    .var("small", Kind::U64, 1)
    .var("big", Kind::Bytes, 1024)
    .var("other", Kind::U64, 1)
    .build();

static PING: SchemaBuf<1> = SchemaBuilder::new().var("value", Kind::U64, 1).build();

/// The same record behind one lock.
struct Record {
    small: [u8; 8],
    big: [u8; 1024],
    other: [u8; 8],
}

fn temp_root(name: &str) -> Root {
    let dir = std::env::temp_dir().join(format!("memwire-bench-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    Root::new(dir)
}

/// A thread that rewrites `other` until dropped.
struct Hammer {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl Hammer {
    fn start(mut write: impl FnMut(u64) + Send + 'static) -> Hammer {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut i = 0u64;
            while !flag.load(Ordering::Relaxed) {
                write(i);
                i += 1;
            }
            i
        });
        Hammer {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Hammer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn reads(c: &mut Criterion) {
    let root = temp_root("read");
    let writer = Arc::new(ShmWriter::create(&root, "t/r", SCHEMA.as_schema()).expect("create"));
    let reader = ShmRegion::open(&root, "t/r").expect("open");
    let small = reader.schema().find("small").expect("small");
    let big = reader.schema().find("big").expect("big");
    let other = reader.schema().find("other").expect("other");
    let lock = Arc::new(RwLock::new(Record {
        small: [1; 8],
        big: [2; 1024],
        other: [3; 8],
    }));
    let mut memory = vec![0u32; required_len(&SCHEMA.as_schema()).expect("len") / 4];
    init(
        bytemuck::cast_slice_mut(&mut memory),
        &SCHEMA.as_schema(),
        1,
    )
    .expect("init");
    let core = Region::from_bytes(bytemuck::cast_slice_mut(&mut memory), SCHEMA.as_schema())
        .expect("region");
    let plain_small = [1u8; 8];
    let plain_big = [2u8; 1024];

    let mut group = c.benchmark_group("shm-read");
    group
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    for contended in [false, true] {
        let case = if contended {
            "contended"
        } else {
            "uncontended"
        };
        let shm_hammer = contended.then(|| {
            let w = Arc::clone(&writer);
            Hammer::start(move |i| {
                let _ = w.write(other, &i.to_le_bytes());
            })
        });
        let mut out8 = [0u8; 8];
        let mut out1k = [0u8; 1024];
        group.bench_function(format!("8B/{case}/seqlock"), |b| {
            b.iter(|| reader.read(black_box(small), &mut out8).expect("read"));
        });
        group.bench_function(format!("1KiB/{case}/seqlock"), |b| {
            b.iter(|| reader.read(black_box(big), &mut out1k).expect("read"));
        });
        group.bench_function(format!("8B/{case}/get"), |b| {
            b.iter(|| black_box(reader.get::<u64>(black_box(small)).expect("get")));
        });
        // Located once (`ShmRegion::var`): the seqlock without the lookup.
        let (small_var, big_var) = (
            reader.var(small).expect("small"),
            reader.var(big).expect("big"),
        );
        group.bench_function(format!("8B/{case}/located"), |b| {
            b.iter(|| black_box(&small_var).read(&mut out8).expect("read"));
        });
        group.bench_function(format!("1KiB/{case}/located"), |b| {
            b.iter(|| black_box(&big_var).read(&mut out1k).expect("read"));
        });
        if !contended {
            // The core's seqlock read on process memory: what the mapped
            // handle adds on top of it.
            group.bench_function("8B/uncontended/core-region", |b| {
                b.iter(|| core.read(black_box(small), &mut out8).expect("read"));
            });
            group.bench_function("8B/uncontended/core-get", |b| {
                b.iter(|| black_box(core.get::<u64>(black_box(small)).expect("get")));
            });
            group.bench_function("1KiB/uncontended/core-region", |b| {
                b.iter(|| core.read(black_box(big), &mut out1k).expect("read"));
            });
        }
        drop(shm_hammer);
        let lock_hammer = contended.then(|| {
            let l = Arc::clone(&lock);
            Hammer::start(move |i| {
                if let Ok(mut g) = l.write() {
                    g.other = i.to_le_bytes();
                }
            })
        });
        group.bench_function(format!("8B/{case}/rwlock"), |b| {
            b.iter(|| out8.copy_from_slice(&black_box(&lock).read().expect("lock").small));
        });
        group.bench_function(format!("1KiB/{case}/rwlock"), |b| {
            b.iter(|| out1k.copy_from_slice(&black_box(&lock).read().expect("lock").big));
        });
        drop(lock_hammer);
        if !contended {
            group.bench_function("8B/uncontended/copy", |b| {
                b.iter(|| out8.copy_from_slice(black_box(&plain_small)));
            });
            group.bench_function("1KiB/uncontended/copy", |b| {
                b.iter(|| out1k.copy_from_slice(black_box(&plain_big)));
            });
        }
    }
    group.finish();

    let mut group = c.benchmark_group("shm-write");
    group
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    let (in8, in1k) = ([5u8; 8], [6u8; 1024]);
    group.bench_function("8B/seqlock+wake", |b| {
        b.iter(|| writer.write(small, black_box(&in8)).expect("write"))
    });
    group.bench_function("1KiB/seqlock+wake", |b| {
        b.iter(|| writer.write(big, black_box(&in1k)).expect("write"))
    });
    group.bench_function("8B/rwlock", |b| {
        b.iter(|| {
            lock.write()
                .expect("lock")
                .small
                .copy_from_slice(black_box(&in8))
        })
    });
    group.bench_function("1KiB/rwlock", |b| {
        b.iter(|| {
            lock.write()
                .expect("lock")
                .big
                .copy_from_slice(black_box(&in1k))
        })
    });
    let (mut dst8, mut dst1k) = ([0u8; 8], [0u8; 1024]);
    group.bench_function("8B/copy", |b| {
        b.iter(|| dst8.copy_from_slice(black_box(&in8)))
    });
    group.bench_function("1KiB/copy", |b| {
        b.iter(|| dst1k.copy_from_slice(black_box(&in1k)))
    });
    group.finish();
    drop(writer);
    let _ = std::fs::remove_dir_all(root.dir());
}

fn peer(mode: &str, target: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_shm-bench-peer"))
        .arg(mode)
        .arg(target)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn peer")
}

fn ready(child: &mut Child) {
    let mut line = String::new();
    let out = child.stdout.as_mut().expect("stdout");
    BufReader::new(out)
        .read_line(&mut line)
        .expect("peer ready");
    assert_eq!(line.trim(), "ready");
}

/// The memwire round trip with its peer running: commit to `t/ping`, wait
/// for the peer's commit to `t/pong`.
struct MemwirePingPong {
    root: Root,
    ping: ShmWriter,
    pong: ShmRegion,
    id: memwire::VarId,
    child: Child,
    seen: u64,
    value: u64,
}

impl MemwirePingPong {
    fn start() -> MemwirePingPong {
        let root = temp_root("wake");
        let ping = ShmWriter::create(&root, "t/ping", PING.as_schema()).expect("ping");
        drop(ShmWriter::create(&root, "t/pong", PING.as_schema()).expect("pong"));
        let pong = ShmRegion::open(&root, "t/pong").expect("pong");
        let id = ping.schema().find("value").expect("value");
        let mut child = peer("memwire", root.dir());
        ready(&mut child);
        let seen = pong.generation().expect("generation");
        MemwirePingPong {
            root,
            ping,
            pong,
            id,
            child,
            seen,
            value: 0,
        }
    }

    /// The time of `n` round trips.
    fn run(&mut self, n: u64) -> Duration {
        let timeout = Some(Duration::from_secs(5));
        let start = Instant::now();
        for _ in 0..n {
            self.value += 1;
            self.ping.set(self.id, self.value).expect("ping");
            while self.pong.get::<u64>(self.id).expect("pong") != self.value {
                self.seen = self
                    .pong
                    .wait_for_change(self.seen, timeout)
                    .expect("wait")
                    .expect("peer answered");
            }
        }
        start.elapsed()
    }

    fn stop(mut self) {
        drop(self.ping);
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(self.root.dir());
    }
}

/// The same round trip on two raw futex words in a shared mapping.
struct FutexPingPong {
    path: std::path::PathBuf,
    words: shared::Words,
    child: Child,
    value: u32,
}

impl FutexPingPong {
    fn start() -> FutexPingPong {
        let path = std::env::temp_dir().join(format!("memwire-bench-{}-futex", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .expect("futex file");
        file.set_len(8).expect("len");
        let words = shared::Words::map(&file).expect("map");
        let mut child = peer("futex", &path);
        ready(&mut child);
        FutexPingPong {
            path,
            words,
            child,
            value: 0,
        }
    }

    /// The time of `n` round trips.
    fn run(&mut self, n: u64) -> Duration {
        let start = Instant::now();
        for _ in 0..n {
            self.value = self.value.wrapping_add(1);
            shared::publish(self.words.ping(), self.value);
            let mut last = self.words.pong().load(Ordering::Acquire);
            while last != self.value {
                last = shared::wait_change(self.words.pong(), last, Duration::from_secs(5))
                    .expect("peer answered");
            }
        }
        start.elapsed()
    }

    fn stop(mut self) {
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.path);
    }
}

fn wakes(c: &mut Criterion) {
    let mut group = c.benchmark_group("shm-wake");
    group
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_millis(500));

    let mut memwire = MemwirePingPong::start();
    group.bench_function("round-trip/memwire", |b| {
        b.iter_custom(|iters| memwire.run(iters));
    });
    memwire.stop();

    let mut futex = FutexPingPong::start();
    group.bench_function("round-trip/raw-futex", |b| {
        b.iter_custom(|iters| futex.run(iters));
    });
    futex.stop();

    // A Unix socket, one byte each way.
    let path = std::env::temp_dir().join(format!("memwire-bench-{}-sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
    let mut child = peer("socket", &path);
    let (mut stream, _) = listener.accept().expect("accept");
    let mut byte = [0u8];
    group.bench_function("round-trip/unix-socket", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                stream.write_all(&[1]).expect("write");
                stream.read_exact(&mut byte).expect("read");
            }
            start.elapsed()
        });
    });
    drop(stream);
    let _ = child.wait();
    let _ = std::fs::remove_file(&path);
    group.finish();
}

/// The two targets of the shared-memory issue measured in pairs (see
/// `memwire_benches::paired`): the uncontended 8-byte read against the
/// RwLock read, and the wake-up round trip against the raw futex.
fn paired_report(rounds: usize) {
    let root = temp_root("paired");
    let writer = ShmWriter::create(&root, "t/r", SCHEMA.as_schema()).expect("create");
    let reader = ShmRegion::open(&root, "t/r").expect("open");
    let small = reader.schema().find("small").expect("small");
    let lock = RwLock::new(Record {
        small: [1; 8],
        big: [2; 1024],
        other: [3; 8],
    });
    let (mut out8, mut lock8) = ([0u8; 8], [0u8; 8]);
    let mut lock_reads = |n| {
        let start = Instant::now();
        for _ in 0..n {
            lock8.copy_from_slice(&black_box(&lock).read().expect("lock").small);
            black_box(&lock8);
        }
        start.elapsed()
    };
    let read = paired(
        rounds,
        20_000,
        |n| {
            let start = Instant::now();
            for _ in 0..n {
                reader.read(black_box(small), &mut out8).expect("read");
                black_box(&out8);
            }
            start.elapsed()
        },
        &mut lock_reads,
    );
    println!("8B read, uncontended: ShmRegion::read vs RwLock   {read}");
    let small_var = reader.var(small).expect("small");
    let located = paired(
        rounds,
        20_000,
        |n| {
            let start = Instant::now();
            for _ in 0..n {
                black_box(&small_var).read(&mut out8).expect("read");
                black_box(&out8);
            }
            start.elapsed()
        },
        &mut lock_reads,
    );
    println!("8B read, uncontended: ShmVar::read vs RwLock      {located}");
    drop(writer);
    let _ = std::fs::remove_dir_all(root.dir());

    let mut memwire = MemwirePingPong::start();
    let mut futex = FutexPingPong::start();
    let wake = paired(rounds, 200, |n| memwire.run(n), |n| futex.run(n));
    println!("cross-process round trip: memwire vs raw futex   {wake}");
    memwire.stop();
    futex.stop();
}

/// Three sizes for the price of crash consistency.
static SIZES: SchemaBuf<3> = SchemaBuilder::new()
    .var("v8", Kind::Bytes, 8)
    .var("v64", Kind::Bytes, 64)
    .var("v16k", Kind::Bytes, 16 * 1024)
    .build();

/// The design weighed against the undo journal: two copies of a variable
/// and a published index. A write fills the copy readers are not told to
/// read, then moves the index on (its low bit names the copy to read); a
/// reader loads the index, copies, and rechecks it, so it retries only
/// behind a flip, never behind a write in progress, and a writer that dies
/// leaves the last published copy intact. (A commit of several variables
/// would need one index for all of them, and a partial write must first
/// bring the stale copy up to date: neither is measured here.)
struct DoubleBuffered {
    index: AtomicU32,
    copies: [Vec<AtomicU32>; 2],
}

impl DoubleBuffered {
    fn new(len: usize) -> DoubleBuffered {
        let words = || (0..len.div_ceil(4)).map(|_| AtomicU32::new(0)).collect();
        DoubleBuffered {
            index: AtomicU32::new(0),
            copies: [words(), words()],
        }
    }

    fn write(&self, bytes: &[u8]) {
        let i = self.index.load(Ordering::Relaxed);
        // The last flip before these stores: readers of the copy they
        // overwrite see the index move.
        fence(Ordering::Release);
        store_bytes(&self.copies[(i.wrapping_add(1) & 1) as usize], 0, bytes);
        self.index.store(i.wrapping_add(1), Ordering::Release);
    }

    fn read(&self, out: &mut [u8]) {
        loop {
            let i = self.index.load(Ordering::Acquire);
            load_bytes(&self.copies[(i & 1) as usize], 0, out);
            fence(Ordering::Acquire);
            if self.index.load(Ordering::Relaxed) == i {
                return;
            }
        }
    }
}

fn journal(c: &mut Criterion) {
    let schema = SIZES.as_schema();
    let mut plain = vec![0u32; required_len(&schema).expect("len") / 4];
    init(bytemuck::cast_slice_mut(&mut plain), &schema, 1).expect("init");
    let unjournaled =
        Region::from_bytes(bytemuck::cast_slice_mut(&mut plain), schema).expect("region");
    let mut with_journal = vec![0u32; journaled_len(&schema).expect("len") / 4];
    init_journaled(bytemuck::cast_slice_mut(&mut with_journal), &schema, 1).expect("init");
    let journaled =
        Region::from_bytes(bytemuck::cast_slice_mut(&mut with_journal), schema).expect("region");
    assert!(journaled.is_journaled() && !unjournaled.is_journaled());

    let mut group = c.benchmark_group("shm-journal");
    group
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    for (name, label) in [("v8", "8B"), ("v64", "64B"), ("v16k", "16KiB")] {
        let id = schema.find(name).expect("variable");
        let len = schema.get(id).expect("variable").range().len();
        let input = vec![7u8; len];
        let mut out = vec![0u8; len];
        let lock = RwLock::new(vec![0u8; len]);
        let double = DoubleBuffered::new(len);
        for (case, region) in [("journaled", &journaled), ("unjournaled", &unjournaled)] {
            group.bench_function(format!("write/{label}/{case}"), |b| {
                b.iter(|| region.write(id, black_box(&input)).expect("write"));
            });
            group.bench_function(format!("read/{label}/{case}"), |b| {
                b.iter(|| region.read(black_box(id), &mut out).expect("read"));
            });
        }
        group.bench_function(format!("write/{label}/rwlock"), |b| {
            b.iter(|| {
                lock.write()
                    .expect("lock")
                    .copy_from_slice(black_box(&input));
            });
        });
        group.bench_function(format!("read/{label}/rwlock"), |b| {
            b.iter(|| out.copy_from_slice(&black_box(&lock).read().expect("lock")));
        });
        group.bench_function(format!("write/{label}/double-buffer"), |b| {
            b.iter(|| double.write(black_box(&input)));
        });
        group.bench_function(format!("read/{label}/double-buffer"), |b| {
            b.iter(|| black_box(&double).read(&mut out));
        });
    }
    group.finish();
}

mod group {
    // `criterion_group!` makes an undocumented `pub fn`.
    #![allow(missing_docs)]
    use super::{criterion_group, journal, reads, wakes};
    criterion_group!(benches, reads, journal, wakes);
}

fn main() {
    if let Some(rounds) = memwire_benches::paired::rounds(200) {
        paired_report(rounds);
        return;
    }
    group::benches();
    Criterion::default().configure_from_args().final_summary();
}
