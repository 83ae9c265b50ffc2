//! The payloads put on a region's keys (`spec/zenoh-keys.md`), encoded
//! with the wire format's rules (`spec/wire-format.md` §2: varints are
//! unsigned LEB128, `fixed u64` is 8 bytes little-endian, `bytes` and `str`
//! a varint length then the bytes) and its nested types: the ranges are
//! `RangeEntry*` exactly as an Update frame carries them after its header,
//! the schema is `VarEntry*` exactly as a Schema frame's `variables`.

use memwire::Variable;
use memwire::codec::{ErrorCode, Ranges, Span, VarTable};
use memwire::diff::ByteRange;
use memwire_std::schema::OwnedSchema;

/// Why a payload could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// The payload ends inside a field.
    #[error("the payload ends inside a field")]
    Truncated,
    /// A field holds a value it may not (a varint too long, ranges out of
    /// order, a variable table that is not a valid schema).
    #[error("a field of the payload is invalid")]
    Invalid,
}

/// The state of a region an update takes a copy to: `generation` of
/// `instance`, from `base` (0: a full update, whose one range covers the
/// whole data area).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    /// The owner's region file's instance.
    pub instance: u64,
    /// The fingerprint of its schema.
    pub fingerprint: u64,
    /// The generation a copy must hold to apply it; 0 for a full update.
    pub base: u64,
    /// The generation the copy holds after it.
    pub generation: u64,
    /// The ranges: `RangeEntry*`, as in an Update frame.
    pub ranges: Vec<u8>,
}

impl Update {
    /// The update taking a copy from `base` to `generation` with the bytes
    /// of `data` in `ranges` (ascending, not overlapping; empty ranges are
    /// left out). A full update when `ranges` is `None`.
    pub fn cut(
        instance: u64,
        fingerprint: u64,
        base: u64,
        generation: u64,
        data: &[u8],
        ranges: Option<&[ByteRange]>,
    ) -> Update {
        let whole = [ByteRange::new(0, data.len())];
        let (base, ranges) = match ranges {
            Some(ranges) => (base, ranges),
            None => (0, &whole[..]),
        };
        let spans = ranges.iter().filter_map(|r| {
            Some(Span {
                offset: u32::try_from(r.start).ok()?,
                bytes: data.get(r.start..r.end).filter(|b| !b.is_empty())?,
            })
        });
        let room = data.len() + 10 * (ranges.len() + 1);
        let mut buf = vec![0u8; room];
        let len = Ranges::encode(spans, &mut buf).map_or(0, |r| r.as_bytes().len());
        buf.truncate(len);
        Update {
            instance,
            fingerprint,
            base,
            generation,
            ranges: buf,
        }
    }

    /// The ranges as `(offset, bytes)`, checked.
    pub fn spans(&self) -> Result<Vec<(usize, &[u8])>, PayloadError> {
        let ranges = Ranges::new_checked(&self.ranges).map_err(|_| PayloadError::Invalid)?;
        Ok(ranges
            .iter()
            .map(|s| (s.offset as usize, s.bytes))
            .collect())
    }

    /// The payload of the region's `update` key.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.ranges.len() + 36);
        self.encode_into(&mut out);
        out
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.instance.to_le_bytes());
        out.extend_from_slice(&self.fingerprint.to_le_bytes());
        varint(out, self.base);
        varint(out, self.generation);
        out.extend_from_slice(&self.ranges);
    }

    /// Reads an `update` payload.
    pub fn decode(payload: &[u8]) -> Result<Update, PayloadError> {
        let mut r = Reader(payload);
        Update::read(&mut r)
    }

    fn read(r: &mut Reader<'_>) -> Result<Update, PayloadError> {
        let instance = r.fixed()?;
        let fingerprint = r.fixed()?;
        let base = r.varint()?;
        let generation = r.varint()?;
        let ranges = r.0.to_vec();
        Ranges::new_checked(&ranges).map_err(|_| PayloadError::Invalid)?;
        Ok(Update {
            instance,
            fingerprint,
            base,
            generation,
            ranges,
        })
    }
}

