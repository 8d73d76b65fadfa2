//! f32 matmul throughput in GFLOP/s: square sizes and the MNIST MLP's shapes.
//!
//! `cargo bench --bench matmul`. Compare with numpy/OpenBLAS on the same cores:
//! see benches/README.md.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use gradgrad::autodiff::{no_grad, Tensor};

fn matrix(rows: usize, cols: usize) -> Tensor {
    let data: Vec<f32> = (0..rows * cols).map(|i| ((i * 7919 % 1000) as f32) / 1000.0 - 0.5).collect();
    Tensor::from_vec(data, [rows, cols])
}

fn bench_matmul(c: &mut Criterion) {
    let mut group = c.benchmark_group("matmul_f32");
    group.sample_size(20);
    // (m, k, n, label)
    let shapes = [
        (256, 256, 256, "n=256"),
        (512, 512, 512, "n=512"),
        (1024, 1024, 1024, "n=1024"),
        (64, 784, 512, "64x784·784x512"),
        (64, 512, 784, "64x512·512x784"),
        (50176, 512, 512, "(64·784)x512·512x512"),
    ];
    for (m, k, n, label) in shapes {
        let a = matrix(m, k);
        let b = matrix(k, n);
        // Throughput in "elements" = flops, so criterion prints Gelem/s = GFLOP/s.
        group.throughput(Throughput::Elements((2 * m * k * n) as u64));
        group.bench_with_input(BenchmarkId::from_parameter(label), &(a, b), |bench, (a, b)| {
            bench.iter(|| no_grad(|| a.matmul(b)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_matmul);
criterion_main!(benches);
