//! Saving a stream into the data folder safely: it is written to a temporary name beside the
//! target, hashed on the way, and renamed to its real name only when whole and verified.
//! Any failure drops the temporary file, so a half or bad file never carries a real name.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use indicatif::ProgressBar;
use sha2::{Digest, Sha256};

use crate::checksum::Checksums;
use crate::error::{Error, Result};

/// Saves `src` as `dir/name` if its bytes match a trusted sum for `name` (and, when given,
/// `expected_len`). `from` names the source (a URL, an archive) in errors; `bar` counts bytes.
pub(crate) fn save_verified(
    mut src: impl Read,
    from: &str,
    dir: &Path,
    name: &str,
    sums: &Checksums,
    expected_len: Option<u64>,
    bar: &ProgressBar,
) -> Result<PathBuf> {
    let target = dir.join(name);
    // Refuse before transferring anything: an unknown file could never be used.
    if sums.expected(name).is_empty() {
        return Err(Error::UnknownChecksum {
            path: target,
            name: name.into(),
        });
    }
    let mut part = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".part")
        .tempfile_in(dir)
        .map_err(Error::io(dir))?;
    let transfer = |reason: String| Error::Transfer {
        from: from.into(),
        reason,
    };

    let mut hasher = Sha256::new();
    let mut total = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = src.read(&mut buf).map_err(|e| transfer(e.to_string()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        part.write_all(&buf[..n]).map_err(Error::io(part.path()))?;
        total += n as u64;
        bar.inc(n as u64);
    }
    if let Some(len) = expected_len.filter(|&len| len != total) {
        return Err(transfer(format!(
            "connection closed after {total} of {len} bytes"
        )));
    }
    sums.check(&target, name, &hex::encode(hasher.finalize()))?;

    readable_by_all(part.as_file()).map_err(Error::io(part.path()))?;
    part.as_file().sync_all().map_err(Error::io(part.path()))?;
    part.persist(&target).map_err(|e| Error::Io {
        path: target.clone(),
        source: e.error,
    })?;
    Ok(target)
}

/// Temporary files are created owner-only; the kept file gets a plain data file's `0644`.
#[cfg(unix)]
fn readable_by_all(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn readable_by_all(_: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}
