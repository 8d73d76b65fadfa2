//! The CPU matmul: BLIS-style packed GEMM with register-blocked microkernels
//! chosen at run time for the CPU it runs on (AVX-512, AVX2+FMA, NEON on
//! aarch64, or portable Rust), split across rayon's threads.
//!
//! Loop nest, for one thread's block of `C` (`C = A·B`, `C` row-major):
//!
//! ```text
//! for each NC-wide column block of B            (B block kept in L2)
//!   for each KC-deep step block                 (sums over k, in order)
//!     pack B[KC × NC] into NR-wide panels
//!     for each MC-row block of A: pack A[MC × KC] into MR-row panels
//!       for each MR-row panel of A                (kept in L1)
//!         for each NR-wide panel of B: microkernel  (MR × NR tile in registers)
//! ```
//!
//! A block's last, partial panel of `B` runs a kernel only as many vectors
//! wide as it needs; an edge tile goes through a scratch tile. The output is
//! a recycled buffer (`buffer_pool`), not zeroed: the first step block stores
//! every value of it.
//!
//! Determinism: every element of `C` is the sum of the same products in the
//! same order (KC blocks in turn, each summed from zero by the microkernel,
//! the first stored, the others added to `C`) however the work is split
//! between threads, because the step blocks depend only on `k` and the
//! instruction set. So results are the same bits run to run and on any number
//! of threads. The fused kernels (AVX-512, AVX2, NEON) also give the same bits
//! as each other: their tiles differ, but every one sums an element's products
//! in step blocks of the same depth, each from zero by fused multiply-adds
//! (`tests.rs` compares those the CPU has). The portable kernel rounds each
//! product before adding it, so its last bits differ.

#[cfg(target_arch = "aarch64")]
mod neon;
mod pack;
mod portable;
#[cfg(target_arch = "x86_64")]
mod pack_avx512;
#[cfg(target_arch = "x86_64")]
mod x86;

use std::cell::RefCell;
use std::sync::OnceLock;

use ndarray::{ArrayView2, Axis, ShapeBuilder};
use rayon::prelude::*;

use super::buffer_pool::{self, Pooled};
use super::BatchedMatmul;

/// The instruction sets the microkernels are written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// AVX-512F on x86-64: 16 f32 lanes per register.
    Avx512,
    /// AVX2 with FMA on x86-64: 8 f32 lanes.
    Avx2,
    /// NEON (Advanced SIMD) on aarch64: 4 f32 lanes.
    Neon,
    /// Plain Rust that the compiler vectorises for the baseline target.
    Portable,
}

/// Environment variable that forces an instruction set (`avx512`, `avx2`,
/// `neon`, `portable`), read once per process: for benchmarks and comparisons.
pub const ISA_VAR: &str = "GRADGRAD_MATMUL_ISA";

impl Isa {
    /// Every instruction set, widest first.
    pub const ALL: [Isa; 4] = [Isa::Avx512, Isa::Avx2, Isa::Neon, Isa::Portable];

