//! Counter-based standard normals: value `i` of stream `seed` is a pure
//! function of `(seed, i)`. Every backend computes the same numbers, in any
//! order and in parallel, where they are used: noise for a tensor on the GPU
//! is made on the GPU, with nothing copied, and equals the CPU's bit for bit.
//! `kernels/random.cu` holds the same function; keep the two in step.
//!
//! Bit-identical because the arithmetic is only what IEEE 754 rounds the same
//! everywhere: f32 `+ − × ÷`, `sqrt` and fused multiply-add, written out (the
//! logarithm, sine and cosine are short polynomials here, not a math library's),
//! and compiled for the GPU without contracting `a·b + c` on its own. The values
//! are f32 (an f64 tensor gets them widened): noise needs no more.

use crate::dtype::Element;

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's finaliser: a bijection of u64 that scrambles every bit.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The `i`-th standard normal of stream `seed`. Values come in pairs: Box–Muller
/// turns the two 32-bit halves of hash `i / 2` into a radius and an angle, and
/// values `2j` and `2j + 1` are its cosine and sine (|z| < 5.8).
pub fn normal(seed: u64, i: u64) -> f32 {
    let (c, s) = normal_pair(mix(seed), i / 2);
    match i % 2 {
        0 => c,
        _ => s,
    }
}

/// Value `i` of stream `seed` as an index uniform on `0..n` (`n` ≤ 2³²): the
/// high half of hash `i` scaled to `n` (multiply-shift; its bias, under
/// n/2³², is below 2e-5 for MNIST's 60,000 rows). Integer arithmetic only,
/// so every backend picks the same rows. Draws for different purposes take
/// different seeds: index `i` and normal pair `i` of one seed share a hash.
pub fn uniform_index(seed: u64, i: u64, n: u64) -> u64 {
    index(mix(seed), i, n)
}

/// Values `0..count` of stream `seed` as indices uniform on `0..n`: a
/// minibatch's rows, as every backend draws them.
pub fn uniform_indices(seed: u64, count: usize, n: usize) -> Vec<usize> {
    let key = mix(seed);
    (0..count as u64).map(|i| index(key, i, n as u64) as usize).collect()
}

/// [`uniform_index`] for the stream whose key is `mix(seed)` (as the GPU kernel takes it).
fn index(key: u64, i: u64, n: u64) -> u64 {
    assert!(n <= 1 << 32, "uniform_index: n = {n} is over 2³²");
    ((hash(key, i) >> 32) * n) >> 32
}

/// Output `i` (from 0) of SplitMix64 seeded with `seed` (Steele, Lea & Flood 2014), as a pure
/// function of `(seed, i)`: a reproducible host-side stream for any purpose.
pub fn splitmix64(seed: u64, i: u64) -> u64 {
    hash(seed, i)
}

/// Hash `i` of the stream with key `key`: SplitMix64's `i + 1`-th output.
fn hash(key: u64, i: u64) -> u64 {
    mix(key.wrapping_add(i.wrapping_add(1).wrapping_mul(GAMMA)))
}

