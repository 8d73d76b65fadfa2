//! The in-memory data set: images as `f32` in `[0, 1]`, labels as `u8`, loaded from a folder.

use std::path::Path;

use crate::checksum::Checksums;
use crate::error::{Error, Result};
use crate::files::find_all_verified;
use crate::idx::{read_idx_images, read_idx_labels};
use crate::kind::Kind;

/// One split of the data: `len()` images of `rows x cols` pixels and their labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// `len() * dim()` pixels in `[0, 1]`, image after image, row-major.
    pub images: Vec<f32>,
    /// One label per image (0..=9 for MNIST and Fashion-MNIST).
    pub labels: Vec<u8>,
    /// Pixel rows per image.
    pub rows: usize,
    /// Pixel columns per image.
    pub cols: usize,
}

impl Dataset {
    /// Reads an images file and its labels file (raw or `.gz`), checking that their counts agree.
    /// No checksum is checked here: [`load_dir`] does that.
    pub fn from_files(images_path: &Path, labels_path: &Path) -> Result<Self> {
        let images = read_idx_images(images_path)?;
        let labels = read_idx_labels(labels_path)?;
        if images.count != labels.len() {
            return Err(Error::CountMismatch {
                images_path: images_path.into(),
                images: images.count,
                labels_path: labels_path.into(),
                labels: labels.len(),
            });
        }
        Ok(Dataset {
            images: images.pixels,
            labels,
            rows: images.rows,
            cols: images.cols,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels per image, `rows * cols`.
    pub fn dim(&self) -> usize {
        self.rows * self.cols
    }

    /// The pixels of image `i`. Panics if `i >= len()`.
    pub fn image(&self, i: usize) -> &[f32] {
        let dim = self.dim();
        &self.images[i * dim..(i + 1) * dim]
    }
}

/// The standard train/test split.
#[derive(Debug, Clone, PartialEq)]
pub struct Splits {
    /// 60,000 images for the real data.
    pub train: Dataset,
    /// 10,000 images for the real data.
    pub test: Dataset,
}

/// Loads the four standard files from `dir`, each raw or `.gz`, checked against the built-in
/// sums for `kind`.
pub fn load_dir(kind: Kind, dir: &Path) -> Result<Splits> {
    load_dir_with(dir, &Checksums::builtin(kind))
}

/// [`load_dir`] with the caller's sums, for generated test data.
pub fn load_dir_with(dir: &Path, sums: &Checksums) -> Result<Splits> {
    let [train_images, train_labels, test_images, test_labels] = find_all_verified(dir, sums)?;
    Ok(Splits {
        train: Dataset::from_files(&train_images, &train_labels)?,
        test: Dataset::from_files(&test_images, &test_labels)?,
    })
}
