//! The CUDA backend held to the CPU one, op by op and on whole training steps.
//!
//! For every op: the value, a first-order VJP and a second-order one (the
//! gradient of ⟨w, ∂⟨v, f⟩/∂x⟩, which runs each VJP rule's own ops on the
//! device) are computed on the GPU and compared with the CPU in f64:
//! ‖gpu − cpu‖ / ‖cpu‖ ≤ 1e-10 in f64 (room for the backends' different
//! libm, summation orders and the CPU's series for tanh near 0) and ≤ 1e-5 in
//! f32 (against the f64 reference). Inputs are fresh random values of awkward sizes, and every
//! kernel output is poisoned with NaN before its launch
//! (`cuda::set_checked_launches`), so an element a kernel forgets fails.
//!
//! Without a usable GPU each test prints `<test>: skipped: no CUDA device
//! (<reason>)` past the harness's output capture, and passes.

mod common;

use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};

use common::{away_from_zero, rng, uniform};
use gradgrad::autodiff::backend::{cuda, Binary, Unary};
use gradgrad::autodiff::{grad, grad1, grad_with, gradcheck, gradgradcheck, jacobian_diagonal, DType, Device, DiagonalStrategy, GradOptions, Shape, Tensor};
use rand::Rng;

/// The GPU under test, or `None` after saying why the test is skipped.
fn gpu(test: &str) -> Option<Device> {
    match Device::cuda(0) {
        Ok(device) => {
            cuda::set_checked_launches(true);
            Some(device)
        }
        Err(e) => {
            // Straight to the stream, past libtest's capture, so the skip is visible.
            let _ = writeln!(std::io::stderr(), "{test}: skipped: no CUDA device ({})", e.reason);
            None
        }
    }
}

/// A test whose body runs with `$dev`, the GPU, and is skipped without one.
macro_rules! gpu_test {
    ($name:ident, |$dev:ident| $body:block) => {
        #[test]
        fn $name() {
            let Some($dev) = gpu(stringify!($name)) else { return };
            $body
        }
    };
}

/// ‖a − b‖ / ‖b‖, or ‖a‖ when b vanishes; NaN anywhere fails.
fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    if a.iter().chain(b).any(|v| v.is_nan()) {
        return f64::INFINITY;
    }
    let diff: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt();
    let norm: f64 = b.iter().map(|y| y * y).sum::<f64>().sqrt();
    if norm == 0.0 {
        diff
    } else {
        diff / norm
    }
}

/// Deterministic values in [-1, 1] for the cotangents.
fn cotangent(shape: &Shape, seed: u64) -> Tensor {
    let mut r = rng(seed);
    Tensor::from_vec((0..shape.numel()).map(|_| r.random_range(-1.0..1.0)).collect::<Vec<f64>>(), shape.clone())
}

type Labelled = Vec<(String, Vec<f64>)>;

/// f(x), ∂⟨v, f⟩/∂xᵢ and ∂⟨w, ∂⟨v, f⟩/∂x⟩/∂xᵢ for every input, on `device` in `dtype`, read back to the host.
fn derivatives(f: &dyn Fn(&[Tensor]) -> Tensor, inputs: &[Tensor], dtype: DType, device: Device) -> Labelled {
    let on = |t: Tensor| t.to_dtype(dtype).to_device(device);
    let xs: Vec<Tensor> = inputs.iter().map(|x| on(x.clone()).requires_grad()).collect();
    let y = f(&xs);
    assert_eq!(y.device(), device, "the function must stay on the device");
    let v = on(cotangent(y.shape(), 7));
    let g = grad(std::slice::from_ref(&y), &xs, Some(&[v]), true);
    let mut pairing: Option<Tensor> = None;
    for (i, gi) in g.iter().enumerate() {
        let term = (gi * &on(cotangent(gi.shape(), 100 + i as u64))).sum();
        pairing = Some(match pairing {
            None => term,
            Some(acc) => acc + term,
        });
    }
    // For a linear op the gradients do not depend on x: a zero second derivative.
    let gg = grad_with(&[pairing.unwrap()], &xs, None, GradOptions::default().allow_unused());
    let mut out = vec![("value".to_string(), y.to_vec_f64())];
    out.extend(g.iter().enumerate().map(|(i, t)| (format!("first order, input {i}"), t.to_vec_f64())));
    out.extend(gg.iter().enumerate().map(|(i, t)| (format!("second order, input {i}"), t.to_vec_f64())));
    out
}

/// `f` on the GPU against the CPU: f64 within 1e-10, f32 within 1e-5 of the f64 reference.
fn check_parity(name: &str, dev: Device, f: impl Fn(&[Tensor]) -> Tensor, inputs: Vec<Tensor>) {
    let inputs = &inputs[..];
    let reference = derivatives(&f, inputs, DType::F64, Device::Cpu);
    for (dtype, tol) in [(DType::F64, 1e-10), (DType::F32, 1e-5)] {
        let got = derivatives(&f, inputs, dtype, dev);
        for ((what, r), (_, g)) in reference.iter().zip(&got) {
            let e = rel_err(g, r);
            assert!(e <= tol, "{name}, {dtype} on {dev}: {what}: ‖gpu − cpu‖/‖cpu‖ = {e:.3e} > {tol:.0e}");
        }
    }
}

