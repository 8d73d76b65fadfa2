//! `CudaStorage`: a buffer on one GPU, and the [`BackendStorage`] kernels on it.
//!
//! Each method allocates its output, launches the kernel of `kernels/` that
//! computes it (named `<op>_<dtype>`) and returns; nothing waits for the GPU
//! except [`CudaStorage::to_cpu`]. Shapes arrive already checked by the ops.

use std::fmt;
use std::sync::Arc;

use cudarc::driver::{CudaSlice, LaunchConfig};

use super::device::{self, CudaDevice, CudaUnavailable, Family, GpuElem, IndexKind, RecentUploads};
use super::launch;
use super::layout::{self, Pattern};
use crate::backend::{counter_rng, AdamStep, BackendStorage, Binary, CpuStorage, Device, Unary};
use crate::dtype::DType;
use crate::shape::Shape;

/// A contiguous row-major buffer in one GPU's memory. Immutable once written,
/// so clones share it.
#[derive(Clone)]
pub struct CudaStorage {
    buf: Buf,
    /// Elements in use (the allocation holds at least one, even for 0).
    len: usize,
    dev: Arc<CudaDevice>,
}

#[derive(Clone)]
enum Buf {
    F32(Arc<CudaSlice<f32>>),
    F64(Arc<CudaSlice<f64>>),
}

impl fmt::Debug for CudaStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CudaStorage({} × {} on cuda:{})", self.dtype(), self.len, self.dev.ordinal)
    }
}

/// Runs `$body` with `$x` bound to the typed device buffer, wrapping the
/// `CudaSlice` it returns in the same dtype.
macro_rules! typed {
    ($s:expr, $x:ident => $body:expr) => {
        match &$s.buf {
            Buf::F32($x) => Buf::F32(Arc::new($body)),
            Buf::F64($x) => Buf::F64(Arc::new($body)),
        }
    };
}

/// As `typed!` for two buffers, which must share a dtype.
macro_rules! typed2 {
    ($a:expr, $b:expr, $op:expr, ($x:ident, $y:ident) => $body:expr) => {
        match (&$a.buf, &$b.buf) {
            (Buf::F32($x), Buf::F32($y)) => Buf::F32(Arc::new($body)),
            (Buf::F64($x), Buf::F64($y)) => Buf::F64(Arc::new($body)),
            _ => panic!("{}: dtypes differ ({} and {})", $op, $a.dtype(), $b.dtype()),
        }
    };
}

impl CudaStorage {
    /// Copies a host buffer to GPU `ordinal`.
    pub fn from_cpu(cpu: &CpuStorage, ordinal: usize) -> Result<CudaStorage, CudaUnavailable> {
        let dev = device::device(ordinal)?;
        let buf = match cpu {
            CpuStorage::F32(a) => Buf::F32(Arc::new(upload(&dev, a.as_slice().expect("cpu buffers are contiguous")))),
            CpuStorage::F64(a) => Buf::F64(Arc::new(upload(&dev, a.as_slice().expect("cpu buffers are contiguous")))),
        };
        Ok(CudaStorage { buf, len: cpu.len(), dev })
    }

    /// Copies the buffer to the host, waiting for the kernels that write it.
    pub fn to_cpu(&self) -> CpuStorage {
        match &self.buf {
            Buf::F32(s) => CpuStorage::from_vec(download(&self.dev, s, self.len)),
            Buf::F64(s) => CpuStorage::from_vec(download(&self.dev, s, self.len)),
        }
    }

    /// The GPU's ordinal.
    pub fn ordinal(&self) -> usize {
        self.dev.ordinal
    }

    /// The raw f32 buffer (at least one element long, `len()` of them in use),
    /// for code that runs its own kernels on it on [`super::stream`]: the
    /// benchmarks' cuBLAS reference. `None` for f64.
    pub fn as_f32_slice(&self) -> Option<&CudaSlice<f32>> {
        match &self.buf {
            Buf::F32(s) => Some(s),
            Buf::F64(_) => None,
        }
    }

    fn with(&self, buf: Buf, len: usize) -> CudaStorage {
        CudaStorage { buf, len, dev: self.dev.clone() }
    }

    fn check_same_device(&self, other: &CudaStorage, op: &str) {
        assert!(
            self.dev.ordinal == other.dev.ordinal,
            "{op}: tensors on different devices (cuda:{} and cuda:{})",
            self.dev.ordinal,
            other.dev.ordinal
        );
    }
}

