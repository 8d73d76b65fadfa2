//! The noise-conditional model: its rotated trace against the write-up's loop and the batched
//! cotangents (values and weight gradients, f64, 1e-10) at several σ, 1–3 hidden layers, every
//! smooth activation and both parametrisations; its objectives' gradients by finite differences;
//! the samplers on a Gaussian whose score is known.

use autodiff::{grad_with, gradcheck, DType, GradOptions, Tensor};
use rand::{rngs::StdRng, SeedableRng};
use score::{noise, ConditionalConfig, ConditionalMlp, ConditionalObjective, Levels, MlpConfig, Parametrisation, Sampler, TraceStrategy};

fn model(dim: usize, hidden: usize, layers: usize, activation: score::Activation, parametrisation: Parametrisation, every_layer: bool) -> ConditionalMlp {
    let mlp = MlpConfig { dim, hidden, hidden_layers: layers, activation, output_activation: None, dtype: DType::F64 };
    ConditionalMlp::new(&ConditionalConfig { mlp, parametrisation, frequencies: 3, embed_every_layer: every_layer }, 7)
}

/// The smooth activations a score network trains with (the trace is differentiated again).
const ACTIVATIONS: [score::Activation; 3] = [score::Activation::Softplus, score::Activation::Silu, score::Activation::Tanh];

const PARAMETRISATIONS: [Parametrisation; 3] =
    [Parametrisation::Ncsn, Parametrisation::Edm { sigma_data: 0.5 }, Parametrisation::EdmDiagonal { sigma_data: 0.5 }];

/// A Gaussian skip away from its initial values, so its gradients are tested at a general point.
fn with_some_prior(m: ConditionalMlp) -> ConditionalMlp {
    if m.prior.is_none() {
        return m;
    }
    let d = m.dim();
    let mean: Vec<f64> = (0..d).map(|i| 0.1 * i as f64 - 0.2).collect();
    let variance: Vec<f64> = (0..d).map(|i| 0.05 + 0.1 * i as f64).collect();
    m.with_prior(&mean, &variance)
}

fn assert_close(a: &[f64], b: &[f64], tol: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{what}: element {i}: {x} vs {y}");
    }
}

/// Per-sample traces and the gradients of a weighted sum of them with respect to every parameter.
fn trace_and_grads(m: &ConditionalMlp, x: &Tensor, levels: &Levels, strategy: TraceStrategy) -> (Vec<f64>, Vec<f64>, Vec<Vec<f64>>) {
    let (score, trace) = m.score_and_trace(x, levels, strategy, true).unwrap();
    let weights = Tensor::from_vec((0..trace.numel()).map(|i| 1.0 + 0.25 * i as f64).collect::<Vec<f64>>(), [trace.numel()]);
    // The output bias shifts the score but not its Jacobian: its gradient is zero.
    let grads = grad_with(&[(&trace * &weights).sum()], &m.parameters(), None, GradOptions::default().allow_unused());
    (trace.to_vec_f64(), score.to_vec_f64(), grads.iter().map(Tensor::to_vec_f64).collect())
}

