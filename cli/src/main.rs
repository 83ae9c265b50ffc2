//! `memwire`: run a hub, look at and change the regions it serves, or try it
//! all in one command (`memwire demo`).
//!
//! - `main.rs`: the command line, the runtime, and the exit code.
//! - `cmd/`: one file per command (see `cmd/mod.rs`).
//! - `connect.rs`: the options and the path syntax that the client commands
//!   share, and the hints of their errors.
//! - `nearest.rs`: the name nearest to a mistyped one ("did you mean").
//! - `logging.rs`: logs to stderr.
//!
//! The values' text and JSON forms are the library's [`memwire_cli::value`].
//! `docs/cli.md` is the user's guide.
//!
//! Exit codes: 0 on success, 1 when the command failed (the message starts
//! with `error:`), 2 when the command line is not valid (clap's usage
//! errors).

mod cmd;
mod connect;
mod logging;
mod nearest;

use std::process::ExitCode;

use clap::Parser;

use crate::cmd::Command;

/// Examples shown under `memwire --help`.
const EXAMPLES: &str = "\
Examples:
  memwire demo                                 a hub, a simulated sensor and the live view
  memwire serve                                a hub with the built-in demo config
  memwire serve --config hub.toml              a hub with your own config
  memwire cert hub.example.net                 a CA and a hub certificate for TLS (./memwire-tls/)
  memwire ls                                   the regions of tenant `demo` and their variables
  memwire get demo/sensors/temperature         one variable
  memwire set demo/sensors/setpoint 21.5       write a variable through the hub
  memwire watch demo/sensors                   the live view
  memwire dump demo/sensors > sensors.json     every variable as JSON
  memwire stats --watch                        the hub's metrics (listen.http), refreshed

Client commands connect to tcp://127.0.0.1:7878 as client `demo` with the demo
secret unless told otherwise (--hub, --client, --secret or MEMWIRE_HUB,
MEMWIRE_CLIENT, MEMWIRE_SECRET).

Exit codes: 0 success, 1 the command failed, 2 the command line is not valid.";

/// Share live, typed variables between processes and hosts.
#[derive(Debug, Parser)]
#[command(name = "memwire", version, after_help = EXAMPLES, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,

    /// Write logs as JSON lines (to stderr).
    #[arg(long, global = true)]
    log_json: bool,

    /// More logs: -v info, -vv debug, -vvv trace (RUST_LOG overrides).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(
        cli.log_json || cli.command.log_json(),
        cli.command.verbosity() + cli.verbose,
    );

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(cli.command.run());
    // Tasks still running (a client's reconnection loop after an error)
    // must not hold the process open.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `memwire dump | head`: the reader left; that is not a failure.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", message(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, `: `-separated, leaving out a cause whose text
/// the message already holds (errors that print their source).
fn message(error: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    let kind = match error.downcast_ref::<std::io::Error>() {
        Some(e) => Some(e.kind()),
        None => error
            .downcast_ref::<serde_json::Error>()
            .and_then(serde_json::Error::io_error_kind),
    };
    kind == Some(std::io::ErrorKind::BrokenPipe)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let io = std::io::Error::other("connection refused");
        let e = anyhow::Error::new(io).context("cannot connect: connection refused");
        assert_eq!(super::message(&e), "cannot connect: connection refused");
        let e = anyhow::anyhow!("authentication failed").context("client `a`");
        assert_eq!(super::message(&e), "client `a`: authentication failed");
    }
}
