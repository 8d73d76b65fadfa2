//! The tape's contract: what is recorded, when, at which order, and that
//! dropping it frees everything.

// `&[t.clone()]` reads better than `slice::from_ref(&t)`; a tensor clone is a reference count.
#![allow(clippy::cloned_ref_to_slice_refs)]

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use common::{rng, uniform};
use gradgrad::autodiff::{anomaly, detect_anomaly, dump, grad, grad1, grad_with, gradcheck, no_grad, tape, to_dot, DType, GradOptions, Tensor};

#[test]
fn create_graph_false_records_nothing() {
    let x = Tensor::from_vec(vec![0.3f64, -0.2, 0.9], [3]).requires_grad();
    let y = x.tanh().square().sum();
    let before = tape::live_nodes();
    let g = grad1(&y, &x, false);
    assert_eq!(tape::live_nodes(), before, "a plain backward pass must not grow the tape");
    assert!(!g.requires_grad_flag() && !g.is_recorded());
    let g2 = grad1(&y, &x, true);
    assert!(tape::live_nodes() > before, "create_graph records the backward pass");
    assert!(g2.is_recorded() && g2.order() == 1);
}

#[test]
fn no_grad_and_detach_cut_the_graph() {
    let x = Tensor::scalar(1.5, DType::F64).requires_grad();
    let before = tape::live_nodes();
    let y = no_grad(|| x.exp());
    assert!(!y.requires_grad_flag());
    assert_eq!(tape::live_nodes(), before);
    // d/dx [x · detach(x)] = detach(x), not 2x
    let z = &x * &x.detach();
    assert_eq!(grad1(&z, &x, false).item(), 1.5);
}

/// The message `grad` panics with for an unused input, or `None` if it did not panic.
fn unused_input_panic(inputs: &[Tensor]) -> Option<String> {
    let x = inputs[0].clone();
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| grad(&[x.square().sum()], inputs, None, false)));
    result.err().map(|payload| payload.downcast_ref::<String>().cloned().unwrap_or_default())
}

#[test]
fn an_unused_input_is_refused_and_named() {
    let x = Tensor::from_vec(vec![1.0f64, 2.0], [2]).requires_grad();
    let bias = Tensor::from_vec(vec![5.0f64; 3], [3]).requires_grad().named("b2");
    let message = unused_input_panic(&[x.clone(), bias.clone()]).expect("an unused input must panic");
    let expected = format!("grad: `b2` (input 1, id {}, shape [3]) is unused: the outputs were not computed from it", bias.id());
    assert!(message.starts_with(&expected), "{message}");
    assert!(message.contains("allow_unused"), "the message says how to ask for zeros: {message}");

    // Unnamed, the position and the id identify it; a constant is unused too.
    let unnamed = Tensor::from_vec(vec![5.0f64; 3], [3]).requires_grad();
    let message = unused_input_panic(&[x.clone(), x.clone(), unnamed.clone()]).unwrap();
    assert!(message.starts_with(&format!("grad: input 2 (id {}, shape [3]) is unused", unnamed.id())), "{message}");
    let constant = Tensor::from_vec(vec![5.0f64; 2], [2]);
    let message = unused_input_panic(&[x.clone(), constant.clone()]).unwrap();
    assert!(message.starts_with(&format!("grad: input 1 (id {}, shape [2]) is unused: it does not require grad", constant.id())), "{message}");

    // The input the outputs were computed from is used.
    assert!(unused_input_panic(&[x.clone()]).is_none());
}

