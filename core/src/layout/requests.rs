//! The request area: a one-slot mailbox after the journal through which
//! a party that cannot take the writer lock (the hub) asks the process
//! that holds it to make a write.
//!
//! ```text
//! +0   state word: 0 empty, else request id << 2 | phase
//! +4   payload length in bytes
//! +8   answer: 0 applied, else a refusal code (REFUSED_*)
//! +12  generation after the applied write, low half
//! +16  generation, high half
//! +20  zero up to +64
//! +64  payload: per range an offset (u32), a length (u32) and the bytes,
//!      padded to 4
//! ```
//!
//! The state moves empty → posted(id) → taken(id) → done(id) → empty; the
//! poster may withdraw posted(id) → empty. Only the std adapter moves it
//! (with compare-and-swap, which hosts have); this file defines the bytes
//! and pure functions over them, and nothing here is linked into firmware
//! unless used.

/// The request area's control block, before the payload.
pub const REQUEST_HEAD_LEN: usize = 64;
/// Offset of the state word within the request area.
pub const REQUEST_STATE: usize = 0;
/// Offset of the payload length within the request area.
pub const REQUEST_LEN: usize = 4;
/// Offset of the answer word within the request area.
pub const REQUEST_ANSWER: usize = 8;
/// Offset of the answered generation's low half within the request area.
pub const REQUEST_GENERATION_LO: usize = 12;
/// Offset of the answered generation's high half within the request area.
pub const REQUEST_GENERATION_HI: usize = 16;
/// The bytes before each range's bytes in the payload: offset and length.
pub const RANGE_HEAD_LEN: usize = 8;

/// Answer: the lock holder found a range out of the data area.
pub const REFUSED_OUT_OF_BOUNDS: u32 = 1;
/// Answer: the payload was not a list of ranges.
pub const REFUSED_MALFORMED: u32 = 2;

/// The request area's length for a data area of `data_len` bytes and
/// `variables` variables: the control block and room for every variable's
/// bytes once with its range header, rounded up to 64.
pub const fn requests_len(data_len: u64, variables: u64) -> u64 {
    let payload = data_len + variables * RANGE_HEAD_LEN as u64;
    REQUEST_HEAD_LEN as u64 + payload.div_ceil(64) * 64
}

/// Where a request is in its life, as its state word says (a closed set:
/// the format defines no other phase).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestPhase {
    /// No request.
    Empty,
    /// Posted and waiting for the lock holder.
    Posted(u32),
    /// Taken by the lock holder, which is applying it.
    Taken(u32),
    /// Applied or refused; the answer words hold which.
    Done(u32),
}

impl RequestPhase {
    /// The phase a state word holds (an unknown phase reads as empty).
    #[inline]
    pub const fn of(word: u32) -> RequestPhase {
        let id = word >> 2;
        match word & 3 {
            1 => RequestPhase::Posted(id),
            2 => RequestPhase::Taken(id),
            3 => RequestPhase::Done(id),
            _ => RequestPhase::Empty,
        }
    }

    /// The state word for this phase (ids are taken modulo 2^30).
    pub const fn word(self) -> u32 {
        match self {
            RequestPhase::Empty => 0,
            RequestPhase::Posted(id) => id << 2 | 1,
            RequestPhase::Taken(id) => id << 2 | 2,
            RequestPhase::Done(id) => id << 2 | 3,
        }
    }
}

/// Encodes `ranges` (offsets into the data area) as a payload into `out`;
/// returns its length, or `None` if it does not fit or a range is longer
/// than 4 GiB.
pub fn encode_request(ranges: &[(usize, &[u8])], out: &mut [u8]) -> Option<usize> {
    let mut at = 0usize;
    for &(offset, bytes) in ranges {
        let end = at.checked_add(RANGE_HEAD_LEN + bytes.len().next_multiple_of(4))?;
        let slot = out.get_mut(at..end)?;
        let (head, rest) = slot.split_at_mut_checked(RANGE_HEAD_LEN)?;
        let (data, pad) = rest.split_at_mut_checked(bytes.len())?;
        let (off, len) = head.split_at_mut(4);
        off.copy_from_slice(&u32::try_from(offset).ok()?.to_le_bytes());
        len.copy_from_slice(&u32::try_from(bytes.len()).ok()?.to_le_bytes());
        data.copy_from_slice(bytes);
        pad.fill(0);
        at = end;
    }
    Some(at)
}

/// The ranges of a payload, in order; an item is `None` where the payload
/// is malformed (a range runs past its end), and iteration stops there.
pub fn decode_request(payload: &[u8]) -> impl Iterator<Item = Option<(usize, &[u8])>> {
    let mut rest = Some(payload);
    core::iter::from_fn(move || {
        let bytes = rest.take()?;
        if bytes.is_empty() {
            return None;
        }
        let range = (|| {
            let offset = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
            let len = u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?) as usize;
            let end = RANGE_HEAD_LEN.checked_add(len.next_multiple_of(4))?;
            let data = bytes.get(RANGE_HEAD_LEN..RANGE_HEAD_LEN.checked_add(len)?)?;
            Some((offset, data, bytes.get(end..)?))
        })();
        Some(range.map(|(offset, data, next)| {
            rest = Some(next);
            (offset, data)
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    #[test]
    fn a_payload_decodes_to_the_ranges_it_was_encoded_from() {
        let mut out = [0xAAu8; 64];
        let ranges: [(usize, &[u8]); 2] = [(8, &[1, 2, 3]), (64, &[4, 5, 6, 7, 8])];
        let len = encode_request(&ranges, &mut out).unwrap();
        assert_eq!(len, 8 + 4 + 8 + 8);
        let back: Vec<_> = decode_request(&out[..len]).collect();
        assert_eq!(back, [Some(ranges[0]), Some(ranges[1])]);
        assert_eq!(encode_request(&ranges, &mut out[..20]), None);
        // Cut inside the second range: malformed, and nothing after it.
        let cut: Vec<_> = decode_request(&out[..len - 4]).collect();
        assert_eq!(cut, [Some(ranges[0]), None]);
    }

    #[test]
    fn a_state_word_names_its_phase_and_id() {
        for phase in [
            RequestPhase::Empty,
            RequestPhase::Posted(7),
            RequestPhase::Taken(7),
            RequestPhase::Done((1 << 30) - 1),
        ] {
            assert_eq!(RequestPhase::of(phase.word()), phase);
        }
    }

    #[test]
    fn the_area_holds_every_variable_once() {
        assert_eq!(requests_len(64, 1), 64 + 128);
        assert_eq!(requests_len(64, 0), 64 + 64);
    }
}
