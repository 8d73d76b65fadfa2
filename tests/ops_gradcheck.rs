//! Every op, on random inputs of random shapes: first order by `gradcheck`
//! (relative error ≤ 1e-6) and second order by `gradgradcheck` (≤ 1e-5).
//! The elementwise families run every entry of `Unary::ALL` and `Binary::ALL`,
//! so a new op is checked the moment it is declared.

// `&[t.clone()]` reads better than `slice::from_ref(&t)`; a tensor clone is a reference count.
#![allow(clippy::cloned_ref_to_slice_refs)]

mod common;

use common::{away_from_zero, rng, uniform};
use gradgrad::autodiff::backend::{Binary, Unary};
use gradgrad::autodiff::{concat, gradcheck, gradgradcheck, Tensor};
use rand::Rng;

const FIRST: f64 = 1e-6;
const SECOND: f64 = 1e-5;

/// Checks `f` to first and second order, naming the op on failure.
fn check(name: &str, f: impl Fn(&[Tensor]) -> Tensor + Copy, inputs: &[Tensor]) {
    let r1 = gradcheck(f, inputs, FIRST);
    assert!(r1.passed(), "{name}: gradcheck {r1}");
    let r2 = gradgradcheck(f, inputs, SECOND);
    assert!(r2.passed(), "{name}: gradgradcheck {r2}");
}

/// Random shapes including a batch of one and non-square matrices.
fn shapes(seed: u64) -> Vec<Vec<usize>> {
    let mut r = rng(seed);
    let mut out = vec![vec![], vec![1, 1], vec![1, 5], vec![4]];
    for _ in 0..2 {
        out.push(vec![r.random_range(1..5), r.random_range(1..6)]);
    }
    out
}

#[test]
fn unary_ops() {
    let mut r = rng(1);
    for shape in shapes(2) {
        // Every elementwise map the backend has, on the inputs its family list gives.
        for &op in Unary::ALL {
            let range = op.check_inputs();
            let x = away_from_zero(&mut r, &shape, range.start, range.end, 0.1);
            check(&format!("{op:?}"), |x| x[0].apply_unary(op), &[x]);
        }
        // Compositions and other parameters.
        let x = uniform(&mut r, &shape, -3.0, 3.0);
        let nz = away_from_zero(&mut r, &shape, -3.0, 3.0, 0.1);
        check("square", |x| x[0].square(), &[x.clone()]);
        check("powi(3)", |x| x[0].powi(3), &[x.clone()]);
        check("powi(-2)", |x| x[0].powi(-2), &[nz.clone()]);
        check("scalar add/mul", |x| (&x[0] * 2.5 + 1.0) - 0.5, &[x.clone()]);
        check("scalar div", |x| 2.0 / &x[0], &[nz.clone()]);
    }
}

#[test]
fn extreme_values_are_checked_too() {
    // Large |x| where the stable forms matter; values stay finite in f64.
    let x = Tensor::from_vec(vec![-30.0f64, -8.0, 8.0, 30.0], [2, 2]);
    check("sigmoid far out", |x| x[0].sigmoid(), &[x.clone()]);
    check("softplus far out", |x| x[0].softplus(), &[x.clone()]);
    check("tanh far out", |x| x[0].tanh(), &[x.clone()]);
}

#[test]
fn binary_ops_with_and_without_broadcast() {
    let mut r = rng(3);
    for shape in shapes(4) {
        for &op in Binary::ALL {
            let range = op.check_inputs();
            let (a, b) = (uniform(&mut r, &shape, range.start, range.end), uniform(&mut r, &shape, range.start, range.end));
            check(&format!("{op:?}"), |x| x[0].apply_binary(&x[1], op), &[a, b]);
        }
    }
    let batch = uniform(&mut r, &[3, 4], -2.0, 2.0);
    let row = uniform(&mut r, &[4], -2.0, 2.0);
    let col = uniform(&mut r, &[3, 1], -2.0, 2.0);
    let s = uniform(&mut r, &[], -2.0, 2.0);
    check("row broadcast", |x| &x[0] * &x[1], &[batch.clone(), row.clone()]);
    check("column broadcast", |x| &x[0] / &x[1].exp(), &[batch.clone(), col.clone()]);
    check("scalar broadcast", |x| &x[0] - &x[1], &[batch.clone(), s]);
    check("broadcast_to", |x| x[0].broadcast_to(&[5, 4].into()), &[row]);
}

