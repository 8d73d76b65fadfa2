//! `logsumexp` and `log_softmax`, stable for any input: compositions of
//! recorded ops, so they need no derivative of their own.
//!
//! `log Σ exp(xᵢ)` overflows once some `xᵢ` passes ~88 (f32) or ~709 (f64),
//! and underflows to `log 0` when every `xᵢ` is very negative. Shifting by a
//! constant `m` changes nothing, `lse(x) = m + lse(x − m)`, and with `m =
//! max x` the largest term is `e⁰ = 1`: the sum lies in `[1, n]`. The shift is
//! detached: since `lse` does not depend on it, neither its value nor any
//! derivative does, so treating `m` as a constant is exact, and the ties and
//! kinks of `max` never enter a gradient.

use crate::tensor::Tensor;

impl Tensor {
    /// `log Σ exp(x)` along `axis`, removing it; finite for any finite input.
    pub fn logsumexp(&self, axis: usize) -> Tensor {
        assert!(axis < self.rank(), "logsumexp: axis {axis} out of range for shape {}", self.shape());
        let shift = self.max_axis(axis).detach();
        let shifted = self - &shift.reshape(self.kept_dims(axis));
        &shift + &shifted.exp().sum_axis(axis).log()
    }

    /// `x − logsumexp(x)` along `axis`: log-probabilities whose `exp` sums to 1.
    pub fn log_softmax(&self, axis: usize) -> Tensor {
        self - &self.logsumexp(axis).reshape(self.kept_dims(axis))
    }

    /// The dims with `axis` reduced to 1, so a reduction along it broadcasts back.
    fn kept_dims(&self, axis: usize) -> Vec<usize> {
        let mut kept = self.dims().to_vec();
        kept[axis] = 1;
        kept
    }
}
