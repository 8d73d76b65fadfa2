//! Cotangents with extra leading axes (`vmap` over the cotangent): for every
//! op, one backward pass with a stack of cotangents `[P..., *y.shape]` equals
//! the stack of the P separate backward passes, first order and second order
//! (the batched gradients differentiated again, with respect to the inputs
//! and to the cotangents themselves). f64, to 1e-12.

// `&[t.clone()]` reads better than `slice::from_ref(&t)`; a tensor clone is a reference count.
#![allow(clippy::cloned_ref_to_slice_refs)]

mod common;

use common::{assert_close, away_from_zero, rng, uniform};
use gradgrad::autodiff::{concat, grad, grad_with, jacobian, DType, GradOptions, Tensor};

const TOL: f64 = 1e-12;

/// Entry `p` of a stack `[P..., *rest]` whose leading `prefix_rank` axes are
/// flattened, as a tensor of shape `rest` (recorded if `t` is).
fn entry(t: &Tensor, prefix_rank: usize, p: usize) -> Tensor {
    let rest = t.dims()[prefix_rank..].to_vec();
    let count: usize = t.dims()[..prefix_rank].iter().product();
    t.reshape([&[count][..], &rest].concat()).narrow(0, p, 1).reshape(rest)
}

/// `Σ_i ⟨w_i, g_i⟩` over a list of gradients: a scalar to differentiate again.
fn pairing(grads: &[Tensor], weights: &[Tensor]) -> Tensor {
    grads.iter().zip(weights).map(|(g, w)| (g * w).sum()).reduce(|a, b| a + b).unwrap()
}

/// Checks `f` at `inputs` with a stack of cotangents of leading shape `prefix`.
fn check(name: &str, f: impl Fn(&[Tensor]) -> Tensor, inputs: &[Tensor], prefix: &[usize]) {
    let xs: Vec<Tensor> = inputs.iter().map(Tensor::requires_grad).collect();
    let y = f(&xs);
    let count: usize = prefix.iter().product();
    let mut r = rng(name.len() as u64 + 7 * prefix.len() as u64);
    let v = uniform(&mut r, &[prefix, y.dims()].concat(), -1.0, 1.0).requires_grad();

    // First order: one pass with the stack, against P passes with one cotangent each.
    let batched = grad(&[y.clone()], &xs, Some(&[v.clone()]), true);
    let single: Vec<Vec<Tensor>> = (0..count).map(|p| grad(&[y.clone()], &xs, Some(&[entry(&v, prefix.len(), p)]), true)).collect();
    for (i, (g, x)) in batched.iter().zip(&xs).enumerate() {
        assert_eq!(g.dims(), &[prefix, x.dims()].concat()[..], "{name}: gradient {i} of shape {} for input {} and prefix {prefix:?}", g.shape(), x.shape());
        for (p, s) in single.iter().enumerate() {
            assert_close(&entry(g, prefix.len(), p).to_vec_f64(), &s[i].to_vec_f64(), TOL, &format!("{name} {prefix:?}: ∂/∂x{i}, cotangent {p}"));
        }
    }

    // Second order: differentiate ⟨w, batched gradients⟩ again, with respect
    // to the inputs and to the cotangents; the single passes, paired with the
    // matching entries of w, must give the same.
    let weights: Vec<Tensor> = batched.iter().map(|g| uniform(&mut r, g.dims(), -1.0, 1.0)).collect();
    let wrt: Vec<Tensor> = xs.iter().cloned().chain([v.clone()]).collect();
    // For a linear op the gradients do not depend on x: a zero second derivative.
    let unused_allowed = GradOptions::default().allow_unused();
    let from_batched = grad_with(&[pairing(&batched, &weights)], &wrt, None, unused_allowed);
    let single_total = single
        .iter()
        .enumerate()
        .map(|(p, s)| pairing(s, &weights.iter().map(|w| entry(w, prefix.len(), p)).collect::<Vec<_>>()))
        .reduce(|a, b| a + b)
        .unwrap();
    let from_single = grad_with(&[single_total], &wrt, None, unused_allowed);
    for (i, (a, b)) in from_batched.iter().zip(&from_single).enumerate() {
        let of = if i < xs.len() { format!("x{i}") } else { "the cotangents".into() };
        assert_close(&a.to_vec_f64(), &b.to_vec_f64(), TOL, &format!("{name} {prefix:?}: second order, ∂/∂{of}"));
    }
}

