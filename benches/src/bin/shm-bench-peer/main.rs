//! The other process of the wake-up latency benchmark (`benches/benches/shm.rs`):
//! answers every ping with a pong, over a memwire region, a raw futex or a
//! Unix socket, until it hears nothing for five seconds.
//!
//! ```text
//! shm-bench-peer memwire <root>     wait on t/ping, write its value to t/pong
//! shm-bench-peer futex <file>       wait on word 0, copy it to word 1
//! shm-bench-peer socket <path>      echo each byte
//! ```

mod shared;

use std::io::{Read, Write};
use std::time::Duration;

use memwire_std::shm::{Root, ShmRegion, ShmWriter};

const IDLE: Duration = Duration::from_secs(5);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, target) = match args.as_slice() {
        [mode, target] => (mode.as_str(), target.as_str()),
        _ => return Err("usage: shm-bench-peer memwire|futex|socket <path>".into()),
    };
    match mode {
        "memwire" => {
            let root = Root::new(target);
            let ping = ShmRegion::open(&root, "t/ping")?;
            let pong = ShmWriter::open(&root, "t/pong")?;
            let id = ping.schema().find("value").ok_or("no value")?;
            // Before "ready": the first ping may follow it at once.
            let mut seen = ping.generation()?;
            println!("ready");
            std::io::stdout().flush()?;
            while let Some(g) = ping.wait_for_change(seen, Some(IDLE))? {
                seen = g;
                pong.set(id, ping.get::<u64>(id)?)?;
            }
        }
        "futex" => {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(target)?;
            let words = shared::Words::map(&file)?;
            let mut seen = words.ping().load(std::sync::atomic::Ordering::Acquire);
            println!("ready");
            std::io::stdout().flush()?;
            while let Some(v) = shared::wait_change(words.ping(), seen, IDLE) {
                seen = v;
                shared::publish(words.pong(), v);
            }
        }
        "socket" => {
            let mut stream = std::os::unix::net::UnixStream::connect(target)?;
            stream.set_read_timeout(Some(IDLE))?;
            let mut byte = [0u8];
            while stream.read_exact(&mut byte).is_ok() {
                stream.write_all(&byte)?;
            }
        }
        other => return Err(format!("unknown mode {other}").into()),
    }
    Ok(())
}
