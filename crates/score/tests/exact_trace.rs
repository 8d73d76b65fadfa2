//! Every exact trace strategy against closed forms and against each other,
//! values and weight gradients, in f64.

use autodiff::{grad, grad_with, gradcheck, DType, GradOptions, Tensor};
use rand::{rngs::StdRng, SeedableRng};
use score::{noise, score_and_diagonal, score_and_trace, structured_trace, Activation, Linear, Mlp, MlpConfig, Objective, ScoreError, ScoreModel, TraceStrategy};

const STRATEGIES: [TraceStrategy; 3] = [TraceStrategy::Loop, TraceStrategy::Batched, TraceStrategy::StructureAware];

fn mlp(dim: usize, hidden: usize, layers: usize, activation: Activation, output: Option<Activation>, seed: u64) -> Mlp {
    Mlp::new(&MlpConfig { dim, hidden, hidden_layers: layers, activation, output_activation: output, dtype: DType::F64 }, seed)
}

fn batch(b: usize, d: usize, seed: u64) -> Tensor {
    noise::randn([b, d], DType::F64, &mut StdRng::seed_from_u64(seed))
}

fn assert_close(a: &[f64], b: &[f64], tol: f64, what: &str) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{what}: element {i}: {x} vs {y}");
    }
}

fn trace_and_grads(model: &Mlp, x: &Tensor, strategy: TraceStrategy) -> (Vec<f64>, Vec<Vec<f64>>) {
    let d = score_and_diagonal(model, x, strategy, true).unwrap();
    assert_eq!(d.strategy, strategy);
    let per_sample = d.diagonal.sum_axis(1);
    // The output bias shifts the score but not its Jacobian: its gradient is zero.
    let grads = grad_with(&[per_sample.sum()], &model.parameters(), None, GradOptions::default().allow_unused());
    (per_sample.to_vec_f64(), grads.iter().map(Tensor::to_vec_f64).collect())
}

#[test]
fn one_hidden_layer_every_strategy_equals_the_closed_form() {
    let (b, d, h) = (4, 6, 9);
    for activation in [Activation::Softplus, Activation::Sigmoid, Activation::Tanh] {
        let model = mlp(d, h, 1, activation, None, 1);
        let x = batch(b, d, 2);
        // tr(W₂ diag(σ'(h)) W₁) = Σⱼ σ'(hⱼ)(W₁W₂)ⱼⱼ, with W₁: [H, D], W₂: [D, H].
        let (w1, b1, w2) = (&model.layers[0].weight, &model.layers[0].bias, &model.layers[1].weight);
        let closed_form = |w1: &Tensor, b1: &Tensor, w2: &Tensor| {
            let pre = x.matmul_t(w1, false, true) + b1;
            let slope = activation.derivative(&pre, &activation.apply(&pre));
            let w1w2_diag = (w1 * &w2.t()).sum_axis(1); // (W₁W₂)ⱼⱼ = Σ_d W₁[j,d]W₂[d,j]
            (&slope * &w1w2_diag).sum_axis(1)
        };
        let reference = closed_form(w1, b1, w2);
        let ref_grads: Vec<Vec<f64>> = grad(&[reference.sum()], &[w1.clone(), b1.clone(), w2.clone()], None, false).iter().map(Tensor::to_vec_f64).collect();
        for strategy in STRATEGIES {
            let (values, grads) = trace_and_grads(&model, &x, strategy);
            let what = format!("{activation} {strategy}");
            assert_close(&values, &reference.to_vec_f64(), 1e-10, &format!("{what} trace"));
            assert_close(&grads[0], &ref_grads[0], 1e-10, &format!("{what} ∂/∂W₁"));
            assert_close(&grads[1], &ref_grads[1], 1e-10, &format!("{what} ∂/∂b₁"));
            assert_close(&grads[2], &ref_grads[2], 1e-10, &format!("{what} ∂/∂W₂"));
            assert!(grads[3].iter().all(|&g| g == 0.0), "the output bias does not enter the trace");
        }
    }
}

