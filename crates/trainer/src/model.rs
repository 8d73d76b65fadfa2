//! The network a run trains: the noise-conditional MLP `s(x, σ)` (the default), or the
//! unconditional MLP `s(x)` of the single-σ set-up, behind one interface for the loop, the
//! samplers, the evaluation and the checkpoints.

use autodiff::{DType, Device, Tensor};
use rand::rngs::StdRng;
use score::{
    conditional_exact_loss_value, score_and_trace, ConditionalConfig, ConditionalMlp, LossOutput, Mlp, MlpConfig, ScoreError,
    ScoreModel, TraceStrategy,
};

use crate::config::TrainConfig;

/// Frequencies of the σ features (32 features: sin and cos of each).
pub const SIGMA_FREQUENCIES: usize = 16;

/// The network a run trains.
#[derive(Clone, Debug)]
pub enum Net {
    /// A noise-conditional `s(x, σ)`.
    Conditional(ConditionalMlp),
    /// `s(x)`; with `divide_by_sigma` (`anneal-dsm`) the score at level σ is `net(x)/σ`.
    Unconditional {
        /// The network.
        mlp: Mlp,
        /// Whether the score at level σ is `mlp(x)/σ`.
        divide_by_sigma: bool,
    },
}

impl Net {
    /// A freshly initialised network for `config` on images of `dim` pixels, in f32 on the CPU.
    pub fn fresh(config: &TrainConfig, dim: usize, seed: u64) -> Net {
        let mlp = MlpConfig {
            dim,
            hidden: config.hidden,
            hidden_layers: config.layers,
            activation: config.activation.activation(),
            output_activation: None,
            dtype: DType::F32,
        };
        match config.is_conditional() {
            true => Net::Conditional(ConditionalMlp::new(
                &ConditionalConfig {
                    mlp,
                    parametrisation: config.parametrisation(),
                    frequencies: SIGMA_FREQUENCIES,
                    embed_every_layer: config.embed_every_layer,
                },
                seed,
            )),
            false => Net::Unconditional { mlp: Mlp::new(&mlp, seed), divide_by_sigma: config.divides_by_sigma() },
        }
    }

    /// The training table of noise levels on `device` (conditional models only): one row per
    /// level the σ distribution draws from, sampled per image on the device.
    pub fn level_table(&self, config: &TrainConfig, device: Device) -> Option<Tensor> {
        match self {
            Net::Conditional(m) => {
                let like = Tensor::zeros([1], DType::F32).to_device(device);
                Some(m.conditioning.table(&config.sigma_distribution().levels(), &like))
            }
            Net::Unconditional { .. } => None,
        }
    }

    /// The data dimension.
    pub fn dim(&self) -> usize {
        match self {
            Net::Conditional(m) => m.dim(),
            Net::Unconditional { mlp, .. } => mlp.dim(),
        }
    }

    /// Where the weights live.
    pub fn device(&self) -> Device {
        match self {
            Net::Conditional(m) => m.device(),
            Net::Unconditional { mlp, .. } => mlp.device(),
        }
    }

    /// The trained tensors, in checkpoint order.
    pub fn parameters(&self) -> Vec<Tensor> {
        match self {
            Net::Conditional(m) => m.parameters(),
            Net::Unconditional { mlp, .. } => mlp.parameters(),
        }
    }

    /// The checkpoint's tensor names, in `parameters()` order.
    pub fn parameter_names(&self) -> Vec<String> {
        match self {
            Net::Conditional(m) => m.parameter_names(),
            Net::Unconditional { mlp, .. } => mlp.parameter_names(),
        }
    }

    /// The same network with new parameter values, as fresh leaves.
    pub fn with_parameters(&self, params: &[Tensor]) -> Net {
        match self {
            Net::Conditional(m) => Net::Conditional(m.with_parameters(params)),
            Net::Unconditional { mlp, divide_by_sigma } => Net::Unconditional { mlp: mlp.with_parameters(params), divide_by_sigma: *divide_by_sigma },
        }
    }

    /// The same network on `device`.
    pub fn to_device(&self, device: Device) -> Net {
        let params: Vec<Tensor> = self.parameters().iter().map(|p| p.to_device(device)).collect();
        self.with_parameters(&params)
    }

    /// The score at noise level σ for a batch `[B, D]`: what samplers and denoising use.
    pub fn score_at(&self, x: &Tensor, sigma: f64) -> Tensor {
        match self {
            Net::Conditional(m) => m.score(x, &m.level(sigma, x)),
            Net::Unconditional { mlp, divide_by_sigma: true } => mlp.score(x).scale(1.0 / sigma),
            Net::Unconditional { mlp, divide_by_sigma: false } => mlp.score(x),
        }
    }

    /// The exact score-matching loss `mean(tr(∂s/∂x) + ½‖s‖²)` of a batch of samples of `p_σ`,
    /// with the score at level σ, recording nothing.
    pub fn exact_loss_value(&self, x: &Tensor, sigma: f64) -> Result<f64, ScoreError> {
        match self {
            Net::Conditional(m) => conditional_exact_loss_value(m, x, sigma),
            Net::Unconditional { mlp, divide_by_sigma } => {
                let scale = if *divide_by_sigma { 1.0 / sigma } else { 1.0 };
                let exact = autodiff::no_grad(|| score_and_trace(mlp, x, TraceStrategy::Auto, false))?;
                let total = scale * exact.trace.sum().item() + 0.5 * scale * scale * exact.score.square().sum().item();
                Ok(total / x.dims()[0] as f64)
            }
        }
    }

    /// The training loss on clean batch `x` (the objective adds the noise it needs).
    pub fn loss(&self, config: &TrainConfig, x: &Tensor, levels: Option<&Tensor>, rng: &mut StdRng) -> Result<LossOutput, ScoreError> {
        match self {
            Net::Conditional(m) => {
                let table = levels.expect("a conditional model trains on a table of noise levels");
                config.conditional_objective().loss(m, x, table, rng)
            }
            Net::Unconditional { mlp, .. } => {
                let x = match config.objective_adds_noise() {
                    true => x.clone(),
                    // x + σε, made on the device.
                    false => x + &score::noise::randn_like(x, rng).scale(config.noise_sigma),
                };
                config.objective().loss(mlp, &x, rng)
            }
        }
    }
}
