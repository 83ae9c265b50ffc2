//! The hub's metrics ([`Metrics`]): counters the connections, the scans
//! and the accept loops move with one atomic add each, and the scrape that
//! writes them in the Prometheus text format (OpenMetrics), with the
//! figures read at that moment: each region's generation, commits,
//! subscribers and updates sent, and the process's CPU time and memory.
//!
//! Labels come from the configuration and from fixed lists (transports,
//! login failures, error codes), never from what a client sends, so the
//! label set is bounded by the configuration.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use memwire::codec::ErrorCode;
use memwire::session::{AuthFailure, Stats, UpdateSent};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::striped::Striped;

/// One label: its name and value.
type Label = [(&'static str, String); 1];
/// A region's labels: its tenant and name.
type RegionLabel = [(&'static str, String); 2];

/// The counters of a running hub; a reload keeps them. Counted only when
/// the hub serves them (`listen.http`): otherwise each count is one
/// branch. The regions' commits and scan durations are counted always
/// (once per scan, not per subscriber).
pub(crate) struct Metrics {
    on: bool,
    /// Connections accepted, by transport.
    accepted: Family<Label, Counter>,
    /// Connections open now, by transport.
    open: Family<Label, Gauge>,
    /// Logins, `ok` or the reason of the refusal.
    logins: Family<Label, Counter>,
    /// Writes the hub applied (`ok`) or refused, by error code.
    writes: Family<Label, Counter>,
    /// Connections closed, by the code they closed with (`ok` for an
    /// orderly close): `rate limited` counts the rate-limit closes.
    closes: Family<Label, Counter>,
    slow_consumers: Counter,
    /// The connections' traffic, added to on every connection turn from
    /// every thread: striped.
    frames_in: Striped,
    frames_out: Striped,
    bytes_in: Striped,
    bytes_out: Striped,
    updates: Striped,
    resyncs: Striped,
}

impl Metrics {
    /// Counters that count if `on`.
    pub(crate) fn new(on: bool) -> Metrics {
        Metrics {
            on,
            accepted: Family::default(),
            open: Family::default(),
            logins: Family::default(),
            writes: Family::default(),
            closes: Family::default(),
            slow_consumers: Counter::default(),
            frames_in: Striped::default(),
            frames_out: Striped::default(),
            bytes_in: Striped::default(),
            bytes_out: Striped::default(),
            updates: Striped::default(),
            resyncs: Striped::default(),
        }
    }

    /// A connection accepted on `transport`; it counts as open until the
    /// returned guard is dropped.
    pub(crate) fn accepted(&self, transport: &'static str) -> OpenGuard {
        if !self.on {
            return OpenGuard(None);
        }
        let label = [("transport", transport.to_owned())];
        self.accepted.get_or_create(&label).inc();
        let gauge = self.open.get_or_create(&label).clone();
        gauge.inc();
        OpenGuard(Some(gauge))
    }

    pub(crate) fn login_ok(&self) {
        if !self.on {
            return;
        }
        self.logins.get_or_create(&[("outcome", "ok".into())]).inc();
    }

    pub(crate) fn login_refused(&self, reason: AuthFailure) {
        if !self.on {
            return;
        }
        let label = [("outcome", reason.describe().to_owned())];
        self.logins.get_or_create(&label).inc();
    }

    /// A write the hub applied (`Ok`) or refused with a code.
    pub(crate) fn write(&self, outcome: Result<(), ErrorCode>) {
        if !self.on {
            return;
        }
        let label = match outcome {
            Ok(()) => "ok".to_owned(),
            Err(code) => code.describe().to_owned(),
        };
        self.writes.get_or_create(&[("outcome", label)]).inc();
    }

    /// A connection's session closed, orderly (`None`) or with a code.
    pub(crate) fn closed(&self, code: Option<ErrorCode>) {
        if !self.on {
            return;
        }
        let label = code.map_or("ok", ErrorCode::describe).to_owned();
        self.closes.get_or_create(&[("code", label)]).inc();
    }

    /// A part of an update of the region that counts in `counts` was sent
    /// to a subscriber: two relaxed adds at most, on this thread's stripes
    /// of the region's own counters (no label looked up).
    pub(crate) fn update_sent(&self, counts: &RegionCounts, part: UpdateSent) {
        if !self.on {
            return;
        }
        counts.update_bytes.add(part.bytes as u64);
        if part.last {
            let whole = if part.full {
                &counts.full_updates
            } else {
                &counts.deltas
            };
            whole.add(1);
        }
    }

    pub(crate) fn slow_consumer(&self) {
        self.slow_consumers.inc();
    }

    /// Adds what a connection's session counted since `before`.
    pub(crate) fn traffic(&self, before: &Stats, now: &Stats) {
        if !self.on {
            return;
        }
        let add = |counter: &Striped, then: u64, now: u64| {
            if now > then {
                counter.add(now - then);
            }
        };
        add(&self.frames_in, before.frames_in, now.frames_in);
        add(&self.frames_out, before.frames_out, now.frames_out);
        add(&self.bytes_in, before.bytes_in, now.bytes_in);
        add(&self.bytes_out, before.bytes_out, now.bytes_out);
        add(&self.updates, before.updates, now.updates);
        add(&self.resyncs, before.resyncs, now.resyncs);
    }

    /// Every metric in the Prometheus text format (OpenMetrics), with the
    /// figures of `regions` and of the process now.
    pub(crate) fn scrape(&self, regions: &[RegionFigures]) -> String {
        let mut registry = Registry::with_prefix("memwire");
        let hub = [
            (
                "connections",
                "Connections accepted, by transport",
                &self.accepted,
            ),
            ("logins", "Logins, ok or the reason refused", &self.logins),
            (
                "writes",
                "Writes applied (ok) or refused, by error code",
                &self.writes,
            ),
            (
                "closes",
                "Connections closed, by code (ok: orderly)",
                &self.closes,
            ),
        ];
        for (name, help, family) in hub {
            registry.register(name, help, family.clone());
        }
        let open = self.open.clone();
        registry.register("connections_open", "Connections open, by transport", open);
        registry.register(
            "slow_consumer_drops",
            "Connections dropped as slow consumers",
            self.slow_consumers.clone(),
        );
        let counters = [
            (
                "frames_received",
                "Frames received from clients",
                &self.frames_in,
            ),
            ("frames_sent", "Frames sent to clients", &self.frames_out),
            (
                "bytes_received",
                "Bytes received from clients, framing included",
                &self.bytes_in,
            ),
            (
                "bytes_sent",
                "Bytes sent to clients, framing included",
                &self.bytes_out,
            ),
            (
                "updates_sent",
                "Updates whose last part was sent",
                &self.updates,
            ),
            ("resyncs", "Full resyncs served", &self.resyncs),
        ];
        for (name, help, striped) in counters {
            let counter = Counter::<u64>::default();
            counter.inc_by(striped.get());
            registry.register(name, help, counter);
        }
        register_regions(&mut registry, regions);
        register_process(&mut registry);
        let mut text = String::new();
        // Writing to a String does not fail.
        let _ = encode(&mut text, &registry);
        text
    }
}

/// Marks a connection open until dropped (when counting).
pub(crate) struct OpenGuard(Option<Gauge>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        if let Some(gauge) = &self.0 {
            gauge.dec();
        }
    }
}

/// What a region counts between scrapes.
#[derive(Debug)]
pub(crate) struct RegionCounts {
    /// Scans that published a new generation.
    pub(crate) commits: AtomicU64,
    /// How long each of those scans took.
    pub(crate) scans: Histogram,
    /// Updates sent whole to subscribers: full (from base 0: a new
    /// subscription, a resync the delta could not serve, a subscriber
    /// that asked for full updates) and deltas; counted with the hub's
    /// metrics on.
    pub(crate) full_updates: Striped,
    pub(crate) deltas: Striped,
    /// The bytes of those updates' frames, every part, length prefixes
    /// included.
    pub(crate) update_bytes: Striped,
    /// For a region a bridge imports ([`Inbox`](super::Inbox)), whether
    /// its owner is lost: [`NOT_IMPORTED`], [`OWNER_UP`] or [`STALE`].
    pub(crate) import: AtomicU8,
}

/// [`RegionCounts::import`]: no bridge imports the region.
pub(crate) const NOT_IMPORTED: u8 = 0;
/// [`RegionCounts::import`]: imported, and its owner is up.
pub(crate) const OWNER_UP: u8 = 1;
/// [`RegionCounts::import`]: imported, and its owner is lost (or not yet
/// seen): the copy keeps the last state it had.
pub(crate) const STALE: u8 = 2;

impl Default for RegionCounts {
    fn default() -> RegionCounts {
        RegionCounts {
            commits: AtomicU64::new(0),
            // 1 µs to about 4 s.
            scans: Histogram::new(exponential_buckets(1e-6, 4.0, 12)),
            full_updates: Striped::default(),
            deltas: Striped::default(),
            update_bytes: Striped::default(),
            import: AtomicU8::new(NOT_IMPORTED),
        }
    }
}

impl RegionCounts {
    /// A scan that published a new generation, and how long it took.
    pub(crate) fn committed(&self, took: Duration) {
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.scans.observe(took.as_secs_f64());
    }
}

/// A region's figures at a scrape.
#[derive(Debug)]
pub(crate) struct RegionFigures {
    pub(crate) tenant: String,
    pub(crate) region: String,
    /// The generation served (0 while it serves no file).
    pub(crate) generation: u64,
    pub(crate) commits: u64,
    /// Update parts taken from the region's store of encoded parts, and
    /// parts encoded into it (`encode_once`; both restart with a new file).
    pub(crate) encode_hits: u64,
    pub(crate) encoded: u64,
    /// Connections following the region.
    pub(crate) subscribers: usize,
    pub(crate) scans: Histogram,
    /// Updates sent whole, full and deltas, and their bytes.
    pub(crate) full_updates: u64,
    pub(crate) deltas: u64,
    pub(crate) update_bytes: u64,
    /// For an imported region, whether its copy is stale (its owner lost).
    pub(crate) stale: Option<bool>,
}

fn register_regions(registry: &mut Registry, regions: &[RegionFigures]) {
    let generation = Family::<RegionLabel, Gauge>::default();
    let commits = Family::<RegionLabel, Counter>::default();
    let subscribers = Family::<RegionLabel, Gauge>::default();
    let encode_hits = Family::<RegionLabel, Counter>::default();
    let encoded = Family::<RegionLabel, Counter>::default();
    let updates = Family::<RegionLabel, Counter>::default();
    let full_updates = Family::<RegionLabel, Counter>::default();
    let deltas = Family::<RegionLabel, Counter>::default();
    let update_bytes = Family::<RegionLabel, Counter>::default();
    let stale = Family::<RegionLabel, Gauge>::default();
    let mut scans = Scans(Vec::new());
    for figures in regions {
        let label = [
            ("tenant", figures.tenant.clone()),
            ("region", figures.region.clone()),
        ];
        let at = i64::try_from(figures.generation).unwrap_or(i64::MAX);
        generation.get_or_create(&label).set(at);
        commits.get_or_create(&label).inc_by(figures.commits);
        let listening = i64::try_from(figures.subscribers).unwrap_or(i64::MAX);
        subscribers.get_or_create(&label).set(listening);
        encode_hits
            .get_or_create(&label)
            .inc_by(figures.encode_hits);
        encoded.get_or_create(&label).inc_by(figures.encoded);
        let sent = figures.full_updates.saturating_add(figures.deltas);
        updates.get_or_create(&label).inc_by(sent);
        full_updates
            .get_or_create(&label)
            .inc_by(figures.full_updates);
        deltas.get_or_create(&label).inc_by(figures.deltas);
        update_bytes
            .get_or_create(&label)
            .inc_by(figures.update_bytes);
        if let Some(lost) = figures.stale {
            stale.get_or_create(&label).set(i64::from(lost));
        }
        scans.0.push((label, figures.scans.clone()));
    }
    registry.register_collector(Box::new(scans));
    registry.register(
        "region_generation",
        "The region's generation served",
        generation,
    );
    registry.register(
        "region_commits",
        "Scans that found a new generation",
        commits,
    );
    registry.register(
        "region_subscribers",
        "Connections following the region",
        subscribers,
    );
    let help = "Update parts sent from those encoded once for the region";
    registry.register("region_encode_once_hits", help, encode_hits);
    let help = "Update parts encoded once and kept for the region's subscribers";
    registry.register("region_encoded_parts", help, encoded);
    let help = "Updates sent whole to the region's subscribers, full and deltas";
    registry.register("region_updates_sent", help, updates);
    let help = "Full updates sent (from base 0: new subscriptions, resyncs without a delta)";
    registry.register("region_full_updates", help, full_updates);
    let help = "Delta updates sent (the changes since the subscriber's generation)";
    registry.register("region_deltas", help, deltas);
    let help = "Bytes of the region's update frames sent, every part, framing included";
    registry.register("region_update_bytes", help, update_bytes);
    let help = "1 while the owner of a region a zenoh bridge imports is lost: the copy keeps its last state";
    registry.register("region_stale", help, stale);
}

/// The regions' scan durations: a family of histograms the regions made,
/// which a [`Family`] (making its own) cannot hold.
#[derive(Debug)]
struct Scans(Vec<(RegionLabel, Histogram)>);

impl Collector for Scans {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let help = "Scans that found a new generation, by duration";
        let mut family =
            encoder.encode_descriptor("scan_seconds", help, None, MetricType::Histogram)?;
        for (label, histogram) in &self.0 {
            histogram.encode(family.encode_family(label)?)?;
        }
        Ok(())
    }
}

/// The process's CPU time and resident memory, from `/proc/self` (Linux);
/// elsewhere they are left out.
fn register_process(registry: &mut Registry) {
    let Some((cpu, rss)) = process_usage() else {
        return;
    };
    let seconds = Counter::<f64, std::sync::atomic::AtomicU64>::default();
    seconds.inc_by(cpu);
    registry.register("process_cpu_seconds", "CPU time, user and system", seconds);
    let memory = Gauge::<i64>::default();
    memory.set(i64::try_from(rss).unwrap_or(i64::MAX));
    registry.register("process_resident_memory_bytes", "Resident memory", memory);
}

/// CPU seconds and resident bytes of this process.
fn process_usage() -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command, whose name may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5), 12 and 13 here.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    let hz = rustix::param::clock_ticks_per_second();
    let page = rustix::param::page_size() as u64;
    #[allow(clippy::cast_precision_loss)]
    Some((ticks as f64 / hz as f64, pages * page))
}
