//! Every score-matching objective, trained on a 2-D Gaussian mixture whose
//! score is known in closed form, and judged against it.
//!
//! ```sh
//! cargo run -p score --example toy2d            # PNGs into runs/toy2d/
//! cargo run -p score --example toy2d -- OUT_DIR
//! ```
//!
//! Each objective trains the same network (2→64→64→2, softplus, f64) from
//! the same seed with Adam for a fixed number of steps on fresh samples. The
//! table reports the Fisher divergence ½E‖s_θ − ∇log p‖² on held-out samples
//! against the analytic score, and the held-out exact score-matching loss
//! E[tr ∂s/∂x + ½‖s‖²], whose optimum, reached by the true score, is
//! −½E‖∇log p‖² (integration by parts), printed below the table: a model's
//! loss minus that optimum estimates its Fisher divergence.
//!
//! The denoising objectives learn the score of the noise-smoothed density
//! p_σ = p ∗ N(0, σ²I), itself a mixture with variances s² + σ², so for them
//! the table also gives the divergence from what they aim at: p_σ for `dsm`,
//! and for `anneal-dsm` the noise-conditional model s(x)/σ_min against
//! p_{σ_min}.
//!
//! One PNG per objective (and `truth.png`, the true score): left, the learnt
//! field (red arrows) over the true one (blue) on the density; right,
//! Langevin samples over the density's contours. Models trained on clean data
//! are sampled by plain Langevin from a uniform start, which does not cross
//! between modes: each mode keeps the starts in its basin. `anneal-dsm` and
//! the truth are sampled by annealed Langevin, which does.

use std::path::PathBuf;
use std::time::Instant;

use autodiff::{grad, DType, Tensor};
use plot::{blues, contours, heatmap, Canvas, Frame, Grid, BLACK, WHITE};
use rand::{rngs::StdRng, SeedableRng};
use score::density::grid_points;
use score::optim::{clip_grad_norm, Adam, Optimizer};
use score::{
    annealed_langevin, exact_loss_value, geometric_sigmas, langevin, Activation, AnnealedSchedule, GaussianMixture, Mlp, MlpConfig, Objective, Projection, ScaledScore, ScoreModel,
    TraceStrategy, TrueScore,
};

const SEED: u64 = 7;
const BATCH: usize = 256;
const HELD_OUT: usize = 4000;
const SAMPLES: usize = 1500;
const DSM_SIGMA: f64 = 0.1;

/// The ground truth: eight modes on a ring, with unequal weights so that the
/// samplers' mode weights are visible.
fn mixture() -> GaussianMixture {
    GaussianMixture::ring(8, 2.5, 0.3).with_weights(vec![1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 1.0, 2.0])
}

/// The σ ladder of `anneal-dsm` (and of every annealed sampler here).
fn ladder() -> Vec<f64> {
    geometric_sigmas(3.0, 0.05, 10)
}

struct Run {
    objective: Objective,
    steps: usize,
    lr: f64,
}

fn runs() -> Vec<Run> {
    vec![
        Run { objective: Objective::Exact { strategy: TraceStrategy::Auto }, steps: 3000, lr: 3e-3 },
        Run { objective: Objective::Ssm { projections: 1, distribution: Projection::Gaussian }, steps: 3000, lr: 3e-3 },
        Run { objective: Objective::SsmVr { projections: 1, distribution: Projection::Gaussian }, steps: 3000, lr: 3e-3 },
        Run { objective: Objective::Hutchinson { projections: 4, distribution: Projection::Rademacher }, steps: 3000, lr: 3e-3 },
        Run { objective: Objective::Dsm { sigma: DSM_SIGMA }, steps: 3000, lr: 3e-3 },
        Run { objective: Objective::AnnealDsm { sigmas: ladder() }, steps: 3000, lr: 3e-3 },
    ]
}

/// Trains a fresh network with `objective`; returns it and the seconds taken.
fn train(mixture: &GaussianMixture, run: &Run) -> (Mlp, f64, Option<f64>) {
    let config = MlpConfig { dim: 2, hidden: 64, hidden_layers: 2, activation: Activation::Softplus, output_activation: None, dtype: DType::F64 };
    let mut model = Mlp::new(&config, SEED);
    let mut optimizer = Adam::new(run.lr);
    let mut rng = StdRng::seed_from_u64(SEED + 1);
    let mut trace_variance = Vec::new();
    let start = Instant::now();
    for step in 0..run.steps {
        // A cosine decay of the learning rate to a tenth settles the noisy objectives.
        let progress = step as f64 / run.steps as f64;
        optimizer.set_learning_rate(run.lr * (0.55 + 0.45 * (std::f64::consts::PI * progress).cos()));
        let (x, _) = mixture.sample(BATCH, &mut rng);
        let out = run.objective.loss(&model, &x, &mut rng).unwrap_or_else(|e| panic!("step {step}: {e}"));
        trace_variance.extend(out.trace_variance);
        let params = model.parameters();
        let grads = grad(&[out.loss], &params, None, false);
        let (grads, _) = clip_grad_norm(&grads, Some(10.0));
        model = model.with_parameters(&optimizer.step(&params, &grads));
    }
    let mean_variance = (!trace_variance.is_empty()).then(|| trace_variance.iter().sum::<f64>() / trace_variance.len() as f64);
    (model, start.elapsed().as_secs_f64(), mean_variance)
}

