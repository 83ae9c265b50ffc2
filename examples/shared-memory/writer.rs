//! Writes a counter and a speed into the shared-memory region
//! `examples/counter` ten times a second, then marks it done.
//!
//! `cargo run -p memwire-examples --bin shm-writer [UPDATES]` (100 by
//! default). The region file lives under `$MEMWIRE_ROOT`, else the user's
//! runtime directory, else `/dev/shm/memwire-<uid>`.

use std::error::Error;
use std::time::Duration;

use memwire::schema::{Kind, SchemaBuf, SchemaBuilder};
use memwire_std::shm::{Root, ShmWriter};

/// The variables of `examples/counter`; `shm-reader` learns them from the file.
static COUNTER: SchemaBuf<3> = SchemaBuilder::new()
    .var("count", Kind::U64, 1)
    .var("speed", Kind::F32, 1)
    .var("done", Kind::Bool, 1)
    .build();

fn main() -> Result<(), Box<dyn Error>> {
    let updates: u64 = match std::env::args().nth(1) {
        Some(arg) => arg.parse()?,
        None => 100,
    };
    let schema = COUNTER.as_schema();
    let root = Root::from_env();
    // Creates the file, or opens the one a previous run left (same schema).
    let writer = ShmWriter::open_or_create(&root, "examples/counter", schema)?;
    if let Some(recovered) = writer.recovered() {
        println!(
            "took over from writer {} that died",
            recovered.previous_writer
        );
    }
    let count = schema.find("count").ok_or("no count")?;
    let speed = schema.find("speed").ok_or("no speed")?;
    let done = schema.find("done").ok_or("no done")?;

    // Start over: a reader that opens the file now sees a fresh count.
    writer.write_many(&[(count, &0u64.to_le_bytes()), (done, &[0])])?;
    println!("writing {}", writer.path().display());

    for n in 1..=updates {
        std::thread::sleep(Duration::from_millis(100));
        // Both variables in one commit: a reader sees them change together.
        let generation = writer.write_many(&[
            (count, &n.to_le_bytes()),
            (speed, &(n as f32 * 0.5).to_le_bytes()),
        ])?;
        println!("count {n} (generation {generation})");
    }
    writer.set(done, true)?;
    println!("done after {updates} updates");
    Ok(())
}
