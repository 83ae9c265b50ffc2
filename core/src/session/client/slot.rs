//! One subscription slot of a client: the path it subscribes to, the
//! mirror it fills, what it owes the hub (subscribe, unsubscribe, acks),
//! and the variable table of a described subscription, shown to the
//! observer until it hands over a mirror.

use heapless::String;

use crate::codec::{ErrorCode, SchemaPart};
use crate::session::event::{Event, Handle, Observer};
use crate::session::subscriber::Subscriber;

/// The longest subscribe path: `tenant/region`.
const PATH_MAX: usize = 81;

/// One subscription slot.
#[derive(Debug)]
pub(super) struct Slot<'r> {
    pub(super) path: String<PATH_MAX>,
    /// `None` for a described subscription until the caller's observer
    /// hands over a mirror.
    pub(super) sub: Option<Subscriber<'r>>,
    /// Whether the subscribe asks for the variable table.
    pub(super) described: bool,
    /// Whether the subscribe asks for full updates only.
    pub(super) full: bool,
    /// While a described subscription has no mirror: the index of the next
    /// variable of the table.
    pub(super) table_next: u32,
    pub(super) subscribe_due: bool,
    /// Ended: the event still to report (the slot is freed once it is
    /// reported and the unsubscribe, if due, is sent).
    pub(super) gone: Option<Event>,
    pub(super) unsubscribe_due: bool,
}

impl<'a> Slot<'a> {
    /// Shows a schema part of a described subscription without a mirror to
    /// the observer, and takes the mirror it may return. A part out of
    /// order, or one that brings no variable before the table is whole,
    /// ends the subscription (`Err`, the event to report): a conforming hub
    /// sends neither, and the table could never be completed.
    pub(super) fn describe<O: Observer<'a> + ?Sized>(
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
                let mut sub = Subscriber::new(mirror, None);
                sub.follow.always_full = self.full;
                self.sub = Some(sub);
                Ok(())
            }
            None if last => Err(Event::SchemaMismatch { handle }),
            None => Ok(()),
        }
    }
}
