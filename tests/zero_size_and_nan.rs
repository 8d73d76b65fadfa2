//! Two edges every op must get right, on the CPU (tests/cuda_parity.rs holds
//! the GPU to the same cases):
//!
//! - **Zero-size tensors** work in every op, forward and backward. A sum over
//!   an empty axis is 0; a mean is 0/0 = NaN (PyTorch and NumPy agree); a max
//!   over an empty axis has no value and panics, naming the op (PyTorch's
//!   `amax` and NumPy's `max` raise too; `-inf` would hide the bug).
//! - **NaN propagates**: `relu`, `step`, `max_axis` (and the clamps built on
//!   them) give NaN for NaN, as in IEEE arithmetic and PyTorch, so a diverging
//!   run shows instead of being zeroed.

use std::panic::{catch_unwind, AssertUnwindSafe};

use gradgrad::autodiff::{concat, grad, DType, Tensor};

/// `f(x)`'s value and the gradient of `sum(f(x)²)` (first order, recorded)
/// and of the sum of that gradient (second order), for an `x` of `dims`.
fn value_and_derivatives(dims: &[usize], f: impl Fn(&Tensor) -> Tensor) -> (Tensor, Tensor, Tensor) {
    let x = Tensor::full(dims.to_vec(), 0.5, DType::F64).requires_grad();
    let y = f(&x);
    let g = grad(&[y.square().sum()], std::slice::from_ref(&x), None, true).remove(0);
    assert_eq!(g.shape(), x.shape(), "first-order gradient shape");
    let gg = grad(&[g.sum()], std::slice::from_ref(&x), None, false).remove(0);
    assert_eq!(gg.shape(), x.shape(), "second-order gradient shape");
    (y, g, gg)
}

fn panic_message(f: impl FnOnce()) -> String {
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    err.downcast_ref::<String>().cloned().or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default()
}

#[test]
fn sums_over_an_empty_axis_are_zero_and_their_gradients_empty() {
    // The example: `[3, 0].sum_axis(1)` panicked inside the CPU backend.
    let (y, g, gg) = value_and_derivatives(&[3, 0], |x| x.sum_axis(1));
    assert_eq!((y.dims(), y.to_vec_f64()), (&[3][..], vec![0.0; 3]));
    assert!(g.to_vec_f64().is_empty() && gg.to_vec_f64().is_empty());
    let (y, _, _) = value_and_derivatives(&[3, 0], |x| x.sum_axis(0));
    assert_eq!(y.dims(), &[0]);
    let (y, _, _) = value_and_derivatives(&[0], |x| x.sum());
    assert_eq!(y.to_vec_f64(), vec![0.0]);
    let (y, _, _) = value_and_derivatives(&[2, 0, 3], |x| x.sum_to(&[2, 1, 3].into()));
    assert_eq!((y.dims(), y.to_vec_f64()), (&[2, 1, 3][..], vec![0.0; 6]));
    let (y, _, _) = value_and_derivatives(&[0, 4], |x| x.sum_to(&[4].into()));
    assert_eq!(y.to_vec_f64(), vec![0.0; 4]);
    for dtype in [DType::F32, DType::F64] {
        assert_eq!(Tensor::zeros([3, 0], dtype).sum_axis(1).to_vec_f64(), vec![0.0; 3], "{dtype}");
    }
}

#[test]
fn means_over_nothing_are_nan() {
    // 0 / 0, as torch.zeros(3, 0).mean(1) and numpy.
    let m = Tensor::zeros([3, 0], DType::F64).mean_axis(1);
    assert_eq!(m.dims(), &[3]);
    assert!(m.to_vec_f64().iter().all(|v| v.is_nan()), "{:?}", m.to_vec_f64());
    assert!(Tensor::zeros([0], DType::F32).mean().item().is_nan());
}

