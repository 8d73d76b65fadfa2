//! The exact score-matching step with the Jacobian diagonal three ways (the
//! loop of D backward passes, one batched backward pass, the structure-aware
//! trace), timed and weighed as D, H, B and the depth grow: the table and the
//! plot of the guide's chapter 3 (`docs/guide/03-jacobian-diagonal.md`).
//!
//! ```sh
//! cargo run -p score --example diagonal_cost                  # table, and docs/guide/diagonal-cost.png
//! cargo run -p score --example diagonal_cost -- --quick OUT   # tiny sizes, the plot into OUT/
//! ```
//!
//! One step is the forward pass, the loss `mean(tr ∂s/∂x + ½‖s‖²)` and its
//! gradient to every parameter, f32, softplus; time is the median of up to 5
//! steps after one warm-up, memory the peak heap above what was live before.

use std::path::PathBuf;
use std::time::Instant;

use autodiff::{grad, DType};
use plot::{line_chart, Series, PALETTE};
use rand::{rngs::StdRng, SeedableRng};
use score::{noise, Activation, Mlp, MlpConfig, Objective, ScoreModel, TraceStrategy};

#[path = "../../../benches/common/peak_alloc.rs"]
mod peak_alloc;

const STRATEGIES: [TraceStrategy; 3] = [TraceStrategy::Loop, TraceStrategy::Batched, TraceStrategy::StructureAware];

#[derive(Clone, Copy)]
struct Shape {
    dim: usize,
    hidden: usize,
    batch: usize,
    layers: usize,
}

/// `(ms, peak MB)` of one exact-SM training step of `shape` with `strategy`.
fn measure(shape: Shape, strategy: TraceStrategy) -> (f64, f64) {
    let config = MlpConfig { dim: shape.dim, hidden: shape.hidden, hidden_layers: shape.layers, activation: Activation::Softplus, output_activation: None, dtype: DType::F32 };
    let model = Mlp::new(&config, 0);
    let x = noise::randn([shape.batch, shape.dim], DType::F32, &mut StdRng::seed_from_u64(1));
    let objective = Objective::Exact { strategy };
    let mut rng = StdRng::seed_from_u64(0);
    let mut step = || {
        let loss = objective.loss(&model, &x, &mut rng).expect("an MLP takes every strategy").loss;
        let grads = grad(std::slice::from_ref(&loss), &model.parameters(), None, false);
        assert!(loss.item().is_finite());
        std::hint::black_box(grads);
    };
    step();
    let mut times = Vec::new();
    let mut peak = 0;
    let budget = Instant::now();
    while times.len() < 5 && (times.is_empty() || budget.elapsed().as_secs_f64() < 1.0) {
        let t = Instant::now();
        let (_, held) = peak_alloc::peak_during(&mut step);
        times.push(t.elapsed().as_secs_f64() * 1e3);
        peak = peak.max(held);
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], peak as f64 / 1e6)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let out = args.iter().find(|a| !a.starts_with("--")).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("docs/guide"));
    let base = if quick { Shape { dim: 8, hidden: 16, batch: 4, layers: 1 } } else { Shape { dim: 64, hidden: 128, batch: 16, layers: 1 } };
    let dims: &[usize] = if quick { &[4, 8] } else { &[8, 16, 32, 64, 128, 256] };
    let hiddens: &[usize] = if quick { &[8] } else { &[32, 512] };
    let batches: &[usize] = if quick { &[8] } else { &[4, 64] };
    let depths: &[usize] = if quick { &[2] } else { &[2, 3] };

    let mut rows: Vec<(String, Shape)> = dims.iter().map(|&dim| (format!("D = {dim}"), Shape { dim, ..base })).collect();
    rows.extend(hiddens.iter().map(|&hidden| (format!("H = {hidden}"), Shape { hidden, ..base })));
    rows.extend(batches.iter().map(|&batch| (format!("B = {batch}"), Shape { batch, ..base })));
    rows.extend(depths.iter().map(|&layers| (format!("{layers} hidden layers"), Shape { layers, ..base })));

    println!("One exact-SM step, f32, softplus; base D = {}, H = {}, B = {}, 1 hidden layer; ms and peak MB", base.dim, base.hidden, base.batch);
    println!();
    println!("| shape | loop ms | batched ms | structure-aware ms | loop MB | batched MB | structure-aware MB |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut by_dim: Vec<Vec<(f64, f64)>> = vec![Vec::new(); STRATEGIES.len()];
    for (name, shape) in &rows {
        let measured: Vec<(f64, f64)> = STRATEGIES.iter().map(|&s| measure(*shape, s)).collect();
        println!(
            "| {name} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            measured[0].0, measured[1].0, measured[2].0, measured[0].1, measured[1].1, measured[2].1
        );
        if name.starts_with("D = ") {
            for (series, m) in by_dim.iter_mut().zip(&measured) {
                series.push((shape.dim as f64, m.0));
            }
        }
    }

    let series: Vec<Series> = STRATEGIES
        .iter()
        .zip(by_dim)
        .enumerate()
        .map(|(i, (s, points))| Series { name: s.to_string(), points, color: PALETTE[i] })
        .collect();
    let title = format!("exact-SM step, H = {}, B = {}", base.hidden, base.batch);
    let chart = line_chart(&series, &title, "input dimension D", "ms per step (log)", 640, 400, true);
    std::fs::create_dir_all(&out).expect("the output folder can be made");
    let path = out.join("diagonal-cost.png");
    chart.save_png(&path).expect("the plot can be written");
    println!();
    println!("wrote {}", path.display());
}
