//! The memory the client runs in: socket buffers, the frame buffer, the
//! event queue and the write slot, all sized by const generics.

use crate::shared::Shared;

/// Everything the client needs besides the mirrors' memory, with no heap:
/// place it in a `static` (through `static_cell::StaticCell`) or in a task
/// that never returns, and pass it to [`new`](crate::new).
///
/// - `SOCKET_RX`, `SOCKET_TX`: the TCP socket's receive and send buffers.
///   The receive buffer is the TCP window: at least one frame
///   (`FRAME` + 5) lets the hub send a whole update without waiting.
/// - `FRAME`: the largest frame body the device takes from the hub (at
///   least 128; updates of larger regions come split into frames of this
///   size), and the buffer frames to the hub are encoded in. The client's
///   frame reassembly buffer of the same size lives in the [`Runner`](crate::Runner).
/// - `EVENTS`: events waiting for the application; past that the oldest
///   are dropped.
/// - `WRITE`: the largest write value a [`Handle`](crate::Handle) may
///   send. A write frame also needs about 64 bytes of `FRAME` beyond its
///   value.
pub struct Resources<
    const SOCKET_RX: usize,
    const SOCKET_TX: usize,
    const FRAME: usize,
    const EVENTS: usize = 8,
    const WRITE: usize = 64,
> {
    pub(crate) socket_rx: [u8; SOCKET_RX],
    pub(crate) socket_tx: [u8; SOCKET_TX],
    pub(crate) frame: [u8; FRAME],
    pub(crate) shared: Shared<EVENTS, WRITE>,
}

impl<
    const SOCKET_RX: usize,
    const SOCKET_TX: usize,
    const FRAME: usize,
    const EVENTS: usize,
    const WRITE: usize,
> Resources<SOCKET_RX, SOCKET_TX, FRAME, EVENTS, WRITE>
{
    /// Zeroed buffers and empty queues; `const`, so it can initialise a
    /// `static`.
    pub const fn new() -> Self {
        Resources {
            socket_rx: [0; SOCKET_RX],
            socket_tx: [0; SOCKET_TX],
            frame: [0; FRAME],
            shared: Shared::new(),
        }
    }
}

impl<
    const SOCKET_RX: usize,
    const SOCKET_TX: usize,
    const FRAME: usize,
    const EVENTS: usize,
    const WRITE: usize,
> Default for Resources<SOCKET_RX, SOCKET_TX, FRAME, EVENTS, WRITE>
{
    fn default() -> Self {
        Self::new()
    }
}