#[test]
fn broadcasting_to_and_from_zero_size_shapes() {
    let (y, g, _) = value_and_derivatives(&[3, 1], |x| x.broadcast_to(&[3, 0].into()));
    assert_eq!((y.dims(), g.to_vec_f64()), (&[3, 0][..], vec![0.0; 3]));
    let (y, g, _) = value_and_derivatives(&[1], |x| x.broadcast_to(&[2, 0].into()));
    assert_eq!((y.dims(), g.to_vec_f64()), (&[2, 0][..], vec![0.0]));
    // Binary ops broadcast an empty batch against a row.
    let a = Tensor::zeros([0, 4], DType::F64);
    let row = Tensor::ones([4], DType::F64).requires_grad();
    let y = (&a * &row).exp();
    assert_eq!(y.dims(), &[0, 4]);
    let g = grad(&[y.sum()], std::slice::from_ref(&row), None, false).remove(0);
    assert_eq!(g.to_vec_f64(), vec![0.0; 4], "nothing flows back from an empty batch");
}

#[test]
fn elementwise_ops_keep_an_empty_shape() {
    type Op = fn(&Tensor) -> Tensor;
    let ops: &[(&str, Op)] = &[
        ("exp", |x| x.exp()),
        ("log", |x| x.log()),
        ("sigmoid", |x| x.sigmoid()),
        ("tanh", |x| x.tanh()),
        ("softplus", |x| x.softplus()),
        ("relu", |x| x.relu()),
        ("powi(-3)", |x| x.powi(-3)),
        ("sqrt", |x| x.sqrt()),
        ("affine", |x| x.affine(2.0, 1.0)),
        ("div", |x| x / &x.exp()),
        ("log_softmax along the non-empty axis", |x| x.log_softmax(1)),
    ];
    for (name, f) in ops {
        let (y, g, gg) = value_and_derivatives(&[0, 3], f);
        assert_eq!(y.dims(), &[0, 3], "{name}");
        assert!(g.to_vec_f64().is_empty() && gg.to_vec_f64().is_empty(), "{name}");
    }
}

