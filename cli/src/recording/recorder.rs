//! [`Recorder`]: writes regions' updates into an MCAP file: the ranges an
//! update wrote ([`record_update`](Recorder::record_update), what
//! `memwire record` gives it for every update its mirror applies), or the
//! ranges that changed since the state it saw last, found by diffing
//! against its own copy ([`record`](Recorder::record)); and a full
//! snapshot when asked (the first update, after a gap, and periodically,
//! so a reader can start there).
//!
//! Chunks are written whole (the writer does not seek back into a chunk
//! it started), each when it reaches [`CHUNK_SIZE`] or at a
//! [`flush`](Recorder::flush): a recorder killed before
//! [`finish`](Recorder::finish) leaves a file whose chunks a linear reader
//! reads up to the cut (`file.rs`).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Seek, Write};
use std::path::Path;

use memwire::diff::{ByteRange, DiffError, Differ};
use memwire::schema::Schema;

use super::{Layout, MESSAGE_ENCODING, PROFILE, SCHEMA_ENCODING, SCHEMA_NAME, Update};

/// The bytes of messages a chunk holds before it is written out.
pub const CHUNK_SIZE: u64 = 256 * 1024;

/// Ranges a delta keeps apart; more are merged (the diff merges the
/// closest first), so an update costs at most this many range headers.
const RANGES: usize = 64;

/// What [`Recorder::record`] wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    /// Nothing: the state's generation was recorded already.
    Nothing,
    /// The changed ranges.
    Delta,
    /// The whole data area.
    Snapshot,
}

