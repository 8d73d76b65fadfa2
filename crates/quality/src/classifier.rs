//! The MNIST classifier: an MLP whose hidden layers are relu, read as class
//! probabilities (for the Inception Score) or as its last hidden layer's
//! activations (the features of the Fréchet distance). Stored as safetensors.

use std::collections::HashMap;
use std::path::Path;

use autodiff::{no_grad, DType, Tensor};
use safetensors::{Dtype, SafeTensors};
use serde::Serialize;

use score::Linear;

use crate::error::QualityError;

/// Pixels per MNIST image.
pub const PIXELS: usize = 28 * 28;
/// Digits.
pub const CLASSES: usize = 10;
/// Bumped whenever the file's meaning changes; an old cache is then retrained.
pub const FORMAT_VERSION: &str = "1";
/// MNIST's training-set pixel mean and standard deviation: inputs are
/// standardised with them, so the first layer starts on unit-scale values.
const PIXEL_MEAN: f64 = 0.1307;
const PIXEL_STD: f64 = 0.3081;
/// The classifier's weights and activations are f32.
pub(crate) const DTYPE: DType = DType::F32;
/// Images per forward pass when classifying many: bounds the memory.
const EVAL_BATCH: usize = 1000;

/// How a classifier came to be: kept in its file's metadata.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Provenance {
    /// On the MNIST test set, measured when it was trained.
    pub test_accuracy: f64,
    /// The seed of its initialisation and batches.
    pub seed: u64,
    /// Epochs trained.
    pub epochs: usize,
    /// Training time, seconds (evaluations included).
    pub train_seconds: f64,
}

/// A trained MNIST classifier.
#[derive(Clone, Debug)]
pub struct Classifier {
    pub(crate) layers: Vec<Linear>,
    /// How it was trained, and how well it classifies.
    pub provenance: Provenance,
}

impl Classifier {
    /// Layer widths, input first: `[784, 1024, 512, 10]`.
    pub fn widths(&self) -> Vec<usize> {
        let mut w = vec![self.layers[0].weight.dims()[1]];
        w.extend(self.layers.iter().map(|l| l.weight.dims()[0]));
        w
    }

    /// `784-1024-512-10 relu`: what the file's metadata and errors call it.
    pub fn architecture(&self) -> String {
        architecture(&self.widths())
    }

    /// Width of [`features`](Self::features): the last hidden layer's.
    pub fn feature_dim(&self) -> usize {
        self.layers.last().unwrap().weight.dims()[1]
    }

    /// Logits and the last hidden layer's activations of a `[B, 784]` batch of
    /// pixels in [0, 1]; recorded when the weights require grad (training).
    pub(crate) fn forward(layers: &[Linear], pixels: &Tensor) -> (Tensor, Tensor) {
        let mut h = pixels.affine(1.0 / PIXEL_STD, -PIXEL_MEAN / PIXEL_STD);
        let (last, hidden) = layers.split_last().expect("at least one layer");
        for layer in hidden {
            h = layer.forward(&h).relu();
        }
        let logits = last.forward(&h);
        (logits, h)
    }

    /// `p(y | x)` for each image (rows of 784 pixels, clamped to [0, 1]).
    pub fn probabilities(&self, images: &[f32]) -> Result<Vec<[f64; CLASSES]>, QualityError> {
        let mut out = Vec::with_capacity(images.len() / PIXELS);
        self.in_batches(images, "probabilities", |logits, _| {
            let p = logits.log_softmax(1).exp().to_vec_f64();
            out.extend(p.chunks_exact(CLASSES).map(|row| std::array::from_fn(|k| row[k])));
        })?;
        Ok(out)
    }

    /// The last hidden layer's activations, `[N, feature_dim]` row-major: the
    /// space in which the Fréchet distance compares two sets of images.
    pub fn features(&self, images: &[f32]) -> Result<Vec<f64>, QualityError> {
        let mut out = Vec::with_capacity(images.len() / PIXELS * self.feature_dim());
        self.in_batches(images, "features", |_, h| out.extend(h.to_vec_f64()))?;
        Ok(out)
    }

    /// The fraction of `images` whose most probable class is `labels`.
    pub fn accuracy(&self, images: &[f32], labels: &[u8]) -> Result<f64, QualityError> {
        let p = self.probabilities(images)?;
        let right = p.iter().zip(labels).filter(|(p, &y)| argmax(&p[..]) == y as usize).count();
        Ok(right as f64 / labels.len().max(1) as f64)
    }

    #[allow(clippy::manual_is_multiple_of)] // `is_multiple_of` needs Rust 1.87; the workspace supports 1.80
    fn in_batches(&self, images: &[f32], what: &'static str, mut each: impl FnMut(&Tensor, &Tensor)) -> Result<(), QualityError> {
        if images.len() % PIXELS != 0 {
            return Err(QualityError::NotImages { what, len: images.len(), dim: PIXELS });
        }
        no_grad(|| {
            for chunk in images.chunks(EVAL_BATCH * PIXELS) {
                let clamped: Vec<f32> = chunk.iter().map(|v| v.clamp(0.0, 1.0)).collect();
                let x = Tensor::from_vec(clamped, [chunk.len() / PIXELS, PIXELS]);
                let (logits, h) = Classifier::forward(&self.layers, &x);
                each(&logits, &h);
            }
        });
        Ok(())
    }

