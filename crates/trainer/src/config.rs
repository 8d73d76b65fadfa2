//! A run's configuration: what `config.json` holds, the defaults, and the objective it builds.

use std::fmt;

use clap::ValueEnum;
use score::{
    edm_sigmas, geometric_sigmas, Activation, ConditionalObjective, Corrector, Objective, Parametrisation, Projection, Sampler,
    SigmaDistribution, TraceStrategy,
};
use serde::{Deserialize, Serialize};

/// `--objective`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObjectiveKind {
    /// Hyvärinen's score matching, tr(∂s/∂x) + ½‖s‖², the trace computed exactly.
    Exact,
    /// Sliced score matching.
    Ssm,
    /// Sliced score matching, variance reduced.
    SsmVr,
    /// Denoising score matching at σ = --noise-sigma.
    Dsm,
    /// Denoising score matching over a ladder of σ, largest --anneal-sigma-max, smallest --noise-sigma.
    AnnealDsm,
}

/// `--activation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActivationKind {
    /// log(1 + eˣ)
    Softplus,
    /// 1/(1 + e⁻ˣ)
    Sigmoid,
    /// tanh(x)
    Tanh,
    /// x·sigmoid(x).
    Silu,
}

/// `--model`: what the network is told and how its output becomes a score.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// s(x, σ) from EDM's preconditioned denoiser (Karras et al. 2022).
    Edm,
    /// EDM whose skip is a per-pixel Gaussian fitted to the data and trained with the network.
    EdmDiag,
    /// s(x, σ) = F(x, σ)/σ (NCSNv2).
    Ncsn,
    /// s(x), one noise level (--noise-sigma): the single-σ set-up, whose samples are blobs.
    Unconditional,
}

/// `--sigma-dist`: how training draws a noise level per image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SigmaDistKind {
    /// log σ ~ N(--p-mean, --p-std²), cut to [--sigma-min, --sigma-max] (EDM).
    LogNormal,
    /// log σ uniform on [log --sigma-min, log --sigma-max].
    LogUniform,
    /// One of --sigma-levels geometric levels from --sigma-max to --sigma-min (NCSN).
    Ladder,
}

/// `--sampler`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SamplerKind {
    /// The probability-flow ODE by Heun's method on EDM's σ schedule.
    Heun,
    /// EDM's stochastic Heun sampler: noise raises each level by --churn before its step.
    HeunChurn,
    /// The reverse (variance-exploding) SDE, predictor only.
    Sde,
    /// The reverse SDE with one Langevin corrector step per level.
    Pc,
    /// Annealed Langevin dynamics (NCSN): 10 levels, --sampler-steps steps each.
    Langevin,
}

/// `--dataset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetKind {
    /// MNIST's handwritten digits.
    Mnist,
    /// Zalando's Fashion-MNIST.
    Fashion,
}

/// Everything that decides what a run computes. Saved as `config.json`; `--resume` reads it back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The network.
    pub model: ModelKind,
    /// The training objective.
    pub objective: ObjectiveKind,
    /// The data set.
    pub dataset: DatasetKind,
    /// Total optimisation steps (a resumed run goes on until it has taken this many).
    pub steps: u64,
    /// Images per minibatch.
    pub batch: usize,
    /// Width of each hidden layer.
    pub hidden: usize,
    /// Number of hidden layers.
    pub layers: usize,
    /// The activation after each hidden layer.
    pub activation: ActivationKind,
    /// Adam's learning rate after the warm-up.
    pub lr: f64,
    /// Gradients are rescaled to at most this global L2 norm.
    pub clip_grad_norm: f64,
    /// σ of the Gaussian perturbation x + σε the model is trained and evaluated on.
    pub noise_sigma: f64,
    /// Largest σ of the `anneal-dsm` ladder (the smallest is `noise_sigma`).
    pub anneal_sigma_max: f64,
    /// Number of σ levels of the `anneal-dsm` ladder.
    pub anneal_levels: usize,
    /// Random projections per sample for `ssm` and `ssm-vr`.
    pub projections: usize,
    /// The seed of the initialisation, the minibatches and all noise.
    pub seed: u64,
    /// Steps between checkpoints.
    pub checkpoint_every: u64,
    /// Steps between held-out evaluations (the last step is always evaluated).
    pub eval_every: u64,
    /// The σ range a conditional model is trained on and sampled over.
    pub sigma_min: f64,
    /// The largest σ: training's upper cut, and where sampling starts.
    pub sigma_max: f64,
    /// How training draws σ per image.
    pub sigma_dist: SigmaDistKind,
    /// Levels of the `ladder` distribution.
    pub sigma_levels: usize,
    /// Mean and standard deviation of log σ for `log-normal`.
    pub p_mean: f64,
    /// (The standard deviation of log σ.)
    pub p_std: f64,
    /// EDM's σ_data: the RMS of the data, per pixel.
    pub sigma_data: f64,
    /// Feed the σ features to every hidden layer (else the first only).
    pub embed_every_layer: bool,
    /// Decay of the weights' exponential moving average (0: none); samples and evaluation use it.
    pub ema_decay: f64,
    /// Steps of linear learning-rate warm-up.
    pub warmup: u64,
    /// How samples are drawn.
    pub sampler: SamplerKind,
    /// Levels of the sampler's σ schedule (Langevin: steps per level).
    pub sampler_steps: usize,
    /// Samples drawn at the end and scored (`samples.safetensors`).
    pub samples: usize,
    /// γ of the `heun-churn` sampler: each level is raised to (1 + γ)σ by fresh noise first.
    /// (A sampling setting: a run saved without it gets the default.)
    #[serde(default = "default_churn")]
    pub churn: f64,
}

