//! Sans-IO protocol state: the two ends of a memwire connection.
//!
//! A [`Client`] is the mirror side: it authenticates, subscribes to regions
//! and keeps caller-provided mirrors current. A [`Server`] is the serving side
//! of one connection inside a hub: it checks the handshake, rights and
//! limits, and runs one publisher per subscription over the regions its
//! [`Hub`] serves.
//!
//! The protocol runs both ways on one connection: a client may also publish
//! regions of its own ([`Published`], handed over by its [`Observer`]), which
//! the hub subscribes to once the client is welcomed and copies through
//! [`Hub::apply_update`].
//!
//! # Driving a session
//!
//! In the style of quinn-proto and smoltcp, a session does no I/O, reads no
//! clock and allocates nothing; the caller moves bytes and time:
//!
//! - `handle_input(now, bytes)`: raw bytes read from the stream, split in any
//!   way (the session reassembles length-prefixed frames in a
//!   [`FrameAccumulator`](crate::codec::FrameAccumulator) of `RX` bytes);
//! - `poll_transmit(now, buf) -> Option<usize>`: framed bytes to write to the
//!   stream; call it until it returns `None` after every input, timeout or
//!   API call. `buf` should hold the peer's maximum frame plus 5 bytes
//!   (at least [`MIN_FRAME`](crate::codec::MIN_FRAME) + 5);
//! - `poll_timeout() -> Option<Instant>` and `handle_timeout(now)`: timers
//!   (handshake deadline, keep-alive, dead peer);
//! - `poll_event()`: what happened, for the application.
//!
//! Once `is_closed()` is true and `poll_transmit` returns `None`, the caller
//! closes the stream.
//!
//! Every queue is bounded by a const generic or a constant: a peer cannot
//! make one grow. Updates coalesce instead of queueing, acknowledgements and
//! "updated" events are one slot per subscription, and a control queue that
//! would overflow closes the connection with
//! [`ErrorCode::LimitExceeded`](crate::codec::ErrorCode::LimitExceeded).
//!
//! # Synchronizing a region
//!
//! The publisher keeps no copy of what it sent: it sends the ranges of the
//! hub's per-chunk "generation last changed" table (or the exact ranges of
//! the hub's last scan when they start at the peer's generation) with the
//! current bytes of the hub's shadow. At most `max_in_flight` updates are
//! unacknowledged per subscription; past that nothing new starts, and the
//! next update covers everything since the last one sent. See
//! `spec/wire-format.md`, section "Sessions", for the full rules.

pub mod auth;
mod cache;
mod client;
mod event;
mod link;
mod mirroring;
mod published;
mod publisher;
pub mod rate;
mod server;
mod serving;
mod subscriber;
mod writes;

#[cfg(test)]
mod tests;

pub use cache::{CachedPart, PartKey, PartPlan, UpdateCache};
pub use client::{Client, ClientConfig, SubscribeError, WriteError, WriteRequest};
pub use event::{Event, Observer, ServerEvent};
pub use published::{PublishError, Published, Regions};
pub use rate::RateLimit;
pub use server::{Access, Hub, RateConfig, RegionId, Server, ServerConfig, Source};

/// A client's name for one of its subscriptions, carried in every frame
/// about it. The client picks it; it is the subscription's slot index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Handle(pub u16);

/// Counters of one session, for logs and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Stats {
    /// Frames received.
    pub frames_in: u64,
    /// Frames sent.
    pub frames_out: u64,
    /// Bytes received (framing included).
    pub bytes_in: u64,
    /// Bytes sent (framing included).
    pub bytes_out: u64,
    /// Updates completed: applied to a mirror (client), or whose last part
    /// was sent (server).
    pub updates: u64,
    /// Resyncs: asked for by a mirror (client), or served (server).
    pub resyncs: u64,
}
