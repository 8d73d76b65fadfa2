//! Counter-based standard normals: value `i` of stream `seed` is a pure
//! function of `(seed, i)`. Every backend computes the same numbers, in any
//! order and in parallel, where they are used: noise for a tensor on the GPU
//! is made on the GPU, with nothing copied, and equals the CPU's.
//! `kernels/random.cu` holds the same function; keep the two in step.

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's finaliser: a bijection of u64 that scrambles every bit.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The `i`-th standard normal of stream `seed`. Values come in pairs: Box–Muller
/// turns the two 32-bit halves of hash `i / 2` into a radius and an angle, and
/// values `2j` and `2j + 1` are its cosine and sine (|z| < 6.7).
pub fn normal(seed: u64, i: u64) -> f64 {
    let (c, s) = normal_pair(mix(seed), i / 2);
    if i % 2 == 0 {
        c
    } else {
        s
    }
}

/// Values `2j` and `2j + 1` of the stream whose key is `mix(seed)` (as the GPU kernel takes it).
pub(crate) fn normal_pair(key: u64, j: u64) -> (f64, f64) {
    let h = mix(key.wrapping_add(j.wrapping_add(1).wrapping_mul(GAMMA)));
    let u1 = ((h >> 32) as f64 + 1.0) * (1.0 / 4_294_967_296.0); // (0, 1]
    let u2 = (h & 0xFFFF_FFFF) as f64 * (1.0 / 4_294_967_296.0); // [0, 1)
    let r = (-2.0 * u1.ln()).sqrt();
    let (sin, cos) = (std::f64::consts::TAU * u2).sin_cos();
    (r * cos, r * sin)
}

/// `out[i]` = value `i` of the stream with key `key`, a pair at a time, in parallel.
pub(crate) fn fill<T: Send>(out: &mut [T], key: u64, cast: impl Fn(f64) -> T + Sync) {
    use rayon::prelude::*;
    out.par_chunks_mut(2).with_min_len(2048).enumerate().for_each(|(j, pair)| {
        let (c, s) = normal_pair(key, j as u64);
        pair[0] = cast(c);
        if let Some(second) = pair.get_mut(1) {
            *second = cast(s);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_are_standard_normal_and_streams_differ() {
        let n = 200_000u64;
        let z: Vec<f64> = (0..n).map(|i| normal(7, i)).collect();
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
        let other: Vec<f64> = (0..1000).map(|i| normal(8, i)).collect();
        let corr: f64 = z.iter().zip(&other).map(|(a, b)| a * b).sum::<f64>() / 1000.0;
        assert!(corr.abs() < 0.15, "streams 7 and 8 correlate: {corr}");
    }

    #[test]
    fn values_are_pinned() {
        // The same numbers are checked against kernels/random.cu by kernels/emu/run.sh.
        let got: Vec<String> = (0..4).map(|i| format!("{:.15}", normal(42, i))).collect();
        assert_eq!(got, PINNED);
    }

    const PINNED: [&str; 4] = ["0.986537001437344", "0.247740002611006", "1.160713327879971", "1.520968559093497"];
}
