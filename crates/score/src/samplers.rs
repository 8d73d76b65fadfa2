//! Samplers for a noise-conditional score `s(x, σ)`: each walks σ down a schedule from
//! `σ_max` (where `x ~ N(0, σ_max²I)` covers the data) to `σ_min`, then takes one denoising
//! step `x + σ_min²·s(x, σ_min)` (Tweedie: the posterior mean of the clean image).
//!
//! - Annealed Langevin (NCSN, Song & Ermon 2019): at each level σ_i of a geometric ladder,
//!   `T` steps of `x ← x + α_i·s + √(2α_i)·z` with `α_i = ε·σ_i²/σ_L²`.
//! - Reverse SDE (Song et al. 2021, variance exploding): the predictor
//!   `x ← x + (σ_i² − σ_{i+1}²)·s(x, σ_i) + √(σ_i² − σ_{i+1}²)·z`, optionally followed at each
//!   level by Langevin corrector steps sized by a signal-to-noise ratio `r`:
//!   `α = 2(r‖z‖/‖s‖)²`, norms averaged over the batch.
//! - Probability-flow ODE, `dx/dσ = −σ·s(x, σ)`, by Heun's method on EDM's schedule
//!   `σ_i = (σ_max^{1/ρ} + i/(N−1)·(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ` (Karras et al. 2022), with
//!   a last Euler step from σ_min to 0, which is exactly the denoising step.
//!
//! The score is any `Fn(x, σ) -> s`, so unconditional models sample here too.

use std::fmt;

use autodiff::{no_grad, Tensor};
use rand::rngs::StdRng;

use crate::noise;

/// A Langevin corrector after each reverse-SDE step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Corrector {
    /// Corrector steps per level.
    pub steps: usize,
    /// Signal-to-noise ratio `r` of a corrector step.
    pub snr: f64,
}

/// How samples are drawn (see the module docs); every variant walks its `sigmas`, largest first.
#[derive(Clone, Debug, PartialEq)]
pub enum Sampler {
    /// NCSN's annealed Langevin dynamics.
    AnnealedLangevin {
        /// The levels, largest first.
        sigmas: Vec<f64>,
        /// Langevin steps at each level.
        steps_per_level: usize,
        /// ε: the step size at the smallest level.
        epsilon: f64,
    },
    /// The reverse variance-exploding SDE, optionally with a Langevin corrector.
    ReverseSde {
        /// The levels, largest first.
        sigmas: Vec<f64>,
        /// Corrector steps after each predictor step, if any.
        corrector: Option<Corrector>,
    },
    /// Heun's method on the probability-flow ODE.
    Heun {
        /// The levels, largest first.
        sigmas: Vec<f64>,
    },
    /// EDM's stochastic sampler (Karras et al. 2022, Algorithm 2): before each Heun step from
    /// σ_i, noise is added to raise the level to σ̂ = (1 + γ)σ_i (for σ_i ≥ `churn_min`), so
    /// errors of earlier steps are partly forgotten.
    HeunChurn {
        /// The levels, largest first.
        sigmas: Vec<f64>,
        /// γ: how far fresh noise raises each level (at most √2 − 1).
        gamma: f64,
        /// Levels below this take plain Heun steps.
        churn_min: f64,
    },
}

/// EDM's schedule: `n` levels from `max` down to `min`, denser at small σ as `rho` grows.
pub fn edm_sigmas(max: f64, min: f64, n: usize, rho: f64) -> Vec<f64> {
    assert!(n >= 2 && max > min && min > 0.0, "edm_sigmas: needs n ≥ 2 and max > min > 0");
    let (a, b) = (max.powf(1.0 / rho), min.powf(1.0 / rho));
    (0..n).map(|i| (a + i as f64 / (n - 1) as f64 * (b - a)).powf(rho)).collect()
}

impl Sampler {
    /// The levels, largest first.
    pub fn sigmas(&self) -> &[f64] {
        match self {
            Sampler::AnnealedLangevin { sigmas, .. }
            | Sampler::ReverseSde { sigmas, .. }
            | Sampler::Heun { sigmas }
            | Sampler::HeunChurn { sigmas, .. } => sigmas,
        }
    }

    /// Score evaluations per sample, the denoising step included: the sampler's cost.
    pub fn evaluations(&self) -> usize {
        let n = self.sigmas().len();
        match self {
            Sampler::AnnealedLangevin { steps_per_level, .. } => n * steps_per_level + 1,
            Sampler::ReverseSde { corrector, .. } => (n - 1) * (1 + corrector.map_or(0, |c| c.steps)) + 1,
            // One evaluation per level, a second one at every level but the first.
            Sampler::Heun { .. } | Sampler::HeunChurn { .. } => 2 * n - 1,
        }
    }

    /// Draws from `x0` (`[N, D]`, noise at scale σ_max) with `score(x, σ)`: the [`walk`] down
    /// the levels, then Tweedie's denoising step `x + σ_min²·s(x, σ_min)` (for Heun, the Euler
    /// step from σ_min to 0). Nothing is recorded.
    ///
    /// [`walk`]: Sampler::walk
    pub fn run(&self, score: &dyn Fn(&Tensor, f64) -> Tensor, x0: &Tensor, rng: &mut StdRng) -> Tensor {
        let smallest = *self.sigmas().last().expect("a sampler needs at least one level");
        let x = self.walk(score, x0, rng);
        no_grad(|| &x + &score(&x, smallest).scale(smallest * smallest))
    }

