//! The frames, as types that borrow from the bytes they were decoded
//! from, and their encoding (postcard's format, see [`wire`](super::wire)).

use super::code::ErrorCode;
use super::error::{DecodeError, EncodeError};
use super::view::{Ranges, RegionList, VarTable};
use super::wire::{Reader, Sink};
use crate::schema::Name;

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u16 = 2;
/// The smallest maximum frame size a peer may announce; every frame but
/// updates, schema parts and writes always fits in it.
pub const MIN_FRAME: u32 = 128;
/// What a write frame needs beyond its value, at most: the frame's tag,
/// request id, handle, a variable name or a range header, and the length
/// prefix. A peer takes writes of `n` bytes when its largest frame is at
/// least `n + WRITE_OVERHEAD`.
pub const WRITE_OVERHEAD: usize = 64;
/// The longest client name in a hello, in bytes.
pub const CLIENT_NAME_MAX: usize = 64;
/// The longest reason in an error frame or a refused write, in bytes.
pub const REASON_MAX: usize = 100;
/// The length of a challenge nonce and of an authentication proof.
pub const NONCE_LEN: usize = 32;

/// Number of frame kinds; tags are `0..FRAME_KINDS`, but for updates.
pub(crate) const FRAME_KINDS: u8 = 15;
/// An update's tag: this base with the update's flags in its low bits, as
/// QUIC folds a STREAM frame's flags into its type.
pub(crate) const UPDATE_TAG: u8 = 0x40;
/// The update flag of a part that is its update's last.
pub(crate) const UPDATE_LAST: u8 = 0b001;
/// The update flag of a part that carries its base.
pub(crate) const UPDATE_BASE: u8 = 0b010;
/// The update flag of a part that carries its step (else the step is 1).
pub(crate) const UPDATE_STEP: u8 = 0b100;

/// Whether `tag` is an update's: [`UPDATE_TAG`] and flags.
pub(crate) const fn is_update_tag(tag: u8) -> bool {
    tag & !0b111 == UPDATE_TAG
}

/// One protocol message.
///
/// On the wire a frame is its tag (the variant index, a varint) followed by
/// its fields in declaration order, in postcard's encoding. The tags are part
/// of the wire format: `Hello` is 0 and `Error` is 4 in every version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Frame<'a> {
    /// Client → hub, first frame of a connection (tag 0).
    Hello(Hello<'a>),
    /// Hub → client, answer to hello (tag 1).
    Challenge(Challenge),
    /// Client → hub, answer to challenge (tag 2).
    Auth(Auth),
    /// Hub → client: the client is in (tag 3).
    Welcome(Welcome<'a>),
    /// Either way: something went wrong (tag 4).
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
    Subscribe(Subscribe<'a>),
    /// Subscriber → publisher: stop mirroring a region (tag 9).
    Unsubscribe(Unsubscribe),
    /// Publisher → subscriber: the region's schema, in parts (tag 10).
    Schema(SchemaPart<'a>),
    /// Publisher → subscriber: changed bytes, in parts (tags 64 to 71: the
    /// update's flags are the tag's low bits).
    Update(Update<'a>),
    /// Subscriber → publisher: an update was applied (tag 12).
    Ack(Ack),
    /// Subscriber → publisher: a write request (tag 13).
    Write(Write<'a>),
    /// Publisher → subscriber: the outcome of a write request (tag 14).
    WriteResult(WriteResult<'a>),
}

/// The client's first frame: who it is and what it can take.
///
/// Its first field, the protocol version, stays first in every version, so a
/// hub can always read it (see [`peek_hello_version`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Challenge {
    /// The protocol version of the session (equal to the hello's).
    pub version: u16,
    /// A random nonce, never reused.
    pub nonce: [u8; NONCE_LEN],
}

/// The client's proof that it holds the tenant's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Auth {
    /// HMAC-SHA256 under the client's key of `"memwire.auth.v1"`, the
    /// challenge nonce and the hello frame body, in that order.
    pub proof: [u8; NONCE_LEN],
}

/// The limits a hub sets for a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    /// Whether the client has the right to write to some region (true
    /// also from a hub that does not list its regions, which checks each
    /// write on its own).
    pub write: bool,
}

/// The hub lets the client in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    pub regions: RegionList<'a>,
}

/// An error report; the sender closes the connection after it unless it
/// names a subscription (`handle`), which then ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Resume {
    /// The instance id of the region the mirror was made from.
    pub instance: u64,
    /// The generation the mirror holds.
    pub generation: u64,
}

/// A request to mirror a region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    /// Whether every update is to be full (base 0, the whole data area):
    /// for a subscriber that keeps no copy to apply a delta to. On the
    /// wire, bit 1 of the byte whose bit 0 is `variables`.
    pub full: bool,
}

