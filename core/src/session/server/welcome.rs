//! The welcome: the frame that opens a session, with the limits the hub
//! holds the client to and the regions of the tenant the client may see.

use super::hub::Hub;
use super::state::Inner;
use crate::codec::{Frame, Limits, RegionInfo, RegionList, Welcome};
use crate::session::source::Access;
use crate::time::{Duration, Instant};

impl<const SUBS: usize> Inner<SUBS> {
    /// Writes the welcome with the tenant's regions the client may access,
    /// as many as fit the client's maximum frame and `buf` (`complete` is
    /// false when some were left out); false when `buf` has no room now.
    ///
    /// No scratch buffer: the list is encoded into `buf` after room for the
    /// frame's head (a length prefix, the fixed fields and the list's length,
    /// each at their largest), then the head is written and the list moved
    /// up against it.
    pub(super) fn put_welcome<H: Hub + ?Sized>(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        used: &mut usize,
        hub: &H,
    ) -> bool {
        /// The longest length prefix.
        const PREFIX_MAX: usize = 5;
        let limits = self.limits(self.may_write(hub));
        let welcome = |complete| {
            Frame::Welcome(Welcome {
                session: self.config.session,
                limits,
                complete,
                regions: RegionList::EMPTY,
            })
        };
        // The fixed fields, without the empty list's length byte.
        let head = welcome(true).encoded_len().saturating_sub(1);
        let body_max = self.peer_max.min(buf.len().saturating_sub(PREFIX_MAX));
        let list_max = body_max.saturating_sub(head + varint_len(body_max));
        let reserve = PREFIX_MAX + head + varint_len(list_max);
        let Some(out) = buf
            .get_mut(*used..)
            .filter(|out| out.len() >= reserve + list_max)
        else {
            return false;
        };
        let mut len = 0;
        let mut complete = false;
        if let Some(list) = out.get_mut(reserve..reserve + list_max) {
            let tenant = self.tenant();
            let client = self.client.as_str();
            let mut left_out = false;
            let listed = hub.regions(tenant, client, &mut |info: RegionInfo| {
                if hub.access(tenant, client, info.name.as_str()) == Access::None {
                    return true;
                }
                match list.get_mut(len..).map(|rest| info.encode(rest)) {
                    Some(Ok(entry)) => {
                        len += entry;
                        true
                    }
                    _ => {
                        left_out = true;
                        false
                    }
                }
            });
            complete = listed && !left_out;
        }
        let body = head + varint_len(len) + len;
        let Some(prefix) = put_varint(out, body) else {
            return false;
        };
        // The fixed fields; the empty list's length byte is then replaced by
        // the list's length.
        let Some(Ok(fields)) = out
            .get_mut(prefix..reserve)
            .map(|dst| welcome(complete).encode(dst))
        else {
            return false;
        };
        let mut at = prefix + fields.saturating_sub(1);
        let Some(n) = out
            .get_mut(at..reserve)
            .and_then(|dst| put_varint(dst, len))
        else {
            return false;
        };
        at += n;
        // In bounds: `at` ≤ `reserve`, `len` ≤ `list_max`, and `out` holds
        // `reserve + list_max` bytes (checked above).
        out.copy_within(reserve..reserve + len, at);
        *used += at + len;
        self.link.sent(now, at + len);
        true
    }

    /// Whether the client has the right to write to some region of its
    /// tenant: true when any region the hub lists is read-write for it, or
    /// when the hub does not list its regions (each write is then checked
    /// on its own).
    fn may_write<H: Hub + ?Sized>(&self, hub: &H) -> bool {
        let (tenant, client) = (self.tenant(), self.client.as_str());
        let mut write = false;
        let listed = hub.regions(tenant, client, &mut |info: RegionInfo| {
            write = hub.access(tenant, client, info.name.as_str()) == Access::ReadWrite;
            !write
        });
        write || !listed
    }

    fn limits(&self, write: bool) -> Limits {
        let ms = |d: Duration| u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
        Limits {
            max_frame: self.config.max_frame,
            max_in_flight: self.config.max_in_flight,
            max_subscriptions: u16::try_from(SUBS).unwrap_or(u16::MAX),
            keepalive_ms: ms(self.config.keepalive),
            timeout_ms: ms(self.config.timeout),
            write,
        }
    }
}

/// The length of `value` as an unsigned LEB128 varint.
fn varint_len(value: usize) -> usize {
    let bits = usize::BITS - (value | 1).leading_zeros();
    bits.div_ceil(7) as usize
}

/// Writes `value` at the start of `out` as an unsigned LEB128 varint in its
/// shortest form and returns its length; `None` if `out` is too short.
fn put_varint(out: &mut [u8], mut value: usize) -> Option<usize> {
    let mut n = 0;
    loop {
        let byte = out.get_mut(n)?;
        let low = u8::try_from(value & 0x7F).unwrap_or(0);
        value >>= 7;
        n += 1;
        if value == 0 {
            *byte = low;
            return Some(n);
        }
        *byte = low | 0x80;
    }
}
