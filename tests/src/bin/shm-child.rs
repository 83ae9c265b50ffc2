//! A second process for the shared-memory tests: opens a region under a
//! root and acts on it as the first argument says.
//!
//! ```text
//! shm-child <root> <tenant/region> hammer <variable>          write the variable's words with 1, 2, 3… until killed
//! shm-child <root> <tenant/region> check <variable> <reads>   read and check every read; print "<reads> <distinct>"
//! shm-child <root> <tenant/region> die-mid-write <variable>   open a write, print "in-write", sleep until killed
//! shm-child <root> <tenant/region> pair <a> <b>               wait for a line on stdin, write a and b in one commit
//! shm-child <root> <tenant/region> rapid <variable> <n>       commit n times as fast as possible
//! shm-child <root> <tenant/region> hold <variable>            open a write of 0xcd bytes, print "in-write", end it on a line from stdin, print "written", exit on the next
//! shm-child <root> <tenant/region> readers <variable> <threads> <millis>
//!                                                             read and check from several threads for a while; print "<reads> <stalled> <distinct>"
//! shm-child <root> <tenant/region> read-until <variable>      read it whole in a loop; print "reading" after the first read, then the error that ends the loop
//! shm-child <root> <tenant/region> write-until <variable>     the same, writing it whole ("writing")
//! shm-child <root> <tenant/region> telemetry <variable>       print "writing", write the u64 variable with 1, 2, 3… until killed;
//!                                                             print "remote <generation> <names>" for each remote write applied
//! shm-child <root> <tenant/region> idle                       open a writer, print "ready"; on a line from stdin apply requests
//!                                                             and print "applied <generation>" or "none"; exit on the next line
//! ```
//!
//! `read-until` and `write-until` print `truncated` for
//! [`ShmError::Truncated`] and exit 0; another error is printed whole.
//!
//! Exit status 0 on success; a failed check prints what it saw and exits 1.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::time::Duration;

use memwire_std::shm::{Root, ShmError, ShmRegion, ShmWriter};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("shm-child {args:?}: {e}");
            ExitCode::from(2)
        }
    }
}

fn arg(args: &[String], i: usize) -> Result<&str, ShmError> {
    args.get(i)
        .map(String::as_str)
        .ok_or_else(|| ShmError::BadPath(format!("missing argument {i}")))
}

/// Runs `op` until it fails; says `started` after its first success and
/// then what ended it.
fn until(
    started: &str,
    mut op: impl FnMut() -> Result<(), ShmError>,
) -> Result<ExitCode, ShmError> {
    let mut said = false;
    loop {
        match op() {
            Ok(()) if said => {}
            Ok(()) => {
                println!("{started}");
                let _ = std::io::stdout().flush();
                said = true;
            }
            // A read that gave up on a busy writer: not what this waits for.
            Err(ShmError::WriterStalled { .. }) => {}
            Err(ShmError::Truncated { .. }) => {
                println!("truncated");
                return Ok(ExitCode::SUCCESS);
            }
            Err(e) => {
                println!("{e}");
                return Ok(ExitCode::FAILURE);
            }
        }
    }
}

