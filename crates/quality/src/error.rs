//! What a caller can get wrong at run time: cache files and image buffers.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum QualityError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// A cache file that cannot be read as a classifier: truncated, not
    /// safetensors, or missing a tensor. [`crate::Classifier::load_or_train`]
    /// sets it aside and trains again.
    #[error("{path}: not a usable classifier file ({reason}); delete it and the classifier is trained again")]
    Corrupt { path: PathBuf, reason: String },
    /// A whole classifier file of another format version or architecture.
    #[error("{path}: a classifier of {found}, but this build expects {expected}; delete it and the classifier is trained again")]
    Mismatch { path: PathBuf, found: String, expected: String },
    #[error("{what}: {len} values are not a whole number of {dim}-pixel images")]
    NotImages { what: &'static str, len: usize, dim: usize },
    #[error("{what}: images of {rows}×{cols} pixels; the classifier reads 28×28")]
    ImageSize { what: &'static str, rows: usize, cols: usize },
    #[error("{what}: {count} images; at least {needed} are needed")]
    TooFewImages { what: &'static str, count: usize, needed: usize },
}

impl QualityError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> QualityError {
        let path = path.into();
        move |source| QualityError::Io { path, source }
    }
}