#[test]
fn the_rotated_trace_of_the_conditional_model_equals_loop_and_batched() {
    let sigmas = [0.01, 0.3, 2.0, 15.0];
    for parametrisation in PARAMETRISATIONS {
        for layers in 1..=3 {
            // Width 3 < D = 5 takes the rotated route at every depth; 7 falls back to the diagonal at 3 layers.
            for hidden in [3, 7] {
                for activation in ACTIVATIONS {
                    let m = with_some_prior(model(5, hidden, layers, activation, parametrisation, layers % 2 == 1));
                    let x = noise::randn([sigmas.len(), 5], DType::F64, &mut StdRng::seed_from_u64(layers as u64));
                    let levels = Levels(m.conditioning.table(&sigmas, &x));
                    let (loop_trace, loop_score, loop_grads) = trace_and_grads(&m, &x, &levels, TraceStrategy::Loop);
                    for strategy in [TraceStrategy::Batched, TraceStrategy::StructureAware] {
                        let what = format!("{parametrisation} {layers}×{hidden} {activation} {strategy}");
                        let (trace, score, grads) = trace_and_grads(&m, &x, &levels, strategy);
                        assert_close(&trace, &loop_trace, 1e-10, &format!("{what}: trace"));
                        assert_close(&score, &loop_score, 1e-12, &format!("{what}: score"));
                        for (p, (g, r)) in grads.iter().zip(&loop_grads).enumerate() {
                            assert_close(g, r, 1e-10, &format!("{what}: ∂/∂param {p}"));
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn one_level_for_the_whole_batch_broadcasts() {
    let m = model(5, 4, 2, score::Activation::Silu, Parametrisation::Edm { sigma_data: 0.5 }, true);
    let x = noise::randn([3, 5], DType::F64, &mut StdRng::seed_from_u64(1));
    let one = m.level(0.7, &x);
    let each = Levels(m.conditioning.table(&[0.7, 0.7, 0.7], &x));
    let (s1, t1) = m.score_and_trace(&x, &one, TraceStrategy::Auto, false).unwrap();
    let (s3, t3) = m.score_and_trace(&x, &each, TraceStrategy::Loop, false).unwrap();
    assert_close(&s1.to_vec_f64(), &s3.to_vec_f64(), 1e-13, "score");
    assert_close(&t1.to_vec_f64(), &t3.to_vec_f64(), 1e-10, "trace");
}

#[test]
fn the_edm_score_is_the_denoiser_residual_over_sigma_squared() {
    // With F ≡ 0 (zero output layer) D = c_skip·x, so s = (c_skip − 1)·x/σ² = −x/(σ² + σ_d²).
    let m = model(4, 3, 1, score::Activation::Softplus, Parametrisation::Edm { sigma_data: 0.5 }, true);
    let mut params = m.parameters();
    params[2] = params[2].zeros_like();
    params[3] = params[3].zeros_like();
    let m = m.with_parameters(&params);
    let x = noise::randn([2, 4], DType::F64, &mut StdRng::seed_from_u64(3));
    let sigma: f64 = 0.2;
    let s = m.score(&x, &m.level(sigma, &x)).to_vec_f64();
    let expected: Vec<f64> = x.to_vec_f64().iter().map(|v| -v / (sigma * sigma + 0.25)).collect();
    assert_close(&s, &expected, 1e-14, "F ≡ 0");
}

/// `m` with `params` as they are (not detached), so gradcheck differentiates through them.
fn rebuilt(m: &ConditionalMlp, params: &[Tensor]) -> ConditionalMlp {
    let count = m.net.layers.len();
    let layers = params[..2 * count].chunks(2).map(|p| score::Linear { weight: p[0].clone(), bias: p[1].clone() }).collect();
    let net = score::Mlp { layers, activation: m.net.activation, output_activation: None };
    let embed_end = 2 * count + m.embeddings.len();
    let prior = m.prior.as_ref().map(|_| score::conditional::DiagonalGaussian { mean: params[embed_end].clone(), log_variance: params[embed_end + 1].clone() });
    ConditionalMlp { net, embeddings: params[2 * count..embed_end].to_vec(), conditioning: m.conditioning.clone(), prior }
}

#[test]
fn the_diagonal_gaussian_skip_at_its_start_is_plain_edm() {
    // μ = 0 and v = σ_d² make (μ − x)/(v + σ²) = −x/(σ² + σ_d²), EDM's skip.
    let sd = 0.4;
    let plain = model(4, 3, 2, score::Activation::Silu, Parametrisation::Edm { sigma_data: sd }, true);
    let diagonal = model(4, 3, 2, score::Activation::Silu, Parametrisation::EdmDiagonal { sigma_data: sd }, true);
    let x = noise::randn([3, 4], DType::F64, &mut StdRng::seed_from_u64(2));
    let levels = Levels(plain.conditioning.table(&[0.02, 0.5, 4.0], &x));
    let (s1, t1) = plain.score_and_trace(&x, &levels, TraceStrategy::Auto, false).unwrap();
    let (s2, t2) = diagonal.score_and_trace(&x, &levels, TraceStrategy::Auto, false).unwrap();
    assert_close(&s2.to_vec_f64(), &s1.to_vec_f64(), 1e-12, "score");
    assert_close(&t2.to_vec_f64(), &t1.to_vec_f64(), 1e-12, "trace");
}

#[test]
fn every_conditional_objective_has_finite_difference_gradients() {
    let objectives = [
        ConditionalObjective::Dsm,
        ConditionalObjective::Exact { strategy: TraceStrategy::Auto },
        ConditionalObjective::SsmVr { projections: 2, distribution: score::Projection::Gaussian },
    ];
    for parametrisation in PARAMETRISATIONS {
        for objective in &objectives {
            let m = with_some_prior(model(3, 4, 2, score::Activation::Tanh, parametrisation, true));
            let x = noise::randn([4, 3], DType::F64, &mut StdRng::seed_from_u64(9));
            let table = m.conditioning.table(&[0.05, 0.5, 3.0], &x);
            let loss = |params: &[Tensor]| {
                let mut rng = StdRng::seed_from_u64(5); // the same σ, ε and v at every evaluation
                objective.loss(&rebuilt(&m, params), &x, &table, &mut rng).unwrap().loss
            };
            let report = gradcheck(loss, &m.parameters(), 1e-6);
            assert!(report.passed(), "{parametrisation} {objective}: {report:?}");
        }
    }
}

#[test]
fn exact_and_dsm_agree_in_expectation_up_to_a_constant() {
    // Hyvärinen: E[tr ∂s/∂x̃ + ½‖s‖²] = E[½‖s + ε/σ‖²] − E[½‖ε/σ‖²] at every σ. Per sample,
    // with one σ for all: the difference of the two losses is −½·D/σ²·w(σ) in expectation.
    let m = model(3, 5, 1, score::Activation::Softplus, Parametrisation::Ncsn, true);
    let x = noise::randn([20_000, 3], DType::F64, &mut StdRng::seed_from_u64(11)).scale(0.5);
    let sigma: f64 = 0.4;
    let table = m.conditioning.table(&[sigma], &x);
    let value = |o: ConditionalObjective| o.loss(&m, &x, &table, &mut StdRng::seed_from_u64(1)).unwrap().loss.item();
    let exact = value(ConditionalObjective::Exact { strategy: TraceStrategy::Auto });
    let dsm = value(ConditionalObjective::Dsm);
    let constant = 0.5 * 3.0 / (sigma * sigma) * sigma * sigma; // w(σ) = σ² for NCSN
    assert!((dsm - constant - exact).abs() < 0.05 * (1.0 + exact.abs()), "dsm {dsm}, exact {exact}, constant {constant}");
}

#[test]
fn every_sampler_draws_a_gaussian_from_its_exact_score() {
    // Data N(μ, τ²I): at level σ the perturbed density is N(μ, (τ² + σ²)I), with score
    // −(x − μ)/(τ² + σ²). Each sampler, from N(0, σ_max²I), must return mean μ and spread τ.
    let (mu, tau) = (0.3f64, 0.2f64);
    let score = |x: &Tensor, sigma: f64| x.shift(-mu).scale(-1.0 / (tau * tau + sigma * sigma));
    let ladder = score::geometric_sigmas(10.0, 0.01, 20);
    let samplers = [
        Sampler::AnnealedLangevin { sigmas: ladder.clone(), steps_per_level: 30, epsilon: 2e-5 },
        Sampler::ReverseSde { sigmas: score::geometric_sigmas(10.0, 0.01, 200), corrector: None },
        Sampler::ReverseSde { sigmas: score::geometric_sigmas(10.0, 0.01, 200), corrector: Some(score::Corrector { steps: 1, snr: 0.16 }) },
        Sampler::Heun { sigmas: score::edm_sigmas(10.0, 0.01, 30, 7.0) },
        Sampler::HeunChurn { sigmas: score::edm_sigmas(10.0, 0.01, 60, 7.0), gamma: 0.41, churn_min: 0.02 },
    ];
    for sampler in &samplers {
        let mut rng = StdRng::seed_from_u64(4);
        let x0 = noise::randn([4000, 4], DType::F64, &mut rng).scale(10.0);
        let x = sampler.run(&score, &x0, &mut rng).to_vec_f64();
        let mean = x.iter().sum::<f64>() / x.len() as f64;
        let std = (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
        // The last denoising step shrinks the spread to τ²/√(τ² + σ_min²)... ≈ τ.
        assert!((mean - mu).abs() < 0.02 && (std - tau).abs() < 0.02, "{sampler}: mean {mean}, std {std}");
    }
}