#[test]
fn matrix_products_with_an_empty_dimension() {
    // k = 0: every entry is an empty sum, 0; the gradients are empty.
    let a = Tensor::zeros([2, 0], DType::F64).requires_grad();
    let b = Tensor::zeros([0, 3], DType::F64).requires_grad();
    let c = Tensor::ones([2, 3], DType::F64).requires_grad();
    let y = (a.matmul(&b) + &c).square();
    assert_eq!((y.dims(), y.to_vec_f64()), (&[2, 3][..], vec![1.0; 6]));
    let g = grad(&[y.sum()], &[a.clone(), b.clone(), c.clone()], None, true);
    assert_eq!((g[0].dims(), g[1].dims()), (&[2, 0][..], &[0, 3][..]));
    assert_eq!(g[2].to_vec_f64(), vec![2.0; 6], "d(c²)/dc = 2c");
    let gg = grad(&[g[2].sum()], &[c], None, false).remove(0);
    assert_eq!(gg.to_vec_f64(), vec![2.0; 6]);
    // m = 0, n = 0, transposed, and an empty batch.
    for (sa, sb, ta, tb, out) in [
        (vec![0, 4], vec![4, 3], false, false, vec![0, 3]),
        (vec![2, 4], vec![4, 0], false, false, vec![2, 0]),
        (vec![4, 0], vec![3, 4], true, true, vec![0, 3]),
        (vec![0, 2, 4], vec![4, 3], false, false, vec![0, 2, 3]),
        (vec![5, 2, 0], vec![5, 0, 3], false, false, vec![5, 2, 3]),
    ] {
        let (a, b) = (Tensor::full(sa.clone(), 0.5, DType::F64).requires_grad(), Tensor::full(sb.clone(), 0.5, DType::F64).requires_grad());
        let y = a.matmul_t(&b, ta, tb);
        assert_eq!(y.dims(), &out[..], "{sa:?}·{sb:?}");
        assert!(y.to_vec_f64().iter().all(|&v| v == 0.0));
        let g = grad(&[y.tanh().sum()], &[a.clone(), b.clone()], None, false);
        assert_eq!((g[0].dims(), g[1].dims()), (&sa[..], &sb[..]));
        assert!(g.iter().all(|g| g.to_vec_f64().iter().all(|&v| v == 0.0)), "{sa:?}·{sb:?}");
    }
    // A matrix shared by a batch, with no columns in a factor of its
    // gradient (the batch is stacked along rows: found by tests/properties.rs).
    for (sa, sb, out) in [(vec![2, 3, 0], vec![0, 4], vec![2, 3, 4]), (vec![2, 3, 4], vec![4, 0], vec![2, 3, 0])] {
        let (a, b) = (Tensor::full(sa.clone(), 0.5, DType::F64).requires_grad(), Tensor::full(sb.clone(), 0.5, DType::F64).requires_grad());
        let c = Tensor::ones(out.clone(), DType::F64);
        let y = (a.matmul(&b) + &c).square();
        assert_eq!((y.dims(), y.to_vec_f64()), (&out[..], vec![1.0; out.iter().product()]), "{sa:?}·{sb:?}");
        let g = grad(&[y.sum()], &[a.clone(), b.clone()], None, true);
        assert_eq!((g[0].dims(), g[1].dims()), (&sa[..], &sb[..]));
        // dy/da = 2(ab + c)·bᵀ: empty sums where k = 0, so 0; a gradient with no entries where n = 0.
        assert!(g.iter().all(|g| g.to_vec_f64().iter().all(|&v| v == 0.0)), "{sa:?}·{sb:?}");
        let gg = grad(&[g[0].sum() + g[1].sum()], &[a, b], None, false);
        assert_eq!((gg[0].dims(), gg[1].dims()), (&sa[..], &sb[..]));
    }
    for (dims, transposed) in [(vec![3, 0], vec![0, 3]), (vec![0, 3, 4], vec![0, 4, 3]), (vec![2, 0, 3], vec![2, 3, 0])] {
        let (y, g, _) = value_and_derivatives(&dims, |x| x.t());
        assert_eq!((y.dims(), g.dims()), (&transposed[..], &dims[..]));
    }
}

#[test]
fn indexing_ops_on_empty_shapes() {
    let (y, _, _) = value_and_derivatives(&[4, 3], |x| x.narrow(1, 1, 0));
    assert_eq!(y.dims(), &[4, 0]);
    let (y, g, _) = value_and_derivatives(&[4, 0], |x| x.pad_axis(1, 1, 3).shift(1.0));
    assert_eq!((y.dims(), y.to_vec_f64()), (&[4, 3][..], vec![1.0; 12]));
    assert!(g.to_vec_f64().is_empty());
    let (y, g, _) = value_and_derivatives(&[4, 3], |x| x.gather_rows(&[]));
    assert_eq!((y.dims(), g.to_vec_f64()), (&[0, 3][..], vec![0.0; 12]));
    let (y, _, _) = value_and_derivatives(&[4, 0], |x| x.gather_rows(&[3, 1]));
    assert_eq!(y.dims(), &[2, 0]);
    let (y, _, _) = value_and_derivatives(&[2, 3], |x| concat(&[x.clone(), x.narrow(1, 0, 0)], 1));
    assert_eq!(y.dims(), &[2, 3]);
    let (y, _, _) = value_and_derivatives(&[0, 3], |x| x.reshape([3, 0, 5]));
    assert_eq!(y.dims(), &[3, 0, 5]);
    let (y, g, _) = value_and_derivatives(&[3, 0, 5], |x| x.permute(&[2, 0, 1]));
    assert_eq!((y.dims(), g.dims()), (&[5, 3, 0][..], &[3, 0, 5][..]));
    let (y, _, _) = value_and_derivatives(&[2, 0], |x| x.select(&x.exp(), &x.neg()));
    assert_eq!(y.dims(), &[2, 0]);
}

