//! `memwire ls`: the regions a client may see, and their variables.

use std::io::Write;

use anyhow::{Context, Result};
use memwire::Schema;
use memwire_std::client::Mirror;

use crate::connect::{self, HubArgs};

pub(crate) const EXAMPLES: &str = "\
Examples:
  memwire ls                 the regions of tenant `demo`
  memwire ls factory --client line1 --secret \"$LINE1_SECRET\"

For each region: its path, generation and size, then one line per variable
with its kind, element count, byte offset in the data area and whether
clients with write rights may write it.";

/// `memwire ls`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The tenant [default: --tenant, else `demo`].
    #[arg(id = "tenant_name", value_name = "TENANT")]
    name: Option<String>,

    #[command(flatten)]
    hub: HubArgs,
}

pub(crate) async fn run(args: Args) -> Result<()> {
    let tenant = args
        .name
        .clone()
        .or_else(|| args.hub.tenant.clone())
        .unwrap_or_else(|| "demo".to_owned());
    let client = connect::connect(&args.hub, &tenant).await?;
    let result = list(&client, &tenant).await;
    client.close().await;
    result
}

async fn list(client: &memwire_std::client::Client, tenant: &str) -> Result<()> {
    let regions = client.regions();
    let mut out = std::io::stdout().lock();
    if regions.is_empty() {
        writeln!(out, "no regions for this client in tenant `{tenant}`")?;
    }
    for (i, (name, _instance)) in regions.iter().enumerate() {
        // The hub lists names within the tenant; accept full paths too.
        let path = if name.contains('/') {
            name.clone()
        } else {
            format!("{tenant}/{name}")
        };
        let mirror = client
            .subscribe(&path)
            .await
            .with_context(|| format!("cannot subscribe to {path}"))?;
        if i > 0 {
            writeln!(out)?;
        }
        write_region(&mut out, &path, &mirror)?;
    }
    out.flush()?;
    Ok(())
}

fn write_region(out: &mut impl Write, path: &str, mirror: &Mirror) -> Result<()> {
    let schema = mirror.schema();
    writeln!(
        out,
        "{path}  generation {}, {}, {}",
        mirror.generation(),
        counted(schema.len() as u64, "variable"),
        counted(schema.data_len().into(), "byte")
    )?;
    for line in table(schema) {
        writeln!(out, "  {}", line.trim_end())?;
    }
    Ok(())
}

/// `1 variable`, `9 variables`.
fn counted(n: u64, noun: &str) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("{n} {noun}{s}")
}

/// The variable table, columns aligned.
fn table(schema: Schema<'_>) -> Vec<String> {
    let header = ["NAME", "KIND", "COUNT", "OFFSET", "WRITABLE"].map(str::to_owned);
    let rows: Vec<[String; 5]> = schema
        .variables()
        .iter()
        .map(|v| {
            [
                v.name.as_str().to_owned(),
                v.kind.name().to_owned(),
                v.count.to_string(),
                v.offset.to_string(),
                if v.writable { "yes" } else { "no" }.to_owned(),
            ]
        })
        .collect();
    let mut widths = [0usize; 5];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    std::iter::once(&header)
        .chain(&rows)
        .map(|row| {
            let mut line = String::new();
            for (column, (cell, width)) in row.iter().zip(widths).enumerate() {
                // Numbers right-aligned, text left-aligned.
                let cell = if column == 2 || column == 3 {
                    format!("{cell:>width$}")
                } else {
                    format!("{cell:<width$}")
                };
                if column > 0 {
                    line.push_str("  ");
                }
                line.push_str(&cell);
            }
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use memwire::schema::{Kind, SchemaBuf, SchemaBuilder};

    static SCHEMA: SchemaBuf<2> = SchemaBuilder::new()
        .var("temperature", Kind::F32, 1)
        .var("samples", Kind::I16, 256)
        .writable()
        .build();

    #[test]
    fn counts_agree_with_their_nouns() {
        assert_eq!(super::counted(1, "variable"), "1 variable");
        assert_eq!(super::counted(0, "variable"), "0 variables");
        assert_eq!(super::counted(1025, "byte"), "1025 bytes");
    }

    #[test]
    fn table_is_aligned() {
        let lines = super::table(SCHEMA.as_schema());
        assert_eq!(
            lines,
            [
                "NAME         KIND  COUNT  OFFSET  WRITABLE",
                "temperature  f32       1       0  no      ",
                "samples      i16     256       4  yes     ",
            ]
        );
    }
}
