//! The hot loops, each written once as a plain generic loop (a `Kernel`) and
//! run through `dispatch::at` at a level. Every level performs the same IEEE operations
//! in the same order (Rust never fuses `a * b + c` into an FMA, and the sums'
//! lanes are fixed), so all levels give the same bits: SIMD width changes
//! the speed, never the result.

use super::dispatch::{self, Kernel};
use super::Level;
use crate::dtype::Element;

/// The running sums of [`Level::sum`]: lane `i` adds elements `i`, `i + 32`, ….
/// Thirty-two lanes are two independent AVX-512 registers of f32 (four of
/// AVX2, eight of SSE2), so the adds overlap instead of waiting on each other.
pub const SUM_LANES: usize = 32;

/// The constants of one Adam step, in the element type.
#[derive(Clone, Copy, Debug)]
pub struct AdamConstants<T> {
    /// β₁, the first moment's decay.
    pub beta1: T,
    /// β₂, the second moment's decay.
    pub beta2: T,
    /// `1 − β₁`.
    pub one_minus_beta1: T,
    /// `1 − β₂`.
    pub one_minus_beta2: T,
    /// `lr / (1 − β₁ᵗ)`.
    pub step: T,
    /// `1 / (1 − β₂ᵗ)`.
    pub inv_correction2: T,
    /// ε, added to the root of the second moment.
    pub eps: T,
}

impl Level {
    /// `out[i] = f(x[i])`. `f` is taken by value (a closure's captures are
    /// a few numbers): called through a reference, a large `f` such as
    /// softplus stayed a call per element instead of being inlined.
    #[inline]
    pub fn map<T: Element, F: Fn(T) -> T + Copy>(self, x: &[T], out: &mut [T], f: F) {
        assert_eq!(x.len(), out.len(), "map: buffer lengths differ");
        dispatch::at(self, Map { x, out, f })
    }

    /// `out[i] = f(x[i], y[i])`.
    #[inline]
    pub fn zip_map<T: Element, F: Fn(T, T) -> T + Copy>(self, x: &[T], y: &[T], out: &mut [T], f: F) {
        assert!(x.len() == out.len() && y.len() == out.len(), "zip_map: buffer lengths differ");
        dispatch::at(self, ZipMap { x, y, out, f })
    }

    /// `acc[i] += x[i]`.
    #[inline]
    pub fn add_assign<T: Element>(self, acc: &mut [T], x: &[T]) {
        assert_eq!(acc.len(), x.len(), "add_assign: buffer lengths differ");
        dispatch::at(self, AddAssign { acc, x })
    }

    /// The sum of `x` in an order fixed by its length alone (see `sum_in_lanes`).
    #[inline]
    pub fn sum<T: Element>(self, x: &[T]) -> T {
        dispatch::at(self, Sum { x })
    }

    /// One Adam step over `p, g, m, v`, written into `p_out, m_out, v_out`:
    /// `m = β₁m + (1−β₁)g`, `v = β₂v + (1−β₂)g²`, `p −= step·m / (√(v/c₂) + ε)`.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub fn adam<T: Element>(self, p: &[T], g: &[T], m: &[T], v: &[T], p_out: &mut [T], m_out: &mut [T], v_out: &mut [T], c: AdamConstants<T>) {
        let n = p_out.len();
        assert!([p.len(), g.len(), m.len(), v.len(), m_out.len(), v_out.len()].iter().all(|&l| l == n), "adam: buffer lengths differ");
        dispatch::at(self, Adam { p, g, m, v, p_out, m_out, v_out, c })
    }
}

struct Map<'a, T, F> {
    x: &'a [T],
    out: &'a mut [T],
    f: F,
}
impl<T: Element, F: Fn(T) -> T> Kernel for Map<'_, T, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        for (o, &v) in self.out.iter_mut().zip(self.x) {
            *o = (self.f)(v);
        }
    }
}

struct ZipMap<'a, T, F> {
    x: &'a [T],
    y: &'a [T],
    out: &'a mut [T],
    f: F,
}
impl<T: Element, F: Fn(T, T) -> T> Kernel for ZipMap<'_, T, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        for ((o, &a), &b) in self.out.iter_mut().zip(self.x).zip(self.y) {
            *o = (self.f)(a, b);
        }
    }
}

struct AddAssign<'a, T> {
    acc: &'a mut [T],
    x: &'a [T],
}
impl<T: Element> Kernel for AddAssign<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        for (a, &v) in self.acc.iter_mut().zip(self.x) {
            *a = *a + v;
        }
    }
}

struct Sum<'a, T> {
    x: &'a [T],
}
/// The sum: [`SUM_LANES`] running sums, then the lanes added pairwise (lane `i` with
/// lane `i + 16`, then `i + 8`, …), then the tail of fewer than 32 elements
/// in order. One running sum would wait out each add's latency in turn: the
/// row sums of a `[784, 1024]` f32 matrix took 0.48 ms that way, 0.12 ms with
/// eight lanes.
impl<T: Element> Kernel for Sum<'_, T> {
    type Output = T;
    #[inline(always)]
    fn run(self) -> T {
        sum_in_lanes(self.x)
    }
}

#[inline(always)]
fn sum_in_lanes<T: Element>(x: &[T]) -> T {
    let mut lanes = [T::zero(); SUM_LANES];
    let rows = x.chunks_exact(SUM_LANES);
    let tail = rows.remainder().iter().fold(T::zero(), |s, &v| s + v);
    for row in rows {
        for (l, &v) in lanes.iter_mut().zip(row) {
            *l = *l + v;
        }
    }
    // Seen together with the pairwise adds below, the running sums look to
    // LLVM like one reduction, which it vectorises two lanes wide; hidden
    // behind `black_box` (one 128-byte store) they fill whole registers.
    let mut lanes = std::hint::black_box(lanes);
    let mut width = SUM_LANES / 2;
    while width > 0 {
        let (low, high) = lanes.split_at_mut(width);
        for (l, &h) in low.iter_mut().zip(&high[..width]) {
            *l = *l + h;
        }
        width /= 2;
    }
    lanes[0] + tail
}

struct Adam<'a, T> {
    p: &'a [T],
    g: &'a [T],
    m: &'a [T],
    v: &'a [T],
    p_out: &'a mut [T],
    m_out: &'a mut [T],
    v_out: &'a mut [T],
    c: AdamConstants<T>,
}
impl<T: Element> Kernel for Adam<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let Adam { p, g, m, v, p_out, m_out, v_out, c } = self;
        adam_step(p, g, m, v, p_out, m_out, v_out, c)
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn adam_step<T: Element>(p: &[T], g: &[T], m: &[T], v: &[T], p_out: &mut [T], m_out: &mut [T], v_out: &mut [T], c: AdamConstants<T>) {
    // Every slice cut to one length, so the loop has no bounds checks to vectorise around.
    let n = p_out.len();
    let (p, g, m, v, m_out, v_out) = (&p[..n], &g[..n], &m[..n], &v[..n], &mut m_out[..n], &mut v_out[..n]);
    for i in 0..n {
        let mi = c.beta1 * m[i] + c.one_minus_beta1 * g[i];
        let vi = c.beta2 * v[i] + c.one_minus_beta2 * g[i] * g[i];
        m_out[i] = mi;
        v_out[i] = vi;
        p_out[i] = p[i] - c.step * mi / ((vi * c.inv_correction2).sqrt() + c.eps);
    }
}
