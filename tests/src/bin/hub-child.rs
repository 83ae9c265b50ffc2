//! The hub in a process of its own, for the tests that must see it survive
//! what happens to its region files.
//!
//! ```text
//! hub-child <config.toml>    serve; print "listening <addr>" once the TCP listener is bound
//! ```
//!
//! Runs until killed or until its stdin closes; exit status 0 after a clean
//! stop, 2 when the hub cannot start.

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;

use memwire_std::hub::{Config, Hub};

fn main() -> ExitCode {
    let Some(file) = std::env::args().nth(1) else {
        eprintln!("usage: hub-child <config.toml>");
        return ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("hub-child: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(serve(Path::new(&file)))
}

async fn serve(file: &Path) -> ExitCode {
    let hub = match Config::load(file) {
        Ok(config) => Hub::start(config).await,
        Err(e) => {
            eprintln!("hub-child: {e}");
            return ExitCode::from(2);
        }
    };
    let hub = match hub {
        Ok(hub) => hub,
        Err(e) => {
            eprintln!("hub-child: {e}");
            return ExitCode::from(2);
        }
    };
    match hub.tcp_addr() {
        Some(addr) => println!("listening {addr}"),
        None => println!("listening nowhere"),
    }
    let _ = std::io::stdout().flush();
    // The test closes stdin (or dies) to stop the hub.
    let _ = tokio::task::spawn_blocking(|| {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
    })
    .await;
    hub.shutdown().await;
    ExitCode::SUCCESS
}
