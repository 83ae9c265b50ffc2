//! The word-wise compare in plain Rust, for every target.

use super::kernel::{BLOCK, Kernel};

/// The portable kernel: eight 64-bit words per block.
#[derive(Clone, Copy, Debug)]
pub(super) struct Portable;

impl Kernel for Portable {
    fn first_diff(&self, a: &[[u8; BLOCK]], b: &[[u8; BLOCK]]) -> usize {
        a.iter()
            .zip(b)
            .position(|(x, y)| differs(x, y))
            .unwrap_or(a.len().min(b.len()))
    }

    fn mask(&self, a: &[u8; BLOCK], b: &[u8; BLOCK]) -> u64 {
        mask(a, b)
    }
}

fn words(block: &[u8; BLOCK]) -> impl Iterator<Item = u64> + '_ {
    // Little-endian so that byte `i` of a word is bits `8i..8i + 8`, and mask
    // bit order follows byte order on every target.
    bytemuck::cast_ref::<_, [[u8; 8]; 8]>(block)
        .iter()
        .map(|w| u64::from_le_bytes(*w))
}

fn differs(a: &[u8; BLOCK], b: &[u8; BLOCK]) -> bool {
    words(a).zip(words(b)).fold(0, |acc, (x, y)| acc | (x ^ y)) != 0
}

/// One bit per byte of the block, set where `a` and `b` differ.
pub(super) fn mask(a: &[u8; BLOCK], b: &[u8; BLOCK]) -> u64 {
    words(a)
        .zip(words(b))
        .enumerate()
        .fold(0, |acc, (i, (x, y))| {
            acc | (nonzero_bytes(x ^ y) << (8 * i))
        })
}

/// The mask of a block shorter than [`BLOCK`]: the missing bytes count as
/// equal.
pub(super) fn tail_mask(a: &[u8], b: &[u8]) -> u64 {
    let mut pa = [0u8; BLOCK];
    let mut pb = [0u8; BLOCK];
    for ((pa, pb), (x, y)) in pa.iter_mut().zip(pb.iter_mut()).zip(a.iter().zip(b)) {
        *pa = *x;
        *pb = *y;
    }
    mask(&pa, &pb)
}

/// An 8-bit mask with bit `i` set where byte `i` of `x` is not zero.
fn nonzero_bytes(x: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const ONES: u64 = 0x0101_0101_0101_0101;
    // The high bit of each byte ends up set iff the byte is nonzero: adding
    // 0x7f to the low 7 bits carries into bit 7 (never past it), and `| x`
    // brings in the byte's own bit 7.
    let high = ((x & LOW7) + LOW7) | x;
    // Gather the eight high bits into the top byte: byte `i`'s bit lands on
    // bit 56 + i, and no two partial products share a bit, so nothing
    // carries.
    (((high >> 7) & ONES).wrapping_mul(0x0102_0408_1020_4080)) >> 56
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonzero_bytes_sets_one_bit_per_nonzero_byte() {
        assert_eq!(nonzero_bytes(0), 0);
        assert_eq!(nonzero_bytes(u64::MAX), 0xff);
        for i in 0..8 {
            for v in [1u64, 0x7f, 0x80, 0xff] {
                assert_eq!(nonzero_bytes(v << (8 * i)), 1 << i, "byte {i} = {v:#x}");
            }
        }
        assert_eq!(nonzero_bytes(0x0100_0000_0000_8000), 0b1000_0010);
    }

    #[test]
    fn mask_marks_differing_bytes() {
        let a = [0u8; BLOCK];
        let mut b = a;
        b[0] = 1;
        b[9] = 0x80;
        b[63] = 0xff;
        assert_eq!(mask(&a, &b), 1 | 1 << 9 | 1 << 63);
        assert_eq!(tail_mask(&a[..10], &b[..10]), 1 | 1 << 9);
    }
}
