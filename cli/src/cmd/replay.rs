//! `memwire replay`: write a recording's values into regions, at the
//! recorded pace, faster, as fast as possible, or one update per Enter.
//!
//! Into local region files (under the shared-memory root; created with the
//! recorded schema when missing): each update is one commit of its ranges,
//! with the recorded generation unless it is behind the region's, so a
//! replayed region goes through the recorded states exactly. Through a hub
//! (`--through-hub`): each changed variable is written by a client with
//! write rights, so only variables the hub lets clients write are
//! replayed; the others are counted and reported.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use memwire_cli::recording::{Recorded, Recording};
use memwire_cli::value;
use memwire_std::client::{Client, Mirror};
use memwire_std::shm::{Root, ShmWriter};
use tokio::time::Instant;

use crate::connect::{self, HubArgs, RegionPath};

pub(crate) const EXAMPLES: &str = "\
Examples:
  memwire replay run.mcap                        into the region files, at the recorded pace
  memwire replay run.mcap --speed 10             ten times as fast
  memwire replay run.mcap --speed 0 --to demo/copy
  memwire replay run.mcap --step                 one update per Enter, each printed
  memwire replay run.mcap --through-hub          through the hub (MEMWIRE_HUB), writable variables only

Local regions are created with the recorded schema when missing; an existing
one must have it. Ends with a line saying what was replayed.";

/// `memwire replay`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The recording (an MCAP file of `memwire record`).
    #[arg(value_name = "FILE")]
    file: PathBuf,

    /// Replay into this region instead of the recorded one (a recording of
    /// one region only).
    #[arg(long, value_name = "PATH", value_parser = connect::region_path)]
    to: Option<RegionPath>,

    /// The pace: 1 as recorded, 2 twice as fast, 0 as fast as possible.
    #[arg(
        long,
        value_name = "FACTOR",
        default_value_t = 1.0,
        conflicts_with = "step"
    )]
    speed: f64,

    /// Wait for Enter before each update, and print it.
    #[arg(long)]
    step: bool,

    /// Write through the hub with a client instead of into local region
    /// files.
    #[arg(long)]
    through_hub: bool,

    /// The directory of local region files [default: MEMWIRE_ROOT, else
    /// /dev/shm/memwire-UID].
    #[arg(long, value_name = "DIR", conflicts_with = "through_hub")]
    root: Option<PathBuf>,

    #[command(flatten)]
    hub: HubArgs,
}

/// Where one recorded region's updates go.
enum Target {
    Local(Box<ShmWriter>),
    Hub { client: Client, mirror: Mirror },
}

pub(crate) async fn run(args: Args) -> Result<()> {
    if !(args.speed >= 0.0 && args.speed.is_finite()) {
        bail!("--speed takes a factor of 0 or more, not {}", args.speed);
    }
    let recording = Recording::read(&args.file)?;
    if recording.cut {
        eprintln!(
            "memwire replay: {} is cut (its recorder did not finish it): \
             the updates written before the cut only",
            args.file.display()
        );
    }
    if args.to.is_some() && recording.channels.len() != 1 {
        bail!(
            "--to names one region, and {} holds {}",
            args.file.display(),
            recording.channels.len()
        );
    }
    let root = args.root.clone().map_or_else(Root::from_env, Root::new);
    let mut targets = Vec::new();
    for channel in &recording.channels {
        let path = args
            .to
            .as_ref()
            .map_or_else(|| channel.path.clone(), RegionPath::region_path);
        let target = if args.through_hub {
            let region = connect::region_path(&path).map_err(anyhow::Error::msg)?;
            let (client, mirror) = connect::subscribe(&args.hub, &region).await?;
            Target::Hub { client, mirror }
        } else {
            let writer = ShmWriter::open_or_create(&root, &path, channel.layout.schema.as_schema())
                .with_context(|| format!("cannot open region {path} for writing"))?;
            Target::Local(Box::new(writer))
        };
        targets.push(target);
    }
    let result = replay(&args, &recording, &targets).await;
    for target in targets {
        if let Target::Hub { client, .. } = target {
            client.close().await;
        }
    }
    let (updates, skipped) = result?;
    let mut line = format!("replayed {updates} updates");
    if skipped > 0 {
        line.push_str(&format!(
            "; {skipped} changes of variables the hub does not let clients write were left out"
        ));
    }
    println!("{line}");
    Ok(())
}

