//! `memwire record`: subscribe to regions and write every update into an
//! MCAP file until Ctrl-C, SIGTERM or `--duration`; `--info FILE`
//! summarises a recording (`record/info.rs`).
//!
//! Each update is recorded as the ranges that changed since the state
//! recorded before it (the library's `Recorder` diffs the mirror's
//! snapshot against its own copy), with a full snapshot first, every
//! `--snapshot-every` seconds, and after the hub was lost: the client
//! reconnects and resubscribes by itself, and the first state after it is
//! a snapshot marked as following a gap.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use memwire_cli::recording::{Recorder, Written};
use memwire_std::client::{Client, Mirror};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::connect::{self, HubArgs, RegionPath};

mod info;

pub(crate) const EXAMPLES: &str = "\
Examples:
  memwire record demo/sensors -o run.mcap                 until Ctrl-C
  memwire record demo/sensors demo/motors -o run.mcap --duration 60
  memwire record --info run.mcap                          what a recording holds

One MCAP channel per region (topic `tenant/region`), its schema recorded once
as JSON, each update as the changed byte ranges with the region's generation
and the time received; a full snapshot first, every --snapshot-every seconds
and after the hub was lost (marked as a gap). docs/recording.md describes the
layout for other readers.";

/// `memwire record`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// tenant/region, one or more.
    #[arg(
        value_name = "PATH",
        value_parser = connect::region_path,
        required_unless_present = "info",
        conflicts_with = "info"
    )]
    paths: Vec<RegionPath>,

    /// The MCAP file to write (replaced if it exists).
    #[arg(short, long, value_name = "FILE", required_unless_present = "info")]
    output: Option<PathBuf>,

    /// Summarise a recording instead: its regions, updates, snapshots, gaps
    /// and time span.
    #[arg(long, value_name = "FILE", conflicts_with = "output")]
    info: Option<PathBuf>,

    /// Seconds between full snapshots of each region (0: only the first and
    /// those after a gap).
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    snapshot_every: f64,

    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,

    #[command(flatten)]
    hub: HubArgs,
}

/// A recorded region: its client (one per region, each with its own
/// reconnections), its mirror and its recording state.
struct Source {
    client: Client,
    mirror: Mirror,
    /// The client's connection count when last recorded.
    connections: u64,
    /// Whether the client was seen disconnected since.
    lost: bool,
    next_snapshot: Option<Instant>,
}

pub(crate) async fn run(args: Args) -> Result<()> {
    if let Some(file) = &args.info {
        return info::run(file);
    }
    let Some(output) = &args.output else {
        bail!("name the file to write with -o FILE");
    };
    let every = seconds(args.snapshot_every, "--snapshot-every")?;
    let until = match args.duration {
        Some(d) => Some(Instant::now() + seconds(d, "--duration")?),
        None => None,
    };

    let mut sources = Vec::new();
    for path in &args.paths {
        match connect::subscribe(&args.hub, path).await {
            Ok((client, mirror)) => sources.push(Source {
                connections: client.connections(),
                client,
                mirror,
                lost: false,
                next_snapshot: None,
            }),
            Err(e) => {
                close(sources).await;
                return Err(e);
            }
        }
    }
    let result = record(&mut sources, output, every, until).await;
    close(sources).await;
    result
}

async fn close(sources: Vec<Source>) {
    for source in sources {
        source.client.close().await;
    }
}

fn seconds(value: f64, option: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(value)
        .with_context(|| format!("{option} takes a number of seconds, not {value}"))
}

async fn record(
    sources: &mut [Source],
    output: &std::path::Path,
    every: Duration,
    until: Option<Instant>,
) -> Result<()> {
    let mut recorder =
        Recorder::create(output).with_context(|| format!("cannot create {}", output.display()))?;
    // One task per region forwards its events: the loop below waits on one
    // channel whatever the number of regions.
    let (tx, mut rx) = mpsc::channel::<usize>(1024);
    for (index, source) in sources.iter_mut().enumerate() {
        let (_, data) = source.mirror.snapshot()?;
        recorder.add_region(source.mirror.path(), source.mirror.schema(), data.len())?;
        let mut changes = source.mirror.changes();
        let forward = tx.clone();
        tokio::spawn(async move {
            while changes.next().await.is_some() {
                if forward.send(index).await.is_err() {
                    break;
                }
            }
        });
        // The state at the start, whether or not it changes.
        let _ = tx.try_send(index);
    }
    drop(tx);

    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let until = until.unwrap_or_else(|| Instant::now() + Duration::from_secs(365 * 86_400));
    let mut check = tokio::time::interval(Duration::from_millis(100));
    let outcome = loop {
        tokio::select! {
            _ = interrupt.recv() => break Ok(()),
            _ = terminate.recv() => break Ok(()),
            () = tokio::time::sleep_until(until) => break Ok(()),
            _ = check.tick() => {
                if let Err(e) = watch_connections(sources, &mut recorder, every) {
                    break Err(e);
                }
            }
            index = rx.recv() => match index {
                Some(index) => {
                    if let Some(source) = sources.get_mut(index) {
                        if let Err(e) = take(&mut recorder, index, source, every) {
                            break Err(e);
                        }
                    }
                }
                None => break Err(anyhow::anyhow!("the clients stopped")),
            },
        }
    };
    // The summary is written whatever ended the recording, so that what was
    // recorded stays readable.
    let finished = recorder
        .finish()
        .with_context(|| format!("cannot finish {}", output.display()));
    outcome.and(finished.map(drop))
}

/// Notes lost and regained connections (printed once each), and takes the
/// snapshots that are due.
fn watch_connections(
    sources: &mut [Source],
    recorder: &mut Recorder,
    every: Duration,
) -> Result<()> {
    for (index, source) in sources.iter_mut().enumerate() {
        if source.mirror.is_ended() {
            bail!("the hub ended the subscription to {}", source.mirror.path());
        }
        if !source.client.is_connected() && !source.lost {
            source.lost = true;
            eprintln!(
                "memwire record: lost the hub; {} resumes when it is back",
                source.mirror.path()
            );
        }
        if source.next_snapshot.is_some_and(|t| t <= Instant::now()) {
            take(recorder, index, source, every)?;
        }
    }
    Ok(())
}

/// Records the mirror's state now.
fn take(recorder: &mut Recorder, index: usize, source: &mut Source, every: Duration) -> Result<()> {
    let (generation, data) = source.mirror.snapshot()?;
    let connections = source.client.connections();
    let gap = connections != source.connections;
    source.connections = connections;
    let now = Instant::now();
    let snapshot = source.next_snapshot.is_some_and(|t| t <= now);
    let time_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let written = recorder.record(index, generation, &data, snapshot, gap, time_ns)?;
    if gap {
        source.lost = false;
        eprintln!(
            "memwire record: {} resumed at generation {generation}; the gap is marked",
            source.mirror.path()
        );
    }
    if written == Written::Snapshot || source.next_snapshot.is_none() {
        source.next_snapshot = (!every.is_zero()).then(|| now + every);
    }
    if written != Written::Nothing {
        tracing::debug!("recorded {} generation {generation}", source.mirror.path());
    }
    Ok(())
}
