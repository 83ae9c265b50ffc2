//! A device's telemetry region: a `#[repr(C)]` struct with
//! `#[derive(Schema)]`, laid out in a static array of atomic words as
//! firmware holds it (no heap), written by the control loop, and scanned
//! for what changed as the device's runner does before it sends.
//!
//! `cargo run -p memwire-examples --bin device-region`

use std::error::Error;
use std::sync::atomic::AtomicU32;

use memwire::diff::{ByteRange, Differ, touched};
use memwire::schema::Record;
use memwire::{Region, Schema};

/// What the device measures; the hub declares the same variables in order.
#[derive(Schema, Clone, Copy, Debug)]
#[repr(C)]
struct Telemetry {
    uptime_ms: u32,
    temperature: f32,
    /// Clients may write it through the hub.
    #[memwire(writable)]
    setpoint: f32,
    samples: [i16; 8],
}

/// The region's memory: header, variable table and data, sized by the
/// derive's constants as a device's statics are.
static TELEMETRY: [AtomicU32; Telemetry::REGION_WORDS] =
    [const { AtomicU32::new(0) }; Telemetry::REGION_WORDS];

fn main() -> Result<(), Box<dyn Error>> {
    let schema = Telemetry::schema();
    println!(
        "the region needs {} bytes, {} of them data",
        Telemetry::REGION_LEN,
        Telemetry::DATA_LEN
    );
    // The instance id must be new on every boot (a boot counter, an RNG).
    let region = Region::init(&TELEMETRY, schema, 0x0b00)?;

    // The runner's shadow: the data as it was last sent (statics on a device).
    let mut shadow = [0u8; Telemetry::DATA_LEN];
    let mut current = [0u8; Telemetry::DATA_LEN];
    let mut ranges = [ByteRange::default(); 8];
    for tick in 1..=3u16 {
        // The control loop: each write is one seqlock commit, never torn.
        region.set_by_name("uptime_ms", u32::from(tick) * 100)?;
        region.set_by_name("temperature", 20.0f32 + f32::from(tick) * 0.5)?;
        if tick == 2 {
            region.set_by_name("samples", [tick as i16; 8])?;
            // What the runner does with a write the hub forwards.
            region.set_by_name("setpoint", 22.5f32)?;
        }
        // The scan: changed byte ranges and the variables they touch.
        let generation = region.snapshot(&mut current)?;
        let n = Differ::new().changes(&current, &shadow, &mut ranges)?;
        let names: Vec<&str> = touched(schema, &ranges[..n])
            .filter_map(|id| schema.get(id).map(|v| v.name.as_str()))
            .collect();
        let spans: Vec<_> = ranges[..n].iter().map(|r| r.as_range()).collect();
        println!(
            "tick {tick}, generation {generation}: send {spans:?} ({})",
            names.join(", ")
        );
        shadow.copy_from_slice(&current);
    }

    // The whole struct back from one consistent snapshot, field by field.
    let whole = Telemetry::decode(&current)?;
    println!("{whole:?}");
    Ok(())
}
