//! AVX-512 paths of packing (`pack.rs`), pure data movement on 4- or 8-byte
//! elements: the packed bits are those of the scalar loops, so no result
//! depends on which one packed.
//!
//! - Lanes contiguous (a row-major `B`): 64-byte vector copies, a row of the
//!   block at a time, instead of a `memcpy` call per panel step.
//! - Steps contiguous, lanes far apart (a row-major `A`, a transposed `B`):
//!   read one vector of steps from each of 8 lanes, transpose in registers,
//!   store each step's 8 lanes: a few vector instructions per 8×16 (f32) or
//!   8×8 (f64) block instead of one scalar load and store per value from
//!   `width` strided streams (which cost half the time of a small-`m` `a·bᵀ`).

use std::arch::x86_64::*;

/// Whether this CPU runs these transposes.
pub fn available() -> bool {
    is_x86_feature_detected!("avx512f")
}

/// `out[(q·depth + p)·width + l] = src[p·row_stride + q·width + l]`, in bytes,
/// for `q < panels`, `p < depth`, `l < width`: `panels` full panels of a block
/// whose rows are contiguous, read a row at a time.
///
/// # Safety
/// The CPU must support AVX-512F; `width` is a multiple of 64; `src` and `out`
/// hold those bytes.
#[target_feature(enable = "avx512f")]
pub unsafe fn panels_from_rows(src: *const u8, row_stride: usize, width: usize, panels: usize, depth: usize, out: *mut u8) {
    for p in 0..depth {
        let row = src.add(p * row_stride);
        for q in 0..panels {
            let (from, to) = (row.add(q * width), out.add((q * depth + p) * width));
            for v in (0..width).step_by(64) {
                _mm512_storeu_si512(to.add(v).cast(), _mm512_loadu_si512(from.add(v).cast()));
            }
        }
    }
}

/// Stores 128-bit lane `$q` of `$v` at `$at`.
macro_rules! store_lane {
    ($v:expr, $q:literal, $at:expr) => {
        _mm_storeu_ps($at, _mm512_extractf32x4_ps::<$q>($v))
    };
}

/// `out[p·width + l] = src[l·lane_stride + p]` for `l < width`, `p < depth`
/// (whole 16-step blocks; the caller packs the rest), 4-byte elements.
///
/// # Safety
/// The CPU must support AVX-512F; `width` is a multiple of 8; `src` and `out`
/// hold those elements.
#[target_feature(enable = "avx512f")]
pub unsafe fn panel_4byte(src: *const f32, lane_stride: usize, width: usize, depth: usize, out: *mut f32) {
    for g in (0..width).step_by(8) {
        let lanes = src.add(g * lane_stride);
        for p0 in (0..depth / 16 * 16).step_by(16) {
            let r: [__m512; 8] = std::array::from_fn(|l| _mm512_loadu_ps(lanes.add(l * lane_stride + p0)));
            // Pairs of lanes interleaved, then pairs of pairs: 128-bit lane q of
            // u[j] holds lanes 0–3 at step 4q + j, of u[4 + j] lanes 4–7.
            let pairs: [__m512d; 8] = std::array::from_fn(|i| {
                let (a, b) = (r[i / 2 * 2], r[i / 2 * 2 + 1]);
                _mm512_castps_pd(if i % 2 == 0 { _mm512_unpacklo_ps(a, b) } else { _mm512_unpackhi_ps(a, b) })
            });
            let u: [__m512; 8] = std::array::from_fn(|i| {
                let (half, j) = (i / 4 * 4, i % 4);
                let (a, b) = (pairs[half + j / 2], pairs[half + 2 + j / 2]);
                _mm512_castpd_ps(if j % 2 == 0 { _mm512_unpacklo_pd(a, b) } else { _mm512_unpackhi_pd(a, b) })
            });
            let at = |step: usize| out.add((p0 + step) * width + g);
            for j in 0..4 {
                store_lane!(u[j], 0, at(j));
                store_lane!(u[4 + j], 0, at(j).add(4));
                store_lane!(u[j], 1, at(4 + j));
                store_lane!(u[4 + j], 1, at(4 + j).add(4));
                store_lane!(u[j], 2, at(8 + j));
                store_lane!(u[4 + j], 2, at(8 + j).add(4));
                store_lane!(u[j], 3, at(12 + j));
                store_lane!(u[4 + j], 3, at(12 + j).add(4));
            }
        }
    }
}

/// As [`panel_4byte`] for 8-byte elements, in whole 8-step blocks.
///
/// # Safety
/// As [`panel_4byte`].
#[target_feature(enable = "avx512f")]
pub unsafe fn panel_8byte(src: *const f64, lane_stride: usize, width: usize, depth: usize, out: *mut f64) {
    for g in (0..width).step_by(8) {
        let lanes = src.add(g * lane_stride);
        for p0 in (0..depth / 8 * 8).step_by(8) {
            let r: [__m512d; 8] = std::array::from_fn(|l| _mm512_loadu_pd(lanes.add(l * lane_stride + p0)));
            // 128-bit lane q of t[2i + j] holds lanes 2i, 2i + 1 at step 2q + j.
            let t: [__m512; 8] = std::array::from_fn(|i| {
                let (a, b) = (r[i / 2 * 2], r[i / 2 * 2 + 1]);
                _mm512_castpd_ps(if i % 2 == 0 { _mm512_unpacklo_pd(a, b) } else { _mm512_unpackhi_pd(a, b) })
            });
            let at = |step: usize, pair: usize| out.add((p0 + step) * width + g + 2 * pair).cast::<f32>();
            for j in 0..2 {
                for pair in 0..4 {
                    let v = t[2 * pair + j];
                    store_lane!(v, 0, at(j, pair));
                    store_lane!(v, 1, at(2 + j, pair));
                    store_lane!(v, 2, at(4 + j, pair));
                    store_lane!(v, 3, at(6 + j, pair));
                }
            }
        }
    }
}