/// Ends a subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Unsubscribe {
    /// The subscription's handle.
    pub handle: u16,
}

/// The schema of a subscribed region, or a part of it.
///
/// A schema whose table does not fit one frame is sent as several parts;
/// each carries the same header, and `first` says where its variables go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SchemaPart<'a> {
    /// The subscription's handle.
    pub handle: u16,
    /// The region's instance id.
    pub instance: u64,
    /// The region's schema fingerprint.
    pub fingerprint: u64,
    /// The length of the region's data area in bytes.
    pub data_len: u32,
    /// The number of variables in the whole schema.
    pub count: u32,
    /// The index of this part's first variable.
    pub first: u32,
    /// This part's variables.
    pub variables: VarTable<'a>,
}

/// Changed bytes that bring a mirror from generation `base` to `generation`.
///
/// A large update is split into parts; every part but the last has
/// `last == false`, and the mirror is at `generation` only once the last
/// part is applied. A `base` of 0 means "from nothing": a full update.
///
/// To keep a small update small at any generation, a part names neither
/// generation in full when it need not: its base is the subscription's
/// reference ([`UpdateReference`]: the generation of the last update
/// completed on it), named by a check byte, and its generation is
/// `base + step`, the step left out when it is 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Update<'a> {
    /// The subscription's handle.
    pub handle: u16,
    /// The generation the mirror must hold to apply this update.
    pub base: UpdateBase,
    /// The generation the mirror holds after the last part, less the base.
    pub step: u64,
    /// Whether this is the update's last part.
    pub last: bool,
    /// The changed bytes.
    pub ranges: Ranges<'a>,
}

/// The base of an [`Update`] part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum UpdateBase {
    /// Named in full.
    At(u64),
    /// The subscription's reference, whose [`check`](UpdateBase::check)
    /// byte this is: a part that arrives where the receiver's reference
    /// is another generation (a part lost or repeated on the way) is
    /// refused rather than applied to the wrong base.
    Reference(u8),
}

impl UpdateBase {
    /// The check byte of `generation`: its top byte once multiplied by
    /// 2^64 / φ, so that generations near each other, or a power of two
    /// apart, get unrelated bytes.
    pub const fn check(generation: u64) -> u8 {
        (generation.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8
    }
}

impl Update<'_> {
    /// The tag of the part on the wire: [`UPDATE_TAG`] and its flags.
    fn tag(&self) -> u8 {
        let mut tag = UPDATE_TAG;
        if self.last {
            tag |= UPDATE_LAST;
        }
        if let UpdateBase::At(_) = self.base {
            tag |= UPDATE_BASE;
        }
        if self.step != 1 {
            tag |= UPDATE_STEP;
        }
        tag
    }
}

/// The generation an [`Update`] without its base in full starts from: the
/// generation of the last update completed on the subscription (the last
/// part of the last update sent or received on it), 0 before the first
/// and again after each schema part. Both ends keep one per subscription
/// and move it with every update part in the order of the stream, so it is
/// the same at both ends without being sent; a receiver refuses a part
/// whose check byte is not its reference's.
///
/// ```
/// use memwire::codec::{Ranges, Update, UpdateBase, UpdateReference};
///
/// let mut reference = UpdateReference::new();
/// let part = |base, step| Update { handle: 1, base, step, last: true, ranges: Ranges::EMPTY };
/// assert_eq!(reference.take(&part(UpdateBase::At(41), 1)), Some((41, 42)));
/// let check = UpdateBase::check(42);
/// assert_eq!(reference.take(&part(UpdateBase::Reference(check), 1)), Some((42, 43)));
/// // The same part again: its base is not the reference any more.
/// assert_eq!(reference.take(&part(UpdateBase::Reference(check), 1)), None);
/// reference.reset();
/// assert_eq!(reference.get(), 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct UpdateReference(u64);

impl UpdateReference {
    /// A subscription's reference before its first update: 0.
    pub const fn new() -> Self {
        UpdateReference(0)
    }

