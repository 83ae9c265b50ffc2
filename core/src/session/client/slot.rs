//! One subscription slot of a client: what it asks of the hub (subscribe,
//! unsubscribe, acks), and the variable table of a described subscription,
//! shown to the observer until it hands over a mirror.

use heapless::String;

use super::{Inner, SubscribeError, rest};
use crate::codec::{
    Ack, ErrorCode, Frame, Framing, MIN_FRAME, SchemaPart, Subscribe, Unsubscribe, Update,
};
use crate::session::Handle;
use crate::session::event::{Event, Observer};
use crate::session::subscriber::{SchemaOutcome, Subscriber};
use crate::time::Instant;

/// The longest subscribe path: `tenant/region`.
const PATH_MAX: usize = 81;

/// One subscription slot.
#[derive(Debug)]
pub(super) struct Slot<'r> {
    path: String<PATH_MAX>,
    /// `None` for a described subscription until the caller's observer
    /// hands over a mirror.
    pub(super) sub: Option<Subscriber<'r>>,
    /// Whether the subscribe asks for the variable table.
    described: bool,
    /// While a described subscription has no mirror: the index of the next
    /// variable of the table.
    table_next: u32,
    pub(super) subscribe_due: bool,
    /// Ended: the event still to report (the slot is freed once it is
    /// reported and the unsubscribe, if due, is sent).
    pub(super) gone: Option<Event>,
    pub(super) unsubscribe_due: bool,
}

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

    pub(super) fn on_update(&mut self, update: &Update<'_>) {
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
        if let Err(fatal) = sub.on_update(update) {
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

impl<'a> Slot<'a> {
    /// Shows a schema part of a described subscription without a mirror to
    /// the observer, and takes the mirror it may return. A part out of
    /// order, or one that brings no variable before the table is whole,
    /// ends the subscription (`Err`, the event to report): a conforming hub
    /// sends neither, and the table could never be completed.
    fn describe<O: Observer<'a> + ?Sized>(
        &mut self,
        handle: Handle,
        part: &SchemaPart<'_>,
        observer: &mut O,
    ) -> Result<(), Event> {
        let broken = Event::Ended {
            handle,
            code: ErrorCode::UnexpectedFrame,
        };
        let vars = u32::try_from(part.variables.iter().count()).map_err(|_| broken)?;
        let next = part.first.checked_add(vars).ok_or(broken)?;
        let last = next == part.count;
        let in_order = part.first == 0 || part.first == self.table_next;
        if !in_order || next > part.count || (vars == 0 && !last) {
            return Err(broken);
        }
        self.table_next = next;
        match observer.schema_part(handle, part) {
            Some(mirror) => {
                self.sub = Some(Subscriber::new(mirror, None));
                Ok(())
            }
            None if last => Err(Event::SchemaMismatch { handle }),
            None => Ok(()),
        }
    }
}
