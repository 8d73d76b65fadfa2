//! Storage backends: where tensor values live and how kernels run on them.
//!
//! The backend knows nothing of autograd. It holds flat, row-major, contiguous
//! buffers and runs a small set of kernels on them; shapes arrive as plain
//! numbers. Every differentiable op (`src/ops/`) is built on these kernels,
//! so a device implements [`BackendStorage`] and every derivative order works
//! there too: [`cpu`] (ndarray + rayon) and [`cuda`] (hand-written kernels in
//! `kernels/*.cu`), held to each other by `tests/cuda_parity.rs`.
//!
//! Policy: an op whose inputs sit on different devices is a bug in the calling
//! program and panics, naming the op and both devices; a GPU that is missing
//! at run time is an error value ([`cuda::CudaUnavailable`], from [`Device::cuda`]).

pub mod buffer_pool;
pub mod cpu;
pub mod gemm;
pub mod counter_rng;
mod fast_math;
pub mod simd;
pub mod cuda;
pub mod family;

use std::fmt;

use crate::dtype::DType;
use crate::shape::Shape;
pub use cpu::CpuStorage;
pub use cuda::{CudaStorage, CudaUnavailable};

family::op_family! {
    /// Elementwise maps `y = f(x)`. Every kernel takes two parameters (see
    /// [`Unary::params`]), so one launch line serves them all.
    #[derive(Clone, Copy, Debug, PartialEq)]
    pub enum Unary {
        /// `−x`.
        Neg => kernel "neg", example Unary::Neg, inputs -3.0..3.0;
        /// `eˣ`.
        Exp => kernel "exp", example Unary::Exp, inputs -3.0..3.0;
        /// The natural logarithm.
        Log => kernel "log", example Unary::Log, inputs 0.2..5.0;
        /// `1 / (1 + e^-x)`, evaluated without overflow for either sign.
        Sigmoid => kernel "sigmoid", example Unary::Sigmoid, inputs -8.0..8.0;
        /// `tanh(x)`.
        Tanh => kernel "tanh", example Unary::Tanh, inputs -3.0..3.0;
        /// `log(1 + e^x)`, as `max(x, 0) + log1p(e^-|x|)`.
        Softplus => kernel "softplus", example Unary::Softplus, inputs -8.0..8.0;
        /// `x·σ(x)` (SiLU, swish).
        Silu => kernel "silu", example Unary::Silu, inputs -6.0..6.0;
        /// SiLU's derivative, `σ(x)·(1 + x·(1 − σ(x)))`: one pass, where the
        /// chain rule through `x·σ(x)` takes five.
        SiluDerivative => kernel "silu_derivative", example Unary::SiluDerivative, inputs -6.0..6.0;
        /// SiLU's second derivative, `σ(1 − σ)·(2 + x·(1 − 2σ))` with `σ = σ(x)`:
        /// one pass, where the chain rule through the first derivative takes eight.
        SiluSecondDerivative => kernel "silu_second_derivative", example Unary::SiluSecondDerivative, inputs -6.0..6.0;
        /// `max(x, 0)`, NaN for NaN.
        Relu => kernel "relu", example Unary::Relu, inputs -3.0..3.0;
        /// Heaviside step, `1` where `x > 0`, `0` where `x ≤ 0`, NaN for NaN:
        /// the derivative of relu.
        Step => kernel "step", example Unary::Step, inputs -3.0..3.0;
        /// `xⁿ` for an integer `n` (negative allowed).
        Powi(i32) => kernel "powi", example Unary::Powi(-3), inputs 0.5..2.0;
        /// `√x`.
        Sqrt => kernel "sqrt", example Unary::Sqrt, inputs 0.2..5.0;
        /// `mul * x + add`.
        Affine {
            /// The factor.
            mul: f64,
            /// The offset.
            add: f64
        } => kernel "affine", example Unary::Affine { mul: 2.5, add: -1.0 }, inputs -3.0..3.0;
        /// `x` limited to `[lo, hi]` (either may be infinite), NaN for NaN.
        Clamp {
            /// The lower bound (may be −∞).
            lo: f64,
            /// The upper bound (may be +∞).
            hi: f64
        } => kernel "clamp", example Unary::Clamp { lo: -1.0, hi: 0.5 }, inputs -3.0..3.0;
    }
}