#[test]
fn allow_unused_gives_unused_inputs_zero_gradients() {
    let x = Tensor::from_vec(vec![1.0f64, 2.0], [2]).requires_grad();
    let unused = Tensor::from_vec(vec![5.0f64; 3], [3]).requires_grad();
    let constant = Tensor::from_vec(vec![5.0f64; 2], [2]);
    let y = x.square().sum();
    let g = grad_with(&[y], &[x.clone(), unused.clone(), constant], None, GradOptions::default().allow_unused());
    assert_eq!(g[0].to_vec_f64(), vec![2.0, 4.0]);
    assert_eq!(g[1].to_vec_f64(), vec![0.0; 3]);
    assert_eq!(g[1].shape(), unused.shape());
    assert_eq!(g[2].to_vec_f64(), vec![0.0; 2]);
    // With create_graph, a used input's gradient is recorded and an unused one's is a constant.
    let g = grad_with(&[x.powi(3).sum()], &[x.clone(), unused.clone()], None, GradOptions::create_graph(true).allow_unused());
    assert!(g[0].is_recorded() && !g[1].requires_grad_flag());
    assert_eq!(grad1(&g[0].sum(), &x, false).to_vec_f64(), vec![6.0, 12.0], "d²/dx² x³ = 6x");
}

/// The second derivative of a function linear in `x` does not depend on `x`:
/// refused by default (it is usually a mistake), zero when allowed.
#[test]
fn the_second_derivative_of_a_linear_function_needs_allow_unused() {
    let x = Tensor::from_vec(vec![1.0f64, 2.0], [2]).requires_grad();
    let w = Tensor::from_vec(vec![3.0f64, -1.0], [2]);
    let dy = grad1(&(&x * &w).sum(), &x, true);
    assert_eq!(dy.to_vec_f64(), vec![3.0, -1.0]);
    let refused = std::panic::catch_unwind(AssertUnwindSafe(|| grad1(&dy.sum(), &x, false)));
    assert!(refused.is_err());
    let d2y = grad_with(&[dy.sum()], &[x.clone()], None, GradOptions::default().allow_unused()).remove(0);
    assert_eq!(d2y.to_vec_f64(), vec![0.0, 0.0]);
}

#[test]
fn a_graph_can_be_differentiated_many_times() {
    let x = Tensor::scalar(2.0, DType::F64).requires_grad();
    let y = x.powi(3);
    for _ in 0..3 {
        assert_eq!(grad1(&y, &x, false).item(), 12.0);
    }
}

#[test]
fn gradient_with_respect_to_an_intermediate_tensor() {
    let x = Tensor::scalar(0.5, DType::F64).requires_grad();
    let h = x.scale(3.0);
    let y = h.square();
    // dy/dh = 2h = 3
    assert_eq!(grad1(&y, &h, false).item(), 3.0);
}

#[test]
fn orders_are_recorded_per_nesting_level() {
    let x = Tensor::scalar(0.4, DType::F64).requires_grad();
    let y = x.sigmoid();
    assert_eq!(y.order(), 0);
    let d1 = grad1(&y, &x, true);
    let d2 = grad1(&d1, &x, true);
    let d3 = grad1(&d2, &x, true);
    assert_eq!((d1.order(), d2.order(), d3.order()), (1, 2, 3));
    let text = dump(&[d3.clone()]);
    assert!(text.contains("order 3"), "{text}");
    let dot = to_dot(&[d3]);
    assert!(dot.starts_with("digraph") && dot.contains("->"));
}

#[test]
fn dropping_the_graph_frees_every_node() {
    let before = tape::live_nodes();
    {
        let x = Tensor::from_vec(vec![0.1f64, 0.2], [1, 2]).requires_grad();
        let w = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], [2, 2]).requires_grad();
        let s = x.matmul(&w).softplus();
        let g = grad(&[s.clone()], &[x.clone()], Some(&[s.ones_like()]), true).remove(0);
        let gg = grad1(&g.sum(), &w, true);
        assert!(tape::live_nodes() > before);
        drop((s, g, gg));
    }
    assert_eq!(tape::live_nodes(), before, "a node outlived its graph: a reference cycle?");
}

