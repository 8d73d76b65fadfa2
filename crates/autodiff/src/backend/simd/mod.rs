//! The CPU's hot loops (elementwise maps, activations and their derivatives,
//! sums, the Adam update) compiled for several instruction sets, one picked
//! at run time: on x86-64 AVX-512, else AVX2+FMA, else SSE2; on aarch64 NEON.
//! The binaries need no `target-cpu` and run on any x86-64.
//!
//! - [`active`] is the level for this process: the widest the CPU has
//!   ([`Level::detected`]), or a lower one named by `GRADGRAD_SIMD=avx512|avx2|sse2`
//!   (for tests and measurements), read once.
//! - Each loop is a method of [`Level`] (`level.map(x, out, f)`), written once
//!   in `loops.rs` and compiled per level by `dispatch.rs`.
//! - Every level computes the same bits (see `loops.rs`): a training run is the
//!   same on a Zen 3 and a Zen 5, and from run to run.

mod dispatch;
mod level;
mod loops;

pub use level::{active, Level, LEVEL_ENV};
pub use loops::{AdamConstants, SUM_LANES};

#[cfg(test)]
mod tests;
