//! Host-side planning for the kernels, kept free of CUDA so it is unit-tested
//! on any machine: how a broadcast or a sum maps onto a fast path, how a
//! matrix product is tiled and split, and the CSR form of a scatter.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::shape::Shape;

/// Axes a kernel can address after merging; kernels/reduce.cu has the same bound.
pub(crate) const MAX_RANK: usize = 8;

/// Merged axes for `broadcast_strided_*` and `sum_strided_*`: sizes, and the
/// stride of each in the buffer being read (0 for a broadcast axis).
/// Mirrors `struct Layout` in kernels/reduce.cu, and is passed by value.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Layout {
    pub rank: u64,
    pub dims: [u64; MAX_RANK],
    pub strides: [u64; MAX_RANK],
}

// SAFETY: plain old data with the C layout of `struct Layout` in kernels/reduce.cu.
unsafe impl cudarc::driver::DeviceRepr for Layout {}

impl Layout {
    fn new(axes: &[(usize, usize)]) -> Layout {
        assert!(axes.len() <= MAX_RANK, "cuda: a broadcast or sum over {} alternating axes (at most {MAX_RANK})", axes.len());
        let mut l = Layout { rank: axes.len() as u64, ..Layout::default() };
        for (i, &(dim, stride)) in axes.iter().enumerate() {
            l.dims[i] = dim as u64;
            l.strides[i] = stride as u64;
        }
        l
    }
}

/// How a broadcast from `small` to `big` (or a sum from `big` down to `small`)
/// runs, after merging adjacent axes of the same kind and dropping size-1 axes.
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // one short-lived value per call
pub(crate) enum Pattern {
    /// Nothing is repeated: the buffers are the same values.
    Copy,
    /// `small` is one element.
    Scalar,
    /// `big` is `[r, c]` and `small` is `[c]`: a bias row over a batch.
    Rows { r: usize, c: usize },
    /// `big` is `[r, c]` and `small` is `[r, 1]`: one value per row.
    Cols { r: usize, c: usize },
    /// Anything else. For a broadcast: `big`'s axes with strides into `small`
    /// (`kept` only). For a sum: `small`'s axes (`kept`) and the summed axes
    /// (`reduced`), both with strides into `big`.
    Strided { kept: Layout, reduced: Layout, n_reduced: usize, broadcast: Layout },
}

/// `small` must broadcast to `big` (the ops check this before calling the backend).
pub(crate) fn pattern(small: &Shape, big: &Shape) -> Pattern {
    let pad = big.rank() - small.rank();
    // (size, repeated?) per merged axis, outermost first.
    let mut axes: Vec<(usize, bool)> = Vec::new();
    for a in 0..big.rank() {
        let db = big.dim(a);
        let ds = if a < pad { 1 } else { small.dim(a - pad) };
        if db == 1 {
            continue;
        }
        let repeated = ds == 1;
        match axes.last_mut() {
            Some((size, r)) if *r == repeated => *size *= db,
            _ => axes.push((db, repeated)),
        }
    }
    match axes.as_slice() {
        [] | [(_, false)] => Pattern::Copy,
        [(_, true)] => Pattern::Scalar,
        [(r, true), (c, false)] => Pattern::Rows { r: *r, c: *c },
        [(r, false), (c, true)] => Pattern::Cols { r: *r, c: *c },
        _ => {
            // Strides into `big` (every axis) and into `small` (kept axes only).
            let mut big_strides = vec![0; axes.len()];
            let mut small_strides = vec![0; axes.len()];
            let (mut sb, mut ss) = (1, 1);
            for i in (0..axes.len()).rev() {
                let (size, repeated) = axes[i];
                big_strides[i] = sb;
                sb *= size;
                if !repeated {
                    small_strides[i] = ss;
                    ss *= size;
                }
            }
            let pick = |want_repeated: bool| -> Vec<(usize, usize)> {
                axes.iter().zip(&big_strides).filter(|((_, r), _)| *r == want_repeated).map(|((s, _), &st)| (*s, st)).collect()
            };
            let kept = Layout::new(&pick(false));
            let reduced_axes = pick(true);
            let n_reduced = reduced_axes.iter().map(|a| a.0).product();
            let broadcast = Layout::new(&axes.iter().zip(&small_strides).map(|((s, _), &st)| (*s, st)).collect::<Vec<_>>());
            Pattern::Strided { kept, reduced: Layout::new(&reduced_axes), n_reduced, broadcast }
        }
    }
}

