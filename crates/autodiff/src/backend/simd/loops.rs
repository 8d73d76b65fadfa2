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

    /// `acc[i] = f(acc[i], x[i])`, over `acc`'s own buffer.
    #[inline]
    pub fn zip_assign<T: Element, F: Fn(T, T) -> T + Copy>(self, acc: &mut [T], x: &[T], f: F) {
        assert_eq!(acc.len(), x.len(), "zip_assign: buffer lengths differ");
        dispatch::at(self, ZipAssign { acc, x, f })
    }

    /// `acc[i] += x[i]`.
    #[inline]
    pub fn add_assign<T: Element>(self, acc: &mut [T], x: &[T]) {
        self.zip_assign(acc, x, |a, b| a + b)
    }

    /// The sum of `x` in an order fixed by its length alone (see `sum_in_lanes`).
    #[inline]
    pub fn sum<T: Element>(self, x: &[T]) -> T {
        dispatch::at(self, Sum { x, squared: false })
    }

    /// The sum of `x[i]²`, in the order of [`Level::sum`]: the same bits as
    /// squaring into a buffer and summing that, without the buffer.
    #[inline]
    pub fn sum_of_squares<T: Element>(self, x: &[T]) -> T {
        dispatch::at(self, Sum { x, squared: true })
    }

    /// One Adam step in place: `m = β₁m + (1−β₁)g`, `v = β₂v + (1−β₂)g²`, and
    /// `grad_to_p`, read as `g`, becomes `p − step·m / (√(v/c₂) + ε)`. Writing over
    /// buffers that were read spares each new cache line its read from memory.
    #[inline]
    pub fn adam<T: Element>(self, p: &[T], grad_to_p: &mut [T], m: &mut [T], v: &mut [T], c: AdamConstants<T>) {
        let n = p.len();
        assert!([grad_to_p.len(), m.len(), v.len()].iter().all(|&l| l == n), "adam: buffer lengths differ");
        dispatch::at(self, Adam { p, grad_to_p, m, v, c })
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

struct ZipAssign<'a, T, F> {
    acc: &'a mut [T],
    x: &'a [T],
    f: F,
}
impl<T: Element, F: Fn(T, T) -> T + Copy> Kernel for ZipAssign<'_, T, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        for (a, &v) in self.acc.iter_mut().zip(self.x) {
            *a = (self.f)(*a, v);
        }
    }
}

struct Sum<'a, T> {
    x: &'a [T],
    squared: bool,
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
        // Two instantiations, so the square is no branch in the loop.
        if self.squared {
            sum_in_lanes(self.x, |v| v * v)
        } else {
            sum_in_lanes(self.x, |v| v)
        }
    }
}

#[inline(always)]
fn sum_in_lanes<T: Element>(x: &[T], term: impl Fn(T) -> T + Copy) -> T {
    let mut lanes = [T::zero(); SUM_LANES];
    let rows = x.chunks_exact(SUM_LANES);
    let tail = rows.remainder().iter().fold(T::zero(), |s, &v| s + term(v));
    for row in rows {
        for (l, &v) in lanes.iter_mut().zip(row) {
            *l = *l + term(v);
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
    grad_to_p: &'a mut [T],
    m: &'a mut [T],
    v: &'a mut [T],
    c: AdamConstants<T>,
}
impl<T: Element> Kernel for Adam<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let Adam { p, grad_to_p, m, v, c } = self;
        adam_step(p, grad_to_p, m, v, c)
    }
}

#[inline(always)]
fn adam_step<T: Element>(p: &[T], grad_to_p: &mut [T], m: &mut [T], v: &mut [T], c: AdamConstants<T>) {
    // Every slice cut to one length, so the loop has no bounds checks to vectorise around.
    let n = p.len();
    let (grad_to_p, m, v) = (&mut grad_to_p[..n], &mut m[..n], &mut v[..n]);
    for i in 0..n {
        let g = grad_to_p[i];
        let mi = c.beta1 * m[i] + c.one_minus_beta1 * g;
        let vi = c.beta2 * v[i] + c.one_minus_beta2 * g * g;
        m[i] = mi;
        v[i] = vi;
        grad_to_p[i] = p[i] - c.step * mi / ((vi * c.inv_correction2).sqrt() + c.eps);
    }
}
