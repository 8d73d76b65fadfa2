//! # autodiff: gradients of gradients, eagerly
//!
//! An eager reverse-mode engine in the style of PyTorch's autograd, whose
//! backward pass is recorded too (`create_graph = true`), so derivatives of
//! derivatives come out of the same machinery, to any order.
//!
//! ## One double-backward computation, step by step
//!
//! Take `f(x) = x³` at `x = 2`. The forward pass records one node, `powi(3)`:
//!
//! ```
//! use autodiff::{grad, tape, DType, Tensor};
//!
//! let x = Tensor::scalar(2.0, DType::F64).requires_grad(); // a leaf
//! let y = x.powi(3);                                       // recorded: y = x³
//! assert_eq!(y.item(), 8.0);
//! assert_eq!(tape::live_nodes(), 1);
//! ```
//!
//! A backward pass walks the graph from `y` to `x`, calling each node's
//! vector-Jacobian product. The VJP of `powi(n)` is written with the engine's
//! own ops, `gy · n·x^(n−1)`. With `create_graph = true` those ops are
//! recorded like any forward computation, one derivative order up:
//!
//! ```
//! # use autodiff::{grad, tape, DType, Tensor};
//! # let x = Tensor::scalar(2.0, DType::F64).requires_grad();
//! # let y = x.powi(3);
//! let dy = grad(&[y.clone()], &[x.clone()], None, true).remove(0);
//! assert_eq!(dy.item(), 12.0);          // 3x² at x = 2
//! assert!(dy.is_recorded());            // a function of x, on the tape
//! assert_eq!(dy.order(), 1);            // recorded by the first backward pass
//! ```
//!
//! Because `dy` is an ordinary recorded tensor, differentiating it again is an
//! ordinary backward pass, through the nodes that the first one recorded:
//!
//! ```
//! # use autodiff::{grad, tape, DType, Tensor};
//! # let x = Tensor::scalar(2.0, DType::F64).requires_grad();
//! # let y = x.powi(3);
//! # let dy = grad(&[y.clone()], &[x.clone()], None, true).remove(0);
//! let d2y = grad(&[dy.clone()], &[x.clone()], None, true).remove(0);
//! assert_eq!(d2y.item(), 12.0);          // 6x at x = 2
//! assert_eq!(d2y.order(), 2);
//! let d3y = grad(&[d2y], &[x.clone()], None, false).remove(0);
//! assert_eq!(d3y.item(), 6.0);           // 6
//! assert!(!d3y.is_recorded());           // create_graph = false records nothing
//! ```
//!
//! [`dump()`] prints the recorded graph with each node's derivative order, and
//! dropping the tensors frees it all (the graph holds no cycles):
//!
//! ```
//! # use autodiff::{grad, tape, DType, Tensor};
//! let before = tape::live_nodes();
//! {
//!     let x = Tensor::scalar(2.0, DType::F64).requires_grad();
//!     let dy = grad(&[x.powi(3)], &[x.clone()], None, true).remove(0);
//!     println!("{}", autodiff::dump(&[dy]));
//! }
//! assert_eq!(tape::live_nodes(), before);
//! ```
//!
//! ## Pieces
//! - [`Tensor`]: values with their recorded history; ops are its methods and
//!   `+ - * /` (NumPy broadcasting).
//! - [`grad()`]: the backward pass, also for a batch of cotangents at once
//!   (extra leading axes, `vmap` over the cotangent); [`grad_with`] takes
//!   [`GradOptions`] (unused inputs allowed); [`functional`]: VJP, JVP, HVP,
//!   Jacobian, Hessian and [`jacobian_diagonal`].
//! - [`gradcheck`] and [`gradgradcheck`]: finite-difference checks in f64.
//! - [`dump()`] / [`to_dot`]: the tape as text or Graphviz; [`detect_anomaly`]:
//!   the first op that produced a NaN/Inf.
//! - [`backend`]: storage and kernels, behind the narrow [`backend::BackendStorage`] trait.
//!
//! ## Errors: panic or `Result`?
//! Shape, dtype and device mismatches are bugs in the calling program, like an
//! out-of-bounds index: the op **panics** with its name and both shapes
//! (`matmul(a·b): inner dimensions differ, shapes [2, 3] and [4, 5]`).
//! What a caller cannot rule out in advance returns a **`Result`**: anomalies
//! ([`detect_anomaly`]), derivative checks ([`CheckReport`], which report a
//! disagreement instead of panicking), and, in the crates above this one,
//! files, devices and training divergence.
//!
//! The guide to higher-order autograd, chapter by chapter with runnable examples, is
//! `docs/guide/` in the gradgrad repository, and [`gradgrad::guide`](../gradgrad/guide/index.html)
//! in the workspace's documentation (`cargo doc --workspace --no-deps --open`).

#![warn(missing_docs)]

// `&[t.clone()]` reads better than `slice::from_ref(&t)`, and cloning a tensor
// is a reference count.
#![allow(clippy::cloned_ref_to_slice_refs)]

pub mod anomaly;
pub mod backend;
pub mod check;
mod dtype;
pub mod dump;
pub mod functional;
pub mod fused;
mod grad;
mod op;
mod ops;
pub mod profile;
mod shape;
pub mod tape;
pub mod threads;
mod tensor;

pub use anomaly::{detect_anomaly, Anomaly};
pub use backend::{AdamStep, Device};
pub use check::{gradcheck, gradgradcheck, CheckReport};
pub use dtype::{DType, Element};
pub use dump::{dump, to_dot};
pub use profile::{profile, Profile};
pub use functional::{hessian, hvp, jacobian, jacobian_diagonal, jvp, vjp, DiagonalStrategy};
pub use grad::{grad, grad1, grad_with, GradOptions};
pub use ops::concat;
pub use shape::Shape;
pub use tape::no_grad;
pub use tensor::Tensor;
