//! Whether an open region file is still the one a handle opened
//! ([`Identity`]): the file its name leads to now (device and inode, the
//! name looked up without following a link) and the bytes that never change
//! after creation, copied when it was opened.
//!
//! A mapping outlives its file's name: after `rm` or `mv` a handle keeps
//! reading and writing the unlinked file while a new file may take the name.
//! The hub, which serves a name for days, asks [`Identity::check`] at its
//! scanner's slow cadence and before each remote write.

use std::io;
use std::ops::Range;
use std::path::Path;

use memwire::layout::{CHECKED_ENTRY_LEN, CHECKED_HEADER_LEN, ENTRY_LEN, HEADER_LEN};
use memwire::sync::{AtomicU32, Ordering};

use super::error::ShmError;
use super::liveness::FileId;

const WORD: usize = 4;
/// The checksum word pair follows the checked header fields.
const CHECKSUM_LEN: usize = 8;

/// The identity of an open region file.
#[derive(Debug)]
pub(crate) struct Identity {
    /// The open file, as `open.rs` took it.
    file: FileId,
    /// The word ranges of the immutable bytes: the header's fields and
    /// checksum, each table entry but its live words, the name index.
    fixed: Vec<Range<usize>>,
    /// Their values when the file was opened, range after range.
    copy: Vec<u32>,
}

impl Identity {
    /// Takes the identity of `file` (`None`: its `fstat` failed), mapped as
    /// `words`, holding `variables` variables (its layout already checked).
    pub(crate) fn take(
        file: Option<FileId>,
        words: &[AtomicU32],
        variables: usize,
        path: &Path,
    ) -> Result<Identity, ShmError> {
        let file = file.ok_or_else(|| {
            ShmError::io(
                "fstat",
                path,
                io::Error::other("the open file has no device and inode"),
            )
        })?;
        let fixed = fixed_words(variables);
        let copy = fixed
            .iter()
            .flat_map(|range| words.get(range.clone()).unwrap_or(&[]))
            .map(|w| w.load(Ordering::Relaxed))
            .collect();
        Ok(Identity { file, fixed, copy })
    }

    /// Checks that `path` still names this file and that the immutable
    /// bytes of `words` are as they were at open: [`ShmError::Removed`],
    /// [`ShmError::Replaced`] or [`ShmError::HeaderChanged`] if not.
    pub(crate) fn check(&self, words: &[AtomicU32], path: &Path) -> Result<(), ShmError> {
        match std::fs::symlink_metadata(path) {
            Ok(now) if self.file.is(&now) => {}
            Ok(_) => {
                return Err(ShmError::Replaced {
                    path: path.to_owned(),
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(ShmError::Removed {
                    path: path.to_owned(),
                });
            }
            Err(e) => return Err(ShmError::io("stat", path, e)),
        }
        let now = self
            .fixed
            .iter()
            .flat_map(|range| words.get(range.clone()).unwrap_or(&[]))
            .map(|w| w.load(Ordering::Relaxed));
        if now.ne(self.copy.iter().copied()) {
            return Err(ShmError::HeaderChanged {
                path: path.to_owned(),
            });
        }
        Ok(())
    }
}

/// The word ranges a region of `variables` variables never changes after
/// creation (`spec/region-layout.md`, "Checksum", plus the checksum itself).
fn fixed_words(variables: usize) -> Vec<Range<usize>> {
    let mut fixed = Vec::with_capacity(variables + 2);
    fixed.push(0..(CHECKED_HEADER_LEN + CHECKSUM_LEN) / WORD);
    for i in 0..variables {
        let start = (HEADER_LEN + i * ENTRY_LEN) / WORD;
        fixed.push(start..start + CHECKED_ENTRY_LEN / WORD);
    }
    let index = (HEADER_LEN + variables * ENTRY_LEN) / WORD;
    fixed.push(index..index + variables);
    fixed
}

#[cfg(test)]
mod tests {
    use memwire::schema::{Kind, SchemaBuf, SchemaBuilder};

    use super::*;
    use crate::shm::{Root, ShmWriter, TurnWriter};

    static SCHEMA: SchemaBuf<1> = SchemaBuilder::new().var("x", Kind::U64, 1).build();

    /// A region `t/r` under a fresh root, and a turn writer of it.
    fn opened(name: &str) -> (std::path::PathBuf, Root, TurnWriter) {
        let dir = std::env::temp_dir().join(format!("memwire-unit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let root = Root::new(&dir);
        drop(ShmWriter::create(&root, "t/r", SCHEMA.as_schema()).unwrap());
        let writer = TurnWriter::open(&root, "t/r", None).unwrap();
        (dir, root, writer)
    }

    #[test]
    fn writes_and_commits_keep_the_identity() {
        let (dir, _root, writer) = opened("identity-same");
        writer.write_ranges(&[(0, &7u64.to_le_bytes())]).unwrap();
        writer.check().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_removed_replaced_or_changed_file_is_told_apart() {
        let (dir, root, writer) = opened("identity-changed");
        let path = root.file_of("t/r").unwrap();
        let moved = root.file_of("t/moved").unwrap();
        std::fs::rename(&path, &moved).unwrap();
        assert!(matches!(writer.check(), Err(ShmError::Removed { .. })));
        drop(ShmWriter::create(&root, "t/r", SCHEMA.as_schema()).unwrap());
        assert!(matches!(writer.check(), Err(ShmError::Replaced { .. })));
        std::fs::rename(&moved, &path).unwrap();
        writer.check().unwrap();
        // A name byte of the first table entry.
        let words = writer.reader().region().words();
        words[HEADER_LEN / WORD].fetch_xor(1, Ordering::Relaxed);
        assert!(matches!(
            writer.check(),
            Err(ShmError::HeaderChanged { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_fixed_words_skip_the_live_ones() {
        let fixed = fixed_words(2);
        // Header fields and checksum; not the commit, writer or generation.
        assert_eq!(fixed[0], 0..18);
        // Each entry but its sequence counter and reserved word.
        assert_eq!(fixed[1], 48..62);
        assert_eq!(fixed[2], 64..78);
        // The name index: one word per variable.
        assert_eq!(fixed[3], 80..82);
    }
}
