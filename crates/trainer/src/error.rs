//! What can stop a run, each with the message a user needs and the exit code a script can test.

use std::path::PathBuf;

/// Why a run stopped early.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A flag or file the user gave does not make sense.
    #[error("{0}")]
    Usage(String),
    /// The data could not be found, fetched or read; the message lists every place looked.
    #[error(transparent)]
    Data(#[from] mnist::Error),
    /// `--device cuda` without a usable GPU.
    #[error(transparent)]
    Device(#[from] crate::device::Unavailable),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A checkpoint or model file is not what the trainer wrote.
    #[error("{path}: {reason}")]
    BadCheckpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The loss or the gradient stopped being finite.
    #[error(
        "training diverged at step {step} ({objective}): the {what} is {value}.\n\
         hint: lower the learning rate (--lr, now {lr:e}) or raise the noise (--noise-sigma, now {noise_sigma}).\n\
         {checkpoint}"
    )]
    Diverged {
        /// The step that diverged.
        step: u64,
        /// The objective's name.
        objective: String,
        /// "loss" or "gradient norm".
        what: &'static str,
        /// The value that is not finite.
        value: f64,
        /// The learning rate, for the hint.
        lr: f64,
        /// The noise σ, for the hint.
        noise_sigma: f64,
        /// Where the last good checkpoint is, or that there is none yet.
        checkpoint: String,
    },
    /// The score crate refused a model or a batch.
    #[error(transparent)]
    Score(#[from] score::ScoreError),
    /// The sample-quality classifier could not be loaded, trained or used.
    #[error("sample quality: {0}")]
    Quality(#[from] quality::QualityError),
}

impl TrainError {
    /// The process exit code: 2 for usage, 3 for divergence, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            TrainError::Usage(_) => 2,
            TrainError::Diverged { .. } => 3,
            _ => 1,
        }
    }

    /// An `Io` error naming `path`.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> TrainError {
        let path = path.into();
        move |source| TrainError::Io { path, source }
    }
}
