//! What a session tells its application.

use super::Handle;
use crate::codec::{ErrorCode, Limits};

/// Something that happened on a [`Client`](super::Client).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Event {
    /// The hub accepted the client: subscriptions and writes now flow.
    Connected {
        /// The hub's id of the session, for logs.
        session: u64,
        /// The limits the hub set.
        limits: Limits,
    },
    /// A mirror is at a new generation: an update was applied completely.
    /// Several updates between two polls are reported once, with the latest
    /// generation.
    Updated {
        /// The subscription.
        handle: Handle,
        /// The generation the mirror now holds.
        generation: u64,
        /// Whether the mirror was rewritten whole (a full update: a first
        /// subscription, a resume across a new region instance, a resync).
        resynced: bool,
    },
    /// The region's schema is not the mirror's (fingerprint or data length
    /// differ). The mirror is untouched and the subscription has ended.
    SchemaMismatch {
        /// The subscription.
        handle: Handle,
    },
    /// The hub ended a subscription (unknown region, no access, ...).
    Ended {
        /// The subscription.
        handle: Handle,
        /// Why.
        code: ErrorCode,
    },
    /// A write was applied by the hub.
    WriteApplied {
        /// The request id [`Client::write`](super::Client::write) returned.
        request: u32,
        /// The generation of the region that holds the write.
        generation: u64,
    },
    /// A write was refused; nothing changed.
    WriteRefused {
        /// The request id.
        request: u32,
        /// Why.
        code: ErrorCode,
    },
    /// The connection is closed; the session does nothing more.
    Closed {
        /// The error that closed it, `None` for an orderly close.
        code: Option<ErrorCode>,
    },
}

/// Something that happened on a [`Server`](super::Server).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ServerEvent {
    /// The client proved its key; the session is open.
    Authenticated,
    /// The connection is closed.
    Closed {
        /// The error that closed it (sent or received), `None` for an
        /// orderly close.
        code: Option<ErrorCode>,
    },
}
