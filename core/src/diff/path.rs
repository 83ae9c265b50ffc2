//! Which compare the scan runs on, and choosing the fastest one once.

use core::fmt;

// Unit tests always link std: they detect the CPU's paths even without the
// `std` feature, so that every path the machine has is tested.
#[cfg(all(test, not(feature = "std")))]
extern crate std;

/// An implementation of the block compare: the same ranges on every path,
/// at different speeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
#[non_exhaustive]
pub enum Path {
    /// 64-bit words in plain Rust: every target, including `thumbv6m`.
    Portable = 1,
    /// 16-byte vectors: every x86-64 CPU.
    Sse2 = 2,
    /// 32-byte vectors: x86-64 CPUs with AVX2.
    Avx2 = 3,
    /// 16-byte vectors: aarch64 CPUs with NEON (all of them on Linux).
    Neon = 4,
}

impl Path {
    /// Every path, available here or not.
    pub const ALL: [Path; 4] = [Path::Portable, Path::Sse2, Path::Avx2, Path::Neon];

    /// Whether this CPU can run the path. With the `std` feature the CPU is
    /// asked at run time; without it, the target features the crate was
    /// compiled for decide.
    pub fn is_available(self) -> bool {
        match self {
            Path::Portable => true,
            Path::Sse2 => cfg!(target_arch = "x86_64"),
            Path::Avx2 => has_avx2(),
            Path::Neon => has_neon(),
        }
    }

    /// The paths this CPU can run, slowest first.
    pub fn available() -> impl Iterator<Item = Path> {
        Path::ALL.into_iter().filter(|p| p.is_available())
    }

    /// The fastest path this CPU can run. With `std` it is found once and
    /// cached.
    pub fn best() -> Path {
        #[cfg(feature = "std")]
        {
            use core::sync::atomic::{AtomicU8, Ordering};
            // 0 until the first call; racing first calls store the same value.
            static BEST: AtomicU8 = AtomicU8::new(0);
            match Path::from_code(BEST.load(Ordering::Relaxed)) {
                Some(path) => path,
                None => {
                    let path = Path::detect();
                    BEST.store(path as u8, Ordering::Relaxed);
                    path
                }
            }
        }
        #[cfg(not(feature = "std"))]
        {
            Path::detect()
        }
    }

    /// A short lowercase name, for benchmarks and logs.
    pub const fn name(self) -> &'static str {
        match self {
            Path::Portable => "portable",
            Path::Sse2 => "sse2",
            Path::Avx2 => "avx2",
            Path::Neon => "neon",
        }
    }

    fn detect() -> Path {
        [Path::Avx2, Path::Neon, Path::Sse2]
            .into_iter()
            .find(|p| p.is_available())
            .unwrap_or(Path::Portable)
    }

    #[cfg(feature = "std")]
    fn from_code(code: u8) -> Option<Path> {
        Path::ALL.into_iter().find(|p| *p as u8 == code)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
fn has_avx2() -> bool {
    true
}

#[cfg(all(
    target_arch = "x86_64",
    not(target_feature = "avx2"),
    any(feature = "std", test)
))]
fn has_avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
}

#[cfg(not(all(
    target_arch = "x86_64",
    any(target_feature = "avx2", feature = "std", test)
)))]
fn has_avx2() -> bool {
    false
}

#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
fn has_neon() -> bool {
    true
}

#[cfg(all(
    target_arch = "aarch64",
    not(target_feature = "neon"),
    any(feature = "std", test)
))]
fn has_neon() -> bool {
    std::arch::is_aarch64_feature_detected!("neon")
}

#[cfg(not(all(
    target_arch = "aarch64",
    any(target_feature = "neon", feature = "std", test)
)))]
fn has_neon() -> bool {
    false
}
