//! The block walk shared by every path: pick the kernel of the scan's
//! [`Path`] (see `kernel.rs` for the contract and how to add one), skip
//! equal blocks, hand each changed block's byte mask to the collector, and
//! copy it into the shadow.

use super::kernel::{BLOCK, Kernel};
use super::path::Path;
use super::portable::{self, Portable};
use super::ranges::Collector;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
use super::simd;

/// The copy being compared against: read-only, or updated as we go.
pub(super) trait Shadow {
    /// The shadow's bytes.
    fn bytes(&self) -> &[u8];
    /// Makes `shadow[at..at + new.len()]` equal to `new` (in bounds by
    /// construction).
    fn store(&mut self, at: usize, new: &[u8]);
}

impl Shadow for &[u8] {
    fn bytes(&self) -> &[u8] {
        self
    }
    fn store(&mut self, _: usize, _: &[u8]) {}
}

impl Shadow for &mut [u8] {
    fn bytes(&self) -> &[u8] {
        self
    }
    fn store(&mut self, at: usize, new: &[u8]) {
        if let Some(dst) = self.get_mut(at..at.saturating_add(new.len())) {
            dst.copy_from_slice(new);
        }
    }
}

/// Scans `current` against `shadow` (same length) on `path`, reporting
/// changes at `base + offset`.
pub(super) fn run<S: Shadow>(
    path: Path,
    base: usize,
    current: &[u8],
    shadow: S,
    sink: &mut Collector<'_, '_, '_>,
) {
    // Each SIMD kernel is a token that exists only where its instructions
    // run; an unavailable path falls back to the portable one.
    match path {
        #[cfg(target_arch = "x86_64")]
        Path::Avx2 => match simd::Avx2::new() {
            Some(k) => blocks(&k, base, current, shadow, sink),
            None => blocks(&Portable, base, current, shadow, sink),
        },
        #[cfg(target_arch = "x86_64")]
        Path::Sse2 => match simd::Sse2::new() {
            Some(k) => blocks(&k, base, current, shadow, sink),
            None => blocks(&Portable, base, current, shadow, sink),
        },
        #[cfg(target_arch = "aarch64")]
        Path::Neon => match simd::Neon::new() {
            Some(k) => blocks(&k, base, current, shadow, sink),
            None => blocks(&Portable, base, current, shadow, sink),
        },
        _ => blocks(&Portable, base, current, shadow, sink),
    }
}

fn blocks<K: Kernel, S: Shadow>(
    kernel: &K,
    base: usize,
    current: &[u8],
    mut shadow: S,
    sink: &mut Collector<'_, '_, '_>,
) {
    let (cur_blocks, cur_tail) = split_blocks(current);
    let mut i = 0;
    while i < cur_blocks.len() {
        let (Some(c), Some(s)) = (cur_blocks.get(i..), split_blocks(shadow.bytes()).0.get(i..))
        else {
            break;
        };
        i += kernel.first_diff(c, s);
        // Changes come in clusters: take block masks until a clean block
        // before going back to the skip loop.
        while let (Some(c), Some(s)) = (cur_blocks.get(i), split_blocks(shadow.bytes()).0.get(i)) {
            let mask = kernel.mask(c, s);
            if mask == 0 {
                break;
            }
            let at = i * BLOCK;
            sink.block(base + at, mask);
            shadow.store(at, c);
            i += 1;
        }
        i += 1;
    }
    if !cur_tail.is_empty() {
        let at = cur_blocks.len() * BLOCK;
        let mask = portable::tail_mask(cur_tail, shadow.bytes().get(at..).unwrap_or_default());
        if mask != 0 {
            sink.block(base + at, mask);
            shadow.store(at, cur_tail);
        }
    }
}

/// The whole blocks of `bytes`, and the bytes after them.
pub(super) fn split_blocks(bytes: &[u8]) -> (&[[u8; BLOCK]], &[u8]) {
    let (whole, tail) = bytes.split_at(bytes.len() - bytes.len() % BLOCK);
    // `[u8; 64]` has the alignment of `u8` and `whole` is a multiple of 64
    // bytes long, so the cast cannot fail.
    (bytemuck::try_cast_slice(whole).unwrap_or_default(), tail)
}
