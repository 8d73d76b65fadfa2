//! The data: found or fetched by the `mnist` crate, minibatches drawn by a per-step RNG, and the
//! Gaussian perturbation x + σε that every objective is trained and evaluated on.

use std::path::{Path, PathBuf};

use autodiff::backend::counter_rng::uniform_indices;
use autodiff::{Device, Tensor};
use mnist::{Checksums, Dataset, FetchOptions, Splits};
use rand::{rngs::StdRng, Rng, SeedableRng};
use rand_distr::StandardNormal;

use crate::config::DatasetKind;
use crate::error::TrainError;

/// The name of a checksum file beside data given with `--data`/`MNIST_DIR`. When present, the
/// files are verified against it instead of the built-in sums: a way to train on data that is not
/// the real MNIST (the tests' generated files). Its lines are `sha256sum`'s: `HEX  NAME`.
pub const SUMS_FILE: &str = "SHA256SUMS";

/// The workspace this binary was built from: `data/` and `runs/` live there.
pub fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// The cache folder for fetched data: `<workspace>/data/<mnist|fashion>`.
pub fn cache_dir(dataset: DatasetKind) -> PathBuf {
    workspace_root().join("data").join(dataset.to_string())
}

/// Both splits, and where they came from.
pub struct Data {
    pub splits: Splits,
    /// The folder the files were read from.
    pub dir: PathBuf,
    /// How they were verified, for the start-of-run summary.
    pub verified: String,
}

/// Finds (or fetches) the data set and loads it, every file checked against its SHA-256.
pub fn load(dataset: DatasetKind, data_dir: Option<&Path>) -> Result<Data, TrainError> {
    let kind = dataset.kind();
    let mut opts = FetchOptions::new(kind, cache_dir(dataset));
    opts.data_dir = data_dir.map(Path::to_path_buf);
    let named = opts.data_dir.clone().or_else(|| opts.env_dir.clone());
    let mut verified = format!("SHA-256 against the built-in {} sums", kind.title());
    if let Some(sums_path) = named.map(|d| d.join(SUMS_FILE)).filter(|p| p.is_file()) {
        opts.checksums = read_sums(&sums_path)?;
        verified = format!("SHA-256 against {}", sums_path.display());
    }
    let dir = mnist::locate_or_fetch(kind, &opts)?;
    let splits = mnist::load_dir_with(&dir, &opts.checksums)?;
    if splits.train.is_empty() || splits.test.is_empty() {
        return Err(TrainError::Usage(format!(
            "the data in {} has an empty split",
            dir.display()
        )));
    }
    if splits.train.dim() != splits.test.dim() {
        return Err(TrainError::Usage(format!(
            "the data in {}: training images are {}x{}, test images {}x{}",
            dir.display(),
            splits.train.rows,
            splits.train.cols,
            splits.test.rows,
            splits.test.cols
        )));
    }
    Ok(Data {
        splits,
        dir,
        verified,
    })
}

/// Reads a `sha256sum`-style file: `HEX  NAME` or `HEX *NAME` per line.
fn read_sums(path: &Path) -> Result<Checksums, TrainError> {
    let bad = |reason: String| TrainError::Usage(format!("{}: {reason}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let mut sums = Checksums::default();
    for (number, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let (hex, name) = line
            .split_once(char::is_whitespace)
            .ok_or_else(|| bad(format!("line {}: expected `HEX  NAME`", number + 1)))?;
        let name = name.trim_start().trim_start_matches('*');
        if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(bad(format!(
                "line {}: `{hex}` is not a SHA-256",
                number + 1
            )));
        }
        sums = sums.with(name, hex);
    }
    Ok(sums)
}

/// What a random stream is for. Each (seed, purpose, index) has its own stream, so resuming at
/// step k needs nothing but k: the batch RNG of step k is `stream(seed, Batch, k)`.
#[derive(Clone, Copy, Debug)]
pub enum Purpose {
    /// Minibatch indices, the perturbation and the objective's own noise, per step.
    Batch = 1,
    /// Model initialisation.
    Init = 2,
    /// The fixed perturbation of the held-out set (the same for every run and seed).
    HeldOut = 3,
    /// Langevin sampling.
    Samples = 4,
    /// The denoising figure.
    Denoise = 5,
}

/// A reproducible RNG for `(seed, purpose, index)`.
pub fn stream(seed: u64, purpose: Purpose, index: u64) -> StdRng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&(purpose as u64).to_le_bytes());
    key[16..24].copy_from_slice(&index.to_le_bytes());
    key[24..].copy_from_slice(b"gradgrad");
    StdRng::from_seed(key)
}

