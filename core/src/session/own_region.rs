//! A client's own regions, which it writes and publishes to its hub.
//!
//! Either side of a connection may subscribe to regions the other publishes
//! (`spec/wire-format.md`, "Subscriptions and handles"). A device keeps its
//! telemetry in a region of its own ([`OwnRegion`]) and publishes it: the
//! hub subscribes once the client is welcomed, and the client serves the
//! subscription as a hub serves its own, from a shadow and a per-chunk
//! generation table. The session reaches them through [`OwnRegions`].

use core::fmt;

use super::peer_subscriptions::{Sources, WritableSources};
use super::source::{RegionId, Source};
use crate::Region;
use crate::codec::ErrorCode;
use crate::diff::{ByteRange, Differ, Generations};
use crate::schema::Name;

/// Ranges an [`OwnRegion`] keeps of its last scan unless told otherwise.
pub const OWN_RANGES: usize = 64;

/// The regions a client publishes, as its session reaches them: handed to
/// the session by an [`Observer`](super::Observer).
pub trait OwnRegions {
    /// The region published under `name`.
    fn lookup(&self, name: &str) -> Option<RegionId>;
    /// The region's state, as a publication sends it.
    fn source(&self, region: RegionId) -> Option<Source<'_>>;
    /// Applies the hub's checked write (ranges inside writable variables,
    /// in bounds) and returns the generation that holds it.
    fn apply_write(
        &mut self,
        region: RegionId,
        ranges: &[(usize, &[u8])],
    ) -> Result<u64, ErrorCode>;
}

/// Why an [`OwnRegion`] could not be set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum OwnRegionError {
    /// The name is not 1 to 40 bytes of `[A-Za-z0-9_.-]`.
    BadName,
    /// The shadow or the scratch buffer is shorter than the data area.
    BufferTooShort,
    /// The chunk table has fewer entries than
    /// [`OwnRegion::table_len`] asks for.
    TableTooShort,
}

impl fmt::Display for OwnRegionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OwnRegionError::BadName => "region name is not valid",
            OwnRegionError::BufferTooShort => "shadow or scratch shorter than the data area",
            OwnRegionError::TableTooShort => "chunk table too short for the data area",
        })
    }
}

impl core::error::Error for OwnRegionError {}

/// A region of the client's own, which it writes and publishes: the live
/// [`Region`] that local code writes, the shadow the session serves, and
/// when each chunk of it last changed.
///
/// [`scan`](Self::scan) takes a consistent snapshot of the region, diffs it
/// against the shadow and stamps the chunks that changed with a new
/// generation. It keeps the exact changed ranges of that scan, at most
/// `RANGES` of them (the cheapest neighbours merged when there are more,
/// see [`Differ`]): a subscriber one generation behind gets exactly those
/// bytes, as from a hub, and one further behind the chunks changed since
/// its generation. The region's
/// instance id is the published instance: give each boot a fresh one
/// ([`Region::init`]'s `instance`, from a hardware RNG or a boot counter in
/// flash), or a hub that held an older copy would take a delta against
/// the wrong base.
#[derive(Debug)]
pub struct OwnRegion<'r, const RANGES: usize = OWN_RANGES> {
    name: Name,
    region: Region<'r>,
    shadow: &'r mut [u8],
    scratch: &'r mut [u8],
    table: Generations<'r>,
    generation: u64,
    differ: Differ,
    /// The ranges of the last scan that found a change, in `recent[..len]`,
    /// and the generation they start from; `None` before the first.
    recent: Option<(u64, usize)>,
    ranges: [ByteRange; RANGES],
}

impl<'r> OwnRegion<'r> {
    /// Entries of the chunk table for a data area of `data_len` bytes.
    pub const fn table_len(data_len: usize) -> usize {
        Generations::chunks_for(data_len, Generations::DEFAULT_CHUNK)
    }

    /// Publishes `region` as `name`, keeping [`OWN_RANGES`] ranges per scan.
    /// `shadow` and `scratch` hold at least the region's data area; `table`
    /// at least [`table_len`](Self::table_len) entries. The shadow starts as
    /// a copy of the region, at generation 1.
    pub fn new(
        name: &str,
        region: Region<'r>,
        shadow: &'r mut [u8],
        scratch: &'r mut [u8],
        table: &'r mut [u64],
    ) -> Result<OwnRegion<'r>, OwnRegionError> {
        OwnRegion::with_ranges(name, region, shadow, scratch, table)
    }
}

