//! Higher-order helpers built on [`grad`]: VJPs, JVPs, Hessian-vector
//! products, full Jacobians and Hessians, and Jacobian diagonals.
//!
//! Each takes the function itself (`f: Fn(&Tensor) -> Tensor`) so it can
//! choose how to evaluate it. `f` is always evaluated with recording on (it
//! must be, to be differentiated), even inside [`crate::no_grad`]; with
//! `create_graph`, every result is recorded too and can be differentiated
//! again, e.g. inside a training loss.

use crate::grad::grad;
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
    let jv = grad(&[ut_j], &[u], Some(&[v.clone()]), create_graph).remove(0);
    (y, jv)
}

/// `H·v` for a scalar `f`: the gradient of `⟨∇f(x), v⟩`.
pub fn hvp(f: impl Fn(&Tensor) -> Tensor, x: &Tensor, v: &Tensor, create_graph: bool) -> Tensor {
    let x = as_variable(x);
    let g = grad(&[recorded(&f, &x)], &[x.clone()], None, true).remove(0);
    grad(&[g], &[x], Some(&[v.clone()]), create_graph).remove(0)
}

/// The full Jacobian `∂f/∂x` as a `[numel(f(x)), numel(x)]` matrix: one
/// backward pass per output element, so for small sizes only.
pub fn jacobian(f: impl Fn(&Tensor) -> Tensor, x: &Tensor, create_graph: bool) -> Tensor {
    let x = as_variable(x);
    jacobian_rows(&recorded(&f, &x), &x, create_graph)
}

/// The Hessian of a scalar `f` as a `[numel(x), numel(x)]` matrix.
pub fn hessian(f: impl Fn(&Tensor) -> Tensor, x: &Tensor, create_graph: bool) -> Tensor {
    let x = as_variable(x);
    let g = grad(&[recorded(&f, &x)], &[x.clone()], None, true).remove(0);
    jacobian_rows(&g, &x, create_graph)
}

fn jacobian_rows(y: &Tensor, x: &Tensor, create_graph: bool) -> Tensor {
    let (m, n) = (y.numel(), x.numel());
    let rows: Vec<Tensor> = (0..m)
        .map(|i| {
            let e = y.one_hot(1, m, |_| i).reshape(y.shape().clone());
            grad(&[y.clone()], &[x.clone()], Some(&[e]), create_graph).remove(0).reshape([1, n])
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
    /// All D one-hot cotangents in one backward pass over the batch repeated D
    /// times. Precondition: `f` treats batch rows independently (no batch
    /// statistics, no mixing of samples), so row `(i, b)` of the repeated
    /// batch only sees sample `b`. One pass, D times the memory.
    Batched,
}

/// `(f(x), diag)`: the value of `f: [B, D] → [B, D]` and the diagonal of its
/// per-sample Jacobian, `[B, D]` with entry `(b, i) = ∂f(x)_{b,i} / ∂x_{b,i}`.
/// With `create_graph` both are differentiable (to the parameters `f` closes
/// over, say), so they can sit inside a training loss such as
/// `tr(∂s/∂x) + ½‖s‖²`.
pub fn jacobian_diagonal(f: impl Fn(&Tensor) -> Tensor, x: &Tensor, strategy: DiagonalStrategy, create_graph: bool) -> (Tensor, Tensor) {
    assert_eq!(x.rank(), 2, "jacobian_diagonal: input must be [batch, dim], got shape {}", x.shape());
    let (b, d) = (x.dims()[0], x.dims()[1]);
    let x = as_variable(x);
    match strategy {
        DiagonalStrategy::Loop => {
            let y = recorded(&f, &x);
            assert_eq!(y.shape(), x.shape(), "jacobian_diagonal: f maps shape {} to {}; it must map R^D to R^D", x.shape(), y.shape());
            let columns: Vec<Tensor> = (0..d)
                .map(|i| {
                    let e = x.one_hot(b, d, |_| i);
                    let g = grad(&[y.clone()], &[x.clone()], Some(&[e]), create_graph).remove(0);
                    g.narrow(1, i, 1)
                })
                .collect();
            (y, concat(&columns, 1))
        }
        DiagonalStrategy::Batched => {
            // Row i·B + b of the repeated batch is sample b, paired with cotangent eᵢ.
            let repeat: Vec<usize> = (0..d).flat_map(|_| 0..b).collect();
            let xr = with_grad_enabled(true, || x.gather_rows(&repeat));
            let y = recorded(&f, &xr);
            assert_eq!(y.shape(), xr.shape(), "jacobian_diagonal: f maps shape {} to {}; it must map R^D to R^D", xr.shape(), y.shape());
            let e = x.one_hot(d * b, d, |row| row / b);
            let g = grad(&[y.clone()], &[xr], Some(&[e.clone()]), create_graph).remove(0);
            // Every block of B rows holds f(x); the first one is the value.
            (y.narrow(0, 0, b), g.mask(&e).sum_axis(1).reshape([d, b]).t())
        }
    }
}
