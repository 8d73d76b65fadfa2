//! Runs a loop compiled for a level. Each loop is a [`Kernel`] whose `run` is
//! `#[inline(always)]`: forced into one of the functions below, whose
//! `#[target_feature]` lets LLVM vectorise that copy with the level's
//! registers (512-bit for AVX-512, 256-bit for AVX2). The baseline copy is a
//! plain call: SSE2 on x86-64, NEON on aarch64. (A closure in place of the
//! trait was not always inlined: with three call sites, one per level, LLVM
//! kept the sums and Adam as one baseline function that every level called.)
//!
//! A kernel owns its inputs (slices, the map's `f`, constants): passed by
//! value, they are an argument LLVM knows nothing else writes, so constants
//! are loaded once, not once per element around the stores.

/// A loop over slices, run by [`at`] at a level.
pub trait Kernel {
    type Output;
    /// Must be `#[inline(always)]`, or the level's copy is a call to a baseline one.
    fn run(self) -> Self::Output;
}

use super::Level;

/// `body()`, compiled for `level`. Panics if the CPU lacks `level`: callers
/// pass [`super::active`] or a level from [`Level::supported`].
#[inline]
pub fn at<K: Kernel>(level: Level, kernel: K) -> K::Output {
    match level {
        Level::Baseline => kernel.run(),
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 => {
            assert!(Level::detected() >= Level::Avx2, "this CPU has no AVX2+FMA");
            // SAFETY: the CPU has AVX2 and FMA (checked above).
            unsafe { x86::avx2(kernel) }
        }
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => {
            assert!(Level::detected() >= Level::Avx512, "this CPU has no AVX-512");
            // SAFETY: the CPU has AVX-512 F/VL/BW/DQ, AVX2 and FMA (checked above).
            unsafe { x86::avx512(kernel) }
        }
        #[cfg(not(target_arch = "x86_64"))]
        Level::Avx2 | Level::Avx512 => panic!("{level} exists only on x86-64"),
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Kernel;

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn avx2<K: Kernel>(kernel: K) -> K::Output {
        kernel.run()
    }

    #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")]
    pub unsafe fn avx512<K: Kernel>(kernel: K) -> K::Output {
        kernel.run()
    }
}
