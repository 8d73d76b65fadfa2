//! How good the samples are, by the `quality` crate's classifier: the classifier Inception
//! Score, the share classified with p > 0.9, the class histogram and the Fréchet distance in
//! the classifier's features to the test set (FCD), beside the same figures for as many real
//! test images, the ceiling.
//!
//! The classifier is trained by the engine on first use (about a minute on two cores) and kept
//! in the data folder, one per data set.

use std::path::PathBuf;

use quality::{Cached, Classifier, Quality, Reference, PIXELS};
use serde::Serialize;

use crate::config::DatasetKind;
use crate::data;
use crate::error::TrainError;

/// The classifier, the test set's feature statistics and the real images' figures.
pub struct Judge {
    /// The MNIST classifier.
    pub classifier: Classifier,
    /// Where it is cached.
    pub path: PathBuf,
    reference: Reference,
}

/// What `quality.json` holds.
#[derive(Serialize)]
pub struct QualityReport<'a> {
    /// The samples' figures.
    pub samples: &'a Quality,
    /// As many real test images' figures: the ceiling.
    pub real_test_images: &'a Quality,
    /// The sampler that drew the samples.
    pub sampler: String,
    /// The training step of the model.
    pub step: u64,
    /// Which classifier judged.
    pub classifier: ClassifierInfo,
}

/// The classifier, as `quality.json` names it.
#[derive(Serialize)]
pub struct ClassifierInfo {
    /// Its cache file.
    pub path: String,
    /// Its layer widths.
    pub architecture: String,
    /// Its accuracy on the test set.
    pub test_accuracy: f64,
}

/// Where the classifier of `dataset` is kept.
pub fn classifier_path(dataset: DatasetKind) -> PathBuf {
    data::cache_dir(dataset).with_file_name(format!("classifier-{dataset}.safetensors"))
}

impl Judge {
    /// Loads the classifier, or trains it (saying so) when there is none or the file is not
    /// usable; `None` with the reason when the images are not 28×28.
    pub fn new(splits: &mnist::Splits, dataset: DatasetKind, retrain: bool) -> Result<Result<Judge, String>, TrainError> {
        if splits.test.dim() != PIXELS {
            return Ok(Err(format!("the classifier reads 28×28 images; these are {}×{}", splits.test.rows, splits.test.cols)));
        }
        let path = classifier_path(dataset);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(TrainError::io(dir))?;
        }
        if retrain && path.exists() {
            std::fs::remove_file(&path).map_err(TrainError::io(&path))?;
        }
        if !path.exists() {
            eprintln!("classifier: none in {}; training one with the engine (about a minute on two cores)…", path.display());
        }
        let progress = |e: &quality::EpochReport| {
            eprintln!("classifier: epoch {}/{}: loss {:.4}, test accuracy {:.2}% ({:.0} s)", e.epoch, e.epochs, e.loss, 100.0 * e.test_accuracy, e.elapsed_seconds)
        };
        let (classifier, cached) = Classifier::load_or_train(&path, splits, &quality::TrainConfig::default(), progress).map_err(quality_error)?;
        match cached {
            Cached::Loaded => {}
            Cached::Trained { replaced: Some(why) } => eprintln!("classifier: the old file was set aside ({why})"),
            Cached::Trained { replaced: None } => {}
        }
        eprintln!(
            "classifier: {} ({}, {:.2}% on the test set)",
            path.display(),
            classifier.architecture(),
            100.0 * classifier.provenance.test_accuracy
        );
        let reference = Reference::of(&classifier, &splits.test.images).map_err(quality_error)?;
        Ok(Ok(Judge { classifier, path, reference }))
    }

    /// The figures of `images` (`n × 784`, pixel units), against the test set.
    pub fn score(&self, images: &[f32]) -> Result<Quality, TrainError> {
        Quality::of(&self.classifier, images, Some(&self.reference)).map_err(quality_error)
    }

    /// The same figures for the first `n` of the real `test` images: the ceiling for `n`
    /// samples (FCD depends on `n`).
    pub fn ceiling(&self, test: &[f32], n: usize) -> Result<Quality, TrainError> {
        let n = n.min(test.len() / PIXELS);
        self.score(&test[..n * PIXELS])
    }

    /// The classifier's description for `quality.json`.
    pub fn info(&self) -> ClassifierInfo {
        ClassifierInfo {
            path: self.path.display().to_string(),
            architecture: self.classifier.architecture(),
            test_accuracy: self.classifier.provenance.test_accuracy,
        }
    }
}

/// The figures of the samples beside the ceiling's, one per line, for the report.
pub fn render(samples: &Quality, real: &Quality) -> Vec<String> {
    let fcd = |q: &Quality| q.fcd.map_or("-".to_string(), |v| format!("{v:.1}"));
    let shares = |q: &Quality| q.class_shares().iter().map(|s| format!("{:.0}", 100.0 * s)).collect::<Vec<_>>().join(" ");
    vec![
        format!("sample quality           {:>10}   {:>10}   (classifier figures, higher is better but FCD)", "samples", "real"),
        format!("  inception score        {:>10.2}   {:>10.2}   (of at most 10)", samples.inception_score, real.inception_score),
        format!("  confident (p > 0.9)    {:>9.1}%   {:>9.1}%", 100.0 * samples.confident_share, 100.0 * real.confident_share),
        format!("  FCD to the test set    {:>10}   {:>10}   (lower is better; {} images each)", fcd(samples), fcd(real), samples.count),
        format!("  classes, % of 0…9      {}   |   {}", shares(samples), shares(real)),
    ]
}

/// One line for a figure's title.
pub fn headline(q: &Quality) -> String {
    let smallest = q.class_shares().iter().cloned().fold(1.0, f64::min);
    format!(
        "IS {:.2}, {:.0}% confident, FCD {}, smallest class {:.1}%",
        q.inception_score,
        100.0 * q.confident_share,
        q.fcd.map_or("-".into(), |v| format!("{v:.1}")),
        100.0 * smallest
    )
}

fn quality_error(e: quality::QualityError) -> TrainError {
    TrainError::Quality(e)
}
