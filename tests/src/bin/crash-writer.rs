//! A writer for the crash test (`tests/tests/shm_crash.rs`), killed at
//! random moments: opens a region (recovering what the last one left),
//! reports the recovery, then commits until killed.
//!
//! ```text
//! crash-writer <root> <tenant/region>
//! ```
//!
//! It prints `ready <variables> <rolled_back>` (what its open repaired),
//! then writes, for k = 1, 2, 3…: `k` into every element of `arr`, then
//! `k` into both `a` and `b` in one commit. A reader may therefore expect
//! every element of `arr` equal, and `a == b`, at every moment.

use std::io::Write;
use std::process::ExitCode;

use memwire_std::shm::{Root, ShmError, ShmWriter};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crash-writer {args:?}: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<(), ShmError> {
    let [root, path] = args else {
        return Err(ShmError::BadPath(
            "usage: crash-writer <root> <path>".into(),
        ));
    };
    let writer = ShmWriter::open(&Root::new(root), path)?;
    let id = |name: &str| {
        writer
            .schema()
            .find(name)
            .ok_or_else(|| ShmError::BadPath(format!("no variable {name}")))
    };
    let (arr, a, b) = (id("arr")?, id("a")?, id("b")?);
    let recovery = writer.recovered().map(|r| r.recovery).unwrap_or_default();
    println!("ready {} {}", recovery.variables, recovery.rolled_back);
    let _ = std::io::stdout().flush();
    // Start past what the last writer wrote, so that a value of a dead
    // writer's commit is never mistaken for one of this writer's.
    let mut k = writer.get::<u64>(a)?.wrapping_add(1_000_000);
    let mut elements = vec![0u8; writer.schema().get(arr).map_or(0, |v| v.range().len())];
    loop {
        k = k.wrapping_add(1);
        #[allow(clippy::cast_possible_truncation)]
        let word = (k as u32).to_le_bytes();
        for e in elements.chunks_exact_mut(4) {
            e.copy_from_slice(&word);
        }
        writer.write(arr, &elements)?;
        writer.write_many(&[(a, &k.to_le_bytes()), (b, &k.to_le_bytes())])?;
    }
}