#[test]
fn three_layers_structure_aware_and_batched_equal_the_loop_values_and_gradients() {
    let (b, d, h) = (3, 5, 7);
    for output in [None, Some(Activation::Sigmoid)] {
        let model = mlp(d, h, 3, Activation::Tanh, output, 3);
        let x = batch(b, d, 4);
        let (loop_values, loop_grads) = trace_and_grads(&model, &x, TraceStrategy::Loop);
        for strategy in [TraceStrategy::StructureAware, TraceStrategy::Batched] {
            let (values, grads) = trace_and_grads(&model, &x, strategy);
            assert_close(&values, &loop_values, 1e-10, &format!("3-layer trace, {strategy}"));
            for (p, (g, r)) in grads.iter().zip(&loop_grads).enumerate() {
                assert_close(g, r, 1e-10, &format!("3-layer ∂trace/∂param {p} ({output:?}), {strategy}"));
            }
        }
    }
}

#[test]
fn the_structure_aware_trace_alone_equals_the_loops_diagonal_sum_at_every_depth() {
    // Hidden width 3 < D = 5 takes the shared-W₁W_L route at every depth; 7 > 5 falls back to
    // the diagonal's row sums from three hidden layers on, as does any output activation.
    let (b, d) = (3, 5);
    for (h, layers) in [3, 7].into_iter().flat_map(|h| (1..=4).map(move |l| (h, l))) {
        for output in [None, Some(Activation::Sigmoid)] {
            let model = mlp(d, h, layers, Activation::Softplus, output, 10 + layers as u64);
            let x = batch(b, d, 11);
            let (loop_values, loop_grads) = trace_and_grads(&model, &x, TraceStrategy::Loop);
            let t = score_and_trace(&model, &x, TraceStrategy::Auto, true).unwrap();
            assert_eq!(t.strategy, TraceStrategy::StructureAware);
            let what = format!("{layers} hidden layers of {h} ({output:?})");
            assert_close(&t.score.to_vec_f64(), &model.score(&x).to_vec_f64(), 1e-14, &format!("{what}: score"));
            assert_close(&t.trace.to_vec_f64(), &loop_values, 1e-10, &format!("{what}: trace"));
            // The output bias does not enter the trace: its gradient is zero.
            let grads = grad_with(&[t.trace.sum()], &model.parameters(), None, GradOptions::default().allow_unused());
            for (p, (g, r)) in grads.iter().zip(&loop_grads).enumerate() {
                assert_close(&g.to_vec_f64(), r, 1e-10, &format!("{what}: ∂trace/∂param {p}"));
            }
        }
    }
}

#[test]
fn the_structure_aware_traces_weight_gradients_match_finite_differences() {
    for layers in [1, 2, 3] {
        let model = mlp(4, 3, layers, Activation::Tanh, None, 20);
        let x = batch(2, 4, 21);
        // The network rebuilt around gradcheck's inputs as they are (with_parameters would detach them).
        let rebuilt = |p: &[Tensor]| Mlp { layers: p.chunks(2).map(|wb| Linear { weight: wb[0].clone(), bias: wb[1].clone() }).collect(), ..model.clone() };
        let report = gradcheck(|p| structured_trace(&rebuilt(p), &x).1, &model.parameters(), 1e-7);
        assert!(report.passed(), "{layers} hidden layers: {report:?}");
    }
}

