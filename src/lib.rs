#![doc = include_str!("../README.md")]
//!
//! This facade re-exports the workspace's crates: [`autodiff`] (the engine),
//! [`score`] (score-matching objectives, samplers) and [`mnist`] (the data).

pub use autodiff;
pub use mnist;
pub use score;