fn run(args: &[String]) -> Result<ExitCode, ShmError> {
    let root = Root::new(arg(args, 0)?);
    let path = arg(args, 1)?;
    match arg(args, 2)? {
        "hammer" => {
            let writer = ShmWriter::open(&root, path)?;
            let (id, var) = writer
                .schema()
                .lookup(arg(args, 3)?)
                .ok_or_else(|| ShmError::BadPath("variable".into()))?;
            let mut bytes = vec![0u8; var.range().len()];
            for i in 1u32.. {
                for word in bytes.chunks_exact_mut(4) {
                    word.copy_from_slice(&i.to_le_bytes());
                }
                writer.write(id, &bytes)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        "check" => {
            let reader = ShmRegion::open(&root, path)?;
            let (id, var) = reader
                .schema()
                .lookup(arg(args, 3)?)
                .ok_or_else(|| ShmError::BadPath("variable".into()))?;
            let reads: u64 = arg(args, 4)?.parse().unwrap_or(0);
            let mut buf = vec![0u8; var.range().len()];
            let (mut distinct, mut last, mut stalls) = (0u64, u32::MAX, 0u64);
            for _ in 0..reads {
                match reader.read(id, &mut buf) {
                    Ok(()) => {}
                    // Not a torn value: a read that gave up waiting. Counted, retried.
                    Err(ShmError::WriterStalled { .. }) => {
                        stalls += 1;
                        continue;
                    }
                    Err(e) => return Err(e),
                }
                let first = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
                if let Some(bad) = buf.chunks_exact(4).position(|w| w != first.to_le_bytes()) {
                    println!("torn read: word 0 = {first}, word {bad} differs: {buf:?}");
                    return Ok(ExitCode::FAILURE);
                }
                if first != last {
                    distinct += 1;
                    last = first;
                }
            }
            println!("{reads} {distinct} {stalls}");
            Ok(ExitCode::SUCCESS)
        }
        "die-mid-write" => {
            let writer = ShmWriter::open(&root, path)?;
            let (id, var) = writer
                .schema()
                .lookup(arg(args, 3)?)
                .ok_or_else(|| ShmError::BadPath("variable".into()))?;
            let bytes = vec![0xabu8; var.range().len()];
            writer.write_many_then(&[(id, &bytes)], || {
                println!("in-write");
                let _ = std::io::stdout().flush();
                loop {
                    std::thread::sleep(Duration::from_secs(3600));
                }
            })?;
            Ok(ExitCode::SUCCESS)
        }
        "pair" => {
            let writer = ShmWriter::open(&root, path)?;
            let (a, va) = writer
                .schema()
                .lookup(arg(args, 3)?)
                .ok_or_else(|| ShmError::BadPath("a".into()))?;
            let (b, vb) = writer
                .schema()
                .lookup(arg(args, 4)?)
                .ok_or_else(|| ShmError::BadPath("b".into()))?;
            println!("ready");
            let _ = std::io::stdout().flush();
            let mut line = String::new();
            let _ = std::io::stdin().lock().read_line(&mut line);
            let (xa, xb) = (vec![7u8; va.range().len()], vec![9u8; vb.range().len()]);
            writer.write_many(&[(a, &xa), (b, &xb)])?;
            Ok(ExitCode::SUCCESS)
        }
        "rapid" => {
            let writer = ShmWriter::open(&root, path)?;
            let id = writer
                .schema()
                .find(arg(args, 3)?)
                .ok_or_else(|| ShmError::BadPath("variable".into()))?;
            let n: u64 = arg(args, 4)?.parse().unwrap_or(0);
            let mut last = 0;
            for i in 0..n {
                last = writer.set(id, i)?;
            }
            println!("{last}");
            Ok(ExitCode::SUCCESS)
        }
        "telemetry" => {
            let writer = ShmWriter::open(&root, path)?;
            let (id, _) = writer
                .schema()
                .lookup(arg(args, 3)?)
                .ok_or_else(|| ShmError::BadPath("variable".into()))?;
            println!("writing");
            let _ = std::io::stdout().flush();
            for i in 1u64.. {
                writer.write(id, &i.to_le_bytes())?;
                for remote in writer.remote_writes() {
                    let names: Vec<&str> = remote
                        .variables
                        .iter()
                        .filter_map(|v| writer.schema().get(*v).map(|var| var.name.as_str()))
                        .collect();
                    println!("remote {} {}", remote.generation, names.join(","));
                    let _ = std::io::stdout().flush();
                }
                std::thread::sleep(Duration::from_micros(100));
            }
            Ok(ExitCode::SUCCESS)
        }
        "idle" => {
            let writer = ShmWriter::open(&root, path)?;
            println!("ready");
            let _ = std::io::stdout().flush();
            let mut stdin = std::io::stdin().lock();
            let mut line = String::new();
            let _ = stdin.read_line(&mut line);
            match writer.apply_requests() {
                Some(remote) => println!("applied {}", remote.generation),
                None => println!("none"),
            }
            let _ = std::io::stdout().flush();
            let _ = stdin.read_line(&mut line);
            Ok(ExitCode::SUCCESS)
        }
        "hold" => {
            let writer = ShmWriter::open(&root, path)?;
            let (id, var) = writer
                .schema()
                .lookup(arg(args, 3)?)
                .ok_or_else(|| ShmError::BadPath("variable".into()))?;
            let bytes = vec![0xcdu8; var.range().len()];
            let mut stdin = std::io::stdin().lock();
            let mut line = String::new();
            writer.write_many_then(&[(id, &bytes)], || {
                println!("in-write");
                let _ = std::io::stdout().flush();
                let _ = stdin.read_line(&mut line);
            })?;
            println!("written");
            let _ = std::io::stdout().flush();
            let _ = stdin.read_line(&mut line);
            Ok(ExitCode::SUCCESS)
        }
        "readers" => {
            let reader = ShmRegion::open(&root, path)?;
            let (id, var) = reader
                .schema()
                .lookup(arg(args, 3)?)
                .ok_or_else(|| ShmError::BadPath("variable".into()))?;
            let threads: usize = arg(args, 4)?.parse().unwrap_or(1);
            let millis: u64 = arg(args, 5)?.parse().unwrap_or(0);
            let until = std::time::Instant::now() + Duration::from_millis(millis);
            let len = var.range().len();
            let counts = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..threads)
                    .map(|_| scope.spawn(|| read_until(&reader, id, len, until)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or(Err(None)))
                    .collect::<Vec<_>>()
            });
            let (mut reads, mut stalls, mut distinct) = (0u64, 0u64, 0u64);
            for count in counts {
                match count {
                    Ok((r, s, d)) => {
                        (reads, stalls, distinct) = (reads + r, stalls + s, distinct + d)
                    }
                    Err(Some(torn)) => {
                        println!("{torn}");
                        return Ok(ExitCode::FAILURE);
                    }
                    Err(None) => return Ok(ExitCode::FAILURE),
                }
            }
            println!("{reads} {stalls} {distinct}");
            Ok(ExitCode::SUCCESS)
        }
        "read-until" => {
            let reader = ShmRegion::open(&root, path)?;
            let (id, var) = reader
                .schema()
                .lookup(arg(args, 3)?)
                .ok_or_else(|| ShmError::BadPath("variable".into()))?;
            let mut buf = vec![0u8; var.range().len()];
            let mut reads = 0u32;
            until("reading", || {
                // A read reports a cut only when it reaches a lost page or
                // waits on a writer; a writer that died between commits of
                // a cut file leaves nothing to wait on, and the documented
                // way to learn of the cut then is to check the file now
                // and then.
                reads = reads.wrapping_add(1);
                if reads.is_multiple_of(1024) {
                    reader.check_file()?;
                }
                reader.read(id, &mut buf)
            })
        }
        "write-until" => {
            let writer = ShmWriter::open(&root, path)?;
            let (id, var) = writer
                .schema()
                .lookup(arg(args, 3)?)
                .ok_or_else(|| ShmError::BadPath("variable".into()))?;
            let mut bytes = vec![0u8; var.range().len()];
            let mut i = 0u8;
            until("writing", || {
                i = i.wrapping_add(1);
                bytes.fill(i);
                let written = writer.write(id, &bytes).map(drop);
                // Room for the readers of the region between commits.
                std::thread::sleep(Duration::from_micros(200));
                written
            })
        }
        other => Err(ShmError::BadPath(format!("unknown mode {other}"))),
    }
}

/// One reader thread of `readers`: reads `id` until `until`, checking that
/// every word of a read is the same. Counts reads, `WriterStalled` answers
/// and values seen; `Err` with what a torn read held.
fn read_until(
    reader: &ShmRegion,
    id: memwire::VarId,
    len: usize,
    until: std::time::Instant,
) -> Result<(u64, u64, u64), Option<String>> {
    let mut buf = vec![0u8; len];
    let (mut reads, mut stalls, mut distinct, mut last) = (0u64, 0u64, 0u64, u32::MAX);
    while std::time::Instant::now() < until {
        match reader.read(id, &mut buf) {
            Ok(()) => reads += 1,
            Err(ShmError::WriterStalled { .. }) => {
                stalls += 1;
                continue;
            }
            Err(e) => return Err(Some(format!("read failed: {e}"))),
        }
        let first = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
        if let Some(bad) = buf.chunks_exact(4).position(|w| w != first.to_le_bytes()) {
            return Err(Some(format!(
                "torn read: word 0 = {first}, word {bad} differs"
            )));
        }
        if first != last {
            distinct += 1;
            last = first;
        }
    }
    Ok((reads, stalls, distinct))
}
