//! The CPU backend: ndarray buffers, rayon for elementwise loops above a size
//! threshold, and packed GEMM kernels chosen at run time for matmul
//! (`backend/gemm/`), split across rayon's threads.

use ndarray::Array1;
use rayon::prelude::*;

use super::buffer_pool::{self, Pooled};
use super::gemm::{batched_matmul as batched_matmul_fn, matmul as matmul_fn};
use super::{counter_rng, fast_math, simd, AdamStep, BackendStorage, BatchedMatmul, Binary, Device, Unary};
use crate::dtype::{DType, Element};
use crate::shape::Shape;

/// Below this many elements a loop runs on one thread: waking a second costs
/// more. At 2¹⁵, the 64×512 and 64×784 maps of a batch-64 MLP went to two
/// threads and its dsm step took 1.3–1.5× the time it takes at 2¹⁶; the
/// trainer's 128×784 and 128×1024 maps are parallel either way.
const PAR_THRESHOLD: usize = 1 << 16;
const CHUNK: usize = 1 << 13;

/// A contiguous row-major buffer in host memory. Large buffers come from, and
/// go back to, the backend's cache ([`buffer_pool`]).
#[derive(Debug)]
pub enum CpuStorage {
    /// An `f32` buffer.
    F32(Array1<f32>),
    /// An `f64` buffer.
    F64(Array1<f64>),
}

impl CpuStorage {
    /// A buffer holding `data`, with `T`'s dtype.
    pub fn from_vec<T: CpuElement>(data: Vec<T>) -> CpuStorage {
        T::wrap(Array1::from_vec(data))
    }
    /// The buffer as a slice of `T`, or `None` if the dtype differs.
    pub fn as_slice<T: CpuElement>(&self) -> Option<&[T]> {
        T::unwrap(self).map(|a| a.as_slice().expect("cpu buffers are contiguous"))
    }
}

impl Clone for CpuStorage {
    fn clone(&self) -> CpuStorage {
        match self {
            CpuStorage::F32(a) => CpuStorage::from_vec(buffer_pool::copy_of(a.as_slice().expect("cpu buffers are contiguous"))),
            CpuStorage::F64(a) => CpuStorage::from_vec(buffer_pool::copy_of(a.as_slice().expect("cpu buffers are contiguous"))),
        }
    }
}

impl Drop for CpuStorage {
    fn drop(&mut self) {
        match self {
            CpuStorage::F32(a) => buffer_pool::give(std::mem::take(a).into_raw_vec_and_offset().0),
            CpuStorage::F64(a) => buffer_pool::give(std::mem::take(a).into_raw_vec_and_offset().0),
        }
    }
}

/// Converts between `CpuStorage` variants and typed arrays.
pub trait CpuElement: Pooled {
    /// The storage variant of `Self` holding `a`.
    fn wrap(a: Array1<Self>) -> CpuStorage;
    /// The array, if `s` holds `Self` values.
    fn unwrap(s: &CpuStorage) -> Option<&Array1<Self>>;
}
impl CpuElement for f32 {
    fn wrap(a: Array1<f32>) -> CpuStorage {
        CpuStorage::F32(a)
    }
    fn unwrap(s: &CpuStorage) -> Option<&Array1<f32>> {
        match s {
            CpuStorage::F32(a) => Some(a),
            _ => None,
        }
    }
}
impl CpuElement for f64 {
    fn wrap(a: Array1<f64>) -> CpuStorage {
        CpuStorage::F64(a)
    }
    fn unwrap(s: &CpuStorage) -> Option<&Array1<f64>> {
        match s {
            CpuStorage::F64(a) => Some(a),
            _ => None,
        }
    }
}

/// Runs `$body` with `$x` bound to the typed slice, wrapping the Vec it returns.
macro_rules! map1 {
    ($s:expr, $x:ident => $body:expr) => {
        match $s {
            CpuStorage::F32(a) => {
                let $x = a.as_slice().unwrap();
                CpuStorage::F32(Array1::from_vec($body))
            }
            CpuStorage::F64(a) => {
                let $x = a.as_slice().unwrap();
                CpuStorage::F64(Array1::from_vec($body))
            }
        }
    };
}

macro_rules! map2 {
    ($a:expr, $b:expr, ($x:ident, $y:ident) => $body:expr) => {
        match ($a, $b) {
            (CpuStorage::F32(a), CpuStorage::F32(b)) => {
                let ($x, $y) = (a.as_slice().unwrap(), b.as_slice().unwrap());
                CpuStorage::F32(Array1::from_vec($body))
            }
            (CpuStorage::F64(a), CpuStorage::F64(b)) => {
                let ($x, $y) = (a.as_slice().unwrap(), b.as_slice().unwrap());
                CpuStorage::F64(Array1::from_vec($body))
            }
            (a, b) => panic!("dtype mismatch: {} and {}", a.dtype(), b.dtype()),
        }
    };
}

fn slice<T>(a: &Array1<T>) -> &[T] {
    a.as_slice().expect("cpu buffers are contiguous")
}

fn slice_mut<T>(a: &mut Array1<T>) -> &mut [T] {
    a.as_slice_mut().expect("cpu buffers are contiguous")
}

/// `out[i] = f(x[i])`, in parallel for large buffers, at the process's SIMD level.
fn map<T: Pooled>(x: &[T], f: impl Fn(T) -> T + Sync + Copy) -> Vec<T> {
    let (level, mut out) = (simd::active(), buffer_pool::take(x.len()));
    if x.len() >= PAR_THRESHOLD {
        out.par_chunks_mut(CHUNK).zip(x.par_chunks(CHUNK)).for_each(|(o, x)| level.map(x, o, f));
    } else {
        level.map(x, &mut out, f);
    }
    out
}

fn zip_map<T: Pooled>(x: &[T], y: &[T], f: impl Fn(T, T) -> T + Sync + Copy) -> Vec<T> {
    assert_eq!(x.len(), y.len(), "binary kernel: buffer lengths differ");
    let (level, mut out) = (simd::active(), buffer_pool::take(x.len()));
    if x.len() >= PAR_THRESHOLD {
        out.par_chunks_mut(CHUNK)
            .zip(x.par_chunks(CHUNK).zip(y.par_chunks(CHUNK)))
            .for_each(|(o, (x, y))| level.zip_map(x, y, o, f));
    } else {
        level.zip_map(x, y, &mut out, f);
    }
    out
}