#[test]
fn a_thousand_grad_of_grad_training_steps_keep_memory_flat() {
    let mut r = rng(21);
    let x = uniform(&mut r, &[8, 3], -1.0, 1.0);
    let mut w = uniform(&mut r, &[3, 3], -0.5, 0.5);
    let start = tape::live_nodes();
    for step in 0..1000 {
        let wv = w.requires_grad();
        let xv = x.requires_grad();
        let s = xv.matmul(&wv).tanh();
        // a gradient-penalty-style loss: ‖∂(Σs)/∂x‖², needing grad of grad
        let gx = grad1(&s.sum(), &xv, true);
        let loss = gx.square().mean() + s.square().mean();
        let gw = grad1(&loss, &wv, false);
        w = (&w - &gw.scale(0.1)).detach();
        if step % 100 == 0 {
            drop((s, gx, loss));
            assert_eq!(tape::live_nodes(), start, "step {step}: the tape grew");
        }
    }
    assert_eq!(tape::live_nodes(), start);
}

#[test]
#[should_panic(expected = "matmul(a·b): inner dimensions differ, shapes [2, 3] and [4, 5]")]
fn shape_mismatch_names_the_op_and_both_shapes() {
    let a = Tensor::zeros([2, 3], DType::F64);
    let b = Tensor::zeros([4, 5], DType::F64);
    let _ = a.matmul(&b);
}

#[test]
#[should_panic(expected = "add: shapes [2, 3] and [4] do not broadcast")]
fn broadcast_mismatch_names_the_op_and_both_shapes() {
    let _ = Tensor::zeros([2, 3], DType::F64) + Tensor::zeros([4], DType::F64);
}

#[test]
#[should_panic(expected = "dtypes differ")]
fn dtype_mismatch_is_reported() {
    let _ = Tensor::zeros([2], DType::F64) * Tensor::zeros([2], DType::F32);
}

#[test]
fn gradcheck_reports_a_kink_instead_of_panicking() {
    let x = Tensor::from_vec(vec![0.0f64, 1.0], [2]);
    let report = gradcheck(|x| x[0].relu(), &[x], 1e-6);
    assert!(!report.passed());
    let worst = report.worst.unwrap();
    assert_eq!(worst.element, 0);
    assert!((worst.numeric - 0.5).abs() < 1e-9 && worst.analytic == 0.0, "{worst:?}");
}

#[test]
fn anomaly_mode_names_the_first_bad_op_and_its_order() {
    let x = Tensor::from_vec(vec![1.0f64, 0.0], [2]).requires_grad();
    // Forward is finite (log 1 = 0, and 0·log 0 is never formed); the first
    // non-finite value is log(0) = −inf.
    let result = detect_anomaly(|| x.log().sum());
    let anomaly = result.unwrap_err();
    assert_eq!(anomaly.op, "log");
    assert_eq!(anomaly.order, 0);
    assert!(anomaly.inputs_finite);

    // Finite forward, infinite backward: 1/x at x = 1e-200 is 1e200, but its
    // derivative −1/x² overflows. The report says it was born at order 1.
    let y = Tensor::from_vec(vec![1e-200f64, 0.5], [2]).requires_grad();
    let f = y.powi(-1).sum();
    let anomaly = detect_anomaly(|| grad1(&f, &y, true)).unwrap_err();
    assert_eq!(anomaly.op, "powi(-2)");
    assert_eq!(anomaly.order, 1, "{anomaly}");
    assert!(anomaly.inputs_finite);
    assert!(anomaly.to_string().contains("derivative order 1"));
    // Outside the scope, nothing is checked.
    assert!(detect_anomaly(|| x.exp()).is_ok());
}

