//! `memwire dump`: print a region as JSON, one variable per line, arrays
//! on their variable's line.

use std::io::Write;

use anyhow::Result;
use memwire_cli::value;
use serde_json::Value as Json;

use crate::connect::{self, HubArgs, RegionPath};

pub(crate) const EXAMPLES: &str = "\
Examples:
  memwire dump demo/sensors
  memwire dump demo/sensors | jq .variables.temperature

Output: {\"path\": \"demo/sensors\", \"generation\": 1234, \"variables\": {\"name\": value, ...}}.
Numbers are JSON numbers; NaN and infinities are the strings \"NaN\", \"inf\",
\"-inf\"; bytes are \"0x...\" strings; arrays are JSON arrays, each on its variable's line.";

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
    let text = snapshot.map(|(generation, data)| {
        let variables = value::schema_to_json(mirror.schema(), &data);
        document(&args.path.region_path(), generation, &variables)
    });
    client.close().await;
    let mut out = std::io::stdout().lock();
    out.write_all(text?.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// The whole output: `path`, `generation` and `variables` (an object),
/// keys sorted, each variable on a line of its own.
fn document(path: &str, generation: u64, variables: &Json) -> String {
    let mut out = String::from("{\n");
    out.push_str(&format!("  \"generation\": {generation},\n"));
    out.push_str(&format!("  \"path\": {},\n", Json::from(path)));
    match variables.as_object() {
        Some(map) if !map.is_empty() => {
            out.push_str("  \"variables\": {\n");
            let lines: Vec<String> = map
                .iter()
                .map(|(name, value)| {
                    format!("    {}: {}", Json::from(name.as_str()), compact(value))
                })
                .collect();
            out.push_str(&lines.join(",\n"));
            out.push_str("\n  }\n");
        }
        _ => out.push_str(&format!("  \"variables\": {}\n", compact(variables))),
    }
    out.push_str("}\n");
    out
}

/// `value` on one line, with a space after each comma of an array: `[1, 2]`.
fn compact(value: &Json) -> String {
    match value {
        Json::Array(elements) => {
            let elements: Vec<String> = elements.iter().map(compact).collect();
            format!("[{}]", elements.join(", "))
        }
        // Scalars (and the objects a region never holds) as serde_json
        // writes them.
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn one_line_per_variable_and_arrays_on_it() {
        let variables = json!({
            "samples": [1, -2, 3],
            "name": "0xff00",
            "t": 1.5,
            "empty": [],
        });
        let text = super::document("demo/sensors", 7, &variables);
        assert_eq!(
            text,
            "{\n  \"generation\": 7,\n  \"path\": \"demo/sensors\",\n  \"variables\": {\n    \
             \"empty\": [],\n    \"name\": \"0xff00\",\n    \"samples\": [1, -2, 3],\n    \
             \"t\": 1.5\n  }\n}\n"
        );
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["variables"], variables);
        assert_eq!(
            super::document("a/b", 0, &json!({})),
            "{\n  \"generation\": 0,\n  \"path\": \"a/b\",\n  \"variables\": {}\n}\n"
        );
    }
}