fn upload<T: GpuElem>(dev: &CudaDevice, data: &[T]) -> CudaSlice<T> {
    if data.is_empty() {
        return dev.alloc(0);
    }
    device::count_transfer(true, std::mem::size_of_val(data));
    dev.stream.clone_htod(data).unwrap_or_else(|e| panic!("cuda:{}: copying {} values to the device: {e:?}", dev.ordinal, data.len()))
}

/// Small constants by (dtype, the values' bits): a noise-level ladder recurs
/// every step, so it is copied to the device once.
#[derive(Default)]
pub(crate) struct ConstantCache(RecentUploads<(DType, Vec<u64>), Buf, 16>);

/// Longer constants are uploaded every time, not kept.
const CONSTANT_CACHE_MAX_LEN: usize = 4096;

fn constant(dev: &CudaDevice, values: &[f64], dtype: DType) -> Buf {
    let upload_values = || match dtype {
        DType::F32 => Buf::F32(Arc::new(upload(dev, &values.iter().map(|&v| v as f32).collect::<Vec<_>>()))),
        DType::F64 => Buf::F64(Arc::new(upload(dev, values))),
    };
    if values.len() > CONSTANT_CACHE_MAX_LEN {
        return upload_values();
    }
    let same = |(d, bits): &(DType, Vec<u64>)| *d == dtype && bits.len() == values.len() && bits.iter().zip(values).all(|(&b, v)| b == v.to_bits());
    device::lock(&dev.constants).0.get_or_upload(same, || ((dtype, values.iter().map(|v| v.to_bits()).collect()), upload_values()))
}

fn download<T: GpuElem>(dev: &CudaDevice, s: &CudaSlice<T>, len: usize) -> Vec<T> {
    if len == 0 {
        return Vec::new();
    }
    device::count_transfer(false, len * std::mem::size_of::<T>());
    let values = dev.stream.clone_dtoh(&s.slice(0..len));
    let synced = dev.stream.synchronize();
    match (values, synced) {
        (Ok(v), Ok(())) => v,
        (Err(e), _) | (_, Err(e)) => panic!("cuda:{}: copying {len} values to the host: {e:?}", dev.ordinal),
    }
}

fn kernel_name<T: GpuElem>(op: &str) -> String {
    format!("{op}_{}", T::NAME)
}

fn unary<T: GpuElem>(dev: &CudaDevice, x: &CudaSlice<T>, n: usize, op: Unary) -> CudaSlice<T> {
    let mut y = dev.alloc::<T>(n);
    if n == 0 {
        return y;
    }
    let n64 = n as u64;
    // One thread per 16-byte vector (kernels/unary.cu).
    let cfg = dev.grid_1d(n64.div_ceil(16 / std::mem::size_of::<T>() as u64));
    let [a, b] = op.params();
    launch!(dev, Family::Unary, kernel_name::<T>(op.kernel()), cfg, x, &mut y, &n64, &a, &b);
    y
}

fn binary<T: GpuElem>(dev: &CudaDevice, a: &CudaSlice<T>, b: &CudaSlice<T>, n: usize, op: Binary) -> CudaSlice<T> {
    let mut y = dev.alloc::<T>(n);
    if n == 0 {
        return y;
    }
    let n64 = n as u64;
    let cfg = dev.grid_1d(n64.div_ceil(16 / std::mem::size_of::<T>() as u64));
    launch!(dev, Family::Binary, kernel_name::<T>(op.kernel()), cfg, a, b, &mut y, &n64);
    y
}

/// `where`: `c ≠ 0 ? a : b`, one thread per element (kernels/binary.cu).
fn select<T: GpuElem>(dev: &CudaDevice, c: &CudaSlice<T>, a: &CudaSlice<T>, b: &CudaSlice<T>, n: usize) -> CudaSlice<T> {
    let mut y = dev.alloc::<T>(n);
    if n == 0 {
        return y;
    }
    let n64 = n as u64;
    launch!(dev, Family::Binary, kernel_name::<T>("where"), dev.grid_1d(n64), c, a, b, &mut y, &n64);
    y
}

