//! The four standard file names, and finding a checksum-verified copy of one in a folder.

use std::path::{Path, PathBuf};

use crate::checksum::Checksums;
use crate::error::{Error, Result};

/// Training images (60,000 of 28x28).
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
/// Training labels.
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
/// Test images (10,000 of 28x28).
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
/// Test labels.
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";
/// All four, each stored as `NAME` or `NAME.gz`.
pub const FILE_NAMES: [&str; 4] = [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS];

/// `dir/NAME` or else `dir/NAME.gz`, whichever first matches a trusted sum.
///
/// A copy that fails its check is skipped, never used; if no copy passes, the error is the
/// first failure, or [`Error::Missing`] when neither exists.
pub fn find_verified(dir: &Path, name: &str, sums: &Checksums) -> Result<PathBuf> {
    let mut first_failure = None;
    for path in [dir.join(name), dir.join(format!("{name}.gz"))] {
        if !path.is_file() {
            continue;
        }
        match sums.verify(&path) {
            Ok(()) => return Ok(path),
            Err(e) => {
                first_failure.get_or_insert(e);
            }
        }
    }
    Err(first_failure.unwrap_or_else(|| Error::Missing {
        dir: dir.into(),
        name: name.into(),
    }))
}

/// All four files verified in `dir`, in [`FILE_NAMES`] order.
pub fn find_all_verified(dir: &Path, sums: &Checksums) -> Result<[PathBuf; 4]> {
    let [a, b, c, d] = FILE_NAMES.map(|name| find_verified(dir, name, sums));
    Ok([a?, b?, c?, d?])
}
