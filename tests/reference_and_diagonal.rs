//! The original write-up's numbers, and the two exact Jacobian-diagonal
//! strategies held to each other and to the full Jacobian.

mod common;

use common::{assert_close, rng, uniform};
use gradgrad::autodiff::{grad_with, jacobian, jacobian_diagonal, DType, DiagonalStrategy, GradOptions, Tensor};

fn round4(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}

#[test]
fn the_write_ups_toy_numbers() {
    let w = Tensor::from_vec(vec![1.0f64, 3.0, 2.0, 4.0], [2, 2]).requires_grad();
    let b = Tensor::zeros([2], DType::F64).requires_grad();
    let x = Tensor::from_vec(vec![1.0f64, 1.0], [1, 2]);
    let score = |x: &Tensor| (x.matmul_t(&w, false, true) + &b).sigmoid();
    let s = score(&x).to_vec_f64();
    assert_eq!((round4(s[0]), round4(s[1])), (0.9820, 0.9975));
    for strategy in [DiagonalStrategy::Loop, DiagonalStrategy::Batched] {
        let (value, d) = jacobian_diagonal(score, &x, strategy, true);
        assert_eq!(value.to_vec_f64(), score(&x).to_vec_f64());
        let dv = d.to_vec_f64();
        assert_eq!((round4(dv[0]), round4(dv[1])), (0.0177, 0.0099), "{strategy:?}");
        assert_eq!(round4(d.sum().item()), 0.0275, "{strategy:?}");
        // The exact values behind the rounded ones: σ'(4) and σ'(6)·4.
        let sig = |z: f64| 1.0 / (1.0 + (-z).exp());
        assert!((dv[0] - sig(4.0) * (1.0 - sig(4.0))).abs() < 1e-15);
        assert!((dv[1] - 4.0 * sig(6.0) * (1.0 - sig(6.0))).abs() < 1e-15);
    }
}

struct Mlp {
    w1: Tensor,
    b1: Tensor,
    w2: Tensor,
    b2: Tensor,
}

impl Mlp {
    fn new(d: usize, h: usize, seed: u64) -> Mlp {
        let mut r = rng(seed);
        Mlp {
            w1: uniform(&mut r, &[d, h], -0.8, 0.8).requires_grad(),
            b1: uniform(&mut r, &[h], -0.5, 0.5).requires_grad(),
            w2: uniform(&mut r, &[h, d], -0.8, 0.8).requires_grad(),
            b2: uniform(&mut r, &[d], -0.5, 0.5).requires_grad(),
        }
    }
    fn forward(&self, x: &Tensor) -> Tensor {
        (x.matmul(&self.w1) + &self.b1).softplus().matmul(&self.w2) + &self.b2
    }
    fn params(&self) -> Vec<Tensor> {
        vec![self.w1.clone(), self.b1.clone(), self.w2.clone(), self.b2.clone()]
    }
}

#[test]
fn both_strategies_equal_the_full_jacobians_diagonal_and_so_do_weight_gradients() {
    let (b, d, h) = (3, 5, 7);
    let mlp = Mlp::new(d, h, 31);
    let x = uniform(&mut rng(32), &[b, d], -1.0, 1.0);
    let f = |x: &Tensor| mlp.forward(x);

    // Reference: the full [B·D, B·D] Jacobian, its per-sample diagonal.
    let full = jacobian(f, &x, false).to_vec_f64();
    let n = b * d;
    let reference: Vec<f64> = (0..n).map(|i| full[i * n + i]).collect();

    let mut weight_grads = Vec::new();
    for strategy in [DiagonalStrategy::Loop, DiagonalStrategy::Batched] {
        let (_, diag) = jacobian_diagonal(f, &x, strategy, true);
        assert_eq!(diag.dims(), &[b, d]);
        assert_close(&diag.to_vec_f64(), &reference, 1e-10, &format!("{strategy:?} diagonal"));
        let trace = diag.sum();
        // The output bias shifts the score but not its Jacobian: zero for b2.
        let g: Vec<Vec<f64>> = grad_with(&[trace], &mlp.params(), None, GradOptions::default().allow_unused()).iter().map(Tensor::to_vec_f64).collect();
        weight_grads.push(g);
    }
    for (p, (a, c)) in weight_grads[0].iter().zip(&weight_grads[1]).enumerate() {
        assert_close(a, c, 1e-10, &format!("∂trace/∂param {p}, loop vs batched"));
    }
    // And against finite differences of the trace in W1 (one entry).
    let trace_at = |w1: &Tensor| {
        let m = Mlp { w1: w1.clone(), ..Mlp::new(d, h, 31) };
        jacobian_diagonal(|x| m.forward(x), &x, DiagonalStrategy::Loop, false).1.sum().item()
    };
    let w1 = mlp.w1.to_vec_f64();
    let eps = 1e-6;
    let mut plus = w1.clone();
    plus[4] += eps;
    let mut minus = w1.clone();
    minus[4] -= eps;
    let numeric = (trace_at(&Tensor::from_vec(plus, [d, h])) - trace_at(&Tensor::from_vec(minus, [d, h]))) / (2.0 * eps);
    assert!((numeric - weight_grads[0][0][4]).abs() < 1e-7, "{numeric} vs {}", weight_grads[0][0][4]);
}

#[test]
fn helpers_record_their_own_forward_pass_even_inside_no_grad() {
    let w = Tensor::from_vec(vec![1.0f64, 3.0, 2.0, 4.0], [2, 2]);
    let x = Tensor::from_vec(vec![1.0f64, 1.0], [1, 2]);
    let score = |x: &Tensor| x.matmul_t(&w, false, true).sigmoid();
    for strategy in [DiagonalStrategy::Loop, DiagonalStrategy::Batched] {
        let (_, d) = gradgrad::autodiff::no_grad(|| jacobian_diagonal(score, &x, strategy, false));
        assert_eq!(round4(d.sum().item()), 0.0275, "{strategy:?} inside no_grad");
    }
}
