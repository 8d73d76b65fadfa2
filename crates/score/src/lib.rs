//! # score: score matching on gradgrad
//!
//! A score model `s(x) ≈ ∇ₓ log p(x)` trained by Hyvärinen's score matching,
//! `L = E[tr(∂s/∂x) + ½‖s‖²]`, which needs no normalising constant. The trace
//! is the hard part; [`trace`] computes it exactly three ways, the
//! structure-aware one at about the cost of a sliced estimate. Cheaper
//! relatives ([`Objective`]): sliced score matching, Hutchinson's estimator,
//! denoising score matching. [`optim`] trains, [`sampling`] draws samples by
//! Langevin dynamics, and [`density`] gives 2-D ground truths to check against.
//!
//! The guide to higher-order autograd, chapter by chapter with runnable examples, is
//! `docs/guide/` in the gradgrad repository, and [`gradgrad::guide`](../gradgrad/guide/index.html)
//! in the workspace's documentation (`cargo doc --workspace --no-deps --open`).

#![warn(missing_docs)]

// `&[t.clone()]` reads better than `slice::from_ref(&t)`, and cloning a tensor
// is a reference count.
#![allow(clippy::cloned_ref_to_slice_refs)]

pub mod activation;
pub mod conditional;
pub mod conditional_loss;
pub mod density;
/// What an objective can report instead of a loss.
pub mod error;
pub mod mlp;
pub mod noise;
pub mod objectives;
pub mod optim;
pub mod samplers;
pub mod sampling;
pub mod trace;

pub use activation::Activation;
pub use conditional::{ConditionalConfig, ConditionalMlp, Levels, NoiseConditioning, Parametrisation, SigmaDistribution};
pub use conditional_loss::{conditional_exact_loss_value, ConditionalObjective};
pub use samplers::{edm_sigmas, Corrector, Sampler};
pub use density::{AnnealDsmOptimum, GaussianMixture, ScaledScore, TrueScore};
pub use error::ScoreError;
pub use mlp::{Linear, Mlp, MlpConfig, ScoreModel};
pub use sampling::{annealed_langevin, langevin, AnnealedSchedule};
pub use objectives::{exact_loss_value, geometric_sigmas, LossOutput, Objective, Projection};
pub use trace::{score_and_diagonal, score_and_trace, structured_diagonal, structured_diagonal_of, structured_trace, structured_trace_of, Diagonal, Trace, TraceStrategy};
