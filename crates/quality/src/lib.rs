//! Sample quality for MNIST, measured by a classifier that gradgrad itself
//! trains: the classifier Inception Score, the share of confidently
//! classified samples, the class histogram, and the Fréchet distance between
//! the classifier's last-hidden-layer features of two image sets (FCD).
//!
//! ```no_run
//! # fn main() -> Result<(), quality::QualityError> {
//! # let splits: mnist::Splits = unimplemented!();
//! # let samples: Vec<f32> = vec![];
//! use quality::{Classifier, Quality, Reference, TrainConfig};
//! let (classifier, _) = Classifier::load_or_train("data/classifier.safetensors".as_ref(), &splits, &TrainConfig::default(), |_| {})?;
//! let reference = Reference::of(&classifier, &splits.test.images)?;
//! let q = Quality::of(&classifier, &samples, Some(&reference))?;
//! for line in q.render() { println!("{line}"); }
//! # Ok(()) }
//! ```
//!
//! The guide to higher-order autograd, chapter by chapter with runnable examples, is
//! `docs/guide/` in the gradgrad repository, and [`gradgrad::guide`](../gradgrad/guide/index.html)
//! in the workspace's documentation (`cargo doc --workspace --no-deps --open`).

#![warn(missing_docs)]

mod augment;
mod classifier;
mod error;
pub mod frechet;
pub mod linalg;
mod metrics;
mod train;

pub use classifier::{argmax, Classifier, Provenance, CLASSES, FORMAT_VERSION, PIXELS};
pub use error::QualityError;
pub use frechet::{frechet_distance, Gaussian, Reference};
pub use metrics::{class_counts, confident_share, inception_score, Quality, CONFIDENT};
pub use train::{Cached, EpochReport, TrainConfig};