impl Unary {
    /// The two numbers every unary kernel takes after its buffers and length
    /// (0 where the op has none).
    pub fn params(self) -> [f64; 2] {
        match self {
            Unary::Powi(n) => [f64::from(n), 0.0],
            Unary::Affine { mul, add } => [mul, add],
            Unary::Clamp { lo, hi } => [lo, hi],
            Unary::Neg | Unary::Exp | Unary::Log | Unary::Sigmoid | Unary::Tanh | Unary::Softplus | Unary::Silu | Unary::SiluDerivative | Unary::SiluSecondDerivative | Unary::Relu | Unary::Step | Unary::Sqrt => [0.0; 2],
        }
    }
}

family::op_family! {
    /// Elementwise maps of two equally shaped buffers.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Binary {
        /// `a + b`.
        Add => kernel "add", example Binary::Add, inputs -2.0..2.0;
        /// `a − b`.
        Sub => kernel "sub", example Binary::Sub, inputs -2.0..2.0;
        /// `a · b`.
        Mul => kernel "mul", example Binary::Mul, inputs -2.0..2.0;
        /// `a / b`.
        Div => kernel "div", example Binary::Div, inputs 0.5..2.0;
        /// The larger of the two, NaN if either is NaN.
        Maximum => kernel "maximum", example Binary::Maximum, inputs -2.0..2.0;
        /// The smaller of the two, NaN if either is NaN.
        Minimum => kernel "minimum", example Binary::Minimum, inputs -2.0..2.0;
    }
}

/// Where a tensor's storage lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Device {
    /// Host memory.
    Cpu,
    /// A CUDA device by ordinal.
    Cuda(usize),
}

impl Device {
    /// CUDA device `ordinal`, opened and checked (driver, device, NVRTC, the
    /// kernels load): what `--device cuda` asks for. Never panics.
    pub fn cuda(ordinal: usize) -> Result<Device, CudaUnavailable> {
        cuda::describe(ordinal).map(|_| Device::Cuda(ordinal))
    }

    /// The first GPU if one can be used, else the CPU: what `--device auto` asks for.
    pub fn cuda_if_available() -> Device {
        Device::cuda(0).unwrap_or(Device::Cpu)
    }

