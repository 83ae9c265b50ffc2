//! The hub's answers to a client's writes.

use super::Inner;
use crate::codec::{ErrorCode, WriteOutcome, WriteResult};
use crate::session::event::Event;

impl<const SUBS: usize> Inner<'_, SUBS> {
    /// The hub's answer to a write: an event for the application.
    pub(super) fn on_write_result(&mut self, result: WriteResult<'_>) {
        self.writes.answered();
        let event = match result.outcome {
            WriteOutcome::Applied { generation } => Event::WriteApplied {
                request: result.request,
                generation,
            },
            WriteOutcome::Refused { code, .. } => Event::WriteRefused {
                request: result.request,
                code,
            },
        };
        if self.events.push_back(event).is_err() {
            self.link.fail(
                ErrorCode::UnexpectedFrame,
                None,
                "write result not asked for",
            );
        }
    }
}