#[allow(clippy::too_many_arguments)]
fn matmul<T: GpuElem>(dev: &CudaDevice, a: &CudaSlice<T>, b: &CudaSlice<T>, m: usize, k: usize, n: usize, ta: bool, tb: bool) -> CudaSlice<T> {
    let mut c = dev.alloc::<T>(m * n);
    if m * n == 0 {
        return c;
    }
    let plan = layout::plan_gemm(m, n, k, dev.sm_count, T::NAME == "f64");
    let letter = |t: bool| if t { 't' } else { 'n' };
    let name = format!("matmul_{}_{}{}_{}", layout::tiling_name(&plan), letter(ta), letter(tb), T::NAME);
    let (mi, ni, ki, k_chunk) = (m as i32, n as i32, k as i32, plan.k_chunk as i32);
    // 16-byte loads need the contiguous dimension of each operand to be a multiple of 4.
    let vec_a = i32::from(layout::multiple_of_4(if ta { m } else { k }));
    let vec_b = i32::from(layout::multiple_of_4(if tb { k } else { n }));
    let vec_c = i32::from(layout::multiple_of_4(n));
    let cfg = LaunchConfig { grid_dim: plan.grid, block_dim: (256, 1, 1), shared_mem_bytes: 0 };
    if plan.splits == 1 {
        launch!(dev, Family::Matmul, name, cfg, a, b, &mut c, &mi, &ni, &ki, &k_chunk, &vec_a, &vec_b, &vec_c);
    } else {
        let mut partial = dev.alloc::<T>(plan.splits as usize * m * n);
        launch!(dev, Family::Matmul, name, cfg, a, b, &mut partial, &mi, &ni, &ki, &k_chunk, &vec_a, &vec_b, &vec_c);
        let (mn, splits) = ((m * n) as u64, plan.splits as i32);
        launch!(dev, Family::Matmul, kernel_name::<T>("splitk_reduce"), dev.grid_1d(mn), &partial, &mut c, &mn, &splits);
    }
    c
}

fn transpose<T: GpuElem>(dev: &CudaDevice, x: &CudaSlice<T>, rows: usize, cols: usize) -> CudaSlice<T> {
    let mut y = dev.alloc::<T>(rows * cols);
    if rows * cols == 0 {
        return y;
    }
    let tiles = (rows.div_ceil(32) * cols.div_ceil(32)).min(dev.sm_count * 32);
    let cfg = LaunchConfig { grid_dim: (tiles as u32, 1, 1), block_dim: (32, 8, 1), shared_mem_bytes: 0 };
    let (r, c) = (rows as u64, cols as u64);
    launch!(dev, Family::Index, kernel_name::<T>("transpose"), cfg, x, &mut y, &r, &c);
    y
}

/// A reordering of the axes: reduce.cu's strided gather, with the permuted
/// input strides as its layout.
fn permute<T: GpuElem>(dev: &CudaDevice, x: &CudaSlice<T>, dims: &[usize], axes: &[usize]) -> CudaSlice<T> {
    let n: usize = dims.iter().product();
    let mut y = dev.alloc::<T>(n);
    if n == 0 {
        return y;
    }
    let (n64, layout) = (n as u64, layout::permuted(dims, axes));
    launch!(dev, Family::Reduce, kernel_name::<T>("broadcast_strided"), dev.grid_1d(n64), x, &mut y, &n64, &layout);
    y
}

/// `pattern` is `layout::pattern(from, to)`, not `Copy`.
fn broadcast<T: GpuElem>(dev: &CudaDevice, x: &CudaSlice<T>, n: usize, pattern: &Pattern) -> CudaSlice<T> {
    let mut y = dev.alloc::<T>(n);
    if n == 0 {
        return y;
    }
    let n64 = n as u64;
    let cfg = dev.grid_1d(n64);
    match *pattern {
        Pattern::Copy => unreachable!("a copy shares its buffer"),
        Pattern::Scalar => launch!(dev, Family::Reduce, kernel_name::<T>("broadcast_scalar"), cfg, x, &mut y, &n64),
        Pattern::Rows { c, .. } => {
            let c = c as u64;
            launch!(dev, Family::Reduce, kernel_name::<T>("broadcast_rows"), cfg, x, &mut y, &n64, &c)
        }
        Pattern::Cols { c, .. } => {
            let c = c as u64;
            launch!(dev, Family::Reduce, kernel_name::<T>("broadcast_cols"), cfg, x, &mut y, &n64, &c)
        }
        Pattern::Strided { broadcast, .. } => {
            launch!(dev, Family::Reduce, kernel_name::<T>("broadcast_strided"), cfg, x, &mut y, &n64, &broadcast)
        }
    }
    y
}

