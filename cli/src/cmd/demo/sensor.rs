//! The simulated sensor of `memwire demo`: writes `demo/sensors` (the
//! region of the built-in config) about 20 times a second through the
//! region file, as a local process would.
//!
//! The temperature settles towards `setpoint` while `enabled` is true (and
//! towards 18 °C when it is not), so `memwire set demo/sensors/setpoint 25`
//! from another terminal shows in the view within seconds. The sensor
//! writes with a [`TurnWriter`], taking the region's writer lock only for
//! each write, because the hub takes the same lock to apply remote writes.

use std::f32::consts::TAU;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use memwire::Schema;
use memwire::schema::Kind;
use memwire_std::shm::{Root, ShmError, TurnWriter};

/// The region the sensor writes.
pub(crate) const PATH: &str = "demo/sensors";

/// Time between two writes.
const PERIOD: Duration = Duration::from_millis(50);
/// Time between two entries of `history`.
const HISTORY_EVERY: Duration = Duration::from_secs(1);
/// Where the temperature goes when the control loop is off.
const AMBIENT: f32 = 18.0;
/// How quickly the temperature follows its target: the share of the gap
/// closed per write (about 5 s to close two thirds of it).
const FOLLOW: f32 = 0.01;

/// Byte offsets of the variables the sensor uses.
struct Layout {
    uptime_ms: usize,
    counter: usize,
    temperature: usize,
    pressure: usize,
    humidity: usize,
    samples: (usize, usize),
    history: (usize, usize),
}

impl Layout {
    fn of(schema: Schema<'_>) -> Result<Layout> {
        let find = |name: &str, kind: Kind| -> Result<(usize, usize)> {
            let Some((_, var)) = schema.lookup(name) else {
                bail!("{PATH} has no variable `{name}`: not the built-in demo region");
            };
            if var.kind != kind {
                bail!("{PATH}: `{name}` is not {}", kind.name());
            }
            Ok((var.range().start, var.count as usize))
        };
        Ok(Layout {
            uptime_ms: find("uptime_ms", Kind::U64)?.0,
            counter: find("counter", Kind::U64)?.0,
            temperature: find("temperature", Kind::F32)?.0,
            pressure: find("pressure", Kind::F32)?.0,
            humidity: find("humidity", Kind::F32)?.0,
            samples: find("samples", Kind::I16)?,
            history: find("history", Kind::F32)?,
        })
    }
}

/// Writes the region until `stop` is set.
pub(crate) fn run(root: &Root, stop: &AtomicBool) -> Result<()> {
    let writer = TurnWriter::open(root, PATH, None)
        .with_context(|| format!("the simulated sensor cannot open {PATH}"))?;
    let reader = writer.reader();
    let layout = Layout::of(reader.schema())?;
    start_control(&writer)?;

    let start = Instant::now();
    let mut next_history = start;
    let mut temperature = reader.get_by_name::<f32>("temperature").unwrap_or(AMBIENT);
    if !temperature.is_finite() || temperature == 0.0 {
        temperature = AMBIENT;
    }
    let mut history = vec![temperature; layout.history.1];
    let mut counter: u64 = 0;
    let mut samples = vec![0u8; layout.samples.1 * 2];
    let mut tick = start;
    while !stop.load(Ordering::Relaxed) {
        let t = start.elapsed().as_secs_f32();
        let setpoint = reader.get_by_name::<f32>("setpoint").unwrap_or(AMBIENT);
        let enabled = reader.get_by_name::<bool>("enabled").unwrap_or(false);
        let target = if enabled && setpoint.is_finite() {
            setpoint
        } else {
            AMBIENT
        };
        temperature += (target - temperature) * FOLLOW;
        let shown = temperature + 0.05 * (TAU * t / 3.0).sin();
        let pressure = 1013.25 + 2.0 * (TAU * t / 30.0).sin();
        let humidity = 45.0 + 5.0 * (TAU * t / 47.0).sin();
        counter += 1;
        let uptime = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        wave(&mut samples, t);

        let mut parts: Vec<(usize, Vec<u8>)> = vec![
            (layout.uptime_ms, uptime.to_le_bytes().to_vec()),
            (layout.counter, counter.to_le_bytes().to_vec()),
            (layout.temperature, shown.to_le_bytes().to_vec()),
            (layout.pressure, pressure.to_le_bytes().to_vec()),
            (layout.humidity, humidity.to_le_bytes().to_vec()),
            (layout.samples.0, samples.clone()),
        ];
        if tick >= next_history {
            next_history += HISTORY_EVERY;
            history.rotate_left(1);
            if let Some(last) = history.last_mut() {
                *last = shown;
            }
            let bytes = history.iter().flat_map(|v| v.to_le_bytes()).collect();
            parts.push((layout.history.0, bytes));
        }
        let ranges: Vec<(usize, &[u8])> = parts.iter().map(|(o, b)| (*o, b.as_slice())).collect();
        match writer.write_ranges(&ranges) {
            // A remote write holds the lock for a moment: skip this tick.
            Ok(_) | Err(ShmError::WriterBusy { .. }) => {}
            Err(e) => return Err(e).context("the simulated sensor cannot write"),
        }

        tick += PERIOD;
        let now = Instant::now();
        match tick.checked_duration_since(now) {
            Some(wait) => std::thread::sleep(wait),
            // Late (a suspended machine): carry on from now.
            None => tick = now,
        }
    }
    Ok(())
}

/// Turns the control loop on at 20 °C, unless a previous run left a
/// setpoint.
fn start_control(writer: &TurnWriter) -> Result<()> {
    let reader = writer.reader();
    if reader.get_by_name::<f32>("setpoint").unwrap_or(0.0) != 0.0 {
        return Ok(());
    }
    let schema = reader.schema();
    let (Some((_, setpoint)), Some((_, enabled))) =
        (schema.lookup("setpoint"), schema.lookup("enabled"))
    else {
        bail!("{PATH} has no `setpoint` or `enabled`: not the built-in demo region");
    };
    let value = 20.0f32.to_le_bytes();
    let ranges = [
        (setpoint.range().start, &value[..]),
        (enabled.range().start, &[1u8][..]),
    ];
    for _ in 0..100 {
        match writer.write_ranges(&ranges) {
            Ok(_) => return Ok(()),
            Err(ShmError::WriterBusy { .. }) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(e).context("the simulated sensor cannot write"),
        }
    }
    Ok(())
}

/// A travelling wave with a little ripple, as little-endian `i16`s.
fn wave(out: &mut [u8], t: f32) {
    let n = (out.len() / 2).max(1) as f32;
    for (i, sample) in out.chunks_exact_mut(2).enumerate() {
        let x = i as f32 / n;
        let v =
            12_000.0 * (TAU * (2.0 * x - 0.5 * t)).sin() + 2_000.0 * (TAU * (9.0 * x + t)).sin();
        // Within ±14,000: the cast cannot saturate.
        #[allow(clippy::cast_possible_truncation)]
        let v = v.round() as i16;
        sample.copy_from_slice(&v.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn wave_stays_in_range_and_moves() {
        let mut a = vec![0u8; 512];
        let mut b = vec![0u8; 512];
        super::wave(&mut a, 0.0);
        super::wave(&mut b, 0.05);
        assert_ne!(a, b);
        let peak = a
            .chunks_exact(2)
            .map(|s| i16::from_le_bytes([s[0], s[1]]).unsigned_abs())
            .max();
        assert!(peak.is_some_and(|p| p > 10_000 && p <= 14_000), "{peak:?}");
    }
}
