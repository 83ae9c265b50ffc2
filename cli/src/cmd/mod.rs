//! The commands, one file each: its options (`Args`), the examples shown
//! under its `--help` (`EXAMPLES`) and `run`.
//!
//! - `serve.rs`: a hub until SIGINT or SIGTERM.
//! - `cert.rs`: a private CA and a hub certificate, for TLS.
//! - `ls.rs`, `get.rs`, `set.rs`, `watch.rs`, `dump.rs`: client commands,
//!   connecting through `connect.rs`; `watch/view.rs` is the terminal view.
//! - `stats.rs`: the hub's metrics, read from its HTTP listener.
//! - `demo.rs`: a hub, `demo/sensor.rs` writing its region, and the view.
//! - `record.rs`: regions into an MCAP file (`record/info.rs`: `--info`);
//!   `replay.rs` and `export.rs` read it back.
//! - `bench.rs`: latency (`bench/latency.rs`) and fan-out of the hub, with
//!   its metrics off or on (`bench/scrape.rs` scrapes them).

mod bench;
mod cert;
mod demo;
mod dump;
mod export;
mod get;
mod ls;
mod record;
mod replay;
mod serve;
mod set;
mod stats;
mod watch;

use clap::Subcommand;

// The commands, in the order `memwire --help` lists them.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a hub: serve regions to clients until SIGINT or SIGTERM.
    #[command(after_help = serve::EXAMPLES)]
    Serve(serve::Args),
    /// Make a private CA and a hub certificate signed by it, for TLS.
    #[command(after_help = cert::EXAMPLES)]
    Cert(cert::Args),
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
    /// Show a hub's metrics as a table with rates per second.
    #[command(after_help = stats::EXAMPLES)]
    Stats(stats::Args),
    /// Run a hub, a simulated sensor writing its region, and the live view.
    #[command(after_help = demo::EXAMPLES)]
    Demo(demo::Args),
    /// Record regions' updates into an MCAP file, or summarise one.
    #[command(after_help = record::EXAMPLES)]
    Record(record::Args),
    /// Write a recording's values into regions, at its pace or stepping.
    #[command(after_help = replay::EXAMPLES)]
    Replay(replay::Args),
    /// Print a recording as JSON lines, one per update.
    #[command(after_help = export::EXAMPLES)]
    Export(export::Args),
    /// Measure update latency and fan-out beside same-run baselines.
    #[command(after_help = bench::EXAMPLES)]
    Bench(bench::Args),
}

/// What to type to run this tool in a hint that the user copies: `memwire`
/// when a `memwire` is on PATH, else the path of this executable (run by
/// `cargo run`, or from a build directory).
pub(crate) fn program() -> String {
    let on_path = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("memwire").is_file()));
    if on_path {
        return "memwire".to_owned();
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.to_str().map(str::to_owned))
        .unwrap_or_else(|| "memwire".to_owned())
}

impl Command {
    /// The hub logs what it does at info; client commands keep their output
    /// clean and log only warnings unless asked.
    pub(crate) fn verbosity(&self) -> u8 {
        match self {
            Command::Serve(_) => 1,
            _ => 0,
        }
    }

    /// Whether the command asks for JSON logs by an option of its own.
    pub(crate) fn log_json(&self) -> bool {
        matches!(self, Command::Serve(args) if args.json)
    }

    /// Runs the command to its end.
    pub(crate) async fn run(self) -> anyhow::Result<()> {
        match self {
            Command::Serve(args) => serve::run(args).await,
            Command::Cert(args) => cert::run(args).await,
            Command::Ls(args) => ls::run(args).await,
            Command::Get(args) => get::run(args).await,
            Command::Set(args) => set::run(args).await,
            Command::Watch(args) => watch::run(args).await,
            Command::Dump(args) => dump::run(args).await,
            Command::Stats(args) => stats::run(args).await,
            Command::Demo(args) => demo::run(args).await,
            Command::Record(args) => record::run(args).await,
            Command::Replay(args) => replay::run(args).await,
            Command::Export(args) => export::run(args).await,
            Command::Bench(args) => bench::run(args).await,
        }
    }
}
