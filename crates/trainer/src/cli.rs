//! The command line. Training flags are optional here so that the trainer can tell a flag the
//! user gave from a default: defaults are filled in by [`TrainArgs::config`], and `--resume`
//! refuses flags that would change the run it continues.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{ActivationKind, DatasetKind, ModelKind, ObjectiveKind, SamplerKind, SigmaDistKind, TrainConfig, DEFAULT_MODEL, DEFAULT_OBJECTIVE};
use crate::device::DeviceRequest;

#[derive(Parser, Debug)]
#[command(
    name = "trainer",
    about = "Trains a score model on MNIST by score matching, then draws samples and denoises test digits.",
    long_about = "Trains a score model s(x) ≈ ∇ log p(x) on MNIST by score matching (with no flags: \
                  denoising score matching, defaults printed at start), then writes metrics, pictures and a \
                  checkpoint to runs/<timestamp>-<objective>/.",
    args_conflicts_with_subcommands = true
)]
/// The command line: training flags, or a subcommand.
pub struct Cli {
    /// `eval` or `classifier`; none trains.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The training flags.
    #[command(flatten)]
    pub train: TrainArgs,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Recomputes a saved model's held-out exact SM loss, redraws its samples and scores them.
    Eval(EvalArgs),
    /// Trains the sample-quality classifier again (it is trained on first use and cached).
    Classifier(ClassifierArgs),
}

/// The flags of `trainer classifier`.
#[derive(Args, Debug, Clone)]
pub struct ClassifierArgs {
    /// Data set
    #[arg(long, value_enum, default_value_t = DatasetKind::Mnist)]
    pub dataset: DatasetKind,
    /// Folder holding the four IDX files (as for training)
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
}