/// ln x for x in (0, 1]: x = m·2ᵉ with m in [√½, √2), ln m = 2·atanh(s) with
/// s = (m − 1)/(m + 1), |s| < 0.172, by its series to s⁹ (error < 1e-9).
#[inline(always)]
fn ln(x: f32) -> f32 {
    let bits = x.to_bits();
    let mut e = ((bits >> 23) & 0xFF) as i32 - 127;
    let mut m = f32::from_bits((bits & 0x007F_FFFF) | 0x3F80_0000); // [1, 2)
    if m > std::f32::consts::SQRT_2 {
        m *= 0.5; // exact
        e += 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let p = s2.mul_add(1.0 / 9.0, 1.0 / 7.0);
    let p = s2.mul_add(p, 1.0 / 5.0);
    let p = s2.mul_add(p, 1.0 / 3.0);
    let p = s2.mul_add(p, 1.0);
    (e as f32).mul_add(std::f32::consts::LN_2, 2.0 * s * p)
}

/// (cos t, sin t) for |t| ≤ π/4, by their Taylor series (error < 2e-9).
#[inline(always)]
fn cos_sin(t: f32) -> (f32, f32) {
    let t2 = t * t;
    let c = t2.mul_add(-1.0 / 3_628_800.0, 1.0 / 40_320.0);
    let c = t2.mul_add(c, -1.0 / 720.0);
    let c = t2.mul_add(c, 1.0 / 24.0);
    let c = t2.mul_add(c, -0.5);
    let c = t2.mul_add(c, 1.0);
    let s = t2.mul_add(1.0 / 362_880.0, -1.0 / 5_040.0);
    let s = t2.mul_add(s, 1.0 / 120.0);
    let s = t2.mul_add(s, -1.0 / 6.0);
    let s = t2.mul_add(s, 1.0);
    (c, t * s)
}

/// Values `2j` and `2j + 1` of the stream whose key is `mix(seed)` (as the GPU kernel takes it).
#[inline(always)]
pub(crate) fn normal_pair(key: u64, j: u64) -> (f32, f32) {
    let h = hash(key, j);
    let (hi, lo) = ((h >> 32) as u32, h as u32);
    // Radius: u in (0, 1] from 24 bits (exact in f32), r = √(−2 ln u).
    let u = ((hi >> 8) + 1) as f32 * (1.0 / 16_777_216.0);
    let r = (-2.0 * ln(u)).sqrt();
    // Angle: quadrant q from 2 bits, then t in (−π/4, π/4) from 24 more;
    // θ = q·π/2 + t is uniform on the circle, and turning (cos t, sin t) by
    // q quarter turns is exact.
    let q = lo >> 30;
    let f = (((lo >> 6) & 0x00FF_FFFF) as f32 + 0.5) * (1.0 / 16_777_216.0);
    let (c, s) = cos_sin((f - 0.5) * std::f32::consts::FRAC_PI_2);
    // q = 0: (c, s); 1: (−s, c); 2: (−c, −s); 3: (s, −c), without branches.
    let (a, b) = if q & 1 == 0 { (c, s) } else { (s, c) };
    let flip = |v: f32, negate: u32| f32::from_bits(v.to_bits() ^ (negate << 31));
    (r * flip(a, (q ^ (q >> 1)) & 1), r * flip(b, q >> 1))
}

/// `out[i]` = value `i` of the stream with key `key` (widened for f64), in
/// parallel blocks of pairs.
pub(crate) fn fill<T: Element>(out: &mut [T], key: u64) {
    use rayon::prelude::*;
    const BLOCK: usize = 8192; // values per task, even
    out.par_chunks_mut(BLOCK).enumerate().for_each(|(b, block)| {
        let first_pair = (b * BLOCK / 2) as u64;
        #[cfg(target_arch = "x86_64")]
        {
            let fma = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
            if fma && is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512dq") && is_x86_feature_detected!("avx512vl") {
                // SAFETY: the CPU has the features.
                return unsafe { fill_block_avx512(block, key, first_pair) };
            }
            if fma {
                // SAFETY: the CPU has the features.
                return unsafe { fill_block_avx2_fma(block, key, first_pair) };
            }
        }
        fill_block(block, key, first_pair);
    });
}

/// `block[i]` = value `2·first_pair + i` of the stream. The pairs are
/// independent, so in a build for a wide enough CPU the loop vectorises.
#[inline(always)]
fn fill_block<T: Element>(block: &mut [T], key: u64, first_pair: u64) {
    let cast = |v: f32| T::from_f64(f64::from(v));
    let last_pair = first_pair + block.len() as u64 / 2;
    let mut pairs = block.chunks_exact_mut(2);
    for (j, pair) in (first_pair..).zip(&mut pairs) {
        let (c, s) = normal_pair(key, j);
        pair[0] = cast(c);
        pair[1] = cast(s);
    }
    if let [last] = pairs.into_remainder() {
        *last = cast(normal_pair(key, last_pair).0);
    }
}

/// [`fill_block`] compiled for FMA hardware: `mul_add` is then one instruction
/// instead of a call to the (equally exact) software routine that the
/// baseline x86-64 target needs. The values are the same bits either way.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fill_block_avx2_fma<T: Element>(block: &mut [T], key: u64, first_pair: u64) {
    fill_block(block, key, first_pair)
}