/// `SAMPLES` points uniform over the box.
fn uniform_start(box_: Box2, rng: &mut StdRng) -> Tensor {
    let ((x0, x1), (y0, y1)) = box_;
    let u = score::noise::uniform([SAMPLES, 2], 0.0, 1.0, DType::F64, rng);
    &(&u * &Tensor::from_vec(vec![x1 - x0, y1 - y0], [1, 2])) + &Tensor::from_vec(vec![x0, y0], [1, 2])
}

/// The NCSN schedule over [`ladder`]: 100 steps per level, ε = 0.1·σ_min².
fn schedule(denoise: bool) -> AnnealedSchedule {
    let sigma_min = *ladder().last().unwrap();
    AnnealedSchedule { sigmas: ladder(), steps_per_level: 100, epsilon: 0.1 * sigma_min * sigma_min, denoise }
}

type Box2 = ((f64, f64), (f64, f64));

/// Langevin samples for a figure from uniform starts: annealed (with or
/// without the noise-conditional reading s(x)/σ) or plain.
fn sample(model: &dyn ScoreModel, annealed: Option<bool>, box_: Box2, seed: u64) -> Tensor {
    let mut rng = StdRng::seed_from_u64(seed);
    let start = uniform_start(box_, &mut rng);
    match annealed {
        Some(noise_conditional) => annealed_langevin(model, &start, &schedule(true), noise_conditional, &mut rng),
        None => langevin(model, &start, 0.005, 1000, &mut rng),
    }
}

/// Left: the learnt field (red) over the true one (blue); right: samples over contours.
fn figure(mixture: &GaussianMixture, model: &dyn ScoreModel, samples: &Tensor, title: &str, subtitle: &str) -> Canvas {
    let box_ = mixture.bounds(4.0);
    let (panel, margin, top) = (420.0, 20.0, 50.0);
    let mut canvas = Canvas::new((2.0 * panel + 3.0 * margin) as usize, (panel + top + margin) as usize, WHITE);
    canvas.text_scaled(margin as i64, 8, title, BLACK, 2);
    canvas.text(margin as i64, 30, subtitle, BLACK);
    let frames = [Frame::new(box_.0, box_.1, margin, top, panel, panel), Frame::new(box_.0, box_.1, 2.0 * margin + panel, top, panel, panel)];

    let density = Grid::sample(box_.0, box_.1, 120, 120, |x, y| mixture.log_density_at([x, y]).exp());
    let peak = density.finite_range().1;
    for frame in &frames {
        heatmap(&mut canvas, frame, &density, Some((0.0, 1.6 * peak)), blues);
    }

    // Arrows on a 17×17 grid, lengths squashed (|s|/(|s| + s_ref)) so that
    // the large scores far from the modes do not swamp the picture.
    let n = 17;
    let points = grid_points(box_.0, box_.1, n, DType::F64);
    let truth = mixture.score(&points).to_vec_f64();
    let learnt = autodiff::no_grad(|| model.score(&points)).to_vec_f64();
    let xy = points.to_vec_f64();
    let cell = panel / n as f64;
    let s_ref = {
        let mut norms: Vec<f64> = truth.chunks(2).map(|s| s[0].hypot(s[1])).collect();
        norms.sort_by(f64::total_cmp);
        norms[norms.len() / 2]
    };
    for (field, colour) in [(&truth, [40, 80, 200]), (&learnt, [220, 30, 30])] {
        for i in 0..n * n {
            let (sx, sy) = (field[2 * i], field[2 * i + 1]);
            let norm = sx.hypot(sy);
            if !norm.is_finite() || norm == 0.0 {
                continue;
            }
            let length = 0.95 * cell * norm / (norm + s_ref);
            let (px, py) = frames[0].to_pixel(xy[2 * i], xy[2 * i + 1]);
            // Pixel y points down: flip the field's y.
            canvas.arrow(px, py, px + length * sx / norm, py - length * sy / norm, colour);
        }
    }

    let log_peak = peak.ln();
    let levels: Vec<f64> = [0.02, 0.1, 0.3, 0.6].iter().map(|f| log_peak + f64::ln(*f)).collect();
    let log_density = Grid::sample(box_.0, box_.1, 150, 150, |x, y| mixture.log_density_at([x, y]));
    contours(&mut canvas, &frames[1], &log_density, &levels, [90, 90, 140]);
    let s = samples.to_vec_f64();
    for p in s.chunks(2) {
        if frames[1].contains(p[0], p[1]) {
            let (px, py) = frames[1].to_pixel(p[0], p[1]);
            canvas.disc(px, py, 1.6, [200, 20, 20]);
        }
    }
    for frame in &frames {
        frame.outline(&mut canvas, BLACK);
    }
    canvas.text(frames[0].left as i64 + 4, frames[0].top as i64 + 4, "learnt (red) over true (blue) score", BLACK);
    canvas.text(frames[1].left as i64 + 4, frames[1].top as i64 + 4, "Langevin samples, density contours", BLACK);
    canvas
}