/// The gather that permutes the axes of a buffer of shape `dims` (axis `i` of
/// the result is axis `axes[i]`), as a `broadcast_strided` layout: the output's
/// axes with their strides into the input. Size-1 axes are dropped and output
/// axes that stay contiguous in the input merged, so any rank that reorders at
/// most `MAX_RANK` blocks of axes fits.
pub(crate) fn permuted(dims: &[usize], axes: &[usize]) -> Layout {
    let mut in_strides = vec![1; dims.len()];
    for a in (0..dims.len().saturating_sub(1)).rev() {
        in_strides[a] = in_strides[a + 1] * dims[a + 1];
    }
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for &a in axes.iter().filter(|&&a| dims[a] != 1) {
        match merged.last_mut() {
            // The previous axis steps over exactly this one: one axis of their product.
            Some((size, stride)) if *stride == dims[a] * in_strides[a] => {
                *size *= dims[a];
                *stride = in_strides[a];
            }
            _ => merged.push((dims[a], in_strides[a])),
        }
    }
    Layout::new(&merged)
}

/// The kernels of kernels/matmul.cu that tile 128×128: `big` (the default)
/// and `biggrid`, the layout it replaced, which benches/gpu_bench.rs times
/// against it. They give identical bits, so the choice moves speed only.
pub const BIG_GEMM_VARIANTS: [&str; 2] = ["big", "biggrid"];

/// The index in [`BIG_GEMM_VARIANTS`] in use; `big` until a benchmark says otherwise.
static BIG_GEMM: AtomicUsize = AtomicUsize::new(0);

/// Which of [`BIG_GEMM_VARIANTS`] large f32 products use from now on, in this
/// process (a tuning knob for benchmarks). Panics on an unknown name.
pub fn set_big_gemm_variant(name: &str) {
    let i = BIG_GEMM_VARIANTS.iter().position(|v| *v == name).unwrap_or_else(|| panic!("set_big_gemm_variant: `{name}` is not one of {BIG_GEMM_VARIANTS:?}"));
    BIG_GEMM.store(i, Ordering::Relaxed);
}

/// The variant large f32 products use now.
pub fn big_gemm_variant() -> &'static str {
    BIG_GEMM_VARIANTS[BIG_GEMM.load(Ordering::Relaxed)]
}

/// The kernel family name for a plan: `small`, or the chosen big variant.
pub(crate) fn tiling_name(plan: &GemmPlan) -> &'static str {
    if plan.big {
        big_gemm_variant()
    } else {
        "small"
    }
}

/// How one matrix product is tiled: kernels/matmul.cu's big (128×128) or
/// small (64×64) tiles, and how many slices of K run in parallel (split-K)
/// when there are too few tiles to fill the multiprocessors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct GemmPlan {
    pub big: bool,
    pub splits: u32,
    /// K per split, a multiple of the kernels' BK (16).
    pub k_chunk: u32,
    pub grid: (u32, u32, u32),
}

const BK: usize = 16;

pub(crate) fn plan_gemm(m: usize, n: usize, k: usize, sm_count: usize, is_f64: bool) -> GemmPlan {
    let tiles = |t: usize| m.div_ceil(t) * n.div_ceil(t);
    // At most 16 splits, each at least `min_k` deep: enough work per block to
    // be worth the extra pass over the partial products.
    let max_splits = |min_k: usize| (k / min_k).clamp(1, 16);
    // Big tiles when they fill the GPU, alone or split over a long K (the
    // weight gradients of a big batch: 784×50176·50176×512).
    let big = !is_f64 && tiles(128) * max_splits(512) >= sm_count;
    let (tile, min_k) = if big { (128, 512) } else { (64, 64) };
    let blocks = tiles(tile).max(1);
    // Split only a product that leaves multiprocessors idle, into as many
    // slices as fill the resident slots in one wave (two big blocks fit on a
    // multiprocessor), never into a second wave.
    let slots = if big { 2 * sm_count } else { sm_count };
    let mut splits = if blocks >= sm_count { 1 } else { (slots / blocks).max(1).min(max_splits(min_k)) };
    let k_chunk = (k.div_ceil(splits)).div_ceil(BK).max(1) * BK;
    splits = k.div_ceil(k_chunk).max(1);
    let grid_y = m.div_ceil(tile).max(1);
    assert!(grid_y <= 65535, "cuda matmul: {m} rows exceed the grid ({} at most)", 65535 * tile);
    assert!(m < i32::MAX as usize && n < i32::MAX as usize && k < i32::MAX as usize, "cuda matmul: dimensions {m}×{k}·{k}×{n} too large");
    GemmPlan { big, splits: splits as u32, k_chunk: k_chunk as u32, grid: (n.div_ceil(tile).max(1) as u32, grid_y as u32, splits as u32) }
}

