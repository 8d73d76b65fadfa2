//! Langevin dynamics driven by a score model.
//!
//! `x ← x + step·s(x) + √(2·step)·z`, z ~ N(0, I): for small steps and many
//! of them, x is distributed by the density whose score `s` is. Annealed
//! Langevin (NCSN) runs it over a ladder of noise levels σ₁ > … > σ_L with
//! step ε·(σᵢ/σ_L)², a fixed number of steps per level, so samples first
//! cross between modes at high noise and then sharpen.

use autodiff::{no_grad, Tensor};
use rand::rngs::StdRng;

use crate::mlp::ScoreModel;
use crate::samplers::{langevin_step, Sampler};

/// Plain Langevin dynamics from `x0` (`[N, D]`) for `steps` steps.
pub fn langevin(model: &dyn ScoreModel, x0: &Tensor, step_size: f64, steps: usize, rng: &mut StdRng) -> Tensor {
    no_grad(|| {
        let mut x = x0.detach();
        for _ in 0..steps {
            x = langevin_step(&x, &model.score(&x), step_size, rng);
        }
        x
    })
}

/// The NCSN schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct AnnealedSchedule {
    /// Noise levels, largest first.
    pub sigmas: Vec<f64>,
    /// Langevin steps at each level.
    pub steps_per_level: usize,
    /// ε: the step at the smallest level.
    pub epsilon: f64,
    /// Finish with one denoising step `x + σ_L²·s(x, σ_L)` (Tweedie), which
    /// removes the last level's noise.
    pub denoise: bool,
}

impl AnnealedSchedule {
    /// Annealed Langevin dynamics from `x0` with `score(x, σ)` at each level: the
    /// [`Sampler::AnnealedLangevin`] walk, then the denoising step if asked for.
    pub fn run(&self, score: &dyn Fn(&Tensor, f64) -> Tensor, x0: &Tensor, rng: &mut StdRng) -> Tensor {
        let sampler = Sampler::AnnealedLangevin { sigmas: self.sigmas.clone(), steps_per_level: self.steps_per_level, epsilon: self.epsilon };
        match self.denoise {
            true => sampler.run(score, x0, rng),
            false => sampler.walk(score, x0, rng),
        }
    }
}

/// Annealed Langevin dynamics. With `noise_conditional`, the model is used
/// as `s(x, σ) = s(x)/σ` (how `anneal-dsm` trains it); otherwise `s(x)` is used
/// at every level.
pub fn annealed_langevin(model: &dyn ScoreModel, x0: &Tensor, schedule: &AnnealedSchedule, noise_conditional: bool, rng: &mut StdRng) -> Tensor {
    let score_at = |x: &Tensor, sigma: f64| match noise_conditional {
        true => model.score(x).scale(1.0 / sigma),
        false => model.score(x),
    };
    schedule.run(&score_at, x0, rng)
}
