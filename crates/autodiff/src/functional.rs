//! Higher-order helpers built on [`grad`]: VJPs, JVPs, Hessian-vector
//! products, full Jacobians and Hessians, and Jacobian diagonals.
//!
//! Each takes the function itself (`f: Fn(&Tensor) -> Tensor`) so it can
//! choose how to evaluate it. `f` is always evaluated with recording on (it
//! must be, to be differentiated), even inside [`crate::no_grad`]; with
//! `create_graph`, every result is recorded too and can be differentiated
//! again, e.g. inside a training loss.

use crate::grad::{grad, grad_with, GradOptions};
use crate::ops::concat;
use crate::tape::with_grad_enabled;
use crate::tensor::Tensor;

/// `f(x)`, recorded whatever the grad mode outside.
fn recorded(f: impl Fn(&Tensor) -> Tensor, x: &Tensor) -> Tensor {
    with_grad_enabled(true, || f(x))
}

/// `x` if it already takes part in the graph, else a fresh leaf of its value.
fn as_variable(x: &Tensor) -> Tensor {
    if x.requires_grad_flag() {
        x.clone()
    } else {
        x.requires_grad()
    }
}

/// `(f(x), vᵀ·∂f/∂x)`.
pub fn vjp(f: impl Fn(&Tensor) -> Tensor, x: &Tensor, v: &Tensor, create_graph: bool) -> (Tensor, Tensor) {
    let x = as_variable(x);
    let y = recorded(&f, &x);
    let g = grad(&[y.clone()], &[x], Some(&[v.clone()]), create_graph).remove(0);
    (y, g)
}

/// `(f(x), ∂f/∂x·v)`, forward mode by the double-VJP trick: `u ↦ uᵀJ` is
/// linear in a dummy cotangent `u`, so its VJP with `v` is `(Jᵀ)ᵀv = Jv`.
pub fn jvp(f: impl Fn(&Tensor) -> Tensor, x: &Tensor, v: &Tensor, create_graph: bool) -> (Tensor, Tensor) {
    let x = as_variable(x);
    let y = recorded(&f, &x);
    let u = y.zeros_like().requires_grad();
    let ut_j = grad(&[y.clone()], &[x], Some(&[u.clone()]), true).remove(0);
    // `uᵀJ` is built from `u` wherever J has a nonzero rule; where no rule
    // reaches `u` (f piecewise constant), J·v is zero.
    let jv = grad_with(&[ut_j], &[u], Some(&[v.clone()]), GradOptions::create_graph(create_graph).allow_unused()).remove(0);
    (y, jv)
}

/// `H·v` for a scalar `f`: the gradient of `⟨∇f(x), v⟩`.
pub fn hvp(f: impl Fn(&Tensor) -> Tensor, x: &Tensor, v: &Tensor, create_graph: bool) -> Tensor {
    let x = as_variable(x);
    let g = grad(&[recorded(&f, &x)], &[x.clone()], None, true).remove(0);
    // A gradient that does not depend on x (f linear) has a zero Hessian.
    grad_with(&[g], &[x], Some(&[v.clone()]), GradOptions::create_graph(create_graph).allow_unused()).remove(0)
}

/// The full Jacobian `∂f/∂x` as a `[numel(f(x)), numel(x)]` matrix: one
/// backward pass per output element, so for small sizes only.
pub fn jacobian(f: impl Fn(&Tensor) -> Tensor, x: &Tensor, create_graph: bool) -> Tensor {
    let x = as_variable(x);
    jacobian_rows(&recorded(&f, &x), &x, GradOptions::create_graph(create_graph))
}

/// The Hessian of a scalar `f` as a `[numel(x), numel(x)]` matrix.
pub fn hessian(f: impl Fn(&Tensor) -> Tensor, x: &Tensor, create_graph: bool) -> Tensor {
    let x = as_variable(x);
    let g = grad(&[recorded(&f, &x)], &[x.clone()], None, true).remove(0);
    // A gradient that does not depend on x (f linear) has a zero Hessian.
    jacobian_rows(&g, &x, GradOptions::create_graph(create_graph).allow_unused())
}

