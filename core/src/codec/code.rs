//! Error codes carried by error frames and refused writes.

use core::fmt;

/// Why a peer reports an error or refuses a write.
///
/// The numeric values are part of the wire format and never change; new
/// codes get new values. A code this version does not know decodes as
/// [`ErrorCode::Other`], so a newer peer's error is still reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
#[repr(u16)]
pub enum ErrorCode {
    /// No more specific code applies, or the peer sent a code this version
    /// does not know.
    Other = 1,
    /// The peer speaks a protocol version this side does not.
    UnsupportedVersion = 2,
    /// A frame did not decode.
    Malformed = 3,
    /// A frame was larger than the receiver's maximum frame size.
    FrameTooLarge = 4,
    /// A frame arrived that is not allowed in the session's current state.
    UnexpectedFrame = 5,
    /// The authentication proof was wrong, or the tenant or client is unknown.
    AuthFailed = 6,
    /// The handshake did not finish in time.
    HandshakeTimeout = 7,
    /// The peer sent nothing for longer than the idle timeout.
    Timeout = 8,
    /// No region has that path.
    UnknownRegion = 9,
    /// The client has no right to do that (read a region of another tenant,
    /// write as a read-only client).
    AccessDenied = 10,
    /// The schema fingerprint differs from the one expected.
    SchemaMismatch = 11,
    /// An update's base generation is not the mirror's; a resync is needed.
    BaseMismatch = 12,
    /// A write touches a variable that is not writable.
    ReadOnly = 13,
    /// A write reaches outside the data area or outside writable variables.
    OutOfBounds = 14,
    /// A write names a variable the schema does not have.
    UnknownVariable = 15,
    /// A write's value has the wrong length or is not a value of its kind.
    BadValue = 16,
    /// A frame names a region handle that is not subscribed.
    UnknownHandle = 17,
    /// A subscribe reuses a handle that is already subscribed.
    HandleInUse = 18,
    /// A limit announced in the welcome was exceeded (subscriptions, updates
    /// in flight).
    LimitExceeded = 19,
    /// The peer sends faster than its rate limit allows.
    RateLimited = 20,
    /// The sender is shutting down.
    ShuttingDown = 21,
    /// The region is busy: another writer (a local process) holds it.
    Busy = 22,
}

impl ErrorCode {
    /// Every code, in value order.
    pub const ALL: [ErrorCode; 22] = [
        ErrorCode::Other,
        ErrorCode::UnsupportedVersion,
        ErrorCode::Malformed,
        ErrorCode::FrameTooLarge,
        ErrorCode::UnexpectedFrame,
        ErrorCode::AuthFailed,
        ErrorCode::HandshakeTimeout,
        ErrorCode::Timeout,
        ErrorCode::UnknownRegion,
        ErrorCode::AccessDenied,
        ErrorCode::SchemaMismatch,
        ErrorCode::BaseMismatch,
        ErrorCode::ReadOnly,
        ErrorCode::OutOfBounds,
        ErrorCode::UnknownVariable,
        ErrorCode::BadValue,
        ErrorCode::UnknownHandle,
        ErrorCode::HandleInUse,
        ErrorCode::LimitExceeded,
        ErrorCode::RateLimited,
        ErrorCode::ShuttingDown,
        ErrorCode::Busy,
    ];

    /// The stable numeric value sent on the wire.
    pub const fn value(self) -> u16 {
        self as u16
    }

    /// The code with numeric value `value`; unknown values are
    /// [`ErrorCode::Other`].
    pub const fn from_value(value: u16) -> ErrorCode {
        let index = value.wrapping_sub(1) as usize;
        if index < ErrorCode::ALL.len() {
            #[allow(clippy::indexing_slicing)] // bounds checked above; `get` is not const
            ErrorCode::ALL[index]
        } else {
            ErrorCode::Other
        }
    }

    /// A short description, for logs.
    pub const fn describe(self) -> &'static str {
        match self {
            ErrorCode::Other => "error",
            ErrorCode::UnsupportedVersion => "unsupported protocol version",
            ErrorCode::Malformed => "malformed frame",
            ErrorCode::FrameTooLarge => "frame too large",
            ErrorCode::UnexpectedFrame => "unexpected frame",
            ErrorCode::AuthFailed => "authentication failed",
            ErrorCode::HandshakeTimeout => "handshake timed out",
            ErrorCode::Timeout => "peer timed out",
            ErrorCode::UnknownRegion => "unknown region",
            ErrorCode::AccessDenied => "access denied",
            ErrorCode::SchemaMismatch => "schema mismatch",
            ErrorCode::BaseMismatch => "update base does not match",
            ErrorCode::ReadOnly => "variable is read-only",
            ErrorCode::OutOfBounds => "write out of bounds",
            ErrorCode::UnknownVariable => "unknown variable",
            ErrorCode::BadValue => "bad value",
            ErrorCode::UnknownHandle => "unknown region handle",
            ErrorCode::HandleInUse => "region handle in use",
            ErrorCode::LimitExceeded => "limit exceeded",
            ErrorCode::RateLimited => "rate limited",
            ErrorCode::ShuttingDown => "shutting down",
            ErrorCode::Busy => "region busy: another writer holds it",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_stable_and_unknown_is_other() {
        for (i, code) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(usize::from(code.value()), i + 1);
            assert_eq!(ErrorCode::from_value(code.value()), *code);
        }
        assert_eq!(ErrorCode::UnsupportedVersion.value(), 2);
        assert_eq!(ErrorCode::ShuttingDown.value(), 21);
        assert_eq!(ErrorCode::from_value(0), ErrorCode::Other);
        assert_eq!(ErrorCode::Busy.value(), 22);
        assert_eq!(ErrorCode::from_value(23), ErrorCode::Other);
        assert_eq!(ErrorCode::from_value(u16::MAX), ErrorCode::Other);
    }
}