/// The inverse of a gather's index list, for `scatter_add_rows_*`: `rows + 1`
/// offsets, then for each output row the source rows that land on it, in
/// ascending order (the CPU backend's summation order).
pub(crate) fn scatter_csr(indices: &[usize], rows: usize) -> Vec<u32> {
    assert!(indices.len() < u32::MAX as usize, "cuda scatter_add_rows: too many rows");
    let mut counts = vec![0u32; rows + 1];
    for &i in indices {
        assert!(i < rows, "scatter_add_rows: index {i} out of range for {rows} rows");
        counts[i + 1] += 1;
    }
    for r in 0..rows {
        counts[r + 1] += counts[r];
    }
    let mut out = counts.clone();
    out.resize(rows + 1 + indices.len(), 0);
    let mut next = counts;
    for (s, &i) in indices.iter().enumerate() {
        out[rows + 1 + next[i] as usize] = s as u32;
        next[i] += 1;
    }
    out
}

/// Whether `v` is a multiple of 4: the 16-byte vector loads' condition.
#[allow(clippy::manual_is_multiple_of)] // `is_multiple_of` needs Rust 1.87; the workspace supports 1.80
pub(crate) fn multiple_of_4(v: usize) -> bool {
    v % 4 == 0
}

/// Index lists as the kernels read them (u32).
pub(crate) fn to_u32(indices: &[usize]) -> Vec<u32> {
    indices
        .iter()
        .map(|&i| u32::try_from(i).unwrap_or_else(|_| panic!("cuda: index {i} does not fit in 32 bits")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(d: &[usize]) -> Shape {
        Shape::new(d.to_vec())
    }

    #[test]
    fn common_broadcasts_take_the_fast_paths() {
        assert_eq!(pattern(&s(&[]), &s(&[5, 3])), Pattern::Scalar);
        assert_eq!(pattern(&s(&[1, 1]), &s(&[5, 3])), Pattern::Scalar);
        assert_eq!(pattern(&s(&[3]), &s(&[5, 3])), Pattern::Rows { r: 5, c: 3 });
        assert_eq!(pattern(&s(&[1, 3]), &s(&[2, 5, 3])), Pattern::Rows { r: 10, c: 3 });
        assert_eq!(pattern(&s(&[5, 1]), &s(&[5, 3])), Pattern::Cols { r: 5, c: 3 });
        assert_eq!(pattern(&s(&[5, 3]), &s(&[1, 5, 3])), Pattern::Copy);
        assert_eq!(pattern(&s(&[1]), &s(&[1])), Pattern::Copy);
        // Size-1 axes of the big shape vanish: [7, 1, 3] <- [3] is rows of 3.
        assert_eq!(pattern(&s(&[3]), &s(&[7, 1, 3])), Pattern::Rows { r: 7, c: 3 });
    }

    /// A permutation's layout, replayed on the host as reduce.cu's strided
    /// gather does, gives the CPU backend's permute; axes that stay together merge.
    #[test]
    fn permuted_layouts_gather_what_the_cpu_permute_gives() {
        use crate::backend::{BackendStorage, CpuStorage};
        let cases: &[(&[usize], &[usize], u64)] = &[
            (&[2, 3, 4], &[0, 1, 2], 1),
            (&[2, 3, 4], &[2, 0, 1], 2),
            (&[2, 3, 4, 5], &[2, 3, 0, 1], 2),
            (&[3, 1, 4], &[2, 1, 0], 2),
            (&[2, 3, 4, 5], &[3, 1, 2, 0], 3),
            (&[2, 3, 4, 5], &[3, 2, 1, 0], 4),
            (&[7], &[0], 1),
            (&[1, 1], &[1, 0], 0),
        ];
        for &(dims, axes, rank) in cases {
            let n: usize = dims.iter().product();
            let x: Vec<f64> = (0..n).map(|i| i as f64).collect();
            let want = CpuStorage::from_vec(x.clone()).permute(dims, axes).to_f64_vec();
            let l = permuted(dims, axes);
            assert_eq!(l.rank, rank, "{dims:?} by {axes:?}: merged rank");
            let got: Vec<f64> = (0..n as u64)
                .map(|mut i| {
                    let mut off = 0;
                    for a in (0..l.rank as usize).rev() {
                        off += (i % l.dims[a]) * l.strides[a];
                        i /= l.dims[a];
                    }
                    x[off as usize]
                })
                .collect();
            assert_eq!(got, want, "{dims:?} by {axes:?}");
        }
        // The CPU's own answer for one case, by hand: [2, 3] by [1, 0] is the transpose.
        let t = CpuStorage::from_vec(vec![0.0f64, 1.0, 2.0, 3.0, 4.0, 5.0]).permute(&[2, 3], &[1, 0]).to_f64_vec();
        assert_eq!(t, vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    }

    /// The strided layouts, replayed on the host, give the CPU backend's broadcast and sum.
    #[test]
    fn strided_layouts_address_the_right_elements() {
        let offset = |l: &Layout, mut i: u64| {
            let mut off = 0;
            for a in (0..l.rank as usize).rev() {
                off += (i % l.dims[a]) * l.strides[a];
                i /= l.dims[a];
            }
            off
        };
        for (small, big) in [(vec![3, 1], vec![2, 3, 4]), (vec![2, 1, 4], vec![2, 3, 4]), (vec![1, 3, 1, 5], vec![2, 3, 4, 5])] {
            let (small, big) = (s(&small), s(&big));
            let Pattern::Strided { kept, reduced, n_reduced, broadcast } = pattern(&small, &big) else { panic!("{small} -> {big}") };
            let x: Vec<f64> = (0..small.numel()).map(|i| i as f64 + 1.0).collect();
            // Broadcast: big[i] = small[offset(i)], against a naive index computation.
            let pad = big.rank() - small.rank();
            for i in 0..big.numel() {
                let mut rem = i;
                let mut idx = vec![0; big.rank()];
                for a in (0..big.rank()).rev() {
                    idx[a] = rem % big.dim(a);
                    rem /= big.dim(a);
                }
                let mut o = 0;
                for a in 0..small.rank() {
                    let d = small.dim(a);
                    o = o * d + if d == 1 { 0 } else { idx[a + pad] };
                }
                assert_eq!(x[offset(&broadcast, i as u64) as usize], x[o], "{small} -> {big} at {i}");
            }
            // Sum: every big element is counted once, in the right output.
            let mut hits = vec![0usize; big.numel()];
            for o in 0..small.numel() {
                for j in 0..n_reduced {
                    hits[(offset(&kept, o as u64) + offset(&reduced, j as u64)) as usize] += 1;
                }
            }
            assert!(hits.iter().all(|&h| h == 1), "{small} <- {big}: {hits:?}");
            assert_eq!(small.numel() * n_reduced, big.numel());
        }
    }

    #[test]
    fn gemm_plans_fill_the_gpu() {
        let sms = 132;
        let p = plan_gemm(4096, 4096, 4096, sms, false);
        assert!(p.big && p.splits == 1 && p.grid == (32, 32, 1));
        // A weight gradient over a long batch: big tiles, split over K.
        let p = plan_gemm(784, 512, 50176, sms, false);
        assert!(p.big && p.splits >= 4 && (p.grid.0 * p.grid.1 * p.grid.2) as usize >= sms, "{p:?}");
        assert_eq!(plan_gemm(1024, 1024, 1024, sms, false), GemmPlan { big: false, splits: 1, k_chunk: 1024, grid: (16, 16, 1) });
        // A thin product of a small batch: small tiles, split over K.
        let p = plan_gemm(64, 512, 784, sms, false);
        assert!(!p.big && p.splits > 1, "{p:?}");
        assert!(p.k_chunk / 16 * 16 == p.k_chunk && (p.splits as usize - 1) * (p.k_chunk as usize) < 784 && p.splits as usize * p.k_chunk as usize >= 784);
        // Degenerate sizes still launch one block.
        let p = plan_gemm(1, 1, 1, sms, true);
        assert_eq!((p.splits, p.grid), (1, (1, 1, 1)));
        let p = plan_gemm(3, 2, 0, sms, false);
        assert_eq!(p.splits, 1);
    }

    #[test]
    fn scatter_csr_inverts_the_index_list() {
        // Output row 0 receives sources 1 and 3; row 2 receives 0 and 2; row 1 nothing.
        let csr = scatter_csr(&[2, 0, 2, 0], 3);
        assert_eq!(csr, vec![0, 2, 2, 4, 1, 3, 0, 2]);
        assert_eq!(scatter_csr(&[], 2), vec![0, 0, 0]);
    }
}
