//! The training loop: one step is a minibatch, the objective's loss, its gradient (through the
//! trace, for the second-order objectives), clipping and an Adam update. Around it: held-out
//! evaluation, checkpoints, the progress bar, and the three ways a run ends (finished,
//! interrupted, diverged).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use autodiff::{grad, Tensor};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rand::Rng;
use score::optim::{clip_grad_norm, Adam, Ema, Optimizer};
use score::ScoreError;

use crate::checkpoint::{self, ModelInfo, TrainingState};
use crate::config::TrainConfig;
use crate::data::{self, Purpose};
use crate::error::TrainError;
use crate::eval;
use crate::figures;
use crate::metrics::{self, Row};
use crate::judge::{self, Judge, QualityReport};
use crate::model::Net;
use quality::Quality;

/// The sample-quality figures of the run's samples and of as many real test images.
pub const QUALITY_FILE: &str = "quality.json";

/// Where a run starts from: fresh, or a checkpoint.
pub struct Start {
    /// The trained (not averaged) weights.
    pub model: Net,
    /// Adam's and the EMA's saved state (empty for a fresh run).
    pub optimizer: Vec<(String, Tensor)>,
    /// The step reached, the elapsed time and the RNG state.
    pub state: TrainingState,
    /// Metrics up to `state.step`.
    pub rows: Vec<Row>,
}

impl Start {
    /// A freshly initialised model for the images of `train`; a Gaussian skip starts at their
    /// per-pixel mean and variance.
    pub fn fresh(config: &TrainConfig, train: &mnist::Dataset) -> Start {
        // The initialisation has its own stream, apart from the batches.
        let init_seed = rand::Rng::random(&mut data::stream(config.seed, Purpose::Init, 0));
        let model = match Net::fresh(config, train.dim(), init_seed) {
            Net::Conditional(m) if m.prior.is_some() => {
                let (mean, variance) = data::pixel_moments(train);
                Net::Conditional(m.with_prior(&mean, &variance))
            }
            other => other,
        };
        Start {
            model,
            optimizer: Vec::new(),
            state: TrainingState { step: 0, elapsed_s: 0.0 },
            rows: Vec::new(),
        }
    }
}

/// Everything a run needs.
pub struct Run<'a> {
    /// The run's settings.
    pub config: TrainConfig,
    /// The run folder.
    pub dir: PathBuf,
    /// The training and test images.
    pub splits: &'a mnist::Splits,
    /// A fresh start or a checkpoint.
    pub start: Start,
    /// Where the model, its optimizer state and every batch live.
    pub device: autodiff::Device,
    /// Stop once training has run this long (seconds), whatever `config.steps` says.
    pub time_budget: Option<f64>,
    /// Score [`QUALITY_SAMPLES`] samples every this many steps (needs `judge`).
    pub quality_every: Option<u64>,
    /// The sample-quality classifier, or why there is none (the images do not suit it).
    pub judge: &'a Result<Judge, String>,
    /// Set by Ctrl-C: finish the step, checkpoint, return [`Outcome::Interrupted`].
    pub stop: &'a AtomicBool,
}

/// How a run ended, when it did not fail.
pub enum Outcome {
    /// Every step taken: the summary.
    Finished(Box<Report>),
    /// Stopped by Ctrl-C after a checkpoint.
    Interrupted {
        /// The last step taken.
        step: u64,
    },
}

/// The summary printed at the end of a run.
#[derive(Clone, Debug)]
pub struct Report {
    /// The objective's name.
    pub objective: String,
    /// Steps taken, all sessions.
    pub steps: u64,
    /// Steps taken in this session (less than `steps` after a resume).
    pub session_steps: u64,
    /// Training wall time, all sessions.
    pub train_time_s: f64,
    /// This session's wall time, evaluation and pictures included.
    pub session_time_s: f64,
    /// Training throughput.
    pub images_per_s: f64,
    /// Mean step time this session, ms.
    pub step_time_ms: f64,
    /// Mean training loss over the last 1% of steps (at least one).
    pub final_loss: f64,
    /// The held-out exact score-matching loss at the end.
    pub heldout_exact_sm: f64,
    /// Test images it was measured on.
    pub heldout_images: usize,
    /// The sampler's description.
    pub sampler: String,
    /// Samples drawn, and how long that took.
    pub samples: usize,
    /// Seconds spent sampling.
    pub sampling_s: f64,
    /// Sampler chains that left the pixel range ([`eval::escaped_chains`]).
    pub escaped_samples: usize,
    /// The samples' figures and the real test images', where the classifier applies; else why not.
    pub quality: Result<(Quality, Quality), String>,
    /// The files written.
    pub files: Vec<PathBuf>,
}