impl<'r, const RANGES: usize> OwnRegion<'r, RANGES> {
    /// [`new`](OwnRegion::new), keeping `RANGES` ranges per scan (at least
    /// one): each costs two words of RAM, and a scan that finds more sends
    /// some unchanged bytes with them.
    pub fn with_ranges(
        name: &str,
        region: Region<'r>,
        shadow: &'r mut [u8],
        scratch: &'r mut [u8],
        table: &'r mut [u64],
    ) -> Result<OwnRegion<'r, RANGES>, OwnRegionError> {
        let name = Name::new(name).map_err(|_| OwnRegionError::BadName)?;
        let len = region.data_len();
        let shadow = shadow
            .get_mut(..len)
            .ok_or(OwnRegionError::BufferTooShort)?;
        let scratch = scratch
            .get_mut(..len)
            .ok_or(OwnRegionError::BufferTooShort)?;
        let mut table = Generations::new(table, len, Generations::DEFAULT_CHUNK)
            .map_err(|_| OwnRegionError::TableTooShort)?;
        table.reset(1);
        let published = OwnRegion {
            name,
            region,
            shadow,
            scratch,
            table,
            generation: 1,
            differ: Differ::new(),
            recent: None,
            ranges: [ByteRange::new(0, 0); RANGES],
        };
        // A stalled writer leaves the shadow zero: the first scan that
        // succeeds sends what changed, and a subscriber's first update is
        // whole anyway.
        if published.region.snapshot(published.shadow).is_err() {
            published.shadow.fill(0);
        }
        Ok(published)
    }

    /// The name the region is published under.
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    /// The live region, for local reads and writes.
    pub fn region(&self) -> &Region<'r> {
        &self.region
    }

    /// The generation the shadow is at.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Picks up local writes: diffs a consistent snapshot of the region
    /// against the shadow and, if anything changed, moves to a new
    /// generation. Returns whether anything changed; false also when a
    /// writer kept the region busy (the next scan catches up).
    pub fn scan(&mut self) -> bool {
        if self.region.snapshot(self.scratch).is_err() {
            return false;
        }
        let next = self.generation.wrapping_add(1);
        let found = self.differ.update(
            self.scratch,
            self.shadow,
            &mut self.ranges,
            Some((&mut self.table, next)),
        );
        // Lengths match by construction, so an error is the overflow of an
        // empty range buffer: the scan completed, and the table has it.
        self.recent = match found {
            Ok(0) => return false,
            Ok(n) => Some((self.generation, n)),
            Err(_) => None,
        };
        self.generation = next;
        true
    }

    fn source(&self) -> Source<'_> {
        Source {
            instance: self.region.instance(),
            generation: self.generation,
            schema: self.region.schema(),
            data: self.shadow,
            changes: self.table.table(),
            recent: self
                .recent
                .map(|(base, n)| (base, self.ranges.get(..n).unwrap_or_default())),
        }
    }

    fn apply_write(&mut self, ranges: &[(usize, &[u8])]) -> Result<u64, ErrorCode> {
        self.region
            .write_ranges(ranges, None)
            .map_err(|_| ErrorCode::Busy)?;
        self.scan();
        Ok(self.generation)
    }
}

impl<const RANGES: usize> OwnRegions for OwnRegion<'_, RANGES> {
    fn lookup(&self, name: &str) -> Option<RegionId> {
        (name == self.name()).then_some(RegionId(0))
    }

    fn source(&self, region: RegionId) -> Option<Source<'_>> {
        (region == RegionId(0)).then(|| OwnRegion::source(self))
    }

    fn apply_write(
        &mut self,
        region: RegionId,
        ranges: &[(usize, &[u8])],
    ) -> Result<u64, ErrorCode> {
        if region != RegionId(0) {
            return Err(ErrorCode::UnknownRegion);
        }
        OwnRegion::apply_write(self, ranges)
    }
}

/// Several own regions; a region's id is its index.
impl<const RANGES: usize> OwnRegions for [OwnRegion<'_, RANGES>] {
    fn lookup(&self, name: &str) -> Option<RegionId> {
        let index = self.iter().position(|p| p.name() == name)?;
        Some(RegionId(u32::try_from(index).ok()?))
    }

    fn source(&self, region: RegionId) -> Option<Source<'_>> {
        let p = self.get(usize::try_from(region.0).ok()?)?;
        Some(OwnRegion::source(p))
    }

    fn apply_write(
        &mut self,
        region: RegionId,
        ranges: &[(usize, &[u8])],
    ) -> Result<u64, ErrorCode> {
        usize::try_from(region.0)
            .ok()
            .and_then(|i| self.get_mut(i))
            .ok_or(ErrorCode::UnknownRegion)?
            .apply_write(ranges)
    }
}

/// The session reaches own regions through this adapter.
impl<R: OwnRegions + ?Sized> Sources for R {
    fn source(&self, region: RegionId) -> Option<Source<'_>> {
        OwnRegions::source(self, region)
    }
}

impl<R: OwnRegions + ?Sized> WritableSources for R {
    fn apply_write(
        &mut self,
        region: RegionId,
        ranges: &[(usize, &[u8])],
    ) -> Result<u64, ErrorCode> {
        OwnRegions::apply_write(self, region, ranges)
    }
}