    /// Writes the classifier atomically: a temporary file beside `path`, renamed when whole.
    pub fn save(&self, path: &Path) -> Result<(), QualityError> {
        let mut named = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            named.push((format!("layers.{i}.weight"), &layer.weight));
            named.push((format!("layers.{i}.bias"), &layer.bias));
        }
        let data: Vec<(String, Vec<usize>, Vec<u8>)> = named
            .iter()
            .map(|(name, t)| (name.clone(), t.dims().to_vec(), t.to_vec::<f32>().iter().flat_map(|v| v.to_le_bytes()).collect()))
            .collect();
        let views: Vec<(String, safetensors::tensor::TensorView)> = data
            .iter()
            .map(|(name, shape, bytes)| (name.clone(), safetensors::tensor::TensorView::new(Dtype::F32, shape.clone(), bytes).expect("sizes agree")))
            .collect();
        let p = &self.provenance;
        let metadata = HashMap::from([
            ("format".to_string(), "gradgrad-mnist-classifier".to_string()),
            ("format_version".to_string(), FORMAT_VERSION.to_string()),
            ("architecture".to_string(), self.architecture()),
            ("test_accuracy".to_string(), p.test_accuracy.to_string()),
            ("seed".to_string(), p.seed.to_string()),
            ("epochs".to_string(), p.epochs.to_string()),
            ("train_seconds".to_string(), p.train_seconds.to_string()),
        ]);
        let bytes = safetensors::serialize(views, Some(metadata)).map_err(|e| QualityError::Corrupt { path: path.into(), reason: e.to_string() })?;
        write_atomic(path, &bytes)
    }

    /// Reads a file [`save`](Self::save) wrote; a damaged or foreign one is a
    /// [`QualityError::Corrupt`] or [`QualityError::Mismatch`] naming it.
    pub fn load(path: &Path) -> Result<Classifier, QualityError> {
        let bytes = std::fs::read(path).map_err(QualityError::io(path))?;
        let corrupt = |reason: String| QualityError::Corrupt { path: path.into(), reason };
        let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| corrupt(e.to_string()))?;
        let file = SafeTensors::deserialize(&bytes).map_err(|e| corrupt(e.to_string()))?;
        let meta = header.metadata().clone().unwrap_or_default();
        let field = |key: &str| meta.get(key).cloned().ok_or_else(|| corrupt(format!("metadata `{key}` missing")));
        let version = field("format_version")?;
        if version != FORMAT_VERSION {
            return Err(QualityError::Mismatch { path: path.into(), found: format!("format version {version}"), expected: format!("format version {FORMAT_VERSION}") });
        }
        let number = |key: &str| field(key)?.parse::<f64>().map_err(|e| corrupt(format!("metadata `{key}`: {e}")));
        let provenance = Provenance {
            test_accuracy: number("test_accuracy")?,
            seed: number("seed")? as u64,
            epochs: number("epochs")? as usize,
            train_seconds: number("train_seconds")?,
        };
        let tensor = |name: String| -> Result<Tensor, QualityError> {
            let view = file.tensor(&name).map_err(|_| corrupt(format!("tensor `{name}` missing")))?;
            if view.dtype() != Dtype::F32 {
                return Err(corrupt(format!("tensor `{name}` is {:?}, not F32", view.dtype())));
            }
            let values: Vec<f32> = view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            Ok(Tensor::from_vec(values, view.shape().to_vec()))
        };
        let count = file.names().iter().filter(|n| n.ends_with(".weight")).count();
        let layers = (0..count)
            .map(|i| Ok(Linear { weight: tensor(format!("layers.{i}.weight"))?, bias: tensor(format!("layers.{i}.bias"))? }))
            .collect::<Result<Vec<_>, QualityError>>()?;
        let classifier = Classifier { layers, provenance };
        classifier.check_shapes().map_err(corrupt)?;
        let stored = field("architecture")?;
        if stored != classifier.architecture() {
            return Err(corrupt(format!("metadata says {stored}, the tensors are {}", classifier.architecture())));
        }
        Ok(classifier)
    }

    /// Layers that chain from 784 pixels to 10 classes, biases that fit.
    fn check_shapes(&self) -> Result<(), String> {
        let mut width = PIXELS;
        for (i, l) in self.layers.iter().enumerate() {
            let (w, b) = (l.weight.dims(), l.bias.dims());
            if w.len() != 2 || w[1] != width || b != [w[0]] {
                return Err(format!("layer {i}: weight {} and bias {} do not follow a layer of width {width}", l.weight.shape(), l.bias.shape()));
            }
            width = w[0];
        }
        if self.layers.len() < 2 || width != CLASSES {
            return Err(format!("{} layers ending at width {width}; a classifier has ≥ 2 ending at {CLASSES}", self.layers.len()));
        }
        Ok(())
    }
}

/// `784-1024-512-10 relu`.
pub(crate) fn architecture(widths: &[usize]) -> String {
    let w: Vec<String> = widths.iter().map(usize::to_string).collect();
    format!("{} relu", w.join("-"))
}

/// The index of the largest entry (the first among ties).
pub fn argmax(p: &[f64]) -> usize {
    p.iter().enumerate().fold(0, |best, (i, &v)| if v > p[best] { i } else { best })
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, synced, then renamed.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), QualityError> {
    use std::io::Write;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(QualityError::io(dir))?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // A cache others may read: tempfile's default is owner-only.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let mut tmp = builder.tempfile_in(dir).map_err(QualityError::io(dir))?;
    tmp.write_all(bytes).map_err(QualityError::io(tmp.path()))?;
    tmp.as_file().sync_all().map_err(QualityError::io(tmp.path()))?;
    tmp.persist(path).map_err(|e| QualityError::Io { path: path.into(), source: e.error })?;
    Ok(())
}