/// A query of the `snapshot` key: where the asker's copy stands, if
/// anywhere.
pub fn encode_since(held: Option<(u64, u64)>) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some((instance, generation)) = held {
        out.extend_from_slice(&instance.to_le_bytes());
        varint(&mut out, generation);
    }
    out
}

/// Reads a `snapshot` query's payload.
pub fn decode_since(payload: &[u8]) -> Result<Option<(u64, u64)>, PayloadError> {
    if payload.is_empty() {
        return Ok(None);
    }
    let mut r = Reader(payload);
    let instance = r.fixed()?;
    let generation = r.varint()?;
    Ok(Some((instance, generation)))
}

/// The answer to a `snapshot` query: the region's schema, then the update
/// from the asker's generation (a delta when its instance is the region's
/// and its generation one the region reached, else a full update).
#[derive(Clone, Debug)]
pub struct SnapshotReply {
    /// The schema, with each variable's `writable` flag.
    pub schema: OwnedSchema,
    /// The update.
    pub update: Update,
}

impl SnapshotReply {
    /// `data_len: varint`, `variables: bytes(VarEntry*)`, then the update
    /// as on the `update` key.
    pub fn encode(&self) -> Vec<u8> {
        let vars = self.schema.variables();
        let len: usize = vars.iter().map(VarTable::entry_len).sum();
        let mut table = vec![0u8; len];
        let used = VarTable::encode(vars, &mut table).map_or(0, |t| t.as_bytes().len());
        table.truncate(used);
        let mut out = Vec::with_capacity(table.len() + self.update.ranges.len() + 48);
        varint(&mut out, u64::from(self.schema.as_schema().data_len()));
        varint(&mut out, table.len() as u64);
        out.extend_from_slice(&table);
        self.update.encode_into(&mut out);
        out
    }

    /// Reads a `snapshot` reply; the schema must be valid and have the
    /// update's fingerprint.
    pub fn decode(payload: &[u8]) -> Result<SnapshotReply, PayloadError> {
        let mut r = Reader(payload);
        let data_len = r.varint()?;
        let table_len = usize::try_from(r.varint()?).map_err(|_| PayloadError::Invalid)?;
        let table = r.take(table_len)?;
        let table = VarTable::new_checked(table).map_err(|_| PayloadError::Invalid)?;
        let vars: Vec<Variable> = table.iter().collect();
        let schema = OwnedSchema::from_placed(vars).map_err(|_| PayloadError::Invalid)?;
        let update = Update::read(&mut r)?;
        if schema.as_schema().fingerprint() != update.fingerprint
            || u64::from(schema.as_schema().data_len()) != data_len
        {
            return Err(PayloadError::Invalid);
        }
        Ok(SnapshotReply { schema, update })
    }
}

/// A `write` query's payload: `RangeEntry*`, as a Write frame's `Ranges`.
pub fn encode_write(ranges: &[(usize, Vec<u8>)]) -> Vec<u8> {
    let spans = ranges.iter().filter_map(|(offset, bytes)| {
        Some(Span {
            offset: u32::try_from(*offset).ok()?,
            bytes,
        })
    });
    let room = ranges.iter().map(|(_, b)| b.len() + 10).sum::<usize>();
    let mut buf = vec![0u8; room];
    let len = Ranges::encode(spans, &mut buf).map_or(0, |r| r.as_bytes().len());
    buf.truncate(len);
    buf
}

/// Reads a `write` query's payload.
pub fn decode_write(payload: &[u8]) -> Result<Vec<(usize, &[u8])>, PayloadError> {
    let ranges = Ranges::new_checked(payload).map_err(|_| PayloadError::Invalid)?;
    Ok(ranges
        .iter()
        .map(|s| (s.offset as usize, s.bytes))
        .collect())
}

