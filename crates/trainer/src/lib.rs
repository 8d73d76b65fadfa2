//! # trainer: score matching on MNIST
//!
//! `cargo run -p trainer` finds or fetches MNIST, trains an MLP score model `s(x) ≈ ∇ log p(x)`
//! by one of the `score` crate's objectives on the CPU or a GPU, and leaves a run folder with
//! `config.json`, `metrics.csv`, `loss.png`, `samples.png`, `denoise.png`, `model.safetensors`
//! and `optimizer.safetensors`. `trainer eval --model …` scores a saved model again.
//!
//! Following one step from here down: [`train::train`] draws a minibatch
//! ([`data::Images::sample`], drawn and perturbed on the device), asks [`score::Objective::loss`] for the loss
//! (the exact objective builds the Jacobian's trace from recorded ops in
//! `score::trace::structured_trace`), differentiates it with [`autodiff::grad`], clips, and
//! takes an Adam step ([`score::optim::Adam`]).
//!
//! The guide to higher-order autograd, chapter by chapter with runnable examples, is
//! `docs/guide/` in the gradgrad repository, and [`gradgrad::guide`](../gradgrad/guide/index.html)
//! in the workspace's documentation (`cargo doc --workspace --no-deps --open`).

#![warn(missing_docs)]

// The CLI's doc comments are its --help text, where `<placeholders>` read right.
#![allow(rustdoc::invalid_html_tags)]

pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod data;
pub mod device;
pub mod error;
pub mod eval;
pub mod judge;
pub mod figures;
pub mod metrics;
pub mod model;
pub mod train;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use cli::{Cli, Command, EvalArgs, TrainArgs};
use config::TrainConfig;
use error::TrainError;
use train::{Outcome, Run, Start};

/// Set once the training loop runs. Before that there is nothing to checkpoint, so Ctrl-C
/// (see `main.rs`) quits at once, even in the middle of a download.
pub static TRAINING: AtomicBool = AtomicBool::new(false);

/// Training images whose largest pairwise distance is printed at start.
const SPREAD_IMAGES: usize = 2000;

/// Runs what the command line asks for. `stop` is set by Ctrl-C.
pub fn run_cli(cli: Cli, stop: &AtomicBool) -> Result<(), TrainError> {
    match cli.command {
        Some(Command::Eval(args)) => evaluate(&args),
        Some(Command::Classifier(args)) => retrain_classifier(&args),
        None => train_command(&cli.train, stop),
    }
}

