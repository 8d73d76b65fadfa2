//! `jvp` and `hvp` against central finite differences in f64:
//! `J·v ≈ (f(x + εv) − f(x − εv)) / 2ε` and `H·v ≈ (∇f(x + εv) − ∇f(x − εv)) / 2ε`,
//! for several functions, non-scalar outputs included (for `jvp`).

mod common;

use common::{assert_close, rng, uniform};
use gradgrad::autodiff::{grad1, hvp, jvp, Tensor};

const EPS: f64 = 1e-6;
/// Central differences at ε = 1e-6 are good to about 1e-9 relative here.
const TOL: f64 = 1e-7;

/// `x + t·v`, a constant.
fn shifted(x: &Tensor, v: &Tensor, t: f64) -> Tensor {
    (x + &v.scale(t)).detach()
}

/// `(g(x + εv) − g(x − εv)) / 2ε`, elementwise.
fn central_difference(g: impl Fn(&Tensor) -> Tensor, x: &Tensor, v: &Tensor) -> Vec<f64> {
    let (plus, minus) = (g(&shifted(x, v, EPS)).to_vec_f64(), g(&shifted(x, v, -EPS)).to_vec_f64());
    plus.iter().zip(&minus).map(|(p, m)| (p - m) / (2.0 * EPS)).collect()
}

/// A named function of a `[2, 3]` input.
type Function = (&'static str, Box<dyn Fn(&Tensor) -> Tensor>);

/// Functions of `x: [2, 3]` with outputs of several shapes.
fn vector_functions() -> Vec<Function> {
    let w = uniform(&mut rng(5), &[3, 4], -1.0, 1.0);
    vec![
        // Elementwise, same shape: a diagonal Jacobian.
        ("tanh(x)·x", Box::new(|x: &Tensor| x.tanh() * x)),
        // [2, 3] → [2, 4]: a dense Jacobian through a matrix product.
        ("softplus(x·W)", Box::new(move |x: &Tensor| x.matmul(&w).softplus())),
        // [2, 3] → [3]: a reduction over the rows, mixed with a product.
        ("Σ_rows exp(x)·sigmoid(x)", Box::new(|x: &Tensor| (x.exp() * x.sigmoid()).sum_axis(0))),
        // One output per row, each depending on the whole row.
        ("logsumexp over each row", Box::new(|x: &Tensor| x.logsumexp(1))),
        // [2, 3] → []: a scalar.
        ("Σ x⁴", Box::new(|x: &Tensor| x.powi(4).sum())),
    ]
}

/// Scalar functions of `x: [2, 3]` for the Hessian.
fn scalar_functions() -> Vec<Function> {
    let w = uniform(&mut rng(6), &[3, 3], -1.0, 1.0);
    vec![
        // H = diag(12x²)
        ("Σ x⁴", Box::new(|x: &Tensor| x.powi(4).sum())),
        ("Σ softplus(x·W)²", Box::new(move |x: &Tensor| x.matmul(&w).softplus().square().sum())),
        ("Σ logsumexp(x) over rows", Box::new(|x: &Tensor| x.logsumexp(1).sum())),
        ("mean tanh(x)·sigmoid(x)", Box::new(|x: &Tensor| (x.tanh() * x.sigmoid()).mean())),
    ]
}

#[test]
fn jvp_equals_the_central_difference_of_f_along_v() {
    let mut r = rng(1);
    for (name, f) in vector_functions() {
        for trial in 0..3 {
            let x = uniform(&mut r, &[2, 3], -1.5, 1.5);
            let v = uniform(&mut r, &[2, 3], -1.0, 1.0);
            let (y, jv) = jvp(&f, &x, &v, false);
            assert_eq!(jv.shape(), y.shape(), "{name}: J·v has the output's shape");
            assert_close(&y.to_vec_f64(), &f(&x).to_vec_f64(), 1e-15, &format!("{name}: value"));
            assert_close(&jv.to_vec_f64(), &central_difference(&f, &x, &v), TOL, &format!("{name}, trial {trial}: J·v"));
        }
    }
}

#[test]
fn hvp_equals_the_central_difference_of_the_gradient_along_v() {
    let mut r = rng(2);
    let gradient = |f: &dyn Fn(&Tensor) -> Tensor, x: &Tensor| {
        let x = x.requires_grad();
        grad1(&f(&x), &x, false)
    };
    for (name, f) in scalar_functions() {
        for trial in 0..3 {
            let x = uniform(&mut r, &[2, 3], -1.5, 1.5);
            let v = uniform(&mut r, &[2, 3], -1.0, 1.0);
            let hv = hvp(&f, &x, &v, false);
            assert_eq!(hv.shape(), x.shape());
            let numeric = central_difference(|x| gradient(&*f, x), &x, &v);
            assert_close(&hv.to_vec_f64(), &numeric, TOL, &format!("{name}, trial {trial}: H·v"));
        }
    }
}

#[test]
fn hvp_of_x_to_the_fourth_is_twelve_x_squared_times_v() {
    let mut r = rng(3);
    let (x, v) = (uniform(&mut r, &[2, 3], -1.5, 1.5), uniform(&mut r, &[2, 3], -1.0, 1.0));
    let hv = hvp(|x| x.powi(4).sum(), &x, &v, false).to_vec_f64();
    let expected: Vec<f64> = x.to_vec_f64().iter().zip(v.to_vec_f64()).map(|(x, v)| 12.0 * x * x * v).collect();
    assert_close(&hv, &expected, 1e-14, "d²/dx² x⁴ = 12x²");
}

/// A function linear in x: its gradient does not depend on x at all, so
/// `hvp`'s second pass finds x unused; the Hessian is zero, as the
/// differences say.
#[test]
fn hvp_of_a_linear_function_is_zero() {
    let mut r = rng(4);
    let (x, v, a) = (uniform(&mut r, &[2, 3], -1.0, 1.0), uniform(&mut r, &[2, 3], -1.0, 1.0), uniform(&mut r, &[2, 3], -1.0, 1.0));
    let linear = |x: &Tensor| (x * &a).sum();
    let hv = hvp(linear, &x, &v, false).to_vec_f64();
    assert_eq!(hv, vec![0.0; 6]);
    let gradient = |x: &Tensor| {
        let x = x.requires_grad();
        grad1(&linear(&x), &x, false)
    };
    assert_close(&hv, &central_difference(gradient, &x, &v), TOL, "linear: H·v");
}
