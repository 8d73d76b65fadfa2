//! Runs a loop compiled for a level. Each loop body is written once, generic
//! and `#[inline(always)]`; a closure calling it is inlined into one of the
//! functions below, whose `#[target_feature]` lets LLVM vectorise that copy
//! with the level's registers (512-bit for AVX-512, 256-bit for AVX2). The
//! baseline copy is the plain call: SSE2 on x86-64, NEON on aarch64.
//!
//! Callers pass `move` closures: a closure that owns its captures (the map's
//! `f` and its constants) arrives as an argument LLVM knows nothing else
//! writes, so constants are loaded once, not per element around the stores.

use super::Level;

/// `body()`, compiled for `level`. Panics if the CPU lacks `level`: callers
/// pass [`super::active`] or a level from [`Level::supported`].
#[inline]
pub fn at<R>(level: Level, body: impl FnOnce() -> R) -> R {
    match level {
        Level::Baseline => body(),
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 => {
            assert!(Level::detected() >= Level::Avx2, "this CPU has no AVX2+FMA");
            // SAFETY: the CPU has AVX2 and FMA (checked above).
            unsafe { x86::avx2(body) }
        }
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => {
            assert!(Level::detected() >= Level::Avx512, "this CPU has no AVX-512");
            // SAFETY: the CPU has AVX-512 F/VL/BW/DQ, AVX2 and FMA (checked above).
            unsafe { x86::avx512(body) }
        }
        #[cfg(not(target_arch = "x86_64"))]
        Level::Avx2 | Level::Avx512 => panic!("{level} exists only on x86-64"),
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn avx2<R>(body: impl FnOnce() -> R) -> R {
        body()
    }

    #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")]
    pub unsafe fn avx512<R>(body: impl FnOnce() -> R) -> R {
        body()
    }
}
