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

/// The environment variable naming gradgrad's home folder: data is cached in `<it>/data`, runs
/// are written to `<it>/runs`. It wins over everything else below (`--data`/`MNIST_DIR` and
/// `--out` still name one folder each).
pub const HOME_ENV: &str = "GRADGRAD_HOME";

/// Where the data cache and the runs live, and why there. Found at run time (never where the
/// binary was built: a moved or `cargo install`ed trainer must not look in a deleted clone),
/// first match wins:
/// 1. [`HOME_ENV`], if set and not empty;
/// 2. the gradgrad workspace around the current directory (`cargo run -p trainer` from a clone);
/// 3. the platform's folders: its cache folder for data (`~/.cache/gradgrad/data` on Linux), its
///    data folder for runs (`~/.local/share/gradgrad/runs`);
/// 4. `<temp>/gradgrad`, when the platform names neither (no `$HOME`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Home {
    /// [`HOME_ENV`] named this folder.
    Env(PathBuf),
    /// This gradgrad workspace holds the current directory.
    Workspace(PathBuf),
    /// The platform's cache folder and data folder, each with a `gradgrad` folder inside.
    Platform {
        /// The platform's cache folder with `gradgrad` inside: the data cache.
        cache: PathBuf,
        /// The platform's data folder with `gradgrad` inside: the runs.
        data: PathBuf,
    },
    /// The temporary folder's `gradgrad`: nothing better is known.
    Fallback(PathBuf),
}

/// What [`Home::resolve`] looks at; [`Places::of_this_process`] reads the real ones.
#[derive(Clone, Debug, Default)]
pub struct Places {
    /// The value of [`HOME_ENV`].
    pub env_home: Option<std::ffi::OsString>,
    /// The current directory, if it can be read.
    pub current_dir: Option<PathBuf>,
    /// The platform's cache and data folders (`dirs::cache_dir`, `dirs::data_dir`).
    pub cache_dir: Option<PathBuf>,
    /// (The platform's data folder.)
    pub data_dir: Option<PathBuf>,
    /// The temporary folder.
    pub temp_dir: PathBuf,
}

impl Places {
    /// The places as this process sees them.
    pub fn of_this_process() -> Places {
        Places {
            env_home: std::env::var_os(HOME_ENV),
            current_dir: std::env::current_dir().ok(),
            cache_dir: dirs::cache_dir(),
            data_dir: dirs::data_dir(),
            temp_dir: std::env::temp_dir(),
        }
    }
}

impl Home {
    /// This process's home (reads the environment and the current directory).
    pub fn find() -> Home {
        Home::resolve(&Places::of_this_process())
    }

    /// The home that `places` give, by the order on [`Home`]. Reads only the `Cargo.toml`s
    /// above `places.current_dir`.
    pub fn resolve(places: &Places) -> Home {
        let cwd = places.current_dir.as_deref();
        if let Some(named) = places.env_home.as_ref().filter(|v| !v.is_empty()) {
            let named = Path::new(named);
            return Home::Env(cwd.map_or_else(|| named.to_path_buf(), |c| c.join(named)));
        }
        if let Some(root) = cwd.and_then(|c| c.ancestors().find(|d| is_this_workspace(d))) {
            return Home::Workspace(root.to_path_buf());
        }
        match (&places.cache_dir, &places.data_dir) {
            (Some(cache), Some(data)) => Home::Platform {
                cache: cache.join("gradgrad"),
                data: data.join("gradgrad"),
            },
            _ => Home::Fallback(places.temp_dir.join("gradgrad")),
        }
    }

    /// The folder that holds one cache folder per data set.
    pub fn data(&self) -> PathBuf {
        match self {
            Home::Env(root) | Home::Workspace(root) | Home::Fallback(root) => root.join("data"),
            Home::Platform { cache, .. } => cache.join("data"),
        }
    }