/// `pattern` is `layout::pattern(to, from)`, not `Copy`; `n` is `from`'s size.
fn sum_to<T: GpuElem>(dev: &CudaDevice, x: &CudaSlice<T>, n: usize, n_out: usize, pattern: &Pattern) -> CudaSlice<T> {
    if n_out == 0 {
        return dev.alloc(0);
    }
    match *pattern {
        Pattern::Copy => unreachable!("a copy shares its buffer"),
        Pattern::Scalar => {
            // Block partial sums, then one block over them; the block count
            // depends on n alone, so the rounding is the same every run.
            let blocks = n.div_ceil(256 * 4).clamp(1, 1024);
            let n64 = n as u64;
            let mut partial = dev.alloc::<T>(blocks);
            let cfg = |b: usize| LaunchConfig { grid_dim: (b as u32, 1, 1), block_dim: (256, 1, 1), shared_mem_bytes: 0 };
            launch!(dev, Family::Reduce, kernel_name::<T>("sum_all"), cfg(blocks), x, &mut partial, &n64);
            if blocks == 1 {
                return partial;
            }
            let mut y = dev.alloc::<T>(1);
            let b64 = blocks as u64;
            launch!(dev, Family::Reduce, kernel_name::<T>("sum_all"), cfg(1), &partial, &mut y, &b64);
            y
        }
        Pattern::Rows { r, c } => {
            // Column sums: enough row chunks to give every multiprocessor two blocks.
            let col_blocks = c.div_ceil(32);
            let chunks = r.div_ceil(32).min((2 * dev.sm_count).div_ceil(col_blocks)).clamp(1, 65535);
            let rows_per_chunk = r.div_ceil(chunks).max(1);
            let chunks = r.div_ceil(rows_per_chunk).max(1);
            let cfg = |ch: usize| LaunchConfig { grid_dim: (col_blocks as u32, ch as u32, 1), block_dim: (32, 8, 1), shared_mem_bytes: 0 };
            let (r64, c64, rpc) = (r as u64, c as u64, rows_per_chunk as u64);
            let mut first = dev.alloc::<T>(chunks * c);
            launch!(dev, Family::Reduce, kernel_name::<T>("sum_cols"), cfg(chunks), x, &mut first, &r64, &c64, &rpc);
            if chunks == 1 {
                return first;
            }
            let mut y = dev.alloc::<T>(c);
            let ch64 = chunks as u64;
            launch!(dev, Family::Reduce, kernel_name::<T>("sum_cols"), cfg(1), &first, &mut y, &ch64, &c64, &ch64);
            y
        }
        Pattern::Cols { r, c } => {
            let mut y = dev.alloc::<T>(r);
            let blocks = r.div_ceil(8).clamp(1, dev.sm_count * 32);
            let cfg = LaunchConfig { grid_dim: (blocks as u32, 1, 1), block_dim: (256, 1, 1), shared_mem_bytes: 0 };
            let (r64, c64) = (r as u64, c as u64);
            launch!(dev, Family::Reduce, kernel_name::<T>("sum_rows"), cfg, x, &mut y, &r64, &c64);
            y
        }
        Pattern::Strided { kept, reduced, n_reduced, .. } => {
            let mut y = dev.alloc::<T>(n_out);
            let (no, nr) = (n_out as u64, n_reduced as u64);
            launch!(dev, Family::Reduce, kernel_name::<T>("sum_strided"), dev.grid_1d(no), x, &mut y, &no, &kept, &reduced, &nr);
            y
        }
    }
}

/// The largest entry of the middle axis of `[outer, n, inner]`: one thread per output.
fn max_axis<T: GpuElem>(dev: &CudaDevice, x: &CudaSlice<T>, outer: usize, n: usize, inner: usize) -> CudaSlice<T> {
    let n_out = outer * inner;
    let mut y = dev.alloc::<T>(n_out);
    if n_out == 0 {
        return y;
    }
    let (o64, n64, i64) = (outer as u64, n as u64, inner as u64);
    launch!(dev, Family::Reduce, kernel_name::<T>("max_axis"), dev.grid_1d(n_out as u64), x, &mut y, &o64, &n64, &i64);
    y
}

