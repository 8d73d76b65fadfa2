//! `gradcheck` and `gradgradcheck`: analytic derivatives against central
//! finite differences, in f64.

use std::fmt;

use crate::grad::{grad_with, GradOptions};
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
        // An input `f` does not use has a zero Jacobian, which the finite
        // differences then confirm (a VJP that is constant in `x`, say).
        for (k, g) in grad_with(&[y.clone()], &xs, Some(&[e]), GradOptions::default().allow_unused()).into_iter().enumerate() {
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

/// Checks the second derivatives of `f`, as PyTorch's `gradgradcheck` does:
/// `gradcheck` of the vector-Jacobian product `(x, v) ↦ vᵀ·∂f/∂x` (recorded
/// with `create_graph`) as a function of the inputs **and** of the cotangent
/// `v`, starting from a fixed pseudo-random `v`. Perturbing `x` checks that
/// every VJP rule is itself correctly differentiable; perturbing `v` checks
/// that each rule is the right linear function of its cotangent (a rule that
/// dropped `gy` from the graph would pass the first part). In the report,
/// input `inputs.len()` is the cotangent.
pub fn gradgradcheck(f: impl Fn(&[Tensor]) -> Tensor, inputs: &[Tensor], tolerance: f64) -> CheckReport {
    let probe: Vec<Tensor> = inputs.iter().map(|x| x.detach().to_dtype(DType::F64)).collect();
    let out_shape = no_grad(|| f(&probe)).shape().clone();
    let v = Tensor::from_vec(pseudo_random(out_shape.numel()), out_shape);
    let n = inputs.len();
    let vector_jacobian_product = |args: &[Tensor]| {
        let (xs, v) = args.split_at(n);
        let xs: Vec<Tensor> = xs.iter().map(|x| if x.requires_grad_flag() { x.clone() } else { x.requires_grad() }).collect();
        // An input `f` ignores has a zero VJP, which the differences confirm.
        let grads = grad_with(&[f(&xs)], &xs, Some(&v[..1]), GradOptions::create_graph(true).allow_unused());
        let flat: Vec<Tensor> = grads.iter().map(|g| g.reshape([g.numel()])).collect();
        concat(&flat, 0)
    };
    let mut args = inputs.to_vec();
    args.push(v);
    gradcheck(vector_jacobian_product, &args, tolerance)
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

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::*;
    use crate::backend::{Storage, Unary};
    use crate::op::Op;
    use crate::shape::Shape;

    /// `x²` whose VJP has the right value, `2x·gy`, but cuts `gy` from the
    /// graph: wrong as a function of the cotangent, right as one of `x`.
    struct SquareWithDetachedCotangent;

    impl Op for SquareWithDetachedCotangent {
        fn name(&self) -> String {
            "square (cotangent detached)".into()
        }
        fn forward(&self, x: &[&Tensor]) -> (Rc<Storage>, Shape) {
            (x[0].storage().unary(Unary::Powi(2)).into(), x[0].shape().clone())
        }
        fn vjp(&self, x: &[Tensor], _y: &Tensor, gy: &Tensor, _needs: &[bool]) -> Vec<Option<Tensor>> {
            vec![Some(&gy.detach() * &x[0].scale(2.0))]
        }
    }

    fn inputs() -> Vec<Tensor> {
        vec![Tensor::from_vec(vec![0.3f64, -1.2, 0.7], [3])]
    }

    #[test]
    fn gradgradcheck_catches_a_vjp_that_drops_its_cotangent() {
        let broken = |x: &[Tensor]| Tensor::apply(SquareWithDetachedCotangent, &[&x[0]]).tanh();
        // First order it is right; perturbing x alone, so is its second order.
        assert!(gradcheck(broken, &inputs(), 1e-6).passed());
        let report = gradgradcheck(broken, &inputs(), 1e-5);
        assert!(!report.passed(), "the detached cotangent went unnoticed: {report}");
        let worst = report.worst.clone().expect("a worst entry");
        assert_eq!(worst.input, 1, "the disagreement is in the derivative with respect to the cotangent: {report}");
        assert_eq!(worst.analytic, 0.0);
        // The same function with the real square passes.
        assert!(gradgradcheck(|x: &[Tensor]| x[0].square().tanh(), &inputs(), 1e-5).passed());
    }
}