    /// The folder that holds one folder per run.
    pub fn runs(&self) -> PathBuf {
        match self {
            Home::Env(root) | Home::Workspace(root) | Home::Fallback(root) => root.join("runs"),
            Home::Platform { data, .. } => data.join("runs"),
        }
    }
}

/// One line for the start of a run: `home: /work/gradgrad (the workspace around the current
/// directory)`.
impl std::fmt::Display for Home {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Home::Env(root) => write!(f, "home: {} (from {HOME_ENV})", root.display()),
            Home::Workspace(root) => write!(
                f,
                "home: {} (the workspace around the current directory)",
                root.display()
            ),
            Home::Platform { .. } => write!(
                f,
                "home: data in {}, runs in {} (the platform's cache and data folders: no gradgrad \
                 workspace around the current directory; set {HOME_ENV} to choose another)",
                self.data().display(),
                self.runs().display()
            ),
            Home::Fallback(root) => write!(
                f,
                "home: {} (the temporary folder: no workspace around the current directory, and \
                 the platform names no cache or data folder; set {HOME_ENV} to choose another)",
                root.display()
            ),
        }
    }
}

/// Whether `dir` is the root of this workspace: its `Cargo.toml` has a `[workspace]` whose
/// members include `crates/trainer`, and that crate is there.
fn is_this_workspace(dir: &Path) -> bool {
    let Ok(manifest) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
        return false;
    };
    manifest.lines().any(|l| l.trim() == "[workspace]")
        && manifest.contains("\"crates/trainer\"")
        && dir.join("crates/trainer/Cargo.toml").is_file()
}

/// The folder runs are written to by default: `<home>/runs`.
pub fn runs_dir() -> PathBuf {
    Home::find().runs()
}

/// The cache folder for fetched data: `<home>/data/<mnist|fashion>`.
pub fn cache_dir(dataset: DatasetKind) -> PathBuf {
    Home::find().data().join(dataset.to_string())
}

/// Both splits, and where they came from.
pub struct Data {
    /// The training and test images and labels.
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
    /// Minibatches of `data` on `device` (uploaded once to a GPU).
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

/// The mean and variance of each pixel over the images, in f64.
pub fn pixel_moments(images: &Dataset) -> (Vec<f64>, Vec<f64>) {
    let (n, dim) = (images.len().max(1) as f64, images.dim());
    let (mut sum, mut squares) = (vec![0.0f64; dim], vec![0.0f64; dim]);
    for i in 0..images.len() {
        for (d, &v) in images.image(i).iter().enumerate() {
            sum[d] += f64::from(v);
            squares[d] += f64::from(v) * f64::from(v);
        }
    }
    let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
    let variance = squares.iter().zip(&mean).map(|(q, m)| (q / n - m * m).max(0.0)).collect();
    (mean, variance)
}

/// The largest Euclidean distance between two of the first `count` images: how far apart the
/// data lies, which σ_max must cover for noise at σ_max to hide which image it started from
/// (NCSNv2's first technique). From `‖a‖² + ‖b‖² − 2a·b`, one matrix product.
pub fn largest_distance(images: &Dataset, count: usize) -> f64 {
    let n = count.min(images.len());
    let dim = images.dim();
    let x = Tensor::from_slice(&images.images[..n * dim], [n, dim]).to_dtype(autodiff::DType::F64);
    let gram = x.matmul_t(&x, false, true).to_vec_f64();
    let squared = |i: usize| gram[i * n + i];
    let mut largest: f64 = 0.0;
    for i in 0..n {
        for j in 0..i {
            largest = largest.max(squared(i) + squared(j) - 2.0 * gram[i * n + j]);
        }
    }
    largest.sqrt()
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
    fn the_largest_distance_is_between_the_farthest_pair() {
        // Three 2-pixel images: (0, 0), (1, 0), (1, 1); the farthest pair is √2 apart.
        let images = Dataset { images: vec![0.0, 0.0, 1.0, 0.0, 1.0, 1.0], labels: vec![0, 1, 2], rows: 1, cols: 2 };
        assert!((largest_distance(&images, 3) - 2f64.sqrt()).abs() < 1e-12);
        assert!((largest_distance(&images, 2) - 1.0).abs() < 1e-12);
    }

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

    /// A folder laid out like this workspace: a `[workspace]` with `crates/trainer` in it.
    fn fake_workspace(root: &Path) {
        std::fs::create_dir_all(root.join("crates/trainer/src/deep")).unwrap();
        std::fs::write(
            root.join("Cargo.toml"),
            "[workspace]\nmembers = [\"crates/mnist\", \"crates/trainer\"]\n",
        )
        .unwrap();
        std::fs::write(
            root.join("crates/trainer/Cargo.toml"),
            "[package]\nname = \"trainer\"\n",
        )
        .unwrap();
    }

    /// No environment variable, the platform's folders under `base`.
    fn places(cwd: &Path, base: &Path) -> Places {
        Places {
            env_home: None,
            current_dir: Some(cwd.to_path_buf()),
            cache_dir: Some(base.join("cache")),
            data_dir: Some(base.join("share")),
            temp_dir: base.join("tmp"),
        }
    }

    #[test]
    fn the_workspace_is_found_from_a_nested_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("clone");
        fake_workspace(&root);
        let nested = root.join("crates/trainer/src/deep");
        let home = Home::resolve(&places(&nested, tmp.path()));
        assert_eq!(home, Home::Workspace(root.clone()));
        assert_eq!(home.data(), root.join("data"));
        assert_eq!(home.runs(), root.join("runs"));
        assert!(home
            .to_string()
            .contains("the workspace around the current directory"));
    }

