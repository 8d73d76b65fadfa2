//! Every instruction set this CPU runs, both dtypes, all four transposes, on
//! shapes that end mid-tile, mid-block and at zero, against an f64 loop.

use super::*;
use crate::dtype::Element;

/// Values in (-1, 1) that are not short binary fractions.
fn values<T: Element>(len: usize, seed: u64) -> Vec<T> {
    (0..len as u64).map(|i| T::from_f64(((i * 2_654_435_761 + seed * 97) % 10_007) as f64 / 5_003.7 - 1.0)).collect()
}

/// Stores the `rows×cols` matrix `x` transposed when `trans` (what `op` undoes).
fn stored<T: Copy>(x: &[T], rows: usize, cols: usize, trans: bool) -> Vec<T> {
    if !trans {
        return x.to_vec();
    }
    (0..rows * cols).map(|t| x[(t % rows) * cols + t / rows]).collect()
}

/// Checks `matmul_on(isa)` element by element against the f64 sum, within the
/// rounding bound of a length-`k` dot product: `k·ε·Σ|aᵢ·bᵢ|`.
fn check<T: GemmElement>(isa: Isa, m: usize, k: usize, n: usize, ta: bool, tb: bool) {
    let (a, b) = (values::<T>(m * k, 1), values::<T>(k * n, 2));
    let c = matmul_on(isa, &stored(&a, m, k, ta), &stored(&b, k, n, tb), m, k, n, ta, tb);
    assert_eq!(c.len(), m * n);
    let eps = T::epsilon().to_f64();
    for i in 0..m {
        for j in 0..n {
            let terms = (0..k).map(|p| a[i * k + p].to_f64() * b[p * n + j].to_f64());
            let (exact, size) = terms.fold((0.0, 0.0), |(s, z), t| (s + t, z + t.abs()));
            let got = c[i * n + j].to_f64();
            assert!(
                (got - exact).abs() <= (k as f64 + 1.0) * eps * size,
                "{} {}: {m}×{k}·{k}×{n} (ta={ta}, tb={tb}) at ({i}, {j}): {got} vs {exact}",
                isa.name(),
                T::DTYPE
            );
        }
    }
}

fn supported() -> Vec<Isa> {
    let isas: Vec<Isa> = Isa::ALL.into_iter().filter(|isa| isa.is_supported()).collect();
    eprintln!("instruction sets tested: {:?}", isas.iter().map(|isa| isa.name()).collect::<Vec<_>>());
    isas
}

const TRANSPOSES: [(bool, bool); 4] = [(false, false), (true, false), (false, true), (true, true)];

#[test]
fn every_kernel_matches_the_f64_sum_on_awkward_shapes() {
    // 0 (empty or k = 0: zeros), 1, one short of and past the 6/8-row and
    // 8/16/24/48-column tiles, and past the parallel-split threshold.
    let dims = [0, 1, 7, 17, 33, 100];
    for isa in supported() {
        for &(ta, tb) in &TRANSPOSES {
            for &m in &dims {
                for &k in &dims {
                    for &n in &dims {
                        check::<f32>(isa, m, k, n, ta, tb);
                        check::<f64>(isa, m, k, n, ta, tb);
                    }
                }
            }
        }
    }
}

#[test]
fn every_kernel_matches_the_f64_sum_across_cache_blocks() {
    // k past one KC block (384) and n past one NC block (512 f32, 256 f64),
    // neither a multiple of a tile; and 257 rows split across threads.
    for isa in supported() {
        for &(ta, tb) in &TRANSPOSES {
            check::<f32>(isa, 33, 801, 1100, ta, tb);
            check::<f64>(isa, 33, 801, 600, ta, tb);
            check::<f32>(isa, 257, 257, 257, ta, tb);
            check::<f64>(isa, 257, 100, 257, ta, tb);
        }
    }
}

#[test]
fn results_are_the_same_bits_on_any_number_of_threads() {
    // The split between threads changes which tiles are edges and who packs
    // what, never the order of any sum.
    let (m, k, n) = (301, 777, 403);
    let (a, b) = (values::<f32>(m * k, 3), values::<f32>(k * n, 4));
    for isa in supported() {
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| matmul_on(isa, &a, &b, m, k, n, false, true)).iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        };
        let one = run(1);
        for threads in [2, 3, 4] {
            assert!(run(threads) == one, "{}: {threads} threads differ from one", isa.name());
        }
    }
}