    /// The generation a part without its base in full starts from.
    pub const fn get(&self) -> u64 {
        self.0
    }

    /// The base and generation of `update`, the next part of this
    /// subscription, or `None` when its base cannot be known (its check
    /// byte is not the reference's: the reference stays, and the parts
    /// after it fail the same check until one names its base). The
    /// reference moves to the generation when the part is its update's
    /// last.
    pub fn take(&mut self, update: &Update<'_>) -> Option<(u64, u64)> {
        let base = match update.base {
            UpdateBase::At(base) => base,
            UpdateBase::Reference(check) if check == UpdateBase::check(self.0) => self.0,
            UpdateBase::Reference(_) => return None,
        };
        // No publisher counts to `u64::MAX`: a part that claims to pass it
        // stops there, and the mirror refuses what follows.
        let generation = base.saturating_add(update.step);
        if update.last {
            self.0 = generation;
        }
        Some((base, generation))
    }

    /// Moves past a part sent with `generation`, `last` or not (the
    /// sender's side of [`take`](Self::take)).
    pub fn sent(&mut self, generation: u64, last: bool) {
        if last {
            self.0 = generation;
        }
    }

    /// A schema part: the subscription starts over, from 0.
    pub fn reset(&mut self) {
        self.0 = 0;
    }
}

/// A mirror applied an update up to `generation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Ack {
    /// The subscription's handle.
    pub handle: u16,
    /// The generation the mirror now holds.
    pub generation: u64,
}

/// What a write changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum WriteTarget<'a> {
    /// Raw byte ranges of the data area (tag 0); each must lie inside
    /// writable variables.
    Ranges(Ranges<'a>),
    /// One whole variable, by name (tag 1).
    Variable {
        /// The variable's name.
        name: Name,
        /// Its new value, little-endian, exactly the variable's length.
        value: &'a [u8],
    },
    /// Raw byte ranges, one part of a write too large for one frame
    /// (tag 2): the parts share the write's request id and follow each
    /// other; the publisher applies them all in one commit when the part
    /// with `last` arrives, and answers that one only.
    Part {
        /// Whether this is the write's last part.
        last: bool,
        /// This part's ranges, after those of the parts before it.
        ranges: Ranges<'a>,
    },
}

/// A mirror asks the publisher to change its region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Write<'a> {
    /// Chosen by the writer; echoed in the write result.
    pub request: u32,
    /// The subscription's handle.
    pub handle: u16,
    /// What to change.
    pub target: WriteTarget<'a>,
}

/// The outcome of a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct WriteResult<'a> {
    /// The write's request id.
    pub request: u32,
    /// What happened.
    pub outcome: WriteOutcome<'a>,
}