#[test]
fn the_write_ups_toy_numbers_through_the_exact_objective() {
    // Linear(2,2), W = [[1,3],[2,4]], b = 0, then sigmoid, at x = [1,1]: an
    // MLP with no hidden layer is not an Mlp here, so express it as a model.
    struct Toy {
        w: Tensor,
        b: Tensor,
    }
    impl ScoreModel for Toy {
        fn dim(&self) -> usize {
            2
        }
        fn score(&self, x: &Tensor) -> Tensor {
            (x.matmul_t(&self.w, false, true) + &self.b).sigmoid()
        }
        fn parameters(&self) -> Vec<Tensor> {
            vec![self.w.clone(), self.b.clone()]
        }
    }
    let toy = Toy { w: Tensor::from_vec(vec![1.0f64, 3.0, 2.0, 4.0], [2, 2]).requires_grad(), b: Tensor::zeros([2], DType::F64).requires_grad() };
    let x = Tensor::from_vec(vec![1.0f64, 1.0], [1, 2]);
    let round4 = |v: f64| (v * 1e4).round() / 1e4;
    for strategy in [TraceStrategy::Loop, TraceStrategy::Batched, TraceStrategy::Auto] {
        let d = score_and_diagonal(&toy, &x, strategy, true).unwrap();
        let s = d.score.to_vec_f64();
        let diag = d.diagonal.to_vec_f64();
        assert_eq!((round4(s[0]), round4(s[1])), (0.9820, 0.9975));
        assert_eq!((round4(diag[0]), round4(diag[1])), (0.0177, 0.0099));
        assert_eq!(round4(diag[0] + diag[1]), 0.0275);
        let loss = Objective::Exact { strategy }.loss(&toy, &x, &mut StdRng::seed_from_u64(0)).unwrap();
        let expected = diag[0] + diag[1] + 0.5 * (s[0] * s[0] + s[1] * s[1]);
        assert!((loss.loss.item() - expected).abs() < 1e-15);
    }
    // Not an Mlp: the structure-aware strategy refuses, naming why, and Auto falls back visibly.
    match score_and_diagonal(&toy, &x, TraceStrategy::StructureAware, true) {
        Err(ScoreError::NotApplicable { reason, .. }) => assert!(reason.contains("not an Mlp")),
        other => panic!("expected NotApplicable, got {:?}", other.map(|d| d.strategy)),
    }
    assert_eq!(score_and_diagonal(&toy, &x, TraceStrategy::Auto, true).unwrap().strategy, TraceStrategy::Batched);

    // The same toy as an Mlp with an output activation and a hidden layer of identity is not
    // expressible; but a 1-hidden-layer Mlp whose output is sigmoid is, and agrees with the loop.
    let model = mlp(2, 3, 1, Activation::Softplus, Some(Activation::Sigmoid), 5);
    let xs = batch(4, 2, 6);
    let a = score_and_diagonal(&model, &xs, TraceStrategy::Loop, false).unwrap().diagonal.to_vec_f64();
    let b = score_and_diagonal(&model, &xs, TraceStrategy::StructureAware, false).unwrap().diagonal.to_vec_f64();
    assert_close(&b, &a, 1e-12, "output activation");
}

#[test]
fn objectives_check_dimensions_and_name_themselves() {
    let model = mlp(3, 4, 1, Activation::Softplus, None, 7);
    let x = batch(2, 5, 8);
    let mut rng = StdRng::seed_from_u64(1);
    for objective in [Objective::Exact { strategy: TraceStrategy::Auto }, Objective::Dsm { sigma: 0.1 }] {
        match objective.loss(&model, &x, &mut rng) {
            Err(e @ ScoreError::DimensionMismatch { .. }) => {
                assert!(e.to_string().starts_with(objective.name()), "{e}");
                assert!(e.to_string().contains("R^3") && e.to_string().contains("dimension 5"), "{e}");
            }
            Err(e) => panic!("wrong error: {e}"),
            Ok(_) => panic!("a dimension mismatch was accepted"),
        }
    }
}

#[test]
fn non_finite_losses_are_reported_with_the_objective_name() {
    let model = mlp(2, 3, 1, Activation::Softplus, None, 9);
    let x = Tensor::from_vec(vec![f64::NAN, 0.0], [1, 2]);
    let out = Objective::SsmVr { projections: 1, distribution: score::Projection::Gaussian }.loss(&model, &x, &mut StdRng::seed_from_u64(0)).unwrap();
    match out.value() {
        Err(ScoreError::NonFinite { objective, value }) => assert!(objective == "ssm-vr" && value.is_nan()),
        _ => panic!("NaN input gave a finite loss"),
    }
}