    /// The name `GRADGRAD_MATMUL_ISA` takes.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Avx512 => "avx512",
            Isa::Avx2 => "avx2",
            Isa::Neon => "neon",
            Isa::Portable => "portable",
        }
    }

    /// Whether this CPU can run the kernels.
    pub fn is_supported(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => is_x86_feature_detected!("avx512f"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => std::arch::is_aarch64_feature_detected!("neon"),
            Isa::Portable => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// The instruction set matmul uses: the widest this CPU supports, unless
    /// [`ISA_VAR`] names another.
    pub fn selected() -> Isa {
        static SELECTED: OnceLock<Isa> = OnceLock::new();
        *SELECTED.get_or_init(|| match std::env::var(ISA_VAR) {
            Ok(name) => {
                let isa = Isa::ALL.into_iter().find(|isa| isa.name() == name).unwrap_or_else(|| {
                    panic!("{ISA_VAR}={name}: expected one of avx512, avx2, neon, portable")
                });
                assert!(isa.is_supported(), "{ISA_VAR}={name}: this CPU cannot run the {name} kernels");
                isa
            }
            Err(_) => Isa::ALL.into_iter().find(|isa| isa.is_supported()).unwrap_or(Isa::Portable),
        })
    }
}

/// A microkernel with its tile and cache-block sizes.
pub struct Tile<T: 'static> {
    /// Rows of `C` per tile (lanes of a packed `A` panel).
    mr: usize,
    /// Columns of `C` per tile (lanes of a packed `B` panel).
    nr: usize,
    /// Largest step block along `k`.
    kc: usize,
    /// Largest row block of `A` packed at once.
    mc: usize,
    /// Largest column block of `B` packed at once.
    nc: usize,
    /// The microkernel, `C[MR×NR] += A·B`.
    kernel: Kernel<T>,
    /// Kernels for the last, narrower panel of a block: `narrow[v]` computes
    /// only the first `v + 1` vectors of `lanes` columns of a tile, the same
    /// sums as `kernel` there, instead of a whole tile of which most is zeros
    /// past the edge (a sixth of a 256-wide product on AVX-512's 48 columns).
    narrow: &'static [Kernel<T>],
    /// Columns per vector register.
    lanes: usize,
}

/// `(kc, a, b, b_step, c, ldc, overwrite)`: see `x86.rs`.
type Kernel<T> = unsafe fn(usize, *const T, *const T, usize, *mut T, usize, bool);

/// Largest `mr·nr` of any tile: the scratch tile for edges.
const MAX_TILE: usize = 8 * 48;

/// An element type with microkernels, and its per-thread packing buffers.
pub trait GemmElement: Pooled + 'static {
    /// The kernel for `isa`, which the CPU must support.
    fn tile(isa: Isa) -> Tile<Self>;
    /// Runs `f` on this thread's packing buffers for `A` and `B`.
    fn with_pack_buffers<R>(f: impl FnOnce(&mut Vec<Self>, &mut Vec<Self>) -> R) -> R;
}

macro_rules! gemm_element {
    ($t:ty, $buffers:ident, avx512 = [$($avx512:ident),+], avx2 = [$($avx2:ident),+], neon = [$($neon:ident),+],
     f32_blocks = $f32:expr) => {
        thread_local! {
            static $buffers: RefCell<(Vec<$t>, Vec<$t>)> = const { RefCell::new((Vec::new(), Vec::new())) };
        }
        impl GemmElement for $t {
            fn tile(isa: Isa) -> Tile<$t> {
                assert!(isa.is_supported(), "matmul: this CPU cannot run the {} kernels", isa.name());
                // Block sizes in elements; f64 blocks hold as many bytes as f32's.
                let (kc, mc, nc) = if $f32 { (384, 96, 512) } else { (384, 48, 256) };
                let size = std::mem::size_of::<$t>();
                // The widest kernel last, the narrower ones before it.
                let tile = |mr, lanes, kernels: &'static [Kernel<$t>], (kc, mc, nc)| {
                    let (narrow, kernel) = kernels.split_at(kernels.len() - 1);
                    Tile { mr, nr: kernels.len() * lanes, kc, mc, nc, kernel: kernel[0], narrow, lanes }
                };
                match isa {
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx512 => tile(8, 64 / size, &[$(x86::$avx512),+], (kc, mc, nc)),
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx2 => tile(6, 32 / size, &[$(x86::$avx2),+], (kc, mc, nc)),
                    #[cfg(target_arch = "aarch64")]
                    Isa::Neon => tile(neon::MR, 16 / size, &[$(neon::$neon),+], (kc, mc, nc)),
                    _ => tile(portable::MR, portable::NR, &[portable::tile::<$t>], (256, 64, 512)),
                }
            }
            fn with_pack_buffers<R>(f: impl FnOnce(&mut Vec<$t>, &mut Vec<$t>) -> R) -> R {
                $buffers.with(|cell| {
                    let (a, b) = &mut *cell.borrow_mut();
                    f(a, b)
                })
            }
        }
    };
}
gemm_element!(f32, PACK_F32, avx512 = [avx512_f32_1, avx512_f32_2, avx512_f32], avx2 = [avx2_f32_1, avx2_f32],
    neon = [neon_f32_1, neon_f32_2, neon_f32], f32_blocks = true);
