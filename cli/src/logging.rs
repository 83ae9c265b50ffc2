//! Logs to stderr, leaving stdout to the command's output.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the log writer. `verbosity` 0 is warnings, 1 info, 2 debug, 3
/// and up trace; `RUST_LOG` wins when set.
pub(crate) fn init(json: bool, verbosity: u8) {
    let level = match verbosity {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init()
    };
}
