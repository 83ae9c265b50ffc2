//! Input: bytes read from the hub, handed to the session, which shows the
//! variable tables and the welcome's region list to `describe.rs`.

use tokio::io::AsyncReadExt;

use super::describe::Observe;
use super::session::Connection;

impl Connection<'_> {
    /// Reads what the hub sent; `None` once the stream is closed or broken.
    pub(super) async fn read(&mut self) -> Option<usize> {
        match self.stream.read(&mut self.input).await {
            Ok(0) | Err(_) => None,
            Ok(n) => Some(n),
        }
    }

    /// Hands the `n` bytes read to the session.
    pub(super) fn handle_input(&mut self, n: usize) {
        tracing::trace!(target: "memwire::latency", step = "client read");
        let now = self.now();
        let mut observer = Observe {
            mirrors: self.mirrors,
            slots: &mut self.slots,
            regions: &mut self.regions,
            parts: &mut self.parts,
        };
        self.session
            .handle_input_with(now, self.input.get(..n).unwrap_or(&[]), &mut observer);
    }
}