gemm_element!(f64, PACK_F64, avx512 = [avx512_f64_1, avx512_f64_2, avx512_f64], avx2 = [avx2_f64_1, avx2_f64],
    neon = [neon_f64_1, neon_f64_2, neon_f64], f32_blocks = false);

/// `op(buf)` as an `rows×cols` matrix view: a transposed operand is a strided
/// view of its `cols×rows` storage, not a copy (packing reads any strides).
fn matrix_view<T>(buf: &[T], rows: usize, cols: usize, trans: bool) -> ArrayView2<'_, T> {
    if trans {
        ArrayView2::from_shape((rows, cols).strides((1, rows)), buf)
    } else {
        ArrayView2::from_shape((rows, cols), buf)
    }
    .expect("matmul: operand buffer does not match its shape")
}

/// `op(a)·op(b)` for row-major `op(a)`: `m×k`, `op(b)`: `k×n`, on the
/// selected instruction set.
pub fn matmul<T: GemmElement>(a: &[T], b: &[T], m: usize, k: usize, n: usize, ta: bool, tb: bool) -> Vec<T> {
    matmul_on(Isa::selected(), a, b, m, k, n, ta, tb)
}

/// [`matmul`] on the kernels for `isa`.
#[allow(clippy::too_many_arguments)]
pub fn matmul_on<T: GemmElement>(isa: Isa, a: &[T], b: &[T], m: usize, k: usize, n: usize, ta: bool, tb: bool) -> Vec<T> {
    let tile = T::tile(isa);
    if m * n == 0 || k == 0 {
        return buffer_pool::zeroed(m * n); // an empty sum is zero
    }
    // A recycled buffer with stale values: the first step block stores every value.
    let mut out = buffer_pool::take(m * n);
    let c = OutBlock { ptr: out.as_mut_ptr(), rows: m, cols: n, ld: n };
    let pieces = rayon::current_num_threads().next_power_of_two();
    gemm_split(&tile, matrix_view(a, m, k, ta), matrix_view(b, k, n, tb), c, pieces);
    out
}

/// A batch of products (see [`BatchedMatmul`]). When the `a` matrices stack
/// into one `[batch·m, k]` matrix against a shared `b`, that is one big GEMM
/// (the batched-cotangent backward pass through a layer); otherwise rayon
/// runs the products side by side, or, for a batch smaller than the thread
/// count, one after the other, each split across the threads.
pub fn batched_matmul<T: GemmElement>(a: &[T], b: &[T], dims: BatchedMatmul) -> Vec<T> {
    batched_matmul_on(Isa::selected(), a, b, dims)
}

/// [`batched_matmul`] on the kernels for `isa`.
pub fn batched_matmul_on<T: GemmElement>(isa: Isa, a: &[T], b: &[T], dims: BatchedMatmul) -> Vec<T> {
    let BatchedMatmul { batch, a_count, b_count, m, k, n, trans_a, trans_b } = dims;
    if let Some(rows) = dims.stacked_rows() {
        return matmul_on(isa, a, b, rows, k, n, trans_a, trans_b);
    }
    if batch * m * n == 0 || k == 0 {
        return buffer_pool::zeroed(batch * m * n);
    }
    let mut out = buffer_pool::take(batch * m * n);
    let tile = T::tile(isa);
    let threads = rayon::current_num_threads();
    let product = |pieces: usize| {
        let tile = &tile;
        move |(p, c): (usize, &mut [T])| {
            let ap = &a[(p % a_count) * m * k..][..m * k];
            let bp = &b[(p % b_count) * k * n..][..k * n];
            let c = OutBlock { ptr: c.as_mut_ptr(), rows: m, cols: n, ld: n };
            gemm_split(tile, matrix_view(ap, m, k, trans_a), matrix_view(bp, k, n, trans_b), c, pieces);
        }
    };
    if batch >= threads {
        out.par_chunks_mut(m * n).enumerate().for_each(product(1));
    } else {
        out.chunks_mut(m * n).enumerate().for_each(product(threads.next_power_of_two()));
    }
    out
}

