//! Cotangents with extra leading axes: what lets one backward pass carry many
//! cotangents at once (`vmap` over the cotangent).
//!
//! [`crate::grad`] accepts a cotangent shaped `[P..., *y.shape]` and returns
//! gradients shaped `[P..., *x.shape]`: entry `p` of the result is the
//! ordinary gradient for cotangent `p`. Every VJP rule is linear in its
//! cotangent, so a prefix passes through as long as each rule counts the
//! cotangent's axes from the end: elementwise rules do so already (NumPy
//! broadcasting aligns trailing axes), matmul treats leading axes as batch
//! axes, and the rules that name an axis or reduce to a shape use the helpers
//! here.

use crate::shape::Shape;
use crate::tensor::Tensor;

/// The extra leading axes of cotangent `g` for a value of rank `value_rank`.
pub(crate) fn prefix(g: &Tensor, value_rank: usize) -> &[usize] {
    assert!(g.rank() >= value_rank, "cotangent of shape {} for a value of rank {value_rank}", g.shape());
    &g.dims()[..g.rank() - value_rank]
}

/// `[prefix..., *shape]`.
pub(crate) fn prefixed(prefix: &[usize], shape: &Shape) -> Shape {
    Shape::new([prefix, shape.dims()].concat())
}

/// The axis of cotangent `g` that is axis `axis` of a value of rank `value_rank`.
pub(crate) fn axis(g: &Tensor, value_rank: usize, axis: usize) -> usize {
    prefix(g, value_rank).len() + axis
}

/// The adjoint of broadcasting `x` to a value `y` of rank `y_rank`: `g`, shaped
/// `[prefix, *y]`, summed down to `[prefix, *x]`. The prefix is kept (each
/// cotangent is reduced on its own); only the axes that broadcasting added or
/// stretched are summed.
pub(crate) fn unbroadcast(g: &Tensor, x: &Shape, y_rank: usize) -> Tensor {
    let prefix = prefix(g, y_rank);
    if prefix.is_empty() {
        return g.sum_to(x);
    }
    // Spell out the axes broadcasting added to x as 1s, so that the prefix
    // stays aligned with itself and not with x's leading axes.
    let kept = [prefix, &vec![1; y_rank - x.rank()], x.dims()].concat();
    g.sum_to(&Shape::new(kept)).reshape(prefixed(prefix, x))
}

/// The adjoint of summing `x` down to a value `y` of rank `y_rank`: `g`,
/// shaped `[prefix, *y]`, broadcast back up to `[prefix, *x]`.
pub(crate) fn rebroadcast(g: &Tensor, x: &Shape, y_rank: usize) -> Tensor {
    let prefix = prefix(g, y_rank);
    if prefix.is_empty() {
        return g.broadcast_to(x);
    }
    let padded = [prefix, &vec![1; x.rank() - y_rank], &g.dims()[prefix.len()..]].concat();
    g.reshape(padded).broadcast_to(&prefixed(prefix, x))
}