#[test]
fn matmul_in_every_transpose() {
    let mut r = rng(5);
    let (m, k, n) = (3, 4, 2);
    let a = uniform(&mut r, &[m, k], -1.0, 1.0);
    let at = uniform(&mut r, &[k, m], -1.0, 1.0);
    let b = uniform(&mut r, &[k, n], -1.0, 1.0);
    let bt = uniform(&mut r, &[n, k], -1.0, 1.0);
    check("a·b", |x| x[0].matmul(&x[1]), &[a.clone(), b.clone()]);
    check("aᵀ·b", |x| x[0].matmul_t(&x[1], true, false), &[at.clone(), b.clone()]);
    check("a·bᵀ", |x| x[0].matmul_t(&x[1], false, true), &[a.clone(), bt.clone()]);
    check("aᵀ·bᵀ", |x| x[0].matmul_t(&x[1], true, true), &[at, bt]);
    check("transpose", |x| x[0].t(), &[a.clone()]);
    // Leading batch axes: a shared right operand (one stacked product), a
    // shared left one, and two batches whose axes broadcast.
    let batch_a = uniform(&mut r, &[2, m, k], -1.0, 1.0);
    let batch_b = uniform(&mut r, &[3, 1, k, n], -1.0, 1.0);
    check("[2,m,k]·[k,n]", |x| x[0].matmul(&x[1]).tanh(), &[batch_a.clone(), b.clone()]);
    check("[m,k]·[3,1,k,n]", |x| x[0].matmul(&x[1]).tanh(), &[a.clone(), batch_b.clone()]);
    check("[2,m,k]·[3,1,k,n]", |x| x[0].matmul(&x[1]).tanh(), &[batch_a.clone(), batch_b]);
    check("[2,m,k] transposed", |x| x[0].t().square(), &[batch_a]);
    // A nonlinear composition, so second derivatives are not trivially zero.
    check("tanh(a·b)", |x| x[0].matmul(&x[1]).tanh(), &[a, b]);
}

#[test]
fn reductions() {
    let mut r = rng(6);
    let x = uniform(&mut r, &[3, 5], -1.0, 1.0);
    check("sum", |x| x[0].square().sum(), &[x.clone()]);
    check("mean", |x| x[0].exp().mean(), &[x.clone()]);
    check("sum_axis(0)", |x| x[0].square().sum_axis(0), &[x.clone()]);
    check("sum_axis(1)", |x| x[0].square().sum_axis(1), &[x.clone()]);
    check("mean_axis(1)", |x| x[0].sigmoid().mean_axis(1), &[x.clone()]);
    check("sum_to", |x| x[0].tanh().sum_to(&[1, 5].into()), &[x.clone()]);
    let y = uniform(&mut r, &[3, 5], -1.0, 1.0);
    check("row_dot", |x| x[0].row_dot(&x[1]).square(), &[x, y]);
}

#[test]
fn max_logsumexp_and_log_softmax() {
    let mut r = rng(8);
    // Distinct values, so the max is differentiable at the point checked.
    let x = uniform(&mut r, &[3, 5], -2.0, 2.0);
    let cube = uniform(&mut r, &[2, 3, 4], -2.0, 2.0);
    check("max_axis(1)", |x| x[0].max_axis(1).square(), &[x.clone()]);
    check("max_axis(0)", |x| x[0].tanh().max_axis(0), &[x.clone()]);
    check("max_axis(1) of [2, 3, 4]", |x| x[0].max_axis(1).square(), &[cube.clone()]);
    for axis in [0, 1] {
        check(&format!("logsumexp({axis})"), |x| x[0].logsumexp(axis), &[x.clone()]);
        check(&format!("log_softmax({axis})"), |x| x[0].log_softmax(axis), &[x.clone()]);
    }
    check("logsumexp(1) of [2, 3, 4]", |x| x[0].logsumexp(1), &[cube.clone()]);
    check("log_softmax(2) of [2, 3, 4]", |x| x[0].log_softmax(2), &[cube]);
    // Far out, where the unshifted form overflows (e^800) or underflows (e^-800) in f64.
    let far = Tensor::from_vec(vec![800.0f64, 799.0, 801.5, -800.0, -801.0, -799.5], [2, 3]);
    check("logsumexp far out", |x| x[0].logsumexp(1), &[far.clone()]);
    check("log_softmax far out", |x| x[0].log_softmax(1), &[far]);
}