    /// The walk from σ_max down to σ_min, without the final denoising step.
    pub fn walk(&self, score: &dyn Fn(&Tensor, f64) -> Tensor, x0: &Tensor, rng: &mut StdRng) -> Tensor {
        let sigmas = self.sigmas();
        let smallest = *sigmas.last().expect("a sampler needs at least one level");
        no_grad(|| {
            let mut x = x0.detach();
            match self {
                Sampler::AnnealedLangevin { steps_per_level, epsilon, .. } => {
                    for &sigma in sigmas {
                        let step = epsilon * (sigma / smallest).powi(2);
                        for _ in 0..*steps_per_level {
                            x = langevin_step(&x, &score(&x, sigma), step, rng);
                        }
                    }
                }
                Sampler::ReverseSde { corrector, .. } => {
                    for pair in sigmas.windows(2) {
                        let (now, next) = (pair[0], pair[1]);
                        let variance = now * now - next * next;
                        let z = noise::randn_like(&x, rng);
                        x = &(&x + &score(&x, now).scale(variance)) + &z.scale(variance.sqrt());
                        if let Some(c) = corrector {
                            for _ in 0..c.steps {
                                x = corrector_step(&x, &score(&x, next), c.snr, rng);
                            }
                        }
                    }
                }
                // The ODE is the stochastic sampler with no noise added (γ = 0).
                Sampler::Heun { .. } | Sampler::HeunChurn { .. } => {
                    let (gamma, churn_min) = match self {
                        Sampler::HeunChurn { gamma, churn_min, .. } => (gamma.clamp(0.0, std::f64::consts::SQRT_2 - 1.0), *churn_min),
                        _ => (0.0, f64::INFINITY),
                    };
                    for pair in sigmas.windows(2) {
                        let (now, next) = (pair[0], pair[1]);
                        let raised = if now >= churn_min { now * (1.0 + gamma) } else { now };
                        if raised > now {
                            x = &x + &noise::randn_like(&x, rng).scale((raised * raised - now * now).sqrt());
                        }
                        x = heun_step(score, &x, raised, next);
                    }
                }
            }
            x
        })
    }
}

/// One step of Heun's method on `dx/dσ = −σ·s(x, σ)` from σ = `now` to `next`.
fn heun_step(score: &dyn Fn(&Tensor, f64) -> Tensor, x: &Tensor, now: f64, next: f64) -> Tensor {
    let slope = score(x, now).scale(-now);
    let euler = x + &slope.scale(next - now);
    let slope_next = score(&euler, next).scale(-next);
    x + &(&slope + &slope_next).scale(0.5 * (next - now))
}

/// One step of Langevin dynamics, `x + step·s + √(2·step)·z`.
pub(crate) fn langevin_step(x: &Tensor, score: &Tensor, step: f64, rng: &mut StdRng) -> Tensor {
    let z = noise::randn_like(x, rng);
    (x + &score.scale(step)) + z.scale((2.0 * step).sqrt())
}

/// One Langevin step of size `α = 2(r·‖z‖/‖s‖)²`, the norms averaged over the batch (as in
/// Song et al.'s code: a per-sample ratio has heavy tails where ‖s‖ is near 0).
fn corrector_step(x: &Tensor, score: &Tensor, snr: f64, rng: &mut StdRng) -> Tensor {
    let z = noise::randn_like(x, rng);
    let mean_norm = |t: &Tensor| t.square().sum_axis(1).sqrt().mean();
    let step = (&mean_norm(&z) / &mean_norm(score)).square().scale(2.0 * snr * snr);
    &(x + &(score * &step)) + &(&z * &step.scale(2.0).sqrt())
}

impl fmt::Display for Sampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.sigmas();
        let (max, min, n) = (s[0], s[s.len() - 1], s.len());
        match self {
            Sampler::AnnealedLangevin { steps_per_level, epsilon, .. } => {
                write!(f, "annealed Langevin, {n} σ {max:.3}…{min:.3} × {steps_per_level} steps, ε {epsilon:.1e}")
            }
            Sampler::ReverseSde { corrector: None, .. } => write!(f, "reverse SDE, {n} σ {max:.3}…{min:.3}"),
            Sampler::ReverseSde { corrector: Some(c), .. } => {
                write!(f, "reverse SDE + {} Langevin corrector step(s) at r {}, {n} σ {max:.3}…{min:.3}", c.steps, c.snr)
            }
            Sampler::Heun { .. } => write!(f, "probability-flow ODE, Heun, {n} σ {max:.3}…{min:.3}"),
            Sampler::HeunChurn { gamma, churn_min, .. } => {
                write!(f, "EDM stochastic Heun, γ {gamma:.3} at σ ≥ {churn_min}, {n} σ {max:.3}…{min:.3}")
            }
        }?;
        write!(f, " ({} evaluations)", self.evaluations())
    }
}
