//! The sliced objectives and Hutchinson's estimator are unbiased: averaged
//! over many projections, they match the exact loss within a confidence bound
//! computed from their own sample variance.

use autodiff::{DType, Tensor};
use rand::{rngs::StdRng, SeedableRng};
use score::{exact_loss_value, noise, Activation, Mlp, MlpConfig, Objective, Projection, ScoreModel, TraceStrategy};

fn setup() -> (Mlp, Tensor) {
    let config = MlpConfig { dim: 4, hidden: 8, hidden_layers: 1, activation: Activation::Tanh, output_activation: None, dtype: DType::F64 };
    (Mlp::new(&config, 11), noise::randn([3, 4], DType::F64, &mut StdRng::seed_from_u64(12)))
}

/// Mean and standard error of `n` independent draws of the objective.
fn estimate(objective: &Objective, model: &Mlp, x: &Tensor, n: usize, seed: u64) -> (f64, f64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let draws: Vec<f64> = (0..n).map(|_| objective.loss(model, x, &mut rng).unwrap().value().unwrap()).collect();
    let mean = draws.iter().sum::<f64>() / n as f64;
    let var = draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (mean, (var / n as f64).sqrt())
}

#[test]
fn ssm_ssm_vr_and_hutchinson_are_unbiased() {
    let (model, x) = setup();
    let exact = exact_loss_value(&model, &x, TraceStrategy::Loop).unwrap();
    // SSM's ½(vᵀs)² has expectation ½‖s‖² too, so both match the exact loss.
    for distribution in [Projection::Gaussian, Projection::Rademacher, Projection::Sphere] {
        for objective in [
            Objective::Ssm { projections: 4, distribution },
            Objective::SsmVr { projections: 4, distribution },
            Objective::Hutchinson { projections: 4, distribution },
        ] {
            let (mean, stderr) = estimate(&objective, &model, &x, 400, 99);
            assert!(stderr > 0.0, "{objective}: no variance at all?");
            // 4 standard errors: a false alarm about once in 16,000 runs (fixed seeds: never).
            assert!((mean - exact).abs() < 4.0 * stderr, "{objective} {distribution:?}: {mean} ± {stderr} vs exact {exact}");
        }
    }
}

#[test]
fn hutchinson_reports_a_variance_that_matches_the_spread_of_its_estimates() {
    let (model, x) = setup();
    let mut rng = StdRng::seed_from_u64(5);
    let out = Objective::Hutchinson { projections: 64, distribution: Projection::Gaussian }.loss(&model, &x, &mut rng).unwrap();
    let reported = out.trace_variance.expect("hutchinson reports a variance").item();
    // For Gaussian v, Var(vᵀJv) = ‖J‖_F² + tr(J²) = 2‖sym(J)‖_F²: compute it per sample.
    let expected: f64 = (0..3)
        .map(|b| {
            let xb = x.narrow(0, b, 1);
            let j = autodiff::jacobian(|x| model.score(x), &xb, false).to_vec_f64();
            let mut sym = 0.0;
            for r in 0..4 {
                for c in 0..4 {
                    sym += (0.5 * (j[r * 4 + c] + j[c * 4 + r])).powi(2);
                }
            }
            2.0 * sym
        })
        .sum::<f64>()
        / 3.0;
    // A variance from 64 draws is within about ±35% (χ² with 63 degrees of freedom, ~3σ).
    assert!((reported / expected - 1.0).abs() < 0.35, "reported {reported}, expected {expected}");
    assert!(Objective::Hutchinson { projections: 1, distribution: Projection::Rademacher }.loss(&model, &x, &mut rng).unwrap().trace_variance.is_none());
}
