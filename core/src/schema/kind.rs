//! Element kinds and the Rust types that carry them.

use core::fmt;

use bytemuck::Pod;

/// The type of one element of a [`Variable`](super::Variable).
///
/// Every kind is stored little-endian at its natural alignment; `Bool` is one
/// byte that holds 0 or 1, and `Bytes` is opaque octets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum Kind {
    /// Unsigned 8-bit integer.
    U8 = 1,
    /// Unsigned 16-bit integer.
    U16 = 2,
    /// Unsigned 32-bit integer.
    U32 = 3,
    /// Unsigned 64-bit integer.
    U64 = 4,
    /// Signed 8-bit integer.
    I8 = 5,
    /// Signed 16-bit integer.
    I16 = 6,
    /// Signed 32-bit integer.
    I32 = 7,
    /// Signed 64-bit integer.
    I64 = 8,
    /// IEEE 754 single precision.
    F32 = 9,
    /// IEEE 754 double precision.
    F64 = 10,
    /// A byte holding 0 (false) or 1 (true).
    Bool = 11,
    /// Opaque bytes.
    Bytes = 12,
}

impl Kind {
    /// Every kind, in code order.
    pub const ALL: [Kind; 12] = [
        Kind::U8,
        Kind::U16,
        Kind::U32,
        Kind::U64,
        Kind::I8,
        Kind::I16,
        Kind::I32,
        Kind::I64,
        Kind::F32,
        Kind::F64,
        Kind::Bool,
        Kind::Bytes,
    ];

    /// The size of one element in bytes; also its alignment.
    #[inline]
    pub const fn size(self) -> usize {
        match self {
            Kind::U8 | Kind::I8 | Kind::Bool | Kind::Bytes => 1,
            Kind::U16 | Kind::I16 => 2,
            Kind::U32 | Kind::I32 | Kind::F32 => 4,
            Kind::U64 | Kind::I64 | Kind::F64 => 8,
        }
    }

    /// The kind stored under `code` in a region's variable table.
    pub const fn from_code(code: u8) -> Option<Kind> {
        match code {
            1 => Some(Kind::U8),
            2 => Some(Kind::U16),
            3 => Some(Kind::U32),
            4 => Some(Kind::U64),
            5 => Some(Kind::I8),
            6 => Some(Kind::I16),
            7 => Some(Kind::I32),
            8 => Some(Kind::I64),
            9 => Some(Kind::F32),
            10 => Some(Kind::F64),
            11 => Some(Kind::Bool),
            12 => Some(Kind::Bytes),
            _ => None,
        }
    }

    /// The code stored in a region's variable table.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The lower-case name used in configs and on screen (`u8`, `f32`, `bytes`...).
    pub const fn name(self) -> &'static str {
        match self {
            Kind::U8 => "u8",
            Kind::U16 => "u16",
            Kind::U32 => "u32",
            Kind::U64 => "u64",
            Kind::I8 => "i8",
            Kind::I16 => "i16",
            Kind::I32 => "i32",
            Kind::I64 => "i64",
            Kind::F32 => "f32",
            Kind::F64 => "f64",
            Kind::Bool => "bool",
            Kind::Bytes => "bytes",
        }
    }

    /// The kind called `name` (as returned by [`Kind::name`]).
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A Rust type that is one element of a variable: `u8`..`u64`, `i8`..`i64`,
/// `f32`, `f64` and `bool`.
///
/// Sealed: the set of kinds is part of the region format. Regions are
/// little-endian and so are all supported targets, so a value's raw form is
/// its memory.
pub trait Scalar: Copy + Default + sealed::Sealed {
    /// The kind this type is stored as.
    const KIND: Kind;
    /// The stored form: the type itself, or `u8` for `bool`.
    type Raw: Pod;
    /// The stored form of `self`.
    fn to_raw(self) -> Self::Raw;
    /// The value a stored form holds; `None` for a `bool` other than 0 or 1.
    fn from_raw(raw: Self::Raw) -> Option<Self>;
}

macro_rules! scalar {
    ($($t:ty => $kind:ident),* $(,)?) => {$(
        impl sealed::Sealed for $t {}
        impl Scalar for $t {
            const KIND: Kind = Kind::$kind;
            type Raw = $t;
            fn to_raw(self) -> $t {
                self
            }
            fn from_raw(raw: $t) -> Option<$t> {
                Some(raw)
            }
        }
    )*};
}

