use thiserror::Error;

use crate::trace::TraceStrategy;

/// What an objective can report instead of a loss.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ScoreError {
    /// The model and the data have different dimensions.
    #[error("{objective}: the model maps R^{model_dim} → R^{model_dim}, but the data has dimension {data_dim}")]
    DimensionMismatch {
        /// The objective's name.
        objective: String,
        /// The model's dimension D.
        model_dim: usize,
        /// The data's dimension.
        data_dim: usize,
    },
    /// The model's output shape differs from its input's.
    #[error("{objective}: the model's output has shape {output}, but the input has shape {input}; a score network maps R^D → R^D")]
    NotASquareMap {
        /// The objective's name.
        objective: String,
        /// The input's shape.
        input: String,
        /// The output's shape.
        output: String,
    },
    /// A trace strategy does not apply to this model.
    #[error("the {strategy} trace does not apply: {reason}")]
    NotApplicable {
        /// The strategy asked for.
        strategy: TraceStrategy,
        /// Why it does not apply.
        reason: String,
    },
    /// The loss came out NaN or infinite.
    #[error("{objective}: the loss is not finite ({value})")]
    NonFinite {
        /// The objective's name.
        objective: String,
        /// The loss's value.
        value: f64,
    },
}
