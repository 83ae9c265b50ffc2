//! The vector compares: SSE2 and AVX2 on x86-64, NEON on aarch64.
//!
//! This is the only module of the crate with `unsafe`. Each kernel is a
//! token type that [`new`](Avx2::new) returns only when the CPU has its
//! instructions, so holding one proves the `#[target_feature]` functions it
//! calls are safe to run. Loads go through bytemuck casts on x86-64 and
//! `vld1q_u8_x4` from a `&[u8; 64]` on aarch64.

#[cfg(target_arch = "x86_64")]
pub(super) use x86::{Avx2, Sse2};

#[cfg(target_arch = "aarch64")]
pub(super) use arm::Neon;

#[cfg(target_arch = "x86_64")]
mod x86 {
    use core::arch::x86_64::{
        __m128i, __m256i, _mm_and_si128, _mm_cmpeq_epi8, _mm_movemask_epi8, _mm256_cmpeq_epi8,
        _mm256_movemask_epi8, _mm256_or_si256, _mm256_testz_si256, _mm256_xor_si256,
    };

    use crate::diff::kernel::{BLOCK, Kernel};
    use crate::diff::path::Path;

    /// The SSE2 kernel; exists only on CPUs with SSE2 (all x86-64 CPUs).
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct Sse2(());

    impl Sse2 {
        pub(crate) fn new() -> Option<Sse2> {
            Path::Sse2.is_available().then_some(Sse2(()))
        }
    }

    impl Kernel for Sse2 {
        fn first_diff(&self, a: &[[u8; BLOCK]], b: &[[u8; BLOCK]]) -> usize {
            // SAFETY: an `Sse2` exists only when the CPU has SSE2 (`Sse2::new`).
            unsafe { sse2_first_diff(a, b) }
        }
        fn mask(&self, a: &[u8; BLOCK], b: &[u8; BLOCK]) -> u64 {
            // SAFETY: an `Sse2` exists only when the CPU has SSE2 (`Sse2::new`).
            unsafe { sse2_mask(a, b) }
        }
    }