scalar!(
    u8 => U8, u16 => U16, u32 => U32, u64 => U64,
    i8 => I8, i16 => I16, i32 => I32, i64 => I64,
    f32 => F32, f64 => F64,
);

impl sealed::Sealed for bool {}
impl Scalar for bool {
    const KIND: Kind = Kind::Bool;
    type Raw = u8;
    fn to_raw(self) -> u8 {
        u8::from(self)
    }
    fn from_raw(raw: u8) -> Option<bool> {
        match raw {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
}

/// A Rust type that is a whole variable: a [`Scalar`] (element count 1) or an
/// array `[S; N]` of them (element count `N`).
pub trait Value: Copy + sealed::Sealed {
    /// The element kind.
    const KIND: Kind;
    /// The element count.
    const COUNT: u32;
    /// The stored form, `KIND.size() * COUNT` bytes of plain data.
    type Raw: Pod;
    /// The stored form of `self`.
    fn to_raw(&self) -> Self::Raw;
    /// The value a stored form holds; `None` for bytes that are not a value
    /// of this type (a `bool` other than 0 or 1).
    fn from_raw(raw: Self::Raw) -> Option<Self>;

    /// Encodes into `out`, which must be `KIND.size() * COUNT` bytes long;
    /// returns `None` otherwise.
    fn write_le(&self, out: &mut [u8]) -> Option<()> {
        let raw = self.to_raw();
        let bytes = bytemuck::bytes_of(&raw);
        (out.len() == bytes.len()).then(|| out.copy_from_slice(bytes))
    }

    /// Decodes from exactly `KIND.size() * COUNT` bytes.
    fn read_le(bytes: &[u8]) -> Option<Self> {
        Self::from_raw(bytemuck::try_pod_read_unaligned(bytes).ok()?)
    }
}

impl<S: Scalar> Value for S {
    const KIND: Kind = S::KIND;
    const COUNT: u32 = 1;
    type Raw = S::Raw;
    fn to_raw(&self) -> S::Raw {
        Scalar::to_raw(*self)
    }
    fn from_raw(raw: S::Raw) -> Option<Self> {
        <S as Scalar>::from_raw(raw)
    }
}

impl<S: Scalar, const N: usize> sealed::Sealed for [S; N] {}
impl<S: Scalar, const N: usize> Value for [S; N] {
    const KIND: Kind = S::KIND;
    #[allow(clippy::cast_possible_truncation)]
    const COUNT: u32 = {
        assert!(N <= u32::MAX as usize, "array too long for a variable");
        N as u32
    };
    type Raw = [S::Raw; N];
    fn to_raw(&self) -> [S::Raw; N] {
        self.map(Scalar::to_raw)
    }
    fn from_raw(raw: [S::Raw; N]) -> Option<Self> {
        let mut out = [S::default(); N];
        for (slot, r) in out.iter_mut().zip(raw) {
            *slot = S::from_raw(r)?;
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_sizes() {
        for kind in Kind::ALL {
            assert_eq!(Kind::from_code(kind.code()), Some(kind));
            assert_eq!(Kind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(Kind::from_code(0), None);
        assert_eq!(Kind::from_code(13), None);
        assert_eq!(Kind::U64.size(), 8);
        assert_eq!(Kind::Bytes.size(), 1);
    }

    #[test]
    fn values_encode_little_endian() {
        let mut buf = [0u8; 4];
        Value::write_le(&0x0102_0304u32, &mut buf).unwrap();
        assert_eq!(Value::write_le(&1u32, &mut [0u8; 3]), None);
        assert_eq!(buf, [4, 3, 2, 1]);
        assert_eq!(<u32 as Value>::read_le(&buf), Some(0x0102_0304));
        let mut arr = [0u8; 6];
        [1u16, 2, 3].write_le(&mut arr).unwrap();
        assert_eq!(arr, [1, 0, 2, 0, 3, 0]);
        assert_eq!(<[u16; 3]>::read_le(&arr), Some([1, 2, 3]));
        assert_eq!(<bool as Value>::read_le(&[2]), None);
        assert_eq!(<[bool; 2]>::read_le(&[1, 0]), Some([true, false]));
        assert_eq!(<[u16; 3]>::COUNT, 3);
    }
}
