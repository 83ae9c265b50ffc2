//! Variable names: short, ASCII, fixed capacity.

use core::cmp::Ordering;
use core::fmt;

/// The longest variable name, in bytes.
pub const NAME_MAX: usize = 40;

/// A variable name: 1 to [`NAME_MAX`] bytes of ASCII letters, digits, `_`,
/// `.` and `-`.
///
/// The character set keeps names safe in paths (`tenant/region/var`), TOML
/// keys and terminals. Names compare as byte strings.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Name {
    bytes: [u8; NAME_MAX],
    len: u8,
}

/// Why a string is not a [`Name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum NameError {
    /// The name is empty.
    Empty,
    /// The name is longer than [`NAME_MAX`] bytes.
    TooLong,
    /// The name holds a byte outside `[A-Za-z0-9_.-]`.
    InvalidByte,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameError::Empty => "variable name is empty",
            NameError::TooLong => "variable name is longer than 40 bytes",
            NameError::InvalidByte => "variable name holds a byte outside [A-Za-z0-9_.-]",
        })
    }
}

impl core::error::Error for NameError {}

const fn name_byte_ok(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-'
}

impl Name {
    /// Checks `name` and stores it. Usable in `const` context.
    #[allow(
        clippy::indexing_slicing,
        reason = "const fn: every index is bounded by the loop condition; iterators are not usable in const"
    )]
    pub const fn new(name: &str) -> Result<Name, NameError> {
        let src = name.as_bytes();
        if src.is_empty() {
            return Err(NameError::Empty);
        }
        if src.len() > NAME_MAX {
            return Err(NameError::TooLong);
        }
        let mut bytes = [0u8; NAME_MAX];
        let mut i = 0;
        while i < src.len() {
            if !name_byte_ok(src[i]) {
                return Err(NameError::InvalidByte);
            }
            bytes[i] = src[i];
            i += 1;
        }
        #[allow(clippy::cast_possible_truncation)]
        Ok(Name {
            bytes,
            len: src.len() as u8,
        })
    }

    /// Reads a NUL-padded name field as stored in a region's variable table:
    /// the name, then zero bytes to the end of the field.
    #[allow(
        clippy::indexing_slicing,
        reason = "const fn: every index is bounded by the loop condition; iterators are not usable in const"
    )]
    pub const fn from_padded(field: &[u8; NAME_MAX]) -> Result<Name, NameError> {
        let mut len = 0;
        while len < NAME_MAX && field[len] != 0 {
            if !name_byte_ok(field[len]) {
                return Err(NameError::InvalidByte);
            }
            len += 1;
        }
        if len == 0 {
            return Err(NameError::Empty);
        }
        let mut i = len;
        while i < NAME_MAX {
            if field[i] != 0 {
                return Err(NameError::InvalidByte);
            }
            i += 1;
        }
        #[allow(clippy::cast_possible_truncation)]
        Ok(Name {
            bytes: *field,
            len: len as u8,
        })
    }

    /// The NUL-padded field stored in a region's variable table.
    pub const fn padded(&self) -> [u8; NAME_MAX] {
        self.bytes
    }

    /// The name's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        // Every constructor admits ASCII only.
        core::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    /// Byte-wise comparison, usable in `const` context.
    #[allow(
        clippy::indexing_slicing,
        reason = "const fn: every index is bounded by the loop condition; iterators are not usable in const"
    )]
    pub const fn const_cmp(&self, other: &Name) -> Ordering {
        let mut i = 0;
        while i < NAME_MAX {
            if self.bytes[i] != other.bytes[i] {
                return if self.bytes[i] < other.bytes[i] {
                    Ordering::Less
                } else {
                    Ordering::Greater
                };
            }
            i += 1;
        }
        Ordering::Equal
    }

    /// Byte-wise comparison with a string.
    pub fn cmp_str(&self, other: &str) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Self) -> Ordering {
        // Padding is zero, so comparing whole fields orders like the strings.
        self.bytes.cmp(&other.bytes)
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Name {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{=str}", self.as_str());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_rejects() {
        assert_eq!(Name::new("pos.x").map(|n| n.len), Ok(5));
        assert_eq!(Name::new(""), Err(NameError::Empty));
        assert_eq!(Name::new("a/b"), Err(NameError::InvalidByte));
        assert_eq!(Name::new("é"), Err(NameError::InvalidByte));
        assert_eq!(Name::new(&"x".repeat(40)).map(|n| n.len), Ok(40));
        assert_eq!(Name::new(&"x".repeat(41)), Err(NameError::TooLong));
    }

    #[test]
    fn padded_round_trip() {
        let name = Name::new("speed").unwrap();
        let field = name.padded();
        assert_eq!(&field[..6], b"speed\0");
        assert_eq!(Name::from_padded(&field), Ok(name));
        let mut hole = field;
        hole[7] = b'x';
        assert_eq!(Name::from_padded(&hole), Err(NameError::InvalidByte));
        assert_eq!(Name::from_padded(&[0; NAME_MAX]), Err(NameError::Empty));
    }

    #[test]
    fn orders_like_strings() {
        let a = Name::new("ab").unwrap();
        let b = Name::new("abc").unwrap();
        let c = Name::new("b").unwrap();
        assert!(a < b && b < c);
        assert_eq!(a.const_cmp(&b), Ordering::Less);
        assert_eq!(c.cmp_str("abc"), Ordering::Greater);
    }
}