fn default_churn() -> f64 {
    std::f64::consts::SQRT_2 - 1.0
}

/// The `heun-churn` sampler adds noise only at σ ≥ this (pixel units): below it the steps are
/// fine details, which fresh noise would blur.
pub const CHURN_MIN: f64 = 0.02;

/// The default σ of the data perturbation. MNIST lies on a thin set (most pixels are exactly 0),
/// where the data density, and so its score, does not exist; x + σε smooths it (NCSN, Song &
/// Ermon 2019). 0.1 is small beside the pixel range [0, 1], so digits stay legible, and large
/// enough that the exact objective trains stably at the default learning rate.
pub const DEFAULT_NOISE_SIGMA: f64 = 0.1;

/// The network of a run given no `--model`: EDM with the per-pixel Gaussian skip. In the same
/// 240 s of training its samples scored classifier IS 4.97 where plain EDM's scored 3.28
/// (CHANGELOG.md, "The parametrisation, the objective and the sampler").
pub const DEFAULT_MODEL: ModelKind = ModelKind::EdmDiag;

/// The objective of a run given no `--objective` (CHANGELOG.md, "The parametrisation, the objective
/// and the sampler").
pub const DEFAULT_OBJECTIVE: ObjectiveKind = ObjectiveKind::Dsm;

/// The RMS of an MNIST pixel, √E\[x²\] over the training set (`trainer` prints the measured value).
pub const MNIST_RMS: f64 = 0.3347;

/// Default steps. The conditional model's `dsm` run trains for about a minute and a half on this
/// project's 2-core machine (16 ms a step; the count was set at 59 ms a step so that the whole
/// default run, the classifier's first training and the samples included, stays under ten minutes);
/// `exact` and `ssm-vr` steps cost 2.4× and 1.5× as much, and get as many fewer. The
/// unconditional model keeps the single-σ set-up's counts.
pub fn default_steps(model: ModelKind, objective: ObjectiveKind) -> u64 {
    match (model, objective) {
        (ModelKind::Unconditional, ObjectiveKind::Exact | ObjectiveKind::Ssm | ObjectiveKind::SsmVr) => 4000,
        (ModelKind::Unconditional, _) => 6000,
        (_, ObjectiveKind::Exact) => 2500,
        (_, ObjectiveKind::SsmVr) => 4000,
        _ => 6000,
    }
}