impl Report {
    /// The report as printed at the end of a run.
    pub fn render(&self) -> String {
        let mut lines = vec![
            "── report ─────────────────────────────────────────────".to_string(),
            format!("objective                {}", self.objective),
            format!("steps                    {} ({} in this session)", self.steps, self.session_steps),
            format!("training time            {:.1} s ({:.1} s this session, with evaluation and pictures)", self.train_time_s, self.session_time_s),
            format!("throughput               {:.0} images/s, {:.1} ms/step", self.images_per_s, self.step_time_ms),
            format!("final training loss      {:.3} (mean of the last 1% of steps)", self.final_loss),
            format!("held-out exact SM loss   {:.3} ({} test images, same perturbation; lower is better)", self.heldout_exact_sm, self.heldout_images),
            format!("samples                  {} in {:.1} s: {}", self.samples, self.sampling_s, self.sampler),
            format!("escaped chains           {} of {} (a pixel beyond ±{} or NaN)", self.escaped_samples, self.samples, eval::ESCAPE),
        ];
        match &self.quality {
            Ok((samples, real)) => lines.extend(judge::render(samples, real)),
            Err(why) => lines.push(format!("sample quality           not measured: {why}")),
        }
        lines.push("files:".to_string());
        lines.extend(self.files.iter().map(|f| format!("  {}", f.display())));
        lines.join("\n")
    }
}

