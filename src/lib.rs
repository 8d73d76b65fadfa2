//! gradgrad: a reverse-mode autodiff engine that differentiates its own
//! derivatives, and the score-matching work built on it.
//!
//! This facade re-exports the workspace's crates; see [`autodiff`] first.

pub use autodiff;
