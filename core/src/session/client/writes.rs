//! The hub's answers to a client's writes.

use super::Inner;
use crate::codec::WriteResult;
use crate::session::event::Event;

impl<const SUBS: usize> Inner<'_, SUBS> {
    /// The hub's answer to a write: an event for the application.
    pub(super) fn on_write_result(&mut self, result: WriteResult<'_>) {
        self.writes.on_result(
            &result,
            &mut self.events,
            &mut self.link,
            |request, outcome| match outcome {
                Ok(generation) => Event::WriteApplied {
                    request,
                    generation,
                },
                Err(code) => Event::WriteRefused { request, code },
            },
        );
    }
}