/// A cotangent that is the same along some axes of `y` (size 1 there) gives
/// the gradients of the same cotangent spelled out: shared along `y`'s first
/// axis (the rows of a batch), along a matrix's rows, and along all axes. Both orders, the second
/// also with respect to the small cotangent itself.
fn check_shared(name: &str, f: impl Fn(&[Tensor]) -> Tensor, inputs: &[Tensor], prefix: &[usize]) {
    let xs: Vec<Tensor> = inputs.iter().map(Tensor::requires_grad).collect();
    let y = f(&xs);
    if y.rank() == 0 {
        return;
    }
    let shared_along = |axis: usize| {
        let mut tail = y.dims().to_vec();
        tail[axis] = 1;
        tail
    };
    // Along the first axis, along a matrix's rows (for a batch of them), along all.
    let tails = [shared_along(0), shared_along(y.rank().saturating_sub(2)), vec![1; y.rank()]];
    let mut r = rng(name.len() as u64 + 11 * prefix.len() as u64);
    for tail in tails {
        if tail == y.dims() {
            continue;
        }
        let small = uniform(&mut r, &[prefix, &tail].concat(), -1.0, 1.0).requires_grad();
        let spelled = small.broadcast_to(&[prefix, y.dims()].concat().into());
        let what = format!("{name} {prefix:?}, cotangent {}", small.shape());
        let from_small = grad(&[y.clone()], &xs, Some(&[small.clone()]), true);
        let from_spelled = grad(&[y.clone()], &xs, Some(&[spelled]), true);
        for (i, (a, b)) in from_small.iter().zip(&from_spelled).enumerate() {
            assert_eq!(a.dims(), &[prefix, xs[i].dims()].concat()[..], "{what}: gradient {i} shape");
            assert_close(&a.to_vec_f64(), &b.to_vec_f64(), TOL, &format!("{what}: ∂/∂x{i}"));
        }
        let weights: Vec<Tensor> = from_small.iter().map(|g| uniform(&mut r, g.dims(), -1.0, 1.0)).collect();
        let wrt: Vec<Tensor> = xs.iter().cloned().chain([small.clone()]).collect();
        // For a linear op the gradients do not depend on x: a zero second derivative.
        let unused_allowed = GradOptions::default().allow_unused();
        let a = grad_with(&[pairing(&from_small, &weights)], &wrt, None, unused_allowed);
        let b = grad_with(&[pairing(&from_spelled, &weights)], &wrt, None, unused_allowed);
        for (i, (a, b)) in a.iter().zip(&b).enumerate() {
            assert_close(&a.to_vec_f64(), &b.to_vec_f64(), TOL, &format!("{what}: second order, wrt input {i} (the last is the cotangent)"));
        }
    }
}

/// Every check with one leading axis, with two, and with none (the plain
/// case); and with cotangents shared along axes of the output.
fn check_prefixes(name: &str, f: impl Fn(&[Tensor]) -> Tensor, inputs: &[Tensor]) {
    for prefix in [&[3][..], &[2, 2], &[]] {
        check(name, &f, inputs, prefix);
        check_shared(name, &f, inputs, prefix);
    }
}

#[test]
fn unary_ops() {
    let mut r = rng(1);
    let x = uniform(&mut r, &[2, 3], -2.0, 2.0);
    let pos = uniform(&mut r, &[2, 3], 0.2, 2.0);
    let nz = away_from_zero(&mut r, &[2, 3], -2.0, 2.0, 0.2);
    check_prefixes("exp", |x| x[0].exp(), &[x.clone()]);
    check_prefixes("log", |x| x[0].log(), &[pos.clone()]);
    check_prefixes("sigmoid", |x| x[0].sigmoid(), &[x.clone()]);
    check_prefixes("tanh", |x| x[0].tanh(), &[x.clone()]);
    check_prefixes("softplus", |x| x[0].softplus(), &[x.clone()]);
    check_prefixes("relu", |x| x[0].relu(), &[nz.clone()]);
    check_prefixes("step", |x| x[0].step() * &x[0], &[nz.clone()]);
    check_prefixes("neg", |x| -&x[0], &[x.clone()]);
    check_prefixes("square", |x| x[0].square(), &[x.clone()]);
    check_prefixes("powi(3)", |x| x[0].powi(3), &[x.clone()]);
    check_prefixes("powi(1)", |x| x[0].powi(1), &[x.clone()]);
    check_prefixes("powi(0)", |x| x[0].powi(0) * &x[0], &[x.clone()]);
    check_prefixes("powi(-2)", |x| x[0].powi(-2), &[nz.clone()]);
    check_prefixes("sqrt", |x| x[0].sqrt(), &[pos.clone()]);
    check_prefixes("affine", |x| x[0].affine(2.5, -1.0), &[x.clone()]);
    check_prefixes("scalar div", |x| 2.0 / &x[0], &[nz.clone()]);
    check_prefixes("to_f32 and back", |x| x[0].to_dtype(DType::F32).to_dtype(DType::F64) * &x[0], &[x.clone()]);
}

