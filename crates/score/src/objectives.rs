//! Score-matching objectives: each returns a differentiable scalar loss for a
//! batch `x` of shape `[B, D]`.
//!
//! | objective | per-sample loss | second derivative? |
//! | --- | --- | --- |
//! | `Exact` | `tr(∂s/∂x) + ½‖s‖²` (Hyvärinen) | yes, exact |
//! | `Ssm` | `vᵀ∂(vᵀs)/∂x + ½(vᵀs)²` (sliced) | yes, one VJP per projection |
//! | `SsmVr` | `vᵀ∂(vᵀs)/∂x + ½‖s‖²` (sliced, variance reduced) | yes |
//! | `Hutchinson` | `SsmVr`, reporting the trace estimate's variance | yes |
//! | `Dsm` | `½‖s(x + σε) + ε/σ‖²` (denoising) | no |
//! | `AnnealDsm` | `½σ²‖s(x̃)/σ + ε/σ‖² = ½‖s(x̃) + ε‖²`, σ drawn from a ladder | no |

use std::fmt;

use autodiff::{grad, no_grad, Tensor};
use rand::{rngs::StdRng, Rng};

use crate::error::ScoreError;
use crate::mlp::ScoreModel;
use crate::noise;
use crate::trace::{score_and_trace, TraceStrategy};

/// The distribution of the random projections `v`. Each has `E[vvᵀ] = I`, so
/// `vᵀJv` is an unbiased estimate of `tr(J)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Projection {
    /// Standard normal entries.
    #[default]
    Gaussian,
    /// Entries ±1 with equal probability: the lowest-variance trace estimate.
    Rademacher,
    /// Uniform on the sphere of radius √D.
    Sphere,
}

impl Projection {
    /// `rows` projections of dimension `dim`, with `x`'s dtype, on its device.
    pub fn sample(self, rows: usize, dim: usize, x: &Tensor, rng: &mut StdRng) -> Tensor {
        match self {
            Projection::Gaussian => noise::randn_on_device_of(x, [rows, dim], rng),
            Projection::Rademacher => noise::rademacher_on_device_of(x, [rows, dim], rng),
            Projection::Sphere => {
                // Gaussian rows scaled to norm √D.
                let g = noise::randn_on_device_of(x, [rows, dim], rng);
                let squared_norms = g.square().sum_axis(1).reshape([rows, 1]);
                let scale = (&squared_norms.full_like([rows, 1], dim as f64) / &squared_norms).sqrt();
                (&g * &scale).detach()
            }
        }
    }
}

/// A score-matching objective (the table in the module docs).
#[derive(Clone, Debug, PartialEq)]
pub enum Objective {
    /// Hyvärinen's loss, `tr(∂s/∂x) + ½‖s‖²`, with the exact trace.
    Exact {
        /// How the trace is computed.
        strategy: TraceStrategy,
    },
    /// Sliced score matching, `vᵀ∂(vᵀs)/∂x + ½(vᵀs)²`.
    Ssm {
        /// Random projections per sample.
        projections: usize,
        /// The distribution of the projections.
        distribution: Projection,
    },
    /// Sliced score matching, variance reduced: `vᵀ∂(vᵀs)/∂x + ½‖s‖²`.
    SsmVr {
        /// Random projections per sample.
        projections: usize,
        /// The distribution of the projections.
        distribution: Projection,
    },
    /// `SsmVr`, also reporting the variance of Hutchinson's trace estimate.
    Hutchinson {
        /// Random projections per sample.
        projections: usize,
        /// The distribution of the projections.
        distribution: Projection,
    },
    /// Denoising score matching at one noise level, `½‖s(x + σε) + ε/σ‖²`.
    Dsm {
        /// The noise level σ.
        sigma: f64,
    },
    /// Denoising score matching over a ladder of levels, for a model read as `s(x)/σ`.
    AnnealDsm {
        /// The noise levels, one drawn per sample.
        sigmas: Vec<f64>,
    },
}

