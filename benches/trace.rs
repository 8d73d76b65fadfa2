//! criterion: one exact-score-matching training step for a 784→512→784
//! softplus MLP at batch 64, by each exact trace strategy, beside the sliced
//! and denoising steps; and the engine's `jacobian_diagonal` alone.
//!
//! `cargo bench --bench trace`

use autodiff::{grad, jacobian_diagonal, DType, DiagonalStrategy};
use criterion::{criterion_group, criterion_main, Criterion};
use rand::{rngs::StdRng, SeedableRng};
use score::{noise, Activation, Mlp, MlpConfig, Objective, Projection, ScoreModel, TraceStrategy};

fn bench_steps(c: &mut Criterion) {
    let config = MlpConfig { dim: 784, hidden: 512, hidden_layers: 1, activation: Activation::Softplus, output_activation: None, dtype: DType::F32 };
    let model = Mlp::new(&config, 1);
    let x = noise::randn([64, 784], DType::F32, &mut StdRng::seed_from_u64(2));
    let mut group = c.benchmark_group("training_step_784_512_784_b64");
    group.sample_size(10);
    let objectives = [
        ("exact_structure_aware", Objective::Exact { strategy: TraceStrategy::StructureAware }),
        ("exact_batched", Objective::Exact { strategy: TraceStrategy::Batched }),
        ("ssm_vr", Objective::SsmVr { projections: 1, distribution: Projection::Gaussian }),
        ("dsm", Objective::Dsm { sigma: 0.1 }),
    ];
    for (name, objective) in objectives {
        let mut rng = StdRng::seed_from_u64(0);
        group.bench_function(name, |b| {
            b.iter(|| {
                let out = objective.loss(&model, &x, &mut rng).unwrap();
                grad(&[out.loss], &model.parameters(), None, false)
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("jacobian_diagonal_784_512_784_b64");
    group.sample_size(10);
    for (name, strategy) in [("loop", DiagonalStrategy::Loop), ("batched", DiagonalStrategy::Batched)] {
        group.bench_function(name, |b| b.iter(|| jacobian_diagonal(|x| model.score(x), &x, strategy, false)));
    }
    group.finish();
}

criterion_group!(benches, bench_steps);
criterion_main!(benches);
