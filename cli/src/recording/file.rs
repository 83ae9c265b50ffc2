//! A recording read back whole: its channels (one per region) and their
//! updates, in the order of the file (which is time order: the recorder
//! writes as it receives).
//!
//! A file without its end (no footer and closing magic: the recorder was
//! killed, or the disk filled) is read up to its last whole chunk and
//! marked [`cut`](Recording::cut); a complete file must be valid to the
//! end.

use std::path::Path;

use thiserror::Error;

use super::{Layout, LayoutJsonError, MESSAGE_ENCODING, SCHEMA_ENCODING, Update, UpdateError};

/// A recorded region.
#[derive(Debug)]
pub struct Channel {
    /// `tenant/region`, the channel's topic.
    pub path: String,
    /// Its schema and data area size.
    pub layout: Layout,
    /// The MCAP channel id.
    pub id: u16,
}

/// One update of a channel, as recorded.
#[derive(Debug)]
pub struct Recorded {
    /// The index of its channel in [`Recording::channels`].
    pub channel: usize,
    /// When the recorder received it, in nanoseconds since the Unix epoch.
    pub time_ns: u64,
    /// The update.
    pub update: Update,
}

/// A recording: its channels and every update.
#[derive(Debug)]
pub struct Recording {
    /// The channels, in the order of their first message.
    pub channels: Vec<Channel>,
    /// The updates, in file order.
    pub updates: Vec<Recorded>,
    /// The file ends early, without its summary: the updates are those
    /// before the cut.
    pub cut: bool,
}

/// Why a file cannot be read as a recording.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RecordingError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid MCAP file.
    #[error("not a readable MCAP file: {0}")]
    Mcap(#[from] mcap::McapError),
    /// A channel is not a memwire region.
    #[error("channel `{0}` is not a memwire region (schema or message encoding)")]
    Foreign(String),
    /// A channel's schema record cannot be read.
    #[error("channel `{topic}`: {source}")]
    Layout {
        /// The channel's topic.
        topic: String,
        /// Why.
        source: LayoutJsonError,
    },
    /// A message cannot be read.
    #[error("channel `{topic}`, message {sequence}: {source}")]
    Update {
        /// The channel's topic.
        topic: String,
        /// The message's sequence number.
        sequence: u32,
        /// Why.
        source: UpdateError,
    },
}

impl Recording {
    /// Reads the file at `path`.
    pub fn read(path: &Path) -> Result<Recording, RecordingError> {
        let bytes = std::fs::read(path).map_err(|source| RecordingError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Recording::parse(&bytes)
    }

    /// Reads a file's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Recording, RecordingError> {
        let mut channels: Vec<Channel> = Vec::new();
        let mut updates = Vec::new();
        let cut = mcap::read::footer(bytes).is_err();
        // A complete file ends with its footer and magic, checked above.
        let options = mcap::read::Options::IgnoreEndMagic.into();
        let stream = match mcap::MessageStream::new_with_options(bytes, options) {
            Ok(stream) => stream,
            // Cut within the header: a file with nothing recorded.
            Err(mcap::McapError::UnexpectedEof) if cut => {
                return Ok(Recording {
                    channels,
                    updates,
                    cut,
                });
            }
            Err(e) => return Err(e.into()),
        };
        for message in stream {
            let message = match message {
                Ok(message) => message,
                // The last record is cut short: what came before stands.
                Err(mcap::McapError::UnexpectedEof) if cut => break,
                Err(e) => return Err(e.into()),
            };
            let topic = &message.channel.topic;
            let index = match channels.iter().position(|c| c.id == message.channel.id) {
                Some(index) => index,
                None => {
                    let schema = message
                        .channel
                        .schema
                        .as_ref()
                        .filter(|s| s.encoding == SCHEMA_ENCODING)
                        .filter(|_| message.channel.message_encoding == MESSAGE_ENCODING)
                        .ok_or_else(|| RecordingError::Foreign(topic.clone()))?;
                    let layout = Layout::from_json(&schema.data).map_err(|source| {
                        RecordingError::Layout {
                            topic: topic.clone(),
                            source,
                        }
                    })?;
                    channels.push(Channel {
                        path: topic.clone(),
                        layout,
                        id: message.channel.id,
                    });
                    channels.len() - 1
                }
            };
            let update =
                Update::decode(&message.data).map_err(|source| RecordingError::Update {
                    topic: topic.clone(),
                    sequence: message.sequence,
                    source,
                })?;
            updates.push(Recorded {
                channel: index,
                time_ns: message.log_time,
                update,
            });
        }
        Ok(Recording {
            channels,
            updates,
            cut,
        })
    }
}
