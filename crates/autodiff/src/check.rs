//! `gradcheck` and `gradgradcheck`: analytic derivatives against central
//! finite differences, in f64.

use std::fmt;

use crate::grad::grad;
use crate::ops::concat;
use crate::tape::no_grad;
use crate::tensor::Tensor;
use crate::DType;

/// Step of the central difference: its truncation error is O(ε²) ≈ 1e-12 and
/// its rounding error O(u/ε) ≈ 1e-10 relative to |f|.
pub const EPS: f64 = 1e-6;

/// Where analytic and numeric derivatives disagree most.
#[derive(Clone, Debug, PartialEq)]
pub struct Worst {
    /// Which input, and which element of it (row-major).
    pub input: usize,
    /// Which element of that input.
    pub element: usize,
    /// Which output element (row-major).
    pub output: usize,
    /// The derivative the engine computed.
    pub analytic: f64,
    /// The central-difference estimate.
    pub numeric: f64,
}

/// The outcome of a derivative check.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckReport {
    /// max |analytic − numeric| over all Jacobian entries.
    pub max_abs_error: f64,
    /// max |analytic − numeric| / max(1, |numeric|): relative for entries of
    /// magnitude ≥ 1, absolute below, where finite differences carry an
    /// absolute rounding error.
    pub max_rel_error: f64,
    /// The entry with the largest relative error, if any was compared.
    pub worst: Option<Worst>,
    /// The largest relative error that passes.
    pub tolerance: f64,
}

impl CheckReport {
    /// Whether the worst relative error is within the tolerance.
    pub fn passed(&self) -> bool {
        self.max_rel_error <= self.tolerance
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (max abs error {:.3e}, max rel error {:.3e}, tolerance {:.1e})",
            if self.passed() { "passed" } else { "FAILED" }, self.max_abs_error, self.max_rel_error, self.tolerance)?;
        if let Some(w) = &self.worst {
            write!(f, "; worst at input {} element {}, output {}: analytic {:.12e}, numeric {:.12e}",
                w.input, w.element, w.output, w.analytic, w.numeric)?;
        }
        Ok(())
    }
}

/// Checks the first derivatives of `f` at `inputs` (converted to f64): every
/// entry of the analytic Jacobian (one backward pass per output element)
/// against central differences. Never panics on a disagreement: a point
/// where `f` is not differentiable simply reports a large error.
pub fn gradcheck(f: impl Fn(&[Tensor]) -> Tensor, inputs: &[Tensor], tolerance: f64) -> CheckReport {
    let xs: Vec<Tensor> = inputs.iter().map(|x| x.detach().to_dtype(DType::F64).requires_grad()).collect();
    let y = f(&xs);
    let m = y.numel();

    // analytic[k][j][i] = ∂y_j / ∂x_k[i]
    let mut analytic: Vec<Vec<Vec<f64>>> = xs.iter().map(|_| Vec::with_capacity(m)).collect();
    for j in 0..m {
        let e = y.one_hot(1, m, |_| j).reshape(y.shape().clone());
        for (k, g) in grad(&[y.clone()], &xs, Some(&[e]), false).into_iter().enumerate() {
            analytic[k].push(g.to_vec_f64());
        }
    }

    let mut report = CheckReport { max_abs_error: 0.0, max_rel_error: 0.0, worst: None, tolerance };
    let values: Vec<Vec<f64>> = xs.iter().map(Tensor::to_vec_f64).collect();
    for (k, x) in values.iter().enumerate() {
        for i in 0..x.len() {
            let eval_at = |delta: f64| {
                let mut shifted = x.clone();
                shifted[i] += delta;
                let mut args: Vec<Tensor> = xs.iter().map(Tensor::detach).collect();
                args[k] = Tensor::from_vec(shifted, xs[k].shape().clone());
                f(&args).to_vec_f64()
            };
            let (plus, minus) = (eval_at(EPS), eval_at(-EPS));
            for j in 0..m {
                let numeric = (plus[j] - minus[j]) / (2.0 * EPS);
                let a = analytic[k][j][i];
                let abs = (a - numeric).abs();
                let rel = abs / numeric.abs().max(1.0);
                let rel = if rel.is_nan() { f64::INFINITY } else { rel };
                report.max_abs_error = report.max_abs_error.max(abs);
                if rel > report.max_rel_error || report.worst.is_none() {
                    report.max_rel_error = report.max_rel_error.max(rel);
                    report.worst = Some(Worst { input: k, element: i, output: j, analytic: a, numeric });
                }
            }
        }
    }
    report
}

/// Checks the second derivatives of `f`: `gradcheck` of the function
/// `x ↦ vᵀ·∂f/∂x` (recorded with `create_graph`), for a fixed pseudo-random
/// cotangent `v`. It passes only if every VJP rule is itself correctly differentiable.
pub fn gradgradcheck(f: impl Fn(&[Tensor]) -> Tensor, inputs: &[Tensor], tolerance: f64) -> CheckReport {
    let probe: Vec<Tensor> = inputs.iter().map(|x| x.detach().to_dtype(DType::F64)).collect();
    let out_shape = no_grad(|| f(&probe)).shape().clone();
    let v = Tensor::from_vec(pseudo_random(out_shape.numel()), out_shape);
    let first_derivative = |xs: &[Tensor]| {
        let xs: Vec<Tensor> = xs.iter().map(|x| if x.requires_grad_flag() { x.clone() } else { x.requires_grad() }).collect();
        let grads = grad(&[f(&xs)], &xs, Some(&[v.clone()]), true);
        let flat: Vec<Tensor> = grads.iter().map(|g| g.reshape([g.numel()])).collect();
        concat(&flat, 0)
    };
    gradcheck(first_derivative, inputs, tolerance)
}

/// Deterministic values in [-1, 1]: the check is reproducible without a RNG.
fn pseudo_random(n: usize) -> Vec<f64> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect()
}
