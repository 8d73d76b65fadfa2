//! GPU timings for `benches/gpu-check.sh`: the hand-written matmul against
//! cuBLAS SGEMM, sigmoid against a device-to-device copy, and one exact
//! score-matching training step, GPU against CPU.
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
use gradgrad::autodiff::{grad, jacobian_diagonal, no_grad, Device, DiagonalStrategy, Tensor};

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

/// A softplus MLP `widths[0] → … → widths[last]` with random weights on `device`.
fn mlp(widths: &[usize], device: Device) -> Vec<(Tensor, Tensor)> {
    widths
        .windows(2)
        .enumerate()
        .map(|(i, w)| {
            let scale = 1.0 / (w[0] as f32).sqrt();
            let weight = Tensor::from_vec(random(w[0] * w[1], 10 + i as u64).into_iter().map(|v| v * scale).collect::<Vec<f32>>(), [w[0], w[1]]);
            let bias = Tensor::from_vec(random(w[1], 20 + i as u64).into_iter().map(|v| v * 0.1).collect::<Vec<f32>>(), [w[1]]);
            (weight.to_device(device).requires_grad(), bias.to_device(device).requires_grad())
        })
        .collect()
}

/// One exact score-matching step: loss = mean(tr ∂s/∂x + ½‖s‖²), the trace
/// by the batched Jacobian diagonal, gradients to every weight, then SGD.
/// Returns the loss (reading it is the step's only device-to-host copy).
fn exact_sm_step(params: &mut Vec<(Tensor, Tensor)>, x: &Tensor) -> f64 {
    let net = params.clone();
    let score = move |x: &Tensor| {
        let mut h = x.clone();
        for (i, (w, b)) in net.iter().enumerate() {
            h = h.matmul(w) + b;
            if i + 1 < net.len() {
                h = h.softplus();
            }
        }
        h
    };
    let (s, diag) = jacobian_diagonal(score, x, DiagonalStrategy::Batched, true);
    let loss = (diag.sum_axis(1) + s.square().sum_axis(1).scale(0.5)).mean();
    let flat: Vec<Tensor> = params.iter().flat_map(|(w, b)| [w.clone(), b.clone()]).collect();
    let grads = grad(std::slice::from_ref(&loss), &flat, None, false);
    let updated: Vec<Tensor> = no_grad(|| flat.iter().zip(&grads).map(|(p, g)| (p - &g.scale(1e-3)).requires_grad()).collect());
    *params = updated.chunks(2).map(|c| (c[0].clone(), c[1].clone())).collect();
    loss.item()
}

fn training_steps(dev: Device) {
    let batch = 64;
    for widths in [vec![784, 512, 784], vec![784, 512, 512, 784]] {
        let label = format!("exact SM {} batch {batch}", widths.iter().map(|w| w.to_string()).collect::<Vec<_>>().join("→"));
        let x_host = Tensor::from_vec(random(batch * 784, 30), [batch, 784]);
        let mut gpu_params = mlp(&widths, dev);
        let x = x_host.to_device(dev);
        let gpu_ms = time_ms(2, 5, || {
            exact_sm_step(&mut gpu_params, &x);
        });
        let cpu_ms = if std::env::var("GPU_BENCH_SKIP_CPU").is_ok() {
            f64::NAN
        } else {
            let mut cpu_params = mlp(&widths, Device::Cpu);
            let t = Instant::now();
            exact_sm_step(&mut cpu_params, &x_host);
            t.elapsed().as_secs_f64() * 1e3
        };
        row("training step ms", &label, format!("{gpu_ms:.1}"), format!("{cpu_ms:.0} (CPU, 1 step)"), format!("{:.1}× faster", cpu_ms / gpu_ms), "torch rows below");
    }
    // HOOK(score): one step per objective of crates/score (exact, ssm-vr, dsm)
    // belongs here once its trainer-facing API settles; the exact objective
    // above is written out with the engine's own API so it does not wait for it.
    row("training step ms", "score objectives (ssm-vr, dsm)", "-".into(), "-".into(), "-".into(), "HOOK: not wired yet (benches/gpu_bench.rs)");
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
    sigmoid_bandwidth(dev);
    training_steps(dev);
}
