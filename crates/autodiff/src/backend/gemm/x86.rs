//! Register-blocked microkernels for x86-64, one per instruction set and
//! element type, each compiled with its own `target_feature` so that one binary
//! carries them all and [`super::Isa`] picks one at run time.
//!
//! Each computes one `MR×NR` tile, `C += A·B`, from a packed `A` micro-panel
//! (`kc` steps of `MR` values) and a packed `B` micro-panel (`kc` steps of `NR`
//! values). Rows of `C` are row-major and `NR` wide, so a tile row is `NR/LANES`
//! vector loads and stores; the accumulators stay in registers for the whole
//! `kc` loop: per step, `NR/LANES` loads of `B`, `MR` broadcasts of `A` and
//! `MR·NR/LANES` FMAs.
//!
//! Register budget: AVX-512 has 32 vector registers, so 8 rows × 3 vectors = 24
//! accumulators, 3 for `B` and one broadcast; AVX2 has 16, so the classic 6 × 2
//! = 12 accumulators, 2 for `B`, one broadcast.

use std::arch::x86_64::*;

/// Steps ahead at which the kernels prefetch the packed `B` panel.
const B_AHEAD: usize = 8;

/// `$name(kc, a, b, b_step, c, ldc, overwrite)`: `C[0..MR][0..NR] += A·B`
/// over `kc` steps, or `C = A·B` when `overwrite` (the first step block: `C`'s
/// recycled buffer is then written without being read first). Step `p` of
/// `B` is the `NR` values at `b + p·b_step` of a packed panel (`b_step` is the
/// panel's width, which the narrow edge kernels below read only part of).
///
/// # Safety
/// The CPU must support `$feature`; `a` holds `kc·MR` values, `b` `kc` steps, and
/// `c` an `MR×NR` tile with row stride `ldc`.
macro_rules! tile_kernel {
    ($name:ident, $feature:literal, $t:ty, mr = $mr:literal, vectors = $nv:literal, lanes = $lanes:literal,
     zero = $zero:ident, load = $load:ident, store = $store:ident, splat = $splat:ident, fma = $fma:ident, add = $add:ident) => {
        #[target_feature(enable = $feature)]
        pub unsafe fn $name(kc: usize, a: *const $t, b: *const $t, b_step: usize, c: *mut $t, ldc: usize, overwrite: bool) {
            // C's rows are far apart: fetch them while the products run.
            for i in 0..$mr {
                for v in 0..(($nv * $lanes * std::mem::size_of::<$t>()).div_ceil(64)) {
                    _mm_prefetch::<_MM_HINT_T0>(c.add(i * ldc).cast::<i8>().add(v * 64));
                }
            }
            let mut acc = [[$zero(); $nv]; $mr];
            let mut bv = [$zero(); $nv];
            for p in 0..kc {
                let bp = b.add(p * b_step);
                for v in 0..$nv {
                    // B streams from L2: ask for it a few steps ahead.
                    _mm_prefetch::<_MM_HINT_T0>(bp.wrapping_add(B_AHEAD * b_step + v * $lanes).cast::<i8>());
                    bv[v] = $load(bp.add(v * $lanes));
                }
                let ap = a.add(p * $mr);
                for i in 0..$mr {
                    let ai = $splat(*ap.add(i));
                    for v in 0..$nv {
                        acc[i][v] = $fma(ai, bv[v], acc[i][v]);
                    }
                }
            }
            for i in 0..$mr {
                for v in 0..$nv {
                    let cp = c.add(i * ldc + v * $lanes);
                    $store(cp, if overwrite { acc[i][v] } else { $add($load(cp), acc[i][v]) });
                }
            }
        }
    };
}

/// One instruction set and element type: its intrinsics once, and a kernel for
/// each `name = vectors` width (the full tile, and the narrower ones that a
/// block's last panel runs, with `b_step` still the full panel's width).
macro_rules! kernels {
    ($feature:literal, $t:ty, mr = $mr:literal, lanes = $lanes:literal,
     [$zero:ident, $load:ident, $store:ident, $splat:ident, $fma:ident, $add:ident], $($name:ident = $nv:literal),+) => {
        $(tile_kernel!($name, $feature, $t, mr = $mr, vectors = $nv, lanes = $lanes,
            zero = $zero, load = $load, store = $store, splat = $splat, fma = $fma, add = $add);)+
    };
}

kernels!("avx512f", f32, mr = 8, lanes = 16,
    [_mm512_setzero_ps, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps],
    avx512_f32 = 3, avx512_f32_1 = 1, avx512_f32_2 = 2);
kernels!("avx512f", f64, mr = 8, lanes = 8,
    [_mm512_setzero_pd, _mm512_loadu_pd, _mm512_storeu_pd, _mm512_set1_pd, _mm512_fmadd_pd, _mm512_add_pd],
    avx512_f64 = 3, avx512_f64_1 = 1, avx512_f64_2 = 2);
kernels!("avx2,fma", f32, mr = 6, lanes = 8,
    [_mm256_setzero_ps, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps],
    avx2_f32 = 2, avx2_f32_1 = 1);
kernels!("avx2,fma", f64, mr = 6, lanes = 4,
    [_mm256_setzero_pd, _mm256_loadu_pd, _mm256_storeu_pd, _mm256_set1_pd, _mm256_fmadd_pd, _mm256_add_pd],
    avx2_f64 = 2, avx2_f64_1 = 1);