fn train_command(args: &TrainArgs, stop: &AtomicBool) -> Result<(), TrainError> {
    let device = device::select(args.device)?;
    let (config, dir, resume_from) = match &args.resume {
        Some(from) => {
            let saved = read_config(&from.join(checkpoint::CONFIG_FILE))?;
            let conflicts = args.conflicts_with(&saved);
            if !conflicts.is_empty() {
                return Err(TrainError::Usage(format!(
                    "--resume continues the run in {} as it was configured; these flags would change it: {}. \
                     Only --steps, --checkpoint-every, --eval-every, --sampler, --sampler-steps, --churn and --samples may differ.",
                    from.display(),
                    conflicts.join("; ")
                )));
            }
            let mut config = saved;
            args.apply_schedule(&mut config);
            (
                config,
                args.out.clone().unwrap_or_else(|| from.clone()),
                Some(from.clone()),
            )
        }
        None => {
            let mut config = args.config();
            if device.device.is_cuda() && config.is_conditional() {
                if let Some(note) = args.scale_up_for_gpu(&mut config) {
                    eprintln!("{note}");
                }
            }
            let dir = args.out.clone().unwrap_or_else(|| default_run_dir(&config));
            if dir.join(checkpoint::MODEL_FILE).exists() {
                return Err(TrainError::Usage(format!(
                    "{} already holds a run; continue it with --resume {0} or choose another --out",
                    dir.display()
                )));
            }
            (config, dir, None)
        }
    };
    config.validate().map_err(TrainError::Usage)?;

    eprintln!(
        "gradgrad trainer: score matching on {}",
        config.dataset.kind().title()
    );
    if resume_from.is_none() && is_all_defaults(args) {
        eprintln!("(no flags given: the defaults below; `cargo run -p trainer -- --help` lists the flags)");
    }
    eprintln!("{}", indent(&config.describe()));
    if let Some(note) = &device.note {
        eprintln!("{note}");
    }

    eprintln!("{}", data::Home::find());
    let data = data::load(config.dataset, args.data.as_deref())?;
    let (train_set, test_set) = (&data.splits.train, &data.splits.test);
    eprintln!(
        "data: {} training and {} test images of {}x{} from {} ({})",
        train_set.len(),
        test_set.len(),
        train_set.rows,
        train_set.cols,
        data.dir.display(),
        data.verified
    );

    if config.is_conditional() {
        let spread = data::largest_distance(train_set, SPREAD_IMAGES);
        eprintln!(
            "data spread: the largest distance between {SPREAD_IMAGES} training images is {spread:.1}; σ_max is {}{}",
            config.sigma_max,
            if config.sigma_max < spread { " (below it: samples may start too close to the data; raise --sigma-max)" } else { "" }
        );
    }
    let start = match &resume_from {
        Some(from) => load_start(from, train_set.dim())?,
        None => Start::fresh(&config, train_set),
    };
    if start.state.step >= config.steps {
        return Err(TrainError::Usage(format!(
            "the run has already taken {} of {} steps; pass a larger --steps to train further",
            start.state.step, config.steps
        )));
    }
    std::fs::create_dir_all(&dir).map_err(TrainError::io(&dir))?;
    let config_json = serde_json::to_string_pretty(&config).expect("a config serialises");
    checkpoint::write_atomic(&dir.join(checkpoint::CONFIG_FILE), config_json.as_bytes())?;
    match &resume_from {
        Some(_) => eprintln!(
            "resuming at step {} of {} in {}",
            start.state.step + 1,
            config.steps,
            dir.display()
        ),
        None => eprintln!("writing to {}", dir.display()),
    }

    let judge = judge::Judge::new(&data.splits, config.dataset, false)?;
    if let Err(why) = &judge {
        eprintln!("sample quality: not measured: {why}");
    }
    TRAINING.store(true, Ordering::SeqCst);
    let run = Run {
        config,
        dir: dir.clone(),
        splits: &data.splits,
        start,
        device: device.device,
        time_budget: args.time_budget,
        quality_every: args.quality_every,
        judge: &judge,
        stop,
    };
    match train::train(run)? {
        Outcome::Finished(report) => println!("{}", report.render()),
        Outcome::Interrupted { step } => {
            eprintln!(
                "interrupted: stopped after step {step}; the checkpoint is in {}",
                dir.display()
            );
            eprintln!(
                "resume with: cargo run -p trainer -- --resume {}",
                dir.display()
            );
        }
    }
    Ok(())
}

/// The saved model, optimizer and metrics of the run in `dir`, checked against each other.
fn load_start(dir: &Path, dim: usize) -> Result<Start, TrainError> {
    let (model_path, optimizer_path) = checkpoint::paths(dir);
    let (averaged, info) = checkpoint::load_model(&model_path)?;
    let (optimizer, state) = checkpoint::load_optimizer(&optimizer_path)?;
    let bad = |reason: String| TrainError::BadCheckpoint { path: optimizer_path.clone(), reason };
    if info.step != state.step {
        return Err(bad(format!("it is from step {}, but {} is from step {}", state.step, model_path.display(), info.step)));
    }
    if averaged.dim() != dim {
        return Err(TrainError::Usage(format!("the model in {} takes {} pixels, the data has {dim}", model_path.display(), averaged.dim())));
    }
    // The trained weights (the model file holds their average).
    let params = checkpoint::read_trained_weights(&optimizer, &averaged, &optimizer_path)?;
    let metrics_path = dir.join(metrics::METRICS_FILE);
    let mut rows = if metrics_path.exists() { metrics::read(&metrics_path)? } else { Vec::new() };
    // Steps after the checkpoint are taken again; their old rows go.
    rows.retain(|r| r.step <= state.step);
    Ok(Start { model: averaged.with_parameters(&params), optimizer, state, rows })
}

