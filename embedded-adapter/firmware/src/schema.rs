//! The schema the checks share, and `static` atomic words for its regions.

use core::sync::atomic::AtomicU32;

use memwire::layout::required_len;
use memwire::{Kind, SchemaBuf, SchemaBuilder};

/// A telemetry-and-setpoint region, as a device would publish it: about
/// 700 bytes of data, more than one frame for a small client.
const ROBOT_DEF: SchemaBuf<6> = SchemaBuilder::new()
    .var("pos", Kind::F32, 3)
    .var("vel", Kind::F32, 3)
    .var("setpoint", Kind::F32, 1)
    .writable()
    .var("flag", Kind::Bool, 1)
    .writable()
    .var("count", Kind::U32, 1)
    .var("log", Kind::Bytes, 600)
    .build();

/// The schema, in a `static` so regions can borrow it for `'static`.
pub(crate) static ROBOT: SchemaBuf<6> = ROBOT_DEF;

/// Bytes of a region laid out for [`ROBOT`].
pub(crate) const REGION_LEN: usize = match required_len(&ROBOT_DEF.as_schema()) {
    Ok(len) => len,
    Err(_) => panic!("the robot schema does not fit a region"),
};

/// Bytes of [`ROBOT`]'s data area (a multiple of 64).
pub(crate) const DATA_LEN: usize = (ROBOT_DEF.as_schema().data_len() as usize).div_ceil(64) * 64;

/// Atomic words of a region for [`ROBOT`].
pub(crate) const WORDS: usize = REGION_LEN / 4;

/// A region's memory: atomic words from the start, as on any MCU.
pub(crate) type Words = [AtomicU32; WORDS];

/// Zeroed words for a region.
pub(crate) const fn words() -> Words {
    [const { AtomicU32::new(0) }; WORDS]
}
