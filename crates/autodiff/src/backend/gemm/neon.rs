//! Register-blocked microkernels for aarch64's NEON (Advanced SIMD). Every
//! aarch64 CPU that Rust's `aarch64-unknown-linux-gnu` targets has NEON, so
//! these need no `target_feature` of their own and `Isa::Neon`'s run-time
//! check always passes: what is chosen is these over the portable kernel.
//! Same contract as `x86.rs`.
//!
//! NEON has 32 vector registers of 128 bits (4 f32 or 2 f64 lanes) and an FMA
//! that takes one factor from a lane of another register (`fmla v, v, v.s[i]`),
//! so `A`'s step is loaded as whole vectors, not broadcast value by value.
//! Register budget: 8 rows × 3 vectors = 24 accumulators, 3 for `B` and the 2
//! (f32) or 4 (f64) holding `A`'s eight values.
//!
//! The x86 kernels prefetch; here the hardware prefetchers follow the packed
//! panels' plain sequential streams (and `_prefetch` is not stable on aarch64).

use std::arch::aarch64::*;

/// Rows per tile: the lanes of a packed `A` panel.
pub const MR: usize = 8;

/// `$name(kc, a, b, b_step, c, ldc, overwrite)`: `C[0..MR][0..NR] += A·B` over
/// `kc` steps (`=` when `overwrite`), `NR = $nv·$lanes`, step `p` of `B` at
/// `b + p·b_step`. Row `r` of the tile takes its factor from lane `$lane` of
/// `A`'s vector `$vec`, one `(r, vec, lane)` per row: the lane index must be a
/// constant.
///
/// # Safety
/// `a` holds `kc·MR` values, `b` `kc` steps, and `c` an `MR×NR` tile with row
/// stride `ldc`.
macro_rules! tile_kernel {
    ($name:ident, $t:ty, vectors = $nv:literal, lanes = $lanes:literal, a_vectors = $av:literal,
     [$zero:ident, $load:ident, $store:ident, $add:ident, $fma:ident], rows = [$(($row:literal, $vec:literal, $lane:literal)),+]) => {
        pub unsafe fn $name(kc: usize, a: *const $t, b: *const $t, b_step: usize, c: *mut $t, ldc: usize, overwrite: bool) {
            let mut acc = [[$zero(0.0); $nv]; MR];
            for p in 0..kc {
                let bp = b.add(p * b_step);
                let mut bv = [$zero(0.0); $nv];
                for v in 0..$nv {
                    bv[v] = $load(bp.add(v * $lanes));
                }
                let ap = a.add(p * MR);
                let mut av = [$zero(0.0); $av];
                for h in 0..$av {
                    av[h] = $load(ap.add(h * $lanes));
                }
                $(for v in 0..$nv {
                    acc[$row][v] = $fma::<$lane>(acc[$row][v], bv[v], av[$vec]);
                })+
            }
            for i in 0..MR {
                for v in 0..$nv {
                    let cp = c.add(i * ldc + v * $lanes);
                    $store(cp, if overwrite { acc[i][v] } else { $add($load(cp), acc[i][v]) });
                }
            }
        }
    };
}

/// One element type: a kernel for each `name = vectors` width (the full tile,
/// and the narrower ones a block's last panel runs).
macro_rules! kernels {
    ($t:ty, lanes = $lanes:literal, a_vectors = $av:literal, $ops:tt, $rows:tt, $($name:ident = $nv:literal),+) => {
        $(tile_kernel!($name, $t, vectors = $nv, lanes = $lanes, a_vectors = $av, $ops, rows = $rows);)+
    };
}

kernels!(f32, lanes = 4, a_vectors = 2, [vdupq_n_f32, vld1q_f32, vst1q_f32, vaddq_f32, vfmaq_laneq_f32],
    [(0, 0, 0), (1, 0, 1), (2, 0, 2), (3, 0, 3), (4, 1, 0), (5, 1, 1), (6, 1, 2), (7, 1, 3)],
    neon_f32 = 3, neon_f32_1 = 1, neon_f32_2 = 2);
kernels!(f64, lanes = 2, a_vectors = 4, [vdupq_n_f64, vld1q_f64, vst1q_f64, vaddq_f64, vfmaq_laneq_f64],
    [(0, 0, 0), (1, 0, 1), (2, 1, 0), (3, 1, 1), (4, 2, 0), (5, 2, 1), (6, 3, 0), (7, 3, 1)],
    neon_f64 = 3, neon_f64_1 = 1, neon_f64_2 = 2);