const SHAPES: &[&[usize]] = &[&[1], &[7], &[33], &[257], &[1000], &[33, 7]];

gpu_test!(unary_ops_match_the_cpu, |dev| {
    let mut r = rng(1);
    // Every entry of the family list, and other parameters of the parametrised ones.
    let extra = [Unary::Powi(3), Unary::Powi(2), Unary::Affine { mul: -0.5, add: 4.0 }];
    for &op in Unary::ALL.iter().chain(&extra) {
        let range = op.check_inputs();
        for shape in SHAPES {
            // Kinks (relu, step) are kept away from the inputs.
            let x = away_from_zero(&mut r, shape, range.start, range.end, 0.05);
            check_parity(&format!("{op:?} {shape:?}"), dev, |xs| xs[0].apply_unary(op), vec![x]);
        }
    }
});

gpu_test!(binary_ops_and_their_broadcasts_match_the_cpu, |dev| {
    let mut r = rng(2);
    let pairs: &[(&[usize], &[usize])] = &[(&[1000], &[1000]), (&[33, 7], &[7]), (&[33, 1], &[33, 7]), (&[], &[257]), (&[1], &[7])];
    for &(sa, sb) in pairs {
        for &op in Binary::ALL {
            let range = op.check_inputs();
            let (a, b) = (uniform(&mut r, sa, range.start, range.end), away_from_zero(&mut r, sb, range.start, range.end, 0.1));
            check_parity(&format!("{op:?} {sa:?} {sb:?}"), dev, |x| x[0].apply_binary(&x[1], op), vec![a, b]);
        }
    }
});

gpu_test!(where_matches_the_cpu, |dev| {
    let mut r = rng(14);
    for shape in [[1, 1], [33, 7], [7, 1000]] {
        let (a, b) = (uniform(&mut r, &shape, -2.0, 2.0), uniform(&mut r, &shape, -2.0, 2.0));
        let mask = Tensor::from_vec((0..shape[0] * shape[1]).map(|i| (i % 3 != 0) as u8 as f64).collect::<Vec<_>>(), shape.to_vec());
        let row = Tensor::from_vec((0..shape[1]).map(|i| (i % 2) as f64).collect::<Vec<_>>(), [shape[1]]);
        check_parity(&format!("where(mask) {shape:?}"), dev, |x| mask.to_dtype(x[0].dtype()).to_device(x[0].device()).select(&x[0], &x[1]).square(), vec![a.clone(), b.clone()]);
        check_parity(&format!("where(row) {shape:?}"), dev, |x| row.to_dtype(x[0].dtype()).to_device(x[0].device()).select(&x[0].exp(), &x[1]).tanh(), vec![a, b]);
    }
});

gpu_test!(permute_matches_the_cpu, |dev| {
    let mut r = rng(15);
    let cases: &[(&[usize], &[usize])] = &[(&[33, 7], &[1, 0]), (&[5, 9, 3], &[2, 0, 1]), (&[2, 3, 4, 5], &[3, 1, 2, 0]), (&[7, 1, 33], &[2, 1, 0]), (&[3, 0, 5], &[2, 0, 1])];
    for &(dims, axes) in cases {
        let x = uniform(&mut r, dims, -1.0, 1.0);
        check_parity(&format!("permute {dims:?} by {axes:?}"), dev, |x| x[0].permute(axes).square(), vec![x]);
    }
});

gpu_test!(matmul_with_every_transpose_matches_the_cpu, |dev| {
    let mut r = rng(3);
    // Edges of both tile sizes, split-K (thin products) and the big tiles (1536×1500).
    let sizes = [(1, 1, 1), (7, 33, 5), (33, 257, 7), (257, 33, 130), (64, 784, 33), (1000, 7, 3), (7, 1000, 33), (1536, 40, 1500)];
    for (m, k, n) in sizes {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = uniform(&mut r, &if ta { [k, m] } else { [m, k] }, -1.0, 1.0);
            let b = uniform(&mut r, &if tb { [n, k] } else { [k, n] }, -1.0, 1.0);
            check_parity(&format!("matmul {m}×{k}·{k}×{n} ta={ta} tb={tb}"), dev, |x| x[0].matmul_t(&x[1], ta, tb), vec![a, b]);
        }
    }
});

gpu_test!(transpose_matches_the_cpu, |dev| {
    let mut r = rng(4);
    for shape in [[1, 1], [7, 33], [257, 1000], [1000, 1]] {
        let x = uniform(&mut r, &shape, -1.0, 1.0);
        check_parity(&format!("transpose {shape:?}"), dev, |x| x[0].t().square(), vec![x]);
    }
});