/// The training images where the model is. On a GPU they are uploaded once and each minibatch
/// is drawn there, its row indices made on the device, so a step copies nothing to it; on the
/// CPU the rows are copied straight out of the data set (no second copy of it is kept). Both
/// draw the same rows for the same seed.
pub struct Images<'a> {
    data: &'a Dataset,
    on_device: Option<Tensor>,
}

impl<'a> Images<'a> {
    pub fn new(data: &'a Dataset, device: Device) -> Images<'a> {
        let on_device = (device != Device::Cpu)
            .then(|| Tensor::from_slice(&data.images, [data.len(), data.dim()]).to_device(device));
        Images { data, on_device }
    }

    /// `count` images drawn uniformly with replacement by counter-based stream `seed`
    /// ([`Tensor::sample_rows`]), as a `[count, dim]` tensor on the device.
    pub fn sample(&self, count: usize, seed: u64) -> Tensor {
        match &self.on_device {
            Some(all) => all.sample_rows(count, seed),
            None => {
                let mut out = Vec::with_capacity(count * self.data.dim());
                for i in uniform_indices(seed, count, self.data.len()) {
                    out.extend_from_slice(self.data.image(i));
                }
                Tensor::from_vec(out, [count, self.data.dim()])
            }
        }
    }
}

/// Adds σε, ε ~ N(0, I), in place.
pub fn perturb(x: &mut [f32], sigma: f64, rng: &mut StdRng) {
    for v in x {
        let e: f64 = rng.sample(StandardNormal);
        *v += (sigma * e) as f32;
    }
}

/// The held-out set: the first `count` test images (all when `None`), perturbed with a fixed
/// noise draw that does not depend on the run's seed, so every run is scored on the same inputs.
pub fn heldout(test: &Dataset, sigma: f64, count: Option<usize>) -> Vec<f32> {
    let n = count.unwrap_or(test.len()).min(test.len());
    let mut x = test.images[..n * test.dim()].to_vec();
    perturb(&mut x, sigma, &mut stream(0, Purpose::HeldOut, 0));
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_by_index_and_repeat_exactly() {
        let a: u64 = stream(7, Purpose::Batch, 3).random();
        let b: u64 = stream(7, Purpose::Batch, 3).random();
        let c: u64 = stream(7, Purpose::Batch, 4).random();
        let d: u64 = stream(3, Purpose::Batch, 7).random();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }

    #[test]
    fn sums_files_are_read_like_sha256sum_writes_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SUMS_FILE);
        let hex = "ab".repeat(32);
        std::fs::write(
            &path,
            format!("{hex}  train-images-idx3-ubyte\n{hex} *t10k-labels-idx1-ubyte\n"),
        )
        .unwrap();
        let sums = read_sums(&path).unwrap();
        assert_eq!(sums.expected("train-images-idx3-ubyte"), vec![hex.as_str()]);
        assert_eq!(sums.expected("t10k-labels-idx1-ubyte"), vec![hex.as_str()]);
        std::fs::write(&path, "nothex  name\n").unwrap();
        assert!(read_sums(&path)
            .unwrap_err()
            .to_string()
            .contains("not a SHA-256"));
    }
}