/// The block of the output one task writes: `rows×cols` values, row `i` from
/// `ptr + i·ld`. A raw pointer, not a view, so that split blocks can go to
/// rayon's tasks. The output is never zeroed first (zeroing it cost 7% of a
/// 128-deep product): the first step block stores every value.
#[derive(Clone, Copy)]
struct OutBlock<T> {
    ptr: *mut T,
    rows: usize,
    cols: usize,
    ld: usize,
}

// SAFETY: the tasks that share one output get disjoint blocks of it.
unsafe impl<T: Send> Send for OutBlock<T> {}

impl<T> OutBlock<T> {
    /// Rows `..mid` and `mid..`.
    fn split_rows(self, mid: usize) -> (Self, Self) {
        let rest = Self { ptr: self.ptr.wrapping_add(mid * self.ld), rows: self.rows - mid, ..self };
        (Self { rows: mid, ..self }, rest)
    }

    /// Columns `..mid` and `mid..`.
    fn split_cols(self, mid: usize) -> (Self, Self) {
        let rest = Self { ptr: self.ptr.wrapping_add(mid), cols: self.cols - mid, ..self };
        (Self { cols: mid, ..self }, rest)
    }
}

/// Products smaller than this run on one thread: splitting costs more.
const PAR_MATMUL_FLOPS: usize = 1 << 21;

/// `c = a·b`, split into `pieces` blocks that rayon runs in parallel: each
/// split halves the rows or the columns, whichever leaves the cheaper larger
/// half (see [`serial_cost`]). Parallelism comes from rayon alone, so the
/// matmul never competes with a second thread pool for the cores.
fn gemm_split<T: GemmElement>(tile: &Tile<T>, a: ArrayView2<T>, b: ArrayView2<T>, c: OutBlock<T>, pieces: usize) {
    let ((m, k), n) = (a.dim(), b.dim().1);
    let (row_tiles, col_tiles) = (m.div_ceil(tile.mr), n.div_ceil(tile.nr));
    if pieces <= 1 || m * n * k < PAR_MATMUL_FLOPS || row_tiles.max(col_tiles) < 2 {
        gemm_serial(tile, a, b, c);
        return;
    }
    let row_mid = row_tiles.div_ceil(2) * tile.mr;
    let col_mid = col_tiles.div_ceil(2) * tile.nr;
    let by_rows_cost = serial_cost(tile, row_mid, k, n);
    let by_cols_cost = serial_cost(tile, m, k, col_mid);
    // Ties go to the longer side, whose halves repack the smaller operand.
    let by_rows = col_tiles < 2 || (row_tiles >= 2 && (by_rows_cost, n) <= (by_cols_cost, m));
    if by_rows {
        let (a0, a1) = a.split_at(Axis(0), row_mid);
        let (c0, c1) = c.split_rows(row_mid);
        rayon::join(move || gemm_split(tile, a0, b, c0, pieces / 2), move || gemm_split(tile, a1, b, c1, pieces / 2));
    } else {
        let (b0, b1) = b.split_at(Axis(1), col_mid);
        let (c0, c1) = c.split_cols(col_mid);
        rayon::join(move || gemm_split(tile, a, b0, c0, pieces / 2), move || gemm_split(tile, a, b1, c1, pieces / 2));
    }
}

/// Multiply-adds that packing one element costs about as much time as
/// (AVX-512: half a cycle a value against 32 multiply-adds a cycle).
const PACK_COST: usize = 16;

/// What [`gemm_serial`] spends on an `m×k·k×n` block, in multiply-adds: its
/// tiles (edge tiles cost whole ones), and packing `A` once per column block
/// and `B` once. Each half of a row split packs all of `B`, each half of a
/// column split all of `A`, so this is what tells a split that shares the
/// packing of the larger operand from one that doubles it.
fn serial_cost<T: 'static>(tile: &Tile<T>, m: usize, k: usize, n: usize) -> usize {
    let tiles = m.div_ceil(tile.mr) * n.div_ceil(tile.nr) * tile.mr * tile.nr * k;
    let a_packed = m * k * n.div_ceil(tile.nc);
    let b_packed = k * n;
    tiles + PACK_COST * (a_packed + b_packed)
}