gpu_test!(broadcasts_and_sums_match_the_cpu, |dev| {
    let mut r = rng(5);
    // Squared after, so the second-order pass runs the kernels again.
    let broadcasts: &[(&[usize], &[usize])] =
        &[(&[7], &[33, 7]), (&[33, 1], &[33, 7]), (&[], &[257]), (&[3, 1, 5], &[2, 3, 4, 5]), (&[1, 4, 1], &[3, 4, 5]), (&[1000], &[1, 1000])];
    for &(from, to) in broadcasts {
        let x = uniform(&mut r, from, -1.0, 1.0);
        let to = Shape::new(to.to_vec());
        check_parity(&format!("broadcast {from:?} -> {to}"), dev, |x| x[0].broadcast_to(&to).square(), vec![x.clone()]);
        check_parity(&format!("sum_to {to} -> {from:?}"), dev, |x| x[0].square().sum_to(&Shape::new(from.to_vec())), vec![uniform(&mut r, to.dims(), -1.0, 1.0)]);
    }
    for shape in [[1, 1], [257, 33], [7, 1000], [1000, 7]] {
        let x = uniform(&mut r, &shape, -1.0, 1.0);
        check_parity(&format!("sum_axis(0) {shape:?}"), dev, |x| x[0].square().sum_axis(0), vec![x.clone()]);
        check_parity(&format!("sum_axis(1) {shape:?}"), dev, |x| x[0].square().sum_axis(1), vec![x.clone()]);
        check_parity(&format!("mean {shape:?}"), dev, |x| x[0].square().mean(), vec![x]);
    }
    // A long full reduction: several partial-sum blocks.
    check_parity("sum of 300000", dev, |x| x[0].square().sum(), vec![uniform(&mut r, &[300_000], -1.0, 1.0)]);
});

gpu_test!(max_logsumexp_and_log_softmax_match_the_cpu, |dev| {
    let mut r = rng(12);
    // Distinct values (no ties), a single entry, a long axis, a middle axis.
    for shape in [[1, 1], [33, 7], [7, 1000], [1000, 10]] {
        let x = uniform(&mut r, &shape, -3.0, 3.0);
        for axis in [0, 1] {
            check_parity(&format!("max_axis({axis}) {shape:?}"), dev, |x| x[0].max_axis(axis).square(), vec![x.clone()]);
            check_parity(&format!("logsumexp({axis}) {shape:?}"), dev, |x| x[0].logsumexp(axis), vec![x.clone()]);
            check_parity(&format!("log_softmax({axis}) {shape:?}"), dev, |x| x[0].log_softmax(axis).square(), vec![x.clone()]);
        }
    }
    let cube = uniform(&mut r, &[5, 9, 3], -3.0, 3.0);
    check_parity("max_axis(1) [5, 9, 3]", dev, |x| x[0].max_axis(1).square(), vec![cube.clone()]);
    check_parity("log_softmax(1) [5, 9, 3]", dev, |x| x[0].log_softmax(1).square(), vec![cube]);
});

gpu_test!(zero_size_tensors_match_the_cpu, |dev| {
    // tests/zero_size_and_nan.rs pins the CPU's answers; the device must give
    // the same, poisoned outputs included (a sum over an empty axis writes 0s).
    type Case = (&'static str, &'static [usize], fn(&Tensor) -> Tensor);
    let cases: &[Case] = &[
        ("sum_axis(1) of [3, 0]", &[3, 0], |x| x.sum_axis(1).shift(1.0).square()),
        ("sum_axis(0) of [0, 5]", &[0, 5], |x| x.sum_axis(0).shift(1.0).square()),
        ("sum of [0]", &[0], |x| x.sum().shift(1.0).square()),
        ("sum_to [2, 1, 3] of [2, 0, 3]", &[2, 0, 3], |x| x.sum_to(&[2, 1, 3].into()).shift(1.0)),
        ("broadcast [3, 1] to [3, 0]", &[3, 1], |x| x.broadcast_to(&[3, 0].into()).exp()),
        ("unary and binary on [0, 4]", &[0, 4], |x| (x.sigmoid() / &x.exp()).relu()),
        ("matmul [2, 0]·[0, 3]", &[2, 0], |x| x.matmul(&x.t()).shift(1.0)),
        ("matmul [0, 3]·[3, 0]ᵀ", &[0, 3], |x| x.matmul_t(x, false, true)),
        ("transpose of an empty batch [0, 3, 4]", &[0, 3, 4], |x| x.t().exp()),
        ("transpose of [2, 0, 3]", &[2, 0, 3], |x| x.t().exp()),
        ("where and permute on [3, 0, 2]", &[3, 0, 2], |x| x.select(&x.exp(), x).permute(&[2, 1, 0])),
        ("max_axis(1) of [3, 2, 0]", &[3, 2, 0], |x| x.max_axis(1).square()),
        ("narrow, pad and gather on [4, 0]", &[4, 0], |x| x.narrow(1, 0, 0).pad_axis(1, 1, 3).gather_rows(&[3, 0]).shift(2.0)),
    ];
    for &(name, dims, f) in cases {
        check_parity(name, dev, |x| f(&x[0]), vec![Tensor::full(dims.to_vec(), 0.5, DType::F64)]);
    }
});

gpu_test!(nan_passes_through_relu_step_max_and_clamps_as_on_the_cpu, |dev| {
    let x = Tensor::from_vec(vec![f64::NAN, -1.0, 0.0, 2.0, 3.0, f64::NAN], [3, 2]);
    type Op = fn(&Tensor) -> Tensor;
    let ops: &[(&str, Op)] = &[
        ("relu", |x| x.relu()),
        ("step", |x| x.step()),
        ("max_axis(0)", |x| x.max_axis(0)),
        ("max_axis(1)", |x| x.max_axis(1)),
        ("clamp", |x| x.clamp(-0.5, 2.5)),
        ("maximum", |x| x.maximum(&x.t().reshape([3, 2]))),
        ("minimum", |x| x.minimum(&x.t().reshape([3, 2]))),
    ];
    for (name, op) in ops {
        let want = op(&x).to_vec_f64();
        assert!(want.iter().any(|v| v.is_nan()), "{name}: the CPU keeps the NaN");
        for dtype in [DType::F32, DType::F64] {
            let got = op(&x.to_dtype(dtype).to_device(dev)).to_vec_f64();
            let same = got.iter().zip(&want).all(|(g, w)| (g.is_nan() && w.is_nan()) || g == w);
            assert!(same, "{name} {dtype} on {dev}: {got:?}, the CPU gives {want:?}");
        }
    }
});

