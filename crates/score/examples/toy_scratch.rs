// TEMPORARY tuning harness (to be deleted).
use autodiff::{grad, DType};
use rand::{rngs::StdRng, SeedableRng};
use score::optim::{clip_grad_norm, Adam, Optimizer};
use score::*;

fn cpu() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap();
    let f: Vec<&str> = s.rsplit(')').next().unwrap().split_whitespace().collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
}
fn env(k: &str, d: f64) -> f64 { std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d) }

fn main() {
    let modes = env("MODES", 8.0) as usize;
    let radius = env("RADIUS", 2.5);
    let std = env("STD", 0.3);
    let hidden = env("HIDDEN", 64.0) as usize;
    let layers = env("LAYERS", 2.0) as usize;
    let steps = env("STEPS", 2000.0) as usize;
    let batch = env("BATCH", 256.0) as usize;
    let lr = env("LR", 3e-3);
    let smax = env("SMAX", 4.0);
    let smin = env("SMIN", 0.3);
    let nl = env("NL", 10.0) as usize;
    let dsm = env("DSM", 0.2);
    let f32_ = env("F32", 0.0) > 0.0;
    let dtype = if f32_ { DType::F32 } else { DType::F64 };
    let which = std::env::var("OBJ").unwrap_or("exact,ssm-vr,dsm,anneal-dsm".into());
    let mixture = GaussianMixture::ring(modes, radius, std);
    let mut hr = StdRng::seed_from_u64(99);
    let held = mixture.sample(2000, &mut hr).0;
    let held_s = mixture.smoothed(smin).sample(2000, &mut hr).0;
    let held_d = mixture.smoothed(dsm).sample(2000, &mut hr).0;
    for name in which.split(',') {
        let obj = match name {
            "exact" => Objective::Exact { strategy: TraceStrategy::Auto },
            "ssm" => Objective::Ssm { projections: 1, distribution: Projection::Gaussian },
            "ssm-vr" => Objective::SsmVr { projections: 1, distribution: Projection::Gaussian },
            "hutchinson" => Objective::Hutchinson { projections: 4, distribution: Projection::Rademacher },
            "dsm" => Objective::Dsm { sigma: dsm },
            "anneal-dsm" => Objective::AnnealDsm { sigmas: geometric_sigmas(smax, smin, nl) },
            _ => panic!(),
        };
        let cfg = MlpConfig { dim: 2, hidden, hidden_layers: layers, activation: Activation::Softplus, output_activation: None, dtype };
        let mut model = Mlp::new(&cfg, 7);
        let eval = |m: &Mlp| -> (f64, f64) {
            let hd = held.to_dtype(dtype);
            match name {
                "anneal-dsm" => { let c = ScaledScore { model: m, factor: 1.0 / smin }; (mixture.fisher_divergence(&c, &hd), mixture.smoothed(smin).fisher_divergence(&c, &held_s.to_dtype(dtype))) }
                "dsm" => (mixture.fisher_divergence(m, &hd), mixture.smoothed(dsm).fisher_divergence(m, &held_d.to_dtype(dtype))),
                _ => (mixture.fisher_divergence(m, &hd), f64::NAN),
            }
        };
        let init = eval(&model);
        let mut opt = Adam::new(lr);
        let mut rng = StdRng::seed_from_u64(8);
        let (c0, t0) = (cpu(), std::time::Instant::now());
        for step in 0..steps {
            let p = step as f64 / steps as f64;
            opt.set_learning_rate(lr * (0.55 + 0.45 * (std::f64::consts::PI * p).cos()));
            let x = mixture.sample(batch, &mut rng).0.to_dtype(dtype);
            let out = obj.loss(&model, &x, &mut rng).unwrap();
            let params = model.parameters();
            let g = grad(&[out.loss], &params, None, false);
            let (g, _) = clip_grad_norm(&g, Some(10.0));
            model = model.with_parameters(&opt.step(&params, &g));
        }
        let fin = eval(&model);
        println!("{name:<11} steps {steps} cpu {:.2}s wall {:.2}s  init FD p {:.3} tgt {:.3}  final FD p {:.4} tgt {:.4}  ratio {:.1}", cpu() - c0, t0.elapsed().as_secs_f64(), init.0, init.1, fin.0, fin.1, if name == "anneal-dsm" || name == "dsm" { init.1 / fin.1 } else { init.0 / fin.0 });
    }
}