/// Trains until `config.steps`, the time budget, Ctrl-C, or divergence.
pub fn train(run: Run) -> Result<Outcome, TrainError> {
    let Run { config, dir, splits, start, device, time_budget, quality_every, judge, stop } = run;
    let session_start = Instant::now();
    let (train_set, test_set) = (&splits.train, &splits.test);
    let (dim, img_rows, img_cols) = (train_set.dim(), train_set.rows, train_set.cols);
    let heldout = data::heldout(test_set, config.noise_sigma, None);
    let images = data::Images::new(train_set, device);

    // Checkpoints are read to the CPU; the run itself happens on `device`.
    let mut model = start.model.to_device(device);
    let levels = model.level_table(&config, device);
    let mut adam = Adam::new(config.lr);
    let mut ema = Ema::new(config.ema_decay);
    if !start.optimizer.is_empty() {
        let on_device: Vec<(String, Tensor)> = start.optimizer.iter().map(|(name, t)| (name.clone(), t.to_device(device))).collect();
        let bad = |reason: String| TrainError::BadCheckpoint { path: dir.join(checkpoint::OPTIMIZER_FILE), reason };
        adam.load_state(&on_device).map_err(bad)?;
        ema.load_state(&on_device).map_err(bad)?;
    }
    let mut state = start.state;
    let mut rows = start.rows;
    let first_step = state.step + 1;
    let mut last_checkpoint: Option<u64> = (state.step > 0).then_some(state.step);
    let session_elapsed_before = state.elapsed_s;

    let bar = progress_bar(config.steps, state.step);
    let say = |line: String| if bar.is_hidden() { eprintln!("{line}") } else { bar.println(line) };
    let save = |model: &Net, ema: &Ema, adam: &Adam, state: &TrainingState, rows: &[Row]| -> Result<(), TrainError> {
        let info = ModelInfo { config: config.clone(), rows: img_rows, cols: img_cols, step: state.step };
        let (model_path, optimizer_path) = checkpoint::paths(&dir);
        checkpoint::save_model(&model_path, &averaged(model, ema), &info)?;
        let mut training = adam.state();
        training.extend(checkpoint::trained_weights(model));
        training.extend(ema.state());
        checkpoint::save_optimizer(&optimizer_path, &training, state, config.seed)?;
        metrics::write(&dir.join(metrics::METRICS_FILE), rows)
    };

    for step in first_step..=config.steps {
        if time_budget.is_some_and(|b| state.elapsed_s - session_elapsed_before >= b) {
            say(format!("time budget reached after {} steps", step - 1));
            break;
        }
        let began = Instant::now();
        let mut rng = data::stream(config.seed, Purpose::Batch, step);
        let x = images.sample(config.batch, rng.random());
        let diverged = |what: &'static str, value: f64, last_checkpoint: Option<u64>| TrainError::Diverged {
            step,
            objective: config.objective.to_string(),
            what,
            value,
            lr: config.lr,
            noise_sigma: config.noise_sigma,
            checkpoint: match last_checkpoint {
                Some(at) => format!("The last good checkpoint (step {at}) is intact in {}.", dir.display()),
                None => "No checkpoint had been written yet.".to_string(),
            },
        };
        let out = model.loss(&config, &x, levels.as_ref(), &mut rng)?;
        let params = model.parameters();
        let grads = grad(std::slice::from_ref(&out.loss), &params, None, false);
        let (grads, grad_norm) = clip_grad_norm(grads, Some(config.clip_grad_norm));
        // The step's one copy from the device: the loss and the gradient norm together.
        let [loss, grad_norm] = Tensor::items([&out.loss, &grad_norm]);
        for (what, value) in [("loss", loss), ("gradient norm", grad_norm)] {
            if !value.is_finite() {
                let _ = metrics::write(&dir.join(metrics::METRICS_FILE), &rows);
                return Err(diverged(what, value, last_checkpoint));
            }
        }
        adam.set_learning_rate(warmed_up(config.lr, config.warmup, step));
        let lr = adam.learning_rate();
        model = model.with_parameters(&adam.step(&params, grads));
        ema.update(&model.parameters());
        let took = began.elapsed().as_secs_f64();
        state = TrainingState { step, elapsed_s: state.elapsed_s + took };
        let images_per_s = config.batch as f64 / took.max(1e-9);
        rows.push(Row {
            step,
            loss,
            grad_norm,
            lr,
            wall_time_s: state.elapsed_s,
            images_per_s,
            heldout_exact_sm: None,
            inception_score: None,
            confident_share: None,
        });

        let last = step == config.steps;
        if step % config.eval_every == 0 || last {
            let value = eval::heldout_exact_sm(&averaged(&model, &ema), &heldout, dim, config.noise_sigma).map_err(|e| match e {
                ScoreError::NonFinite { value, .. } => diverged("held-out loss", value, last_checkpoint),
                e => e.into(),
            })?;
            rows.last_mut().unwrap().heldout_exact_sm = Some(value);
            say(format!("step {step:>6}/{}  loss {loss:>10.3}  held-out exact SM {value:>10.3}  {images_per_s:>6.0} img/s", config.steps));
        }
        if let (Some(every), Ok(judge)) = (quality_every, judge) {
            if step % every == 0 || last {
                let samples = eval::draw(&averaged(&model, &ema), &config, QUALITY_SAMPLES, config.seed);
                let q = judge.score(&samples.raw)?;
                let row = rows.last_mut().unwrap();
                (row.inception_score, row.confident_share) = (Some(q.inception_score), Some(q.confident_share));
                say(format!("step {step:>6}/{}  {QUALITY_SAMPLES} samples: {}", config.steps, judge::headline(&q)));
            }
        }
        bar.set_position(step);
        bar.set_message(format!("loss {loss:.2} · {images_per_s:.0} img/s"));
        let interrupted = stop.load(Ordering::SeqCst);
        if step % config.checkpoint_every == 0 || last || interrupted {
            save(&model, &ema, &adam, &state, &rows)?;
            last_checkpoint = Some(step);
        }
        if interrupted {
            bar.abandon();
            return Ok(Outcome::Interrupted { step });
        }
    }
    if last_checkpoint != Some(state.step) {
        save(&model, &ema, &adam, &state, &rows)?;
    }
    bar.finish_and_clear();
    let sampling_net = averaged(&model, &ema);

    // The last evaluation was on the last step, unless a time budget ended the run early.
    let heldout_exact_sm = match rows.last().and_then(|r| r.heldout_exact_sm) {
        Some(v) => v,
        None => {
            let v = eval::heldout_exact_sm(&sampling_net, &heldout, dim, config.noise_sigma)?;
            if let Some(r) = rows.last_mut() {
                r.heldout_exact_sm = Some(v);
            }
            metrics::write(&dir.join(metrics::METRICS_FILE), &rows)?;
            v
        }
    };
    let session_train_s = state.elapsed_s - session_elapsed_before;

    say(format!("drawing {} samples and pictures…", config.samples));
    let mut files = vec![dir.join(checkpoint::CONFIG_FILE), dir.join(metrics::METRICS_FILE)];
    let pictures = draw_pictures(&dir, &sampling_net, &config, splits, &rows, state.step, judge.as_ref().map_err(String::as_str))?;
    files.extend(pictures.files);
    let (model_path, optimizer_path) = checkpoint::paths(&dir);
    files.extend([model_path, optimizer_path]);

    let session_steps = state.step + 1 - first_step;
    let tail = (rows.len() / 100).max(1);
    let final_loss = rows.iter().rev().take(tail).map(|r| r.loss).sum::<f64>() / tail.min(rows.len()).max(1) as f64;
    Ok(Outcome::Finished(Box::new(Report {
        objective: config.objective.to_string(),
        steps: state.step,
        session_steps,
        train_time_s: state.elapsed_s,
        session_time_s: session_start.elapsed().as_secs_f64(),
        images_per_s: (session_steps as f64 * config.batch as f64) / session_train_s.max(1e-9),
        step_time_ms: 1e3 * session_train_s / (session_steps.max(1) as f64),
        final_loss,
        heldout_exact_sm,
        heldout_images: test_set.len(),
        sampler: pictures.sampler,
        samples: config.samples,
        sampling_s: pictures.sampling_s,
        escaped_samples: pictures.escaped_samples,
        quality: pictures.quality,
        files,
    })))
}

