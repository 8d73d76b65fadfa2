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

/// ±1 with equal probability.
pub fn rademacher(shape: impl Into<Shape>, dtype: DType, rng: &mut impl Rng) -> Tensor {
    let shape = shape.into();
    let data: Vec<f64> = (0..shape.numel()).map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 }).collect();
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
