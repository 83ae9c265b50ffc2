//! Transmitting: what the session has to send (requests, acks, pings), and
//! the counters it shows the handles after.

use std::sync::PoisonError;

use tokio::io::AsyncWriteExt;

use super::session::Connection;
use super::shared::WriteCounts;
use super::task::Driver;

impl Connection<'_> {
    /// Writes to the stream everything the session has to send now.
    pub(super) async fn transmit(&mut self) {
        if !self.write_parts.is_empty() {
            let parts = std::mem::take(&mut self.write_parts);
            if self.stream.write_all(&parts).await.is_err() {
                return;
            }
        }
        let t = self.now();
        while let Some(n) = self.session.poll_transmit(t, &mut self.buf) {
            if self
                .stream
                .write_all(self.buf.get(..n).unwrap_or(&[]))
                .await
                .is_err()
            {
                break;
            }
        }
    }
}

impl Driver {
    /// Shows the session's counters to the handles ([`Client::stats`]).
    ///
    /// [`Client::stats`]: super::Client::stats
    pub(super) fn show_stats(&self, conn: &Connection<'_>) {
        let mut status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        status.stats = conn.session.stats();
    }

    /// Counts writes by outcome for the handles ([`Client::writes`]).
    ///
    /// [`Client::writes`]: super::Client::writes
    pub(super) fn count_writes(&self, count: impl FnOnce(&mut WriteCounts)) {
        count(
            &mut self
                .status
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .writes,
        );
    }
}
