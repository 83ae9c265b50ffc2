//! The frames, as serde types that borrow from the bytes they were decoded
//! from, and their postcard encoding.

use serde::{Deserialize, Serialize};

use super::code::ErrorCode;
use super::error::{DecodeError, EncodeError};
use super::view::{Ranges, RegionList, VarTable};
use crate::schema::Name;

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u16 = 1;
/// The smallest maximum frame size a peer may announce; every frame but
/// updates, schema parts and writes always fits in it.
pub const MIN_FRAME: u32 = 128;
/// The longest client name in a hello, in bytes.
pub const CLIENT_NAME_MAX: usize = 64;
/// The longest reason in an error frame or a refused write, in bytes.
pub const REASON_MAX: usize = 100;
/// The length of a challenge nonce and of an authentication proof.
pub const NONCE_LEN: usize = 32;

/// Number of frame kinds; tags are `0..FRAME_KINDS`.
pub(crate) const FRAME_KINDS: u8 = 15;

/// One protocol message.
///
/// On the wire a frame is its tag (the variant index, a varint) followed by
/// its fields in declaration order, in postcard's encoding. The tags are part
/// of the wire format: `Hello` is 0 and `Error` is 4 in every version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Frame<'a> {
    /// Client → hub, first frame of a connection (tag 0).
    #[serde(borrow)]
    Hello(Hello<'a>),
    /// Hub → client, answer to hello (tag 1).
    Challenge(Challenge),
    /// Client → hub, answer to challenge (tag 2).
    Auth(Auth),
    /// Hub → client: the client is in (tag 3).
    #[serde(borrow)]
    Welcome(Welcome<'a>),
    /// Either way: something went wrong (tag 4).
    #[serde(borrow)]
    Error(ErrorFrame<'a>),
    /// Either way: the sender closes the connection after this frame (tag 5).
    Close,
    /// Either way: keep-alive request (tag 6).
    Ping {
        /// Echoed in the pong.
        nonce: u64,
    },
    /// Either way: keep-alive answer (tag 7).
    Pong {
        /// The nonce of the ping answered.
        nonce: u64,
    },
    /// Subscriber → publisher: start mirroring a region (tag 8).
    #[serde(borrow)]
    Subscribe(Subscribe<'a>),
    /// Subscriber → publisher: stop mirroring a region (tag 9).
    Unsubscribe(Unsubscribe),
    /// Publisher → subscriber: the region's schema, in parts (tag 10).
    #[serde(borrow)]
    Schema(SchemaPart<'a>),
    /// Publisher → subscriber: changed bytes, in parts (tag 11).
    #[serde(borrow)]
    Update(Update<'a>),
    /// Subscriber → publisher: an update was applied (tag 12).
    Ack(Ack),
    /// Subscriber → publisher: a write request (tag 13).
    #[serde(borrow)]
    Write(Write<'a>),
    /// Publisher → subscriber: the outcome of a write request (tag 14).
    #[serde(borrow)]
    WriteResult(WriteResult<'a>),
}

/// The client's first frame: who it is and what it can take.
///
/// Its first field, the protocol version, stays first in every version, so a
/// hub can always read it (see [`peek_hello_version`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Hello<'a> {
    /// The protocol version the client speaks ([`PROTOCOL_VERSION`]).
    pub version: u16,
    /// The largest frame body the client can receive, at least [`MIN_FRAME`].
    pub max_frame: u32,
    /// A free-form client name for logs, at most [`CLIENT_NAME_MAX`] bytes.
    pub client: &'a str,
    /// The tenant the client authenticates for (variable-name rules).
    pub tenant: &'a str,
}

/// The hub's answer to a hello: the version it will speak and a fresh nonce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Challenge {
    /// The protocol version of the session (equal to the hello's).
    pub version: u16,
    /// A random nonce, never reused.
    pub nonce: [u8; NONCE_LEN],
}

/// The client's proof that it holds the tenant's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Auth {
    /// HMAC-SHA256 under the client's key of `"memwire.auth.v1"`, the
    /// challenge nonce and the hello frame body, in that order.
    pub proof: [u8; NONCE_LEN],
}

/// The limits a hub sets for a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Limits {
    /// The largest frame body the hub can receive, at least [`MIN_FRAME`].
    pub max_frame: u32,
    /// Updates a publisher may have unacknowledged per subscription.
    pub max_in_flight: u16,
    /// Subscriptions the client may hold at once.
    pub max_subscriptions: u16,
    /// The interval at which each side pings when idle, in milliseconds.
    pub keepalive_ms: u32,
    /// A side that hears nothing for this long closes, in milliseconds.
    pub timeout_ms: u32,
    /// Whether the client may write.
    pub write: bool,
}

/// The hub lets the client in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Welcome<'a> {
    /// An id for logs on both sides.
    pub session: u64,
    /// The session's limits.
    pub limits: Limits,
    /// Whether `regions` lists every region of the tenant (false when they did
    /// not all fit in the client's maximum frame size).
    pub complete: bool,
    /// Regions of the tenant with their instance ids.
    #[serde(borrow)]
    pub regions: RegionList<'a>,
}

/// An error report; the sender closes the connection after it unless it
/// names a subscription (`handle`), which then ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ErrorFrame<'a> {
    /// What went wrong.
    pub code: ErrorCode,
    /// The subscription the error ends, if any.
    pub handle: Option<u16>,
    /// A short human-readable reason, at most [`REASON_MAX`] bytes.
    pub reason: &'a str,
}

/// Where a mirror stands: the region instance and generation it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Resume {
    /// The instance id of the region the mirror was made from.
    #[serde(with = "postcard::fixint::le")]
    pub instance: u64,
    /// The generation the mirror holds.
    pub generation: u64,
}