/// [`fill_block`] for AVX-512, whose 64-bit multiplies let the hash vectorise.
///
/// # Safety
/// The CPU must support AVX-512 F, DQ and VL, and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
unsafe fn fill_block_avx512<T: Element>(block: &mut [T], key: u64, first_pair: u64) {
    fill_block(block, key, first_pair)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_is_the_reference_generator() {
        // SplitMix64 seeded with 0: its first outputs, as the reference C code prints them.
        assert_eq!(splitmix64(0, 0), 0xE220_A839_7B1D_CDAF);
        assert_eq!(splitmix64(0, 1), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn moments_are_standard_normal_and_streams_differ() {
        let n = 200_000u64;
        let z: Vec<f64> = (0..n).map(|i| f64::from(normal(7, i))).collect();
        let mean = z.iter().sum::<f64>() / n as f64;
        let var = z.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
        let kurt = z.iter().map(|v| (v - mean).powi(4)).sum::<f64>() / n as f64 / (var * var);
        // Standard errors: 1/√n ≈ 0.0022 for the mean, √(2/n) ≈ 0.0032 for the variance.
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.015, "variance {var}");
        assert!((kurt - 3.0).abs() < 0.06, "kurtosis {kurt}");
        let within_one = z.iter().filter(|v| v.abs() < 1.0).count() as f64 / n as f64;
        assert!((within_one - 0.682_689).abs() < 0.005, "P(|z| < 1) = {within_one}");
        // The two values of a pair are independent (cosine and sine of one angle).
        let pairs = (n / 2) as f64;
        let within: f64 = z.chunks(2).map(|p| p[0] * p[1]).sum::<f64>() / pairs;
        assert!(within.abs() < 0.01, "E[z₂ⱼ z₂ⱼ₊₁] = {within}");
        let other: Vec<f64> = (0..1000).map(|i| f64::from(normal(8, i))).collect();
        let corr: f64 = z.iter().zip(&other).map(|(a, b)| a * b).sum::<f64>() / 1000.0;
        assert!(corr.abs() < 0.15, "streams 7 and 8 correlate: {corr}");
    }

    #[test]
    fn fill_gives_the_same_bits_as_one_value_at_a_time() {
        // `fill` runs the FMA-compiled loop where the CPU has it; `normal` is
        // the plain build's `mul_add`. Odd length: the last pair is half used.
        let mut out = vec![0f32; 20_001];
        fill(&mut out, mix(11));
        let same = |out: &[f32], build: &str| {
            for (i, v) in out.iter().enumerate() {
                assert_eq!(v.to_bits(), normal(11, i as u64).to_bits(), "value {i}, {build} build");
            }
        };
        same(&out, "widest");
        // Each build the CPU can run, on one block (the values start at pair 0).
        let mut block = vec![0f32; 20_001];
        fill_block(&mut block, mix(11), 0);
        same(&block, "baseline");
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has the features.
            unsafe { fill_block_avx2_fma(&mut block, mix(11), 0) };
            same(&block, "AVX2+FMA");
        }
    }

    #[test]
    fn the_polynomials_are_accurate_to_f32() {
        for k in 1..=100_000u32 {
            // ln over (0, 1], denser near 0 where the radius gets large.
            let x = (k as f32 / 100_000.0).powi(3);
            let want = f64::from(x).ln();
            assert!((f64::from(ln(x)) - want).abs() <= 3e-7 * want.abs().max(1.0), "ln({x})");
            let t = (k as f32 / 100_000.0 - 0.5) * std::f32::consts::FRAC_PI_2;
            let (c, s) = cos_sin(t);
            assert!((f64::from(c) - f64::from(t).cos()).abs() < 2e-7 && (f64::from(s) - f64::from(t).sin()).abs() < 2e-7, "cos/sin({t})");
        }
        assert_eq!(ln(1.0), 0.0);
    }

    #[test]
    fn indices_are_uniform_and_in_range() {
        let (n, draws) = (7u64, 70_000u64);
        let mut counts = [0u64; 7];
        for i in 0..draws {
            counts[uniform_index(3, i, n) as usize] += 1;
        }
        // Each count is Binomial(70 000, 1/7): 10 000 ± 93 (one standard deviation).
        assert!(counts.iter().all(|&c| c.abs_diff(10_000) < 500), "{counts:?}");
        assert_eq!(uniform_index(3, 5, 1), 0);
        let top = (0..10_000).map(|i| uniform_index(9, i, 1 << 32)).max().unwrap();
        assert!(top < 1 << 32 && top > (1 << 32) - (1 << 22), "the whole range is reached: max {top}");
        let indices: Vec<u64> = (0..4).map(|i| uniform_index(42, i, 60_000)).collect();
        assert_eq!(indices, PINNED_INDICES);
    }

    #[test]
    fn values_are_pinned() {
        // The same numbers are checked against kernels/random.cu by kernels/emu/run.sh.
        let got: Vec<u32> = (0..4).map(|i| normal(42, i).to_bits()).collect();
        assert_eq!(got, PINNED);
    }

    const PINNED: [u32; 4] = [1_063_218_575, 3_204_824_205, 1_072_871_384, 1_048_735_015];
    const PINNED_INDICES: [u64; 4] = [35_767, 9_621, 9_983, 2_881];
}
