//! GPU timings for `benches/gpu-check.sh`: the hand-written matmul against
//! cuBLAS SGEMM, sigmoid against a device-to-device copy, and one training
//! step per score-matching objective (crates/score), GPU against CPU.
//!
//! `cargo bench --bench gpu_bench` on a machine with a GPU, or the binary that
//! `benches/build-device-bin.sh` copies into `.device-bin/`. Every result is
//! also printed as a `ROW|section|case|ours|reference|ratio|note` line, which
//! gpu-check.sh gathers into its closing table. Without a GPU it says why and
//! exits 0.
//!
//! Timing: CUDA events on the engine's stream around each repetition, after
//! warm-up (kernel compilation, allocation pools); the median is reported.
//! Inputs are random, never zeros.

use std::time::Instant;

use cudarc::cublas::{sys::cublasOperation_t, CudaBlas, Gemm, GemmConfig};
use cudarc::driver::sys::CUevent_flags;
use gradgrad::autodiff::backend::{cuda, Storage};
use gradgrad::autodiff::{grad, no_grad, DType, Device, Tensor};
use gradgrad::score::{Activation, Mlp, MlpConfig, Objective, Projection, ScoreModel, TraceStrategy};
use rand::{rngs::StdRng, SeedableRng};

fn row(section: &str, case: &str, ours: String, reference: String, ratio: String, note: &str) {
    println!("ROW|{section}|{case}|{ours}|{reference}|{ratio}|{note}");
}

