//! `memwire get`: print one variable, or every variable of a region.

use std::io::Write;

use anyhow::{Context, Result};
use memwire_cli::value;

use crate::connect::{self, HubArgs, RegionPath};

pub(crate) const EXAMPLES: &str = "\
Examples:
  memwire get demo/sensors/temperature    temperature = 21.37
  memwire get demo/sensors                every variable, one `name = value` per line
  memwire get --client viewer --secret memwire-viewer-secret demo/sensors/counter

Values are written as `memwire set` reads them (docs/cli.md, \"Values\").";

/// `memwire get`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// tenant/region, or tenant/region/variable.
    #[arg(value_name = "PATH", value_parser = connect::any_path)]
    path: RegionPath,

    #[command(flatten)]
    hub: HubArgs,
}

pub(crate) async fn run(args: Args) -> Result<()> {
    let (client, mirror) = connect::subscribe(&args.hub, &args.path).await?;
    let result = print(&mirror, &args.path);
    client.close().await;
    result
}

fn print(mirror: &memwire_std::client::Mirror, path: &RegionPath) -> Result<()> {
    let (_, data) = mirror.snapshot()?;
    let schema = mirror.schema();
    let mut out = std::io::stdout().lock();
    match &path.var {
        Some(name) => {
            let (_, var) = schema
                .lookup(name)
                .with_context(|| connect::no_such_variable(schema, path))?;
            let bytes = data.get(var.range()).unwrap_or_default();
            writeln!(out, "{name} = {}", value::text(var, bytes))?;
        }
        None => {
            for var in schema.variables() {
                let bytes = data.get(var.range()).unwrap_or_default();
                writeln!(out, "{} = {}", var.name.as_str(), value::text(var, bytes))?;
            }
        }
    }
    out.flush()?;
    Ok(())
}