#[test]
fn batched_products_match_one_product_each_on_every_kernel() {
    let (m, k, n) = (9, 20, 50);
    for isa in supported() {
        for (batch, a_count, b_count) in [(6, 6, 1), (6, 1, 6), (6, 6, 6), (3, 3, 1), (1, 1, 1)] {
            for &(ta, tb) in &TRANSPOSES {
                let (a, b) = (values::<f64>(a_count * m * k, 5), values::<f64>(b_count * k * n, 6));
                let dims = BatchedMatmul { batch, a_count, b_count, m, k, n, trans_a: ta, trans_b: tb };
                let c = batched_matmul_on(isa, &a, &b, dims);
                for p in 0..batch {
                    let ap = &a[(p % a_count) * m * k..][..m * k];
                    let bp = &b[(p % b_count) * k * n..][..k * n];
                    assert!(c[p * m * n..][..m * n] == matmul_on(isa, ap, bp, m, k, n, ta, tb)[..], "{} product {p}", isa.name());
                }
            }
        }
    }
}

#[test]
fn packing_puts_every_value_where_the_kernels_read_it() {
    // Every width, both element sizes, steps contiguous (the register
    // transposes' case, whole blocks and a rest) or not, lanes ending mid-panel.
    fn check<T: Element>() {
        for width in [4, 6, 8, 12, 16, 24, 48] {
            for (lanes, depth) in [(width, 16), (2 * width, 37), (width + 3, 9), (1, 1)] {
                for contiguous_steps in [true, false] {
                    let src = values::<T>(lanes * depth, 7);
                    let (lane_stride, depth_stride) = if contiguous_steps { (depth, 1) } else { (1, lanes) };
                    let mut out = vec![T::zero(); lanes.div_ceil(width) * width * depth];
                    unsafe { pack::pack_block(src.as_ptr(), lane_stride, depth_stride, lanes, width, depth, &mut out) };
                    for (i, &v) in out.iter().enumerate() {
                        let (panel, p, l) = (i / (width * depth), i / width % depth, i % width);
                        let lane = panel * width + l;
                        let want = if lane < lanes { src[lane * lane_stride + p * depth_stride] } else { T::zero() };
                        assert!(v == want, "width {width}, {lanes}×{depth}, contiguous steps {contiguous_steps}: out[{i}]");
                    }
                }
            }
        }
    }
    check::<f32>();
    check::<f64>();
}

#[test]
fn every_fused_kernel_gives_the_same_bits() {
    // The AVX-512, AVX2 and NEON kernels sum each element's products in the
    // same order (step blocks of the same depth in turn, each from zero by
    // fused multiply-adds), whatever their tiles: a product, and so a training
    // run, is the same on any of them. The portable kernel rounds each product
    // first and is left out.
    fn check<T: GemmElement>(fused: &[Isa]) {
        for &(ta, tb) in &TRANSPOSES {
            for (m, k, n) in [(33, 801, 100), (130, 385, 61), (9, 20, 50)] {
                let (a, b) = (values::<T>(m * k, 8), values::<T>(k * n, 9));
                let (a, b) = (stored(&a, m, k, ta), stored(&b, k, n, tb));
                let bits = |isa| matmul_on::<T>(isa, &a, &b, m, k, n, ta, tb).iter().map(|&v| Element::to_f64(v).to_bits()).collect::<Vec<_>>();
                let first = bits(fused[0]);
                for &isa in &fused[1..] {
                    assert!(bits(isa) == first, "{} and {} differ: {} {m}×{k}·{k}×{n} (ta={ta}, tb={tb})", fused[0].name(), isa.name(), T::DTYPE);
                }
            }
        }
    }
    let fused: Vec<Isa> = supported().into_iter().filter(|&isa| isa != Isa::Portable).collect();
    if fused.len() < 2 {
        eprintln!("one fused kernel on this CPU ({:?}): nothing to compare", fused.iter().map(|isa| isa.name()).collect::<Vec<_>>());
        return;
    }
    check::<f32>(&fused);
    check::<f64>(&fused);
}
