#![doc = include_str!("../README.md")]
//!
//! This facade re-exports the workspace's crates: [`autodiff`] (the engine),
//! [`score`] (score-matching objectives, samplers) and [`mnist`] (the data);
//! [`guide`] holds the guide to higher-order autograd, chapter by chapter.

#![warn(missing_docs)]

pub use autodiff;
pub use mnist;
pub use score;

/// The guide to higher-order autograd (`docs/guide/`), one module per
/// chapter, so that `cargo test --doc` runs every code block in it.
pub mod guide {
    #![doc = include_str!("../docs/guide/README.md")]

    #[doc = include_str!("../docs/guide/01-tape.md")]
    pub mod tape {}
    #[doc = include_str!("../docs/guide/02-double-backward.md")]
    pub mod double_backward {}
    #[doc = include_str!("../docs/guide/03-jacobian-diagonal.md")]
    pub mod jacobian_diagonal {}
    #[doc = include_str!("../docs/guide/04-vjp-jvp-hvp.md")]
    pub mod vjp_jvp_hvp {}
    #[doc = include_str!("../docs/guide/05-objectives.md")]
    pub mod objectives {}
    #[doc = include_str!("../docs/guide/06-gpu.md")]
    pub mod gpu {}
}
