//! The client's subscriptions to the hub's regions, over its slots: taking
//! and freeing a slot, the hub's schema parts and updates for it, what each
//! sends in turn, and the events each holds.

use core::fmt;

use heapless::String;

use super::slot::Slot;
use super::state::{Inner, rest};
use crate::codec::{
    Ack, ErrorCode, Frame, Framing, MIN_FRAME, SchemaPart, Subscribe, Unsubscribe, Update,
};
use crate::session::event::{Event, Handle, Observer};
use crate::session::subscriber::{SchemaOutcome, Subscriber};
use crate::time::Instant;

/// Why [`Client::subscribe`](super::Client::subscribe) refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum SubscribeError {
    /// Every subscription slot (`SUBS`) is taken.
    Full,
    /// The path is not `tenant/region` or `region` with valid names.
    BadPath,
    /// The connection is closed.
    Closed,
}

impl fmt::Display for SubscribeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SubscribeError::Full => "every subscription slot is taken",
            SubscribeError::BadPath => "not a valid region path",
            SubscribeError::Closed => "the connection is closed",
        })
    }
}

impl core::error::Error for SubscribeError {}

impl<'a, const SUBS: usize> Inner<'a, SUBS> {
    /// Takes a free slot for a subscription to `path`.
    pub(super) fn add(
        &mut self,
        path: &str,
        sub: Option<Subscriber<'a>>,
    ) -> Result<Handle, SubscribeError> {
        if !self.link.is_open() {
            return Err(SubscribeError::Closed);
        }
        let probe = Frame::Subscribe(Subscribe {
            handle: 0,
            path,
            resume: None,
            variables: false,
            full: false,
        });
        let path = String::try_from(path).map_err(|_| SubscribeError::BadPath)?;
        if probe.encode(&mut [0u8; MIN_FRAME as usize]).is_err() {
            return Err(SubscribeError::BadPath);
        }
        let (index, slot) = self
            .subs
            .iter_mut()
            .enumerate()
            .find(|(_, s)| s.is_none())
            .ok_or(SubscribeError::Full)?;
        let handle = u16::try_from(index).map_err(|_| SubscribeError::Full)?;
        *slot = Some(Slot {
            path,
            described: sub.is_none(),
            full: false,
            sub,
            table_next: 0,
            subscribe_due: true,
            gone: None,
            unsubscribe_due: false,
        });
        Ok(Handle(handle))
    }

    pub(super) fn slot_mut(&mut self, handle: Handle) -> Option<&mut Slot<'a>> {
        self.subs.get_mut(usize::from(handle.0))?.as_mut()
    }

    pub(super) fn free(&mut self, handle: Handle) {
        if let Some(slot) = self.subs.get_mut(usize::from(handle.0)) {
            *slot = None;
        }
    }

    /// Ends a subscription with an event; an unsubscribe tells the hub.
    pub(super) fn end(&mut self, handle: Handle, event: Event, tell_hub: bool) {
        if let Some(slot) = self.slot_mut(handle) {
            slot.gone = Some(event);
            slot.unsubscribe_due = tell_hub;
            if let Some(sub) = slot.sub.as_mut() {
                sub.follow.ack_due = None;
                sub.follow.updated = None;
            }
        }
    }

    /// The hub ends subscription `handle`.
    pub(super) fn on_error(&mut self, handle: Handle, code: ErrorCode) {
        let live = self.slot_mut(handle).is_some_and(|s| s.gone.is_none());
        if live {
            self.end(handle, Event::Ended { handle, code }, false);
        }
    }

    pub(super) fn on_update<O: Observer<'a> + ?Sized>(
        &mut self,
        update: &Update<'_>,
        observer: &mut O,
    ) {
        let handle = Handle(update.handle);
        // A described subscription without a mirror yet has nothing
        // to apply an update to (a conforming hub sends none).
        let Some(sub) = self
            .slot_mut(handle)
            .filter(|s| s.gone.is_none())
            .and_then(|s| s.sub.as_mut())
        else {
            return;
        };
        if let Err(fatal) = sub.on_update(update, observer) {
            self.link.fail(fatal.code, None, fatal.reason);
        }
    }

    pub(super) fn on_schema<O: Observer<'a> + ?Sized>(
        &mut self,
        part: &SchemaPart<'_>,
        observer: &mut O,
    ) {
        let handle = Handle(part.handle);
        let Some(slot) = self.slot_mut(handle).filter(|s| s.gone.is_none()) else {
            return;
        };
        if slot.sub.is_none() {
            if let Err(event) = slot.describe(handle, part, observer) {
                self.end(handle, event, true);
                return;
            }
        }
        let Some(slot) = self.slot_mut(handle) else {
            return;
        };
        // The part that brought the mirror is checked against it too.
        let mismatch = slot
            .sub
            .as_mut()
            .is_some_and(|sub| sub.on_schema(part) == SchemaOutcome::Mismatch);
        if mismatch {
            self.end(handle, Event::SchemaMismatch { handle }, true);
        }
    }

    /// Sends what subscription `index` has due; false when `buf` is full.
    pub(super) fn transmit_slot(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        used: &mut usize,
        index: usize,
    ) -> bool {
        let Some(Some(slot)) = self.subs.get(index) else {
            return true;
        };
        let handle = u16::try_from(index).unwrap_or(u16::MAX);
        let frame = if slot.subscribe_due {
            Frame::Subscribe(Subscribe {
                handle,
                path: &slot.path,
                resume: slot.sub.as_ref().and_then(|sub| sub.follow.resume),
                variables: slot.described,
                full: slot.full,
            })
        } else if slot.unsubscribe_due {
            Frame::Unsubscribe(Unsubscribe { handle })
        } else if let Some(generation) = slot.sub.as_ref().and_then(|sub| sub.follow.ack_due) {
            Frame::Ack(Ack { handle, generation })
        } else {
            return true;
        };
        let Ok(n) = Framing::LengthPrefix.encode(&frame, rest(buf, *used)) else {
            return false;
        };
        *used += n;
        self.link.sent(now, n);
        if let Some(Some(slot)) = self.subs.get_mut(index) {
            if slot.subscribe_due {
                slot.subscribe_due = false;
            } else if slot.unsubscribe_due {
                slot.unsubscribe_due = false;
                if slot.gone.is_none() {
                    self.free(Handle(handle));
                }
                return true;
            } else if let Some(sub) = slot.sub.as_mut() {
                sub.follow.ack_due = None;
            }
        }
        // One more frame may be due (an ack after a subscribe).
        self.transmit_slot(now, buf, used, index)
    }

    /// The first event a subscription holds: its end (freeing the slot
    /// unless an unsubscribe is still due), or an update applied.
    pub(super) fn poll_slot_event(&mut self) -> Option<Event> {
        for index in 0..self.subs.len() {
            let Some(Some(slot)) = self.subs.get_mut(index) else {
                continue;
            };
            if let Some(event) = slot.gone.take() {
                if !slot.unsubscribe_due {
                    self.free(Handle(u16::try_from(index).unwrap_or(u16::MAX)));
                }
                return Some(event);
            }
            if let Some((generation, resynced)) =
                slot.sub.as_mut().and_then(|sub| sub.follow.updated.take())
            {
                return Some(Event::Updated {
                    handle: Handle(u16::try_from(index).unwrap_or(u16::MAX)),
                    generation,
                    resynced,
                });
            }
        }
        None
    }
}
