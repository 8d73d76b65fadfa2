//! Seeded random tensors: initialisation, perturbations, projections.

use autodiff::{DType, Shape, Tensor};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// Standard normal entries, drawn in the tensor's own precision.
pub fn randn(shape: impl Into<Shape>, dtype: DType, rng: &mut impl Rng) -> Tensor {
    let shape = shape.into();
    let n = shape.numel();
    match dtype {
        DType::F32 => Tensor::from_vec((0..n).map(|_| StandardNormal.sample(rng)).collect::<Vec<f32>>(), shape),
        DType::F64 => Tensor::from_vec((0..n).map(|_| StandardNormal.sample(rng)).collect::<Vec<f64>>(), shape),
    }
}

/// Uniform entries in `[lo, hi)`.
pub fn uniform(shape: impl Into<Shape>, lo: f64, hi: f64, dtype: DType, rng: &mut impl Rng) -> Tensor {
    let shape = shape.into();
    let data: Vec<f64> = (0..shape.numel()).map(|_| rng.random_range(lo..hi)).collect();
    Tensor::from_vec(data, shape).to_dtype(dtype).detach()
}

/// Standard normal entries shaped like `x`, with its dtype, on its device:
/// the noise that is added to `x`. `rng` picks a counter-based stream, and
/// the values are made on `x`'s device (no host copy), equal on every device.
pub fn randn_like(x: &Tensor, rng: &mut impl Rng) -> Tensor {
    randn_on_device_of(x, x.shape().clone(), rng)
}

/// Standard normal entries of `shape`, with `x`'s dtype, made on `x`'s device (as [`randn_like`]).
pub fn randn_on_device_of(x: &Tensor, shape: impl Into<Shape>, rng: &mut impl Rng) -> Tensor {
    x.randn_like(shape, rng.random::<u64>())
}

/// ±1 with equal probability, of `shape`, with `x`'s dtype, made on `x`'s
/// device: the signs of counter-based normals (never exactly 0, symmetric,
/// and independent, the two of a Box–Muller pair included).
pub fn rademacher_on_device_of(x: &Tensor, shape: impl Into<Shape>, rng: &mut impl Rng) -> Tensor {
    randn_on_device_of(x, shape, rng).step().affine(2.0, -1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn rademacher_signs_are_balanced_and_independent() {
        let x = Tensor::zeros([1], DType::F32);
        let v = rademacher_on_device_of(&x, [100_000], &mut StdRng::seed_from_u64(3)).to_vec_f64();
        assert!(v.iter().all(|&s| s == 1.0 || s == -1.0));
        // Standard error of a mean of ±1s: 1/√n ≈ 0.0032.
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let within_pairs = v.chunks(2).map(|p| p[0] * p[1]).sum::<f64>() / (v.len() / 2) as f64;
        let neighbours = v.windows(2).skip(1).step_by(2).map(|p| p[0] * p[1]).sum::<f64>() / (v.len() / 2 - 1) as f64;
        assert!(mean.abs() < 0.015 && within_pairs.abs() < 0.02 && neighbours.abs() < 0.02, "{mean} {within_pairs} {neighbours}");
    }
}
