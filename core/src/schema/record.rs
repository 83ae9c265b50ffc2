//! [`Record`]: a Rust struct whose fields are the variables of a region,
//! read and written field by field in the region's stored form.

use core::fmt;

use super::{Schema, VarId};

/// Why bytes are not a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum RecordError {
    /// The bytes given are shorter than the record's variables.
    TooShort,
    /// A variable's stored bytes are not a value of its field's type (a
    /// `bool` other than 0 or 1).
    InvalidValue {
        /// The variable.
        variable: VarId,
    },
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::TooShort => f.write_str("bytes shorter than the record"),
            RecordError::InvalidValue { variable } => write!(
                f,
                "variable {} holds bytes that are not a value of its type",
                variable.0
            ),
        }
    }
}

impl core::error::Error for RecordError {}

/// A type whose fields are the variables of a region: implemented by
/// `#[derive(Schema)]` on a `#[repr(C)]` struct, which writes every item
/// below from the struct's fields.
///
/// A record is read and written field by field, each in its variable's
/// stored form ([`Value`](super::Value)), so a field may be any type a
/// variable holds, `bool` included: [`decode`](Self::decode) checks a
/// stored `bool` is 0 or 1. The struct needs no `bytemuck::Pod`.
///
/// The constants size the memory a region of this record needs, for a
/// `static` on a device:
///
/// ```
/// # #[cfg(feature = "derive")] {
/// use core::sync::atomic::AtomicU32;
/// use memwire::schema::Record;
///
/// #[derive(memwire::Schema, Clone, Copy)]
/// #[repr(C)]
/// struct Telemetry {
///     uptime_ms: u32,
///     #[memwire(writable)]
///     setpoint: f32,
///     armed: bool,
///     _reserved: [u8; 3],
/// }
///
/// static TELEMETRY: [AtomicU32; Telemetry::REGION_WORDS] =
///     [const { AtomicU32::new(0) }; Telemetry::REGION_WORDS];
/// let region = memwire::Region::init(&TELEMETRY, Telemetry::schema(), 1).unwrap();
/// assert_eq!(region.data_len(), Telemetry::DATA_LEN);
/// # }
/// ```
pub trait Record: Sized {
    /// The bytes of a region without a journal for this record, as
    /// [`layout::required_len`](crate::layout::required_len) gives them:
    /// the memory [`Region::init`](crate::Region::init) lays it out in.
    const REGION_LEN: usize;
    /// [`REGION_LEN`](Self::REGION_LEN) in 4-byte words: the length of a
    /// `static` array of `AtomicU32` for the region.
    const REGION_WORDS: usize;
    /// The region's data area (the variables, rounded up to 64 bytes): the
    /// length of a published region's shadow and scan buffer.
    const DATA_LEN: usize;
    /// The entries of a published region's chunk table
    /// ([`OwnRegion::table_len`](crate::session::OwnRegion::table_len) of
    /// [`DATA_LEN`](Self::DATA_LEN)).
    const TABLE_LEN: usize;
    /// The bytes of the largest writable variable (0 when none is): the
    /// largest value a write to this region carries.
    const WRITE_LEN: usize;
    /// The smallest largest-frame a peer of this region may take: the
    /// protocol's [`MIN_FRAME`](crate::codec::MIN_FRAME), and room for a
    /// write of [`WRITE_LEN`](Self::WRITE_LEN) bytes and its
    /// [`WRITE_OVERHEAD`](crate::codec::WRITE_OVERHEAD).
    const FRAME_LEN: usize;

    /// The schema: one variable per field, at the field's offset.
    fn schema() -> Schema<'static>;

    /// Writes every field into `data`, a data area (at least the schema's
    /// [`data_len`](Schema::data_len) bytes), in its stored form.
    fn encode(&self, data: &mut [u8]) -> Result<(), RecordError>;

    /// Reads every field from `data`, a data area; fails with
    /// [`RecordError::InvalidValue`] naming the first variable whose bytes
    /// are not a value of its field's type.
    fn decode(data: &[u8]) -> Result<Self, RecordError>;
}