gpu_test!(slices_pads_and_concat_match_the_cpu, |dev| {
    let mut r = rng(6);
    for shape in [[33, 70], [7, 1000], [1, 7]] {
        let x = uniform(&mut r, &shape, -1.0, 1.0);
        let (rows, cols) = (shape[0], shape[1]);
        check_parity(&format!("narrow cols {shape:?}"), dev, |x| x[0].narrow(1, cols / 3, cols - cols / 3).square(), vec![x.clone()]);
        check_parity(&format!("narrow rows {shape:?}"), dev, |x| x[0].narrow(0, rows / 2, rows - rows / 2).square(), vec![x.clone()]);
        check_parity(&format!("pad {shape:?}"), dev, |x| x[0].pad_axis(1, 3, cols + 5).square(), vec![x.clone()]);
        check_parity(&format!("column {shape:?}"), dev, |x| x[0].column(cols - 1).square(), vec![x.clone()]);
        let y = uniform(&mut r, &[rows, 4], -1.0, 1.0);
        check_parity(&format!("concat {shape:?}"), dev, |x| gradgrad::autodiff::concat(&[x[0].clone(), x[1].clone()], 1).square(), vec![x, y]);
    }
});

gpu_test!(gathers_and_their_scatters_match_the_cpu, |dev| {
    let mut r = rng(7);
    let x = uniform(&mut r, &[33, 7], -1.0, 1.0);
    // Repeats and a never-gathered row: the scatter adds and leaves zeros.
    let fixed = vec![0, 32, 5, 5, 0, 17];
    let random: Vec<usize> = (0..1000).map(|_| r.random_range(0..33)).collect();
    for indices in [fixed, random] {
        check_parity(&format!("gather_rows {} rows", indices.len()), dev, |x| x[0].gather_rows(&indices).square(), vec![x.clone()]);
    }
});

gpu_test!(casts_one_hot_noise_and_sampled_rows_match_the_cpu, |dev| {
    let mut r = rng(8);
    let x = uniform(&mut r, &[257, 3], -1.0, 1.0);
    let g = x.to_device(dev);
    for dtype in [DType::F32, DType::F64] {
        let (cpu, gpu) = (x.to_dtype(dtype), g.to_dtype(dtype));
        assert_eq!(gpu.dtype(), dtype);
        assert_eq!(gpu.device(), dev);
        assert_eq!(cpu.to_vec_f64(), gpu.to_vec_f64(), "to_dtype({dtype})");
        let (oc, og) = (cpu.one_hot(1000, 7, |i| (i * 5) % 7), gpu.one_hot(1000, 7, |i| (i * 5) % 7));
        assert_eq!(og.device(), dev, "one_hot is created on the tensor's device");
        assert_eq!(oc.to_vec_f64(), og.to_vec_f64(), "one_hot {dtype}");
        let (fc, fg) = (cpu.full_like([33, 2], 0.25), gpu.full_like([33, 2], 0.25));
        assert_eq!(fg.device(), dev);
        assert_eq!(fc.to_vec_f64(), fg.to_vec_f64(), "full_like {dtype}");
        // Counter-based noise: made on the device, the CPU's numbers bit for bit.
        let (nc, ng) = (cpu.randn_like([1001, 3], 99), gpu.randn_like([1001, 3], 99));
        assert_eq!(ng.device(), dev, "randn_like is created on the tensor's device");
        assert_eq!(ng.to_vec_f64(), nc.to_vec_f64(), "randn_like {dtype}: the same bits on both devices");
        // Minibatch rows picked on the device by the CPU's counter-based indices.
        let (sc, sg) = (cpu.sample_rows(1000, 5), gpu.sample_rows(1000, 5));
        assert_eq!(sg.device(), dev, "sample_rows stays on the tensor's device");
        assert_eq!(sc.to_vec_f64(), sg.to_vec_f64(), "sample_rows {dtype}: the same rows on both devices");
        // Small constants: copied once, then handed out again with no copy.
        let ladder = [1.0, 0.464, 0.215, 0.1];
        let first = gpu.constant_like(&ladder, [4, 1]);
        let before = cuda::transfers();
        let again = gpu.constant_like(&ladder, [4, 1]);
        assert_eq!(cuda::transfers().uploads, before.uploads, "a recurring constant is uploaded once");
        assert_eq!((first.device(), again.to_vec_f64()), (dev, cpu.constant_like(&ladder, [4, 1]).to_vec_f64()), "constant_like {dtype}");
    }
    // Through the other dtype and back: both cast kernels, in both passes.
    let through_other = |x: &[Tensor]| {
        let d = x[0].dtype();
        let other = if d == DType::F32 { DType::F64 } else { DType::F32 };
        x[0].to_dtype(other).square().to_dtype(d)
    };
    check_parity("to_dtype round trip", dev, through_other, vec![x]);
});