/// The answer to a write: `WriteOutcome` of the wire format (`0` and the
/// generation that holds it, or `1`, the code and the reason).
pub fn encode_outcome(outcome: Result<u64, (ErrorCode, &str)>) -> Vec<u8> {
    let mut out = Vec::new();
    match outcome {
        Ok(generation) => {
            out.push(0);
            varint(&mut out, generation);
        }
        Err((code, reason)) => {
            out.push(1);
            varint(&mut out, u64::from(code.value()));
            varint(&mut out, reason.len() as u64);
            out.extend_from_slice(reason.as_bytes());
        }
    }
    out
}

/// Reads a write's answer: the owner's generation that holds it, or the
/// code it was refused with.
pub fn decode_outcome(payload: &[u8]) -> Result<Result<u64, ErrorCode>, PayloadError> {
    let mut r = Reader(payload);
    match r.take(1)? {
        [0] => Ok(Ok(r.varint()?)),
        [1] => {
            let code = u16::try_from(r.varint()?).map_err(|_| PayloadError::Invalid)?;
            Ok(Err(ErrorCode::from_value(code)))
        }
        _ => Err(PayloadError::Invalid),
    }
}

fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], PayloadError> {
        if self.0.len() < n {
            return Err(PayloadError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn fixed(&mut self) -> Result<u64, PayloadError> {
        let bytes: [u8; 8] = self
            .take(8)?
            .try_into()
            .map_err(|_| PayloadError::Truncated)?;
        Ok(u64::from_le_bytes(bytes))
    }

    fn varint(&mut self) -> Result<u64, PayloadError> {
        let mut value = 0u64;
        for i in 0..10 {
            let byte = *self.take(1)?.first().ok_or(PayloadError::Truncated)?;
            let bits = u64::from(byte & 0x7f);
            if i == 9 && byte > 1 {
                return Err(PayloadError::Invalid);
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(PayloadError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_is_its_header_then_the_ranges_of_an_update_frame() {
        let data = [0u8, 1, 2, 3, 4, 5, 6, 7, 8, 9];
        let update = Update::cut(
            0x0102,
            0x0304,
            7,
            9,
            &data,
            Some(&[ByteRange::new(2, 4), ByteRange::new(8, 9)]),
        );
        let bytes = update.encode();
        let mut expected = vec![2, 1, 0, 0, 0, 0, 0, 0, 4, 3, 0, 0, 0, 0, 0, 0, 7, 9];
        // gap 2, two bytes; gap 4 from the end of the first, one byte.
        expected.extend_from_slice(&[2, 2, 2, 3, 4, 1, 8]);
        assert_eq!(bytes, expected);
        let back = Update::decode(&bytes).unwrap();
        assert_eq!(back, update);
        assert_eq!(
            back.spans().unwrap(),
            vec![(2, &[2u8, 3][..]), (8, &[8u8][..])]
        );
    }

    #[test]
    fn a_full_update_covers_the_data_area() {
        let data = [5u8; 300];
        let update = Update::cut(1, 2, 40, 41, &data, None);
        assert_eq!(update.base, 0);
        assert_eq!(update.spans().unwrap(), vec![(0, &data[..])]);
    }

    #[test]
    fn outcomes_and_queries_round_trip() {
        assert_eq!(decode_outcome(&encode_outcome(Ok(300))), Ok(Ok(300)));
        assert_eq!(
            decode_outcome(&encode_outcome(Err((ErrorCode::ReadOnly, "read-only")))),
            Ok(Err(ErrorCode::ReadOnly))
        );
        assert_eq!(decode_since(&encode_since(None)), Ok(None));
        assert_eq!(
            decode_since(&encode_since(Some((9, 1 << 40)))),
            Ok(Some((9, 1 << 40)))
        );
        assert_eq!(decode_since(&[1, 2]), Err(PayloadError::Truncated));
        let write = vec![(4usize, vec![1u8, 2]), (10, vec![3])];
        let bytes = encode_write(&write);
        assert_eq!(bytes, vec![4, 2, 1, 2, 4, 1, 3]);
        assert_eq!(
            decode_write(&bytes).unwrap(),
            vec![(4, &[1u8, 2][..]), (10, &[3u8][..])]
        );
    }
}