    #[test]
    fn outside_a_workspace_the_platform_folders_are_used() {
        let tmp = tempfile::tempdir().unwrap();
        let elsewhere = tmp.path().join("elsewhere");
        // Another workspace, or a Cargo.toml naming crates/trainer without the crate, is not ours.
        std::fs::create_dir_all(elsewhere.join("sub")).unwrap();
        std::fs::write(
            elsewhere.join("Cargo.toml"),
            "[workspace]\nmembers = [\"crates/trainer\"]\n",
        )
        .unwrap();
        let home = Home::resolve(&places(&elsewhere.join("sub"), tmp.path()));
        assert_eq!(home.data(), tmp.path().join("cache/gradgrad/data"));
        assert_eq!(home.runs(), tmp.path().join("share/gradgrad/runs"));
        assert!(home.to_string().contains("platform"));

        // Neither platform folder known (no $HOME), nor any current directory: the temporary one.
        let bare = Places {
            current_dir: None,
            cache_dir: None,
            ..places(&elsewhere, tmp.path())
        };
        let home = Home::resolve(&bare);
        assert_eq!(home, Home::Fallback(tmp.path().join("tmp/gradgrad")));
        assert_eq!(home.data(), tmp.path().join("tmp/gradgrad/data"));
    }

    #[test]
    fn the_environment_variable_wins_and_an_empty_one_is_unset() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("clone");
        fake_workspace(&root);
        let mut inside = places(&root, tmp.path());
        inside.env_home = Some("/srv/gradgrad".into());
        let home = Home::resolve(&inside);
        assert_eq!(home, Home::Env(PathBuf::from("/srv/gradgrad")));
        assert_eq!(home.data(), Path::new("/srv/gradgrad/data"));
        assert_eq!(home.runs(), Path::new("/srv/gradgrad/runs"));
        assert!(home.to_string().contains(HOME_ENV));
        // A relative value is taken from the current directory.
        inside.env_home = Some("here".into());
        assert_eq!(Home::resolve(&inside), Home::Env(root.join("here")));
        inside.env_home = Some("".into());
        assert_eq!(Home::resolve(&inside), Home::Workspace(root));
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
