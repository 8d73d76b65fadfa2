//! Matmul throughput in GFLOP/s through `Tensor::matmul_t`: square sizes, all
//! four transposes, and the MNIST MLP's shapes (784→512 at batch 64, 784→1024→1024→784
//! at batch 128), f32 and f64.
//!
//! `cargo bench --bench matmul` prints one line per shape:
//! `<dtype> <m>x<k>·<k>x<n> <nn|tn|nt|tt> <GFLOP/s>`, the best of several
//! timed batches. `benches/numpy_matmul.py` prints the same lines for numpy,
//! and `benches/matmul_vs_numpy.sh` runs both, shape by shape, into one table
//! (`-- --list` prints the shape names the filters match).
//! `GRADGRAD_MATMUL_ISA=avx2|neon|portable` times another instruction set.

use std::time::{Duration, Instant};

use gradgrad::autodiff::{backend::gemm::Isa, no_grad, Tensor};

/// One product the bench times, parsed from its line in `matmul_shapes.txt`,
/// the list `numpy_matmul.py` reads too: `<dtype> <m>x<k>·<k>x<n> <op>`.
struct Shape<'a> {
    name: &'a str,
    f64: bool,
    m: usize,
    k: usize,
    n: usize,
    trans_a: bool,
    trans_b: bool,
}

fn shapes() -> Vec<Shape<'static>> {
    let lines = include_str!("matmul_shapes.txt").lines().filter(|l| !l.is_empty() && !l.starts_with('#'));
    lines
        .map(|name| {
            let bad = || panic!("matmul_shapes.txt: expected `<dtype> <m>x<k>·<k>x<n> <op>`, got {name:?}");
            let [dtype, product, op] = name.split(' ').collect::<Vec<_>>()[..] else { bad() };
            let dims: Vec<usize> = product.split(['x', '·']).map(|d| d.parse().unwrap_or_else(|_| bad())).collect();
            let (&[m, k, k2, n], &[ta, tb]) = (&dims[..], op.as_bytes()) else { bad() };
            if k != k2 || !matches!(dtype, "f32" | "f64") || ![ta, tb].iter().all(|t| matches!(t, b'n' | b't')) {
                bad();
            }
            Shape { name, f64: dtype == "f64", m, k, n, trans_a: ta == b't', trans_b: tb == b't' }
        })
        .collect()
}

fn matrix(rows: usize, cols: usize, f64: bool) -> Tensor {
    let data = (0..rows * cols).map(|i| ((i * 7919 % 1000) as f64) / 1000.0 - 0.5);
    if f64 {
        Tensor::from_vec(data.collect::<Vec<f64>>(), [rows, cols])
    } else {
        Tensor::from_vec(data.map(|v| v as f32).collect::<Vec<f32>>(), [rows, cols])
    }
}

/// CPU seconds this process has run, summed over its threads (Linux), from
/// the scheduler's nanosecond counters: with `MATMUL_CLOCK=cpu` and one
/// thread, a rate that other processes on a busy machine barely move.
fn cpu_seconds() -> f64 {
    let tasks = std::fs::read_dir("/proc/self/task").expect("MATMUL_CLOCK=cpu needs Linux's /proc");
    let ns: u64 = tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    ns as f64 * 1e-9
}

/// Writes over a buffer larger than both cores' L2 caches, from every rayon
/// thread, so that the next call finds its operands where a training step
/// does: in L3 or memory, not in the core's own caches.
fn evict_caches(sweep: &mut [f32]) {
    use rayon::prelude::*;
    sweep.par_chunks_mut(1 << 16).for_each(|chunk| chunk.iter_mut().for_each(|v| *v += 1.0));
}

/// Seconds per call (wall clock, or CPU time with `MATMUL_CLOCK=cpu`): the
/// best batch mean over about `budget` of wall time. With `MATMUL_COLD=1` the
/// caches are evicted before each call, outside the time, and the fastest
/// single call counts (wall clock only: the kernel's CPU-time counters lag
/// behind a running thread by more than one call).
fn best_seconds(budget: Duration, mut call: impl FnMut()) -> f64 {
    if std::env::var("MATMUL_COLD").is_ok_and(|c| c == "1") {
        let mut sweep = vec![0f32; 8 << 20];
        let (start, mut best) = (Instant::now(), f64::INFINITY);
        while start.elapsed() < budget {
            evict_caches(&mut sweep);
            let t0 = Instant::now();
            call();
            best = best.min(t0.elapsed().as_secs_f64());
        }
        return best;
    }
    let cpu_clock = std::env::var("MATMUL_CLOCK").is_ok_and(|c| c == "cpu");
    let origin = Instant::now();
    let clock = || if cpu_clock { cpu_seconds() } else { origin.elapsed().as_secs_f64() };
    call();
    let start = Instant::now();
    let mut best = f64::INFINITY;
    while start.elapsed() < budget || best.is_infinite() {
        let (wall, t0, mut reps) = (Instant::now(), clock(), 0);
        while wall.elapsed() < budget / 5 || reps == 0 {
            call();
            reps += 1;
        }
        best = best.min((clock() - t0) / reps as f64);
    }
    best
}

fn main() {
    gradgrad::autodiff::threads::pool_with_caller(None).expect("the rayon pool is built once");
    // `cargo bench` passes `--bench`; shape filters may follow, and `--list`
    // prints the names the filters match instead of timing them.
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let list = std::env::args().any(|a| a == "--list");
    if !list {
        println!("# gradgrad {} kernels, {} rayon threads", Isa::selected().name(), rayon::current_num_threads());
    }
    for Shape { name, f64, m, k, n, trans_a: ta, trans_b: tb } in shapes() {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        if list {
            println!("{name}");
            continue;
        }
        let a = if ta { matrix(k, m, f64) } else { matrix(m, k, f64) };
        let b = if tb { matrix(n, k, f64) } else { matrix(k, n, f64) };
        let sec = best_seconds(Duration::from_secs(1), || {
            std::hint::black_box(no_grad(|| a.matmul_t(&b, ta, tb)));
        });
        println!("{name} {:.1}", 2.0 * (m * k * n) as f64 / sec / 1e9);
    }
}