    /// Whether this is a GPU.
    pub fn is_cuda(self) -> bool {
        matches!(self, Device::Cuda(_))
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

/// The kernels a device provides. Buffers are contiguous and row-major; each
/// method documents the shapes it assumes, and callers (the ops) check them.
pub trait BackendStorage: Sized + Clone {
    /// The element type.
    fn dtype(&self) -> DType;
    /// Where the buffer lives.
    fn device(&self) -> Device;
    /// The number of elements.
    fn len(&self) -> usize;
    /// Whether there are no elements.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// A copy converted to `dtype`.
    fn to_dtype(&self, dtype: DType) -> Self;
    /// The values, widened to f64 (used for checks, printing and tests).
    fn to_f64_vec(&self) -> Vec<f64>;
    /// `len` copies of `value`.
    fn full(&self, len: usize, value: f64, dtype: DType) -> Self;
    /// `values`, as `dtype`, on this storage's device. A device backend may
    /// hand out again a buffer it made for the same values (buffers never
    /// change), so a small constant that recurs every step is copied once.
    fn constant(&self, values: &[f64], dtype: DType) -> Self;
    /// A `rows×cols` matrix of zeros with a 1 at `(r, hot[r])` for each row.
    fn one_hot(&self, rows: usize, cols: usize, hot: &[usize], dtype: DType) -> Self;
    /// `len` standard normals of counter-based stream `seed`
    /// ([`counter_rng::normal`]): the same values on every backend.
    fn normal(&self, len: usize, seed: u64, dtype: DType) -> Self;

    /// `op` applied to every element.
    fn unary(&self, op: Unary) -> Self;
    /// `op` applied elementwise to two buffers of the same length.
    fn binary(&self, rhs: &Self, op: Binary) -> Self;
    /// `op` of this buffer, of shape `shape`, and `rhs`, of shape `rhs_shape`,
    /// both broadcast to `out` (NumPy rules). The default spells the smaller
    /// operands out to `out` and runs [`BackendStorage::binary`]; a backend may
    /// read them in place instead.
    fn binary_broadcast(&self, shape: &Shape, rhs: &Self, rhs_shape: &Shape, out: &Shape, op: Binary) -> Self {
        let spelled = |s: &Self, from: &Shape| (from != out).then(|| s.broadcast_to(from, out));
        let (a, b) = (spelled(self, shape), spelled(rhs, rhs_shape));
        a.as_ref().unwrap_or(self).binary(b.as_ref().unwrap_or(rhs), op)
    }
    /// `where`: `on_true` where this buffer (the condition) is nonzero, else
    /// `on_false`; three buffers of one length.
    fn select(&self, on_true: &Self, on_false: &Self) -> Self;
    /// `op(a) · op(b)` with `op(a)` of shape `m×k` and `op(b)` of shape `k×n`;
    /// `a` is stored `m×k` (or `k×m` when `trans_a`), likewise `b`.
    fn matmul(&self, rhs: &Self, m: usize, k: usize, n: usize, trans_a: bool, trans_b: bool) -> Self;
    /// The transpose of a `rows×cols` matrix.
    fn transpose(&self, rows: usize, cols: usize) -> Self;
    /// The axes of a buffer of shape `dims` reordered: axis `i` of the result
    /// is axis `axes[i]` of this one (`axes` a permutation of `0..dims.len()`).
    fn permute(&self, dims: &[usize], axes: &[usize]) -> Self;
    /// `dims.batch` products `op(a_p) · op(b_p)`, stacked into `[batch, m, n]`
    /// (see [`BatchedMatmul`] for which matrices each product takes). The
    /// default is one [`matmul`](Self::matmul) when the products stack into
    /// one (every `a_p` untransposed and distinct, `b` shared: a `[batch·m, k]`
    /// matrix times `op(b)`), else a loop of them; a backend may run the loop
    /// as one batched kernel.
    fn batched_matmul(&self, rhs: &Self, dims: BatchedMatmul) -> Self {
        let BatchedMatmul { batch, a_count, b_count, m, k, n, trans_a, trans_b } = dims;
        if let Some(rows) = dims.stacked_rows() {
            return self.matmul(rhs, rows, k, n, trans_a, trans_b);
        }
        let products: Vec<Self> = (0..batch)
            .map(|p| {
                let (a, b) = (matrix_of_batch(self, a_count, m * k, p), matrix_of_batch(rhs, b_count, k * n, p));
                a.matmul(&b, m, k, n, trans_a, trans_b)
            })
            .collect();
        stack(&products, m * n)
    }
    /// The transposes of `batch` stacked `rows×cols` matrices. The default
    /// loops over [`transpose`](Self::transpose).
    fn batched_transpose(&self, batch: usize, rows: usize, cols: usize) -> Self {
        if batch == 1 {
            return self.transpose(rows, cols);
        }
        let parts: Vec<Self> = (0..batch).map(|p| matrix_of_batch(self, batch, rows * cols, p).transpose(rows, cols)).collect();
        stack(&parts, rows * cols)
    }
    /// NumPy broadcast from `from` to `to` (`from.broadcasts_to(to)`).
    fn broadcast_to(&self, from: &Shape, to: &Shape) -> Self;
    /// The adjoint of `broadcast_to`: sums `from` down to `to`. A sum over an
    /// empty axis is 0 (an empty `from`, a non-empty `to`: zeros).
    fn sum_to(&self, from: &Shape, to: &Shape) -> Self;
    /// Viewing the buffer as `[outer, n, inner]`, the largest entry of the
    /// middle axis: `[outer, inner]`. A NaN anywhere along it gives NaN
    /// (`n ≥ 1`; `outer` or `inner` may be 0).
    fn max_axis(&self, outer: usize, n: usize, inner: usize) -> Self;
    /// Viewing the buffer as `[outer, n, inner]`, keeps `len` entries of the
    /// middle axis starting at `start`.
    fn slice_axis(&self, outer: usize, n: usize, inner: usize, start: usize, len: usize) -> Self;
    /// The adjoint of `slice_axis`: places `[outer, len, inner]` at `start`
    /// of a zero `[outer, n, inner]` buffer.
    fn pad_axis(&self, outer: usize, len: usize, inner: usize, start: usize, n: usize) -> Self;
    /// Rows `indices` of a `[rows, inner]` buffer.
    fn gather_rows(&self, inner: usize, indices: &[usize]) -> Self;
    /// The adjoint of `gather_rows`: adds row `i` into row `indices[i]` of a
    /// zero `[rows, inner]` buffer.
    fn scatter_add_rows(&self, inner: usize, indices: &[usize], rows: usize) -> Self;
    /// `count` rows of a `[rows, inner]` buffer drawn uniformly with
    /// replacement: row `r` is row [`counter_rng::uniform_index`]`(seed, r,
    /// rows)`. The default picks the indices here and gathers; a device
    /// backend picks them itself, so no index list is copied to it.
    fn sample_rows(&self, inner: usize, rows: usize, count: usize, seed: u64) -> Self {
        self.gather_rows(inner, &counter_rng::uniform_indices(seed, count, rows))
    }

    /// `self += rhs` (same length), over `self`'s own buffer where the backend
    /// can: the backward pass's fan-in sums. The default adds into a new buffer.
    fn add_assign(&mut self, rhs: &Self) {
        *self = self.binary(rhs, Binary::Add);
    }

    /// The sum of the squares of `self`'s values (of shape `shape`), as one value
    /// (never recorded). The default squares, then sums: two passes and a
    /// buffer; a backend may fuse them, to the same bits.
    fn sum_of_squares(&self, shape: &Shape) -> Self {
        self.unary(Unary::Powi(2)).sum_to(shape, &Shape::scalar())
    }

    /// An exponential moving average's step in place, `self ← decay·self +
    /// (1 − decay)·value` (values only, never recorded). The default composes
    /// the elementwise kernels, three passes; a backend may fuse it into one
    /// over `self`'s own buffer.
    fn ema_update(&mut self, value: &Self, decay: f64) {
        let affine = |x: &Self, mul: f64| x.unary(Unary::Affine { mul, add: 0.0 });
        *self = affine(self, decay).binary(&affine(value, 1.0 - decay), Binary::Add);
    }

    /// One Adam step on a parameter buffer (values only, never recorded), in
    /// place: `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`, and `grad`, spent,
    /// becomes the new parameters `p − lr·(m/c₁)/(√(v/c₂) + ε)`. The default
    /// composes the elementwise kernels, a dozen passes over memory; a backend
    /// may fuse it into one over the same buffers.
    fn adam_update(&self, grad: &mut Self, m: &mut Self, v: &mut Self, h: AdamStep) {
        let affine = |x: &Self, mul: f64, add: f64| x.unary(Unary::Affine { mul, add });
        *m = affine(m, h.beta1, 0.0).binary(&affine(grad, 1.0 - h.beta1, 0.0), Binary::Add);
        *v = affine(v, h.beta2, 0.0).binary(&affine(&grad.unary(Unary::Powi(2)), 1.0 - h.beta2, 0.0), Binary::Add);
        let denom = affine(&affine(v, 1.0 / h.correction2, 0.0).unary(Unary::Sqrt), 1.0, h.eps);
        let step = affine(&m.binary(&denom, Binary::Div), h.lr / h.correction1, 0.0);
        *grad = self.binary(&step, Binary::Sub);
    }
}

/// The sizes of [`BackendStorage::batched_matmul`]: `batch` products of an
/// `m×k` and a `k×n` matrix (after the transposes). `a` holds `a_count`
/// matrices back to back and product `p` takes matrix `p % a_count`, so one
/// matrix (`a_count = 1`) is shared by every product, and a batch that is the
/// trailing part of the output's batch axes repeats; likewise `b`. Both
/// counts divide `batch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchedMatmul {
    /// The number of products.
    pub batch: usize,
    /// The number of `a` matrices stored (it divides `batch`).
    pub a_count: usize,
    /// The number of `b` matrices stored (it divides `batch`).
    pub b_count: usize,
    /// Rows of each product.
    pub m: usize,
    /// The inner dimension.
    pub k: usize,
    /// Columns of each product.
    pub n: usize,
    /// Whether each `a` is stored transposed (`k×m`).
    pub trans_a: bool,
    /// Whether each `b` is stored transposed (`n×k`).
    pub trans_b: bool,
}

impl BatchedMatmul {
    /// The rows of the one product the batch amounts to, if it is one: a
    /// batch of one, or distinct untransposed `a` matrices against a shared
    /// `b`, which stack into one `[batch·m, k]` matrix times `op(b)`.
    pub fn stacked_rows(&self) -> Option<usize> {
        let one = self.batch == 1 || (self.a_count == self.batch && self.b_count == 1 && !self.trans_a);
        one.then_some(self.batch * self.m)
    }
}

/// Matrix `p % count` of `count` stacked matrices of `size` elements (the
/// buffer itself when there is one).
fn matrix_of_batch<S: BackendStorage>(s: &S, count: usize, size: usize, p: usize) -> S {
    if count == 1 {
        s.clone()
    } else {
        s.slice_axis(1, count, size, p % count, 1)
    }
}

/// Buffers of `size` elements each, one after the other, composed from
/// `pad_axis` and `add`: halves are joined recursively, so each element is
/// copied O(log parts) times.
fn stack<S: BackendStorage>(parts: &[S], size: usize) -> S {
    if parts.len() == 1 {
        return parts[0].clone();
    }
    let (n, mid) = (parts.len(), parts.len() / 2);
    let head = stack(&parts[..mid], size).pad_axis(1, mid, size, 0, n);
    let tail = stack(&parts[mid..], size).pad_axis(1, n - mid, size, mid, n);
    head.binary(&tail, Binary::Add)
}

/// Adam's numbers for one update; `correction1 = 1 − β₁ᵗ`, `correction2 = 1 − β₂ᵗ`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamStep {
    /// The learning rate.
    pub lr: f64,
    /// The decay of the first moment.
    pub beta1: f64,
    /// The decay of the second moment.
    pub beta2: f64,
    /// Added to the square root of the second moment.
    pub eps: f64,
    /// `1 − β₁ᵗ`.
    pub correction1: f64,
    /// `1 − β₂ᵗ`.
    pub correction2: f64,
}

