//! The command line. Training flags are optional here so that the trainer can tell a flag the
//! user gave from a default: defaults are filled in by [`TrainArgs::config`], and `--resume`
//! refuses flags that would change the run it continues.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{ActivationKind, DatasetKind, ObjectiveKind, TrainConfig, DEFAULT_OBJECTIVE};
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
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub train: TrainArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Recomputes a saved model's held-out exact SM loss and redraws its samples.
    Eval(EvalArgs),
}

#[derive(Args, Debug, Default, Clone)]
pub struct TrainArgs {
    /// Training objective [default: dsm, the best held-out loss in the same time; see the README]
    #[arg(long, value_enum)]
    pub objective: Option<ObjectiveKind>,
    /// Total optimisation steps [default: 6000 for dsm and anneal-dsm, 4000 for the others: ~1½–2 minutes each on 2 cores]
    #[arg(long)]
    pub steps: Option<u64>,
    /// Images per minibatch [default: 128]
    #[arg(long)]
    pub batch: Option<usize>,
    /// Width of each hidden layer [default: 1024]
    #[arg(long)]
    pub hidden: Option<usize>,
    /// Number of hidden layers [default: 1]
    #[arg(long)]
    pub layers: Option<usize>,
    /// Activation after each hidden layer [default: softplus]
    #[arg(long, value_enum)]
    pub activation: Option<ActivationKind>,
    /// Adam's learning rate [default: 2e-3]
    #[arg(long)]
    pub lr: Option<f64>,
    /// Gradients are rescaled to at most this L2 norm [default: 10000]
    #[arg(long)]
    pub clip_grad_norm: Option<f64>,
    /// σ of the perturbation x + σε the model is trained and evaluated on [default: 0.1]
    #[arg(long)]
    pub noise_sigma: Option<f64>,
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
    /// Stop training after this many seconds (for measuring objectives on equal time)
    #[arg(long, hide = true, value_name = "SECS")]
    pub time_budget: Option<f64>,
}

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
}

impl TrainArgs {
    /// The configuration of a new run: defaults for the objective, overridden by given flags.
    pub fn config(&self) -> TrainConfig {
        let mut c = TrainConfig::defaults(self.objective.unwrap_or(DEFAULT_OBJECTIVE));
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
            clip_grad_norm,
            noise_sigma,
            anneal_sigma_max,
            anneal_levels,
            projections,
            seed,
            dataset
        );
        c
    }

    /// The flags a resumed run may change: how long it goes on and how often it reports.
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
        check!(objective => "--objective", batch => "--batch", hidden => "--hidden", layers => "--layers",
               activation => "--activation", lr => "--lr", clip_grad_norm => "--clip-grad-norm",
               noise_sigma => "--noise-sigma", anneal_sigma_max => "--anneal-sigma-max",
               anneal_levels => "--anneal-levels", projections => "--projections", seed => "--seed",
               dataset => "--dataset");
        out
    }
}
