//! One recorded update of a region: its generation, whether it is a full
//! snapshot, whether updates before it were lost, and the changed byte
//! ranges of the data area. The binary form, little-endian:
//!
//! ```text
//! u8   flags        bit 0: snapshot (the ranges cover the whole data area)
//!                   bit 1: gap (the recorder lost the hub before this one)
//! u64  generation
//! u32  range count
//! per range: u32 offset, u32 length, `length` bytes
//! ```

use memwire::schema::{Schema, VarId};
use thiserror::Error;

/// The flag of a full snapshot.
const SNAPSHOT: u8 = 1;
/// The flag of an update after a gap.
const GAP: u8 = 2;

/// One recorded update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    /// The region's generation after it.
    pub generation: u64,
    /// The ranges cover the whole data area: a reader may start here.
    pub snapshot: bool,
    /// The recorder lost the hub (or the region) before this update:
    /// changes between the previous update and this one were not seen.
    pub gap: bool,
    /// The changed bytes: `(offset in the data area, bytes)`, ascending.
    pub ranges: Vec<(u32, Vec<u8>)>,
}

/// Why a message is not an [`Update`].
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum UpdateError {
    /// The message ends before the lengths it states.
    #[error("the update is cut short")]
    Truncated,
    /// Bytes follow the last range.
    #[error("the update has bytes after its last range")]
    Trailing,
    /// The flags hold a bit this version does not know.
    #[error("the update has unknown flags {0:#04x}")]
    Flags(u8),
}

impl Update {
    /// The update as a message's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let len: usize = self.ranges.iter().map(|(_, b)| 8 + b.len()).sum();
        let mut out = Vec::with_capacity(13 + len);
        Update::encode_ranges(
            self.generation,
            self.snapshot,
            self.gap,
            self.ranges.iter().map(|(o, b)| (*o, b.as_slice())),
            &mut out,
        );
        out
    }

    /// Writes the bytes of an update into `out` (cleared first) from
    /// borrowed ranges, without building an [`Update`].
    pub fn encode_ranges<'a>(
        generation: u64,
        snapshot: bool,
        gap: bool,
        ranges: impl ExactSizeIterator<Item = (u32, &'a [u8])>,
        out: &mut Vec<u8>,
    ) {
        out.clear();
        let flags = if snapshot { SNAPSHOT } else { 0 } | if gap { GAP } else { 0 };
        out.push(flags);
        out.extend_from_slice(&generation.to_le_bytes());
        let count = u32::try_from(ranges.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&count.to_le_bytes());
        for (offset, bytes) in ranges.take(count as usize) {
            out.extend_from_slice(&offset.to_le_bytes());
            let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(bytes.get(..len as usize).unwrap_or(bytes));
        }
    }

    /// Reads a message's bytes.
    pub fn decode(bytes: &[u8]) -> Result<Update, UpdateError> {
        let mut rest = bytes;
        let flags = take(&mut rest, 1)?.first().copied().unwrap_or(0);
        if flags & !(SNAPSHOT | GAP) != 0 {
            return Err(UpdateError::Flags(flags));
        }
        let generation = u64::from_le_bytes(array(take(&mut rest, 8)?));
        let count = u32::from_le_bytes(array(take(&mut rest, 4)?));
        // Each range takes at least 8 bytes: a count larger than that is cut
        // short, whatever it says.
        if count as usize > rest.len() / 8 {
            return Err(UpdateError::Truncated);
        }
        let mut ranges = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let offset = u32::from_le_bytes(array(take(&mut rest, 4)?));
            let len = u32::from_le_bytes(array(take(&mut rest, 4)?));
            ranges.push((offset, take(&mut rest, len as usize)?.to_vec()));
        }
        if !rest.is_empty() {
            return Err(UpdateError::Trailing);
        }
        Ok(Update {
            generation,
            snapshot: flags & SNAPSHOT != 0,
            gap: flags & GAP != 0,
            ranges,
        })
    }

    /// Applies the ranges to `data` (a data area); false when a range falls
    /// outside it (nothing is written then).
    pub fn apply(&self, data: &mut [u8]) -> bool {
        let fits = self.ranges.iter().all(|(offset, bytes)| {
            (*offset as usize)
                .checked_add(bytes.len())
                .is_some_and(|end| end <= data.len())
        });
        if fits {
            for (offset, bytes) in &self.ranges {
                let start = *offset as usize;
                if let Some(target) = data.get_mut(start..start + bytes.len()) {
                    target.copy_from_slice(bytes);
                }
            }
        }
        fits
    }
}

impl Update {
    /// The ids of the variables its ranges touch, ascending (every
    /// variable for a snapshot).
    pub fn touched(&self, schema: Schema<'_>) -> Vec<VarId> {
        let mut ids: Vec<VarId> = Vec::new();
        for (offset, bytes) in &self.ranges {
            let start = *offset as usize;
            for i in schema.overlapping(start..start.saturating_add(bytes.len())) {
                let id = VarId(u32::try_from(i).unwrap_or(u32::MAX));
                if ids.last() != Some(&id) {
                    ids.push(id);
                }
            }
        }
        ids
    }
}

fn take<'a>(rest: &mut &'a [u8], n: usize) -> Result<&'a [u8], UpdateError> {
    if rest.len() < n {
        return Err(UpdateError::Truncated);
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Ok(head)
}

fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(bytes);
    out
}

#[cfg(test)]
mod tests {
    use super::{Update, UpdateError};

    #[test]
    fn round_trip_and_bounds() {
        let update = Update {
            generation: 0x0102_0304_0506_0708,
            snapshot: false,
            gap: true,
            ranges: vec![(4, vec![1, 2, 3]), (16, vec![9])],
        };
        let bytes = update.encode();
        assert_eq!(bytes[0], 2);
        assert_eq!(&bytes[1..9], &0x0102_0304_0506_0708_u64.to_le_bytes());
        assert_eq!(&bytes[9..13], &2_u32.to_le_bytes());
        assert_eq!(&bytes[13..17], &4_u32.to_le_bytes());
        assert_eq!(&bytes[17..21], &3_u32.to_le_bytes());
        assert_eq!(Update::decode(&bytes), Ok(update.clone()));
        for cut in 0..bytes.len() {
            assert_eq!(Update::decode(&bytes[..cut]), Err(UpdateError::Truncated));
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(Update::decode(&longer), Err(UpdateError::Trailing));
        let mut data = [0_u8; 17];
        assert!(update.apply(&mut data));
        assert_eq!(&data[4..7], &[1, 2, 3]);
        assert_eq!(data[16], 9);
        let mut short = [0_u8; 16];
        assert!(!update.apply(&mut short));
        assert_eq!(short, [0; 16]);
    }
}
