//! The contract every differentiable op fulfils: a forward computation and,
//! beside it, its vector-Jacobian product written in recorded tensor ops.
//!
//! Because a VJP is made of the same public ops as any forward pass, running
//! it with recording on (`create_graph = true`) records the backward pass as
//! an ordinary graph, which can itself be differentiated: every op is
//! differentiable to every order with no extra code.

use std::rc::Rc;

use crate::backend::Storage;
use crate::shape::Shape;
use crate::tensor::Tensor;

pub(crate) trait Op {
    /// Shown in tape dumps, anomaly reports and shape errors.
    fn name(&self) -> String;

    /// The output value and shape. Panics, naming the op and the shapes, when
    /// the inputs do not fit. The value is shared, so an op that moves no
    /// data (a reshape) can hand on its input's buffer.
    fn forward(&self, inputs: &[&Tensor]) -> (Rc<Storage>, Shape);

    /// Given the inputs `x`, the output `y` and the cotangent `gy`, returns one
    /// cotangent per input; `None` is a zero (or an input that needs none: see
    /// `needs`). `gy` is shaped `[P..., *y.shape]`, with k ≥ 0 extra leading
    /// axes when a batch of cotangents flows back at once, and each result must
    /// be `[P..., *input.shape]`: a rule counts `gy`'s axes from the end (the
    /// helpers in `ops/cotangent.rs` do it for reductions and named axes).
    fn vjp(&self, x: &[Tensor], y: &Tensor, gy: &Tensor, needs: &[bool]) -> Vec<Option<Tensor>>;

    /// Bytes the op itself keeps for its backward pass (indices, say), beyond
    /// the input and output values that the graph already holds.
    fn saved_bytes(&self) -> usize {
        0
    }
}
