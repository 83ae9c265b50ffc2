//! `memwire watch`: a region live, until Ctrl-C.
//!
//! On a terminal: the full view, redrawn on every change and at least every
//! 250 ms. Otherwise (a pipe, a file, a test): one line per change with the
//! changed variables' values, `generation N: a = 1, b = [1, 2]`; with
//! `--json`, one JSON object per line wherever the output goes.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use memwire::schema::Variable;
use memwire_cli::value;
use memwire_std::client::{Changes, Client, Mirror, MirrorEvent};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::time::Instant;

use crate::connect::{self, HubArgs, RegionPath};

mod stats;
mod view;

pub(crate) const EXAMPLES: &str = "\
Examples:
  memwire watch demo/sensors
  memwire watch demo/sensors | head -20     one line per change when not on a terminal
  memwire watch --json demo/sensors | jq -c .changed.temperature

The view shows every variable, marks those that changed recently, the
update rate and bytes per second received, and the client's counters
(reconnects, updates, resyncs, bytes, writes by outcome); a numeric array too long for its
line shows as its smallest, largest and last element and a sparkline of its
newest elements. Ctrl-C quits.

--json prints one object per update: {\"generation\": N, \"resynced\": false,
\"changed\": {\"name\": value, ...}}, values as `memwire dump` writes them.";

/// The widest a value gets in a line of the piped output before a numeric
/// array is summarised (as in the view) or other values are cut.
const LINE_VALUE_WIDTH: usize = 72;

/// The longest time between two redraws of the view.
const REDRAW: Duration = Duration::from_millis(250);

/// `memwire watch`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// tenant/region.
    #[arg(value_name = "PATH", value_parser = connect::region_path)]
    path: RegionPath,

    /// One JSON object per update (the changed variables' values), also on
    /// a terminal.
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    hub: HubArgs,
}

pub(crate) async fn run(args: Args) -> Result<()> {
    let (client, mirror) = connect::subscribe(&args.hub, &args.path).await?;
    let result = if args.json {
        match Events::new(&mirror, None) {
            Ok(events) => lines(&client, &mirror, events, Form::Json).await,
            Err(e) => Err(e),
        }
    } else {
        show(&client, &mirror, None, &[]).await
    };
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
        lines(client, mirror, events, Form::Text).await
    }
}

/// How [`lines`] writes an update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    /// `generation N: a = 1, b = 2`.
    Text,
    /// `{"generation": N, "resynced": false, "changed": {"a": 1, "b": 2}}`.
    Json,
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
///
/// A line names the variables whose bytes differ from the last line's
/// snapshot, with their values as of the generation it gives: events that
/// arrive while a line is written are folded into the next, and an event
/// whose changes were already shown writes nothing (unless it is a resync).
async fn lines(client: &Client, mirror: &Mirror, mut events: Events, form: Form) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let mut connected = true;
    let (_, mut shown) = mirror.snapshot()?;
    loop {
        let next = events.next(mirror).await?;
        if client.is_connected() != connected {
            connected = !connected;
            let line = match (form, connected) {
                (Form::Text, true) => "connected".to_owned(),
                (Form::Text, false) => "connection lost; reconnecting".to_owned(),
                (Form::Json, _) => serde_json::json!({ "connected": connected }).to_string(),
            };
            writeln!(out, "{line}")?;
            out.flush()?;
        }
        match next {
            Next::Stop => return Ok(()),
            Next::Tick => {}
            Next::Change(event) => {
                let (generation, data) = mirror.snapshot()?;
                let changed: Vec<&Variable> = mirror
                    .schema()
                    .variables()
                    .iter()
                    .filter(|var| bytes_of(&shown, var) != bytes_of(&data, var))
                    .collect();
                if changed.is_empty() && !event.resynced {
                    continue;
                }
                let line = match form {
                    Form::Text => text_line(generation, event.resynced, &changed, &data),
                    Form::Json => json_line(generation, event.resynced, &changed, &data),
                };
                writeln!(out, "{line}")?;
                out.flush()?;
                shown = data;
            }
        }
    }
}

/// The bytes of `var` in a snapshot's data area.
fn bytes_of<'a>(data: &'a [u8], var: &Variable) -> &'a [u8] {
    data.get(var.range()).unwrap_or_default()
}

/// `generation N: a = 1, b = 2`, with ` (resynced)` after a resync.
fn text_line(generation: u64, resynced: bool, changed: &[&Variable], data: &[u8]) -> String {
    let values: Vec<String> = changed
        .iter()
        .map(|var| {
            let text = value::fitted(var, bytes_of(data, var), LINE_VALUE_WIDTH);
            format!("{} = {text}", var.name.as_str())
        })
        .collect();
    let what = if values.is_empty() {
        "nothing changed".to_owned()
    } else {
        values.join(", ")
    };
    let resynced = if resynced { " (resynced)" } else { "" };
    format!("generation {generation}: {what}{resynced}")
}

/// `{"changed": {"a": 1}, "generation": N, "resynced": false}`, on one line.
fn json_line(generation: u64, resynced: bool, changed: &[&Variable], data: &[u8]) -> String {
    let values: serde_json::Map<String, serde_json::Value> = changed
        .iter()
        .map(|var| {
            let json = value::to_json(var, bytes_of(data, var));
            (var.name.as_str().to_owned(), json)
        })
        .collect();
    serde_json::json!({
        "generation": generation,
        "resynced": resynced,
        "changed": values,
    })
    .to_string()
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
        let mut lines = footer.to_vec();
        lines.push(stats::of(client));
        terminal.draw(&screen, color, &lines)?;
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

#[cfg(test)]
mod tests {
    use memwire::schema::{Kind, SchemaBuf, SchemaBuilder};

    static SCHEMA: SchemaBuf<2> = SchemaBuilder::new()
        .var("t", Kind::F32, 1)
        .var("history", Kind::U8, 100)
        .build();

    #[test]
    fn lines_hold_the_changed_values() {
        let schema = SCHEMA.as_schema();
        let vars = schema.variables();
        let mut data = vec![0u8; 104];
        data[..4].copy_from_slice(&1.5f32.to_le_bytes());
        data[103] = 7;
        let changed = [&vars[0], &vars[1]];
        assert_eq!(
            super::text_line(9, false, &changed, &data),
            format!(
                "generation 9: t = 1.5, history = min 0  max 7  last 7  {}█",
                "▁".repeat(49)
            )
        );
        assert_eq!(
            super::text_line(9, true, &[], &data),
            "generation 9: nothing changed (resynced)"
        );
        let json: serde_json::Value =
            serde_json::from_str(&super::json_line(9, false, &changed[..1], &data)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"generation": 9, "resynced": false, "changed": {"t": 1.5}})
        );
    }
}