/// A `[outer, n, inner]` kernel of kernels/index.cu (slice_axis or pad_axis):
/// `dims` are its five size arguments in order, `n_out` its output size.
fn axis_op<T: GpuElem>(dev: &CudaDevice, op: &str, x: &CudaSlice<T>, dims: [usize; 5], n_out: usize) -> CudaSlice<T> {
    let mut y = dev.alloc::<T>(n_out);
    if n_out == 0 {
        return y;
    }
    let [a, b, c, d, e] = dims.map(|v| v as u64);
    launch!(dev, Family::Index, kernel_name::<T>(op), dev.grid_1d(n_out as u64), x, &mut y, &a, &b, &c, &d, &e);
    y
}

fn gather_rows<T: GpuElem>(dev: &CudaDevice, x: &CudaSlice<T>, inner: usize, indices: &[usize]) -> CudaSlice<T> {
    let n_out = indices.len() * inner;
    let mut y = dev.alloc::<T>(n_out);
    if n_out == 0 {
        return y;
    }
    let idx = dev.indices(IndexKind::Gather, 0, indices, || layout::to_u32(indices));
    let (rows, inner) = (indices.len() as u64, inner as u64);
    launch!(dev, Family::Index, kernel_name::<T>("gather_rows"), dev.grid_1d(n_out as u64), x, &mut y, &*idx, &rows, &inner);
    y
}

fn scatter_add_rows<T: GpuElem>(dev: &CudaDevice, x: &CudaSlice<T>, inner: usize, indices: &[usize], rows: usize) -> CudaSlice<T> {
    let n_out = rows * inner;
    let mut y = dev.alloc::<T>(n_out);
    if n_out == 0 {
        return y;
    }
    let csr = dev.indices(IndexKind::Scatter, rows, indices, || layout::scatter_csr(indices, rows));
    let (r, i) = (rows as u64, inner as u64);
    launch!(dev, Family::Index, kernel_name::<T>("scatter_add_rows"), dev.grid_1d(n_out as u64), x, &mut y, &*csr, &r, &i);
    y
}

fn one_hot<T: GpuElem>(dev: &CudaDevice, rows: usize, cols: usize, hot: &[usize]) -> CudaSlice<T> {
    let n = rows * cols;
    let mut y = dev.alloc::<T>(n);
    if n == 0 {
        return y;
    }
    let idx = dev.indices(IndexKind::OneHot, 0, hot, || layout::to_u32(hot));
    let (r, c) = (rows as u64, cols as u64);
    launch!(dev, Family::Index, kernel_name::<T>("one_hot"), dev.grid_1d(n as u64), &mut y, &*idx, &r, &c);
    y
}

/// One fused Adam pass; returns (p', m', v').
fn adam<T: GpuElem>(dev: &CudaDevice, p: &CudaSlice<T>, g: &CudaSlice<T>, m: &CudaSlice<T>, v: &CudaSlice<T>, n: usize, h: AdamStep) -> [CudaSlice<T>; 3] {
    let (mut po, mut mo, mut vo) = (dev.alloc::<T>(n), dev.alloc::<T>(n), dev.alloc::<T>(n));
    if n > 0 {
        let c = T::from_f64;
        let (b1, b2, nb1, nb2) = (c(h.beta1), c(h.beta2), c(1.0 - h.beta1), c(1.0 - h.beta2));
        let (step, inv_c2, eps) = (c(h.lr / h.correction1), c(1.0 / h.correction2), c(h.eps));
        let n64 = n as u64;
        launch!(dev, Family::Adam, kernel_name::<T>("adam"), dev.grid_1d(n64), p, g, m, v, &mut po, &mut mo, &mut vo, &n64, &b1, &b2, &nb1, &nb2, &step, &inv_c2, &eps);
    }
    [po, mo, vo]
}

fn normal<T: GpuElem>(dev: &CudaDevice, len: usize, seed: u64) -> CudaSlice<T> {
    let mut y = dev.alloc::<T>(len);
    if len > 0 {
        let (n, key) = (len as u64, counter_rng::mix(seed));
        launch!(dev, Family::Random, kernel_name::<T>("normal"), dev.grid_1d(n), &mut y, &n, &key);
    }
    y
}

fn sample_rows<T: GpuElem>(dev: &CudaDevice, x: &CudaSlice<T>, inner: usize, rows: usize, count: usize, seed: u64) -> CudaSlice<T> {
    let n_out = count * inner;
    let mut y = dev.alloc::<T>(n_out);
    if n_out > 0 {
        let (c, r, i, key) = (count as u64, rows as u64, inner as u64, counter_rng::mix(seed));
        launch!(dev, Family::Random, kernel_name::<T>("sample_rows"), dev.grid_1d(n_out as u64), x, &mut y, &c, &r, &i, &key);
    }
    y
}

