//! `memwire`: run a hub, look at and change the regions it serves, or try it
//! all in one command (`memwire demo`).
//!
//! One file per command; `connect.rs` holds the options and the path syntax
//! that the client commands share. `docs/cli.md` is the user's guide.
//!
//! Exit codes: 0 on success, 1 when the command failed (the message starts
//! with `error:`), 2 when the command line is not valid (clap's usage
//! errors).

// The loom build of this crate (`--cfg loom`, for the notification model)
// has no tokio and no hub: the tool is left out of it.
#[cfg(loom)]
fn main() {}

#[cfg(not(loom))]
mod bench;
#[cfg(not(loom))]
mod connect;
#[cfg(not(loom))]
mod demo;
#[cfg(not(loom))]
mod dump;
#[cfg(not(loom))]
mod get;
#[cfg(not(loom))]
mod ls;
#[cfg(not(loom))]
mod sensor;
#[cfg(not(loom))]
mod serve;
#[cfg(not(loom))]
mod set;
#[cfg(not(loom))]
mod watch;

#[cfg(not(loom))]
use std::process::ExitCode;

#[cfg(not(loom))]
use clap::{Parser, Subcommand};

/// Examples shown under `memwire --help`.
#[cfg(not(loom))]
const EXAMPLES: &str = "\
Examples:
  memwire demo                                 a hub, a simulated sensor and the live view
  memwire serve                                a hub with the built-in demo config
  memwire serve --config hub.toml              a hub with your own config
  memwire ls                                   the regions of tenant `demo` and their variables
  memwire get demo/sensors/temperature         one variable
  memwire set demo/sensors/setpoint 21.5       write a variable through the hub
  memwire watch demo/sensors                   the live view
  memwire dump demo/sensors > sensors.json     every variable as JSON

Client commands connect to tcp://127.0.0.1:7878 as client `demo` with the demo
secret unless told otherwise (--hub, --client, --secret or MEMWIRE_HUB,
MEMWIRE_CLIENT, MEMWIRE_SECRET).

Exit codes: 0 success, 1 the command failed, 2 the command line is not valid.";

/// Share live, typed variables between processes and hosts.
#[cfg(not(loom))]
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

#[cfg(not(loom))]
#[derive(Debug, Subcommand)]
enum Command {
    /// Run a hub: serve regions to clients until SIGINT or SIGTERM.
    #[command(after_help = serve::EXAMPLES)]
    Serve(serve::Args),
    /// List the regions a client may see, and their variables.
    #[command(after_help = ls::EXAMPLES)]
    Ls(ls::Args),
    /// Print one variable, or every variable of a region.
    #[command(after_help = get::EXAMPLES)]
    Get(get::Args),
    /// Write a variable through the hub.
    #[command(after_help = set::EXAMPLES)]
    Set(set::Args),
    /// Show a region live, updated as it changes, until Ctrl-C.
    #[command(after_help = watch::EXAMPLES)]
    Watch(watch::Args),
    /// Print a region as JSON.
    #[command(after_help = dump::EXAMPLES)]
    Dump(dump::Args),
    /// Run a hub, a simulated sensor writing its region, and the live view.
    #[command(after_help = demo::EXAMPLES)]
    Demo(demo::Args),
    /// Measure update latency and fan-out beside same-run baselines.
    #[command(after_help = bench::EXAMPLES)]
    Bench(bench::Args),
}

#[cfg(not(loom))]
fn main() -> ExitCode {
    let cli = Cli::parse();
    // The hub logs what it does at info; client commands keep their output
    // clean and log only warnings unless asked.
    let quiet = match cli.command {
        Command::Serve(_) => 1,
        _ => 0,
    };
    let json = cli.log_json || matches!(&cli.command, Command::Serve(args) if args.json);
    init_logging(json, quiet + cli.verbose);

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
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Ls(args) => ls::run(args).await,
            Command::Get(args) => get::run(args).await,
            Command::Set(args) => set::run(args).await,
            Command::Watch(args) => watch::run(args).await,
            Command::Dump(args) => dump::run(args).await,
            Command::Demo(args) => demo::run(args).await,
            Command::Bench(args) => bench::run(args).await,
        }
    });
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

/// Logs to stderr, leaving stdout to the command's output. `verbosity` 0 is
/// warnings, 1 info, 2 debug, 3 and up trace; `RUST_LOG` wins when set.
#[cfg(not(loom))]
fn init_logging(json: bool, verbosity: u8) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;

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

/// The error and its causes, `: `-separated, leaving out a cause whose text
/// the message already holds (errors that print their source).
#[cfg(not(loom))]
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

#[cfg(not(loom))]
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    let kind = match error.downcast_ref::<std::io::Error>() {
        Some(e) => Some(e.kind()),
        None => error
            .downcast_ref::<serde_json::Error>()
            .and_then(serde_json::Error::io_error_kind),
    };
    kind == Some(std::io::ErrorKind::BrokenPipe)
}

#[cfg(all(test, not(loom)))]
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