fn jacobian_rows(y: &Tensor, x: &Tensor, options: GradOptions) -> Tensor {
    let (m, n) = (y.numel(), x.numel());
    let rows: Vec<Tensor> = (0..m)
        .map(|i| {
            let e = y.one_hot(1, m, |_| i).reshape(y.shape().clone());
            grad_with(&[y.clone()], &[x.clone()], Some(&[e]), options).remove(0).reshape([1, n])
        })
        .collect();
    concat(&rows, 0)
}

/// How [`jacobian_diagonal`] computes `∂fᵢ/∂xᵢ` for every sample. Both are exact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiagonalStrategy {
    /// The original write-up's loop: one backward pass per input dimension,
    /// each with a one-hot cotangent, keeping entry `i` of pass `i`. Works for
    /// any `f`; costs D backward passes.
    Loop,
    /// One forward pass and one backward pass carrying all D one-hot
    /// cotangents at once, as a cotangent with a leading axis (`vmap` over the
    /// cotangent, see [`grad`]): each layer's backward product becomes one
    /// `[D·B, ·]` matrix product. Precondition: `f` treats batch rows
    /// independently (no batch statistics, no mixing of samples), since
    /// cotangent `eᵢ` is set on every sample at once. D times the memory of
    /// one backward pass.
    Batched,
}

/// `(f(x), diag)`: the value of `f: [B, D] → [B, D]` and the diagonal of its
/// per-sample Jacobian, `[B, D]` with entry `(b, i) = ∂f(x)_{b,i} / ∂x_{b,i}`.
/// `f` must map `D` inputs to `D` outputs per sample; the
/// [`Batched`](DiagonalStrategy::Batched) strategy also needs the samples
/// (rows) to be independent. With `create_graph` both results are
/// differentiable (to the parameters `f` closes over, say), so they can sit
/// inside a training loss such as `tr(∂s/∂x) + ½‖s‖²`.
pub fn jacobian_diagonal(f: impl Fn(&Tensor) -> Tensor, x: &Tensor, strategy: DiagonalStrategy, create_graph: bool) -> (Tensor, Tensor) {
    assert_eq!(x.rank(), 2, "jacobian_diagonal: input must be [batch, dim], got shape {}", x.shape());
    let (b, d) = (x.dims()[0], x.dims()[1]);
    let x = as_variable(x);
    let y = recorded(&f, &x);
    assert_eq!(y.shape(), x.shape(), "jacobian_diagonal: f maps shape {} to {}; it must map R^D to R^D", x.shape(), y.shape());
    let diagonal = match strategy {
        DiagonalStrategy::Loop => {
            let columns: Vec<Tensor> = (0..d)
                .map(|i| {
                    let e = x.one_hot(b, d, |_| i);
                    let g = grad(&[y.clone()], &[x.clone()], Some(&[e]), create_graph).remove(0);
                    g.narrow(1, i, 1)
                })
                .collect();
            concat(&columns, 1)
        }
        DiagonalStrategy::Batched => {
            // E[i, b, j] = δ_ij: cotangent i is eᵢ on every sample, so with
            // rows independent, g[i, b, j] = ∂f(x)_{b,i} / ∂x_{b,j}. Passed as
            // [D, 1, D], the same for every sample, so the output layer's
            // backward product is D×D·D×H rather than (D·B)×D·D×H.
            let e = x.one_hot(d, d, |i| i).reshape([d, 1, d]);
            let g = grad(&[y.clone()], &[x], Some(&[e]), create_graph).remove(0);
            // diag[b, i] = g[i, b, i]: gathered straight out of the flat
            // [D·B·D] buffer, recorded (its adjoint is a scatter), so the
            // diagonal stays differentiable without a D-times-larger mask.
            let picks: Vec<usize> = (0..b).flat_map(|s| (0..d).map(move |i| (i * b + s) * d + i)).collect();
            g.reshape([d * b * d, 1]).gather_rows(&picks).reshape([b, d])
        }
    };
    (y, diagonal)
}
