//! What a trained model is judged by: the exact score-matching loss on held-out data, samples
//! drawn by Langevin dynamics, and one-step denoising of test digits.

use autodiff::{no_grad, Tensor};
use rand::Rng;
use score::{
    annealed_langevin, score_and_trace, AnnealedSchedule, Mlp, ScoreError, ScoreModel,
    TraceStrategy,
};

use crate::config::TrainConfig;
use crate::data::{perturb, stream, Purpose};

/// How the network's output relates to the score at the evaluation noise level σ:
/// `s(x) = net(x) · scale`, with scale = 1/σ for `anneal-dsm` (trained as s(x, σ) = net(x)/σ)
/// and 1 otherwise.
pub fn score_scale(config: &TrainConfig) -> f64 {
    if config.noise_conditional() {
        1.0 / config.noise_sigma
    } else {
        1.0
    }
}

/// Images per chunk when scoring the held-out set (bounds memory, not the result).
const CHUNK: usize = 1000;

/// The exact score-matching loss `mean(tr(∂s/∂x) + ½‖s‖²)` over the rows of `x` (`n × dim`),
/// with `s = scale · net`. The trace is exact (structure-aware for an MLP) and nothing is
/// recorded. Lower is better: up to a constant that depends only on the data, it is the Fisher
/// divergence between the model and the (perturbed) data distribution.
pub fn heldout_exact_sm(mlp: &Mlp, x: &[f32], dim: usize, scale: f64) -> Result<f64, ScoreError> {
    let n = x.len() / dim;
    let mut total = 0.0;
    for chunk in x.chunks(CHUNK * dim) {
        let rows = chunk.len() / dim;
        let t = Tensor::from_slice(chunk, [rows, dim]).to_device(mlp.device());
        let exact = no_grad(|| score_and_trace(mlp, &t, TraceStrategy::Auto, false))?;
        total += scale * exact.trace.sum().item()
            + 0.5 * scale * scale * exact.score.square().sum().item();
    }
    let loss = total / n as f64;
    if !loss.is_finite() {
        return Err(ScoreError::NonFinite {
            objective: "held-out exact".into(),
            value: loss,
        });
    }
    Ok(loss)
}

/// How samples are drawn: annealed Langevin dynamics from uniform noise, then one denoising step.
#[derive(Clone, Debug, PartialEq)]
pub struct Sampler {
    pub schedule: AnnealedSchedule,
    /// Whether the score at level σ is net(x)/σ (`anneal-dsm`) or net(x) at every level.
    pub noise_conditional: bool,
}

impl Sampler {
    /// The sampler for a model trained with `config`.
    ///
    /// `anneal-dsm`: NCSN's schedule over the training ladder, step ε·(σᵢ/σ_L)² with
    /// ε = 0.1·σ_L². The other objectives learn one score, that of the data at σ = noise_sigma;
    /// they get the same kind of schedule over a short ladder (3σ down to σ), with the one score
    /// at every level: the larger early steps move the uniform noise onto the data quickly, and
    /// the last level and the final denoising step settle it.
    pub fn for_config(config: &TrainConfig) -> Sampler {
        let sigma = config.noise_sigma;
        let (sigmas, steps_per_level) = if config.noise_conditional() {
            (config.anneal_sigmas(), 60)
        } else {
            (score::geometric_sigmas(3.0 * sigma, sigma, 4), 100)
        };
        Sampler {
            schedule: AnnealedSchedule {
                sigmas,
                steps_per_level,
                epsilon: 0.1 * sigma * sigma,
                denoise: true,
            },
            noise_conditional: config.noise_conditional(),
        }
    }

    /// Total Langevin steps.
    pub fn steps(&self) -> usize {
        self.schedule.sigmas.len() * self.schedule.steps_per_level
    }

    /// A one-line description for figure titles and the log.
    pub fn describe(&self) -> String {
        let s = &self.schedule;
        format!(
            "Langevin, {} σ {:.2}…{:.2} × {} steps{}",
            s.sigmas.len(),
            s.sigmas[0],
            s.sigmas.last().unwrap(),
            s.steps_per_level,
            if self.noise_conditional {
                ", s(x)/σ"
            } else {
                ""
            }
        )
    }

    /// `n` samples of dimension `dim`, reproducible from `seed`, clamped to the pixel range.
    pub fn draw(&self, mlp: &Mlp, n: usize, seed: u64) -> Samples {
        let dim = mlp.dim();
        let mut rng = stream(seed, Purpose::Samples, 0);
        let x0: Vec<f32> = (0..n * dim).map(|_| rng.random::<f32>()).collect();
        let x0 = Tensor::from_vec(x0, [n, dim]).to_device(mlp.device());
        let x = annealed_langevin(mlp, &x0, &self.schedule, self.noise_conditional, &mut rng);
        let raw = x.to_vec::<f32>();
        Samples {
            escaped: escaped_chains(&raw, dim),
            pixels: raw.into_iter().map(|v| v.clamp(0.0, 1.0)).collect(),
        }
    }
}