    /// Byte-wise equality of a block: 16 bits per vector, set where equal.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn sse2_eq(a: &[u8; BLOCK], b: &[u8; BLOCK]) -> [__m128i; 4] {
        let a: [__m128i; 4] = bytemuck::cast(*a);
        let b: [__m128i; 4] = bytemuck::cast(*b);
        [
            _mm_cmpeq_epi8(a[0], b[0]),
            _mm_cmpeq_epi8(a[1], b[1]),
            _mm_cmpeq_epi8(a[2], b[2]),
            _mm_cmpeq_epi8(a[3], b[3]),
        ]
    }

    #[target_feature(enable = "sse2")]
    fn sse2_first_diff(a: &[[u8; BLOCK]], b: &[[u8; BLOCK]]) -> usize {
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            let [e0, e1, e2, e3] = sse2_eq(x, y);
            let all = _mm_and_si128(_mm_and_si128(e0, e1), _mm_and_si128(e2, e3));
            if _mm_movemask_epi8(all) != 0xffff {
                return i;
            }
        }
        a.len().min(b.len())
    }

    #[target_feature(enable = "sse2")]
    fn sse2_mask(a: &[u8; BLOCK], b: &[u8; BLOCK]) -> u64 {
        let eq = sse2_eq(a, b);
        let mut mask = 0u64;
        for (i, e) in eq.into_iter().enumerate() {
            // movemask gives 16 bits in the low half of an i32.
            mask |= u64::from(_mm_movemask_epi8(e) as u16) << (16 * i);
        }
        !mask
    }

    /// The AVX2 kernel; exists only on CPUs with AVX2.
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct Avx2(());

    impl Avx2 {
        pub(crate) fn new() -> Option<Avx2> {
            Path::Avx2.is_available().then_some(Avx2(()))
        }
    }

    impl Kernel for Avx2 {
        fn first_diff(&self, a: &[[u8; BLOCK]], b: &[[u8; BLOCK]]) -> usize {
            // SAFETY: an `Avx2` exists only when the CPU has AVX2 (`Avx2::new`).
            unsafe { avx2_first_diff(a, b) }
        }
        fn mask(&self, a: &[u8; BLOCK], b: &[u8; BLOCK]) -> u64 {
            // SAFETY: an `Avx2` exists only when the CPU has AVX2 (`Avx2::new`).
            unsafe { avx2_mask(a, b) }
        }
    }

    /// The OR of `a ^ b` over a block: all zero iff the blocks are equal.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn avx2_xor(a: &[u8; BLOCK], b: &[u8; BLOCK]) -> __m256i {
        let a: [__m256i; 2] = bytemuck::cast(*a);
        let b: [__m256i; 2] = bytemuck::cast(*b);
        _mm256_or_si256(_mm256_xor_si256(a[0], b[0]), _mm256_xor_si256(a[1], b[1]))
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn is_zero(v: __m256i) -> bool {
        _mm256_testz_si256(v, v) != 0
    }

    /// Bytes compared per step of the skip loop: eight blocks, sixteen
    /// load pairs and one test, which keeps both load ports busy.
    const STEP: usize = 8 * BLOCK;

    #[target_feature(enable = "avx2")]
    fn avx2_first_diff(a: &[[u8; BLOCK]], b: &[[u8; BLOCK]]) -> usize {
        let blocks = a.len().min(b.len());
        let (Some(a), Some(b)) = (a.get(..blocks), b.get(..blocks)) else {
            return 0;
        };
        let (bytes_a, bytes_b) = (a.as_flattened(), b.as_flattened());
        // Steps start where `a` is 32-byte aligned: a load that splits two
        // cache lines costs about two, and buffers are often only 16-byte
        // aligned. The bytes before the first step are in block 0.
        let head = bytes_a.as_ptr().align_offset(32).min(BLOCK);
        let (Some(first_a), Some(first_b)) = (a.first(), b.first()) else {
            return 0;
        };
        if head > 0 && !block_equal(first_a, first_b) {
            return 0;
        }
        let mut at = head;
        while let (Some(x), Some(y)) = (step(bytes_a, at), step(bytes_b, at)) {
            if !step_equal(x, y) {
                break;
            }
            at += STEP;
        }
        // Everything before `at` is equal: the first difference, if any,
        // is in the block holding `at` or after it.
        let from = at / BLOCK;
        let rest = a.get(from..).unwrap_or_default();
        match rest
            .iter()
            .zip(b.get(from..).unwrap_or_default())
            .position(|(x, y)| !block_equal(x, y))
        {
            Some(k) => from + k,
            None => blocks,
        }
    }

    /// The [`STEP`] bytes of `bytes` from `at`, as blocks.
    #[inline]
    fn step(bytes: &[u8], at: usize) -> Option<&[[u8; BLOCK]; 8]> {
        let step: &[u8; STEP] = bytes.get(at..at.checked_add(STEP)?)?.try_into().ok()?;
        Some(bytemuck::cast_ref(step))
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn step_equal(x: &[[u8; BLOCK]; 8], y: &[[u8; BLOCK]; 8]) -> bool {
        let [x0, x1, x2, x3, x4, x5, x6, x7] = x;
        let [y0, y1, y2, y3, y4, y5, y6, y7] = y;
        let low = _mm256_or_si256(
            _mm256_or_si256(avx2_xor(x0, y0), avx2_xor(x1, y1)),
            _mm256_or_si256(avx2_xor(x2, y2), avx2_xor(x3, y3)),
        );
        let high = _mm256_or_si256(
            _mm256_or_si256(avx2_xor(x4, y4), avx2_xor(x5, y5)),
            _mm256_or_si256(avx2_xor(x6, y6), avx2_xor(x7, y7)),
        );
        is_zero(_mm256_or_si256(low, high))
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn block_equal(x: &[u8; BLOCK], y: &[u8; BLOCK]) -> bool {
        is_zero(avx2_xor(x, y))
    }

    #[target_feature(enable = "avx2")]
    fn avx2_mask(a: &[u8; BLOCK], b: &[u8; BLOCK]) -> u64 {
        let a: [__m256i; 2] = bytemuck::cast(*a);
        let b: [__m256i; 2] = bytemuck::cast(*b);
        // movemask gives 32 bits, one per byte, set where equal.
        let lo = u64::from(_mm256_movemask_epi8(_mm256_cmpeq_epi8(a[0], b[0])) as u32);
        let hi = u64::from(_mm256_movemask_epi8(_mm256_cmpeq_epi8(a[1], b[1])) as u32);
        !(lo | hi << 32)
    }
}

#[cfg(target_arch = "aarch64")]
mod arm {
    use core::arch::aarch64::{
        uint8x16_t, uint8x16x4_t, vaddv_u8, vandq_u8, vceqq_u8, vcombine_u8, vcreate_u8, veorq_u8,
        vget_high_u8, vget_low_u8, vld1q_u8_x4, vmaxvq_u8, vmvnq_u8, vorrq_u8,
    };

    use crate::diff::kernel::{BLOCK, Kernel};
    use crate::diff::path::Path;

    /// The NEON kernel; exists only on CPUs with NEON.
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct Neon(());

    impl Neon {
        pub(crate) fn new() -> Option<Neon> {
            Path::Neon.is_available().then_some(Neon(()))
        }
    }

    impl Kernel for Neon {
        fn first_diff(&self, a: &[[u8; BLOCK]], b: &[[u8; BLOCK]]) -> usize {
            // SAFETY: a `Neon` exists only when the CPU has NEON (`Neon::new`).
            unsafe { neon_first_diff(a, b) }
        }
        fn mask(&self, a: &[u8; BLOCK], b: &[u8; BLOCK]) -> u64 {
            // SAFETY: a `Neon` exists only when the CPU has NEON (`Neon::new`).
            unsafe { neon_mask(a, b) }
        }
    }

    #[inline]
    #[target_feature(enable = "neon")]
    fn load(block: &[u8; BLOCK]) -> uint8x16x4_t {
        // SAFETY: `block` is 64 readable bytes, exactly what `vld1q_u8_x4`
        // reads; it has no alignment requirement beyond that of `u8`.
        unsafe { vld1q_u8_x4(block.as_ptr()) }
    }

    #[target_feature(enable = "neon")]
    fn neon_first_diff(a: &[[u8; BLOCK]], b: &[[u8; BLOCK]]) -> usize {
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            let (x, y) = (load(x), load(y));
            let d = vorrq_u8(
                vorrq_u8(veorq_u8(x.0, y.0), veorq_u8(x.1, y.1)),
                vorrq_u8(veorq_u8(x.2, y.2), veorq_u8(x.3, y.3)),
            );
            if vmaxvq_u8(d) != 0 {
                return i;
            }
        }
        a.len().min(b.len())
    }

    /// Bit `i` set where byte `i` of the 16-byte vectors differ.
    #[inline]
    #[target_feature(enable = "neon")]
    fn mask16(a: uint8x16_t, b: uint8x16_t) -> u64 {
        // Lane `i` of each half weighs `1 << i`; NEON has no movemask, so
        // the set lanes are summed instead.
        let weight = vcreate_u8(0x8040_2010_0804_0201);
        let bits = vandq_u8(vmvnq_u8(vceqq_u8(a, b)), vcombine_u8(weight, weight));
        u64::from(vaddv_u8(vget_low_u8(bits))) | u64::from(vaddv_u8(vget_high_u8(bits))) << 8
    }

    #[target_feature(enable = "neon")]
    fn neon_mask(a: &[u8; BLOCK], b: &[u8; BLOCK]) -> u64 {
        let (a, b) = (load(a), load(b));
        mask16(a.0, b.0) | mask16(a.1, b.1) << 16 | mask16(a.2, b.2) << 32 | mask16(a.3, b.3) << 48
    }
}
