//! What the shared-memory tests share: a private root per test, a schema,
//! and the child process.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use memwire::schema::{Kind, SchemaBuf, SchemaBuilder};
use memwire_std::shm::Root;

/// `wide` is 64 words, so a torn copy is likely to show if the seqlock
/// ever accepted one.
pub static SCHEMA: SchemaBuf<5> = SchemaBuilder::new()
    .var("counter", Kind::U64, 1)
    .var("wide", Kind::U32, 64)
    .var("speed", Kind::F32, 1)
    .var("mode", Kind::U32, 1)
    .var("label", Kind::Bytes, 12)
    .build();

/// A fresh root directory for one test, removed when dropped.
pub struct TempRoot {
    pub root: Root,
}

impl TempRoot {
    pub fn new(test: &str) -> TempRoot {
        let dir: PathBuf =
            std::env::temp_dir().join(format!("memwire-test-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempRoot {
            root: Root::new(dir),
        }
    }

    pub fn dir(&self) -> &Path {
        self.root.dir()
    }
}

impl Drop for TempRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.root.dir());
    }
}

/// Starts `shm-child <root> <path> <args…>` with piped stdio.
pub fn child(root: &TempRoot, path: &str, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_shm-child"))
        .arg(root.dir())
        .arg(path)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn shm-child")
}

/// Reads one line of a child's stdout.
pub fn line(child: &mut Child) -> String {
    use std::io::BufRead;
    let out = child.stdout.as_mut().expect("piped stdout");
    let mut reader = std::io::BufReader::new(out);
    let mut line = String::new();
    reader.read_line(&mut line).expect("read child stdout");
    line.trim().to_owned()
}
