//! Derivatives against their closed forms.

// `&[t.clone()]` reads better than `slice::from_ref(&t)`; a tensor clone is a reference count.
#![allow(clippy::cloned_ref_to_slice_refs)]

mod common;

use approx::assert_relative_eq;
use common::{assert_close, rng, uniform};
use gradgrad::autodiff::{grad, grad1, hessian, hvp, jacobian, jvp, DType, Tensor};

fn scalar(v: f64) -> Tensor {
    Tensor::scalar(v, DType::F64).requires_grad()
}

#[test]
fn second_derivative_of_x4_is_12x2() {
    for &v in &[-2.0, -0.5, 0.0, 1.5, 3.0] {
        let x = scalar(v);
        let d1 = grad1(&x.powi(4), &x, true);
        let d2 = grad1(&d1, &x, false);
        // d/dx x⁴ = 4x³, d²/dx² x⁴ = 12x²
        assert_relative_eq!(d1.item(), 4.0 * v * v * v, max_relative = 1e-14);
        assert_relative_eq!(d2.item(), 12.0 * v * v, max_relative = 1e-14);
    }
}

#[test]
fn third_derivative_of_x4_is_24x_and_of_sin_like_tanh() {
    let v = 0.7;
    let x = scalar(v);
    let d1 = grad1(&x.powi(4), &x, true);
    let d2 = grad1(&d1, &x, true);
    let d3 = grad1(&d2, &x, false);
    assert_relative_eq!(d3.item(), 24.0 * v, max_relative = 1e-14);

    // tanh''' = −2(1 − t²)(1 − 3t²) with t = tanh x
    let x = scalar(v);
    let t = v.tanh();
    let d1 = grad1(&x.tanh(), &x, true);
    let d2 = grad1(&d1, &x, true);
    let d3 = grad1(&d2, &x, false);
    assert_relative_eq!(d3.item(), -2.0 * (1.0 - t * t) * (1.0 - 3.0 * t * t), max_relative = 1e-12);
}

#[test]
fn sigmoid_second_derivative() {
    for &v in &[-4.0, -1.0, 0.0, 0.3, 2.5] {
        let x = scalar(v);
        let d1 = grad1(&x.sigmoid(), &x, true);
        let d2 = grad1(&d1, &x, false);
        let s = 1.0 / (1.0 + f64::exp(-v));
        // σ' = σ(1−σ), σ'' = σ(1−σ)(1−2σ)
        assert_relative_eq!(d1.item(), s * (1.0 - s), max_relative = 1e-13);
        assert_relative_eq!(d2.item(), s * (1.0 - s) * (1.0 - 2.0 * s), epsilon = 1e-15, max_relative = 1e-12);
    }
}

#[test]
fn stable_forms_have_finite_derivatives_to_third_order_at_50() {
    for dtype in [DType::F32, DType::F64] {
        for &v in &[-50.0, 50.0] {
            for f in [Tensor::softplus as fn(&Tensor) -> Tensor, Tensor::sigmoid] {
                let x = Tensor::scalar(v, dtype).requires_grad();
                let y = f(&x);
                let d1 = grad1(&y, &x, true);
                let d2 = grad1(&d1, &x, true);
                let d3 = grad1(&d2, &x, false);
                for (k, d) in [&y, &d1, &d2, &d3].iter().enumerate() {
                    assert!(d.item().is_finite(), "{dtype} order {k} at {v}: {}", d.item());
                }
            }
        }
    }
}

#[test]
fn hessian_of_quadratic_form_is_symmetric_part_of_a() {
    let mut r = rng(11);
    let n = 4;
    let a = uniform(&mut r, &[n, n], -1.0, 1.0);
    let x0 = uniform(&mut r, &[n, 1], -1.0, 1.0);
    // f(x) = ½ xᵀAx, so H = (A + Aᵀ)/2 everywhere.
    let f = |x: &Tensor| x.matmul_t(&a.matmul(x), true, false).sum().scale(0.5);
    let h = hessian(f, &x0, false).to_vec_f64();
    let av = a.to_vec_f64();
    for i in 0..n {
        for j in 0..n {
            assert_relative_eq!(h[i * n + j], 0.5 * (av[i * n + j] + av[j * n + i]), epsilon = 1e-14);
            assert_eq!(h[i * n + j], h[j * n + i], "Hessian not symmetric at ({i}, {j})");
        }
    }
}

