//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod memory;

use gradgrad::autodiff::Tensor;
use rand::{rngs::StdRng, Rng, SeedableRng};

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// An f64 tensor of uniform values in `[lo, hi)`.
pub fn uniform(rng: &mut StdRng, shape: &[usize], lo: f64, hi: f64) -> Tensor {
    let n: usize = shape.iter().product();
    Tensor::from_vec((0..n).map(|_| rng.random_range(lo..hi)).collect::<Vec<f64>>(), shape.to_vec())
}

/// Uniform values kept at least `margin` away from zero (for relu, log, 1/x).
pub fn away_from_zero(rng: &mut StdRng, shape: &[usize], lo: f64, hi: f64, margin: f64) -> Tensor {
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|_| loop {
            let v: f64 = rng.random_range(lo..hi);
            if v.abs() > margin {
                break v;
            }
        })
        .collect::<Vec<f64>>();
    Tensor::from_vec(data, shape.to_vec())
}

pub fn assert_close(a: &[f64], b: &[f64], tol: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{what}: element {i}: {x} vs {y} (tol {tol})");
    }
}
