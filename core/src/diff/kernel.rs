//! The contract between the block walk (`scan.rs`) and the compares that
//! run it: the block size and the two questions a kernel answers about
//! blocks.
//!
//! Each kernel lives in a file beside this one and imports only this file
//! (and [`Path`](super::path::Path), to ask whether its instructions run
//! here): `portable.rs` (eight 64-bit words per block, every target) and
//! `simd.rs` (SSE2 and AVX2 on x86-64, NEON on aarch64). `scan.rs` imports
//! the kernels and picks one per scan; no kernel imports it.
//!
//! # Adding a kernel
//!
//! AVX-512 on x86-64 or RVV on RISC-V go here the same way:
//!
//! 1. a token type that exists only when the CPU has the instructions (its
//!    `new` checks [`Path::is_available`](super::path::Path::is_available)),
//!    implementing [`Kernel`] with `#[target_feature]` functions; in
//!    `simd.rs` beside the others, or in a file of its own with
//!    `#[allow(unsafe_code)]` on its `mod` line in `diff/mod.rs`;
//! 2. a variant of [`Path`](super::path::Path) with its detection and
//!    name (`path.rs`);
//! 3. an arm in `scan::run` that falls back to the portable kernel when the
//!    token cannot be had.
//!
//! Every kernel must give the same answers as the portable one: the
//! property tests (`diff/tests/props.rs`) compare every path against a
//! byte-by-byte reference.

/// The scan's block size: one bit per byte fills a `u64` mask.
pub(super) const BLOCK: usize = 64;

/// One implementation of the two block compares.
pub(super) trait Kernel {
    /// The index of the first block where `a` and `b` differ, or the length
    /// of the shorter slice if none does.
    fn first_diff(&self, a: &[[u8; BLOCK]], b: &[[u8; BLOCK]]) -> usize;
    /// One bit per byte (bit `i` for byte `i`), set where `a` and `b` differ.
    fn mask(&self, a: &[u8; BLOCK], b: &[u8; BLOCK]) -> u64;
}