impl TrainConfig {
    /// The defaults for `model` trained by `objective`.
    pub fn defaults(model: ModelKind, objective: ObjectiveKind) -> TrainConfig {
        let conditional = model != ModelKind::Unconditional;
        TrainConfig {
            model,
            objective,
            dataset: DatasetKind::Mnist,
            steps: default_steps(model, objective),
            batch: 128,
            hidden: 1024,
            layers: if conditional { 2 } else { 1 },
            activation: if conditional { ActivationKind::Silu } else { ActivationKind::Softplus },
            lr: if conditional { 1e-3 } else { 2e-3 },
            clip_grad_norm: if conditional { 100.0 } else { 1e4 },
            noise_sigma: DEFAULT_NOISE_SIGMA,
            anneal_sigma_max: 1.0,
            anneal_levels: 10,
            projections: 1,
            seed: 0,
            checkpoint_every: 500,
            eval_every: 500,
            sigma_min: 0.002,
            sigma_max: 40.0,
            sigma_dist: match model {
                ModelKind::Ncsn => SigmaDistKind::Ladder,
                _ => SigmaDistKind::LogNormal,
            },
            sigma_levels: 10,
            // EDM's −1.2 for data in [−1, 1]; pixels in [0, 1] are half that scale.
            p_mean: -1.2 + 0.5f64.ln(),
            p_std: 1.2,
            sigma_data: MNIST_RMS,
            embed_every_layer: true,
            ema_decay: if conditional { 0.999 } else { 0.0 },
            warmup: if conditional { 200 } else { 0 },
            sampler: SamplerKind::HeunChurn,
            sampler_steps: 120,
            samples: 1000,
            churn: default_churn(),
        }
    }

    /// Whether the network is told σ.
    pub fn is_conditional(&self) -> bool {
        self.model != ModelKind::Unconditional
    }

    /// The conditional model's parametrisation.
    pub fn parametrisation(&self) -> Parametrisation {
        match self.model {
            ModelKind::Edm => Parametrisation::Edm { sigma_data: self.sigma_data },
            ModelKind::EdmDiag => Parametrisation::EdmDiagonal { sigma_data: self.sigma_data },
            _ => Parametrisation::Ncsn,
        }
    }

    /// How training draws σ for a conditional model.
    pub fn sigma_distribution(&self) -> SigmaDistribution {
        let (min, max) = (self.sigma_min, self.sigma_max);
        match self.sigma_dist {
            SigmaDistKind::LogNormal => SigmaDistribution::LogNormal { mean: self.p_mean, std: self.p_std, min, max },
            SigmaDistKind::LogUniform => SigmaDistribution::LogUniform { min, max },
            SigmaDistKind::Ladder => SigmaDistribution::Ladder { max, min, levels: self.sigma_levels },
        }
    }

    /// The conditional model's objective.
    pub fn conditional_objective(&self) -> ConditionalObjective {
        match self.objective {
            ObjectiveKind::Exact => ConditionalObjective::Exact { strategy: TraceStrategy::Auto },
            ObjectiveKind::SsmVr => ConditionalObjective::SsmVr { projections: self.projections, distribution: Projection::Gaussian },
            ObjectiveKind::Dsm => ConditionalObjective::Dsm,
            other => unreachable!("validate() refuses {other} with a conditional model"),
        }
    }

    /// How samples are drawn. A conditional model walks σ from --sigma-max down to the smallest
    /// level it was trained on; the unconditional model keeps its own schedules (see [`crate::eval`]).
    pub fn sampler(&self) -> Sampler {
        if !self.is_conditional() {
            return crate::eval::unconditional_sampler(self);
        }
        let (max, min) = (self.sigma_max, self.sigma_min.max(0.002));
        let n = self.sampler_steps;
        match self.sampler {
            SamplerKind::Heun => Sampler::Heun { sigmas: edm_sigmas(max, min, n, 7.0) },
            SamplerKind::HeunChurn => Sampler::HeunChurn { sigmas: edm_sigmas(max, min, n, 7.0), gamma: self.churn, churn_min: CHURN_MIN },
            SamplerKind::Sde => Sampler::ReverseSde { sigmas: edm_sigmas(max, min, n, 7.0), corrector: None },
            SamplerKind::Pc => Sampler::ReverseSde { sigmas: edm_sigmas(max, min, n, 7.0), corrector: Some(Corrector { steps: 1, snr: 0.16 }) },
            SamplerKind::Langevin => Sampler::AnnealedLangevin {
                sigmas: geometric_sigmas(max.min(20.0), min.max(0.01), 10),
                steps_per_level: n,
                epsilon: 2e-5,
            },
        }
    }

