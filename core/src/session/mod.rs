//! Sans-IO protocol state: the two ends of a memwire connection.
//!
//! A [`Client`] is the mirror side: it authenticates, subscribes to regions
//! and keeps caller-provided mirrors current. A [`Server`] is the serving side
//! of one connection inside a hub: it checks the handshake, rights and
//! limits, and runs one publication per subscription over the regions its
//! [`Hub`] serves.
//!
//! The protocol runs both ways on one connection: a client may also publish
//! regions of its own ([`OwnRegion`], handed over by its [`Observer`] as
//! [`OwnRegions`]), which the hub subscribes to once the client is welcomed
//! and copies through [`Hub::apply_update`].
//!
//! # Files
//!
//! One idea per file; no two of them import each other, and none imports
//! this one (checked by `.ci/imports.py core/src:session`).
//!
//! - `source.rs`: the words both ends use about a region one end sends
//!   and the other mirrors: [`RegionId`], [`Access`], [`Source`];
//! - `client/`: [`Client`], [`ClientConfig`], [`SubscribeError`], with the
//!   client's handshake, its subscriptions, and the hub's subscriptions to
//!   its own regions;
//! - `server/`: [`Server`], the [`Hub`] it consults, [`ServerConfig`] and
//!   [`RateConfig`], with the hub's handshake ([`Handshake`], a small state
//!   of its own), welcome, subscribe checks, and its mirrors of the regions
//!   the client publishes;
//! - `publication.rs`: one subscription, as the end that holds the region
//!   sends it: schema parts, then updates cut from the chunk table, bounded
//!   by acknowledgements;
//! - `peer_subscriptions.rs`: every subscription the peer holds to this
//!   end's regions, and the peer's writes to them, checked and answered;
//!   the same for a hub sending its regions and a client sending its own;
//! - `subscriber.rs`: one subscription, as the end that mirrors it: updates
//!   checked and applied, resyncs asked for;
//! - `own_region.rs`: [`OwnRegion`], a region a client writes and
//!   publishes: the live region, its shadow and chunk table, scanned for
//!   local writes;
//! - `writes.rs`: [`WriteRequest`], [`WriteError`], and the queue of writes
//!   to the peer's regions waiting to be sent or answered;
//! - `link.rs`: liveness timers, control frames, closing, [`Stats`];
//! - `event.rs`: [`Event`], [`ServerEvent`], [`AuthFailure`], [`Observer`],
//!   [`Handle`];
//! - `cache.rs`: [`UpdateCache`], update parts shared between connections;
//! - `auth.rs`: the proof of the handshake; `rate.rs`: [`RateLimit`].
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
//! A hub that holds many connections need not hold a full [`Server`] for a
//! client that has not authenticated: it drives a [`Handshake`] (about a
//! kilobyte) the same way, and once [`Handshake::is_authenticated`] builds
//! the server with [`Server::after_login`] and hands it the bytes
//! [`Handshake::handle_input`] returned. The server then sends the welcome.
//! [`Server::new`] runs the same handshake inside the server.
//!
//! Every queue is bounded by a const generic or a constant: a peer cannot
//! make one grow. Updates coalesce instead of queueing, acknowledgements and
//! "updated" events are one slot per subscription, and a control queue that
//! would overflow closes the connection with
//! [`ErrorCode::LimitExceeded`](crate::codec::ErrorCode::LimitExceeded).
//!
//! # The driver's loop
//!
//! Every driver runs one loop around one session per connection, whatever
//! its I/O: `memwire-std`'s client task and its hub's connection task (on
//! tokio), and `memwire-embassy`'s `Runner` (on embassy-net). Each turn:
//!
//! 1. **Transmit**: `poll_transmit` until `None`, each buffer written to the
//!    stream. The hub queues them up to a cap and writes them while it
//!    waits, so that a slow reader holds back only its own connection
//!    (past a grace period the connection is dropped).
//! 2. **Events**: `poll_event` until `None`, each acted on: `Connected` or
//!    `Authenticated` opens the application's side (the hub then forwards
//!    writes for the regions the client publishes), `Updated` reaches the
//!    mirror's readers, write answers go back to whoever asked, `Closed`
//!    keeps its code for the end.
//! 3. **Closed?** Once `is_closed` is true, and what was queued is written,
//!    the loop ends.
//! 4. **Deadline**: `poll_timeout` is the latest the wait may last.
//! 5. **Wait** for the first of:
//!    - bytes read: `handle_input` (`handle_input_with` on a client, to show
//!      its [`Observer`] what the bytes bring); the end of the stream or an
//!      error ends the loop;
//!    - the deadline: `handle_timeout`;
//!    - a request of the application: a write ([`Client::write`]; for one
//!      larger than its queue holds, [`Client::write_parts`], whose frames
//!      the caller sends whole, in order, before the next `poll_transmit`;
//!      [`Server::write`] for a write to a region the client publishes,
//!      [`Server::answer_write`] for one the hub deferred), a subscribe, a
//!      close (`close`; a hub shutting down closes with
//!      [`ErrorCode::ShuttingDown`](crate::codec::ErrorCode::ShuttingDown));
//!    - a change in a region this end sends (a hub's scan, a device's
//!      [`OwnRegion::scan`]), which the next `poll_transmit` sends.
//! 6. Back to 1: any of these may have made frames or events.
//!
//! Steps 1 and 2 come in either order: the std client task polls events
//! first, so that a mirror's watchers run before its acknowledgement is
//! written. A hub may also run step 1 outside the loop, from the thread
//! whose scan found the change, while it holds the session's lock: the
//! session does not mind who calls it, only that calls do not overlap.
//! After the loop, a client keeps each subscription's
//! [`resume_point`](Client::resume_point) for the next connection and
//! answers the writes still waiting as not delivered.
//!
//! # Synchronizing a region
//!
//! A publication keeps no copy of what it sent: it sends the ranges of the
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
mod held;
mod link;
mod own_region;
mod peer_subscriptions;
mod publication;
pub mod rate;
mod server;
mod source;
mod subscriber;
mod writes;

pub use cache::{CachedPart, PartKey, PartPlan, UpdateCache};
pub use client::{Client, ClientConfig, SubscribeError};
pub use event::{AuthFailure, Event, Handle, Observer, ServerEvent};
pub use held::{HeldParts, Part};
pub use link::Stats;
pub use own_region::{OWN_RANGES, OwnRegion, OwnRegionError, OwnRegions};
pub use peer_subscriptions::{UpdateSent, check_write};
pub use rate::RateLimit;
pub use server::{Handshake, Hub, RateConfig, Server, ServerConfig};
pub use source::{Access, RegionId, Source};
pub use writes::{WriteError, WriteRequest};

#[cfg(test)]
mod tests;