/// The transcendental activations, per element type: f32 takes the
/// vectorisable `fast_math` forms, f64 the standard library's.
pub trait Activations: Pooled {
    /// `eˣ`.
    fn exp_(self) -> Self;
    /// `log(1 + e)` for `e` in [0, 1].
    fn log1p_unit(self) -> Self;
    /// `tanh(x)`.
    fn tanh_(self) -> Self;
}
impl Activations for f32 {
    #[inline(always)]
    fn exp_(self) -> f32 {
        fast_math::exp_f32(self)
    }
    #[inline(always)]
    fn log1p_unit(self) -> f32 {
        fast_math::log1p_unit_f32(self)
    }
    #[inline(always)]
    fn tanh_(self) -> f32 {
        tanh_via_exp(self)
    }
}
impl Activations for f64 {
    #[inline(always)]
    fn exp_(self) -> f64 {
        self.exp()
    }
    #[inline(always)]
    fn log1p_unit(self) -> f64 {
        self.ln_1p()
    }
    #[inline(always)]
    fn tanh_(self) -> f64 {
        self.tanh()
    }
}

#[inline(always)]
fn sigmoid<T: Activations>(x: T) -> T {
    // Never exponentiate a large positive number: e^-|x| is at most 1.
    let e = (-x.abs()).exp_();
    let r = T::one() / (T::one() + e);
    if x >= T::zero() {
        r
    } else {
        e * r
    }
}

#[inline(always)]
fn softplus<T: Activations>(x: T) -> T {
    x.max(T::zero()) + (-x.abs()).exp_().log1p_unit()
}

#[inline(always)]
fn silu<T: Activations>(x: T) -> T {
    x * sigmoid(x)
}

#[inline(always)]
fn silu_derivative<T: Activations>(x: T) -> T {
    let s = sigmoid(x);
    s * (T::one() + x * (T::one() - s))
}

#[inline(always)]
fn silu_second_derivative<T: Activations>(x: T) -> T {
    let s = sigmoid(x);
    s * (T::one() - s) * (T::from_f64(2.0) + x * (T::one() - T::from_f64(2.0) * s))
}

#[inline(always)]
fn tanh_via_exp<T: Activations>(x: T) -> T {
    // tanh|x| = (1 − e)/(1 + e) with e = e^(−2|x|) ≤ 1; near 0 that form
    // cancels, so small |x| takes the odd series instead.
    let ax = x.abs();
    let t = if ax < T::from_f64(0.0625) {
        let x2 = ax * ax;
        ax * (T::one() + x2 * (T::from_f64(-1.0 / 3.0) + x2 * (T::from_f64(2.0 / 15.0) + x2 * T::from_f64(-17.0 / 315.0))))
    } else {
        let e = (T::from_f64(-2.0) * ax).exp_();
        (T::one() - e) / (T::one() + e)
    };
    if x < T::zero() {
        -t
    } else {
        t
    }
}

// The transcendental maps pass `#[inline(always)]` functions, not closures:
// a closure's body stays a function of its own, which LLVM may not inline
// into the loop of every SIMD level, leaving that level a call per element.
fn unary_fn<T: Activations>(x: &[T], op: Unary) -> Vec<T> {
    match op {
        Unary::Neg => map(x, |v| -v),
        Unary::Exp => map(x, T::exp_),
        Unary::Log => map(x, |v| v.ln()),
        Unary::Sigmoid => map(x, sigmoid),
        Unary::Tanh => map(x, T::tanh_),
        Unary::Softplus => map(x, softplus),
        Unary::Silu => map(x, silu),
        Unary::SiluDerivative => map(x, silu_derivative),
        Unary::SiluSecondDerivative => map(x, silu_second_derivative),
        // NaN in, NaN out (IEEE, PyTorch): `v.max(0)` would turn NaN into 0.
        Unary::Relu => map(x, |v| if v <= T::zero() { T::zero() } else { v }),
        Unary::Step => map(x, |v| if v > T::zero() { T::one() } else if v <= T::zero() { T::zero() } else { v }),
        // Squares are the common case (every loss): a multiply, not a powi call.
        Unary::Powi(2) => map(x, |v| v * v),
        // A reciprocal (every 1/σ² of the objectives): a divide, not a powi call.
        Unary::Powi(-1) => map(x, |v| T::one() / v),
        Unary::Powi(n) => map(x, |v| v.powi(n)),
        Unary::Sqrt => map(x, |v| v.sqrt()),
        Unary::Affine { mul, add } => {
            let (m, a) = (T::from_f64(mul), T::from_f64(add));
            map(x, |v| v * m + a)
        }
        // Comparisons with NaN are false: NaN passes through.
        Unary::Clamp { lo, hi } => {
            let (lo, hi) = (T::from_f64(lo), T::from_f64(hi));
            map(x, |v| if v < lo { lo } else if v > hi { hi } else { v })
        }
    }
}

/// `$body` with `$f` bound to `op`'s function of two values of type `$t`.
macro_rules! with_binary {
    ($op:expr, $t:ty, $f:ident => $body:expr) => {
        match $op {
            Binary::Add => {
                let $f = |a: $t, b: $t| a + b;
                $body
            }
            Binary::Sub => {
                let $f = |a: $t, b: $t| a - b;
                $body
            }
            Binary::Mul => {
                let $f = |a: $t, b: $t| a * b;
                $body
            }
            Binary::Div => {
                let $f = |a: $t, b: $t| a / b;
                $body
            }
            // NaN in either gives NaN (IEEE maximum, PyTorch), unlike `T::max`.
            Binary::Maximum => {
                let $f = |a: $t, b: $t| if a > b || a.is_nan() { a } else { b };
                $body
            }
            Binary::Minimum => {
                let $f = |a: $t, b: $t| if a < b || a.is_nan() { a } else { b };
                $body
            }
        }
    };
}

fn binary_fn<T: Pooled>(x: &[T], y: &[T], op: Binary) -> Vec<T> {
    with_binary!(op, T, f => zip_map(x, y, f))
}

/// Rows shorter than this are not worth a loop each: the smaller operand is
/// spelled out instead.
const MIN_BROADCAST_ROW: usize = 16;