/// Deterministic pseudo-random values in [-1, 1).
fn random(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn device_matrix(rows: usize, cols: usize, seed: u64, dev: Device) -> Tensor {
    Tensor::from_vec(random(rows * cols, seed), [rows, cols]).to_device(dev)
}

fn f32_slice(t: &Tensor) -> &cudarc::driver::CudaSlice<f32> {
    match t.storage() {
        Storage::Cuda(s) => s.as_f32_slice().expect("an f32 tensor"),
        _ => panic!("not on the GPU"),
    }
}

/// Median milliseconds of `reps` runs of `f` (each timed with CUDA events), after `warmup` runs.
fn time_ms(warmup: usize, reps: usize, mut f: impl FnMut()) -> f64 {
    let stream = cuda::stream(0).expect("the GPU was opened");
    let ctx = stream.context().clone();
    for _ in 0..warmup {
        f();
    }
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let start = ctx.new_event(Some(CUevent_flags::CU_EVENT_DEFAULT)).unwrap();
            let end = ctx.new_event(Some(CUevent_flags::CU_EVENT_DEFAULT)).unwrap();
            start.record(&stream).unwrap();
            f();
            end.record(&stream).unwrap();
            end.synchronize().unwrap();
            start.elapsed_ms(&end).unwrap() as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    let d: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt();
    let n: f64 = b.iter().map(|y| y * y).sum::<f64>().sqrt();
    d / n.max(f64::MIN_POSITIVE)
}

/// GFLOP/s of the hand-written kernel and of cuBLAS SGEMM on the same buffers.
#[allow(clippy::too_many_arguments)]
fn matmul(dev: Device, blas: &CudaBlas, label: &str, m: usize, k: usize, n: usize, ta: bool, tb: bool) {
    let a = if ta { device_matrix(k, m, 1, dev) } else { device_matrix(m, k, 1, dev) };
    let b = if tb { device_matrix(n, k, 2, dev) } else { device_matrix(k, n, 2, dev) };
    let flops = 2.0 * m as f64 * k as f64 * n as f64;
    let reps = if flops > 2e11 { 5 } else { 20 };
    let ours_ms = time_ms(2, reps, || drop(no_grad(|| a.matmul_t(&b, ta, tb))));

    // cuBLAS is column-major: C = op(A)·op(B) row-major is Cᵀ = op(B)ᵀ·op(A)ᵀ.
    let stream = cuda::stream(0).unwrap();
    let mut c = stream.alloc_zeros::<f32>(m * n).unwrap();
    let op = |t: bool| if t { cublasOperation_t::CUBLAS_OP_T } else { cublasOperation_t::CUBLAS_OP_N };
    let cfg = GemmConfig {
        transa: op(tb),
        transb: op(ta),
        m: n as i32,
        n: m as i32,
        k: k as i32,
        alpha: 1.0f32,
        lda: if tb { k } else { n } as i32,
        ldb: if ta { m } else { k } as i32,
        beta: 0.0f32,
        ldc: n as i32,
    };
    let (sa, sb) = (f32_slice(&a), f32_slice(&b));
    // SAFETY: the dimensions and leading dimensions above match the buffers.
    let mut run_blas = || unsafe { blas.gemm(cfg, sb, sa, &mut c) }.expect("cuBLAS SGEMM");
    let blas_ms = time_ms(2, reps, &mut run_blas);

    let ours: Vec<f64> = no_grad(|| a.matmul_t(&b, ta, tb)).to_vec_f64();
    let theirs: Vec<f64> = stream.clone_dtoh(&c).unwrap().into_iter().map(f64::from).collect();
    let err = rel_err(&ours, &theirs);
    let (g_ours, g_blas) = (flops / ours_ms / 1e6, flops / blas_ms / 1e6);
    row(
        "matmul GFLOP/s",
        label,
        format!("{g_ours:.0}"),
        format!("{g_blas:.0} (cuBLAS)"),
        format!("{:.0}%", 100.0 * g_ours / g_blas),
        &format!("‖ours−cuBLAS‖/‖cuBLAS‖ = {err:.1e}{}", if err > 1e-5 { " MISMATCH" } else { "" }),
    );
}

/// Sigmoid's bandwidth against a device-to-device copy of the same size.
fn sigmoid_bandwidth(dev: Device) {
    let n = 1usize << 26; // 256 MiB of f32 each way: far past the L2
    let x = Tensor::from_vec(random(n, 3).into_iter().map(|v| v * 8.0).collect::<Vec<f32>>(), [n]).to_device(dev);
    let bytes = 2.0 * (n * 4) as f64;
    let sig_ms = time_ms(3, 20, || drop(no_grad(|| x.sigmoid())));
    let stream = cuda::stream(0).unwrap();
    let mut dst = stream.alloc_zeros::<f32>(n).unwrap();
    let src = f32_slice(&x);
    let copy_ms = time_ms(3, 20, || stream.memcpy_dtod(&src.slice(0..n), &mut dst).unwrap());
    let (g_sig, g_copy) = (bytes / sig_ms / 1e6, bytes / copy_ms / 1e6);
    row("sigmoid GB/s", "2^26 f32 (read+write)", format!("{g_sig:.0}"), format!("{g_copy:.0} (copy)"), format!("{:.0}%", 100.0 * g_sig / g_copy), "target ≥ 80% of copy");
}

/// The score crate's softplus MLP `784 → 512 (→ 512) → 784`, on `device`.
fn score_mlp(hidden_layers: usize, device: Device) -> Mlp {
    let config = MlpConfig { dim: 784, hidden: 512, hidden_layers, activation: Activation::Softplus, output_activation: None, dtype: DType::F32 };
    Mlp::new(&config, 1).to_device(device)
}

/// One training step of `objective`: forward, loss, gradients to every
/// parameter, plain SGD. Returns the loss (reading it is the step's only
/// device-to-host copy).
fn training_step(objective: &Objective, model: &mut Mlp, x: &Tensor, rng: &mut StdRng) -> f64 {
    let out = objective.loss(model, x, rng).expect("the loss is finite");
    let params = model.parameters();
    let grads = grad(std::slice::from_ref(&out.loss), &params, None, false);
    let updated: Vec<Tensor> = no_grad(|| params.iter().zip(&grads).map(|(p, g)| p - &g.scale(1e-3)).collect());
    *model = model.with_parameters(&updated);
    out.value().expect("the loss is finite")
}

fn training_steps(dev: Device) {
    let batch = 64;
    let objectives = [
        ("exact (structure-aware)", Objective::Exact { strategy: TraceStrategy::StructureAware }),
        ("exact (batched)", Objective::Exact { strategy: TraceStrategy::Batched }),
        ("ssm-vr", Objective::SsmVr { projections: 1, distribution: Projection::Gaussian }),
        ("dsm", Objective::Dsm { sigma: 0.1 }),
    ];
    for hidden_layers in [1, 2] {
        let arch = if hidden_layers == 1 { "784→512→784" } else { "784→512→512→784" };
        let x_host = Tensor::from_vec(random(batch * 784, 30), [batch, 784]);
        let x = x_host.to_device(dev);
        for (name, objective) in &objectives {
            let label = format!("{name} {arch} batch {batch}");
            let mut rng = StdRng::seed_from_u64(0);
            let mut gpu_model = score_mlp(hidden_layers, dev);
            let gpu_ms = time_ms(2, 5, || {
                training_step(objective, &mut gpu_model, &x, &mut rng);
            });
            let cpu_ms = if std::env::var("GPU_BENCH_SKIP_CPU").is_ok() {
                f64::NAN
            } else {
                let mut cpu_model = score_mlp(hidden_layers, Device::Cpu);
                let t = Instant::now();
                training_step(objective, &mut cpu_model, &x_host, &mut rng);
                t.elapsed().as_secs_f64() * 1e3
            };
            row("training step ms", &label, format!("{gpu_ms:.2}"), format!("{cpu_ms:.0} (CPU, 1 step)"), format!("{:.1}× faster", cpu_ms / gpu_ms), "torch rows below");
        }
    }
}

fn main() {
    // `cargo bench` passes --bench; nothing to parse.
    let dev = match Device::cuda(0) {
        Ok(d) => d,
        Err(e) => {
            println!("gpu_bench: skipped: no CUDA device ({})", e.reason);
            return;
        }
    };
    println!("gpu_bench on {}", cuda::describe(0).unwrap());
    let blas = CudaBlas::new(cuda::stream(0).unwrap()).expect("cuBLAS handle");
    for n in [256, 512, 1024, 2048, 4096, 8192] {
        matmul(dev, &blas, &format!("n={n}"), n, n, n, false, false);
    }
    // The MLP's products: forward at batch 64, and the batched trace's
    // repeated batch (64·784 rows) forward and weight gradient.
    for (label, m, k, n, ta, tb) in [
        ("64×784·784×512", 64, 784, 512, false, false),
        ("64×512·512×784", 64, 512, 784, false, false),
        ("64×512·(784×512)ᵀ", 64, 512, 784, false, true),
        ("50176×784·784×512", 50176, 784, 512, false, false),
        ("50176×512·512×784", 50176, 512, 784, false, false),
        ("(50176×784)ᵀ·50176×512", 784, 50176, 512, true, false),
    ] {
        matmul(dev, &blas, label, m, k, n, ta, tb);
    }
    // The big-tile variants (kernels/matmul.cu) on the products that use big tiles.
    let default_variant = cuda::big_gemm_variant();
    for variant in cuda::BIG_GEMM_VARIANTS {
        cuda::set_big_gemm_variant(variant);
        for (label, m, k, n, ta, tb) in [("n=4096", 4096, 4096, 4096, false, false), ("n=8192", 8192, 8192, 8192, false, false), ("50176×784·784×512", 50176, 784, 512, false, false), ("(50176×784)ᵀ·50176×512", 784, 50176, 512, true, false)] {
            matmul(dev, &blas, &format!("[{variant}] {label}"), m, k, n, ta, tb);
        }
    }
    cuda::set_big_gemm_variant(default_variant);
    sigmoid_bandwidth(dev);
    training_steps(dev);
}
