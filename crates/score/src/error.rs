use thiserror::Error;

use crate::trace::TraceStrategy;

/// What an objective can report instead of a loss.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ScoreError {
    #[error("{objective}: the model maps R^{model_dim} → R^{model_dim}, but the data has dimension {data_dim}")]
    DimensionMismatch { objective: String, model_dim: usize, data_dim: usize },
    #[error("{objective}: the model's output has shape {output}, but the input has shape {input}; a score network maps R^D → R^D")]
    NotASquareMap { objective: String, input: String, output: String },
    #[error("the {strategy} trace does not apply: {reason}")]
    NotApplicable { strategy: TraceStrategy, reason: String },
    #[error("{objective}: the loss is not finite ({value})")]
    NonFinite { objective: String, value: f64 },
}
