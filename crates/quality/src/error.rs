//! What a caller can get wrong at run time: cache files and image buffers.

use std::path::PathBuf;

use thiserror::Error;

/// What can go wrong judging images: files, and image buffers of the wrong size.
#[derive(Debug, Error)]
pub enum QualityError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A cache file that cannot be read as a classifier: truncated, not
    /// safetensors, or missing a tensor. [`crate::Classifier::load_or_train`]
    /// sets it aside and trains again.
    #[error("{path}: not a usable classifier file ({reason}); delete it and the classifier is trained again")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A whole classifier file of another format version or architecture.
    #[error("{path}: a classifier of {found}, but this build expects {expected}; delete it and the classifier is trained again")]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// What the file holds.
        found: String,
        /// What this build expects.
        expected: String,
    },
    /// A buffer whose length is not a multiple of the image size.
    #[error("{what}: {len} values are not a whole number of {dim}-pixel images")]
    NotImages {
        /// Which images.
        what: &'static str,
        /// The number of values.
        len: usize,
        /// Pixels per image.
        dim: usize,
    },
    /// Images of another size than 28×28.
    #[error("{what}: images of {rows}×{cols} pixels; the classifier reads 28×28")]
    ImageSize {
        /// Which images.
        what: &'static str,
        /// Image height.
        rows: usize,
        /// Image width.
        cols: usize,
    },
    /// Fewer images than the computation needs (a batch, or two for a covariance).
    #[error("{what}: {count} images; at least {needed} are needed")]
    TooFewImages {
        /// Which images.
        what: &'static str,
        /// How many there are.
        count: usize,
        /// How many are needed.
        needed: usize,
    },
}

impl QualityError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> QualityError {
        let path = path.into();
        move |source| QualityError::Io { path, source }
    }
}
