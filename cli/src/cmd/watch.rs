//! `memwire watch`: a region live, until Ctrl-C.
//!
//! On a terminal: the full view, redrawn on every change and at least every
//! 250 ms. Otherwise (a pipe, a file, a test): one line per change,
//! `generation N: a, b changed`.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use memwire_std::client::{Changes, Client, Mirror, MirrorEvent};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::time::Instant;

use crate::connect::{self, HubArgs, RegionPath};

mod view;

pub(crate) const EXAMPLES: &str = "\
Examples:
  memwire watch demo/sensors
  memwire watch demo/sensors | head -20     one line per change when not on a terminal

The view shows every variable, marks those that changed recently, and the
update rate and bytes per second received. Ctrl-C quits.";

/// The longest time between two redraws of the view.
const REDRAW: Duration = Duration::from_millis(250);

/// `memwire watch`.
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
    let result = show(&client, &mirror, None, &[]).await;
    client.close().await;
    result
}

/// Shows `mirror` until Ctrl-C, SIGTERM or `until`; on a terminal, `footer`
/// lines stay under the view.
pub(crate) async fn show(
    client: &Client,
    mirror: &Mirror,
    until: Option<Instant>,
    footer: &[String],
) -> Result<()> {
    let events = Events::new(mirror, until)?;
    if std::io::stdout().is_terminal() {
        live(client, mirror, events, footer).await
    } else {
        lines(client, mirror, events).await
    }
}

/// What a watch loop waits for.
enum Next {
    /// Ctrl-C, SIGTERM or the deadline.
    Stop,
    /// A change.
    Change(MirrorEvent),
    /// The redraw interval passed.
    Tick,
}

/// The sources of [`Next`], made once so that no signal is missed between
/// two waits.
struct Events {
    changes: Changes,
    interrupt: Signal,
    terminate: Signal,
    until: Instant,
    tick: Instant,
}

impl Events {
    fn new(mirror: &Mirror, until: Option<Instant>) -> Result<Events> {
        Ok(Events {
            changes: mirror.changes(),
            interrupt: signal(SignalKind::interrupt()).context("cannot watch SIGINT")?,
            terminate: signal(SignalKind::terminate()).context("cannot watch SIGTERM")?,
            // No deadline: a year is as good as never.
            until: until.unwrap_or_else(|| Instant::now() + Duration::from_secs(365 * 86_400)),
            tick: Instant::now(),
        })
    }

    /// The next event; a tick at least every [`REDRAW`]. Fails when the
    /// mirror stops: the client closed, or the hub ended the subscription.
    async fn next(&mut self, mirror: &Mirror) -> Result<Next> {
        if mirror.is_ended() {
            bail!("the hub ended the subscription to {}", mirror.path());
        }
        let now = Instant::now();
        if self.tick <= now {
            self.tick = now + REDRAW;
        }
        tokio::select! {
            _ = self.interrupt.recv() => Ok(Next::Stop),
            _ = self.terminate.recv() => Ok(Next::Stop),
            () = tokio::time::sleep_until(self.until) => Ok(Next::Stop),
            () = tokio::time::sleep_until(self.tick) => Ok(Next::Tick),
            event = self.changes.next() => match event {
                Some(event) => Ok(Next::Change(event)),
                None => bail!("the client stopped: {} is no longer mirrored", mirror.path()),
            },
        }
    }
}

/// One line per change, and one when the connection is lost or back.
async fn lines(client: &Client, mirror: &Mirror, mut events: Events) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let mut connected = true;
    loop {
        let next = events.next(mirror).await?;
        if client.is_connected() != connected {
            connected = !connected;
            let state = if connected {
                "connected"
            } else {
                "connection lost; reconnecting"
            };
            writeln!(out, "{state}")?;
            out.flush()?;
        }
        match next {
            Next::Stop => return Ok(()),
            Next::Tick => {}
            Next::Change(event) => {
                writeln!(out, "{}", describe(mirror, &event))?;
                out.flush()?;
            }
        }
    }
}

/// `generation N: a, b changed`, with ` (resynced)` after a resync.
fn describe(mirror: &Mirror, event: &MirrorEvent) -> String {
    let schema = mirror.schema();
    let names: Vec<&str> = event
        .variables
        .iter()
        .filter_map(|&id| schema.get(id))
        .map(|v| v.name.as_str())
        .collect();
    let what = if names.is_empty() {
        "nothing changed".to_owned()
    } else {
        format!("{} changed", names.join(", "))
    };
    let resynced = if event.resynced { " (resynced)" } else { "" };
    format!("generation {}: {what}{resynced}", event.generation)
}

/// The full view on a terminal, with `footer` lines under it.
async fn live(
    client: &Client,
    mirror: &Mirror,
    mut events: Events,
    footer: &[String],
) -> Result<()> {
    let mut screen = view::Screen::new(mirror.path(), mirror.schema());
    let mut received = client.stats().bytes_in;
    let (generation, data) = mirror.snapshot()?;
    screen.update(std::time::Instant::now(), generation, &data, 0);
    // NO_COLOR (no-color.org): plain text, changes marked with `*`.
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let mut terminal = Terminal::enter()?;
    loop {
        screen.set_connected(client.is_connected());
        terminal.draw(&screen, color, footer)?;
        match events.next(mirror).await? {
            Next::Stop => return Ok(()),
            Next::Tick => {}
            Next::Change(_) => {
                // Bytes since the last update; the counters restart with
                // each connection.
                let now_received = client.stats().bytes_in;
                let bytes = now_received.saturating_sub(received);
                received = now_received;
                let (generation, data) = mirror.snapshot()?;
                screen.update(std::time::Instant::now(), generation, &data, bytes);
            }
        }
    }
}

/// The terminal while the view is up: the alternate screen with the cursor
/// hidden, put back as it was when dropped (on return, error or panic).
struct Terminal {
    out: std::io::Stdout,
}

impl Terminal {
    fn enter() -> Result<Terminal> {
        let mut out = std::io::stdout();
        out.write_all(b"\x1b[?1049h\x1b[?25l")?;
        out.flush()?;
        Ok(Terminal { out })
    }

    fn draw(&mut self, screen: &view::Screen, color: bool, footer: &[String]) -> Result<()> {
        let (width, height) = size(&self.out);
        let room = height.saturating_sub(footer.len()).max(1);
        let mut frame = String::from(view::CLEAR_SCREEN);
        frame.push_str(&screen.render(std::time::Instant::now(), width, room, color));
        for line in footer.iter().take(height.saturating_sub(room)) {
            frame.push('\n');
            frame.extend(line.chars().take(width));
        }
        // One write per frame: the terminal never shows a blank screen.
        let mut out = self.out.lock();
        out.write_all(frame.as_bytes())?;
        out.flush()?;
        Ok(())
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.out.write_all(b"\x1b[?25h\x1b[?1049l");
        let _ = self.out.flush();
    }
}

/// The terminal's columns and lines; 80 × 24 if it will not say.
fn size(out: &std::io::Stdout) -> (usize, usize) {
    match rustix::termios::tcgetwinsize(out) {
        Ok(size) if size.ws_col > 0 && size.ws_row > 0 => {
            (usize::from(size.ws_col), usize::from(size.ws_row))
        }
        _ => (80, 24),
    }
}
