//! Timers: the session's next deadline (handshake, keep-alive ping,
//! dead-peer timeout) as a sleep, and its firing.

use std::future::Future;
use std::time::Duration;

use super::session::Connection;

impl Connection<'_> {
    /// Sleeps until the session's next deadline; forever when it has none.
    pub(super) fn timer(&self) -> impl Future<Output = ()> + use<> {
        let timer = self.session.poll_timeout();
        let start = self.start;
        async move {
            match timer {
                Some(at) => {
                    let at = start + Duration::from_micros(at.as_micros());
                    tokio::time::sleep_until(at).await;
                }
                None => std::future::pending().await,
            }
        }
    }

    /// Fires the session's timers that are due.
    pub(super) fn handle_timeout(&mut self) {
        let now = self.now();
        self.session.handle_timeout(now);
    }
}