#[test]
fn binary_ops_with_and_without_broadcasting() {
    let mut r = rng(2);
    let a = uniform(&mut r, &[2, 3], -2.0, 2.0);
    let row = uniform(&mut r, &[3], -2.0, 2.0);
    let col = uniform(&mut r, &[2, 1], -2.0, 2.0);
    let wide = away_from_zero(&mut r, &[1, 3], -2.0, 2.0, 0.3);
    let scalar = away_from_zero(&mut r, &[], -2.0, 2.0, 0.3);
    let b = away_from_zero(&mut r, &[2, 3], -2.0, 2.0, 0.3);
    let pairs = [("same shape", &a, &b), ("[2,3]∘[3]", &a, &row), ("[2,1]∘[1,3]", &col, &wide), ("[3]∘[2,3]", &row, &b), ("[2,3]∘[]", &a, &scalar)];
    for (shapes, x, y) in pairs {
        let divisor_safe = y.to_vec_f64().iter().all(|v| v.abs() > 0.2);
        check_prefixes(&format!("add {shapes}"), |t| &t[0] + &t[1], &[x.clone(), y.clone()]);
        check_prefixes(&format!("sub {shapes}"), |t| &t[0] - &t[1], &[x.clone(), y.clone()]);
        check_prefixes(&format!("mul {shapes}"), |t| &t[0] * &t[1], &[x.clone(), y.clone()]);
        if divisor_safe {
            check_prefixes(&format!("div {shapes}"), |t| &t[0] / &t[1], &[x.clone(), y.clone()]);
        }
        // A product of the two, so the second order has cross terms.
        check_prefixes(&format!("mul then square {shapes}"), |t| (&t[0] * &t[1]).square(), &[x.clone(), y.clone()]);
    }
}

#[test]
fn matmul_in_every_transpose_and_both_operand_positions() {
    let mut r = rng(3);
    let (m, k, n) = (2, 3, 4);
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        let a = uniform(&mut r, &if ta { [k, m] } else { [m, k] }, -1.0, 1.0);
        let b = uniform(&mut r, &if tb { [n, k] } else { [k, n] }, -1.0, 1.0);
        // Squared, so that the second derivative reaches both operands.
        check_prefixes(&format!("matmul ta={ta} tb={tb}"), |t| t[0].matmul_t(&t[1], ta, tb).square(), &[a.clone(), b.clone()]);
        // A constant operand on either side: the other is the only input.
        let (ca, cb) = (a.clone(), b.clone());
        check_prefixes(&format!("matmul ta={ta} tb={tb}, left only"), move |t| t[0].matmul_t(&cb, ta, tb).tanh(), &[a.clone()]);
        check_prefixes(&format!("matmul ta={ta} tb={tb}, right only"), move |t| ca.matmul_t(&t[0], ta, tb).tanh(), &[b.clone()]);
    }
}

