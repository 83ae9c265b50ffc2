//! Opens the shared-memory region `examples/counter` that `shm-writer`
//! writes, and prints what changes until the writer marks it done.
//!
//! `cargo run -p memwire-examples --bin shm-reader`, with the same
//! `$MEMWIRE_ROOT` as the writer (if any), once the writer has started.

use std::error::Error;
use std::time::Duration;

use memwire_std::shm::{Root, ShmRegion};

fn main() -> Result<(), Box<dyn Error>> {
    let root = Root::from_env();
    // A read-only mapping; the schema comes from the file.
    let reader = ShmRegion::open(&root, "examples/counter")
        .map_err(|e| format!("examples/counter: {e} (start shm-writer first)"))?;
    let names: Vec<&str> = reader
        .schema()
        .variables()
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    println!(
        "opened {} with variables {}",
        reader.path().display(),
        names.join(", ")
    );

    // Watch first, then look: a commit made in between still wakes the wait.
    let mut watcher = reader.watch()?;
    loop {
        let count: u64 = reader.get_by_name("count")?;
        if reader.get_by_name::<bool>("done")? {
            println!("the writer is done at count {count}");
            return Ok(());
        }
        // Commits made while we print coalesce into the next event.
        match watcher.wait(Some(Duration::from_secs(5)))? {
            Some(event) => {
                let changed: Vec<&str> = event.names().collect();
                let speed: f32 = reader.get_by_name("speed")?;
                println!(
                    "generation {}: {} changed; count {}, speed {speed}",
                    event.generation(),
                    changed.join(", "),
                    reader.get_by_name::<u64>("count")?,
                );
            }
            None => println!("nothing changed for 5 s: is shm-writer running?"),
        }
    }
}
