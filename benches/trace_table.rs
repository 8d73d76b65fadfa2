//! One training step (forward, loss, gradient to the parameters) per
//! objective and trace strategy, over D × hidden × batch, in ms, with the
//! step's peak heap memory. Prints a table.
//!
//! `cargo bench --bench trace_table` (all of it; the loop strategy at D = 784
//! takes a while), or `cargo bench --bench trace_table -- --quick` for D ≤ 64
//! plus the headline 784→512→784 row. Add `--layers 2` for 784→512→512→784,
//! `--only D,H,B` for one configuration, `--strategies dsm,ssm_vr` for some rows, and
//! `--profile N` to print each row's op profile (`autodiff::profile`), per step over N steps.

use std::time::Instant;

use autodiff::{grad, profile, DType, Tensor};
use rand::{rngs::StdRng, SeedableRng};
use score::{noise, structured_diagonal, Activation, Mlp, MlpConfig, Objective, Projection, ScoreModel, TraceStrategy};

#[path = "common/peak_alloc.rs"]
mod peak_alloc;

/// A row's loss on a batch, recorded for the gradient to the parameters.
type Loss = Box<dyn Fn(&Mlp, &Tensor, &mut StdRng) -> Tensor>;

fn losses() -> Vec<(&'static str, Loss)> {
    let objective = |o: Objective| -> Loss { Box::new(move |m, x, rng| o.loss(m, x, rng).expect("loss").loss) };
    let (projections, distribution) = (1, Projection::Gaussian);
    // The exact loss from the whole structure-aware diagonal, summed, as before
    // the trace was rotated: the row shows what the rotation saves.
    let via_diagonal: Loss = Box::new(|m, x, _| {
        let (score, diagonal) = structured_diagonal(m, x);
        (&diagonal.sum() + &score.square().sum().scale(0.5)).scale(1.0 / x.dims()[0] as f64)
    });
    vec![
        ("loop", objective(Objective::Exact { strategy: TraceStrategy::Loop })),
        ("batched", objective(Objective::Exact { strategy: TraceStrategy::Batched })),
        ("structured-diag", via_diagonal),
        ("structure-aware", objective(Objective::Exact { strategy: TraceStrategy::StructureAware })),
        ("ssm", objective(Objective::Ssm { projections, distribution })),
        ("ssm_vr", objective(Objective::SsmVr { projections, distribution })),
        ("hutchinson", objective(Objective::Hutchinson { projections, distribution })),
        ("dsm", objective(Objective::Dsm { sigma: 0.1 })),
    ]
}

/// One training step; returns the loss so nothing is optimised away.
fn step(loss: &Loss, model: &Mlp, x: &Tensor, rng: &mut StdRng) -> f64 {
    let loss = loss(model, x, rng);
    let grads = grad(std::slice::from_ref(&loss), &model.parameters(), None, false);
    std::hint::black_box(grads);
    let value = loss.item();
    assert!(value.is_finite(), "the loss is {value}");
    value
}

/// (median ms, peak MB above the baseline) over a few repetitions.
fn measure(loss: &Loss, model: &Mlp, x: &Tensor) -> (f64, f64) {
    let mut rng = StdRng::seed_from_u64(0);
    let start = Instant::now();
    step(loss, model, x, &mut rng); // warm-up, and a first timing
    let first = start.elapsed().as_secs_f64();
    let reps = if first > 2.0 { 1 } else { ((2.0 / first) as usize).clamp(1, 15) };
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        step(loss, model, x, &mut rng);
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    // Memory in a step of its own: `peak_during` turns the buffer cache off,
    // which the timed steps keep on, as training does.
    let (_, peak) = peak_alloc::peak_during(|| step(loss, model, x, &mut rng));
    (times[times.len() / 2], peak as f64 / 1e6)
}

fn main() {
    autodiff::threads::pool_with_caller(None).expect("the rayon pool is built once");
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let layers: usize = args.iter().position(|a| a == "--layers").map(|i| args[i + 1].parse().unwrap()).unwrap_or(1);
    // `--only D,H,B` times one configuration (the trainer's: `--only 784,1024,128`).
    let only: Option<Vec<usize>> = args.iter().position(|a| a == "--only").map(|i| args[i + 1].split(',').map(|v| v.parse().unwrap()).collect());
    let strategies: Option<String> = args.iter().position(|a| a == "--strategies").map(|i| args[i + 1].clone());
    let profiled: u32 = args.iter().position(|a| a == "--profile").map(|i| args[i + 1].parse().expect("--profile needs a number")).unwrap_or(0);
    let wanted = |name: &str| strategies.as_ref().is_none_or(|list| list.split(',').any(|s| s == name));
    let mut configs = Vec::new();
    if let Some(o) = &only {
        configs.push((o[0], o[1], o[2]));
    }
    for &d in &[2usize, 64, 784] {
        if only.is_some() {
            break;
        }
        for &h in &[128usize, 512] {
            for &b in &[16usize, 64] {
                if !quick || d <= 64 || (h == 512 && b == 64) {
                    configs.push((d, h, b));
                }
            }
        }
    }
    println!("one f32 training step, softplus MLP with {layers} hidden layer(s), {} rayon threads", rayon::current_num_threads());
    println!("{:<16} {:>5} {:>6} {:>6} {:>12} {:>12}", "strategy", "D", "hidden", "batch", "step ms", "peak MB");
    for (d, h, b) in configs {
        let config = MlpConfig { dim: d, hidden: h, hidden_layers: layers, activation: Activation::Softplus, output_activation: None, dtype: DType::F32 };
        let model = Mlp::new(&config, 1);
        let x = noise::randn([b, d], DType::F32, &mut StdRng::seed_from_u64(2));
        for (name, loss) in losses().into_iter().filter(|(name, _)| wanted(name)) {
            let (ms, mb) = measure(&loss, &model, &x);
            println!("{name:<16} {d:>5} {h:>6} {b:>6} {ms:>12.3} {mb:>12.1}");
            if profiled > 0 {
                let mut rng = StdRng::seed_from_u64(0);
                let ((), steps) = profile(|| (0..profiled).for_each(|_| _ = step(&loss, &model, &x, &mut rng)));
                println!("{}", steps.per_run(profiled).table(20));
            }
        }
    }
}