/// `len` cut into equal blocks of at most about `max`, each a multiple of `unit`.
fn block_size(len: usize, max: usize, unit: usize) -> usize {
    len.div_ceil(len.div_ceil(max)).next_multiple_of(unit)
}

fn strides<T>(v: &ArrayView2<T>) -> (usize, usize) {
    let s = v.strides();
    (s[0] as usize, s[1] as usize)
}

/// `c = a·b` on this thread (see the module doc for the loop nest).
fn gemm_serial<T: GemmElement>(tile: &Tile<T>, a: ArrayView2<T>, b: ArrayView2<T>, c: OutBlock<T>) {
    let ((m, k), n) = (a.dim(), b.dim().1);
    debug_assert!((c.rows, c.cols) == (m, n));
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    let Tile { mr, nr, kernel, .. } = *tile;
    let (kc, mc, nc) = (block_size(k, tile.kc, 1), block_size(m, tile.mc, mr), block_size(n, tile.nc, nr));
    let ((a_rs, a_cs), (b_rs, b_cs)) = (strides(&a), strides(&b));
    let (a_ptr, b_ptr, c_ptr, ldc) = (a.as_ptr(), b.as_ptr(), c.ptr, c.ld);
    T::with_pack_buffers(|a_pack, b_pack| {
        a_pack.resize(kc * mc, T::zero());
        b_pack.resize(kc * nc, T::zero());
        for j0 in (0..n).step_by(nc) {
            let cols = nc.min(n - j0);
            for p0 in (0..k).step_by(kc) {
                let depth = kc.min(k - p0);
                let overwrite = p0 == 0;
                // B is always packed, even for a few rows of A: reading a
                // row-major B in place was at best even with packing it since
                // packing went to register transposes and block-row copies, and
                // 0.7–0.8× its speed where B's rows lie a multiple of 4 KiB
                // apart (they then share a few cache sets).
                // SAFETY: steps p0..p0+depth and columns j0..j0+cols are inside `b`.
                unsafe { pack::pack_block(b_ptr.add(p0 * b_rs + j0 * b_cs), b_cs, b_rs, cols, nr, depth, b_pack) };
                for i0 in (0..m).step_by(mc) {
                    let rows = mc.min(m - i0);
                    // SAFETY: rows i0..i0+rows and steps p0..p0+depth are inside `a`.
                    unsafe { pack::pack_block(a_ptr.add(i0 * a_rs + p0 * a_cs), a_rs, a_cs, rows, mr, depth, a_pack) };
                    for ir in (0..rows).step_by(mr) {
                        let a_panel = a_pack[ir * depth..].as_ptr();
                        for jr in (0..cols).step_by(nr) {
                            let (b_panel, b_step) = (b_pack[jr * depth..].as_ptr(), nr);
                            let (tile_rows, tile_cols) = (mr.min(rows - ir), nr.min(cols - jr));
                            // SAFETY: the packed panels hold depth·mr and depth·nr values; a
                            // full tile lies inside `c`, an edge tile goes through scratch.
                            unsafe {
                                let c_tile = c_ptr.add((i0 + ir) * ldc + j0 + jr);
                                if tile_rows == mr && tile_cols == nr {
                                    kernel(depth, a_panel, b_panel, b_step, c_tile, ldc, overwrite);
                                } else {
                                    let mut scratch = [T::zero(); MAX_TILE];
                                    let kernel = tile.narrow.get(tile_cols.div_ceil(tile.lanes) - 1).unwrap_or(&kernel);
                                    kernel(depth, a_panel, b_panel, b_step, scratch.as_mut_ptr(), nr, true);
                                    for r in 0..tile_rows {
                                        for l in 0..tile_cols {
                                            let cp = c_tile.add(r * ldc + l);
                                            let sum = scratch[r * nr + l];
                                            *cp = if overwrite { sum } else { *cp + sum };
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests;