fn evaluate(args: &EvalArgs) -> Result<(), TrainError> {
    let (model, info) = checkpoint::load_model(&args.model)?;
    let mut config = info.config.clone();
    if let Some(seed) = args.seed {
        config.seed = seed;
    }
    config.sampler = args.sampler.unwrap_or(config.sampler);
    config.sampler_steps = args.sampler_steps.unwrap_or(config.sampler_steps);
    config.samples = args.samples.unwrap_or(config.samples);
    config.churn = args.churn.unwrap_or(config.churn);
    config.validate().map_err(TrainError::Usage)?;
    eprintln!("{}", data::Home::find());
    let data = data::load(config.dataset, args.data.as_deref())?;
    let test = &data.splits.test;
    if test.dim() != model.dim() {
        return Err(TrainError::Usage(format!(
            "the model takes {} pixels, the test images in {} have {}",
            model.dim(),
            data.dir.display(),
            test.dim()
        )));
    }
    let heldout = data::heldout(test, config.noise_sigma, None);
    let loss = eval::heldout_exact_sm(&model, &heldout, test.dim(), config.noise_sigma)?;
    let dir = match &args.out {
        Some(out) => out.clone(),
        None => args.model.parent().map(Path::to_path_buf).unwrap_or_default(),
    };
    std::fs::create_dir_all(&dir).map_err(TrainError::io(&dir))?;
    let judge = judge::Judge::new(&data.splits, config.dataset, false)?;
    let pictures = train::draw_pictures(&dir, &model, &config, &data.splits, &[], info.step, judge.as_ref().map_err(String::as_str))?;
    println!("model                    {} ({} {}, step {})", args.model.display(), config.model, config.objective, info.step);
    println!("held-out exact SM loss   {loss:.3} ({} test images + {} x noise; lower is better)", test.len(), config.noise_sigma);
    println!("samples                  {} in {:.1} s: {}", config.samples, pictures.sampling_s, pictures.sampler);
    println!("escaped chains           {} of {}", pictures.escaped_samples, config.samples);
    match &pictures.quality {
        Ok((samples, real)) => judge::render(samples, real).iter().for_each(|l| println!("{l}")),
        Err(why) => println!("sample quality           not measured: {why}"),
    }
    println!("files:");
    for f in pictures.files {
        println!("  {}", f.display());
    }
    Ok(())
}

/// `trainer classifier`: trains the sample-quality classifier again and replaces the cached one.
fn retrain_classifier(args: &cli::ClassifierArgs) -> Result<(), TrainError> {
    eprintln!("{}", data::Home::find());
    let data = data::load(args.dataset, args.data.as_deref())?;
    let judge = judge::Judge::new(&data.splits, args.dataset, true)?.map_err(TrainError::Usage)?;
    let real = judge.ceiling(&data.splits.test.images, 1000)?;
    println!("classifier               {}", judge.path.display());
    println!("architecture             {}", judge.classifier.architecture());
    println!("test accuracy            {:.2}%", 100.0 * judge.classifier.provenance.test_accuracy);
    println!("training time            {:.1} s", judge.classifier.provenance.train_seconds);
    println!("1000 real test images    {}", judge::headline(&real));
    Ok(())
}

fn read_config(path: &Path) -> Result<TrainConfig, TrainError> {
    let text = std::fs::read_to_string(path).map_err(TrainError::io(path))?;
    checkpoint::parse_config(&text, path)
}

fn is_all_defaults(args: &TrainArgs) -> bool {
    let mut bare = TrainArgs {
        device: args.device,
        ..TrainArgs::default()
    };
    bare.data.clone_from(&args.data);
    format!("{bare:?}") == format!("{args:?}")
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `<home>/runs/<UTC timestamp>-<objective>` ([`data::Home`]), with a suffix if that exists already.
fn default_run_dir(config: &TrainConfig) -> PathBuf {
    let runs = data::runs_dir();
    let stem = format!("{}-{}", utc_timestamp(SystemTime::now()), config.objective);
    let mut dir = runs.join(&stem);
    let mut n = 2;
    while dir.exists() {
        dir = runs.join(format!("{stem}-{n}"));
        n += 1;
    }
    dir
}

/// `YYYYMMDD-HHMMSS` in UTC.
pub fn utc_timestamp(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        assert_eq!(utc_timestamp(UNIX_EPOCH), "19700101-000000");
        // 2024-02-29 12:34:56 UTC, a leap day.
        assert_eq!(
            utc_timestamp(UNIX_EPOCH + Duration::from_secs(1_709_210_096)),
            "20240229-123456"
        );
    }
}