/// A loss and what was learnt computing it. Nothing here has been read from
/// the device: a GPU step reads its loss once, when the caller asks.
pub struct LossOutput {
    /// The scalar to differentiate.
    pub loss: Tensor,
    /// The objective's name, for errors.
    pub objective: &'static str,
    /// The trace strategy used (`Exact` only).
    pub strategy: Option<TraceStrategy>,
    /// The sample variance of the per-projection trace estimates `vᵀJv`,
    /// averaged over the batch, as a scalar (`Hutchinson` with ≥ 2 projections).
    pub trace_variance: Option<Tensor>,
}

impl LossOutput {
    /// The loss's value, read (one copy from the device) and checked finite.
    pub fn value(&self) -> Result<f64, ScoreError> {
        let value = self.loss.item();
        match value.is_finite() {
            true => Ok(value),
            false => Err(ScoreError::NonFinite { objective: self.objective.to_string(), value }),
        }
    }
}

impl fmt::Display for Objective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Objective {
    /// The objective's name on the command line (`exact`, `ssm`, `ssm-vr`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Objective::Exact { .. } => "exact",
            Objective::Ssm { .. } => "ssm",
            Objective::SsmVr { .. } => "ssm-vr",
            Objective::Hutchinson { .. } => "hutchinson",
            Objective::Dsm { .. } => "dsm",
            Objective::AnnealDsm { .. } => "anneal-dsm",
        }
    }

    /// Whether the loss contains a derivative of the model (so training it
    /// differentiates twice).
    pub fn is_second_order(&self) -> bool {
        !matches!(self, Objective::Dsm { .. } | Objective::AnnealDsm { .. })
    }

    /// The loss on batch `x`, recorded so that `grad(loss, parameters)` trains the model.
    pub fn loss(&self, model: &dyn ScoreModel, x: &Tensor, rng: &mut StdRng) -> Result<LossOutput, ScoreError> {
        check_dimensions(self.name(), model, x)?;
        let (loss, strategy, trace_variance) = match self {
            Objective::Exact { strategy } => {
                let t = score_and_trace(model, x, *strategy, true)?;
                check_square(self.name(), x, &t.score)?;
                let loss = per_sample_mean(&t.trace.sum() + &t.score.square().sum().scale(0.5), x);
                (loss, Some(t.strategy), None)
            }
            Objective::Ssm { projections, distribution } | Objective::SsmVr { projections, distribution } | Objective::Hutchinson { projections, distribution } => {
                let sliced = sliced_terms(self.name(), model, x, *projections, *distribution, rng)?;
                let norm_term = match self {
                    Objective::Ssm { .. } => sliced.projected_score.square().sum().scale(0.5),
                    _ => sliced.score.square().sum().scale(0.5),
                };
                // Every sample appears `projections` times in the repeated batch.
                let loss = per_sample_mean(&sliced.vjv.sum() + &norm_term, &sliced.score);
                let trace_variance = match self {
                    Objective::Hutchinson { .. } => trace_variance(&sliced.vjv, *projections, x.dims()[0]),
                    _ => None,
                };
                (loss, None, trace_variance)
            }
            Objective::Dsm { sigma } => {
                let eps = noise::randn_like(x, rng);
                let s = model.score(&(x + &eps.scale(*sigma)));
                check_square(self.name(), x, &s)?;
                let residual = &s + &eps.scale(1.0 / sigma);
                (per_sample_mean(residual.square().sum().scale(0.5), x), None, None)
            }
            Objective::AnnealDsm { sigmas } => {
                assert!(!sigmas.is_empty(), "anneal-dsm: the σ ladder is empty");
                // Each sample's level drawn on the device from the ladder (copied there once).
                let ladder = x.constant_like(sigmas, [sigmas.len(), 1]);
                let sigma = ladder.sample_rows(x.dims()[0], rng.random());
                let eps = noise::randn_like(x, rng);
                let s = model.score(&(x + &(&eps * &sigma)));
                check_square(self.name(), x, &s)?;
                // With s(x̃, σ) = s(x̃)/σ and λ(σ) = σ², the weighted residual is s(x̃) + ε.
                (per_sample_mean((&s + &eps).square().sum().scale(0.5), x), None, None)
            }
        };
        Ok(LossOutput { loss, objective: self.name(), strategy, trace_variance })
    }
}