/// The training flags, each `None` unless given.
#[derive(Args, Debug, Default, Clone)]
pub struct TrainArgs {
    /// The network [default: edm-diag, a noise-conditional s(x, σ)]
    #[arg(long, value_enum)]
    pub model: Option<ModelKind>,
    /// Training objective [default: dsm; see docs/trainer.md]
    #[arg(long, value_enum)]
    pub objective: Option<ObjectiveKind>,
    /// Total optimisation steps [default: 6000 for a conditional model's dsm (about two minutes on 2 cores), 2500 for its exact, 4000 for its ssm-vr; unconditional: 6000 for dsm and anneal-dsm, 4000 for the others]
    #[arg(long)]
    pub steps: Option<u64>,
    /// Images per minibatch [default: 128]
    #[arg(long)]
    pub batch: Option<usize>,
    /// Width of each hidden layer [default: 1024]
    #[arg(long)]
    pub hidden: Option<usize>,
    /// Number of hidden layers [default: 2 conditional, 1 unconditional]
    #[arg(long)]
    pub layers: Option<usize>,
    /// Activation after each hidden layer [default: silu conditional, softplus unconditional]
    #[arg(long, value_enum)]
    pub activation: Option<ActivationKind>,
    /// Adam's learning rate [default: 1e-3 conditional, 2e-3 unconditional]
    #[arg(long)]
    pub lr: Option<f64>,
    /// Steps of linear learning-rate warm-up [default: 200 conditional, 0 unconditional]
    #[arg(long)]
    pub warmup: Option<u64>,
    /// Gradients are rescaled to at most this L2 norm [default: 100 conditional, 10000 unconditional]
    #[arg(long)]
    pub clip_grad_norm: Option<f64>,
    /// Decay of the weights' moving average used for sampling and evaluation; 0 for none [default: 0.999 conditional, 0 unconditional]
    #[arg(long)]
    pub ema_decay: Option<f64>,
    /// σ of the held-out evaluation, and of the unconditional model's perturbation x + σε [default: 0.1]
    #[arg(long)]
    pub noise_sigma: Option<f64>,
    /// Smallest σ a conditional model trains and samples at [default: 0.002]
    #[arg(long)]
    pub sigma_min: Option<f64>,
    /// Largest σ a conditional model trains at and sampling starts from [default: 40, beyond the largest distance between two MNIST images]
    #[arg(long)]
    pub sigma_max: Option<f64>,
    /// How training draws σ per image [default: log-normal for edm, ladder for ncsn]
    #[arg(long, value_enum)]
    pub sigma_dist: Option<SigmaDistKind>,
    /// Levels of the ladder distribution [default: 10]
    #[arg(long)]
    pub sigma_levels: Option<usize>,
    /// Mean of log σ for the log-normal distribution [default: −1.89, EDM's −1.2 at pixel scale]
    #[arg(long, allow_hyphen_values = true)]
    pub p_mean: Option<f64>,
    /// Standard deviation of log σ for the log-normal distribution [default: 1.2]
    #[arg(long)]
    pub p_std: Option<f64>,
    /// EDM's σ_data, the data's RMS per pixel [default: 0.3347, MNIST's]
    #[arg(long)]
    pub sigma_data: Option<f64>,
    /// Feed the σ features to the first hidden layer only (else to every one)
    #[arg(long)]
    pub embed_first_only: bool,
    /// How samples are drawn [default: heun-churn]
    #[arg(long, value_enum)]
    pub sampler: Option<SamplerKind>,
    /// Levels of the sampler's σ schedule; steps per level for langevin [default: 120]
    #[arg(long)]
    pub sampler_steps: Option<usize>,
    /// γ of heun-churn: noise raises each level σ to (1 + γ)σ before its step [default: 0.414, √2 − 1]
    #[arg(long)]
    pub churn: Option<f64>,
    /// Samples drawn and scored at the end [default: 1000]
    #[arg(long)]
    pub samples: Option<usize>,
    /// Largest σ of the anneal-dsm ladder [default: 1]
    #[arg(long)]
    pub anneal_sigma_max: Option<f64>,
    /// Number of σ levels of the anneal-dsm ladder [default: 10]
    #[arg(long)]
    pub anneal_levels: Option<usize>,
    /// Random projections per image for ssm and ssm-vr [default: 1]
    #[arg(long)]
    pub projections: Option<usize>,
    /// Seed of the initialisation, the minibatches and all noise [default: 0]
    #[arg(long)]
    pub seed: Option<u64>,
    /// Steps between checkpoints [default: 500]
    #[arg(long)]
    pub checkpoint_every: Option<u64>,
    /// Steps between held-out evaluations [default: 500]
    #[arg(long)]
    pub eval_every: Option<u64>,
    /// Where to train
    #[arg(long, value_enum, default_value_t = DeviceRequest::Auto)]
    pub device: DeviceRequest,
    /// Output folder [default: runs/<timestamp>-<objective> in the workspace]
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run in DIR from its last checkpoint (exactly: same batches, same noise)
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// Data set [default: mnist]
    #[arg(long, value_enum)]
    pub dataset: Option<DatasetKind>,
    /// Folder holding the four IDX files (raw or .gz); also MNIST_DIR. Default: data/<dataset>
    /// in the workspace, fetched there when missing
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Every this many steps, draw 250 samples with the EMA weights and score them with the classifier (a metrics.csv column)
    #[arg(long, value_name = "STEPS")]
    pub quality_every: Option<u64>,
    /// Stop training after this many seconds (for measuring objectives on equal time)
    #[arg(long, hide = true, value_name = "SECS")]
    pub time_budget: Option<f64>,
}