#[test]
fn indexing_ops() {
    let mut r = rng(7);
    let x = uniform(&mut r, &[4, 5], -1.0, 1.0);
    let y = uniform(&mut r, &[4, 2], -1.0, 1.0);
    check("narrow cols", |x| x[0].narrow(1, 1, 3).square(), &[x.clone()]);
    check("narrow rows", |x| x[0].narrow(0, 2, 2).exp(), &[x.clone()]);
    check("column", |x| x[0].column(3).tanh(), &[x.clone()]);
    check("reshape", |x| x[0].reshape([5, 4]).sigmoid(), &[x.clone()]);
    check("concat cols", |x| concat(&[x[0].clone(), x[1].square()], 1), &[x.clone(), y.clone()]);
    check("concat rows", |x| concat(&[x[0].t(), x[1].t()], 0).tanh(), &[x.clone(), y]);
    check("gather rows (repeats)", |x| x[0].gather_rows(&[3, 0, 3, 1]).square(), &[x.clone()]);
    let mask = Tensor::from_vec((0..20).map(|i| (i % 3 == 0) as u8 as f64).collect::<Vec<_>>(), [4, 5]);
    let masked = |x: &[Tensor]| x[0].exp().mask(&mask);
    check("mask", masked, &[x.clone()]);
    check("pad", |x| x[0].pad_axis(1, 2, 8).square(), &[x]);
}

#[test]
fn f32_gradients_agree_with_f64_to_f32_precision() {
    use gradgrad::autodiff::{grad1, DType};
    let data = vec![0.5f64, -1.0, 2.0, 0.1];
    let g = |dtype: DType| {
        let x = Tensor::from_vec(data.clone(), [4]).to_dtype(dtype).requires_grad();
        let y = (x.tanh() * &x.sigmoid()).sum();
        let dx = grad1(&y, &x, true);
        assert_eq!(dx.dtype(), dtype);
        grad1(&dx.sum(), &x, false).to_vec_f64()
    };
    common::assert_close(&g(DType::F32), &g(DType::F64), 1e-6, "second derivative, f32 vs f64");
}

#[test]
fn clamp_maximum_and_minimum_route_the_gradient() {
    use gradgrad::autodiff::grad;
    // d clamp/dx is 1 strictly inside [lo, hi] and 0 outside; an infinite bound never binds.
    let x = Tensor::from_vec(vec![-2.0f64, -0.5, 0.25, 3.0], [4]).requires_grad();
    let g = grad(&[x.clamp(-1.0, 1.0).sum()], &[x.clone()], None, false).remove(0);
    assert_eq!(g.to_vec_f64(), vec![0.0, 1.0, 1.0, 0.0]);
    let g = grad(&[x.clamp(f64::NEG_INFINITY, 0.0).square().sum()], &[x.clone()], None, false).remove(0);
    assert_eq!(g.to_vec_f64(), vec![-4.0, -1.0, 0.0, 0.0], "d(min(x, 0)²)/dx = 2x below 0");
    check("clamp(-inf, 0.5)", |x| x[0].clamp(f64::NEG_INFINITY, 0.5).tanh(), &[x.clone()]);
    // maximum: the larger gets gy, a tie splits it evenly (as torch.maximum); minimum mirrors it.
    let (a, b) = (Tensor::from_vec(vec![1.0f64, 2.0, 3.0], [3]).requires_grad(), Tensor::from_vec(vec![2.0f64, 2.0, 1.0], [3]).requires_grad());
    let g = grad(&[a.maximum(&b).sum()], &[a.clone(), b.clone()], None, false);
    assert_eq!((g[0].to_vec_f64(), g[1].to_vec_f64()), (vec![0.0, 0.5, 1.0], vec![1.0, 0.5, 0.0]));
    let g = grad(&[a.minimum(&b).sum()], &[a.clone(), b.clone()], None, false);
    assert_eq!((g[0].to_vec_f64(), g[1].to_vec_f64()), (vec![1.0, 0.5, 0.0], vec![0.0, 0.5, 1.0]));
    // Broadcast against a row, second order through a smooth outer function.
    let mut r = rng(11);
    let (m, row) = (uniform(&mut r, &[3, 4], -2.0, 2.0), uniform(&mut r, &[4], -2.0, 2.0));
    check("maximum with a broadcast row", |x| x[0].maximum(&x[1]).square(), &[m.clone(), row.clone()]);
    check("minimum with a broadcast row", |x| x[0].minimum(&x[1]).exp(), &[m, row]);
}

