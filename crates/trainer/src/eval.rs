//! What a trained model is judged by: the exact score-matching loss on held-out data, samples
//! drawn by the configured sampler, and one-step denoising of test digits.

use autodiff::{no_grad, Tensor};
use rand::Rng;
use score::{Sampler, ScoreError};

use crate::config::TrainConfig;
use crate::data::{perturb, stream, Purpose};
use crate::model::Net;

/// Images per chunk when scoring the held-out set or sampling (bounds memory, not the result).
const CHUNK: usize = 1000;

/// The exact score-matching loss `mean(tr(∂s/∂x) + ½‖s‖²)` over the rows of `x` (`n × dim`,
/// samples of the data perturbed at σ), with the score at level σ. The trace is exact
/// (structure-aware) and nothing is recorded. Lower is better: up to a constant that depends
/// only on the data, it is the Fisher divergence between the model and the perturbed data.
pub fn heldout_exact_sm(net: &Net, x: &[f32], dim: usize, sigma: f64) -> Result<f64, ScoreError> {
    let n = x.len() / dim;
    let mut total = 0.0;
    for chunk in x.chunks(CHUNK * dim) {
        let rows = chunk.len() / dim;
        let t = Tensor::from_slice(chunk, [rows, dim]).to_device(net.device());
        total += rows as f64 * net.exact_loss_value(&t, sigma)?;
    }
    let loss = total / n as f64;
    if !loss.is_finite() {
        return Err(ScoreError::NonFinite { objective: "held-out exact".into(), value: loss });
    }
    Ok(loss)
}

/// The unconditional model's sampler: annealed Langevin from uniform noise, then one denoising
/// step.
///
/// `anneal-dsm`: NCSN's schedule over the training ladder, step ε·(σᵢ/σ_L)² with
/// ε = 0.1·σ_L². The other objectives learn one score, that of the data at σ = noise_sigma;
/// they get the same kind of schedule over a short ladder (3σ down to σ), with the one score
/// at every level: the larger early steps move the uniform noise onto the data quickly, and
/// the last level and the final denoising step settle it.
pub fn unconditional_sampler(config: &TrainConfig) -> Sampler {
    let sigma = config.noise_sigma;
    let (sigmas, steps_per_level) = match config.divides_by_sigma() {
        true => (config.anneal_sigmas(), 60),
        false => (score::geometric_sigmas(3.0 * sigma, sigma, 4), 100),
    };
    Sampler::AnnealedLangevin { sigmas, steps_per_level, epsilon: 0.1 * sigma * sigma }
}

/// `n` samples of `net`, reproducible from `seed`, drawn in chunks. A conditional model starts
/// from N(0, σ_max²I), which covers the data; the unconditional one from uniform noise in the
/// pixel range, as its short schedule needs.
pub fn draw(net: &Net, config: &TrainConfig, n: usize, seed: u64) -> Samples {
    let dim = net.dim();
    let sampler = config.sampler();
    let score = |x: &Tensor, sigma: f64| net.score_at(x, sigma);
    let mut raw = Vec::with_capacity(n * dim);
    for (chunk, start) in (0..n).step_by(CHUNK).enumerate() {
        let rows = CHUNK.min(n - start);
        let mut rng = stream(seed, Purpose::Samples, chunk as u64);
        let x0 = if config.is_conditional() {
            score::noise::randn([rows, dim], autodiff::DType::F32, &mut rng).scale(sampler.sigmas()[0])
        } else {
            Tensor::from_vec((0..rows * dim).map(|_| rng.random::<f32>()).collect::<Vec<f32>>(), [rows, dim])
        };
        raw.extend(sampler.run(&score, &x0.to_device(net.device()), &mut rng).to_vec::<f32>());
    }
    Samples { escaped: escaped_chains(&raw, dim), sampler, raw }
}

/// Samples as drawn, unclamped (`n × dim`), the sampler, and how many chains escaped.
pub struct Samples {
    /// The pixels, `n × dim`, as the sampler left them.
    pub raw: Vec<f32>,
    /// The sampler that drew them.
    pub sampler: Sampler,
    /// Chains with a pixel beyond ±[`ESCAPE`] (see [`escaped_chains`]).
    pub escaped: usize,
}

impl Samples {
    /// The pixels clamped to the displayable range [0, 1].
    pub fn clamped(&self) -> Vec<f32> {
        self.raw.iter().map(|v| v.clamp(0.0, 1.0)).collect()
    }
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
    /// The clean test images.
    pub clean: Vec<Vec<f32>>,
    /// One entry per noise level.
    pub levels: Vec<DenoiseLevel>,
}

/// One noise level of [`Denoising`]: the perturbed images and their denoised versions.
pub struct DenoiseLevel {
    /// The noise level σ.
    pub sigma: f64,
    /// `x + σε`, one per clean image.
    pub noisy: Vec<Vec<f32>>,
    /// `x̃ + σ²·s(x̃, σ)`, one per clean image.
    pub denoised: Vec<Vec<f32>>,
}

/// Denoises the first `count` images of `test` (`n × dim`, row-major) at each of `sigmas`.
pub fn denoise(
    net: &Net,
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
        let x = Tensor::from_slice(&noisy, [count, dim]).to_device(net.device());
        let denoised = no_grad(|| (&x + &net.score_at(&x, sigma).scale(sigma * sigma)).to_vec::<f32>());
        let split = |v: &[f32]| v.chunks(dim).map(<[f32]>::to_vec).collect::<Vec<_>>();
        levels.push(DenoiseLevel {
            sigma,
            noisy: split(&noisy),
            denoised: split(&denoised),
        });
    }
    Denoising { clean, levels }
}

/// The noise levels shown in `denoise.png`: 0.1, 0.3 and 1 for a conditional model; the training σ, and for a noise-conditional model
/// also a larger level from its ladder, where denoising is more visible.
pub fn denoise_levels(config: &TrainConfig) -> Vec<f64> {
    if config.is_conditional() {
        return vec![0.1, 0.3, 1.0];
    }
    let mut levels = vec![config.noise_sigma];
    if config.divides_by_sigma() {
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