gpu_test!(gradients_flow_across_devices, |dev| {
    // x on the CPU, the work on the GPU, the loss back on the CPU: first and
    // second derivatives reach x through both moves.
    let mut r = rng(9);
    let x = uniform(&mut r, &[7, 5], -2.0, 2.0).requires_grad();
    let loss = |x: &Tensor, device: Device| x.to_device(device).sigmoid().square().to_device(Device::Cpu).sum();
    let g_gpu = grad1(&loss(&x, dev), &x, true);
    let g_cpu = grad1(&loss(&x, Device::Cpu), &x, true);
    assert_eq!(g_gpu.device(), Device::Cpu);
    assert!(rel_err(&g_gpu.to_vec_f64(), &g_cpu.to_vec_f64()) <= 1e-12);
    let gg_gpu = grad1(&g_gpu.square().sum(), &x, false);
    let gg_cpu = grad1(&g_cpu.square().sum(), &x, false);
    assert!(rel_err(&gg_gpu.to_vec_f64(), &gg_cpu.to_vec_f64()) <= 1e-12);

    // And the finite-difference checks themselves, run through the device.
    let w = uniform(&mut r, &[3, 4], -1.0, 1.0);
    let f = |xs: &[Tensor]| {
        let on: Vec<Tensor> = xs.iter().map(|t| t.to_device(dev)).collect();
        on[0].matmul(&on[1]).softplus().sum_axis(1).to_device(Device::Cpu)
    };
    let inputs = [uniform(&mut r, &[5, 3], -1.0, 1.0), w];
    let first = gradcheck(f, &inputs, 1e-6);
    assert!(first.passed(), "gradcheck on {dev}: {first}");
    let second = gradgradcheck(f, &inputs, 1e-5);
    assert!(second.passed(), "gradgradcheck on {dev}: {second}");
});

gpu_test!(mixing_devices_in_one_op_panics_with_its_name, |dev| {
    let a = Tensor::ones([3, 3], DType::F64);
    let b = a.to_device(dev);
    for (what, f) in [("add", Box::new(|| &a + &b) as Box<dyn Fn() -> Tensor>), ("matmul", Box::new(|| a.matmul(&b)))] {
        let err = catch_unwind(AssertUnwindSafe(f)).err().unwrap_or_else(|| panic!("{what} across devices did not panic"));
        let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains(what) && msg.contains("different devices"), "{what}: {msg}");
    }
});

gpu_test!(seed_example_gives_the_same_numbers_on_both_devices, |dev| {
    // s(x) = sigmoid(x·Wᵀ + b), W = [[1, 3], [2, 4]], b = 0, x = [1, 1]:
    // tr ∂s/∂x = σ'(4)·1 + σ'(6)·4 ≈ 0.0275.
    let run = |device: Device| {
        let w = Tensor::from_vec(vec![1.0f64, 3.0, 2.0, 4.0], [2, 2]).to_device(device).requires_grad();
        let b = Tensor::zeros([2], DType::F64).to_device(device).requires_grad();
        let x = Tensor::from_vec(vec![1.0f64, 1.0], [1, 2]).to_device(device);
        let score = |x: &Tensor| (x.matmul_t(&w, false, true) + &b).sigmoid();
        let (s, diag) = jacobian_diagonal(score, &x, DiagonalStrategy::Loop, true);
        let trace = diag.sum();
        let loss = &trace + &s.square().sum().scale(0.5);
        let dw = grad(std::slice::from_ref(&loss), &[w.clone(), b.clone()], None, false);
        (trace.item(), loss.item(), dw[0].to_vec_f64(), dw[1].to_vec_f64())
    };
    let (cpu, gpu) = (run(Device::Cpu), run(dev));
    let sp = |z: f64| (1.0 / (1.0 + (-z).exp())) * (1.0 - 1.0 / (1.0 + (-z).exp()));
    assert!((cpu.0 - (sp(4.0) + 4.0 * sp(6.0))).abs() < 1e-15);
    assert!((gpu.0 - 0.0275).abs() < 5e-5, "trace on {dev}: {}", gpu.0);
    assert!((gpu.0 - cpu.0).abs() < 1e-14 && (gpu.1 - cpu.1).abs() < 1e-14, "trace, loss: {:?} vs {:?}", (gpu.0, gpu.1), (cpu.0, cpu.1));
    assert!(rel_err(&gpu.2, &cpu.2) < 1e-12 && rel_err(&gpu.3, &cpu.3) < 1e-12, "∂loss/∂W: {:?} vs {:?}", gpu.2, cpu.2);
});