    /// The objective to train with.
    pub fn objective(&self) -> Objective {
        let projections = self.projections;
        match self.objective {
            ObjectiveKind::Exact => Objective::Exact {
                strategy: TraceStrategy::Auto,
            },
            ObjectiveKind::Ssm => Objective::Ssm {
                projections,
                distribution: Projection::Gaussian,
            },
            ObjectiveKind::SsmVr => Objective::SsmVr {
                projections,
                distribution: Projection::Gaussian,
            },
            ObjectiveKind::Dsm => Objective::Dsm {
                sigma: self.noise_sigma,
            },
            ObjectiveKind::AnnealDsm => Objective::AnnealDsm {
                sigmas: self.anneal_sigmas(),
            },
        }
    }

    /// The `anneal-dsm` ladder, largest first, ending at `noise_sigma`.
    pub fn anneal_sigmas(&self) -> Vec<f64> {
        geometric_sigmas(
            self.anneal_sigma_max.max(self.noise_sigma),
            self.noise_sigma,
            self.anneal_levels.max(1),
        )
    }

    /// Whether the objective perturbs the data itself (denoising); the others are given x + σε.
    pub fn objective_adds_noise(&self) -> bool {
        matches!(
            self.objective,
            ObjectiveKind::Dsm | ObjectiveKind::AnnealDsm
        )
    }

    /// Whether the unconditional network's output is σ·score (`anneal-dsm` trains
    /// s(x, σ) = net(x)/σ); a conditional model is told σ instead ([`Self::is_conditional`]).
    pub fn divides_by_sigma(&self) -> bool {
        !self.is_conditional() && self.objective == ObjectiveKind::AnnealDsm
    }

    /// Checks what clap cannot: positive sizes, finite rates.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("--steps", self.steps as f64),
            ("--batch", self.batch as f64),
            ("--hidden", self.hidden as f64),
            ("--layers", self.layers as f64),
            ("--projections", self.projections as f64),
            ("--checkpoint-every", self.checkpoint_every as f64),
            ("--eval-every", self.eval_every as f64),
            ("--anneal-levels", self.anneal_levels as f64),
            ("--sigma-levels", self.sigma_levels as f64),
            ("--samples", self.samples as f64),
        ];
        for (flag, value) in positive {
            if value < 1.0 {
                return Err(format!("{flag} must be at least 1"));
            }
        }
        let rates = [
            ("--lr", self.lr),
            ("--noise-sigma", self.noise_sigma),
            ("--clip-grad-norm", self.clip_grad_norm),
            ("--anneal-sigma-max", self.anneal_sigma_max),
            ("--sigma-min", self.sigma_min),
            ("--sigma-max", self.sigma_max),
            ("--sigma-data", self.sigma_data),
            ("--p-std", self.p_std),
        ];
        for (flag, value) in rates {
            if !(value.is_finite() && value > 0.0) {
                return Err(format!(
                    "{flag} must be a positive finite number, got {value}"
                ));
            }
        }
        if self.sigma_min >= self.sigma_max {
            return Err(format!("--sigma-min ({}) must be below --sigma-max ({})", self.sigma_min, self.sigma_max));
        }
        if !(0.0..1.0).contains(&self.ema_decay) {
            return Err(format!("--ema-decay must lie in [0, 1), got {}", self.ema_decay));
        }
        if self.sampler_steps < 2 {
            return Err("--sampler-steps must be at least 2".into());
        }
        if !(0.0..=std::f64::consts::SQRT_2 - 1.0 + 1e-12).contains(&self.churn) {
            return Err(format!("--churn must lie in [0, √2 − 1 ≈ 0.414], got {}", self.churn));
        }
        if self.is_conditional() && matches!(self.objective, ObjectiveKind::Ssm | ObjectiveKind::AnnealDsm) {
            return Err(format!(
                "--objective {} trains the unconditional model only; with --model {} use dsm, exact or ssm-vr \
                 (or pass --model unconditional)",
                self.objective, self.model
            ));
        }
        Ok(())
    }

    /// The settings, one per line, as printed at the start of a run.
    pub fn describe(&self) -> String {
        let mut lines = vec![
            format!("objective        {}", self.objective),
            format!("dataset          {}", self.dataset),
            format!("steps            {}", self.steps),
            format!("batch            {}", self.batch),
            match self.model {
                ModelKind::Unconditional => format!(
                    "model            unconditional s(x): MLP, {} hidden layer(s) of {}, {}",
                    self.layers, self.hidden, self.activation
                ),
                _ => format!(
                    "model            s(x, σ), {}: MLP, {} hidden layer(s) of {}, {}, σ features into {}",
                    self.parametrisation(),
                    self.layers,
                    self.hidden,
                    self.activation,
                    if self.embed_every_layer { "every hidden layer" } else { "the first hidden layer" }
                ),
            },
            format!(
                "optimiser        Adam, lr {:e}, gradients clipped to norm {}",
                self.lr, self.clip_grad_norm
            ),
        ];
        if self.is_conditional() {
            lines.push(format!("noise levels     {}", self.sigma_distribution()));
            lines.push(format!("EMA              decay {}; warm-up {} steps", self.ema_decay, self.warmup));
            lines.push(format!("sampler          {}; {} samples", self.sampler(), self.samples));
            lines.push(format!("held-out σ       {} (exact SM of the EMA model on x + σε)", self.noise_sigma));
        } else {
            lines.push(format!("noise σ          {} (trained and evaluated on x + σε)", self.noise_sigma));
        }
        match self.objective {
            ObjectiveKind::AnnealDsm => {
                let sigmas: Vec<String> = self
                    .anneal_sigmas()
                    .iter()
                    .map(|s| format!("{s:.3}"))
                    .collect();
                lines.push(format!("sigma ladder     {}", sigmas.join(" ")));
            }
            ObjectiveKind::Ssm | ObjectiveKind::SsmVr => {
                lines.push(format!("projections      {}", self.projections))
            }
            _ => {}
        }
        lines.push(format!("seed             {}", self.seed));
        lines.push(format!(
            "checkpoint/eval  every {} / {} steps",
            self.checkpoint_every, self.eval_every
        ));
        lines.join("\n")
    }
}

