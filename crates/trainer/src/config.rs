//! A run's configuration: what `config.json` holds, the defaults, and the objective it builds.

use std::fmt;

use clap::ValueEnum;
use score::{geometric_sigmas, Activation, Objective, Projection, TraceStrategy};
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
    Softplus,
    Sigmoid,
    Tanh,
}

/// `--dataset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetKind {
    Mnist,
    Fashion,
}

/// Everything that decides what a run computes. Saved as `config.json`; `--resume` reads it back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub objective: ObjectiveKind,
    pub dataset: DatasetKind,
    /// Total optimisation steps (a resumed run goes on until it has taken this many).
    pub steps: u64,
    pub batch: usize,
    pub hidden: usize,
    /// Number of hidden layers.
    pub layers: usize,
    pub activation: ActivationKind,
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
    pub seed: u64,
    /// Steps between checkpoints.
    pub checkpoint_every: u64,
    /// Steps between held-out evaluations (the last step is always evaluated).
    pub eval_every: u64,
}

/// The default σ of the data perturbation. MNIST lies on a thin set (most pixels are exactly 0),
/// where the data density, and so its score, does not exist; x + σε smooths it (NCSN, Song &
/// Ermon 2019). 0.1 is small beside the pixel range [0, 1], so digits stay legible, and large
/// enough that the exact objective trains stably at the default learning rate.
pub const DEFAULT_NOISE_SIGMA: f64 = 0.1;

/// The objective of a run given no `--objective`: denoising score matching, which reached the
/// lowest held-out exact SM loss in the same training time (README, "Training MNIST"). The exact
/// objective learns more per step for the first few thousand steps, then flattens; a DSM step
/// also costs about 20% less.
pub const DEFAULT_OBJECTIVE: ObjectiveKind = ObjectiveKind::Dsm;

/// Default steps per objective: set to about 3½ minutes of training each on an idle 2-core
/// machine when steps were slower (the README's table); about 1½–2 minutes each now, so a
/// default run stays well inside ten minutes even under load.
pub fn default_steps(objective: ObjectiveKind) -> u64 {
    match objective {
        ObjectiveKind::Exact | ObjectiveKind::Ssm | ObjectiveKind::SsmVr => 4000,
        ObjectiveKind::Dsm | ObjectiveKind::AnnealDsm => 6000,
    }
}

impl TrainConfig {
    /// The defaults for `objective`.
    pub fn defaults(objective: ObjectiveKind) -> TrainConfig {
        TrainConfig {
            objective,
            dataset: DatasetKind::Mnist,
            steps: default_steps(objective),
            batch: 128,
            hidden: 1024,
            layers: 1,
            activation: ActivationKind::Softplus,
            lr: 2e-3,
            clip_grad_norm: 1e4,
            noise_sigma: DEFAULT_NOISE_SIGMA,
            anneal_sigma_max: 1.0,
            anneal_levels: 10,
            projections: 1,
            seed: 0,
            checkpoint_every: 500,
            eval_every: 500,
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

    /// Whether the network's output is σ·score (`anneal-dsm` trains s(x, σ) = s(x)/σ).
    pub fn noise_conditional(&self) -> bool {
        self.objective == ObjectiveKind::AnnealDsm
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
        ];
        for (flag, value) in rates {
            if !(value.is_finite() && value > 0.0) {
                return Err(format!(
                    "{flag} must be a positive finite number, got {value}"
                ));
            }
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
            format!(
                "model            MLP, {} hidden layer(s) of {}, {}",
                self.layers, self.hidden, self.activation
            ),
            format!(
                "optimiser        Adam, lr {:e}, gradients clipped to norm {}",
                self.lr, self.clip_grad_norm
            ),
            format!(
                "noise sigma      {} (trained and evaluated on x + sigma*eps)",
                self.noise_sigma
            ),
        ];
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
    pub fn activation(self) -> Activation {
        match self {
            ActivationKind::Softplus => Activation::Softplus,
            ActivationKind::Sigmoid => Activation::Sigmoid,
            ActivationKind::Tanh => Activation::Tanh,
        }
    }
}

impl DatasetKind {
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
        let config = TrainConfig::defaults(ObjectiveKind::SsmVr);
        let json = serde_json::to_string(&config).unwrap();
        assert!(json.contains("\"objective\":\"ssm-vr\""), "{json}");
        assert_eq!(serde_json::from_str::<TrainConfig>(&json).unwrap(), config);
        assert_eq!(ObjectiveKind::AnnealDsm.to_string(), "anneal-dsm");
    }

    #[test]
    fn the_anneal_ladder_ends_at_the_training_noise() {
        let config = TrainConfig::defaults(ObjectiveKind::AnnealDsm);
        let sigmas = config.anneal_sigmas();
        assert_eq!(sigmas.len(), config.anneal_levels);
        assert!((sigmas[0] - config.anneal_sigma_max).abs() < 1e-12);
        assert!((sigmas.last().unwrap() - config.noise_sigma).abs() < 1e-12);
    }

    #[test]
    fn validation_names_the_flag() {
        let mut config = TrainConfig::defaults(ObjectiveKind::Exact);
        config.lr = f64::NAN;
        assert!(config.validate().unwrap_err().contains("--lr"));
        config.lr = 1e-3;
        config.batch = 0;
        assert!(config.validate().unwrap_err().contains("--batch"));
    }
}
