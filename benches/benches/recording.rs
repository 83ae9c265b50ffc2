//! Recording throughput (issue 28): updates per second `memwire record`'s
//! `Recorder` keeps up with — writing each update's changed ranges, as the
//! client hands them over (`Recorder::record_update`), into an MCAP file —
//! beside writing the same changed bytes to a plain file with no encoding,
//! in the same run.
//!
//! Two regions: the demo region as `memwire demo`'s sensor changes it
//! (five scalars and the 512-byte `samples` array per update, 540 bytes),
//! and a 64 KiB region whose every byte changes in every update.
//!
//! `cargo bench -p memwire-benches --bench recording` runs criterion
//! (updates/s as its throughput); `MEMWIRE_BENCH_PAIRED=<rounds>` instead
//! times recorder and plain file in alternating batches
//! (`memwire_benches::paired`) and prints the ratio.

use std::fs::File;
use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use memwire::schema::{Kind, Name, Variable};
use memwire_cli::recording::Recorder;
use memwire_std::hub::config::Config;
use memwire_std::schema::OwnedSchema;

/// A region and how one update changes it.
struct Workload {
    label: &'static str,
    schema: OwnedSchema,
    data: Vec<u8>,
    /// The changed ranges of an update: `(offset, length)`.
    changed: Vec<(usize, usize)>,
}

impl Workload {
    /// The demo region, changed as the demo's sensor changes it.
    fn demo() -> Workload {
        let config = Config::default_config();
        let schema = config
            .tenant("demo")
            .and_then(|t| t.region("sensors"))
            .and_then(|r| r.schema.clone())
            .expect("the built-in config declares demo/sensors");
        let s = schema.as_schema();
        // The data area ends with the last variable (rounded to words, as
        // a region's is); only its length matters to the recorder.
        let data_len = s
            .variables()
            .iter()
            .map(|v| v.end() as usize)
            .max()
            .unwrap_or(0);
        let range = |name: &str| {
            let (_, v) = s.lookup(name).expect("a demo variable");
            (v.offset as usize, v.len() as usize)
        };
        let changed = [
            "uptime_ms",
            "counter",
            "temperature",
            "pressure",
            "humidity",
            "samples",
        ]
        .iter()
        .map(|n| range(n))
        .collect();
        let data = vec![0; data_len.next_multiple_of(8)];
        Workload {
            label: "demo",
            schema,
            data,
            changed,
        }
    }

    /// 64 KiB of bytes, every one changed by every update.
    fn full_64k() -> Workload {
        let name = Name::new("block").expect("a valid name");
        let schema = OwnedSchema::new(vec![Variable::new(name, Kind::Bytes, 65_536, 0)])
            .expect("a valid schema");
        Workload {
            label: "64KiB-full",
            schema,
            data: vec![0; 65_536],
            changed: vec![(0, 65_536)],
        }
    }

    /// Changes every byte of the changed ranges (update `n`).
    fn step(&mut self, n: u64) {
        for &(offset, len) in &self.changed {
            for (i, byte) in self.data[offset..offset + len].iter_mut().enumerate() {
                *byte = (i as u64).wrapping_add(n).wrapping_mul(31) as u8 | 1;
                *byte ^= (n as u8) & 0x80;
            }
        }
    }

    /// The bytes an update changed, as a plain file stores them.
    fn write_changed(&self, out: &mut impl Write) -> std::io::Result<()> {
        for &(offset, len) in &self.changed {
            out.write_all(&self.data[offset..offset + len])?;
        }
        Ok(())
    }
}

/// Records `n` updates into a new file at `path`; the time taken,
/// including the summary written at the end.
fn record(workload: &mut Workload, path: &Path, n: u64, first: &mut u64) -> Duration {
    let mut recorder = Recorder::create(path).expect("a recording file");
    let index = recorder
        .add_region(
            "bench/region",
            workload.schema.as_schema(),
            workload.data.len(),
        )
        .expect("a channel");
    // The first state is a snapshot: taken before the clock starts.
    recorder
        .record(index, *first, &workload.data, false, false, 0)
        .expect("recorded");
    let start = Instant::now();
    for i in 1..=n {
        workload.step(*first + i);
        // As `memwire record` gets them: each update's changed ranges,
        // copied by the client when it applied the update.
        let data = &workload.data;
        let spans = workload
            .changed
            .iter()
            .map(|&(offset, len)| (offset, &data[offset..offset + len]));
        recorder
            .record_update(index, *first + i, spans, false, false, i)
            .expect("recorded");
    }
    black_box(recorder.finish().expect("finished"));
    *first += n + 1;
    start.elapsed()
}

/// Writes the changed bytes of `n` updates to a new plain file at `path`.
fn plain(workload: &mut Workload, path: &Path, n: u64, first: &mut u64) -> Duration {
    let mut out = BufWriter::new(File::create(path).expect("a plain file"));
    let start = Instant::now();
    for i in 1..=n {
        workload.step(*first + i);
        workload.write_changed(&mut out).expect("written");
    }
    out.flush().expect("flushed");
    *first += n + 1;
    start.elapsed()
}

fn files() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("a scratch directory");
    let mcap = dir.path().join("run.mcap");
    let raw = dir.path().join("run.raw");
    (dir, mcap, raw)
}

fn throughput(c: &mut Criterion) {
    let (_dir, mcap, raw) = files();
    let mut group = c.benchmark_group("recording");
    group.throughput(Throughput::Elements(1));
    for mut workload in [Workload::demo(), Workload::full_64k()] {
        let label = workload.label;
        let mut first = 0;
        group.bench_function(format!("{label}/recorder"), |b| {
            b.iter_custom(|n| record(&mut workload, &mcap, n, &mut first));
        });
        group.bench_function(format!("{label}/plain-file"), |b| {
            b.iter_custom(|n| plain(&mut workload, &raw, n, &mut first));
        });
    }
    group.finish();
}

fn paired_report(rounds: usize) {
    let (_dir, mcap, raw) = files();
    println!("recording: recorder vs the changed bytes to a plain file (per update)");
    for (mut workload, batch) in [(Workload::demo(), 2_000), (Workload::full_64k(), 100)] {
        let label = workload.label;
        let mut first = 0;
        let mut second = 0;
        let mut candidate = Workload {
            label,
            schema: workload.schema.clone(),
            data: workload.data.clone(),
            changed: workload.changed.clone(),
        };
        let result = memwire_benches::paired::paired(
            rounds,
            batch,
            |n| record(&mut candidate, &mcap, n, &mut first),
            |n| plain(&mut workload, &raw, n, &mut second),
        );
        let per_second = |d: Duration| 1.0 / d.as_secs_f64().max(1e-12);
        println!(
            "  {label:>10}: {result}; {:.0} vs {:.0} updates/s",
            per_second(result.candidate),
            per_second(result.baseline)
        );
    }
}

mod group {
    // `criterion_group!` makes an undocumented `pub fn`.
    #![allow(missing_docs)]
    use super::{criterion_group, throughput};
    criterion_group!(benches, throughput);
}

fn main() {
    if let Some(rounds) = memwire_benches::paired::rounds(30) {
        paired_report(rounds);
        return;
    }
    group::benches();
    Criterion::default().configure_from_args().final_summary();
}
