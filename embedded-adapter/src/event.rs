//! What the runner tells the application, and why a write failed.

use core::fmt;

use memwire::codec::ErrorCode;

/// Something that happened to the device's connection or its mirrors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Event {
    /// The hub welcomed the device; the mirrors are being subscribed.
    Connected,
    /// A mirror is at a new generation. Several updates between two events
    /// are reported once, with the latest generation.
    Updated {
        /// The mirror's index in the list given to [`new`](crate::new).
        mirror: usize,
        /// The generation the mirror now holds.
        generation: u64,
        /// Whether the mirror was rewritten whole (first subscription, a
        /// new region instance at the hub, a resync) rather than by a
        /// delta.
        resynced: bool,
    },
    /// The hub's region is not laid out like the mirror (schema
    /// fingerprint or data length differ): the mirror is untouched and not
    /// followed until the next connection.
    SchemaMismatch {
        /// The mirror's index.
        mirror: usize,
    },
    /// The hub ended a mirror's subscription (unknown region, no access):
    /// it is not followed until the next connection.
    Ended {
        /// The mirror's index.
        mirror: usize,
        /// Why.
        code: ErrorCode,
    },
    /// A session the hub had welcomed ended, or the hub refused the
    /// handshake (`code` says why); the runner reconnects after a backoff
    /// delay.
    Disconnected {
        /// The protocol error that closed it, `None` for a lost link, a
        /// closed socket or an orderly close.
        code: Option<ErrorCode>,
    },
}

/// Why [`Handle::write`](crate::Handle::write) did not apply a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum WriteError {
    /// No session is open, or the mirror's subscription is not live yet.
    NotConnected,
    /// No mirror has that index.
    UnknownMirror,
    /// The bytes do not fit the write buffer of the
    /// [`Resources`](crate::Resources), or one frame.
    TooLarge,
    /// The range reaches outside the mirror's data area, or the variable
    /// name is not valid.
    Invalid,
    /// Too many writes wait for the hub's answer (writes whose callers
    /// gave up count until the hub answers them): retry later.
    Busy,
    /// The hub refused the write (no write right, a variable that is not
    /// writable, ...); nothing changed.
    Refused(ErrorCode),
    /// The session ended before the hub answered: the write may or may not
    /// have been applied.
    Disconnected,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::NotConnected => f.write_str("not connected, or the mirror is not live"),
            WriteError::UnknownMirror => f.write_str("no mirror has that index"),
            WriteError::TooLarge => f.write_str("the write does not fit the write buffer"),
            WriteError::Invalid => f.write_str("range or variable name not valid"),
            WriteError::Busy => f.write_str("too many writes wait for the hub's answer"),
            WriteError::Refused(code) => write!(f, "the hub refused the write: {code}"),
            WriteError::Disconnected => f.write_str("the session ended before the hub answered"),
        }
    }
}

impl core::error::Error for WriteError {}