impl<'a> Frame<'a> {
    /// Decodes one frame body. Every byte must belong to the frame; every
    /// field is checked against the bounds of the wire format.
    pub fn decode(body: &'a [u8]) -> Result<Frame<'a>, DecodeError> {
        match body.first() {
            None => return Err(DecodeError::Truncated),
            Some(&tag) if tag >= FRAME_KINDS && !is_update_tag(tag) => {
                return Err(DecodeError::UnknownFrame);
            }
            Some(_) => {}
        }
        let mut r = Reader::new(body);
        let frame = Frame::read(&mut r)?;
        r.finish()?;
        frame.check()?;
        Ok(frame)
    }

    /// Reads the tag and the fields, in declaration order.
    fn read(r: &mut Reader<'a>) -> Result<Frame<'a>, DecodeError> {
        Ok(match r.u32()? {
            tag @ 0x40..0x48 => {
                // Flags in the tag's low bits: a small update spends no
                // byte on what it need not say.
                let flags = u8::try_from(tag).unwrap_or_default();
                let handle = r.u16()?;
                let base = if flags & UPDATE_BASE != 0 {
                    UpdateBase::At(r.u64()?)
                } else {
                    UpdateBase::Reference(r.byte()?)
                };
                let step = if flags & UPDATE_STEP != 0 {
                    r.u64()?
                } else {
                    1
                };
                // The ranges run to the end of the body: a cut body is
                // truncated, as any other.
                let ranges = Ranges::new_checked(r.take(r.rest().len())?).map_err(|e| match e {
                    DecodeError::Truncated => e,
                    _ => DecodeError::Invalid,
                })?;
                Frame::Update(Update {
                    handle,
                    base,
                    step,
                    last: flags & UPDATE_LAST != 0,
                    ranges,
                })
            }
            0 => Frame::Hello(Hello {
                version: r.u16()?,
                max_frame: r.u32()?,
                client: r.str()?,
                tenant: r.str()?,
            }),
            1 => Frame::Challenge(Challenge {
                version: r.u16()?,
                nonce: r.array()?,
            }),
            2 => Frame::Auth(Auth { proof: r.array()? }),
            3 => Frame::Welcome(Welcome {
                session: r.u64()?,
                limits: Limits {
                    max_frame: r.u32()?,
                    max_in_flight: r.u16()?,
                    max_subscriptions: r.u16()?,
                    keepalive_ms: r.u32()?,
                    timeout_ms: r.u32()?,
                    write: r.bool()?,
                },
                complete: r.bool()?,
                regions: view(r, RegionList::new_checked)?,
            }),
            4 => Frame::Error(ErrorFrame {
                code: ErrorCode::from_value(r.u16()?),
                handle: if r.some()? { Some(r.u16()?) } else { None },
                reason: r.str()?,
            }),
            5 => Frame::Close,
            6 => Frame::Ping { nonce: r.u64()? },
            7 => Frame::Pong { nonce: r.u64()? },
            8 => {
                let handle = r.u16()?;
                let path = r.str()?;
                let resume = if r.some()? {
                    Some(Resume {
                        instance: r.fixed_u64()?,
                        generation: r.u64()?,
                    })
                } else {
                    None
                };
                // Bit 0 `variables`, bit 1 `full`; other bits are refused,
                // so that a later version may give them a meaning.
                let flags = r.byte()?;
                if flags & !0b11 != 0 {
                    return Err(DecodeError::BadTag);
                }
                Frame::Subscribe(Subscribe {
                    handle,
                    path,
                    resume,
                    variables: flags & 1 != 0,
                    full: flags & 2 != 0,
                })
            }
            9 => Frame::Unsubscribe(Unsubscribe { handle: r.u16()? }),
            10 => Frame::Schema(SchemaPart {
                handle: r.u16()?,
                instance: r.fixed_u64()?,
                fingerprint: r.fixed_u64()?,
                data_len: r.u32()?,
                count: r.u32()?,
                first: r.u32()?,
                variables: view(r, VarTable::new_checked)?,
            }),
            12 => Frame::Ack(Ack {
                handle: r.u16()?,
                generation: r.u64()?,
            }),
            13 => Frame::Write(Write {
                request: r.u32()?,
                handle: r.u16()?,
                target: match r.u32()? {
                    1 => WriteTarget::Variable {
                        name: r.name()?,
                        value: r.bytes()?,
                    },
                    // One path for both kinds of ranges: a device's flash
                    // holds one copy of the ranges' check.
                    tag @ (0 | 2) => {
                        let part = tag == 2;
                        let last = part && r.bool()?;
                        let ranges = view(r, Ranges::new_checked)?;
                        if part {
                            WriteTarget::Part { last, ranges }
                        } else {
                            WriteTarget::Ranges(ranges)
                        }
                    }
                    _ => return Err(DecodeError::BadTag),
                },
            }),
            14 => Frame::WriteResult(WriteResult {
                request: r.u32()?,
                outcome: match r.u32()? {
                    0 => WriteOutcome::Applied {
                        generation: r.u64()?,
                    },
                    1 => WriteOutcome::Refused {
                        code: ErrorCode::from_value(r.u16()?),
                        reason: r.str()?,
                    },
                    _ => return Err(DecodeError::BadTag),
                },
            }),
            _ => return Err(DecodeError::UnknownFrame),
        })
    }

    /// Encodes the frame body into `buf` and returns its length. The same
    /// frame always gives the same bytes.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        self.check().map_err(|_| EncodeError::Invalid)?;
        let mut out = Sink::slice(buf);
        self.write(&mut out)?;
        out.finish()
    }

    /// The length of the encoded frame body.
    pub fn encoded_len(&self) -> usize {
        let mut out = Sink::Count(0);
        // Counting cannot fail.
        let _ = self.write(&mut out);
        out.finish().unwrap_or(usize::MAX)
    }

    /// Writes the tag and the fields, in declaration order.
    pub(crate) fn write(&self, out: &mut Sink<'_>) -> Result<(), EncodeError> {
        out.varint(u64::from(self.tag()))?;
        match *self {
            Frame::Hello(h) => {
                out.varint(h.version.into())?;
                out.varint(h.max_frame.into())?;
                out.str(h.client)?;
                out.str(h.tenant)
            }
            Frame::Challenge(c) => {
                out.varint(c.version.into())?;
                out.put(&c.nonce)
            }
            Frame::Auth(a) => out.put(&a.proof),
            Frame::Welcome(w) => {
                let l = w.limits;
                out.varint(w.session)?;
                for value in [
                    l.max_frame,
                    l.max_in_flight.into(),
                    l.max_subscriptions.into(),
                    l.keepalive_ms,
                    l.timeout_ms,
                ] {
                    out.varint(value.into())?;
                }
                out.bool(l.write)?;
                out.bool(w.complete)?;
                out.bytes(w.regions.as_bytes())
            }
            Frame::Error(e) => {
                out.varint(e.code.value().into())?;
                out.bool(e.handle.is_some())?;
                if let Some(handle) = e.handle {
                    out.varint(handle.into())?;
                }
                out.str(e.reason)
            }
            Frame::Close => Ok(()),
            Frame::Ping { nonce } | Frame::Pong { nonce } => out.varint(nonce),
            Frame::Subscribe(s) => {
                out.varint(s.handle.into())?;
                out.str(s.path)?;
                out.bool(s.resume.is_some())?;
                if let Some(resume) = s.resume {
                    out.fixed_u64(resume.instance)?;
                    out.varint(resume.generation)?;
                }
                // One byte: a subscribe without `full` is as it was when
                // this byte was the bool `variables`.
                out.byte(u8::from(s.variables) | (u8::from(s.full) << 1))
            }
            Frame::Unsubscribe(u) => out.varint(u.handle.into()),
            Frame::Schema(s) => {
                out.varint(s.handle.into())?;
                out.fixed_u64(s.instance)?;
                out.fixed_u64(s.fingerprint)?;
                for value in [s.data_len, s.count, s.first] {
                    out.varint(value.into())?;
                }
                out.bytes(s.variables.as_bytes())
            }
            Frame::Update(u) => {
                out.varint(u.handle.into())?;
                match u.base {
                    UpdateBase::At(base) => out.varint(base)?,
                    UpdateBase::Reference(check) => out.byte(check)?,
                }
                if u.step != 1 {
                    out.varint(u.step)?;
                }
                out.put(u.ranges.as_bytes())
            }
            Frame::Ack(a) => {
                out.varint(a.handle.into())?;
                out.varint(a.generation)
            }
            Frame::Write(w) => {
                out.varint(w.request.into())?;
                out.varint(w.handle.into())?;
                match w.target {
                    WriteTarget::Ranges(ranges) => {
                        out.varint(0)?;
                        out.bytes(ranges.as_bytes())
                    }
                    WriteTarget::Variable { name, value } => {
                        out.varint(1)?;
                        out.str(name.as_str())?;
                        out.bytes(value)
                    }
                    WriteTarget::Part { last, ranges } => {
                        out.varint(2)?;
                        out.bool(last)?;
                        out.bytes(ranges.as_bytes())
                    }
                }
            }
            Frame::WriteResult(w) => {
                out.varint(w.request.into())?;
                match w.outcome {
                    WriteOutcome::Applied { generation } => {
                        out.varint(0)?;
                        out.varint(generation)
                    }
                    WriteOutcome::Refused { code, reason } => {
                        out.varint(1)?;
                        out.varint(code.value().into())?;
                        out.str(reason)
                    }
                }
            }
        }
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
            Frame::Update(u) => u.tag(),
            Frame::Ack(_) => 12,
            Frame::Write(_) => 13,
            Frame::WriteResult(_) => 14,
        }
    }

    /// Checks the bounds that the field types do not carry.
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

/// A byte string holding a sequence of items, checked by `check`; a bad
/// item makes the whole field invalid.
fn view<'a, T>(
    r: &mut Reader<'a>,
    check: fn(&'a [u8]) -> Result<T, DecodeError>,
) -> Result<T, DecodeError> {
    check(r.bytes()?).map_err(|_| DecodeError::Invalid)
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
    let mut r = Reader::new(body);
    if r.byte().ok()? != 0 {
        return None;
    }
    r.u16().ok()
}