/// `op` over shape `to` of `x` (shape `xs`) and `y` (shape `ys`), each read in
/// place: row by row along the last axis, an operand's row is a slice of it
/// or one of its values repeated (a bias row, a per-sample scale), so no
/// operand is first copied out to `to`. The same values as spelling them out.
fn binary_broadcast_fn<T: Pooled>(x: &[T], xs: &Shape, y: &[T], ys: &Shape, to: &Shape, op: Binary) -> Vec<T> {
    let (n, last) = (to.numel(), to.dims().last().copied().unwrap_or(1));
    if n == 0 {
        return Vec::new();
    }
    if last < MIN_BROADCAST_ROW {
        let spelled = |v: &[T], from: &Shape| if from == to { None } else { Some(broadcast_fn(v, from, to)) };
        let (xb, yb) = (spelled(x, xs), spelled(y, ys));
        return binary_fn(xb.as_deref().unwrap_or(x), yb.as_deref().unwrap_or(y), op);
    }
    let (sx, sy) = (broadcast_strides(xs, to), broadcast_strides(ys, to));
    let (x_repeats, y_repeats) = (sx[to.rank() - 1] == 0, sy[to.rank() - 1] == 0);
    let level = simd::active();
    let mut out = buffer_pool::take(n);
    with_binary!(op, T, f => {
        // Columns `c0..c0 + out.len()` of output row `r`.
        let piece = |r: usize, c0: usize, out: &mut [T]| {
            let (ox, oy) = (row_offset(r, to, &sx), row_offset(r, to, &sy));
            let span = |o: usize| o + c0..o + c0 + out.len();
            match (x_repeats, y_repeats) {
                (false, false) => level.zip_map(&x[span(ox)], &y[span(oy)], out, f),
                (false, true) => {
                    let b = y[oy];
                    level.map(&x[span(ox)], out, move |a| f(a, b))
                }
                (true, false) => {
                    let a = x[ox];
                    level.map(&y[span(oy)], out, move |b| f(a, b))
                }
                (true, true) => out.fill(f(x[ox], y[oy])),
            }
        };
        if n < PAR_THRESHOLD {
            out.chunks_mut(last).enumerate().for_each(|(r, row)| piece(r, 0, row));
        } else if last >= CHUNK {
            // Long rows (a whole vector against a scalar): CHUNK-wide pieces of each.
            out.par_chunks_mut(last).enumerate().for_each(|(r, row)| {
                row.par_chunks_mut(CHUNK).enumerate().for_each(|(k, p)| piece(r, k * CHUNK, p));
            });
        } else {
            // Blocks of whole rows, about CHUNK values each, across the threads.
            let rows_per_block = CHUNK / last;
            out.par_chunks_mut(rows_per_block * last).enumerate().for_each(|(k, block)| {
                for (i, row) in block.chunks_mut(last).enumerate() {
                    piece(k * rows_per_block + i, 0, row);
                }
            });
        }
    });
    out
}

/// `c ≠ 0 ? a : b`, elementwise (a NaN condition is nonzero).
fn select_fn<T: Pooled>(c: &[T], a: &[T], b: &[T]) -> Vec<T> {
    assert!(c.len() == a.len() && a.len() == b.len(), "where kernel: buffer lengths differ");
    let mut out = buffer_pool::take(c.len());
    for (o, (&c, (&a, &b))) in out.iter_mut().zip(c.iter().zip(a.iter().zip(b))) {
        *o = if c != T::zero() { a } else { b };
    }
    out
}

/// Transposes of `batch` stacked matrices: one after the other, each split
/// across the threads, or side by side when there are many small ones.
fn batched_transpose_fn<T: Pooled>(x: &[T], batch: usize, rows: usize, cols: usize) -> Vec<T> {
    let size = rows * cols;
    if batch == 1 || size == 0 {
        return transpose_fn(x, rows, cols);
    }
    let mut out = buffer_pool::take(batch * size);
    let each = |(o, m): (&mut [T], &[T])| transpose_into(m, rows, cols, o);
    if size >= PAR_THRESHOLD {
        out.chunks_mut(size).zip(x.chunks(size)).for_each(each);
    } else {
        out.par_chunks_mut(size).zip(x.par_chunks(size)).for_each(each);
    }
    out
}

fn transpose_fn<T: Pooled>(x: &[T], rows: usize, cols: usize) -> Vec<T> {
    let mut out = buffer_pool::take(rows * cols);
    transpose_into(x, rows, cols, &mut out);
    out
}

/// The transpose of the `rows×cols` matrix `x`, written into `out`.
fn transpose_into<T: Element>(x: &[T], rows: usize, cols: usize, out: &mut [T]) {
    // Bands of 16 output rows (input columns) run in parallel. A band goes
    // down the input 16 rows at a time: a 16×16 tile is read as 16 row pieces
    // into a local array and written as 16 row pieces, so every memory access
    // is a run of 16 values, whatever the strides. (Reading 8 strided values
    // per output run instead took 1.3–1.7× the time on `[128, 1024]`,
    // `[784, 1024]` and `[1024, 784]`, and the same on `[1024, 1024]`.)
    const TILE: usize = 16;
    if rows == 0 || cols == 0 {
        return;
    }
    let fill = |(band, dst): (usize, &mut [T])| {
        let c0 = band * TILE;
        let width = dst.len() / rows;
        for r0 in (0..rows).step_by(TILE) {
            let height = TILE.min(rows - r0);
            if height == TILE && width == TILE {
                let mut tile = [[T::zero(); TILE]; TILE];
                for (r, row) in tile.iter_mut().enumerate() {
                    row.copy_from_slice(&x[(r0 + r) * cols + c0..][..TILE]);
                }
                for c in 0..TILE {
                    let run = &mut dst[c * rows + r0..][..TILE];
                    for (r, v) in run.iter_mut().enumerate() {
                        *v = tile[r][c];
                    }
                }
            } else {
                for r in 0..height {
                    for c in 0..width {
                        dst[c * rows + r0 + r] = x[(r0 + r) * cols + c0 + c];
                    }
                }
            }
        }
    };
    if rows * cols >= PAR_THRESHOLD {
        out.par_chunks_mut(TILE * rows).enumerate().for_each(fill);
    } else {
        out.chunks_mut(TILE * rows).enumerate().for_each(fill);
    }
}