fn main() {
    let out_dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "runs/toy2d".into()));
    std::fs::create_dir_all(&out_dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", out_dir.display()));
    let mixture = mixture();
    let sigma_min = *ladder().last().unwrap();
    let mut held_rng = StdRng::seed_from_u64(SEED + 100);
    let (held_out, _) = mixture.sample(HELD_OUT, &mut held_rng);
    let held_out_dsm = mixture.smoothed(DSM_SIGMA).sample(HELD_OUT, &mut held_rng).0;
    let held_out_anneal = mixture.smoothed(sigma_min).sample(HELD_OUT, &mut held_rng).0;
    let truth_scores = mixture.score(&held_out).to_vec_f64();
    let optimum = -0.5 * truth_scores.iter().map(|v| v * v).sum::<f64>() / HELD_OUT as f64;
    let box_ = mixture.bounds(4.0);

    println!("toy2d: {} modes on a ring, 2→64→64→2 softplus f64, Adam, batch {BATCH}, seed {SEED}", mixture.n_components());
    println!("{:<11} {:>6} {:>8} {:>12} {:>12} {:>12}  {}", "objective", "steps", "wall s", "FD vs p", "FD vs target", "SM loss", "note");
    let untrained = Mlp::new(&MlpConfig { dim: 2, hidden: 64, hidden_layers: 2, activation: Activation::Softplus, output_activation: None, dtype: DType::F64 }, SEED);
    println!(
        "{:<11} {:>6} {:>8} {:>12.4} {:>12} {:>12.4}",
        "(init)",
        0,
        "-",
        mixture.fisher_divergence(&untrained, &held_out),
        "-",
        exact_loss_value(&untrained, &held_out, TraceStrategy::Auto).unwrap()
    );
    for run in runs() {
        let name = run.objective.name();
        let (model, wall, trace_variance) = train(&mixture, &run);
        let (evaluated, target, samples): (Box<dyn ScoreModel + '_>, Option<f64>, Tensor) = match &run.objective {
            Objective::Dsm { sigma } => (Box::new(model.clone()), Some(mixture.smoothed(*sigma).fisher_divergence(&model, &held_out_dsm)), sample(&model, None, box_, SEED + 2)),
            Objective::AnnealDsm { .. } => {
                let conditional = ScaledScore { model: &model, factor: 1.0 / sigma_min };
                let fd = mixture.smoothed(sigma_min).fisher_divergence(&conditional, &held_out_anneal);
                let samples = sample(&model, Some(true), box_, SEED + 2);
                (Box::new(conditional), Some(fd), samples)
            }
            _ => (Box::new(model.clone()), None, sample(&model, None, box_, SEED + 2)),
        };
        let fd = mixture.fisher_divergence(evaluated.as_ref(), &held_out);
        let loss = exact_loss_value(evaluated.as_ref(), &held_out, TraceStrategy::Auto).unwrap();
        let note = match (&run.objective, trace_variance) {
            (Objective::Dsm { sigma }, _) => format!("target p_σ, σ = {sigma}"),
            (Objective::AnnealDsm { .. }, _) => format!("s(x)/σ_min, target p_σ_min, σ_min = {sigma_min}"),
            (_, Some(v)) => format!("mean trace-estimate variance {v:.3}"),
            _ => String::new(),
        };
        let target_text = target.map_or("-".to_string(), |t| format!("{t:.4}"));
        println!("{name:<11} {:>6} {wall:>8.1} {fd:>12.4} {target_text:>12} {loss:>12.4}  {note}", run.steps);
        let subtitle = format!("{} steps, lr {}, Fisher divergence {fd:.4} (vs p), held-out SM loss {loss:.4} (optimum {optimum:.4})", run.steps, run.lr);
        let png = out_dir.join(format!("{name}.png"));
        figure(&mixture, evaluated.as_ref(), &samples, name, &subtitle).save_png(&png).unwrap_or_else(|e| panic!("cannot write {}: {e}", png.display()));
    }
    println!("optimum of the SM loss (true score): {optimum:.4}");

    let truth = TrueScore::new(mixture.clone());
    let mut rng = StdRng::seed_from_u64(SEED + 3);
    let start = uniform_start(box_, &mut rng);
    let samples = mixture.annealed_langevin(&start, &schedule(true), &mut rng);
    let weights = mixture.mode_weights(&samples);
    let subtitle = format!("annealed Langevin on the true smoothed scores; mode weights {:?}", weights.iter().map(|w| (w * 100.0).round() / 100.0).collect::<Vec<_>>());
    figure(&mixture, &truth, &samples, "truth", &subtitle).save_png(&out_dir.join("truth.png")).expect("cannot write truth.png");
    println!("wrote {} PNGs to {}", runs().len() + 1, out_dir.display());
}
