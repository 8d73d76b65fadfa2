//! Small MNIST-shaped data made on the spot: the real data set is never needed by the tests.
#![allow(dead_code)] // each test file uses a different part

pub mod server;

use std::io::Write;
use std::path::Path;

use flate2::write::GzEncoder;
use flate2::Compression;
use mnist::{
    encode_idx_images, encode_idx_labels, Checksums, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES,
    TRAIN_LABELS,
};
use sha2::{Digest, Sha256};

pub const ROWS: usize = 4;
pub const COLS: usize = 3;
pub const TRAIN_LEN: usize = 5;
pub const TEST_LEN: usize = 2;

/// Deterministic pixels covering 0 and 255, so scaling to [0, 1] is checked at both ends.
pub fn pixels(count: usize) -> Vec<u8> {
    (0..count * ROWS * COLS)
        .map(|i| if i == 1 { 255 } else { (i * 37 % 255) as u8 })
        .collect()
}

pub fn labels(count: usize) -> Vec<u8> {
    (0..count).map(|i| (i % 10) as u8).collect()
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The four standard files of a tiny data set, as (file name, bytes); `.gz` names when `gz`.
pub fn tiny_files(gz: bool) -> Vec<(String, Vec<u8>)> {
    let raw = [
        (
            TRAIN_IMAGES,
            encode_idx_images(&pixels(TRAIN_LEN), TRAIN_LEN, ROWS, COLS),
        ),
        (TRAIN_LABELS, encode_idx_labels(&labels(TRAIN_LEN))),
        (
            TEST_IMAGES,
            encode_idx_images(&pixels(TEST_LEN), TEST_LEN, ROWS, COLS),
        ),
        (TEST_LABELS, encode_idx_labels(&labels(TEST_LEN))),
    ];
    raw.into_iter()
        .map(|(name, bytes)| {
            if gz {
                (format!("{name}.gz"), gzip(&bytes))
            } else {
                (name.to_owned(), bytes)
            }
        })
        .collect()
}

/// Sums trusting exactly these files.
pub fn sums_for(files: &[(String, Vec<u8>)]) -> Checksums {
    files
        .iter()
        .fold(Checksums::default(), |sums, (name, bytes)| {
            sums.with(name, &sha256_hex(bytes))
        })
}

pub fn write_all(dir: &Path, files: &[(String, Vec<u8>)]) {
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

/// File names in `dir`, sorted (to see what a failed fetch left behind).
pub fn listing(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return vec![];
    };
    let mut names: Vec<String> = entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
