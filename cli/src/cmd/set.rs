//! `memwire set`: write a variable through the hub.

use anyhow::{Context, Result, anyhow};
use memwire::codec::ErrorCode;
use memwire_cli::value;
use memwire_std::client::{ClientError, Mirror};

use crate::connect::{self, HubArgs, RegionPath};

pub(crate) const EXAMPLES: &str = "\
Examples:
  memwire set demo/sensors/setpoint 21.5
  memwire set demo/sensors/enabled false
  memwire set demo/sensors/setpoint -3.5
  memwire set tenant/region/gains '[1.0, 0.5, 0.25]'    every element of an array

The hub applies the write if the variable is writable and the client has
write rights, then prints the region's generation that holds it. A refused
write prints the hub's reason and exits with 1.";

/// Tries of a write that finds the region busy, and the pause between them.
const BUSY_TRIES: u32 = 20;
const BUSY_PAUSE: std::time::Duration = std::time::Duration::from_millis(10);

/// `memwire set`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// tenant/region/variable.
    #[arg(value_name = "PATH", value_parser = connect::var_path)]
    path: RegionPath,

    /// The new value, as `memwire get` prints it: 21.5, true, 0x00ff, [1, 2, 3].
    #[arg(value_name = "VALUE", allow_hyphen_values = true)]
    value: String,

    #[command(flatten)]
    hub: HubArgs,
}

pub(crate) async fn run(args: Args) -> Result<()> {
    let (client, mirror) = connect::subscribe(&args.hub, &args.path).await?;
    let result = write(&mirror, &args.path, &args.value).await;
    client.close().await;
    let (text, generation) = result?;
    println!("{} = {text} (generation {generation})", args.path);
    Ok(())
}

/// Parses and writes the value; returns it as text and the generation.
async fn write(mirror: &Mirror, path: &RegionPath, text: &str) -> Result<(String, u64)> {
    let name = path.var_name();
    let (bytes, shown) = {
        let schema = mirror.schema();
        let (_, var) = schema
            .lookup(name)
            .ok_or_else(|| anyhow!(connect::no_such_variable(schema, path)))?;
        let bytes = value::parse(var, text)?;
        let shown = value::format(var, &bytes);
        (bytes, shown)
    };
    // The hub decides (rights, writable flag, bounds) and says why not. A
    // local writer holds the region's lock for each of its writes: a write
    // that meets one is tried again a few times.
    let mut tries = 0;
    let generation = loop {
        match mirror.write(name, &bytes).await {
            Err(ClientError::Hub(ErrorCode::Busy)) if tries < BUSY_TRIES => {
                tries += 1;
                tokio::time::sleep(BUSY_PAUSE).await;
            }
            other => break other.with_context(|| format!("cannot write {path}"))?,
        }
    };
    Ok((shown, generation))
}
