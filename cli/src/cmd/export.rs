//! `memwire export FILE --json`: a recording as one JSON object per update
//! with the changed variables' values, for tools that read JSON.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Result, bail};
use memwire_cli::recording::Recording;
use memwire_cli::value;
use serde_json::{Map, Value as Json, json};

pub(crate) const EXAMPLES: &str = "\
Examples:
  memwire export run.mcap --json > run.jsonl
  memwire export run.mcap --json | jq -c 'select(.path == \"demo/sensors\") | .changed.setpoint'

One object per line, in recorded order: {\"path\": \"demo/sensors\", \"generation\": N,
\"time_ns\": T (received, since the Unix epoch), \"snapshot\": false, \"gap\": false,
\"changed\": {\"name\": value, ...}}. A snapshot names every variable; values are
written as `memwire dump` writes them.";

/// `memwire export`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The recording (an MCAP file of `memwire record`).
    #[arg(value_name = "FILE")]
    file: PathBuf,

    /// JSON lines (the one format for now; named so that others can follow).
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(args: Args) -> Result<()> {
    if !args.json {
        bail!("name the format: --json (one JSON object per update)");
    }
    let recording = Recording::read(&args.file)?;
    if recording.cut {
        eprintln!(
            "memwire export: {} is cut (its recorder did not finish it): \
             the updates written before the cut only",
            args.file.display()
        );
    }
    let mut data: Vec<Vec<u8>> = recording
        .channels
        .iter()
        .map(|c| vec![0; c.layout.data_len])
        .collect();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for recorded in &recording.updates {
        let (Some(channel), Some(area)) = (
            recording.channels.get(recorded.channel),
            data.get_mut(recorded.channel),
        ) else {
            continue;
        };
        let update = &recorded.update;
        if !update.apply(area) {
            bail!(
                "{}: an update at generation {} falls outside the region",
                channel.path,
                update.generation
            );
        }
        let schema = channel.layout.schema.as_schema();
        let changed: Map<String, Json> = update
            .touched(schema)
            .into_iter()
            .filter_map(|id| schema.get(id))
            .map(|var| {
                let bytes = area.get(var.range()).unwrap_or(&[]);
                (var.name.as_str().to_owned(), value::to_json(var, bytes))
            })
            .collect();
        let line = json!({
            "path": channel.path,
            "generation": update.generation,
            "time_ns": recorded.time_ns,
            "snapshot": update.snapshot,
            "gap": update.gap,
            "changed": changed,
        });
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok(())
}