/// Why [`Recorder::record_update`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The file could not be written.
    #[error(transparent)]
    Mcap(#[from] mcap::McapError),
    /// A span of the update lies outside the region's data area (nothing
    /// is recorded).
    #[error(transparent)]
    Outside(#[from] UpdateOutside),
}

/// A span of an update outside the region's data area.
#[derive(Clone, Copy, Debug, thiserror::Error, PartialEq, Eq)]
#[error("an update reaches outside the region's data area")]
pub struct UpdateOutside;

/// One region being recorded.
struct Track {
    channel: u16,
    sequence: u32,
    /// The data area as last recorded.
    shadow: Vec<u8>,
    /// The generation last recorded; `None` before the first.
    generation: Option<u64>,
}

impl Track {
    /// Writes `message`, the record of this region at `generation`,
    /// received at `time_ns`, as the channel's next message.
    fn write<W: Write + Seek>(
        &mut self,
        writer: &mut mcap::Writer<W>,
        message: &[u8],
        generation: u64,
        time_ns: u64,
    ) -> Result<(), mcap::McapError> {
        self.generation = Some(generation);
        let header = mcap::records::MessageHeader {
            channel_id: self.channel,
            sequence: self.sequence,
            log_time: time_ns,
            publish_time: time_ns,
        };
        self.sequence = self.sequence.wrapping_add(1);
        writer.write_to_known_channel(&header, message)
    }
}

/// An MCAP file being written; [`finish`](Self::finish) writes its summary.
pub struct Recorder<W: Write + Seek = BufWriter<File>> {
    writer: mcap::Writer<W>,
    tracks: Vec<Track>,
    differ: Differ,
    ranges: Vec<ByteRange>,
    message: Vec<u8>,
}

impl Recorder {
    /// Creates (or truncates) the file at `path`.
    pub fn create(path: &Path) -> Result<Recorder, mcap::McapError> {
        let file = File::create(path)?;
        Recorder::new(BufWriter::new(file))
    }
}

impl<W: Write + Seek> Recorder<W> {
    /// A recording written to `out`: uncompressed chunks, with the summary
    /// and indexes a reader seeks by.
    pub fn new(out: W) -> Result<Recorder<W>, mcap::McapError> {
        let writer = mcap::WriteOptions::new()
            .profile(PROFILE)
            .library(format!("memwire {}", env!("CARGO_PKG_VERSION")))
            .compression(None)
            .chunk_size(Some(CHUNK_SIZE))
            // Chunks are kept in memory until whole and then written at
            // once, so that a file cut short ends with whole chunks, or
            // with a part of the last one that a reader sees as cut.
            .disable_seeking(true)
            .create(out)?;
        Ok(Recorder {
            writer,
            tracks: Vec::new(),
            differ: Differ::new(),
            ranges: vec![ByteRange::new(0, 0); RANGES],
            message: Vec::new(),
        })
    }

    /// Adds region `path` (`tenant/region`) with `schema` and a data area of
    /// `data_len` bytes: its schema record and channel. Returns the
    /// region's index for [`record`](Self::record).
    pub fn add_region(
        &mut self,
        path: &str,
        schema: Schema<'_>,
        data_len: usize,
    ) -> Result<usize, mcap::McapError> {
        let layout = Layout::new(schema, data_len);
        let schema_id = self
            .writer
            .add_schema(SCHEMA_NAME, SCHEMA_ENCODING, &layout.to_json())?;
        let mut metadata = BTreeMap::new();
        metadata.insert("data_len".to_owned(), data_len.to_string());
        let channel = self
            .writer
            .add_channel(schema_id, path, MESSAGE_ENCODING, &metadata)?;
        self.tracks.push(Track {
            channel,
            sequence: 0,
            shadow: vec![0; data_len],
            generation: None,
        });
        Ok(self.tracks.len() - 1)
    }

    /// Records the state `data` of region `index` at `generation`, received
    /// at `time_ns` (nanoseconds since the Unix epoch): the ranges changed
    /// since the last state recorded, or the whole area when `snapshot`,
    /// `gap` (marked in the update) or this is the region's first state.
    pub fn record(
        &mut self,
        index: usize,
        generation: u64,
        data: &[u8],
        snapshot: bool,
        gap: bool,
        time_ns: u64,
    ) -> Result<Written, mcap::McapError> {
        let Some(track) = self.tracks.get_mut(index) else {
            return Err(mcap::McapError::UnknownChannel(0, u16::MAX));
        };
        if track.generation == Some(generation) && !gap {
            return Ok(Written::Nothing);
        }
        let whole =
            snapshot || gap || track.generation.is_none() || data.len() != track.shadow.len();
        let written = if whole {
            track.shadow.clear();
            track.shadow.extend_from_slice(data);
            let offset_len = (0_u32, data);
            Update::encode_ranges(
                generation,
                true,
                gap,
                std::iter::once(offset_len),
                &mut self.message,
            );
            Written::Snapshot
        } else {
            let spans: &[ByteRange] =
                match self
                    .differ
                    .update(data, &mut track.shadow, &mut self.ranges, None)
                {
                    Ok(n) => self.ranges.get(..n).unwrap_or(&[]),
                    Err(DiffError::Overflow(o)) => {
                        track.shadow.copy_from_slice(data);
                        self.ranges[0] = o.span;
                        &self.ranges[..1]
                    }
                    Err(_) => {
                        track.shadow.copy_from_slice(data);
                        self.ranges[0] = ByteRange::new(0, data.len());
                        &self.ranges[..1]
                    }
                };
            Update::encode_ranges(
                generation,
                false,
                false,
                spans.iter().map(|r| {
                    let offset = u32::try_from(r.start).unwrap_or(u32::MAX);
                    (offset, data.get(r.as_range()).unwrap_or(&[]))
                }),
                &mut self.message,
            );
            Written::Delta
        };
        track.write(&mut self.writer, &self.message, generation, time_ns)?;
        Ok(written)
    }

    /// Records an update of region `index` that wrote `spans` (offset,
    /// bytes; ascending, within the data area) and left it at
    /// `generation`, received at `time_ns`: the spans as they are, or the
    /// whole area after them when `snapshot`, `gap` (marked in the update),
    /// the update wrote the whole area, or it is the region's first.
    /// Every update is recorded, whatever its generation.
    pub fn record_update<'s>(
        &mut self,
        index: usize,
        generation: u64,
        spans: impl Iterator<Item = (usize, &'s [u8])> + Clone,
        snapshot: bool,
        gap: bool,
        time_ns: u64,
    ) -> Result<Written, RecordError> {
        let Some(track) = self.tracks.get_mut(index) else {
            return Err(mcap::McapError::UnknownChannel(0, u16::MAX).into());
        };
        let fits = spans.clone().all(|(offset, bytes)| {
            offset
                .checked_add(bytes.len())
                .is_some_and(|end| end <= track.shadow.len())
        });
        if !fits {
            return Err(UpdateOutside.into());
        }
        let mut covered = 0;
        for (offset, bytes) in spans.clone() {
            let Some(target) = offset
                .checked_add(bytes.len())
                .and_then(|end| track.shadow.get_mut(offset..end))
            else {
                return Err(UpdateOutside.into());
            };
            target.copy_from_slice(bytes);
            covered += bytes.len();
        }
        let whole = snapshot || gap || track.generation.is_none() || covered == track.shadow.len();
        let written = if whole {
            let offset_len = (0_u32, track.shadow.as_slice());
            let ranges = std::iter::once(offset_len);
            Update::encode_ranges(generation, true, gap, ranges, &mut self.message);
            Written::Snapshot
        } else {
            let ranges: Vec<(u32, &[u8])> = spans
                .map(|(offset, bytes)| (u32::try_from(offset).unwrap_or(u32::MAX), bytes))
                .collect();
            Update::encode_ranges(
                generation,
                false,
                false,
                ranges.into_iter(),
                &mut self.message,
            );
            Written::Delta
        };
        track.write(&mut self.writer, &self.message, generation, time_ns)?;
        Ok(written)
    }

    /// Writes out the chunk in progress and flushes the file: what was
    /// recorded so far survives the recorder being killed.
    pub fn flush(&mut self) -> Result<(), mcap::McapError> {
        self.writer.flush()
    }

    /// Writes the summary and flushes: the file is complete.
    pub fn finish(mut self) -> Result<W, mcap::McapError> {
        self.writer.finish()?;
        let mut out = self.writer.into_inner();
        out.flush()?;
        Ok(out)
    }
}
