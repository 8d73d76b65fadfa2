//! The original write-up's example: a score model s(x) = sigmoid(W·x + b)
//! with W = [[1, 3], [2, 4]], b = 0, at x = [1, 1]. Prints the score, the
//! diagonal of its Jacobian (by the loop of backward passes, recorded so it
//! could be trained), the trace, and the double-backward graph.
//!
//! Run with `cargo run --example seed_toy`.

// `&[t.clone()]` reads better than `slice::from_ref(&t)`; a tensor clone is a reference count.
#![allow(clippy::cloned_ref_to_slice_refs)]

use gradgrad::autodiff::{dump, grad, jacobian_diagonal, DType, DiagonalStrategy, Tensor};

fn main() {
    // Row-vector convention: s = sigmoid(x·Wᵀ + b), so row i of W feeds output i.
    let w = Tensor::from_vec(vec![1.0f64, 3.0, 2.0, 4.0], [2, 2]).named("W").requires_grad();
    let b = Tensor::zeros([2], DType::F64).named("b").requires_grad();
    let x = Tensor::from_vec(vec![1.0f64, 1.0], [1, 2]).named("x");
    let score = |x: &Tensor| (x.matmul_t(&w, false, true) + &b).sigmoid();

    let (s, diag) = jacobian_diagonal(score, &x, DiagonalStrategy::Loop, true);
    let trace = diag.sum();
    let s_values = s.to_vec_f64();
    let d = diag.to_vec_f64();
    println!("score s(x)      = [{:.4}, {:.4}]", s_values[0], s_values[1]);
    println!("∂s₁/∂x₁         = {:.4}", d[0]);
    println!("∂s₂/∂x₂         = {:.4}", d[1]);
    println!("trace ∂s/∂x     = {:.4}", trace.item());

    // The score-matching loss, and its gradient to W through the trace: the
    // second backward pass runs through the nodes the first one recorded.
    let loss = &trace + &s.square().sum().scale(0.5);
    let dw = grad(&[loss.clone()], &[w.clone()], None, true).remove(0);
    println!("loss tr + ½‖s‖² = {:.4}", loss.item());
    println!("∂loss/∂W        = {:?}", dw.to_vec_f64().iter().map(|v| format!("{v:.4}")).collect::<Vec<_>>());
    println!("\nThe double-backward graph of ∂loss/∂W (order 0 = forward pass, 1 = recorded by the");
    println!("trace's backward passes, 2 = recorded by differentiating the loss through them):\n");
    print!("{}", dump(&[dw]));
}