fn full<T: GpuElem>(dev: &CudaDevice, len: usize, value: f64) -> CudaSlice<T> {
    let mut y = dev.alloc::<T>(len);
    if len > 0 {
        dev.fill(&mut y, len, T::from_f64(value));
    }
    y
}

fn cast<S: GpuElem, D: GpuElem>(dev: &CudaDevice, x: &CudaSlice<S>, n: usize) -> CudaSlice<D> {
    let mut y = dev.alloc::<D>(n);
    if n == 0 {
        return y;
    }
    let n64 = n as u64;
    let name = format!("cast_{}_to_{}", S::NAME, D::NAME);
    launch!(dev, Family::Cast, name, dev.grid_1d(n64), x, &mut y, &n64);
    y
}

impl BackendStorage for CudaStorage {
    fn dtype(&self) -> DType {
        match self.buf {
            Buf::F32(_) => DType::F32,
            Buf::F64(_) => DType::F64,
        }
    }
    fn device(&self) -> Device {
        Device::Cuda(self.dev.ordinal)
    }
    fn len(&self) -> usize {
        self.len
    }
    fn to_dtype(&self, dtype: DType) -> Self {
        let (dev, n) = (&*self.dev, self.len);
        let buf = match (&self.buf, dtype) {
            (Buf::F32(x), DType::F64) => Buf::F64(Arc::new(cast::<f32, f64>(dev, x, n))),
            (Buf::F64(x), DType::F32) => Buf::F32(Arc::new(cast::<f64, f32>(dev, x, n))),
            _ => return self.clone(),
        };
        self.with(buf, n)
    }
    fn to_f64_vec(&self) -> Vec<f64> {
        match &self.buf {
            Buf::F32(s) => download(&self.dev, s, self.len).into_iter().map(f64::from).collect(),
            Buf::F64(s) => download(&self.dev, s, self.len),
        }
    }
    fn full(&self, len: usize, value: f64, dtype: DType) -> Self {
        let buf = match dtype {
            DType::F32 => Buf::F32(Arc::new(full::<f32>(&self.dev, len, value))),
            DType::F64 => Buf::F64(Arc::new(full::<f64>(&self.dev, len, value))),
        };
        self.with(buf, len)
    }
    fn constant(&self, values: &[f64], dtype: DType) -> Self {
        self.with(constant(&self.dev, values, dtype), values.len())
    }
    fn adam_update(&self, grad: &mut Self, m: &mut Self, v: &mut Self, h: AdamStep) {
        for (name, other) in [("grad", &*grad), ("m", &*m), ("v", &*v)] {
            self.check_same_device(other, "adam_update");
            assert_eq!(other.len, self.len, "adam_update: {name} has {} values, the parameter {}", other.len, self.len);
        }
        let n = self.len;
        let wrap = |b: Buf| self.with(b, n);
        // The kernel writes three new buffers; they replace the spent ones.
        let [p_new, m_new, v_new] = match (&self.buf, &grad.buf, &m.buf, &v.buf) {
            (Buf::F32(p), Buf::F32(g), Buf::F32(m), Buf::F32(v)) => adam(&self.dev, p, g, m, v, n, h).map(|b| Buf::F32(Arc::new(b))),
            (Buf::F64(p), Buf::F64(g), Buf::F64(m), Buf::F64(v)) => adam(&self.dev, p, g, m, v, n, h).map(|b| Buf::F64(Arc::new(b))),
            _ => panic!("adam_update: dtypes differ"),
        };
        (*grad, *m, *v) = (wrap(p_new), wrap(m_new), wrap(v_new));
    }
    fn normal(&self, len: usize, seed: u64, dtype: DType) -> Self {
        let buf = match dtype {
            DType::F32 => Buf::F32(Arc::new(normal::<f32>(&self.dev, len, seed))),
            DType::F64 => Buf::F64(Arc::new(normal::<f64>(&self.dev, len, seed))),
        };
        self.with(buf, len)
    }
    fn one_hot(&self, rows: usize, cols: usize, hot: &[usize], dtype: DType) -> Self {
        let buf = match dtype {
            DType::F32 => Buf::F32(Arc::new(one_hot::<f32>(&self.dev, rows, cols, hot))),
            DType::F64 => Buf::F64(Arc::new(one_hot::<f64>(&self.dev, rows, cols, hot))),
        };
        self.with(buf, rows * cols)
    }
    fn unary(&self, op: Unary) -> Self {
        self.with(typed!(self, x => unary(&self.dev, x, self.len, op)), self.len)
    }
    fn binary(&self, rhs: &Self, op: Binary) -> Self {
        self.check_same_device(rhs, "binary op");
        assert_eq!(self.len, rhs.len, "binary kernel: buffer lengths differ");
        self.with(typed2!(self, rhs, "binary op", (a, b) => binary(&self.dev, a, b, self.len, op)), self.len)
    }
    fn select(&self, on_true: &Self, on_false: &Self) -> Self {
        self.check_same_device(on_true, "where");
        self.check_same_device(on_false, "where");
        assert!(self.len == on_true.len && self.len == on_false.len, "where kernel: buffer lengths differ");
        let buf = match (&self.buf, &on_true.buf, &on_false.buf) {
            (Buf::F32(c), Buf::F32(a), Buf::F32(b)) => Buf::F32(Arc::new(select(&self.dev, c, a, b, self.len))),
            (Buf::F64(c), Buf::F64(a), Buf::F64(b)) => Buf::F64(Arc::new(select(&self.dev, c, a, b, self.len))),
            _ => panic!("where: dtypes differ"),
        };
        self.with(buf, self.len)
    }
    fn matmul(&self, rhs: &Self, m: usize, k: usize, n: usize, ta: bool, tb: bool) -> Self {
        self.check_same_device(rhs, "matmul");
        assert!(self.len == m * k && rhs.len == k * n, "matmul: buffers of {} and {} for {m}×{k}·{k}×{n}", self.len, rhs.len);
        self.with(typed2!(self, rhs, "matmul", (a, b) => matmul(&self.dev, a, b, m, k, n, ta, tb)), m * n)
    }
    fn transpose(&self, rows: usize, cols: usize) -> Self {
        self.with(typed!(self, x => transpose(&self.dev, x, rows, cols)), rows * cols)
    }
    fn permute(&self, dims: &[usize], axes: &[usize]) -> Self {
        self.with(typed!(self, x => permute(&self.dev, x, dims, axes)), self.len)
    }
    fn broadcast_to(&self, from: &Shape, to: &Shape) -> Self {
        let pattern = layout::pattern(from, to);
        if pattern == Pattern::Copy {
            return self.clone();
        }
        let n = to.numel();
        self.with(typed!(self, x => broadcast(&self.dev, x, n, &pattern)), n)
    }
    fn sum_to(&self, from: &Shape, to: &Shape) -> Self {
        let pattern = layout::pattern(to, from);
        if pattern == Pattern::Copy {
            return self.clone();
        }
        let n_out = to.numel();
        self.with(typed!(self, x => sum_to(&self.dev, x, self.len, n_out, &pattern)), n_out)
    }
    fn max_axis(&self, outer: usize, n: usize, inner: usize) -> Self {
        self.with(typed!(self, x => max_axis(&self.dev, x, outer, n, inner)), outer * inner)
    }
    fn slice_axis(&self, outer: usize, n: usize, inner: usize, start: usize, len: usize) -> Self {
        let n_out = outer * len * inner;
        self.with(typed!(self, x => axis_op(&self.dev, "slice_axis", x, [outer, n, inner, start, len], n_out)), n_out)
    }
    fn pad_axis(&self, outer: usize, len: usize, inner: usize, start: usize, n: usize) -> Self {
        let n_out = outer * n * inner;
        self.with(typed!(self, x => axis_op(&self.dev, "pad_axis", x, [outer, len, inner, start, n], n_out)), n_out)
    }
    fn gather_rows(&self, inner: usize, indices: &[usize]) -> Self {
        self.with(typed!(self, x => gather_rows(&self.dev, x, inner, indices)), indices.len() * inner)
    }
    fn scatter_add_rows(&self, inner: usize, indices: &[usize], rows: usize) -> Self {
        self.with(typed!(self, x => scatter_add_rows(&self.dev, x, inner, indices, rows)), rows * inner)
    }
    fn sample_rows(&self, inner: usize, rows: usize, count: usize, seed: u64) -> Self {
        self.with(typed!(self, x => sample_rows(&self.dev, x, inner, rows, count, seed)), count * inner)
    }
}