/// A request to mirror a region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Subscribe<'a> {
    /// The handle the subscriber picks for this subscription; every later
    /// frame about it carries this handle instead of the path.
    pub handle: u16,
    /// `tenant/region`, or `region` within the session's tenant.
    pub path: &'a str,
    /// Where the mirror stands, if it holds a copy already.
    pub resume: Option<Resume>,
    /// Whether the subscriber wants the variable table (else schema parts
    /// carry the fingerprint only).
    pub variables: bool,
}

/// Ends a subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Unsubscribe {
    /// The subscription's handle.
    pub handle: u16,
}

/// The schema of a subscribed region, or a part of it.
///
/// A schema whose table does not fit one frame is sent as several parts;
/// each carries the same header, and `first` says where its variables go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SchemaPart<'a> {
    /// The subscription's handle.
    pub handle: u16,
    /// The region's instance id.
    #[serde(with = "postcard::fixint::le")]
    pub instance: u64,
    /// The region's schema fingerprint.
    #[serde(with = "postcard::fixint::le")]
    pub fingerprint: u64,
    /// The length of the region's data area in bytes.
    pub data_len: u32,
    /// The number of variables in the whole schema.
    pub count: u32,
    /// The index of this part's first variable.
    pub first: u32,
    /// This part's variables.
    #[serde(borrow)]
    pub variables: VarTable<'a>,
}

/// Changed bytes that bring a mirror from generation `base` to `generation`.
///
/// A large update is split into parts; every part but the last has
/// `last == false`, and the mirror is at `generation` only once the last
/// part is applied. A `base` of 0 means "from nothing": a full update.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Update<'a> {
    /// The subscription's handle.
    pub handle: u16,
    /// The generation the mirror must hold to apply this update.
    pub base: u64,
    /// The generation the mirror holds after the last part.
    pub generation: u64,
    /// Whether this is the update's last part.
    pub last: bool,
    /// The changed bytes.
    #[serde(borrow)]
    pub ranges: Ranges<'a>,
}

/// A mirror applied an update up to `generation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Ack {
    /// The subscription's handle.
    pub handle: u16,
    /// The generation the mirror now holds.
    pub generation: u64,
}

/// What a write changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum WriteTarget<'a> {
    /// Raw byte ranges of the data area (tag 0); each must lie inside
    /// writable variables.
    #[serde(borrow)]
    Ranges(Ranges<'a>),
    /// One whole variable, by name (tag 1).
    Variable {
        /// The variable's name.
        name: Name,
        /// Its new value, little-endian, exactly the variable's length.
        value: &'a [u8],
    },
}

/// A mirror asks the publisher to change its region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Write<'a> {
    /// Chosen by the writer; echoed in the write result.
    pub request: u32,
    /// The subscription's handle.
    pub handle: u16,
    /// What to change.
    #[serde(borrow)]
    pub target: WriteTarget<'a>,
}