/// A geometric ladder of `n` noise levels from `max` down to `min` (NCSN).
pub fn geometric_sigmas(max: f64, min: f64, n: usize) -> Vec<f64> {
    assert!(n >= 1 && max >= min && min > 0.0, "geometric_sigmas: need n ≥ 1 and max ≥ min > 0");
    if n == 1 {
        return vec![max];
    }
    let ratio = (min / max).powf(1.0 / (n - 1) as f64);
    (0..n).map(|i| max * ratio.powi(i as i32)).collect()
}

/// The exact score-matching loss without recording (evaluation on held-out
/// data, batch by batch): mean over samples of `tr(∂s/∂x) + ½‖s‖²`.
pub fn exact_loss_value(model: &dyn ScoreModel, x: &Tensor, strategy: TraceStrategy) -> Result<f64, ScoreError> {
    check_dimensions("exact", model, x)?;
    let t = autodiff::no_grad(|| score_and_trace(model, x, strategy, false))?;
    let total = t.trace.sum().item() + 0.5 * t.score.square().sum().item();
    Ok(total / x.dims()[0] as f64)
}

struct Sliced {
    score: Tensor,
    projected_score: Tensor,
    /// `vᵀ∂(vᵀs)/∂x` per row of the repeated batch, `[M·B]`.
    vjv: Tensor,
}

/// The batch repeated once per projection, with `v`, `vᵀs` and `vᵀJv` per row.
fn sliced_terms(name: &str, model: &dyn ScoreModel, x: &Tensor, projections: usize, distribution: Projection, rng: &mut StdRng) -> Result<Sliced, ScoreError> {
    assert!(projections >= 1, "{name}: needs at least one projection");
    let (b, d) = (x.dims()[0], x.dims()[1]);
    let x = if x.requires_grad_flag() { x.clone() } else { x.requires_grad() };
    let xr = repeat_rows(&x, projections);
    let v = distribution.sample(projections * b, d, &xr, rng);
    let score = model.score(&xr);
    check_square(name, &xr, &score)?;
    let projected_score = score.row_dot(&v); // vᵀs, [M·B]
    let vjv = projected_jacobian(&projected_score, &xr, &v);
    Ok(Sliced { score, projected_score, vjv })
}

/// `t`'s rows `times` times over, `[times·B, …]`: the batch once per projection.
pub(crate) fn repeat_rows(t: &Tensor, times: usize) -> Tensor {
    match times {
        1 => t.clone(),
        _ => t.gather_rows(&(0..times).flat_map(|_| 0..t.dims()[0]).collect::<Vec<_>>()),
    }
}

/// `vᵀ∂(vᵀs)/∂x` per row, `[N]`, from `vᵀs` recorded from the variable `x`. Rows are
/// independent, so one VJP of `Σ vᵀs` gives every row's `∂(vᵀs)/∂x`.
pub(crate) fn projected_jacobian(projected_score: &Tensor, x: &Tensor, v: &Tensor) -> Tensor {
    grad(&[projected_score.sum()], &[x.clone()], None, true).remove(0).row_dot(v)
}

fn trace_variance(vjv: &Tensor, projections: usize, b: usize) -> Option<Tensor> {
    if projections < 2 {
        return None;
    }
    no_grad(|| {
        let estimates = vjv.reshape([projections, b]); // row m holds projection m's estimates
        let deviation = &estimates - &estimates.mean_axis(0);
        Some(deviation.square().sum().scale(1.0 / ((projections - 1) * b) as f64))
    })
}

/// A summed loss divided by the number of rows of `rows_of`.
fn per_sample_mean(total: Tensor, rows_of: &Tensor) -> Tensor {
    total.scale(1.0 / rows_of.dims()[0] as f64)
}

fn check_dimensions(objective: &str, model: &dyn ScoreModel, x: &Tensor) -> Result<(), ScoreError> {
    let data_dim = if x.rank() == 2 { x.dims()[1] } else { 0 };
    if x.rank() != 2 || data_dim != model.dim() {
        return Err(ScoreError::DimensionMismatch { objective: objective.into(), model_dim: model.dim(), data_dim });
    }
    Ok(())
}

fn check_square(objective: &str, x: &Tensor, s: &Tensor) -> Result<(), ScoreError> {
    if s.shape() != x.shape() {
        return Err(ScoreError::NotASquareMap { objective: objective.into(), input: x.shape().to_string(), output: s.shape().to_string() });
    }
    Ok(())
}
