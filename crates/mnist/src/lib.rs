//! MNIST and Fashion-MNIST for gradgrad: a checked IDX reader and writer, SHA-256
//! verification of every file used, and a fetcher that finds the data or brings it into a cache.
//!
//! ```no_run
//! use mnist::{load_dir, locate_or_fetch, FetchOptions, Kind};
//! let dir = locate_or_fetch(Kind::Mnist, &FetchOptions::new(Kind::Mnist, "data/mnist"))?;
//! let splits = load_dir(Kind::Mnist, &dir)?;
//! assert_eq!(splits.train.dim(), 28 * 28);
//! # Ok::<(), mnist::Error>(())
//! ```
//!
//! The guide to higher-order autograd, chapter by chapter with runnable examples, is
//! `docs/guide/` in the gradgrad repository, and [`gradgrad::guide`](../gradgrad/guide/index.html)
//! in the workspace's documentation (`cargo doc --workspace --no-deps --open`).

#![warn(missing_docs)]

mod checksum;
mod dataset;
mod download;
mod error;
mod files;
mod idx;
mod kind;
mod locate;
mod npm;
mod store;
mod write;

pub use checksum::{sha256_file, Checksums, FASHION_SHA256, MNIST_SHA256};
pub use dataset::{load_dir, load_dir_with, Dataset, Splits};
pub use error::{Attempt, Error, IdxError, NotFound, Result};
pub use files::{
    find_all_verified, find_verified, FILE_NAMES, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES,
    TRAIN_LABELS,
};
pub use idx::{
    parse_idx_images, parse_idx_labels, read_idx_images, read_idx_labels, IdxImages, IMAGES_MAGIC,
    LABELS_MAGIC, MAX_PAYLOAD,
};
pub use kind::Kind;
pub use locate::{
    locate_or_fetch, FetchOptions, DEBIAN_FASHION_DIR, DIR_ENV, FASHION_MIRRORS, MNIST_MIRRORS,
};
pub use npm::NpmSource;
pub use write::{encode_idx_images, encode_idx_labels, write_idx_images, write_idx_labels};
