//! `where`: picks each entry from one of two tensors by a condition.

use std::rc::Rc;

use crate::backend::Storage;
use crate::op::Op;
use crate::shape::Shape;
use crate::tensor::Tensor;

/// Inputs `[condition, on_true, on_false]`, of one shape (broadcast first by
/// [`Tensor::select`]).
struct Where;

impl Op for Where {
    fn name(&self) -> String {
        "where".into()
    }
    fn forward(&self, x: &[&Tensor]) -> (Rc<Storage>, Shape) {
        (x[0].storage().select(x[1].storage(), x[2].storage()).into(), x[0].shape().clone())
    }
    /// The cotangent goes where its entry came from: `where(c, gy, 0)` to
    /// `on_true`, `where(c, 0, gy)` to `on_false`; the condition, piecewise
    /// constant, gets none. Each rule is itself a `where`, so every order works.
    fn vjp(&self, x: &[Tensor], _y: &Tensor, gy: &Tensor, needs: &[bool]) -> Vec<Option<Tensor>> {
        let (c, zero) = (x[0].detach(), gy.full_like((), 0.0));
        vec![None, needs[1].then(|| c.select(gy, &zero)), needs[2].then(|| c.select(&zero, gy))]
    }
}

impl Tensor {
    /// `where(self ≠ 0, on_true, on_false)`, elementwise (PyTorch's
    /// `torch.where`), the three broadcast to a common shape. The condition is
    /// a tensor of the same dtype, a mask of 0s and 1s typically; a NaN
    /// condition counts as nonzero. Unlike `c·a + (1 − c)·b`, an inf or NaN in
    /// the entry not taken never reaches the value. (It can still reach a
    /// gradient: the branch not taken gets a zero cotangent, and `log`'s rule
    /// makes `0/0` of it at 0. As in PyTorch and JAX, `where` the input first
    /// so that the branch never sees the bad point.) No gradient flows to the
    /// condition.
    pub fn select(&self, on_true: &Tensor, on_false: &Tensor) -> Tensor {
        let name = "where";
        for t in [on_true, on_false] {
            assert_eq!(self.dtype(), t.dtype(), "{name}: dtypes differ ({} and {})", self.dtype(), t.dtype());
            assert_eq!(self.device(), t.device(), "{name}: tensors on different devices ({} and {})", self.device(), t.device());
        }
        let shape = Shape::broadcast(self.shape(), on_true.shape())
            .and_then(|s| Shape::broadcast(&s, on_false.shape()))
            .unwrap_or_else(|| panic!("{name}: shapes {}, {} and {} do not broadcast", self.shape(), on_true.shape(), on_false.shape()));
        let [c, a, b] = [self, on_true, on_false].map(|t| t.broadcast_to(&shape));
        Tensor::apply(Where, &[&c, &a, &b])
    }
}
