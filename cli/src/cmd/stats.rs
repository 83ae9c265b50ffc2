//! `memwire stats`: the hub's metrics, read from its HTTP listener
//! (`listen.http`, `GET /metrics`), as a table with rates per second.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

pub(crate) const EXAMPLES: &str = "\
Examples:
  memwire stats                                the hub at 127.0.0.1:9464, rates over 1 s
  memwire stats --watch                        refreshed every second until Ctrl-C
  memwire stats --metrics 10.0.0.5:9464 --interval 5

The hub serves its metrics only with `http = \"IP:PORT\"` under [listen] in
its configuration (docs/hub-config.md); docs/hub.md lists every figure.";

/// How long one request to the hub may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// `memwire stats`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The hub's metrics listener (its `listen.http`), HOST:PORT.
    #[arg(long, env = "MEMWIRE_METRICS", default_value = "127.0.0.1:9464")]
    metrics: String,

    /// Seconds between the two readings a rate is taken from, and between
    /// refreshes with --watch.
    #[arg(long, default_value_t = 1.0, value_parser = positive_seconds)]
    interval: f64,

    /// Refresh the table every interval until Ctrl-C.
    #[arg(long)]
    watch: bool,
}

fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= 3600.0 => Ok(s),
        _ => Err(format!("{text:?} is not a number of seconds in (0, 3600]")),
    }
}

pub(crate) async fn run(args: Args) -> Result<()> {
    tokio::task::spawn_blocking(move || show(&args)).await?
}

fn show(args: &Args) -> Result<()> {
    let interval = Duration::from_secs_f64(args.interval);
    let mut before = scrape(&args.metrics)?;
    loop {
        std::thread::sleep(interval);
        let now = scrape(&args.metrics)?;
        let table = table(&before, &now);
        let mut out = std::io::stdout().lock();
        if args.watch {
            // Clear the screen and go home, as `watch(1)` does.
            write!(out, "\x1b[2J\x1b[H")?;
        }
        out.write_all(table.as_bytes())?;
        out.flush()?;
        if !args.watch {
            return Ok(());
        }
        before = now;
    }
}

/// One reading: each sample (`name` and its labels) and its value, and
/// when it was taken.
struct Reading {
    at: Instant,
    samples: BTreeMap<(String, String), f64>,
}

fn scrape(addr: &str) -> Result<Reading> {
    let text = get(addr).with_context(|| {
        format!("cannot read the hub's metrics at {addr}: is `http` set under [listen] in its configuration?")
    })?;
    Ok(Reading {
        at: Instant::now(),
        samples: parse(&text),
    })
}

/// The body of `GET /metrics` at `addr`.
fn get(addr: &str) -> Result<String> {
    let target = addr
        .to_socket_addrs()?
        .next()
        .context("the address resolves to nothing")?;
    let mut stream = TcpStream::connect_timeout(&target, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .context("not an HTTP answer")?;
    let status = head.lines().next().unwrap_or_default();
    if !status.contains(" 200 ") {
        bail!("the hub answered {status:?}");
    }
    Ok(body.to_owned())
}

/// The samples of the text format, histogram buckets left out (their
/// count and sum stay).
fn parse(text: &str) -> BTreeMap<(String, String), f64> {
    let mut samples = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        if name.ends_with("_bucket") {
            continue;
        }
        samples.insert((name.to_owned(), labels.replace('"', "")), value);
    }
    samples
}

/// Whether a sample only grows, so that its rate means something.
fn is_counter(name: &str) -> bool {
    name.ends_with("_total") || name.ends_with("_count") || name.ends_with("_sum")
}

/// The table: one row per sample, its value now and, for counters, its
/// rate per second since `before`.
fn table(before: &Reading, now: &Reading) -> String {
    let seconds = now.at.duration_since(before.at).as_secs_f64().max(1e-9);
    let rows: Vec<[String; 4]> = now
        .samples
        .iter()
        .map(|((name, labels), &value)| {
            let short = name.strip_prefix("memwire_").unwrap_or(name);
            let short = short.strip_suffix("_total").unwrap_or(short);
            let rate = match before.samples.get(&(name.clone(), labels.clone())) {
                Some(&then) if is_counter(name) => format!("{:.1}", (value - then) / seconds),
                _ if is_counter(name) => format!("{:.1}", value / seconds),
                _ => String::new(),
            };
            [
                short.to_owned(),
                labels.replace(',', " "),
                number(value),
                rate,
            ]
        })
        .collect();
    let head = ["METRIC", "LABELS", "VALUE", "PER SECOND"].map(str::to_owned);
    let mut widths = [0usize; 4];
    for row in std::iter::once(&head).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in std::iter::once(&head).chain(&rows) {
        let [name, labels, value, rate] = row;
        let [w0, w1, w2, w3] = widths;
        let line = format!("{name:<w0$}  {labels:<w1$}  {value:>w2$}  {rate:>w3$}");
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// A value as an integer when it is one.
fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value:.6}")
    }
}
