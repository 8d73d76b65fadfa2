//! Score-matching objectives for a noise-conditional model `s(x, σ)`.
//!
//! Each sample draws its own level σ (a row of the training table, on the device), is
//! perturbed to `x̃ = x + σε`, and contributes `w(σ)·ℓ(x̃, σ)`:
//!
//! | objective | `ℓ(x̃, σ)` | estimates |
//! | --- | --- | --- |
//! | `Dsm` | `½‖s(x̃, σ) + ε/σ‖²` | Fisher divergence to `p_σ`, up to a constant (Vincent) |
//! | `Exact` | `tr(∂s/∂x̃) + ½‖s(x̃, σ)‖²` | the same, exactly, with no ε in it (Hyvärinen on `p_σ`) |
//! | `SsmVr` | `vᵀ∂(vᵀs)/∂x̃ + ½‖s‖²` | the same, the trace by random projections |
//!
//! Hyvärinen's identity holds at every σ separately (`x̃` is a sample of `p_σ`), so all three
//! have the same minimiser and, with the same weight `w(σ)` ([`Levels::weight`]), the same
//! gradient in expectation. The Jacobian is with respect to `x̃` only: σ is a constant input.

use std::fmt;

use autodiff::Tensor;
use rand::{rngs::StdRng, Rng};

use crate::conditional::{ConditionalMlp, Levels};
use crate::error::ScoreError;
use crate::noise;
use crate::objectives::{projected_jacobian, repeat_rows, LossOutput, Projection};
use crate::trace::TraceStrategy;

/// The objectives of a noise-conditional model, each at the σ drawn per sample and weighted by EDM's `λ(σ)`.
#[derive(Clone, Debug, PartialEq)]
pub enum ConditionalObjective {
    /// Denoising score matching: `‖s(x + σε, σ) + ε/σ‖²`.
    Dsm,
    /// Hyvärinen's loss for the density perturbed at σ: `tr ∂s/∂x + ½‖s‖²`, the trace exact.
    Exact {
        /// How the trace is computed.
        strategy: TraceStrategy,
    },
    /// Sliced score matching, variance reduced: `vᵀ∂(vᵀs)/∂x + ½‖s‖²`.
    SsmVr {
        /// Random projections per sample.
        projections: usize,
        /// The distribution of the projections.
        distribution: Projection,
    },
}

impl fmt::Display for ConditionalObjective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl ConditionalObjective {
    /// The objective's name on the command line (`dsm`, `exact`, `ssm-vr`).
    pub fn name(&self) -> &'static str {
        match self {
            ConditionalObjective::Dsm => "dsm",
            ConditionalObjective::Exact { .. } => "exact",
            ConditionalObjective::SsmVr { .. } => "ssm-vr",
        }
    }

    /// The weighted loss on clean batch `x` `[B, D]`, each sample at a level drawn from the rows
    /// of `table` ([`crate::NoiseConditioning::table`]), recorded for training.
    pub fn loss(&self, model: &ConditionalMlp, x: &Tensor, table: &Tensor, rng: &mut StdRng) -> Result<LossOutput, ScoreError> {
        let b = x.dims()[0];
        let levels = Levels(table.sample_rows(b, rng.random()));
        let eps = noise::randn_like(x, rng);
        let sigma = levels.sigma();
        let noisy = x + &(&eps * &sigma);
        let (per_sample, weight, strategy) = match self {
            ConditionalObjective::Dsm => {
                let residual = &model.score(&noisy, &levels) + &(&eps / &sigma);
                (residual.square().sum_axis(1).scale(0.5), levels.weight(), None)
            }
            ConditionalObjective::Exact { strategy } => {
                let (score, trace) = model.score_and_trace(&noisy, &levels, *strategy, true)?;
                (&trace + &score.square().sum_axis(1).scale(0.5), levels.weight(), Some(*strategy))
            }
            ConditionalObjective::SsmVr { projections, distribution } => {
                assert!(*projections >= 1, "ssm-vr: needs at least one projection");
                // The batch repeated once per projection, each copy with its own v.
                let noisy = repeat_rows(&noisy, *projections).requires_grad();
                let levels = Levels(repeat_rows(&levels.0, *projections));
                let v = distribution.sample(noisy.dims()[0], noisy.dims()[1], &noisy, rng);
                let score = model.score(&noisy, &levels);
                let vjv = projected_jacobian(&score.row_dot(&v), &noisy, &v);
                (&vjv + &score.square().sum_axis(1).scale(0.5), levels.weight(), None)
            }
        };
        let rows = per_sample.dims()[0];
        let loss = (&per_sample * &weight).sum().scale(1.0 / rows as f64);
        Ok(LossOutput { loss, objective: self.name(), strategy, trace_variance: None })
    }
}

/// The exact score-matching loss at one level σ without recording: the mean over the rows of
/// `x` (samples of `p_σ`) of `tr(∂s/∂x) + ½‖s(x, σ)‖²`. Held-out evaluation.
pub fn conditional_exact_loss_value(model: &ConditionalMlp, x: &Tensor, sigma: f64) -> Result<f64, ScoreError> {
    let levels = model.level(sigma, x);
    let (score, trace) = autodiff::no_grad(|| model.score_and_trace(x, &levels, TraceStrategy::Auto, false))?;
    let total = trace.sum().item() + 0.5 * score.square().sum().item();
    Ok(total / x.dims()[0] as f64)
}