/// One exact score-matching step of a small MLP: loss = mean(tr ∂s/∂x + ½‖s‖²)
/// with the trace by the batched Jacobian diagonal; returns the loss and the
/// gradients to the weights.
fn score_matching_step(device: Device, dtype: DType, strategy: DiagonalStrategy) -> Vec<Vec<f64>> {
    let (batch, d, hidden) = (7, 20, 33);
    let mut r = rng(10);
    let on = |t: Tensor| t.to_dtype(dtype).to_device(device);
    let w1 = on(uniform(&mut r, &[d, hidden], -0.3, 0.3)).requires_grad();
    let b1 = on(uniform(&mut r, &[hidden], -0.1, 0.1)).requires_grad();
    let w2 = on(uniform(&mut r, &[hidden, d], -0.3, 0.3)).requires_grad();
    let b2 = on(uniform(&mut r, &[d], -0.1, 0.1)).requires_grad();
    let x = on(uniform(&mut r, &[batch, d], -2.0, 2.0));
    let score = |x: &Tensor| (x.matmul(&w1) + &b1).softplus().matmul(&w2) + &b2;
    let (s, diag) = jacobian_diagonal(score, &x, strategy, true);
    let loss = (diag.sum_axis(1) + s.square().sum_axis(1).scale(0.5)).mean();
    let params = [w1, b1, w2, b2];
    let grads = grad(std::slice::from_ref(&loss), &params, None, false);
    let mut out = vec![loss.to_vec_f64()];
    out.extend(grads.iter().map(|g| {
        assert_eq!(g.device(), device);
        g.to_vec_f64()
    }));
    out
}

gpu_test!(score_matching_step_gives_the_same_numbers_on_both_devices, |dev| {
    let reference = score_matching_step(Device::Cpu, DType::F64, DiagonalStrategy::Batched);
    for (device, dtype, strategy, tol) in [
        (dev, DType::F64, DiagonalStrategy::Batched, 1e-10),
        (dev, DType::F64, DiagonalStrategy::Loop, 1e-10),
        (dev, DType::F32, DiagonalStrategy::Batched, 1e-5),
    ] {
        let got = score_matching_step(device, dtype, strategy);
        for (i, (g, r)) in got.iter().zip(&reference).enumerate() {
            let e = rel_err(g, r);
            assert!(e <= tol, "{dtype} {strategy:?} on {device}: {} differs by {e:.3e}", ["loss", "∂W1", "∂b1", "∂W2", "∂b2"][i]);
        }
    }
});

/// The exact objective by the structure-aware trace (the rotated trace through
/// the shared `W₁W_L`) on an MLP of `layers` hidden layers: the loss and its
/// gradients to the weights, on `device` in `dtype`.
fn structured_exact_step(layers: usize, device: Device, dtype: DType) -> Vec<Vec<f64>> {
    use gradgrad::score::{Activation, Mlp, MlpConfig, Objective, ScoreModel, TraceStrategy};
    use rand::{rngs::StdRng, SeedableRng};
    let config = MlpConfig { dim: 20, hidden: 13, hidden_layers: layers, activation: Activation::Softplus, output_activation: None, dtype: DType::F64 };
    let reference = Mlp::new(&config, 5);
    let model = reference.with_parameters(&reference.parameters().iter().map(|p| p.to_dtype(dtype).to_device(device)).collect::<Vec<_>>());
    let x = uniform(&mut rng(13), &[7, 20], -2.0, 2.0).to_dtype(dtype).to_device(device);
    let out = Objective::Exact { strategy: TraceStrategy::StructureAware }.loss(&model, &x, &mut StdRng::seed_from_u64(0)).unwrap();
    let grads = grad(std::slice::from_ref(&out.loss), &model.parameters(), None, false);
    std::iter::once(out.loss.to_vec_f64()).chain(grads.iter().map(Tensor::to_vec_f64)).collect()
}

gpu_test!(the_structure_aware_exact_loss_gives_the_same_numbers_on_both_devices, |dev| {
    for layers in [1, 2, 3] {
        let reference = structured_exact_step(layers, Device::Cpu, DType::F64);
        for (dtype, tol) in [(DType::F64, 1e-10), (DType::F32, 1e-5)] {
            let got = structured_exact_step(layers, dev, dtype);
            for (i, (g, r)) in got.iter().zip(&reference).enumerate() {
                let e = rel_err(g, r);
                assert!(e <= tol, "{layers} hidden layers, {dtype} on {dev}: output {i} (loss, then each parameter's gradient) differs by {e:.3e}");
            }
        }
    }
});

gpu_test!(fused_adam_matches_the_cpu, |dev| {
    use gradgrad::autodiff::{fused::adam_update, AdamStep};
    let mut r = rng(12);
    let h = AdamStep { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, correction1: 1.0 - 0.9f64.powi(3), correction2: 1.0 - 0.999f64.powi(3) };
    for dtype in [DType::F32, DType::F64] {
        for n in [1, 7, 1000] {
            let [p, g, m] = [0, 1, 2].map(|_| uniform(&mut r, &[n], -1.0, 1.0).to_dtype(dtype));
            let v = uniform(&mut r, &[n], 0.0, 1.0).to_dtype(dtype);
            let cpu = adam_update(&p, g.clone(), m.clone(), v.clone(), h);
            let on = |t: &Tensor| t.to_device(dev);
            let gpu = adam_update(&on(&p), on(&g), on(&m), on(&v), h);
            let tol = if dtype == DType::F32 { 1e-6 } else { 1e-14 };
            for (what, c, g) in [("p", &cpu.0, &gpu.0), ("m", &cpu.1, &gpu.1), ("v", &cpu.2, &gpu.2)] {
                assert_eq!(g.device(), dev);
                let e = rel_err(&g.to_vec_f64(), &c.to_vec_f64());
                assert!(e <= tol, "adam {what} {dtype} n={n}: {e:.2e}");
            }
        }
    }
});