/// Axis `i` of the result is axis `axes[i]` of `x` (shape `dims`): the
/// output is written in order, row by row along its last axis, each row read
/// with that axis's input stride.
fn permute_fn<T: Element>(x: &[T], dims: &[usize], axes: &[usize]) -> Vec<T> {
    let mut in_strides = vec![1; dims.len()];
    for a in (0..dims.len().saturating_sub(1)).rev() {
        in_strides[a] = in_strides[a + 1] * dims[a + 1];
    }
    let out_dims: Vec<usize> = axes.iter().map(|&a| dims[a]).collect();
    let strides: Vec<usize> = axes.iter().map(|&a| in_strides[a]).collect();
    let (Some(&last), Some(&last_stride)) = (out_dims.last(), strides.last()) else { return x.to_vec() };
    let mut out = Vec::with_capacity(x.len());
    if x.is_empty() {
        return out;
    }
    let mut index = vec![0; out_dims.len()];
    while out.len() < x.len() {
        let base: usize = index.iter().zip(&strides).map(|(i, s)| i * s).sum();
        out.extend((0..last).map(|j| x[base + j * last_stride]));
        // Next row: the odometer over every axis but the last.
        for a in (0..out_dims.len() - 1).rev() {
            index[a] += 1;
            if index[a] < out_dims[a] {
                break;
            }
            index[a] = 0;
        }
    }
    out
}

/// Strides of `from` laid against the dims of `to`: 0 where `from` is broadcast.
fn broadcast_strides(from: &Shape, to: &Shape) -> Vec<usize> {
    let pad = to.rank() - from.rank();
    let mut strides = vec![0; to.rank()];
    let mut s = 1;
    for i in (0..from.rank()).rev() {
        strides[pad + i] = if from.dim(i) == 1 { 0 } else { s };
        s *= from.dim(i);
    }
    strides
}

/// Offset, in a buffer of shape `from`, of the start of row `row` of `to`
/// (a row being a run along the last axis), given `broadcast_strides`.
fn row_offset(row: usize, to: &Shape, strides: &[usize]) -> usize {
    let rank = to.rank();
    let (mut rest, mut offset) = (row, 0);
    for ax in (0..rank.saturating_sub(1)).rev() {
        let d = to.dim(ax);
        offset += (rest % d) * strides[ax];
        rest /= d;
    }
    offset
}

fn broadcast_fn<T: Pooled>(x: &[T], from: &Shape, to: &Shape) -> Vec<T> {
    let n = to.numel();
    // A zero-size target has no rows to fill (and a zero-length row would not chunk).
    if n == 0 {
        return Vec::new();
    }
    if x.len() == n {
        return buffer_pool::copy_of(x);
    }
    if x.len() == 1 {
        let mut out = buffer_pool::take(n);
        out.fill(x[0]);
        return out;
    }
    // Row by row along the last axis: each row is a copy of a source row, or
    // one source value repeated.
    let strides = broadcast_strides(from, to);
    let last = *to.dims().last().unwrap();
    let repeat = strides[to.rank() - 1] == 0;
    let fill = |(row, dst): (usize, &mut [T])| {
        let off = row_offset(row, to, &strides);
        if repeat {
            dst.fill(x[off]);
        } else {
            dst.copy_from_slice(&x[off..off + last]);
        }
    };
    let mut out = buffer_pool::take(n);
    if n >= PAR_THRESHOLD {
        out.par_chunks_mut(last).enumerate().for_each(fill);
    } else {
        out.chunks_mut(last).enumerate().for_each(fill);
    }
    out
}

/// The sum of `x` in an order fixed by its length, one that vectorises
/// (running sums in lanes, see `simd::Level::sum`).
fn sum_slice<T: Element>(x: &[T]) -> T {
    simd::active().sum(x)
}

/// The sum of `part` over `x`'s chunks. Parallel sums add in an order fixed
/// by the length alone (fixed chunks, combined in chunk order), never by
/// scheduling: a sum, and so a training run, comes out the same to the last
/// bit every time.
fn total<T: Element>(x: &[T], part: fn(&[T]) -> T) -> T {
    if x.len() >= PAR_THRESHOLD {
        let partial: Vec<T> = x.par_chunks(CHUNK).map(part).collect();
        partial.iter().fold(T::zero(), |a, &b| a + b)
    } else {
        part(x)
    }
}

/// `Σ x²` as one value, in the order of [`total`].
fn sum_of_squares_fn<T: Element>(x: &[T]) -> Vec<T> {
    vec![total(x, |part| simd::active().sum_of_squares(part))]
}

fn sum_to_fn<T: Pooled>(x: &[T], from: &Shape, to: &Shape) -> Vec<T> {
    let n = to.numel();
    if n == x.len() {
        return buffer_pool::copy_of(x);
    }
    // The sum over an empty axis is 0, as in NumPy and PyTorch.
    if x.is_empty() {
        return buffer_pool::zeroed(n);
    }
    if n == 1 {
        return vec![total(x, sum_slice)];
    }
    // Row by row of the input: a kept last axis adds the row into an output
    // row, a summed one adds its total into one output value. Up to 32 blocks
    // of rows accumulate in parallel, each into its own buffer, then the
    // buffers add in block order.
    let strides = broadcast_strides(to, from);
    let last = *from.dims().last().unwrap();
    let summed_last = strides[from.rank() - 1] == 0;
    let accumulate = |mut acc: Vec<T>, (row, src): (usize, &[T])| {
        let off = row_offset(row, from, &strides);
        if summed_last {
            acc[off] = acc[off] + sum_slice(src);
        } else {
            simd::active().add_assign(&mut acc[off..off + last], src);
        }
        acc
    };
    if x.len() < PAR_THRESHOLD {
        return x.chunks(last).enumerate().fold(buffer_pool::zeroed(n), accumulate);
    }
    let rows = x.len() / last;
    let rows_per_block = rows.div_ceil((x.len() / PAR_THRESHOLD).clamp(1, 32));
    let blocks: Vec<Vec<T>> = x
        .par_chunks(rows_per_block * last)
        .enumerate()
        .map(|(b, block)| {
            let first = b * rows_per_block;
            block.chunks(last).enumerate().map(|(i, src)| (first + i, src)).fold(buffer_pool::zeroed(n), accumulate)
        })
        .collect();
    blocks.into_iter().reduce(|mut a, b| {
        simd::active().add_assign(&mut a, &b);
        a
    }).expect("at least one block")
}

