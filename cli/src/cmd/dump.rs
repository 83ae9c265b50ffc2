//! `memwire dump`: print a region as JSON.

use std::io::Write;

use anyhow::Result;
use memwire_cli::value;

use crate::connect::{self, HubArgs, RegionPath};

pub(crate) const EXAMPLES: &str = "\
Examples:
  memwire dump demo/sensors
  memwire dump demo/sensors | jq .variables.temperature

Output: {\"path\": \"demo/sensors\", \"generation\": 1234, \"variables\": {\"name\": value, ...}}.
Numbers are JSON numbers; NaN and infinities are the strings \"NaN\", \"inf\",
\"-inf\"; bytes are \"0x...\" strings; arrays are JSON arrays.";

/// `memwire dump`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// tenant/region.
    #[arg(value_name = "PATH", value_parser = connect::region_path)]
    path: RegionPath,

    #[command(flatten)]
    hub: HubArgs,
}

pub(crate) async fn run(args: Args) -> Result<()> {
    let (client, mirror) = connect::subscribe(&args.hub, &args.path).await?;
    let snapshot = mirror.snapshot();
    let json = snapshot.map(|(generation, data)| {
        serde_json::json!({
            "path": args.path.region_path(),
            "generation": generation,
            "variables": value::schema_to_json(mirror.schema(), &data),
        })
    });
    client.close().await;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &json?)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}
