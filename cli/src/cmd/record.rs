//! `memwire record`: subscribe to regions and write every update into an
//! MCAP file until Ctrl-C, SIGTERM or `--duration`; `--info FILE`
//! summarises a recording (`record/info.rs`).
//!
//! Every update the mirror applies is recorded (`Mirror::updates`), as
//! the ranges it wrote, with its generation and the time it was applied;
//! a full snapshot first, every `--snapshot-every` seconds, and after a
//! gap: the hub was lost (the client reconnects and resubscribes by
//! itself) or the recorder fell behind the client's bounded queue. The
//! file is flushed every `--flush-every` seconds, so that a recorder
//! killed outright loses at most that much.

use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use memwire_cli::recording::{Recorder, Written};
use memwire_std::client::{Applied, AppliedUpdate, Client, Mirror};
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
as JSON, every update the hub sends as its changed byte ranges with the
region's generation and the time received; a full snapshot first, every
--snapshot-every seconds and after a gap (the hub lost, or the recorder
behind). Flushed every --flush-every seconds: a recorder killed outright
leaves a file that `--info`, `replay` and `export` read up to the cut.
docs/recording.md describes the layout for other readers.";

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

    /// Seconds between flushes of the file: a recorder killed outright
    /// (SIGKILL, a crash) loses at most the updates of this long.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    flush_every: f64,

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
    /// Whether the client was seen disconnected since the last update.
    lost: bool,
    /// Updates were dropped before the next one: it follows a gap.
    lagged: bool,
    /// Updates recorded, and lost by falling behind.
    recorded: u64,
    lost_behind: u64,
    next_snapshot: Option<Instant>,
}

/// What ends a recording and how often it is flushed and snapshotted.
struct Pace {
    snapshot_every: Duration,
    flush_every: Duration,
    until: Option<Instant>,
}

pub(crate) async fn run(args: Args) -> Result<()> {
    if let Some(file) = &args.info {
        return info::run(file);
    }
    let Some(output) = &args.output else {
        bail!("name the file to write with -o FILE");
    };
    let flush_every = seconds(args.flush_every, "--flush-every")?;
    if flush_every.is_zero() {
        bail!("--flush-every takes a number of seconds above 0");
    }
    let pace = Pace {
        snapshot_every: seconds(args.snapshot_every, "--snapshot-every")?,
        flush_every,
        until: match args.duration {
            Some(d) => Some(Instant::now() + seconds(d, "--duration")?),
            None => None,
        },
    };

    let mut sources = Vec::new();
    for path in &args.paths {
        match connect::subscribe(&args.hub, path).await {
            Ok((client, mirror)) => sources.push(Source {
                client,
                mirror,
                lost: false,
                lagged: false,
                recorded: 0,
                lost_behind: 0,
                next_snapshot: None,
            }),
            Err(e) => {
                close(sources).await;
                return Err(e);
            }
        }
    }
    let result = record(&mut sources, output, &pace).await;
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

async fn record(sources: &mut [Source], output: &std::path::Path, pace: &Pace) -> Result<()> {
    let mut recorder =
        Recorder::create(output).with_context(|| format!("cannot create {}", output.display()))?;
    // One task per region forwards its updates: the loop below waits on one
    // channel whatever the number of regions. The channel is bounded, so a
    // recorder that falls behind leaves the updates in each mirror's
    // bounded queue, which drops and counts them.
    let (tx, mut rx) = mpsc::channel::<(usize, Applied)>(64);
    for (index, source) in sources.iter_mut().enumerate() {
        let data_len = source.mirror.snapshot()?.1.len();
        recorder.add_region(source.mirror.path(), source.mirror.schema(), data_len)?;
        // Its first item is the state at the start.
        let mut updates = source.mirror.updates()?;
        let forward = tx.clone();
        tokio::spawn(async move {
            while let Some(item) = updates.next().await {
                if forward.send((index, item)).await.is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    // The channels and schemas are in the file from the start.
    recorder.flush()?;

    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let until = pace
        .until
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(365 * 86_400));
    let mut check = tokio::time::interval(Duration::from_millis(100));
    let mut flush = tokio::time::interval(pace.flush_every);
    // Ticks missed while nothing was written are not made up in a burst.
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut unflushed = false;
    let outcome = loop {
        tokio::select! {
            _ = interrupt.recv() => break Ok(()),
            _ = terminate.recv() => break Ok(()),
            () = tokio::time::sleep_until(until) => break Ok(()),
            _ = check.tick() => {
                if let Err(e) = watch_connections(sources) {
                    break Err(e);
                }
            }
            _ = flush.tick(), if unflushed => {
                if let Err(e) = recorder.flush() {
                    break Err(e.into());
                }
                unflushed = false;
            }
            item = rx.recv() => match item {
                Some((index, item)) => {
                    let Some(source) = sources.get_mut(index) else { continue };
                    if let Err(e) = take(&mut recorder, index, source, item, pace.snapshot_every) {
                        break Err(e);
                    }
                    unflushed = true;
                }
                None => break Err(anyhow::anyhow!("the clients stopped")),
            },
        }
    };
    for source in sources.iter() {
        // The client's count is of its current connection (the first
        // update of which is the full copy the recording starts from).
        eprintln!(
            "memwire record: {}: {} updates recorded, {} lost behind; \
             the client applied {} on its current connection",
            source.mirror.path(),
            source.recorded,
            source.lost_behind,
            source.client.stats().updates,
        );
    }
    // The summary is written whatever ended the recording, so that what was
    // recorded stays readable.
    let finished = recorder
        .finish()
        .with_context(|| format!("cannot finish {}", output.display()));
    outcome.and(finished.map(drop))
}

/// Notes lost connections (printed once each) and subscriptions the hub
/// ended.
fn watch_connections(sources: &mut [Source]) -> Result<()> {
    for source in sources.iter_mut() {
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
    }
    Ok(())
}

/// Records one item of a mirror's updates.
fn take(
    recorder: &mut Recorder,
    index: usize,
    source: &mut Source,
    item: Applied,
    every: Duration,
) -> Result<()> {
    let update: AppliedUpdate = match item {
        Applied::Update(update) => update,
        Applied::Lagged(missed) => {
            source.lagged = true;
            source.lost_behind += missed;
            eprintln!(
                "memwire record: {} fell behind and lost {missed} updates; the gap is marked",
                source.mirror.path()
            );
            return Ok(());
        }
        _ => return Ok(()),
    };
    let generation = update.generation;
    let gap = update.reconnected || std::mem::take(&mut source.lagged);
    let now = Instant::now();
    let snapshot = source.next_snapshot.is_some_and(|t| t <= now);
    let time_ns = update
        .applied_at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let written =
        recorder.record_update(index, generation, update.spans(), snapshot, gap, time_ns)?;
    source.recorded += 1;
    if update.reconnected {
        source.lost = false;
        eprintln!(
            "memwire record: {} resumed at generation {generation}; the gap is marked",
            source.mirror.path()
        );
    }
    if written == Written::Snapshot || source.next_snapshot.is_none() {
        source.next_snapshot = (!every.is_zero()).then(|| now + every);
    }
    tracing::debug!("recorded {} generation {generation}", source.mirror.path());
    Ok(())
}
