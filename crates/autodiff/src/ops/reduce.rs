//! Broadcasting and summation: a pair of ops, each the other's adjoint; and
//! the largest entry along an axis, whose adjoint routes the cotangent back
//! to where that entry was.

use std::rc::Rc;

use super::cotangent;
use crate::backend::Storage;
use crate::op::Op;
use crate::shape::Shape;
use crate::tensor::Tensor;

/// Repeats a tensor along its size-1 (or missing leading) axes: a bias row
/// over a batch, say.
struct BroadcastTo(Shape);

impl Op for BroadcastTo {
    fn name(&self) -> String {
        format!("broadcast_to({})", self.0)
    }
    fn forward(&self, x: &[&Tensor]) -> (Rc<Storage>, Shape) {
        // Adding leading 1s moves no data: share the buffer.
        if x[0].numel() == self.0.numel() {
            return (x[0].storage_rc(), self.0.clone());
        }
        (x[0].storage().broadcast_to(x[0].shape(), &self.0).into(), self.0.clone())
    }
    fn vjp(&self, x: &[Tensor], y: &Tensor, gy: &Tensor, _needs: &[bool]) -> Vec<Option<Tensor>> {
        vec![Some(cotangent::unbroadcast(gy, x[0].shape(), y.shape()))]
    }
}

/// Sums a tensor down to a shape that broadcasts back to it.
struct SumTo(Shape);

impl Op for SumTo {
    fn name(&self) -> String {
        format!("sum_to({})", self.0)
    }
    fn forward(&self, x: &[&Tensor]) -> (Rc<Storage>, Shape) {
        // Dropping 1s moves no data: share the buffer.
        if x[0].numel() == self.0.numel() {
            return (x[0].storage_rc(), self.0.clone());
        }
        (x[0].storage().sum_to(x[0].shape(), &self.0).into(), self.0.clone())
    }
    fn vjp(&self, x: &[Tensor], y: &Tensor, gy: &Tensor, _needs: &[bool]) -> Vec<Option<Tensor>> {
        vec![Some(cotangent::rebroadcast(gy, x[0].shape(), y.rank()))]
    }
}

/// The largest entry along `axis`, which it removes.
struct MaxAxis {
    axis: usize,
}

impl Op for MaxAxis {
    fn name(&self) -> String {
        format!("max_axis({})", self.axis)
    }
    fn forward(&self, x: &[&Tensor]) -> (Rc<Storage>, Shape) {
        let x = x[0];
        let (outer, n, inner) = x.shape().split_at_axis(self.axis);
        assert!(n > 0, "{}: empty axis in shape {}", self.name(), x.shape());
        let mut dims = x.dims().to_vec();
        dims.remove(self.axis);
        (x.storage().max_axis(outer, n, inner).into(), Shape::new(dims))
    }
    /// `gy` goes to the entries that equal the max, split evenly among ties
    /// (PyTorch's `amax` does the same): `gx = gy · [x = y] / #{x = y}`. The
    /// share is piecewise constant in `x`, so it is built from detached
    /// values; the rule is then linear in `gy` and every order works.
    fn vjp(&self, x: &[Tensor], y: &Tensor, gy: &Tensor, _needs: &[bool]) -> Vec<Option<Tensor>> {
        let x = x[0].detach();
        let mut kept = x.dims().to_vec();
        kept[self.axis] = 1;
        let y_kept = y.detach().reshape(kept.clone());
        // y − x ≥ 0, zero exactly at the maxima (y is one of the x's, bit for bit).
        let at_max = 1.0 - &(&y_kept - &x).step();
        let share = &at_max / &at_max.sum_to(&Shape::new(kept.clone()));
        // Put the removed axis back into gy as a size-1 axis, after its prefix.
        let prefix = cotangent::prefix(gy, y.rank());
        let mut gy_dims = gy.dims().to_vec();
        gy_dims.insert(prefix.len() + self.axis, 1);
        vec![Some(&gy.reshape(gy_dims) * &share)]
    }
}

impl Tensor {
    /// NumPy broadcast to `shape`; a no-op (the same tensor) when already there.
    pub fn broadcast_to(&self, shape: &Shape) -> Tensor {
        if self.shape() == shape {
            return self.clone();
        }
        assert!(self.shape().broadcasts_to(shape), "broadcast_to: shape {} does not broadcast to {shape}", self.shape());
        Tensor::apply(BroadcastTo(shape.clone()), &[self])
    }

    /// Sums down to `shape`, which must broadcast to this tensor's shape.
    pub fn sum_to(&self, shape: &Shape) -> Tensor {
        if self.shape() == shape {
            return self.clone();
        }
        assert!(shape.broadcasts_to(self.shape()), "sum_to: shape {shape} does not broadcast to {}", self.shape());
        Tensor::apply(SumTo(shape.clone()), &[self])
    }

    /// The sum of all elements, as a scalar.
    pub fn sum(&self) -> Tensor {
        self.sum_to(&Shape::scalar())
    }

    /// The mean of all elements, as a scalar; NaN (0/0) for an empty tensor,
    /// as in PyTorch and NumPy.
    pub fn mean(&self) -> Tensor {
        self.sum().scale(1.0 / self.numel() as f64)
    }

    /// Sums over `axis`, removing it (`[B, D].sum_axis(1)` is `[B]`); a sum
    /// over an empty axis is 0.
    pub fn sum_axis(&self, axis: usize) -> Tensor {
        assert!(axis < self.rank(), "sum_axis: axis {axis} out of range for shape {}", self.shape());
        let mut kept = self.dims().to_vec();
        kept[axis] = 1;
        let mut removed = self.dims().to_vec();
        removed.remove(axis);
        self.sum_to(&Shape::new(kept)).reshape(removed)
    }

    /// The largest entry along `axis`, removing it (`[B, D].max_axis(1)` is
    /// `[B]`). Its gradient goes to the entries equal to the max, split
    /// evenly among ties. NaN along the axis gives NaN. An empty axis has no
    /// max and panics, as PyTorch's `amax` and NumPy's `max` raise (`-inf`
    /// would let the bug through).
    pub fn max_axis(&self, axis: usize) -> Tensor {
        assert!(axis < self.rank(), "max_axis: axis {axis} out of range for shape {}", self.shape());
        Tensor::apply(MaxAxis { axis }, &[self])
    }

    /// Means over `axis`, removing it; NaN (0/0) over an empty axis.
    pub fn mean_axis(&self, axis: usize) -> Tensor {
        let n = self.dims()[axis];
        self.sum_axis(axis).scale(1.0 / n as f64)
    }

    /// Row-wise dot product of two `[B, D]` tensors: `[B]`, `Σ_d a[b,d]·b[b,d]`.
    /// `rhs` may be a single `[D]` row shared by every sample.
    pub fn row_dot(&self, rhs: &Tensor) -> Tensor {
        (self * rhs).sum_axis(self.rank() - 1)
    }
}