#[test]
fn where_picks_by_a_mask_and_routes_the_gradient_to_the_pick() {
    use gradgrad::autodiff::grad;
    let mut r = rng(12);
    let (a, b) = (uniform(&mut r, &[3, 4], -2.0, 2.0), uniform(&mut r, &[3, 4], -2.0, 2.0));
    let mask = Tensor::from_vec((0..12).map(|i| (i % 3 == 1) as u8 as f64).collect::<Vec<_>>(), [3, 4]);
    let row = Tensor::from_vec(vec![1.0f64, 0.0, 0.0, 1.0], [4]);
    check("where(mask, a, b)", |x| mask.select(&x[0], &x[1]).square(), &[a.clone(), b.clone()]);
    check("where(row, a, b) broadcast", |x| row.select(&x[0].exp(), &x[1]).tanh(), &[a.clone(), b.clone()]);
    check("where(mask, a, scalar)", |x| mask.select(&x[0], &x[1]).sigmoid(), &[a.clone(), uniform(&mut r, &[], -1.0, 1.0)]);
    // The value takes the pick; the gradient of sum(where(c, a, b)) is c for a, 1 − c for b.
    let y = mask.select(&a, &b).to_vec_f64();
    let c = mask.to_vec_f64();
    for i in 0..12 {
        assert_eq!(y[i], if c[i] != 0.0 { a.to_vec_f64()[i] } else { b.to_vec_f64()[i] });
    }
    let (a, b) = (a.requires_grad(), b.requires_grad());
    let g = grad(&[mask.select(&a, &b).sum()], &[a, b], None, false);
    assert_eq!(g[0].to_vec_f64(), c);
    assert_eq!(g[1].to_vec_f64(), c.iter().map(|c| 1.0 - c).collect::<Vec<_>>());
    // An inf in the branch not taken stays out of the value (c·a + (1 − c)·b gives NaN).
    let x = Tensor::from_vec(vec![0.0f64, 2.0], [2]);
    let positive = Tensor::from_vec(vec![0.0f64, 1.0], [2]);
    let y = positive.select(&x.log(), &x).to_vec_f64();
    assert_eq!(y, vec![0.0, 2f64.ln()]);
}

#[test]
fn permute_reorders_axes_and_its_gradient_reorders_back() {
    let mut r = rng(13);
    let x = uniform(&mut r, &[2, 3, 4], -1.0, 1.0);
    for axes in [[0, 2, 1], [2, 0, 1], [1, 2, 0], [2, 1, 0]] {
        check(&format!("permute({axes:?})"), |x| x[0].permute(&axes).tanh(), &[x.clone()]);
    }
    // y[i, j, k] = x[j, k, i] for axes [2, 0, 1] of a [2, 3, 4]: y is [4, 2, 3].
    let y = x.permute(&[2, 0, 1]);
    assert_eq!(y.dims(), &[4, 2, 3]);
    let (xv, yv) = (x.to_vec_f64(), y.to_vec_f64());
    for i in 0..4 {
        for j in 0..2 {
            for k in 0..3 {
                assert_eq!(yv[(i * 2 + j) * 3 + k], xv[(j * 3 + k) * 4 + i]);
            }
        }
    }
    // Of a matrix, the transpose.
    let m = uniform(&mut r, &[3, 5], -1.0, 1.0);
    assert_eq!(m.permute(&[1, 0]).to_vec_f64(), m.t().to_vec_f64());
    check("permute then matmul", |x| x[0].permute(&[1, 0]).matmul(&x[1]).square(), &[m.clone(), uniform(&mut r, &[3, 2], -1.0, 1.0)]);
}
