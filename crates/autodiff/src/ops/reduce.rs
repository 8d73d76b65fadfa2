//! Broadcasting and summation: a pair of ops, each the other's adjoint.

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

    /// The mean of all elements, as a scalar.
    pub fn mean(&self) -> Tensor {
        self.sum().scale(1.0 / self.numel() as f64)
    }

    /// Sums over `axis`, removing it (`[B, D].sum_axis(1)` is `[B]`).
    pub fn sum_axis(&self, axis: usize) -> Tensor {
        assert!(axis < self.rank(), "sum_axis: axis {axis} out of range for shape {}", self.shape());
        let mut kept = self.dims().to_vec();
        kept[axis] = 1;
        let mut removed = self.dims().to_vec();
        removed.remove(axis);
        self.sum_to(&Shape::new(kept)).reshape(removed)
    }

    /// Means over `axis`, removing it.
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
