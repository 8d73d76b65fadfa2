//! The trainer's training step on its default model, timed per objective, in ms: gradgrad's side
//! of `benches/pytorch_trainer_step.py` (PyTorch running the same algorithm, same table layout).
//!
//! The model is what `cargo run -p trainer` builds by default on the CPU (crates/trainer/src/
//! config.rs, model.rs): the noise-conditional `edm-diag` MLP 784→1024→1024→784, SiLU, 16 σ
//! frequencies fed to every hidden layer, f32, batch 128, σ drawn per sample from the 1024-row
//! log-normal table. Two timings per objective (dsm, exact, ssm-vr):
//! - `grad`: the loss and the gradients of every parameter, the loss read back;
//! - `trainer step`: what one iteration of crates/trainer/src/train.rs does after drawing the
//!   batch: that, clipping to norm 100, loss and norm read back together, Adam (lr 1e-3), EMA
//!   0.999. The sequence is repeated here through score's public API (the trainer's loop is not
//!   a library function); the same clean batch is reused, as PyTorch's side does.
//!
//! Each row is the median of up to 15 repetitions after one warm-up step.
//! `cargo bench --bench conditional_step` (2 rayon threads); `-- --threads N`, and
//! `--dim --hidden --layers --batch` for other shapes, `--objectives dsm,ssm-vr` for some rows.
//!
//! `--profile N` also profiles N `grad` steps per objective (`autodiff::profile`) and prints,
//! per step, the heap allocations (all, and those the system allocator maps fresh), the ops' table, one `matmul <m>x<k>·<k>x<n> <ms> <calls>` line per product shape
//! (as multiplied, whatever the transposes) and a `wall <ms>` line, which
//! `benches/op-profile.sh` sets beside `torch.profiler`'s for the same step.

use std::time::Instant;

use autodiff::{grad, profile, DType, Profile, Tensor};
use rand::{rngs::StdRng, SeedableRng};
#[path = "common/peak_alloc.rs"]
mod peak_alloc;

use score::optim::{clip_grad_norm, Adam, Ema, Optimizer};
use score::{
    noise, Activation, ConditionalConfig, ConditionalMlp, ConditionalObjective, MlpConfig, Parametrisation, Projection, SigmaDistribution,
    TraceStrategy,
};

/// The trainer's defaults for the conditional model (crates/trainer/src/config.rs, model.rs).
const SIGMA_DATA: f64 = 0.3347; // MNIST_RMS
const SIGMA_FREQUENCIES: usize = 16;
const LEARNING_RATE: f64 = 1e-3;
const CLIP_NORM: f64 = 100.0;
const EMA_DECAY: f64 = 0.999;

/// The σ distribution the trainer draws from: log σ ~ N(−1.2 + ln ½, 1.2²) in [0.002, 40].
fn training_sigmas() -> SigmaDistribution {
    SigmaDistribution::LogNormal { mean: -1.2 + 0.5f64.ln(), std: 1.2, min: 0.002, max: 40.0 }
}

/// The three objectives as the trainer configures them (`TrainConfig::conditional_objective`).
fn objectives() -> [ConditionalObjective; 3] {
    [
        ConditionalObjective::Dsm,
        ConditionalObjective::Exact { strategy: TraceStrategy::Auto },
        ConditionalObjective::SsmVr { projections: 1, distribution: Projection::Gaussian },
    ]
}

/// The model, its optimiser state and the fixed inputs of one row.
struct Bench {
    model: ConditionalMlp,
    adam: Adam,
    ema: Ema,
    x: Tensor,
    table: Tensor,
    rng: StdRng,
}

impl Bench {
    fn new(shape: &Shape) -> Bench {
        let mlp = MlpConfig {
            dim: shape.dim,
            hidden: shape.hidden,
            hidden_layers: shape.layers,
            activation: Activation::Silu,
            output_activation: None,
            dtype: DType::F32,
        };
        let config = ConditionalConfig {
            mlp,
            parametrisation: Parametrisation::EdmDiagonal { sigma_data: SIGMA_DATA },
            frequencies: SIGMA_FREQUENCIES,
            embed_every_layer: true,
        };
        let model = ConditionalMlp::new(&config, 1);
        let mut rng = StdRng::seed_from_u64(2);
        // Pixels in [0, 1], as MNIST's.
        let x = noise::uniform([shape.batch, shape.dim], 0.0, 1.0, DType::F32, &mut rng);
        let table = model.conditioning.table(&training_sigmas().levels(), &x);
        Bench { model, adam: Adam::new(LEARNING_RATE), ema: Ema::new(EMA_DECAY), x, table, rng }
    }

    /// Loss and gradients; the loss read back.
    fn grad(&mut self, objective: &ConditionalObjective) -> f64 {
        let loss = objective.loss(&self.model, &self.x, &self.table, &mut self.rng).expect("loss").loss;
        let grads = grad(std::slice::from_ref(&loss), &self.model.parameters(), None, false);
        std::hint::black_box(grads);
        loss.item()
    }