impl ActivationKind {
    /// The score crate's activation.
    pub fn activation(self) -> Activation {
        match self {
            ActivationKind::Softplus => Activation::Softplus,
            ActivationKind::Sigmoid => Activation::Sigmoid,
            ActivationKind::Tanh => Activation::Tanh,
            ActivationKind::Silu => Activation::Silu,
        }
    }
}

impl DatasetKind {
    /// The mnist crate's data set.
    pub fn kind(self) -> mnist::Kind {
        match self {
            DatasetKind::Mnist => mnist::Kind::Mnist,
            DatasetKind::Fashion => mnist::Kind::Fashion,
        }
    }
}

/// Prints clap's value name (`ssm-vr`, `softplus`, `fashion`).
fn value_name<T: ValueEnum>(value: &T, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let possible = value.to_possible_value().expect("no value is skipped");
    f.write_str(possible.get_name())
}

impl fmt::Display for ObjectiveKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        value_name(self, f)
    }
}
impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        value_name(self, f)
    }
}
impl fmt::Display for SamplerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        value_name(self, f)
    }
}
impl fmt::Display for SigmaDistKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        value_name(self, f)
    }
}
impl fmt::Display for ActivationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        value_name(self, f)
    }
}
impl fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        value_name(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_through_json_with_cli_spellings() {
        let config = TrainConfig::defaults(ModelKind::Edm, ObjectiveKind::SsmVr);
        let json = serde_json::to_string(&config).unwrap();
        assert!(json.contains("\"objective\":\"ssm-vr\""), "{json}");
        assert_eq!(serde_json::from_str::<TrainConfig>(&json).unwrap(), config);
        assert_eq!(ObjectiveKind::AnnealDsm.to_string(), "anneal-dsm");
    }

    #[test]
    fn the_anneal_ladder_ends_at_the_training_noise() {
        let config = TrainConfig::defaults(ModelKind::Unconditional, ObjectiveKind::AnnealDsm);
        let sigmas = config.anneal_sigmas();
        assert_eq!(sigmas.len(), config.anneal_levels);
        assert!((sigmas[0] - config.anneal_sigma_max).abs() < 1e-12);
        assert!((sigmas.last().unwrap() - config.noise_sigma).abs() < 1e-12);
    }

    #[test]
    fn validation_names_the_flag() {
        let mut config = TrainConfig::defaults(ModelKind::Edm, ObjectiveKind::Exact);
        config.lr = f64::NAN;
        assert!(config.validate().unwrap_err().contains("--lr"));
        config.lr = 1e-3;
        config.batch = 0;
        assert!(config.validate().unwrap_err().contains("--batch"));
    }
}