/// Anomaly mode is scoped like grad mode: a panic inside `detect_anomaly`
/// leaves it off again, and an enclosing scope keeps its own first anomaly.
#[test]
fn anomaly_mode_is_restored_when_its_scope_panics() {
    let x = Tensor::from_vec(vec![0.0f64], [1]).requires_grad();
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        detect_anomaly(|| {
            let _ = x.log(); // recorded as the scope's first anomaly
            panic!("a failure inside the scope");
        })
    }));
    assert!(panicked.is_err());
    assert!(!anomaly::is_enabled(), "anomaly mode stayed on after the panic");
    assert!(detect_anomaly(|| x.exp()).is_ok(), "the panicked scope's anomaly leaked");
    assert!(detect_anomaly(|| x.log()).is_err());

    // Nested: the inner scope panics after its own anomaly; the outer one
    // catches the panic, and still reports its own first anomaly, not the inner one's.
    let outer = detect_anomaly(|| {
        let _ = (&x - &x).powi(-1); // 1/0 = inf: the outer scope's first anomaly
        let inner = catch_unwind(AssertUnwindSafe(|| detect_anomaly(|| {
            let _ = x.log();
            panic!("inner failure");
        })));
        assert!(inner.is_err());
    });
    assert_eq!(outer.unwrap_err().op, "powi(-1)");
}

#[test]
fn gathering_no_rows_differentiates_to_zero() {
    let x = Tensor::from_vec(vec![1.0f64; 6], [2, 3]).requires_grad();
    let none = x.gather_rows(&[]);
    assert_eq!(none.dims(), &[0, 3]);
    let g = grad1(&none.sum(), &x, false);
    assert_eq!(g.to_vec_f64(), vec![0.0; 6]);
}

#[test]
fn sampled_rows_are_the_counter_streams_rows_and_a_constant() {
    use gradgrad::autodiff::backend::counter_rng::uniform_index;
    let data: Vec<f32> = (0..7 * 3).map(|v| v as f32).collect();
    let x = Tensor::from_vec(data, [7, 1, 3]);
    let batch = x.sample_rows(50, 11);
    assert_eq!(batch.dims(), &[50, 1, 3]);
    assert!(!batch.requires_grad_flag() && !batch.is_recorded());
    let values = batch.to_vec_f64();
    for r in 0..50 {
        let row = uniform_index(11, r as u64, 7) as f64;
        assert_eq!(values[r * 3..r * 3 + 3], [3.0 * row, 3.0 * row + 1.0, 3.0 * row + 2.0], "row {r}");
    }
    let drawn: std::collections::BTreeSet<u64> = (0..50).map(|r| uniform_index(11, r, 7)).collect();
    assert_eq!(drawn.len(), 7, "50 draws from 7 rows reach them all");
    assert_ne!(x.sample_rows(50, 12).to_vec_f64(), values, "another seed, another batch");
    assert_eq!(x.sample_rows(0, 11).dims(), &[0, 1, 3]);
}

#[test]
fn constants_take_the_tensors_dtype_and_device() {
    let x = Tensor::from_vec(vec![0.0f32; 2], [2]);
    let ladder = x.constant_like(&[1.0, 0.5, 0.1], [3, 1]);
    assert_eq!((ladder.dims(), ladder.dtype(), ladder.device()), (&[3, 1][..], DType::F32, x.device()));
    assert_eq!(ladder.to_vec_f64(), vec![1.0, 0.5, f64::from(0.1f32)]);
    assert!(!ladder.requires_grad_flag());
    // A noise level per sample, as anneal-dsm draws them: every level turns up.
    let levels = ladder.sample_rows(60, 3).to_vec_f64();
    for level in ladder.to_vec_f64() {
        assert!(levels.contains(&level), "level {level} never drawn in {levels:?}");
    }
}

#[test]
#[should_panic(expected = "sample_rows: the sample is a constant")]
fn sampling_rows_of_a_tensor_that_requires_grad_is_refused() {
    Tensor::from_vec(vec![1.0f64; 6], [2, 3]).requires_grad().sample_rows(4, 0);
}

#[test]
fn several_scalars_are_read_together_in_the_first_ones_dtype() {
    let loss = Tensor::scalar(2.5, DType::F32);
    let norm = Tensor::from_vec(vec![0.1f64], [1, 1]);
    assert_eq!(Tensor::items([&loss, &norm]), [2.5, f64::from(0.1f32)]);
    assert_eq!(Tensor::items([&norm]), [0.1]);
}