    /// One iteration of the trainer's loop on the same batch: loss, gradients, clip, one read
    /// of loss and norm, Adam, EMA (crates/trainer/src/train.rs).
    fn trainer_step(&mut self, objective: &ConditionalObjective) -> f64 {
        let loss = objective.loss(&self.model, &self.x, &self.table, &mut self.rng).expect("loss").loss;
        let params = self.model.parameters();
        let grads = grad(std::slice::from_ref(&loss), &params, None, false);
        let (grads, grad_norm) = clip_grad_norm(grads, Some(CLIP_NORM));
        let [loss, grad_norm] = Tensor::items([&loss, &grad_norm]);
        assert!(grad_norm.is_finite(), "the gradient norm is {grad_norm}");
        self.model = self.model.with_parameters(&self.adam.step(&params, grads));
        self.ema.update(&self.model.parameters());
        loss
    }
}

/// Median ms of `step` over up to 15 repetitions (about 2 s of them) after one warm-up.
fn median_ms(mut step: impl FnMut() -> f64) -> f64 {
    let start = Instant::now();
    let loss = step();
    assert!(loss.is_finite(), "the loss is {loss}");
    let first = start.elapsed().as_secs_f64();
    let reps = ((2.0 / first) as usize).clamp(3, 15);
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(step());
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(|a, b| a.total_cmp(b));
    times[times.len() / 2]
}

/// One line per matmul shape as multiplied (`m×k·k×n`, whatever the transposes): ms and
/// calls per step; then the step's wall time.
fn print_matmuls(profile: &Profile) {
    let mut shapes: Vec<(String, f64, usize)> = Vec::new();
    for row in profile.rows.iter().filter(|r| r.op.starts_with("matmul(")) {
        let [a, b] = [&row.input_shapes[0], &row.input_shapes[1]].map(|s| (s.dims()[0], s.dims()[1]));
        let (m, k) = if row.op.starts_with("matmul(aᵀ") { (a.1, a.0) } else { a };
        let n = if row.op.ends_with("bᵀ)") { b.0 } else { b.1 };
        let key = format!("{m}x{k}·{k}x{n}");
        match shapes.iter_mut().find(|s| s.0 == key) {
            Some(s) => (s.1, s.2) = (s.1 + row.time.as_secs_f64() * 1e3, s.2 + row.calls),
            None => shapes.push((key, row.time.as_secs_f64() * 1e3, row.calls)),
        }
    }
    for (key, ms, calls) in shapes {
        println!("matmul {key} {ms:.3} {calls}");
    }
    println!("wall {:.3}", profile.wall.as_secs_f64() * 1e3);
}

struct Shape {
    dim: usize,
    hidden: usize,
    layers: usize,
    batch: usize,
}

/// `--name value` from the command line, or `default`.
fn flag(args: &[String], name: &str, default: usize) -> usize {
    match args.iter().position(|a| a == name) {
        Some(i) => args.get(i + 1).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{name} needs a number")),
        None => default,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let shape = Shape {
        dim: flag(&args, "--dim", 784),
        hidden: flag(&args, "--hidden", 1024),
        layers: flag(&args, "--layers", 2),
        batch: flag(&args, "--batch", 128),
    };
    let threads = flag(&args, "--threads", 2);
    autodiff::threads::pool_with_caller(Some(threads)).expect("the rayon pool is built once");
    let arch: Vec<String> = std::iter::once(shape.dim).chain(std::iter::repeat_n(shape.hidden, shape.layers)).chain([shape.dim]).map(|w| w.to_string()).collect();
    println!(
        "gradgrad, f32 CPU, {} rayon threads: edm-diag conditional MLP {}, SiLU, batch {}; median ms",
        rayon::current_num_threads(),
        arch.join("->"),
        shape.batch
    );
    println!("{:<8} {:<14} {:>10} {:>10}", "step", "timing", "ms", "images/s");
    let profiled = flag(&args, "--profile", 0);
    let only = args.iter().position(|a| a == "--objectives").map(|i| args.get(i + 1).expect("--objectives needs a list").clone());
    for objective in objectives() {
        if only.as_ref().is_some_and(|list| !list.split(',').any(|name| name == objective.name())) {
            continue;
        }
        // A fresh model per objective, so each row starts from the same weights.
        let mut bench = Bench::new(&shape);
        let rows: [(&str, f64); 2] = [
            ("grad", median_ms(|| bench.grad(&objective))),
            ("trainer step", median_ms(|| bench.trainer_step(&objective))),
        ];
        for (timing, ms) in rows {
            println!("{:<8} {:<14} {:>10.2} {:>10.0}", objective.name(), timing, ms, shape.batch as f64 / ms * 1e3);
        }
        if profiled > 0 {
            // Counted apart from the profile, whose own bookkeeping allocates.
            let ((), (count, large)) = peak_alloc::allocations_during(|| (0..profiled).for_each(|_| _ = bench.grad(&objective)));
            let ((), steps) = profile(|| (0..profiled).for_each(|_| _ = bench.grad(&objective)));
            let step = steps.per_run(profiled as u32);
            println!("profile of {} grad, per step (mean of {profiled}):", objective.name());
            let large_kib = peak_alloc::LARGE_BYTES >> 10;
            println!("heap allocations per step: {}, of which {} of {large_kib} KiB or more", count / profiled, large / profiled);
            println!("{}", step.table(25));
            print_matmuls(&step);
        }
    }
}