gpu_test!(a_training_step_copies_only_its_loss_and_gradient_norm_in_one_read, |dev| {
    // The trainer's step: a minibatch drawn from data uploaded once, perturbed,
    // the loss, its gradients, clipping, Adam, then one read of two scalars.
    use gradgrad::score::optim::{clip_grad_norm, Adam, Optimizer};
    use gradgrad::score::{noise, Activation, Mlp, MlpConfig, Objective, ScoreModel, TraceStrategy};
    use rand::{rngs::StdRng, Rng, SeedableRng};
    let config = MlpConfig { dim: 40, hidden: 24, hidden_layers: 2, activation: Activation::Softplus, output_activation: None, dtype: DType::F32 };
    let data = uniform(&mut rng(11), &[100, 40], 0.0, 1.0).to_dtype(DType::F32).to_device(dev);
    for objective in [
        Objective::Exact { strategy: TraceStrategy::Auto },
        Objective::SsmVr { projections: 1, distribution: Default::default() },
        Objective::Dsm { sigma: 0.1 },
        Objective::AnnealDsm { sigmas: gradgrad::score::geometric_sigmas(1.0, 0.1, 10) },
    ] {
        let mut model = Mlp::new(&config, 3).to_device(dev);
        let mut adam = Adam::new(1e-3);
        let step = |k: u64| {
            let mut rng = StdRng::seed_from_u64(k);
            let x = data.sample_rows(16, rng.random());
            let x = &x + &noise::randn_like(&x, &mut rng).scale(0.1);
            let out = objective.loss(&model, &x, &mut rng).unwrap();
            let params = model.parameters();
            let grads = grad(std::slice::from_ref(&out.loss), &params, None, false);
            let (grads, norm) = clip_grad_norm(grads, Some(1e4));
            model = model.with_parameters(&adam.step(&params, grads));
            let read = Tensor::items([&out.loss, &norm]);
            assert!(read.iter().all(|v| v.is_finite()), "{}: {read:?}", objective.name());
        };
        // The first step uploads its one-hot index lists and noise ladder, kept after.
        assert_the_second_step_copies_two_scalars(objective.name(), step);
    }
});

/// Runs `step(1)`, then counts `step(2)`'s copies: nothing up, one 8-byte read (the loss and the
/// gradient norm, two f32 scalars).
fn assert_the_second_step_copies_two_scalars(name: &str, mut step: impl FnMut(u64)) {
    step(1);
    let before = cuda::transfers();
    step(2);
    let after = cuda::transfers();
    assert_eq!(after.uploads - before.uploads, 0, "{name}: uploads in a step ({before:?} → {after:?})");
    assert_eq!(after.downloads - before.downloads, 1, "{name}: downloads in a step ({before:?} → {after:?})");
    assert_eq!(after.download_bytes - before.download_bytes, 8, "{name}: two f32 scalars");
}

gpu_test!(a_conditional_training_step_with_an_ema_copies_only_its_loss_and_gradient_norm, |dev| {
    // The trainer's default step: the edm-diag model, each image's σ row drawn on the device
    // from a table uploaded once, the loss, clipping, Adam, the EMA, one read of two scalars.
    use gradgrad::score::optim::{clip_grad_norm, Adam, Ema, Optimizer};
    use gradgrad::score::{
        Activation, ConditionalConfig, ConditionalMlp, ConditionalObjective, MlpConfig, Parametrisation, SigmaDistribution, TraceStrategy,
    };
    use rand::{rngs::StdRng, Rng, SeedableRng};
    let mlp = MlpConfig { dim: 40, hidden: 24, hidden_layers: 2, activation: Activation::Silu, output_activation: None, dtype: DType::F32 };
    let config = ConditionalConfig { mlp, parametrisation: Parametrisation::EdmDiagonal { sigma_data: 0.33 }, frequencies: 4, embed_every_layer: true };
    let data = uniform(&mut rng(12), &[100, 40], 0.0, 1.0).to_dtype(DType::F32).to_device(dev);
    let sigmas = SigmaDistribution::LogNormal { mean: -1.9, std: 1.2, min: 0.002, max: 40.0 }.levels();
    for objective in [
        ConditionalObjective::Exact { strategy: TraceStrategy::Auto },
        ConditionalObjective::SsmVr { projections: 1, distribution: Default::default() },
        ConditionalObjective::Dsm,
    ] {
        let fresh = ConditionalMlp::new(&config, 3);
        let mut model = fresh.with_prior(&vec![0.1; 40], &vec![0.05; 40]).to_device(dev);
        let table = model.conditioning.table(&sigmas, &data);
        let (mut adam, mut ema) = (Adam::new(1e-3), Ema::new(0.999));
        let step = |k: u64| {
            let mut rng = StdRng::seed_from_u64(k);
            let x = data.sample_rows(16, rng.random());
            let out = objective.loss(&model, &x, &table, &mut rng).unwrap();
            let params = model.parameters();
            let grads = grad(std::slice::from_ref(&out.loss), &params, None, false);
            let (grads, norm) = clip_grad_norm(grads, Some(100.0));
            model = model.with_parameters(&adam.step(&params, grads));
            ema.update(&model.parameters());
            let read = Tensor::items([&out.loss, &norm]);
            assert!(read.iter().all(|v| v.is_finite()), "{}: {read:?}", objective.name());
        };
        assert_the_second_step_copies_two_scalars(objective.name(), step);
    }
});

