//! The tape of the original write-up's score-matching loss, differentiated to
//! its weights, as a Graphviz picture: `to_dot` writes the graph, coloured by
//! derivative order, and `dot` (when installed) renders it to SVG. The guide's
//! `docs/guide/tape.svg` is this program's output.
//!
//! ```sh
//! cargo run --example tape_graph                  # docs/guide/tape.dot and tape.svg
//! cargo run --example tape_graph -- OUT_DIR
//! ```

// `&[t.clone()]` reads better than `slice::from_ref(&t)`; a tensor clone is a reference count.
#![allow(clippy::cloned_ref_to_slice_refs)]

use std::path::PathBuf;
use std::process::Command;

use gradgrad::autodiff::{grad, jacobian_diagonal, to_dot, DType, DiagonalStrategy, Tensor};

fn main() {
    let out = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("docs/guide"));
    // The write-up's model, as in examples/seed_toy.rs: s = sigmoid(x·Wᵀ + b).
    let w = Tensor::from_vec(vec![1.0f64, 3.0, 2.0, 4.0], [2, 2]).named("W").requires_grad();
    let b = Tensor::zeros([2], DType::F64).named("b").requires_grad();
    let x = Tensor::from_vec(vec![1.0f64, 1.0], [1, 2]).named("x");
    let score = |x: &Tensor| (x.matmul_t(&w, false, true) + &b).sigmoid();
    let (s, diag) = jacobian_diagonal(score, &x, DiagonalStrategy::Loop, true);
    let loss = &diag.sum() + &s.square().sum().scale(0.5);
    let dw = grad(&[loss], &[w.clone()], None, true).remove(0);

    std::fs::create_dir_all(&out).expect("the output folder can be made");
    let dot_path = out.join("tape.dot");
    std::fs::write(&dot_path, to_dot(&[dw])).expect("the DOT file can be written");
    println!("wrote {}", dot_path.display());
    let svg_path = out.join("tape.svg");
    match Command::new("dot").arg("-Tsvg").arg(&dot_path).arg("-o").arg(&svg_path).status() {
        Ok(status) if status.success() => println!("wrote {}", svg_path.display()),
        Ok(status) => println!("dot failed ({status}): no SVG written"),
        Err(_) => println!("Graphviz's `dot` is not installed: no SVG written (render with `dot -Tsvg {}`)", dot_path.display()),
    }
}