/// The flags of `trainer eval`.
#[derive(Args, Debug, Clone)]
pub struct EvalArgs {
    /// A model.safetensors written by the trainer
    #[arg(long)]
    pub model: PathBuf,
    /// Folder holding the data (as for training)
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Where to write samples.png and denoise.png [default: the model's folder]
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seed of the samples [default: the run's seed]
    #[arg(long)]
    pub seed: Option<u64>,
    /// How samples are drawn [default: the run's]
    #[arg(long, value_enum)]
    pub sampler: Option<SamplerKind>,
    /// γ of heun-churn [default: the run's]
    #[arg(long)]
    pub churn: Option<f64>,
    /// Levels of the sampler's σ schedule; steps per level for langevin [default: the run's]
    #[arg(long)]
    pub sampler_steps: Option<usize>,
    /// Samples drawn and scored [default: the run's]
    #[arg(long)]
    pub samples: Option<usize>,
}

impl TrainArgs {
    /// The configuration of a new run: defaults for the objective, overridden by given flags.
    pub fn config(&self) -> TrainConfig {
        let model = self.model.unwrap_or(DEFAULT_MODEL);
        let mut c = TrainConfig::defaults(model, self.objective.unwrap_or(DEFAULT_OBJECTIVE));
        if model == ModelKind::Ncsn && self.sigma_max.is_none() {
            // NCSN's ladder: σ_max near the largest distance between two images, σ_min 0.01.
            (c.sigma_max, c.sigma_min) = (20.0, 0.01);
        }
        self.apply_schedule(&mut c);
        macro_rules! set {
            ($($field:ident),*) => { $( if let Some(v) = self.$field { c.$field = v; } )* };
        }
        set!(
            batch,
            hidden,
            layers,
            activation,
            lr,
            warmup,
            clip_grad_norm,
            ema_decay,
            noise_sigma,
            sigma_min,
            sigma_max,
            sigma_dist,
            sigma_levels,
            p_mean,
            p_std,
            sigma_data,
            anneal_sigma_max,
            anneal_levels,
            projections,
            seed,
            dataset
        );
        if self.embed_first_only {
            c.embed_every_layer = false;
        }
        c
    }

    /// On a GPU the default conditional model is larger and trains longer: 3 hidden layers of
    /// 2048, batch 256, 40 000 steps, where the user chose none of those. Returns the line that
    /// says so.
    pub fn scale_up_for_gpu(&self, c: &mut TrainConfig) -> Option<String> {
        let mut changed = Vec::new();
        if self.hidden.is_none() {
            c.hidden = 2048;
            changed.push("hidden 2048");
        }
        if self.layers.is_none() {
            c.layers = 3;
            changed.push("3 hidden layers");
        }
        if self.batch.is_none() {
            c.batch = 256;
            changed.push("batch 256");
        }
        if self.steps.is_none() {
            c.steps = 40_000;
            changed.push("40000 steps");
        }
        (!changed.is_empty()).then(|| {
            format!("GPU: a larger default model and a longer run ({}); --hidden, --layers, --batch and --steps choose otherwise", changed.join(", "))
        })
    }

    /// The flags a resumed run may change: how long it goes on, how often it reports, and how it samples.
    pub fn apply_schedule(&self, c: &mut TrainConfig) {
        if let Some(v) = self.steps {
            c.steps = v;
        }
        if let Some(v) = self.checkpoint_every {
            c.checkpoint_every = v;
        }
        if let Some(v) = self.eval_every {
            c.eval_every = v;
        }
        if let Some(v) = self.sampler {
            c.sampler = v;
        }
        if let Some(v) = self.sampler_steps {
            c.sampler_steps = v;
        }
        if let Some(v) = self.samples {
            c.samples = v;
        }
        if let Some(v) = self.churn {
            c.churn = v;
        }
    }

    /// Flags given with `--resume` that disagree with the saved run, as `--flag (given X, run has Y)`.
    pub fn conflicts_with(&self, saved: &TrainConfig) -> Vec<String> {
        let mut out = Vec::new();
        macro_rules! check {
            ($($field:ident => $flag:literal),*) => { $(
                if let Some(v) = &self.$field {
                    if *v != saved.$field {
                        out.push(format!("{} (given {}, the run has {})", $flag, v, saved.$field));
                    }
                }
            )* };
        }
        check!(model => "--model", objective => "--objective", batch => "--batch", warmup => "--warmup",
               ema_decay => "--ema-decay", sigma_min => "--sigma-min", sigma_max => "--sigma-max",
               sigma_dist => "--sigma-dist", sigma_levels => "--sigma-levels", p_mean => "--p-mean",
               p_std => "--p-std", sigma_data => "--sigma-data", hidden => "--hidden", layers => "--layers",
               activation => "--activation", lr => "--lr", clip_grad_norm => "--clip-grad-norm",
               noise_sigma => "--noise-sigma", anneal_sigma_max => "--anneal-sigma-max",
               anneal_levels => "--anneal-levels", projections => "--projections", seed => "--seed",
               dataset => "--dataset");
        out
    }
}