#[test]
fn hessian_of_a_nonlinear_function_is_symmetric_and_matches_hvp() {
    let mut r = rng(12);
    let w = uniform(&mut r, &[3, 3], -1.0, 1.0);
    let x0 = uniform(&mut r, &[1, 3], -1.0, 1.0);
    let v = uniform(&mut r, &[1, 3], -1.0, 1.0);
    let f = |x: &Tensor| x.matmul(&w).softplus().square().sum();
    let h = hessian(f, &x0, false);
    let hv = h.matmul(&v.reshape([3, 1])).to_vec_f64();
    let hv2 = hvp(f, &x0, &v, false).to_vec_f64();
    assert_close(&hv, &hv2, 1e-12, "H·v two ways");
    let hv = h.to_vec_f64();
    for i in 0..3 {
        for j in 0..3 {
            assert_relative_eq!(hv[i * 3 + j], hv[j * 3 + i], epsilon = 1e-13);
        }
    }
}

#[test]
fn jvp_matches_jacobian_times_vector() {
    let mut r = rng(13);
    let w = uniform(&mut r, &[3, 2], -1.0, 1.0);
    let x0 = uniform(&mut r, &[2, 3], -1.0, 1.0);
    let v = uniform(&mut r, &[2, 3], -1.0, 1.0);
    let f = |x: &Tensor| x.matmul(&w).tanh();
    let j = jacobian(f, &x0, false); // [4, 6]
    let expected = j.matmul(&v.reshape([6, 1])).to_vec_f64();
    let (_, jv) = jvp(f, &x0, &v, false);
    assert_close(&jv.to_vec_f64(), &expected, 1e-12, "jvp");
}

#[test]
fn fan_out_accumulates() {
    // y = x·x + x: dy/dx = 2x + 1, d²y/dx² = 2
    let x = scalar(3.0);
    let y = &x * &x + &x;
    let dy = grad(&[y], &[x.clone()], None, true).remove(0);
    assert_eq!(dy.item(), 7.0);
    assert_eq!(grad1(&dy, &x, false).item(), 2.0);
}

#[test]
fn logsumexp_is_exact_far_from_zero_and_its_gradient_is_the_softmax() {
    // lse(c, c) = c + ln 2, for c where e^c overflows (1000) or underflows (−1000).
    for c in [1000.0, -1000.0, 0.0] {
        for dtype in [DType::F64, DType::F32] {
            let x = Tensor::from_vec(vec![c, c], [1, 2]).to_dtype(dtype).requires_grad();
            let lse = x.logsumexp(1);
            let tol = if dtype == DType::F64 { 1e-15 } else { 2e-7 };
            assert_relative_eq!(lse.item(), c + 2f64.ln(), max_relative = tol, epsilon = tol);
            // ∂ lse / ∂xᵢ = softmax(x)ᵢ = ½ each.
            assert_eq!(grad1(&lse.sum(), &x, false).to_vec_f64(), vec![0.5, 0.5], "{dtype}, c = {c}");
        }
    }
    // A row of very negative values next to a row of ordinary ones.
    let x = Tensor::from_vec(vec![-1000.0f64, -1001.0, -1002.0, 1.0, 2.0, 3.0], [2, 3]);
    let lse = x.logsumexp(1).to_vec_f64();
    let expected = |a: f64| a + (1.0 + (-1f64).exp() + (-2f64).exp()).ln();
    assert_close(&lse, &[expected(-1000.0), expected(3.0)], 1e-15, "logsumexp of [-1000, -1001, -1002] and [1, 2, 3]");
}

#[test]
fn log_softmax_rows_are_log_probabilities() {
    let mut r = rng(11);
    let x = uniform(&mut r, &[4, 7], -50.0, 50.0);
    let p = x.log_softmax(1).exp().sum_axis(1).to_vec_f64();
    assert_close(&p, &[1.0; 4], 1e-14, "Σ softmax");
    // Shifting a row changes nothing.
    let shifted = x.log_softmax(1).to_vec_f64();
    let same = (&x + 123.0).log_softmax(1).to_vec_f64();
    assert_close(&same, &shifted, 1e-12, "log_softmax(x + c)");
}

#[test]
fn the_gradient_of_a_max_is_split_evenly_among_ties() {
    let x = Tensor::from_vec(vec![2.0f64, 1.0, 2.0, -1.0, 5.0, 0.0], [2, 3]).requires_grad();
    let m = x.max_axis(1);
    assert_eq!(m.to_vec_f64(), vec![2.0, 5.0]);
    let w = Tensor::from_vec(vec![1.0f64, 3.0], [2]);
    assert_eq!(grad1(&(&m * &w).sum(), &x, false).to_vec_f64(), vec![0.5, 0.0, 0.5, 0.0, 3.0, 0.0]);
}