/// Samples as drawn: pixels clamped to [0, 1], `n × dim`, and how many chains escaped.
pub struct Samples {
    pub pixels: Vec<f32>,
    /// Chains with a pixel beyond ±[`ESCAPE`] before clamping (see [`escaped_chains`]).
    pub escaped: usize,
}

/// A pixel this far out (pixels lie in [0, 1]) means its Langevin chain left the data.
pub const ESCAPE: f32 = 10.0;

/// How many of the chains (rows of `dim` pixels) have a pixel beyond ±[`ESCAPE`], or NaN. A low held-out
/// loss does not rule this out: it measures the score near the data, and chains start far from
/// it. Healthy chains of the default run end within ±4; those that show as saturated noise in
/// `samples.png` (a learning rate of 4·10⁻³ and up) reach 15 to 10⁹.
pub fn escaped_chains(raw: &[f32], dim: usize) -> usize {
    raw.chunks(dim).filter(|chain| chain.iter().any(|v| v.is_nan() || v.abs() > ESCAPE)).count()
}

/// Clean test images, their perturbations x̃ = x + σε and one-step denoisings x̃ + σ²·s(x̃)
/// (Tweedie's formula: the posterior mean of x given x̃), for each level in `sigmas`.
pub struct Denoising {
    pub clean: Vec<Vec<f32>>,
    pub levels: Vec<DenoiseLevel>,
}

/// One noise level of [`Denoising`]: the perturbed images and their denoised versions.
pub struct DenoiseLevel {
    pub sigma: f64,
    pub noisy: Vec<Vec<f32>>,
    pub denoised: Vec<Vec<f32>>,
}

/// Denoises the first `count` images of `test` (`n × dim`, row-major) at each of `sigmas`.
pub fn denoise(
    mlp: &Mlp,
    config: &TrainConfig,
    test: &[f32],
    dim: usize,
    count: usize,
    sigmas: &[f64],
) -> Denoising {
    let count = count.min(test.len() / dim);
    let clean: Vec<Vec<f32>> = test[..count * dim]
        .chunks(dim)
        .map(<[f32]>::to_vec)
        .collect();
    let mut levels = Vec::new();
    for (i, &sigma) in sigmas.iter().enumerate() {
        let mut noisy = test[..count * dim].to_vec();
        perturb(
            &mut noisy,
            sigma,
            &mut stream(0, Purpose::Denoise, i as u64),
        );
        let x = Tensor::from_slice(&noisy, [count, dim]).to_device(mlp.device());
        // With a noise-conditional model s(x, σ) = net(x)/σ, so σ²·s = σ·net.
        let step = if config.noise_conditional() {
            sigma
        } else {
            sigma * sigma
        };
        let denoised = no_grad(|| (&x + &mlp.score(&x).scale(step)).to_vec::<f32>());
        let split = |v: &[f32]| v.chunks(dim).map(<[f32]>::to_vec).collect::<Vec<_>>();
        levels.push(DenoiseLevel {
            sigma,
            noisy: split(&noisy),
            denoised: split(&denoised),
        });
    }
    Denoising { clean, levels }
}

/// The noise levels shown in `denoise.png`: the training σ, and for a noise-conditional model
/// also a larger level from its ladder, where denoising is more visible.
pub fn denoise_levels(config: &TrainConfig) -> Vec<f64> {
    let mut levels = vec![config.noise_sigma];
    if config.noise_conditional() {
        let ladder = config.anneal_sigmas();
        if ladder.len() > 1 {
            levels.push(ladder[ladder.len() / 2]);
        }
    }
    levels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_escapes_with_one_pixel_beyond_the_limit_or_nan() {
        let dim = 3;
        let chains = [
            [0.0, 0.5, 1.0],     // in range
            [-3.9, 4.0, 2.0],    // the default run's worst, kept
            [0.1, 10.0, -10.0],  // at the limit, kept
            [0.2, 10.5, 0.3],    // escaped
            [-1e9, 0.0, 0.0],    // escaped
            [0.0, f32::NAN, 0.0], // escaped
        ];
        let raw: Vec<f32> = chains.concat();
        assert_eq!(escaped_chains(&raw, dim), 3);
        assert_eq!(escaped_chains(&raw[..3 * dim], dim), 0);
    }
}