/// A tensor's buffer on some device: dispatches to the backend that owns it.
#[derive(Clone, Debug)]
pub enum Storage {
    /// A buffer in host memory.
    Cpu(CpuStorage),
    /// A buffer on a GPU.
    Cuda(CudaStorage),
}

macro_rules! dispatch {
    ($self:expr, $s:ident => $body:expr) => {
        match $self {
            Storage::Cpu($s) => Storage::Cpu($body),
            Storage::Cuda($s) => Storage::Cuda($body),
        }
    };
}

/// Reads a property every backend has.
macro_rules! read {
    ($self:expr, $s:ident => $body:expr) => {
        match $self {
            Storage::Cpu($s) => $body,
            Storage::Cuda($s) => $body,
        }
    };
}

macro_rules! dispatch2 {
    ($a:expr, $b:expr, $op:literal, ($x:ident, $y:ident) => $body:expr) => {
        match ($a, $b) {
            (Storage::Cpu($x), Storage::Cpu($y)) => Storage::Cpu($body),
            (Storage::Cuda($x), Storage::Cuda($y)) => Storage::Cuda($body),
            (a, b) => panic!("{}: tensors on different devices ({} and {})", $op, a.device(), b.device()),
        }
    };
}

impl Storage {
    /// The element type.
    pub fn dtype(&self) -> DType {
        read!(self, s => s.dtype())
    }
    /// Where the buffer lives.
    pub fn device(&self) -> Device {
        read!(self, s => s.device())
    }
    /// The number of elements.
    pub fn len(&self) -> usize {
        read!(self, s => s.len())
    }
    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The bytes the values take.
    pub fn size_in_bytes(&self) -> usize {
        self.len() * self.dtype().size()
    }
    /// The values, widened to f64 (copied to the host if need be).
    pub fn to_f64_vec(&self) -> Vec<f64> {
        read!(self, s => s.to_f64_vec())
    }
    /// A copy on `device`. Panics if `device` is a GPU that cannot be used:
    /// check with [`Device::cuda`] first.
    pub fn to_device(&self, device: Device) -> Storage {
        let to_gpu = |cpu: &CpuStorage, ordinal: usize| {
            Storage::Cuda(CudaStorage::from_cpu(cpu, ordinal).unwrap_or_else(|e| panic!("to_device({device}): {e}")))
        };
        match (self, device) {
            (s, d) if s.device() == d => self.clone(),
            (Storage::Cpu(s), Device::Cuda(i)) => to_gpu(s, i),
            (Storage::Cuda(s), Device::Cpu) => Storage::Cpu(s.to_cpu()),
            // Between GPUs through the host: simple, and rare.
            (Storage::Cuda(s), Device::Cuda(i)) => to_gpu(&s.to_cpu(), i),
            (Storage::Cpu(_), Device::Cpu) => unreachable!(),
        }
    }
    /// A copy converted to `dtype`.
    pub fn to_dtype(&self, dtype: DType) -> Storage {
        dispatch!(self, s => s.to_dtype(dtype))
    }
    /// A buffer of `value` on the same device as `self`.
    pub fn full_like(&self, len: usize, value: f64, dtype: DType) -> Storage {
        dispatch!(self, s => s.full(len, value, dtype))
    }
    /// A `rows×cols` one-hot matrix (see [`BackendStorage::one_hot`]) on the same device as `self`.
    pub fn one_hot_like(&self, rows: usize, cols: usize, hot: &[usize], dtype: DType) -> Storage {
        dispatch!(self, s => s.one_hot(rows, cols, hot, dtype))
    }
    /// `values` (see [`BackendStorage::constant`]) on the same device as `self`.
    pub fn constant_like(&self, values: &[f64], dtype: DType) -> Storage {
        dispatch!(self, s => s.constant(values, dtype))
    }
    /// Standard normals (see [`BackendStorage::normal`]) on the same device as `self`.
    pub fn normal_like(&self, len: usize, seed: u64, dtype: DType) -> Storage {
        dispatch!(self, s => s.normal(len, seed, dtype))
    }
    /// See [`BackendStorage::unary`].
    pub fn unary(&self, op: Unary) -> Storage {
        dispatch!(self, s => s.unary(op))
    }
    /// See [`BackendStorage::binary`]; both on one device.
    pub fn binary(&self, rhs: &Storage, op: Binary) -> Storage {
        dispatch2!(self, rhs, "binary op", (a, b) => a.binary(b, op))
    }
    /// See [`BackendStorage::binary_broadcast`]; both on one device.
    pub fn binary_broadcast(&self, shape: &Shape, rhs: &Storage, rhs_shape: &Shape, out: &Shape, op: Binary) -> Storage {
        dispatch2!(self, rhs, "binary op", (a, b) => a.binary_broadcast(shape, b, rhs_shape, out, op))
    }
    /// See [`BackendStorage::select`]; all three on one device.
    pub fn select(&self, on_true: &Storage, on_false: &Storage) -> Storage {
        match (self, on_true, on_false) {
            (Storage::Cpu(c), Storage::Cpu(a), Storage::Cpu(b)) => Storage::Cpu(c.select(a, b)),
            (Storage::Cuda(c), Storage::Cuda(a), Storage::Cuda(b)) => Storage::Cuda(c.select(a, b)),
            (c, a, b) => panic!("where: tensors on different devices ({}, {} and {})", c.device(), a.device(), b.device()),
        }
    }
    /// See [`BackendStorage::matmul`]; both on one device.
    pub fn matmul(&self, rhs: &Storage, m: usize, k: usize, n: usize, ta: bool, tb: bool) -> Storage {
        dispatch2!(self, rhs, "matmul", (a, b) => a.matmul(b, m, k, n, ta, tb))
    }
    /// See [`BackendStorage::transpose`].
    pub fn transpose(&self, rows: usize, cols: usize) -> Storage {
        dispatch!(self, s => s.transpose(rows, cols))
    }
    /// See [`BackendStorage::permute`].
    pub fn permute(&self, dims: &[usize], axes: &[usize]) -> Storage {
        dispatch!(self, s => s.permute(dims, axes))
    }
    /// See [`BackendStorage::batched_matmul`]; both on one device.
    pub fn batched_matmul(&self, rhs: &Storage, dims: BatchedMatmul) -> Storage {
        dispatch2!(self, rhs, "matmul", (a, b) => a.batched_matmul(b, dims))
    }
    /// See [`BackendStorage::batched_transpose`].
    pub fn batched_transpose(&self, batch: usize, rows: usize, cols: usize) -> Storage {
        dispatch!(self, s => s.batched_transpose(batch, rows, cols))
    }
    /// See [`BackendStorage::broadcast_to`].
    pub fn broadcast_to(&self, from: &Shape, to: &Shape) -> Storage {
        dispatch!(self, s => s.broadcast_to(from, to))
    }
    /// See [`BackendStorage::sum_to`].
    pub fn sum_to(&self, from: &Shape, to: &Shape) -> Storage {
        dispatch!(self, s => s.sum_to(from, to))
    }
    /// See [`BackendStorage::max_axis`].
    pub fn max_axis(&self, outer: usize, n: usize, inner: usize) -> Storage {
        dispatch!(self, s => s.max_axis(outer, n, inner))
    }
    /// See [`BackendStorage::slice_axis`].
    pub fn slice_axis(&self, outer: usize, n: usize, inner: usize, start: usize, len: usize) -> Storage {
        dispatch!(self, s => s.slice_axis(outer, n, inner, start, len))
    }
    /// See [`BackendStorage::pad_axis`].
    pub fn pad_axis(&self, outer: usize, len: usize, inner: usize, start: usize, n: usize) -> Storage {
        dispatch!(self, s => s.pad_axis(outer, len, inner, start, n))
    }
    /// See [`BackendStorage::gather_rows`].
    pub fn gather_rows(&self, inner: usize, indices: &[usize]) -> Storage {
        dispatch!(self, s => s.gather_rows(inner, indices))
    }
    /// See [`BackendStorage::scatter_add_rows`].
    pub fn scatter_add_rows(&self, inner: usize, indices: &[usize], rows: usize) -> Storage {
        dispatch!(self, s => s.scatter_add_rows(inner, indices, rows))
    }
    /// See [`BackendStorage::sample_rows`].
    pub fn sample_rows(&self, inner: usize, rows: usize, count: usize, seed: u64) -> Storage {
        dispatch!(self, s => s.sample_rows(inner, rows, count, seed))
    }
    /// See [`BackendStorage::add_assign`]; both on one device.
    pub fn add_assign(&mut self, rhs: &Storage) {
        match (self, rhs) {
            (Storage::Cpu(a), Storage::Cpu(b)) => a.add_assign(b),
            (Storage::Cuda(a), Storage::Cuda(b)) => a.add_assign(b),
            (a, b) => panic!("add: tensors on different devices ({} and {})", a.device(), b.device()),
        }
    }
    /// See [`BackendStorage::sum_of_squares`].
    pub fn sum_of_squares(&self, shape: &Shape) -> Storage {
        dispatch!(self, s => s.sum_of_squares(shape))
    }
    /// See [`BackendStorage::ema_update`]; both on one device.
    pub fn ema_update(&mut self, value: &Storage, decay: f64) {
        match (self, value) {
            (Storage::Cpu(a), Storage::Cpu(v)) => a.ema_update(v, decay),
            (Storage::Cuda(a), Storage::Cuda(v)) => a.ema_update(v, decay),
            _ => panic!("ema_update: the average and the value on different devices"),
        }
    }
    /// See [`BackendStorage::adam_update`]; all four on one device.
    pub fn adam_update(&self, grad: &mut Storage, m: &mut Storage, v: &mut Storage, h: AdamStep) {
        match (self, grad, m, v) {
            (Storage::Cpu(p), Storage::Cpu(g), Storage::Cpu(m), Storage::Cpu(v)) => p.adam_update(g, m, v, h),
            (Storage::Cuda(p), Storage::Cuda(g), Storage::Cuda(m), Storage::Cuda(v)) => p.adam_update(g, m, v, h),
            _ => panic!("adam_update: parameter, gradient and moments on different devices"),
        }
    }
}
