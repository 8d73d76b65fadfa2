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
//!   same on a Zen 3 and a Zen 5, and from run to run. `tests.rs` checks each
//!   level the CPU has against an element-at-a-time reference, bit for bit.
//!   The cost: no `mul_add` in the FMA levels (it rounds once where SSE2
//!   rounds twice, so the levels would part in the last bits).
//! - A map's `f` must inline into the loop, or the level's copy calls a
//!   baseline `f` per element: pass a small closure or an `#[inline(always)]`
//!   function by value, and keep what it calls `#[inline]`.
//!
//! Not here: matmul (`backend/gemm` picks its own microkernels at run time), the
//! f64 transcendentals (libm calls at every level), and the loops that only
//! move memory (transpose, broadcast, gather), which gain nothing from width.

mod dispatch;
mod level;
mod loops;

pub use level::{active, Level, LEVEL_ENV};
pub use loops::{AdamConstants, SUM_LANES};

#[cfg(test)]
mod tests;