/// Replays every update; returns how many, and how many variable changes
/// were left out (read-only variables, through a hub).
async fn replay(args: &Args, recording: &Recording, targets: &[Target]) -> Result<(u64, u64)> {
    let mut data: Vec<Vec<u8>> = recording
        .channels
        .iter()
        .map(|c| vec![0; c.layout.data_len])
        .collect();
    let start = Instant::now();
    let first = recording.updates.first().map_or(0, |u| u.time_ns);
    let (mut updates, mut skipped) = (0, 0);
    for recorded in &recording.updates {
        let (Some(channel), Some(target), Some(area)) = (
            recording.channels.get(recorded.channel),
            targets.get(recorded.channel),
            data.get_mut(recorded.channel),
        ) else {
            continue;
        };
        if !recorded.update.apply(area) {
            bail!(
                "{}: an update at generation {} falls outside the region",
                channel.path,
                recorded.update.generation
            );
        }
        if args.step {
            print_update(
                channel.layout.schema.as_schema(),
                recorded,
                area,
                &channel.path,
            )?;
            wait_for_enter().await?;
        } else if args.speed > 0.0 {
            let offset = recorded.time_ns.saturating_sub(first) as f64 / 1e9 / args.speed;
            tokio::time::sleep_until(start + Duration::from_secs_f64(offset)).await;
        }
        skipped += apply(target, recorded, area).await?;
        updates += 1;
    }
    Ok((updates, skipped))
}

/// Writes one update's changes to `target`; returns the changes left out.
async fn apply(target: &Target, recorded: &Recorded, area: &[u8]) -> Result<u64> {
    let update = &recorded.update;
    match target {
        Target::Local(writer) => {
            let region = writer.reader();
            let ahead = region
                .generation()
                .map_or(true, |now| update.generation >= now);
            let ranges: Vec<(usize, &[u8])> = update
                .ranges
                .iter()
                .map(|(offset, bytes)| (*offset as usize, bytes.as_slice()))
                .collect();
            writer
                .write_ranges(&ranges, ahead.then_some(update.generation))
                .context("cannot write the region")?;
            Ok(0)
        }
        Target::Hub { mirror, .. } => {
            let schema = mirror.schema();
            let mut skipped = 0;
            for id in update.touched(schema) {
                let Some(var) = schema.get(id) else { continue };
                if !var.writable {
                    skipped += 1;
                    continue;
                }
                let bytes = area.get(var.range()).unwrap_or(&[]);
                mirror
                    .write(var.name.as_str(), bytes)
                    .await
                    .with_context(|| format!("cannot write {}/{}", mirror.path(), var.name))?;
            }
            Ok(skipped)
        }
    }
}

fn print_update(
    schema: memwire::Schema<'_>,
    recorded: &Recorded,
    area: &[u8],
    path: &str,
) -> Result<()> {
    let update = &recorded.update;
    let values: Vec<String> = update
        .touched(schema)
        .into_iter()
        .filter_map(|id| schema.get(id))
        .map(|var| {
            let bytes = area.get(var.range()).unwrap_or(&[]);
            format!("{} = {}", var.name, value::format(var, bytes))
        })
        .collect();
    let mut out = std::io::stdout().lock();
    write!(
        out,
        "{path} generation {}{}: {}  [Enter] ",
        update.generation,
        if update.gap { " (after a gap)" } else { "" },
        values.join(", ")
    )?;
    out.flush()?;
    Ok(())
}

async fn wait_for_enter() -> Result<()> {
    let line = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|n| n > 0)
    })
    .await
    .context("cannot read the terminal")??;
    if !line {
        bail!("stopped: standard input ended");
    }
    Ok(())
}
