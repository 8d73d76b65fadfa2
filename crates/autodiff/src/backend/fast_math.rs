//! Branch-free f32 `exp` and `log1p` that the compiler can vectorise, for the
//! activations in the hot loops (libm's scalar calls dominated a profile of
//! the batched trace). Accurate to a few ulp; f64 keeps the standard library.
//! Plain `a * b + c` rather than `mul_add`: without hardware FMA enabled at
//! compile time, `mul_add` is a slow library call, and with it the FMA paths
//! would round differently from the SSE2 one (`backend::simd` keeps every
//! instruction-set level to the same bits). No `round()` either: SSE2 has no
//! rounding instruction, so it would be a libm call per element there.

/// `e^x` for f32: range reduction `x = n·ln2 + r`, |r| ≤ ln2/2, a degree-6
/// polynomial for `e^r`, and `2^n` by building the exponent bits.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding 1.5·2²³ rounds x·log₂e to an integer n (to even on ties), which
    // lands in the low mantissa bits: n as a float and as an integer, with
    // plain adds on every instruction set.
    const ROUNDER: f32 = 12_582_912.0;
    let x = x.clamp(-87.3, 89.0);
    let shifted = x * LOG2E + ROUNDER;
    let n = shifted - ROUNDER;
    let r = x - n * LN2_HI - n * LN2_LO;
    // Taylor/minimax coefficients of e^r on [−ln2/2, ln2/2] (Cephes expf).
    let p = 1.987_569_1e-4f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let er = p * r * r + r + 1.0;
    // 2ⁿ for n in [−126, 128], in two normal halves: 2¹²⁸ alone would overflow.
    // (A NaN `x` leaves nonsense in n but NaN in `er`, so the result is NaN.)
    let n = (shifted.to_bits() as i32).wrapping_sub(ROUNDER.to_bits() as i32);
    let half = n / 2;
    let pow2 = |k: i32| f32::from_bits((k.wrapping_add(127) as u32) << 23);
    er * pow2(half) * pow2(n - half)
}

/// `log(1 + e)` for `e` in [0, 1], as `softplus` needs: `m = 1 + e` lies in
/// [1, 2], whose log is a polynomial in `(m − 1)/(m + 1)`; below 1e-4 the
/// series `e − e²/2` keeps full relative accuracy where `1 + e` would round.
#[inline(always)]
pub fn log1p_unit_f32(e: f32) -> f32 {
    // log(m) = 2·atanh(s), s = (m − 1)/(m + 1) = e/(2 + e) ∈ [0, 1/3].
    let s = e / (2.0 + e);
    let s2 = s * s;
    // atanh(s)/s = 1 + s²/3 + s⁴/5 + …; at s ≤ 1/3 the first omitted term is < 1e-7.
    let p = 1.0f32 / 13.0;
    let p = p * s2 + 1.0 / 11.0;
    let p = p * s2 + 1.0 / 9.0;
    let p = p * s2 + 1.0 / 7.0;
    let p = p * s2 + 1.0 / 5.0;
    let p = p * s2 + 1.0 / 3.0;
    let series = 2.0 * s * (p * s2 + 1.0);
    let small = e * (1.0 - 0.5 * e);
    if e < 1e-4 {
        small
    } else {
        series
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f32, b: f32) -> i64 {
        (a.to_bits() as i64 - b.to_bits() as i64).abs()
    }

    #[test]
    fn exp_is_within_a_few_ulp_of_std() {
        let mut worst = 0;
        let mut x = -87.0f32;
        while x < 88.0 {
            worst = worst.max(ulps(exp_f32(x), (x as f64).exp() as f32));
            x += 0.0137;
        }
        assert!(worst <= 3, "worst {worst} ulp");
        assert_eq!(exp_f32(0.0), 1.0);
        assert!(exp_f32(-1000.0) >= 0.0 && exp_f32(-1000.0) < 1e-37);
        assert_eq!(exp_f32(1000.0), f32::INFINITY);
        assert!(exp_f32(88.5).is_finite() && exp_f32(-87.0) > 0.0);
    }

    #[test]
    fn log1p_is_within_a_few_ulp_of_std() {
        let mut worst = 0;
        let mut e = 1e-30f32;
        while e <= 1.0 {
            worst = worst.max(ulps(log1p_unit_f32(e), (e as f64).ln_1p() as f32));
            e *= 1.001;
        }
        assert!(worst <= 4, "worst {worst} ulp");
    }
}