/// The network samples and evaluations use: the EMA weights once there are any.
pub fn averaged(model: &Net, ema: &Ema) -> Net {
    match ema.weights() {
        [] => model.clone(),
        weights => model.with_parameters(weights),
    }
}

/// The learning rate at `step` (from 1): a linear ramp over the first `warmup` steps.
pub fn warmed_up(lr: f64, warmup: u64, step: u64) -> f64 {
    match warmup {
        0 => lr,
        w => lr * (step as f64 / w as f64).min(1.0),
    }
}

/// How many samples `samples.png` shows (an 8×8 grid).
pub const GRID_SAMPLES: usize = 64;

/// Samples scored at evaluation steps with `--quality-every`.
pub const QUALITY_SAMPLES: usize = 250;

/// What [`draw_pictures`] wrote, and what it learnt drawing the samples.
pub struct Pictures {
    /// The files written.
    pub files: Vec<PathBuf>,
    /// The sampler's description.
    pub sampler: String,
    /// Seconds spent sampling.
    pub sampling_s: f64,
    /// Sampler chains that left the pixel range.
    pub escaped_samples: usize,
    /// The samples' figures and as many real test images', or why they were not measured.
    pub quality: Result<(Quality, Quality), String>,
}

/// Draws `config.samples` samples (`samples.safetensors`, the first 64 in `samples.png`),
/// scores them with `judge` (`quality.json`), and writes `loss.png` (when there are metrics)
/// and `denoise.png`.
pub fn draw_pictures(
    dir: &Path,
    net: &Net,
    config: &TrainConfig,
    splits: &mnist::Splits,
    rows: &[Row],
    step: u64,
    judge: Result<&Judge, &str>,
) -> Result<Pictures, TrainError> {
    let (h, w) = (splits.test.rows, splits.test.cols);
    let mut written = Vec::new();
    if !rows.is_empty() {
        let path = dir.join(figures::LOSS_FILE);
        figures::save(&figures::loss_chart(rows, &config.objective.to_string()), &path)?;
        written.push(path);
    }

    let began = Instant::now();
    let samples = eval::draw(net, config, config.samples, config.seed);
    let sampling_s = began.elapsed().as_secs_f64();
    let path = dir.join(checkpoint::SAMPLES_FILE);
    checkpoint::save_samples(&path, &samples, config, h * w)?;
    written.push(path);

    let quality = match judge {
        Ok(judge) => {
            let scored = judge.score(&samples.raw)?;
            let real = judge.ceiling(&splits.test.images, config.samples)?;
            let report = QualityReport { samples: &scored, real_test_images: &real, sampler: samples.sampler.to_string(), step, classifier: judge.info() };
            let path = dir.join(QUALITY_FILE);
            checkpoint::write_atomic(&path, serde_json::to_string_pretty(&report).expect("figures serialise").as_bytes())?;
            written.push(path);
            Ok((scored, real))
        }
        Err(why) => Err(why.to_string()),
    };

    let clamped = samples.clamped();
    let images: Vec<&[f32]> = clamped.chunks(h * w).take(GRID_SAMPLES).collect();
    let side = (images.len() as f64).sqrt().ceil().max(1.0) as usize;
    let mut title = format!("{} {}, step {}: {}", config.model, config.objective, step, samples.sampler);
    if let Ok((q, _)) = &quality {
        title = format!("{title}\n{} of {}: {}", if config.ema_decay > 0.0 { "EMA samples" } else { "samples" }, q.count, judge::headline(q));
    }
    let path = dir.join(figures::SAMPLES_FILE);
    figures::save(&figures::titled_grid(&images, side, side, h, w, &title), &path)?;
    written.push(path);

    let denoising = eval::denoise(net, &splits.test.images, h * w, 8, &eval::denoise_levels(config));
    let path = dir.join(figures::DENOISE_FILE);
    figures::save(&figures::denoise_grid(&denoising, h, w), &path)?;
    written.push(path);
    Ok(Pictures { files: written, sampler: samples.sampler.to_string(), sampling_s, escaped_samples: samples.escaped, quality })
}

fn progress_bar(steps: u64, at: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(steps), ProgressDrawTarget::stderr_with_hz(4));
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} steps · {msg} · ETA {eta}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.set_position(at);
    bar.reset_eta();
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}
