//! Every differentiable op: one file per family, each op's forward beside its
//! vector-Jacobian product. Ops that are compositions (`concat`, `mean`,
//! `mask`, `row_dot`, `logsumexp`, ...) are built from others and need no derivative of their own.

pub(crate) mod binary;
mod cast;
pub(crate) mod cotangent;
mod device;
mod index;
mod matmul;
mod reduce;
mod select;
mod softmax;
mod unary;

pub use index::concat;
