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
//!
//! A cotangent may also hold one value for a whole axis of `y` (size 1 there,
//! broadcasting): `[D, 1, D]` for the one-hot cotangents `eᵢ` of a Jacobian
//! diagonal, the same for every sample. Elementwise rules and the row-side
//! matmul product keep it small; the rules that need every entry spell it
//! out ([`full`]), and `grad` broadcasts its results to full shape.

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

/// `g`, shaped `[prefix, *y']` with `y'` broadcasting to `y` (see
/// [`crate::grad`]: a cotangent may hold one value for a whole axis), spelled
/// out to `[prefix, *y]`: for the rules that move entries around (reshape,
/// slices, gathers) and need each one in its place.
pub(crate) fn full(g: &Tensor, y: &Tensor) -> Tensor {
    let prefix = prefix(g, y.rank());
    if g.dims()[prefix.len()..] == *y.dims() {
        return g.clone();
    }
    g.broadcast_to(&prefixed(prefix, y.shape()))
}

/// The adjoint of broadcasting `x` to shape `y`: `g`, shaped `[prefix, *y]`,
/// summed down to `[prefix, *x]`. The prefix is kept (each cotangent is
/// reduced on its own); only the axes that broadcasting added or stretched
/// are summed. Where `g` itself holds one value for a whole axis (size 1
/// there), so does the result, or, on an axis the sum runs over, the sum of
/// n equal values is n times the value.
pub(crate) fn unbroadcast(g: &Tensor, x: &Shape, y: &Shape) -> Tensor {
    let prefix = prefix(g, y.rank());
    let added = y.rank() - x.rank();
    let mut kept = Vec::with_capacity(g.rank());
    kept.extend_from_slice(prefix);
    let mut copies = 1;
    for (axis, (&gd, &yd)) in g.dims()[prefix.len()..].iter().zip(y.dims()).enumerate() {
        let xd = if axis < added { 1 } else { x.dim(axis - added) };
        if gd == 1 && yd != 1 && xd == 1 {
            copies *= yd;
        }
        kept.push(if gd == 1 { 1 } else { xd });
    }
    let summed = if prefix.is_empty() {
        // No prefix to keep aligned: sum straight down to x's rank.
        g.sum_to(&Shape::new(kept.split_off(added)))
    } else {
        let summed = g.sum_to(&Shape::new(kept.clone()));
        // Drop the 1s that stand for the axes broadcasting added to x.
        kept.drain(prefix.len()..prefix.len() + added);
        summed.reshape(kept)
    };
    if copies == 1 {
        summed
    } else {
        summed.scale(copies as f64)
    }
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
