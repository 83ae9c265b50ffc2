//! What a session tells its application, and the handle it names a
//! subscription by.

use super::held::HeldParts;
use super::own_region::OwnRegions;
use super::source::RegionId;
use crate::Region;
use crate::codec::{ErrorCode, Limits, RegionList, SchemaPart};

/// A client's name for one of its subscriptions, carried in every frame
/// about it. The client picks it; it is the subscription's slot index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Handle(pub u16);

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
    /// differ), or, for a described subscription, the [`Observer`] returned
    /// no mirror for the whole table. The mirror is untouched and the
    /// subscription has ended.
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
    /// The client's login was refused: the session sent
    /// [`ErrorCode::AuthFailed`] (the same answer whatever the reason) and
    /// closes. The tenant and client the hello named are in
    /// [`Server::claimed`](super::Server::claimed); the reason is for the
    /// hub's operator, never for the client.
    AuthFailed {
        /// Why.
        reason: AuthFailure,
    },
    /// The client applied a write the hub sent with
    /// [`Server::write`](super::Server::write).
    WriteApplied {
        /// The request id `Server::write` returned.
        request: u32,
        /// The generation of the client's region that holds the write.
        generation: u64,
    },
    /// The client refused a write the hub sent; nothing changed.
    WriteRefused {
        /// The request id.
        request: u32,
        /// Why.
        code: ErrorCode,
    },
    /// The hub stopped mirroring a region the client publishes: its schema
    /// is not the hub's copy's ([`ErrorCode::SchemaMismatch`]), or the
    /// client refused or ended the subscription (its code).
    Unmirrored {
        /// The hub's copy.
        region: RegionId,
        /// Why.
        code: ErrorCode,
    },
    /// The connection is closed.
    Closed {
        /// The error that closed it (sent or received), `None` for an
        /// orderly close.
        code: Option<ErrorCode>,
    },
}

/// Why a login was refused, as [`ServerEvent::AuthFailed`] tells the hub.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum AuthFailure {
    /// The hub has no tenant of the hello's name
    /// ([`Hub::knows_tenant`](super::Hub::knows_tenant)).
    UnknownTenant,
    /// The tenant has no client of the hello's name
    /// ([`Hub::secret`](super::Hub::secret) gave none).
    UnknownClient,
    /// The proof does not match the client's secret.
    WrongProof,
}

impl AuthFailure {
    /// The reason in a few words, for logs.
    pub fn describe(self) -> &'static str {
        match self {
            AuthFailure::UnknownTenant => "unknown tenant",
            AuthFailure::UnknownClient => "unknown client",
            AuthFailure::WrongProof => "wrong proof",
        }
    }
}

impl core::fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.describe())
    }
}

/// What a [`Client`](super::Client) shows its caller while it reads input,
/// borrowed from the bytes being read: pass one to
/// [`Client::handle_input_with`](super::Client::handle_input_with).
/// [`Client::handle_input`](super::Client::handle_input) uses `()`, which
/// ignores everything.
///
/// Every method has a default body that ignores what it is given.
pub trait Observer<'a> {
    /// A schema part of a subscription made with
    /// [`Client::subscribe_described`](super::Client::subscribe_described)
    /// that has no mirror yet.
    ///
    /// Parts come in order: `part.first` is the index of the part's first
    /// variable, and a part with `first == 0` starts the table afresh (the
    /// region was created anew while its table was being sent). The table
    /// is whole at the part where `part.first` plus the number of its
    /// variables is `part.count`.
    ///
    /// Return a mirror laid out with the schema the table describes to
    /// start mirroring: the subscription then goes on exactly like one made
    /// with [`Client::subscribe`](super::Client::subscribe). This part is
    /// checked against the mirror (same fingerprint and data length, else
    /// [`Event::SchemaMismatch`]) and the full update that follows fills
    /// it. A mirror may also come from an earlier part (a schema the caller
    /// knows by its fingerprint); later parts are then not shown. `None`
    /// from the last part ends the subscription with
    /// [`Event::SchemaMismatch`] and an unsubscribe.
    fn schema_part(&mut self, handle: Handle, part: &SchemaPart<'_>) -> Option<Region<'a>> {
        let _ = (handle, part);
        None
    }

    /// The regions the hub's welcome lists (those the client may access,
    /// with their instance ids); `complete` is false when some did not fit
    /// the client's maximum frame.
    fn regions(&mut self, list: RegionList<'_>, complete: bool) {
        let _ = (list, complete);
    }

    /// The regions this client publishes, whose subscriptions by the hub
    /// the session serves; `None` publishes nothing (the hub's subscribes
    /// are refused with [`ErrorCode::UnknownRegion`]).
    fn published(&mut self) -> Option<&mut dyn OwnRegions> {
        None
    }

    /// Room for the parts of an update of subscription `handle` that come
    /// before its last: with it the session writes the whole update into
    /// the mirror as one commit when the last part arrives, so a reader of
    /// the mirror never sees an update larger than a frame half applied.
    /// Return the same room for a handle for as long as the subscription
    /// lasts.
    ///
    /// The default lends none: each part is then its own commit.
    fn held_parts(&mut self, handle: Handle) -> Option<&mut dyn HeldParts> {
        let _ = handle;
        None
    }
}

/// Ignores everything.
impl Observer<'_> for () {}