#[test]
fn batched_matmul_shapes() {
    let mut r = rng(4);
    // (name, shape of a, shape of b, transpose a, transpose b)
    type Case = (&'static str, Vec<usize>, Vec<usize>, bool, bool);
    let cases: [Case; 8] = [
        ("[P,B,N]·[N,K]", vec![3, 2, 4], vec![4, 5], false, false),
        ("[B,K]ᵀ·[P,B,N]", vec![2, 5], vec![3, 2, 4], true, false),
        ("[P,B,N]·[K,N]ᵀ", vec![3, 2, 4], vec![5, 4], false, true),
        ("[P,N,B]ᵀ·[N,K]", vec![3, 4, 2], vec![4, 5], true, false),
        ("[B,N]·[P,N,K]", vec![2, 4], vec![3, 4, 5], false, false),
        ("[P,B,N]·[P,N,K]", vec![3, 2, 4], vec![3, 4, 5], false, false),
        ("[2,1,B,N]·[3,N,K]", vec![2, 1, 2, 4], vec![3, 4, 5], false, false),
        ("[2,3,B,N]ᵀ·[3,K,N]ᵀ", vec![2, 3, 4, 2], vec![3, 5, 4], true, true),
    ];
    for (name, sa, sb, ta, tb) in cases {
        let a = uniform(&mut r, &sa, -1.0, 1.0);
        let b = uniform(&mut r, &sb, -1.0, 1.0);
        check_prefixes(name, |t| t[0].matmul_t(&t[1], ta, tb).square(), &[a.clone(), b.clone()]);
    }
}

#[test]
fn batched_matmul_equals_a_loop_of_matrix_products() {
    let mut r = rng(5);
    let a = uniform(&mut r, &[3, 2, 4], -1.0, 1.0);
    let b = uniform(&mut r, &[4, 5], -1.0, 1.0);
    let c = uniform(&mut r, &[3, 5, 4], -1.0, 1.0);
    let shared = a.matmul(&b);
    let paired = a.matmul_t(&c, false, true);
    assert_eq!(shared.dims(), &[3, 2, 5]);
    assert_eq!(paired.dims(), &[3, 2, 5]);
    for p in 0..3 {
        let ap = entry(&a, 1, p);
        assert_close(&entry(&shared, 1, p).to_vec_f64(), &ap.matmul(&b).to_vec_f64(), TOL, "[P,B,N]·[N,K]");
        assert_close(&entry(&paired, 1, p).to_vec_f64(), &ap.matmul_t(&entry(&c, 1, p), false, true).to_vec_f64(), TOL, "[P,B,N]·[P,K,N]ᵀ");
    }
    let t = a.t();
    assert_eq!(t.dims(), &[3, 4, 2]);
    assert_eq!(entry(&t, 1, 2).to_vec_f64(), entry(&a, 1, 2).t().to_vec_f64());
}

#[test]
fn reductions_and_broadcasts() {
    let mut r = rng(6);
    let x = uniform(&mut r, &[2, 3], -2.0, 2.0);
    let y = uniform(&mut r, &[2, 3], -2.0, 2.0);
    let v = uniform(&mut r, &[3], -2.0, 2.0);
    check_prefixes("sum", |t| t[0].square().sum(), &[x.clone()]);
    check_prefixes("mean", |t| t[0].square().mean(), &[x.clone()]);
    check_prefixes("sum_axis(0)", |t| t[0].square().sum_axis(0), &[x.clone()]);
    check_prefixes("sum_axis(1)", |t| t[0].square().sum_axis(1), &[x.clone()]);
    check_prefixes("mean_axis(1)", |t| t[0].square().mean_axis(1), &[x.clone()]);
    check_prefixes("row_dot", |t| t[0].row_dot(&t[1]), &[x.clone(), y.clone()]);
    check_prefixes("sum_to [1,3]", |t| t[0].square().sum_to(&[1, 3].into()), &[x.clone()]);
    check_prefixes("broadcast_to [4,2,3]", |t| t[0].broadcast_to(&[4, 2, 3].into()).square(), &[x.clone()]);
    check_prefixes("broadcast_to [2,3] from [3]", |t| t[0].broadcast_to(&[2, 3].into()).square(), &[v.clone()]);
    check_prefixes("broadcast [3] to [1,3] (no copy)", |t| t[0].broadcast_to(&[1, 3].into()).sum_to(&[3].into()).square(), &[v.clone()]);
    check_prefixes("max_axis(0)", |t| t[0].max_axis(0).square(), &[x.clone()]);
    check_prefixes("max_axis(1)", |t| t[0].max_axis(1).square(), &[x.clone()]);
    check_prefixes("logsumexp(1)", |t| t[0].logsumexp(1), &[x.clone()]);
    check_prefixes("log_softmax(0)", |t| t[0].log_softmax(0), &[x.clone()]);
}

#[test]
fn indexing_ops() {
    let mut r = rng(7);
    let x = uniform(&mut r, &[4, 3], -2.0, 2.0);
    let y = uniform(&mut r, &[2, 3], -2.0, 2.0);
    let mask = Tensor::from_vec(vec![1.0f64, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0], [4, 3]);
    check_prefixes("reshape", |t| t[0].reshape([2, 6]).square(), &[x.clone()]);
    check_prefixes("transpose", |t| t[0].t().square(), &[x.clone()]);
    check_prefixes("narrow rows", |t| t[0].narrow(0, 1, 2).square(), &[x.clone()]);
    check_prefixes("narrow columns", |t| t[0].narrow(1, 1, 2).square(), &[x.clone()]);
    check_prefixes("column", |t| t[0].column(2).square(), &[x.clone()]);
    check_prefixes("pad_axis", |t| t[0].square().pad_axis(1, 1, 5), &[x.clone()]);
    check_prefixes("concat rows", |t| concat(&[t[0].clone(), t[1].square()], 0), &[x.clone(), y.clone()]);
    check_prefixes("concat columns", |t| concat(&[t[0].t(), t[1].t().square()], 1), &[x.clone(), y.clone()]);
    check_prefixes("gather_rows (repeats)", |t| t[0].gather_rows(&[3, 0, 3, 1]).square(), &[x.clone()]);
    check_prefixes("gather no rows", |t| t[0].gather_rows(&[]).square(), &[x.clone()]);
    check_prefixes("mask", |t| t[0].square().mask(&mask), &[x.clone()]);
}

#[test]
fn an_identity_stack_of_cotangents_gives_the_jacobian_in_one_pass() {
    // f(x) = x² ⊙ sin-free tanh: ∂fᵢ/∂xⱼ = δᵢⱼ (2xᵢ tanh(xᵢ) + xᵢ² (1 − tanh²xᵢ)).
    let x = uniform(&mut rng(8), &[5], -1.5, 1.5);
    let f = |x: &Tensor| x.square() * &x.tanh();
    let leaf = x.requires_grad();
    let eye = leaf.one_hot(5, 5, |i| i);
    let rows = grad(&[f(&leaf)], &[leaf.clone()], Some(&[eye]), false).remove(0);
    assert_eq!(rows.dims(), &[5, 5]);
    assert_close(&rows.to_vec_f64(), &jacobian(f, &x, false).to_vec_f64(), TOL, "Jacobian, batched vs row by row");
    let xv = x.to_vec_f64();
    let rows = rows.to_vec_f64();
    for i in 0..5 {
        for j in 0..5 {
            let t = xv[i].tanh();
            let expected = if i == j { 2.0 * xv[i] * t + xv[i] * xv[i] * (1.0 - t * t) } else { 0.0 };
            assert!((rows[i * 5 + j] - expected).abs() < 1e-14, "({i},{j}): {} vs {expected}", rows[i * 5 + j]);
        }
    }
}

#[test]
fn an_input_the_outputs_ignore_gets_zeros_with_the_prefix_when_allowed() {
    let x = Tensor::ones([2], DType::F64).requires_grad();
    let unused = Tensor::ones([3, 1], DType::F64).requires_grad();
    let v = Tensor::ones([4, 2], DType::F64);
    let g = grad_with(&[x.square()], &[x.clone(), unused.clone()], Some(&[v]), GradOptions::default().allow_unused());
    assert_eq!(g[0].dims(), &[4, 2]);
    assert_eq!(g[0].to_vec_f64(), vec![2.0; 8]);
    assert_eq!(g[1].dims(), &[4, 3, 1]);
    assert_eq!(g[1].to_vec_f64(), vec![0.0; 12]);
}

#[test]
#[should_panic(expected = "grad: input 1 (id ")]
fn an_input_the_outputs_ignore_is_refused_by_default() {
    let x = Tensor::ones([2], DType::F64).requires_grad();
    let unused = Tensor::ones([3, 1], DType::F64).requires_grad();
    grad(&[x.square()], &[x.clone(), unused], Some(&[Tensor::ones([4, 2], DType::F64)]), false);
}

#[test]
#[should_panic(expected = "grad: grad_output 0 has shape [2, 3]; it must be the output's shape [2] (or broadcast to it) with optional leading axes")]
fn a_cotangent_that_does_not_end_in_the_outputs_shape_is_refused() {
    let x = Tensor::ones([2], DType::F64).requires_grad();
    grad(&[x.square()], &[x.clone()], Some(&[Tensor::ones([2, 3], DType::F64)]), false);
}

#[test]
#[should_panic(expected = "grad: grad_outputs 0 and 1 have shapes [4, 2] and [3, 2] for outputs of shapes [2] and [2]: their leading axes differ")]
fn cotangents_with_different_prefixes_are_refused() {
    let x = Tensor::ones([2], DType::F64).requires_grad();
    let (v, w) = (Tensor::ones([4, 2], DType::F64), Tensor::ones([3, 2], DType::F64));
    grad(&[x.square(), x.exp()], &[x.clone()], Some(&[v, w]), false);
}