/// The outcome of a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum WriteOutcome<'a> {
    /// Applied; the region is at `generation` (tag 0).
    Applied {
        /// The generation that holds the write.
        generation: u64,
    },
    /// Refused, nothing changed (tag 1).
    Refused {
        /// Why.
        code: ErrorCode,
        /// A short reason, at most [`REASON_MAX`] bytes.
        reason: &'a str,
    },
}

/// The answer to a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct WriteResult<'a> {
    /// The write's request id.
    pub request: u32,
    /// What happened.
    #[serde(borrow)]
    pub outcome: WriteOutcome<'a>,
}

impl<'a> Frame<'a> {
    /// Decodes one frame body. Every byte must belong to the frame; every
    /// field is checked against the bounds of the wire format.
    pub fn decode(body: &'a [u8]) -> Result<Frame<'a>, DecodeError> {
        match body.first() {
            None => return Err(DecodeError::Truncated),
            Some(&tag) if tag >= FRAME_KINDS => return Err(DecodeError::UnknownFrame),
            Some(_) => {}
        }
        let (frame, rest): (Frame<'a>, _) =
            postcard::take_from_bytes(body).map_err(DecodeError::from_postcard)?;
        if !rest.is_empty() {
            return Err(DecodeError::TrailingBytes);
        }
        frame.check()?;
        Ok(frame)
    }

    /// Encodes the frame body into `buf` and returns its length. The same
    /// frame always gives the same bytes.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        self.check().map_err(|_| EncodeError::Invalid)?;
        postcard::to_slice(self, buf)
            .map(|out| out.len())
            .map_err(EncodeError::from_postcard)
    }

    /// The length of the encoded frame body.
    pub fn encoded_len(&self) -> usize {
        // The size flavor cannot fail; the fallback is never used.
        postcard::experimental::serialized_size(self).unwrap_or(usize::MAX)
    }

    /// The frame's tag on the wire.
    pub fn tag(&self) -> u8 {
        match self {
            Frame::Hello(_) => 0,
            Frame::Challenge(_) => 1,
            Frame::Auth(_) => 2,
            Frame::Welcome(_) => 3,
            Frame::Error(_) => 4,
            Frame::Close => 5,
            Frame::Ping { .. } => 6,
            Frame::Pong { .. } => 7,
            Frame::Subscribe(_) => 8,
            Frame::Unsubscribe(_) => 9,
            Frame::Schema(_) => 10,
            Frame::Update(_) => 11,
            Frame::Ack(_) => 12,
            Frame::Write(_) => 13,
            Frame::WriteResult(_) => 14,
        }
    }

    /// Checks the bounds that postcard's types do not carry.
    pub(crate) fn check(&self) -> Result<(), DecodeError> {
        let ok = match self {
            Frame::Hello(h) => {
                h.max_frame >= MIN_FRAME
                    && h.client.len() <= CLIENT_NAME_MAX
                    && Name::new(h.tenant).is_ok()
            }
            Frame::Welcome(w) => w.limits.max_frame >= MIN_FRAME,
            Frame::Error(e) => e.reason.len() <= REASON_MAX,
            Frame::Subscribe(s) => path_ok(s.path),
            Frame::Schema(s) => u64::from(s.first) <= u64::from(s.count),
            Frame::WriteResult(WriteResult {
                outcome: WriteOutcome::Refused { reason, .. },
                ..
            }) => reason.len() <= REASON_MAX,
            _ => true,
        };
        if ok {
            Ok(())
        } else {
            Err(DecodeError::Invalid)
        }
    }
}

/// Whether `path` is `tenant/region` or `region`, each part following the
/// variable-name rules.
fn path_ok(path: &str) -> bool {
    match path.split_once('/') {
        Some((tenant, region)) => Name::new(tenant).is_ok() && Name::new(region).is_ok(),
        None => Name::new(path).is_ok(),
    }
}

/// The protocol version of a hello body, read from its first two fields
/// only, which every version keeps. Lets a hub report
/// [`ErrorCode::UnsupportedVersion`] for a hello whose later fields it cannot
/// decode. `None` if `body` does not start a hello.
pub fn peek_hello_version(body: &[u8]) -> Option<u16> {
    let (tag, rest): (u8, _) = postcard::take_from_bytes(body).ok()?;
    if tag != 0 {
        return None;
    }
    let (version, _): (u16, _) = postcard::take_from_bytes(rest).ok()?;
    Some(version)
}