gpu_test!(batched_matmul_and_transpose_match_the_cpu, |dev| {
    // Leading axes are batch axes: a shared operand (one big product on the
    // CPU), a per-entry loop, and batch axes that broadcast.
    let mut r = rng(11);
    let cases: &[(&[usize], &[usize], bool, bool)] = &[
        (&[5, 33, 7], &[7, 20], false, false),
        (&[5, 33, 7], &[20, 7], false, true),
        (&[5, 7, 33], &[7, 20], true, false),
        (&[33, 7], &[5, 7, 20], false, false),
        (&[5, 33, 7], &[5, 7, 20], false, false),
        (&[2, 1, 33, 7], &[3, 20, 7], false, true),
    ];
    for &(sa, sb, ta, tb) in cases {
        let (a, b) = (uniform(&mut r, sa, -1.0, 1.0), uniform(&mut r, sb, -1.0, 1.0));
        check_parity(&format!("matmul {sa:?}·{sb:?} ta={ta} tb={tb}"), dev, |x| x[0].matmul_t(&x[1], ta, tb).square(), vec![a, b]);
    }
    check_parity("transpose [5, 33, 7]", dev, |x| x[0].t().square(), vec![uniform(&mut r, &[5, 33, 7], -1.0, 1.0)]);
});

gpu_test!(a_batch_of_cotangents_matches_the_cpu, |dev| {
    // grad with a cotangent [P, *y.shape] through a small MLP: the VJP rules
    // with a leading axis, run on the device, first and second order.
    let mut r = rng(12);
    let (x, w1, w2) = (uniform(&mut r, &[7, 5], -1.0, 1.0), uniform(&mut r, &[5, 9], -1.0, 1.0), uniform(&mut r, &[9, 5], -1.0, 1.0));
    let v = uniform(&mut r, &[4, 7, 5], -1.0, 1.0);
    let run = |device: Device| {
        let on = |t: &Tensor| t.to_device(device).requires_grad();
        let (x, w1, w2, v) = (on(&x), on(&w1), on(&w2), on(&v));
        let y = (x.matmul(&w1).softplus().matmul(&w2) + &x.sum_axis(1).reshape([7, 1])).tanh();
        let g = grad(std::slice::from_ref(&y), &[x.clone(), w1.clone()], Some(std::slice::from_ref(&v)), true);
        assert_eq!((g[0].dims(), g[1].dims()), (&[4, 7, 5][..], &[4, 5, 9][..]));
        let pairing = g[0].square().sum() + g[1].sum();
        let gg = grad(&[pairing], &[x, w1, w2, v], None, false);
        g.iter().chain(&gg).map(Tensor::to_vec_f64).collect::<Vec<_>>()
    };
    for (i, (gpu, cpu)) in run(dev).iter().zip(&run(Device::Cpu)).enumerate() {
        let e = rel_err(gpu, cpu);
        assert!(e <= 1e-10, "batched cotangents on {dev}: result {i} differs by {e:.3e}");
    }
});

// The op profile on the GPU (which waits for the device around each op) counts the same
// ops, input shapes and derivative orders as on the CPU, and its ops fit in its wall time.
gpu_test!(a_profile_counts_the_same_ops_on_both_devices, |dev| {
    let rows = |device: Device| {
        let x = uniform(&mut rng(11), &[64, 64], -1.0, 1.0).to_device(device).requires_grad();
        let ((), p) = gradgrad::autodiff::profile(|| {
            let y = x.matmul_t(&x, false, true).tanh().sum();
            let g = grad1(&y, &x, true);
            let _ = grad1(&g.square().sum(), &x, false);
        });
        assert!(p.ops_time() <= p.wall, "{device}: the ops take longer than the wall time");
        let dims = |shapes: &[Shape]| shapes.iter().map(|s| s.dims().to_vec()).collect::<Vec<_>>();
        let mut rows: Vec<_> = p.rows.iter().map(|r| (r.op.clone(), dims(&r.input_shapes), r.order, r.calls)).collect();
        rows.sort();
        rows
    };
    assert_eq!(rows(dev), rows(Device::Cpu));
});

/// Runs everywhere: detection answers without panicking, consistently.
#[test]
fn detection_never_panics_and_falls_back_to_the_cpu() {
    let first = cuda::availability();
    assert_eq!(first, cuda::availability(), "the probe is cached");
    match first {
        Ok(count) => {
            assert!(count >= 1 && cuda::is_available());
            assert_eq!(Device::cuda_if_available(), Device::Cuda(0));
            let missing = Device::cuda(count).unwrap_err();
            assert!(missing.to_string().contains(&format!("cuda:{count}")), "{missing}");
        }
        Err(e) => {
            assert!(!cuda::is_available());
            assert_eq!(Device::cuda_if_available(), Device::Cpu);
            let err = Device::cuda(0).unwrap_err();
            assert!(err.to_string().starts_with("CUDA requested but unavailable: "), "{err}");
            let _ = writeln!(std::io::stderr(), "cuda_parity: no CUDA device ({}); the GPU tests are skipped", e.reason);
        }
    }
    // Moving to the device a tensor is already on is free and records nothing.
    let x = Tensor::ones([2], DType::F32);
    assert_eq!(x.to_device(Device::Cpu).id(), x.id());
}
