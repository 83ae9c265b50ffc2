//! Whether a region's writer is alive, asked of the operating system: the
//! writer lock held on the file ([`Holder`]), read from `/proc/locks`, and
//! the state of the process holding it, from `/proc/<pid>/stat`.
//!
//! The lock is looked up rather than tried: taking it, even shared and for
//! an instant, would make a writer opening the region at that instant fail
//! with `WriterBusy`. Where `/proc` cannot tell, the answer is
//! [`Holder::Unknown`] and readers fall back to the stall bound alone.

use std::fs::{File, Metadata};
use std::os::unix::fs::MetadataExt;

/// A region file as the kernel names it in its lock table: its device and
/// inode, taken once when a handle opens it. `identity.rs` compares it with
/// what the region's name leads to now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileId {
    major: u32,
    minor: u32,
    inode: u64,
}

impl FileId {
    /// The device and inode of an open file; `None` if `fstat` fails.
    pub(crate) fn of(file: &File) -> Option<FileId> {
        let st = rustix::fs::fstat(file).ok()?;
        #[allow(clippy::useless_conversion, reason = "ino_t is u32 on some platforms")]
        Some(FileId::new(st.st_dev, u64::from(st.st_ino)))
    }

    /// Whether `meta` (a `stat` of a name) is of this file.
    pub(crate) fn is(&self, meta: &Metadata) -> bool {
        FileId::new(meta.dev(), meta.ino()) == *self
    }

    fn new(dev: u64, inode: u64) -> FileId {
        FileId {
            major: rustix::fs::major(dev),
            minor: rustix::fs::minor(dev),
            inode,
        }
    }
}

/// Who holds a region's writer lock, as far as the system tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Holder {
    /// A running (or sleeping) process holds the lock: its write in
    /// progress will end.
    Live,
    /// The holder is stopped (`SIGSTOP`, a debugger): nothing moves until
    /// someone resumes it.
    Stopped,
    /// Nobody holds the lock, or the process that took it is gone (a copy
    /// of its descriptor in a forked child keeps the lock): a write in
    /// progress was left by a dead writer.
    Dead,
    /// The system could not tell (no `/proc`, or the file unknown).
    Unknown,
}

/// The holder of `file`'s writer lock.
///
/// Its pid comes from the lock table, not from the header's writer word:
/// the table's pid is the process that took the lock, seen from this pid
/// namespace, while the header holds whatever the writer recorded in its
/// own (and a dead writer's pid may since name another process).
pub(crate) fn holder(file: Option<FileId>) -> Holder {
    let Some(file) = file else {
        return Holder::Unknown;
    };
    let Ok(table) = std::fs::read_to_string("/proc/locks") else {
        return Holder::Unknown;
    };
    match lock_holder(&table, file) {
        None => Holder::Dead,
        Some(pid) if pid > 0 => process(pid),
        // A holder outside this pid namespace reads 0: it exists, and its
        // state cannot be seen from here.
        Some(_) => Holder::Live,
    }
}

/// The pid that holds an exclusive `flock` on `file` in `/proc/locks`
/// (`1: FLOCK  ADVISORY  WRITE 862 fe:00:10010638 0 EOF`), if one does.
/// Lines with `->` are waiters, not holders.
fn lock_holder(table: &str, file: FileId) -> Option<i64> {
    table.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.contains(&"->") || !fields.contains(&"FLOCK") {
            return None;
        }
        let at = fields.iter().position(|f| f.matches(':').count() == 2)?;
        let (kind, pid) = (fields.get(at.checked_sub(2)?)?, fields.get(at - 1)?);
        let id = parse_id(fields.get(at)?)?;
        (*kind == "WRITE" && id == file).then(|| pid.parse().ok())?
    })
}

/// `major:minor:inode`, the first two in hexadecimal.
fn parse_id(text: &str) -> Option<FileId> {
    let mut parts = text.split(':');
    let major = u32::from_str_radix(parts.next()?, 16).ok()?;
    let minor = u32::from_str_radix(parts.next()?, 16).ok()?;
    let inode = parts.next()?.parse().ok()?;
    Some(FileId {
        major,
        minor,
        inode,
    })
}

/// The state of process `pid` from `/proc/<pid>/stat`.
fn process(pid: i64) -> Holder {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => state(&stat),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Holder::Dead,
        Err(_) => Holder::Unknown,
    }
}

/// The holder a `stat` line describes: its state is the first field after
/// the command name, which is in parentheses and may hold any byte.
fn state(stat: &str) -> Holder {
    let after = stat.rfind(')').map_or("", |at| &stat[at + 1..]);
    match after.trim_start().chars().next() {
        Some('T' | 't') => Holder::Stopped,
        Some('Z' | 'X' | 'x') => Holder::Dead,
        Some(_) => Holder::Live,
        None => Holder::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: FileId = FileId {
        major: 0xfe,
        minor: 0,
        inode: 10010638,
    };

    #[test]
    fn the_lock_table_names_the_exclusive_holder_of_the_file() {
        let table = "\
1: POSIX  ADVISORY  WRITE 10 fe:00:10010638 0 EOF
2: FLOCK  ADVISORY  READ 11 fe:00:10010638 0 EOF
3: FLOCK  ADVISORY  WRITE 12 00:1b:10010638 0 EOF
4: -> FLOCK  ADVISORY  WRITE 13 fe:00:10010638 0 EOF
5: FLOCK  ADVISORY  WRITE 14 fe:00:10010638 0 EOF
";
        assert_eq!(lock_holder(table, FILE), Some(14));
        let without = table.lines().take(4).collect::<Vec<_>>().join("\n");
        assert_eq!(lock_holder(&without, FILE), None);
    }

    #[test]
    fn a_stat_line_tells_stopped_dead_and_live_processes() {
        assert_eq!(state("42 (a) b) T 1 2"), Holder::Stopped);
        assert_eq!(state("42 (gdb target) t 1 2"), Holder::Stopped);
        assert_eq!(state("42 (w) Z 1 2"), Holder::Dead);
        assert_eq!(state("42 (w) R 1 2"), Holder::Live);
        assert_eq!(state("42 (w) S 1 2"), Holder::Live);
        assert_eq!(state(""), Holder::Unknown);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_holding_a_lock_is_live_and_none_is_dead() {
        let path = std::env::temp_dir().join(format!("memwire-unit-live-{}", std::process::id()));
        let file = File::create(&path).unwrap();
        let id = FileId::of(&file);
        let _ = std::fs::remove_file(&path);
        assert_eq!(holder(id), Holder::Dead);
        assert!(super::super::file::try_lock(&file).unwrap());
        assert_eq!(holder(id), Holder::Live);
        assert_eq!(holder(None), Holder::Unknown);
    }
}
