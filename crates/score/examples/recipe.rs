// Temporary tuning driver (not shipped): trains a conditional model by DSM and draws samples.
use std::time::Instant;

use autodiff::{grad, DType, Tensor};
use rand::{Rng, SeedableRng};
use score::optim::{clip_grad_norm, Adam, Ema, Optimizer};
use score::*;

fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let dir = std::env::args().nth(1).unwrap_or("/tmp/package/data".into());
    let out = std::env::args().nth(2).unwrap_or("/tmp/recipe.png".into());
    let splits = mnist::load_dir(mnist::Kind::Mnist, std::path::Path::new(&dir)).unwrap();
    let hidden: usize = arg("H", 1024);
    let layers: usize = arg("L", 2);
    let act: Activation = arg("ACT", Activation::Silu);
    let param = match arg("P", "edm".to_string()).as_str() {
        "ncsn" => Parametrisation::Ncsn,
        _ => Parametrisation::Edm { sigma_data: arg("SD", 0.33) },
    };
    let steps: u64 = arg("STEPS", 3000);
    let secs: f64 = arg("SECS", 1e9);
    let batch: usize = arg("B", 128);
    let lr: f64 = arg("LR", 1e-3);
    let ema_decay: f64 = arg("EMA", 0.999);
    let smax: f64 = arg("SMAX", 40.0);
    let smin: f64 = arg("SMIN", 0.002);
    let pmean: f64 = arg("PMEAN", -1.2 + 0.5f64.ln());
    let pstd: f64 = arg("PSTD", 1.2);
    let every: bool = arg("EVERY", true);
    let objective = match arg("OBJ", "dsm".to_string()).as_str() {
        "exact" => ConditionalObjective::Exact { strategy: TraceStrategy::Auto },
        "ssm-vr" => ConditionalObjective::SsmVr { projections: 1, distribution: Projection::Gaussian },
        _ => ConditionalObjective::Dsm,
    };
    let dist = match arg("DIST", "lognormal".to_string()).as_str() {
        "ladder" => SigmaDistribution::Ladder { max: smax, min: arg("LMIN", 0.01), levels: arg("LEVELS", 10) },
        "loguniform" => SigmaDistribution::LogUniform { min: smin, max: smax },
        _ => SigmaDistribution::LogNormal { mean: pmean, std: pstd, min: smin, max: smax },
    };
    let config = ConditionalConfig {
        mlp: MlpConfig { dim: 784, hidden, hidden_layers: layers, activation: act, output_activation: None, dtype: DType::F32 },
        parametrisation: param,
        frequencies: 16,
        embed_every_layer: every,
    };
    let mut model = ConditionalMlp::new(&config, 1);
    let probe = Tensor::zeros([1], DType::F32);
    let table = model.conditioning.table(&dist.levels(), &probe);
    let mut adam = Adam::new(lr);
    let mut ema = Ema::new(ema_decay);
    let warmup: f64 = arg("WARMUP", 200.0);
    let train = &splits.train;
    let began = Instant::now();
    let mut avg = 0.0;
    let mut taken = 0;
    for step in 1..=steps {
        if began.elapsed().as_secs_f64() > secs {
            break;
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(step);
        let idx = autodiff::backend::counter_rng::uniform_indices(rng.random(), batch, train.len());
        let mut v = Vec::with_capacity(batch * 784);
        for i in idx {
            v.extend_from_slice(train.image(i));
        }
        let x = Tensor::from_vec(v, [batch, 784]);
        adam.set_learning_rate(lr * (step as f64 / warmup).min(1.0));
        let out = objective.loss(&model, &x, &table, &mut rng).unwrap();
        let params = model.parameters();
        let grads = grad(&[out.loss.clone()], &params, None, false);
        let (grads, _) = clip_grad_norm(&grads, Some(arg("CLIP", 1e9)));
        let loss = out.loss.item();
        avg = if step == 1 { loss } else { 0.99 * avg + 0.01 * loss };
        model = model.with_parameters(&adam.step(&params, &grads));
        ema.update(&model.parameters());
        taken = step;
        if step % 500 == 0 {
            eprintln!("step {step} loss {avg:.3} {:.1}s", began.elapsed().as_secs_f64());
        }
    }
    let train_s = began.elapsed().as_secs_f64();
    let ema_model = model.with_parameters(ema.weights());
    let n = 64;
    let sampler_kind = arg("SAMPLER", "heun".to_string());
    let sn: usize = arg("SN", 30);
    let sampler = match sampler_kind.as_str() {
        "langevin" => Sampler::AnnealedLangevin { sigmas: geometric_sigmas(smax.min(arg("LSMAX", 20.0)), arg("LMIN", 0.01), sn), steps_per_level: arg("T", 5), epsilon: arg("EPS", 2e-5) },
        "sde" => Sampler::ReverseSde { sigmas: edm_sigmas(smax, smin.max(0.005), sn, 7.0), corrector: None },
        "pc" => Sampler::ReverseSde { sigmas: edm_sigmas(smax, smin.max(0.005), sn, 7.0), corrector: Some(Corrector { steps: 1, snr: arg("SNR", 0.16) }) },
        _ => Sampler::Heun { sigmas: edm_sigmas(smax, smin, sn, 7.0) },
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(99);
    let x0 = noise::randn([n, 784], DType::F32, &mut rng).scale(sampler.sigmas()[0]);
    let began = Instant::now();
    let score = |x: &Tensor, sigma: f64| ema_model.score(x, &ema_model.level(sigma, x));
    let x = sampler.run(&score, &x0, &mut rng).to_vec::<f32>();
    let sample_s = began.elapsed().as_secs_f64();
    let clamped: Vec<f32> = x.iter().map(|v| v.clamp(0.0, 1.0)).collect();
    let images: Vec<&[f32]> = clamped.chunks(784).collect();
    plot::image_grid(&images, 8, 8, 28, 28, 2, 2).save_png(std::path::Path::new(&out)).unwrap();
    println!("{taken} steps in {train_s:.0}s ({:.1} ms/step), loss {avg:.3}; {sampler} in {sample_s:.1}s -> {out}", 1e3 * train_s / taken as f64);
}