#[test]
fn max_over_an_empty_axis_panics_naming_the_op_and_elsewhere_keeps_the_empty_shape() {
    let msg = panic_message(|| {
        Tensor::zeros([3, 0], DType::F64).max_axis(1);
    });
    assert!(msg.contains("max_axis(1)") && msg.contains("empty axis") && msg.contains("[3, 0]"), "{msg}");
    let msg = panic_message(|| {
        Tensor::zeros([0, 2], DType::F64).logsumexp(0);
    });
    assert!(msg.contains("empty axis"), "{msg}");
    // Empty elsewhere, a non-empty reduced axis: an empty result.
    let (y, g, _) = value_and_derivatives(&[3, 2, 0], |x| x.max_axis(1));
    assert_eq!((y.dims(), g.dims()), (&[3, 0][..], &[3, 2, 0][..]));
    let (y, _, _) = value_and_derivatives(&[0, 5], |x| x.max_axis(1));
    assert_eq!(y.dims(), &[0]);
}

#[test]
fn relu_step_and_max_pass_nan_through() {
    for dtype in [DType::F32, DType::F64] {
        let x = Tensor::from_vec(vec![f64::NAN, -1.0, 0.0, 2.0], [4]).to_dtype(dtype);
        let relu = x.relu().to_vec_f64();
        assert!(relu[0].is_nan(), "relu(NaN) in {dtype}: {relu:?}");
        assert_eq!(&relu[1..], &[0.0, 0.0, 2.0]);
        let step = x.step().to_vec_f64();
        assert!(step[0].is_nan(), "step(NaN) in {dtype}: {step:?}");
        assert_eq!(&step[1..], &[0.0, 0.0, 1.0]);
        let m = x.reshape([2, 2]).max_axis(1).to_vec_f64();
        assert!(m[0].is_nan() && m[1] == 2.0, "max_axis in {dtype}: {m:?}");
        let m = x.reshape([2, 2]).max_axis(0).to_vec_f64();
        assert!(m[0].is_nan() && m[1] == 2.0, "max_axis in {dtype}: {m:?}");
    }
    // A NaN input shows in relu's gradient too (gy · step(x)).
    let x = Tensor::from_vec(vec![f64::NAN, -1.0, 3.0], [3]).requires_grad();
    let g = grad(&[x.relu().sum()], &[x], None, false).remove(0).to_vec_f64();
    assert!(g[0].is_nan() && g[1] == 0.0 && g[2] == 1.0, "{g:?}");
}

#[test]
fn clamp_maximum_and_minimum_pass_nan_through() {
    for dtype in [DType::F32, DType::F64] {
        let x = Tensor::from_vec(vec![f64::NAN, -5.0, 0.25, 5.0], [4]).to_dtype(dtype);
        let c = x.clamp(-1.0, 1.0).to_vec_f64();
        assert!(c[0].is_nan() && c[1..] == [-1.0, 0.25, 1.0], "clamp in {dtype}: {c:?}");
        let c = x.clamp(0.0, f64::INFINITY).to_vec_f64();
        assert!(c[0].is_nan() && c[1..] == [0.0, 0.25, 5.0], "clamp with no upper bound in {dtype}: {c:?}");
        let other = Tensor::from_vec(vec![1.0, f64::NAN, 0.5, 0.0], [4]).to_dtype(dtype);
        let (hi, lo) = (x.maximum(&other).to_vec_f64(), x.minimum(&other).to_vec_f64());
        // NaN on either side, as IEEE maximum and torch.maximum.
        assert!(hi[0].is_nan() && hi[1].is_nan() && hi[2..] == [0.5, 5.0], "maximum in {dtype}: {hi:?}");
        assert!(lo[0].is_nan() && lo[1].is_nan() && lo[2..] == [0.25, 0.0], "minimum in {dtype}: {lo:?}");
    }
}