/// The largest entry of the middle axis of `[outer, n, inner]`, NaN if any
/// entry along it is NaN (a plain `>` would skip it). Rows of `inner` are
/// compared whole, so the inner loop runs along contiguous memory.
fn max_axis_fn<T: Element>(x: &[T], outer: usize, n: usize, inner: usize) -> Vec<T> {
    assert!(n >= 1, "max_axis: empty axis");
    if outer * inner == 0 {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(outer * inner);
    for block in x.chunks_exact(n * inner) {
        let mut best = block[..inner].to_vec();
        for row in block.chunks_exact(inner).skip(1) {
            best.iter_mut().zip(row).for_each(|(b, &v)| {
                if v > *b || v.is_nan() {
                    *b = v;
                }
            });
        }
        out.extend_from_slice(&best);
    }
    out
}

fn slice_fn<T: Pooled>(x: &[T], outer: usize, n: usize, inner: usize, start: usize, len: usize) -> Vec<T> {
    let mut out = buffer_pool::take(outer * len * inner);
    if len * inner > 0 {
        for (o, dst) in out.chunks_exact_mut(len * inner).enumerate() {
            let base = (o * n + start) * inner;
            dst.copy_from_slice(&x[base..base + len * inner]);
        }
    }
    out
}

fn pad_fn<T: Pooled>(x: &[T], outer: usize, len: usize, inner: usize, start: usize, n: usize) -> Vec<T> {
    let mut out = buffer_pool::zeroed(outer * n * inner);
    for o in 0..outer {
        let dst = (o * n + start) * inner;
        out[dst..dst + len * inner].copy_from_slice(&x[o * len * inner..(o + 1) * len * inner]);
    }
    out
}

fn gather_fn<T: Pooled>(x: &[T], inner: usize, indices: &[usize]) -> Vec<T> {
    let mut out = buffer_pool::take(indices.len() * inner);
    if inner > 0 {
        for (dst, &i) in out.chunks_exact_mut(inner).zip(indices) {
            dst.copy_from_slice(&x[i * inner..(i + 1) * inner]);
        }
    }
    out
}

fn scatter_add_fn<T: Pooled>(x: &[T], inner: usize, indices: &[usize], rows: usize) -> Vec<T> {
    let mut out = buffer_pool::zeroed(rows * inner);
    for (r, &i) in indices.iter().enumerate() {
        let dst = &mut out[i * inner..(i + 1) * inner];
        dst.iter_mut().zip(&x[r * inner..(r + 1) * inner]).for_each(|(d, &s)| *d = *d + s);
    }
    out
}

/// `acc[i] = f(acc[i], x[i])` over `acc`'s own buffer: [`zip_map`] in place,
/// in parallel for large buffers.
fn zip_assign<T: Element>(acc: &mut [T], x: &[T], f: impl Fn(T, T) -> T + Sync + Copy) {
    assert_eq!(acc.len(), x.len(), "in-place kernel: buffer lengths differ");
    let level = simd::active();
    if acc.len() >= PAR_THRESHOLD {
        acc.par_chunks_mut(CHUNK).zip(x.par_chunks(CHUNK)).for_each(|(a, x)| level.zip_assign(a, x, f));
    } else {
        level.zip_assign(acc, x, f);
    }
}

/// `a ← decay·a + (1 − decay)·v` in one pass over `a`'s own buffer: the same
/// products and sum as the default composition (two affine maps, then an add).
fn ema_fn<T: Element>(a: &mut [T], v: &[T], decay: f64) {
    let (keep, take) = (T::from_f64(decay), T::from_f64(1.0 - decay));
    zip_assign(a, v, move |a, v| a * keep + v * take);
}

/// Adam in one pass over the buffers it updates: each element of p, g, m and v
/// is read once, and g (as the new p), m and v written over in place, instead
/// of a dozen separate elementwise passes.
fn adam_fn<T: Element>(p: &[T], grad_to_p: &mut [T], m: &mut [T], v: &mut [T], h: AdamStep) {
    let c = |x: f64| T::from_f64(x);
    let constants = simd::AdamConstants {
        beta1: c(h.beta1),
        beta2: c(h.beta2),
        one_minus_beta1: c(1.0 - h.beta1),
        one_minus_beta2: c(1.0 - h.beta2),
        step: c(h.lr / h.correction1),
        inv_correction2: c(1.0 / h.correction2),
        eps: c(h.eps),
    };
    let level = simd::active();
    grad_to_p
        .par_chunks_mut(CHUNK)
        .zip(m.par_chunks_mut(CHUNK))
        .zip(v.par_chunks_mut(CHUNK))
        .zip(p.par_chunks(CHUNK))
        .for_each(|(((g, m), v), p)| level.adam(p, g, m, v, constants));
}

/// `len` copies of `value`.
fn filled<T: Pooled>(len: usize, value: T) -> Vec<T> {
    let mut out = buffer_pool::take(len);
    out.fill(value);
    out
}

impl BackendStorage for CpuStorage {
    fn dtype(&self) -> DType {
        match self {
            CpuStorage::F32(_) => DType::F32,
            CpuStorage::F64(_) => DType::F64,
        }
    }
    fn device(&self) -> Device {
        Device::Cpu
    }
    fn len(&self) -> usize {
        match self {
            CpuStorage::F32(a) => a.len(),
            CpuStorage::F64(a) => a.len(),
        }
    }
    fn to_dtype(&self, dtype: DType) -> Self {
        match (self, dtype) {
            (CpuStorage::F32(a), DType::F64) => CpuStorage::F64(a.mapv(|v| v as f64)),
            (CpuStorage::F64(a), DType::F32) => CpuStorage::F32(a.mapv(|v| v as f32)),
            _ => self.clone(),
        }
    }
    fn to_f64_vec(&self) -> Vec<f64> {
        match self {
            CpuStorage::F32(a) => a.iter().map(|&v| v as f64).collect(),
            CpuStorage::F64(a) => a.to_vec(),
        }
    }
    fn full(&self, len: usize, value: f64, dtype: DType) -> Self {
        match dtype {
            DType::F32 => CpuStorage::from_vec(filled(len, value as f32)),
            DType::F64 => CpuStorage::from_vec(filled(len, value)),
        }
    }
    fn constant(&self, values: &[f64], dtype: DType) -> Self {
        match dtype {
            DType::F32 => CpuStorage::from_vec(values.iter().map(|&v| v as f32).collect()),
            DType::F64 => CpuStorage::from_vec(values.to_vec()),
        }
    }
    fn normal(&self, len: usize, seed: u64, dtype: DType) -> Self {
        fn draw<T: Pooled>(len: usize, seed: u64) -> Vec<T> {
            let mut out = buffer_pool::take(len);
            counter_rng::fill(&mut out, counter_rng::mix(seed));
            out
        }
        match dtype {
            DType::F32 => CpuStorage::from_vec(draw::<f32>(len, seed)),
            DType::F64 => CpuStorage::from_vec(draw::<f64>(len, seed)),
        }
    }
    fn one_hot(&self, rows: usize, cols: usize, hot: &[usize], dtype: DType) -> Self {
        fn build<T: Pooled>(rows: usize, cols: usize, hot: &[usize]) -> Vec<T> {
            let mut data = buffer_pool::zeroed(rows * cols);
            for (r, &c) in hot.iter().enumerate().take(rows) {
                data[r * cols + c] = T::one();
            }
            data
        }
        match dtype {
            DType::F32 => CpuStorage::from_vec(build::<f32>(rows, cols, hot)),
            DType::F64 => CpuStorage::from_vec(build::<f64>(rows, cols, hot)),
        }
    }
    fn unary(&self, op: Unary) -> Self {
        map1!(self, x => unary_fn(x, op))
    }
    fn binary(&self, rhs: &Self, op: Binary) -> Self {
        map2!(self, rhs, (x, y) => binary_fn(x, y, op))
    }
    fn binary_broadcast(&self, shape: &Shape, rhs: &Self, rhs_shape: &Shape, out: &Shape, op: Binary) -> Self {
        map2!(self, rhs, (x, y) => binary_broadcast_fn(x, shape, y, rhs_shape, out, op))
    }
    fn select(&self, on_true: &Self, on_false: &Self) -> Self {
        match (self, on_true, on_false) {
            (CpuStorage::F32(c), CpuStorage::F32(a), CpuStorage::F32(b)) => CpuStorage::from_vec(select_fn(c.as_slice().unwrap(), a.as_slice().unwrap(), b.as_slice().unwrap())),
            (CpuStorage::F64(c), CpuStorage::F64(a), CpuStorage::F64(b)) => CpuStorage::from_vec(select_fn(c.as_slice().unwrap(), a.as_slice().unwrap(), b.as_slice().unwrap())),
            _ => panic!("where: dtypes differ"),
        }
    }
    fn matmul(&self, rhs: &Self, m: usize, k: usize, n: usize, ta: bool, tb: bool) -> Self {
        map2!(self, rhs, (a, b) => matmul_fn(a, b, m, k, n, ta, tb))
    }
    fn transpose(&self, rows: usize, cols: usize) -> Self {
        map1!(self, x => transpose_fn(x, rows, cols))
    }
    fn permute(&self, dims: &[usize], axes: &[usize]) -> Self {
        map1!(self, x => permute_fn(x, dims, axes))
    }
    fn batched_matmul(&self, rhs: &Self, dims: BatchedMatmul) -> Self {
        map2!(self, rhs, (a, b) => batched_matmul_fn(a, b, dims))
    }
    fn batched_transpose(&self, batch: usize, rows: usize, cols: usize) -> Self {
        map1!(self, x => batched_transpose_fn(x, batch, rows, cols))
    }
    fn broadcast_to(&self, from: &Shape, to: &Shape) -> Self {
        map1!(self, x => broadcast_fn(x, from, to))
    }
    fn sum_to(&self, from: &Shape, to: &Shape) -> Self {
        map1!(self, x => sum_to_fn(x, from, to))
    }
    fn max_axis(&self, outer: usize, n: usize, inner: usize) -> Self {
        map1!(self, x => max_axis_fn(x, outer, n, inner))
    }
    fn slice_axis(&self, outer: usize, n: usize, inner: usize, start: usize, len: usize) -> Self {
        map1!(self, x => slice_fn(x, outer, n, inner, start, len))
    }
    fn pad_axis(&self, outer: usize, len: usize, inner: usize, start: usize, n: usize) -> Self {
        map1!(self, x => pad_fn(x, outer, len, inner, start, n))
    }
    fn gather_rows(&self, inner: usize, indices: &[usize]) -> Self {
        map1!(self, x => gather_fn(x, inner, indices))
    }
    fn scatter_add_rows(&self, inner: usize, indices: &[usize], rows: usize) -> Self {
        map1!(self, x => scatter_add_fn(x, inner, indices, rows))
    }
    fn add_assign(&mut self, rhs: &Self) {
        match (self, rhs) {
            // The same sums as the `add` kernel.
            (CpuStorage::F32(a), CpuStorage::F32(b)) => zip_assign(slice_mut(a), slice(b), |a, b| a + b),
            (CpuStorage::F64(a), CpuStorage::F64(b)) => zip_assign(slice_mut(a), slice(b), |a, b| a + b),
            _ => panic!("add: dtypes differ"),
        }
    }
    fn sum_of_squares(&self, _shape: &Shape) -> Self {
        map1!(self, x => sum_of_squares_fn(x))
    }
    fn ema_update(&mut self, value: &Self, decay: f64) {
        match (self, value) {
            (CpuStorage::F32(a), CpuStorage::F32(v)) => ema_fn(slice_mut(a), slice(v), decay),
            (CpuStorage::F64(a), CpuStorage::F64(v)) => ema_fn(slice_mut(a), slice(v), decay),
            _ => panic!("ema_update: dtypes differ"),
        }
    }
    fn adam_update(&self, grad: &mut Self, m: &mut Self, v: &mut Self, h: AdamStep) {
        use CpuStorage::{F32, F64};
        match (self, grad, m, v) {
            (F32(p), F32(g), F32(m), F32(v)) => adam_fn(slice(p), slice_mut(g), slice_mut(m), slice_mut(v), h),
            (F64(p), F64(g), F64(m), F64(v)) => adam_fn(slice(p), slice_mut(g), slice_mut(m), slice_mut(v), h),
            _ => panic!("adam_update: dtypes differ"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_are_the_same_bits_on_any_number_of_threads() {
        // Rounding that depended on how rayon split the work would differ
        // between pools (and between runs): a resumed run would drift.
        let x: Vec<f32> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 8) as f32 * 1e-7 - 0.8).collect();
        let (rows, cols) = (Shape::new([1000, 300]), Shape::new([1000, 1]));
        let sums = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let all = sum_to_fn(&x, &Shape::new([300_000]), &Shape::new([1]));
                let columns = sum_to_fn(&x, &rows, &Shape::new([300]));
                let row_totals = sum_to_fn(&x, &rows, &cols);
                [all, columns, row_totals].map(|v| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>())
            })
        };
        let one = sums(1);
        for threads in [2, 3, 8] {
            assert!(sums(threads) == one, "{threads} threads sum differently from one");
        }
        let exact: f64 = x.iter().map(|&v| f64::from(v)).sum();
        assert!((f64::from(f32::from_bits(one[0][0])) - exact).abs() < 1e-5 * exact.abs().max(1.0));
    }

    #[test]
    fn broadcasting_binary_ops_read_in_place_what_spelling_out_gives() {
        // Rows of slices and of repeated values on either side, over and under the
        // parallel threshold and the shortest row worth a loop, with NaN and ties.
        let pairs: [(&[usize], &[usize]); 13] = [
            (&[200_003], &[]),
            (&[1], &[200_003]),
            (&[2, 100_001], &[2, 1]),
            (&[4, 37], &[37]),
            (&[4, 37], &[4, 1]),
            (&[4, 1], &[4, 37]),
            (&[37], &[3, 4, 37]),
            (&[3, 1, 37], &[1, 5, 37]),
            (&[3, 1, 1], &[1, 5, 20]),
            (&[2, 3, 40], &[3, 1]),
            (&[300, 1000], &[1000]),
            (&[300, 1], &[300, 1000]),
            (&[5, 3], &[3]),
        ];
        let values = |n: usize, salt: usize| -> Vec<f64> {
            (0..n).map(|i| if (i + salt).is_multiple_of(29) { f64::NAN } else { ((i * 7 + salt * 3) % 11) as f64 * 0.5 - 2.0 }).collect()
        };
        for (xs, ys) in pairs {
            let (xs, ys) = (Shape::new(xs.to_vec()), Shape::new(ys.to_vec()));
            let to = Shape::broadcast(&xs, &ys).unwrap();
            let (x, y) = (values(xs.numel(), 1), values(ys.numel(), 2));
            for &op in Binary::ALL {
                let want = binary_fn(&broadcast_fn(&x, &xs, &to), &broadcast_fn(&y, &ys, &to), op);
                let got = binary_broadcast_fn(&x, &xs, &y, &ys, &to, op);
                let same = |a: &[f64], b: &[f64]| a.len() == b.len() && a.iter().zip(b).all(|(p, q)| p.to_bits() == q.to_bits());
                assert!(same(&got, &want), "{op:?} of {xs} and {ys}");
                let (x32, y32): (Vec<f32>, Vec<f32>) = (x.iter().map(|&v| v as f32).collect(), y.iter().map(|&v| v as f32).collect());
                let want32 = binary_fn(&broadcast_fn(&x32, &xs, &to), &broadcast_fn(&y32, &ys, &to), op);
                let got32 = binary_broadcast_fn(&x32, &xs, &y32, &ys, &to, op);
                assert!(got32.iter().zip(&want32).all(|(p, q)| p.to_bits() == q.to_bits()), "{op:?} f32 of {xs} and {ys}");
            }
        }
    }

    #[test]
    fn the_fused_sum_of_squares_equals_squaring_then_summing() {
        // Below and above the parallel threshold, with a tail that fills no lane row.
        for n in [0, 1, 37, 5_000, 200_003] {
            let x: Vec<f32> = (0..n).map(|i| (i as f32 * 0.011).sin() * 4.0).collect();
            let shape = Shape::from(vec![n]);
            let fused = CpuStorage::from_vec(x.clone()).sum_of_squares(&shape);
            let composed = CpuStorage::from_vec(x.clone()).unary(Unary::Powi(2)).sum_to(&shape, &Shape::scalar());
            assert_eq!(fused.as_slice::<f32>(), composed.as_slice::<f32>(), "n = {n}");
            let exact: f64 = x.iter().map(|&v| (v as f64).powi(2)).sum();
            assert!((fused.as_slice::<f32>().unwrap()[0] as f64 - exact).abs() <= 1e-5 * exact.max(1.0), "n = {n}");
            let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
            let fused = CpuStorage::from_vec(x64.clone()).sum_of_squares(&shape);
            let composed = CpuStorage::from_vec(x64).unary(Unary::Powi(2)).sum_to(&shape, &Shape::scalar());
            assert_eq!(fused.as_slice::<f64>(), composed.as_slice::<f64>(), "n = {n}");
        }
    }

    #[test]
    fn the_fused_ema_equals_the_composed_kernels() {
        let avg: Vec<f32> = (0..100_000).map(|i| (i as f32 * 0.013).sin()).collect();
        let value: Vec<f32> = (0..100_000).map(|i| (i as f32 * 0.007).cos() * 3.0).collect();
        let (a, v) = (CpuStorage::from_vec(avg), CpuStorage::from_vec(value));
        let decay = 0.999;
        let mut fused = a.clone();
        fused.ema_update(&v, decay);
        let affine = |x: &CpuStorage, mul: f64| x.unary(Unary::Affine { mul, add: 0.0 });
        let composed = affine(&a, decay).binary(&affine(&v, 1.0 - decay), Binary::Add);
        assert!(fused.as_slice::<f32>() == composed.as_slice::<f32>());
        let (a0, v0) = (a.as_slice::<f32>().unwrap()[7], v.as_slice::<f32>().unwrap()[7]);
        assert_eq!(fused.as_slice::<f32>().unwrap()[7], a0 * 0.999 + v0 * (1.0 - 0.999f64) as f32);
    }

    #[test]
    fn the_reciprocal_shortcut_is_powi_minus_one_to_the_bit() {
        let x: Vec<f32> = (1..5000).map(|i| (i as f32 * 0.37).sin() * 1e3 + 0.5).chain([0.0, -0.0, f32::INFINITY, f32::NAN]).collect();
        let y = unary_fn(&x, Unary::Powi(-1));
        for (v, r) in x.iter().zip(&y) {
            assert!(r.to_bits() == v.powi(-1).to_bits(), "1/{v}: {r} vs powi's {}", v.powi(-1));
        }
    }

    #[test]
    fn stable_sigmoid_and_softplus_at_extremes() {
        for &x in &[-1000.0f64, -50.0, 0.0, 50.0, 1000.0] {
            assert!(sigmoid(x).is_finite() && softplus(x).is_finite(), "x = {x}");
            assert!(sigmoid(x as f32).is_finite() && softplus(x as f32).is_finite());
        }
        assert_eq!(softplus(1000.0f64), 1000.0);
        approx::assert_relative_eq!(softplus(-50.0f64), (-50.0f64).exp(), max_relative = 1e-12);
    }

    #[test]
    fn matmul_with_transposes_matches_naive() {
        let (m, k, n) = (3, 4, 5);
        let a: Vec<f64> = (0..m * k).map(|i| i as f64 * 0.5 - 2.0).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64).sin()).collect();
        let naive = |i: usize, j: usize| (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum::<f64>();
        let at = transpose_fn(&a, m, k);
        let bt = transpose_fn(&b, k, n);
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let aa = if ta { &at } else { &a };
            let bb = if tb { &bt } else { &b };
            let c = matmul_fn(aa, bb, m, k, n, ta, tb);
            for i in 0..m {
                for j in 0..n {
                    approx::assert_relative_eq!(c[i * n + j], naive(i, j), epsilon = 1e-12);
                }
            }
        }
    }

    #[test]
    fn batched_matmul_matches_a_loop_of_products() {
        let (m, k, n) = (3, 4, 5);
        let mat = |count: usize, size: usize, seed: f64| (0..count * size).map(|i| (i as f64 * seed).sin()).collect::<Vec<f64>>();
        // (batch, a_count, b_count): a stacked batch against one b (one GEMM),
        // one a against a batch, both batched, and a repeating suffix batch.
        for (batch, a_count, b_count) in [(6, 6, 1), (6, 1, 6), (6, 6, 6), (6, 3, 6), (6, 6, 2)] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let (a, b) = (mat(a_count, m * k, 0.7), mat(b_count, k * n, 1.3));
                let dims = BatchedMatmul { batch, a_count, b_count, m, k, n, trans_a: ta, trans_b: tb };
                let c = batched_matmul_fn(&a, &b, dims);
                for p in 0..batch {
                    let ap = &a[(p % a_count) * m * k..][..m * k];
                    let bp = &b[(p % b_count) * k * n..][..k * n];
                    let expected = matmul_fn(ap, bp, m, k, n, ta, tb);
                    for (x, y) in c[p * m * n..(p + 1) * m * n].iter().zip(&expected) {
                        approx::assert_relative_eq!(x, y, epsilon = 1e-12);
                    }
                }
            }
        }
    }

    #[test]
    fn lane_sums_add_every_element_once_at_any_length() {
        // Integers are exact in f64, so any order gives the same sum: a lost or
        // doubled element (the tail, a lane) shows.
        for n in [0, 1, 7, 8, 9, 15, 16, 17, 1000, 1003] {
            let x: Vec<f64> = (1..=n).map(|i| i as f64).collect();
            assert_eq!(sum_slice(&x), (n * (n + 1) / 2) as f64, "n = {n}");
        }
    }

    #[test]
    fn transpose_matches_the_definition_on_awkward_shapes() {
        // Edges of the 8-row tiles and 32-column bands, serial and parallel.
        for (rows, cols) in [(1, 1), (1, 40), (40, 1), (7, 33), (33, 7), (9, 31), (257, 1000), (1000, 257), (1024, 784)] {
            let x: Vec<f64> = (0..rows * cols).map(|i| i as f64).collect();
            let t = transpose_fn(&x, rows, cols);
            for r in 0..rows {
                for c in 0..cols {
                    assert_eq!(t[c * rows + r], x[r * cols + c], "{rows}×{cols} at ({r}, {c})");
                }
            }
        }
    }

    #[test]
    fn batched_transpose_matches_one_transpose_per_matrix() {
        // Small matrices (in parallel across the batch) and large ones (one
        // after the other, each split across the threads).
        for (batch, rows, cols) in [(5, 3, 7), (2, 300, 200), (1, 17, 9)] {
            let x: Vec<f64> = (0..batch * rows * cols).map(|i| i as f64).collect();
            let t = batched_transpose_fn(&x, batch, rows, cols);
            for p in 0..batch {
                let size = rows * cols;
                assert_eq!(t[p * size..(p + 1) * size], transpose_fn(&x[p * size..(p + 1) * size], rows, cols)[..], "matrix {p} of {batch}");
            }
        }
    }

    #[test]
    fn broadcast_and_sum_to_are_adjoint_on_general_shapes() {
        let from = Shape::new([3, 1]);
        let to = Shape::new([2, 3, 4]);
        let x: Vec<f64> = vec![1.0, 2.0, 3.0];
        let y = broadcast_fn(&x, &from, &to);
        assert_eq!(y.len(), 24);
        assert_eq!(&y[0..8], &[1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0]);
        let s = sum_to_fn(&y, &to, &from);
        assert_eq!(s, vec![8.0, 16.0, 24.0]);
        let cols = sum_to_fn(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &Shape::new([2, 3]), &Shape::new([3]));
        assert_eq!(cols, vec![5.0, 7.0, 9.0]);
        let rows = sum_to_fn(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &Shape::new([2, 3]), &Shape::new([2, 1]));
        assert_eq!(rows, vec![6.0, 15.0]);
    }

    #[test]
    fn max_axis_takes_the_largest_entry_of_the_middle_axis_and_keeps_nans() {
        // [2, 3, 2]: the max over the 3 of each (outer, inner) pair.
        let x = [1.0, -5.0, 4.0, -2.0, 3.0, -1.0, /* second block */ -7.0, 0.0, -8.0, 2.0, -9.0, 1.0];
        assert_eq!(max_axis_fn(&x, 2, 3, 2), vec![4.0, -1.0, -7.0, 2.0]);
        assert_eq!(max_axis_fn(&x, 1, 12, 1), vec![4.0]);
        assert_eq!(max_axis_fn(&x, 12, 1, 1), x.to_vec());
        let with_nan = max_axis_fn(&[1.0, f64::NAN, 3.0, 0.0], 2, 2, 1);
        assert!(with_nan[0].is_nan() && with_nan[1] == 3.0);
    }
}
