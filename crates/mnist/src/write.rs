//! Writing IDX files, raw or gzipped, so tests (here and in other crates) can make small
//! MNIST-shaped data sets instead of needing the real one.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use byteorder::{BigEndian, WriteBytesExt};
use flate2::write::GzEncoder;
use flate2::Compression;

use crate::error::{Error, Result};
use crate::idx::{is_gz, IMAGES_MAGIC, LABELS_MAGIC};

/// The bytes of an IDX images file.
///
/// Panics if `pixels.len() != count * rows * cols` or a dimension does not fit in a `u32`:
/// both are bugs in the caller, not run-time conditions.
pub fn encode_idx_images(pixels: &[u8], count: usize, rows: usize, cols: usize) -> Vec<u8> {
    assert_eq!(
        pixels.len(),
        count * rows * cols,
        "encode_idx_images: {} pixels given for {count} images of {rows}x{cols}",
        pixels.len()
    );
    encode(IMAGES_MAGIC, &[count, rows, cols], pixels)
}

/// The bytes of an IDX labels file.
pub fn encode_idx_labels(labels: &[u8]) -> Vec<u8> {
    encode(LABELS_MAGIC, &[labels.len()], labels)
}

/// Writes an IDX images file, gzipped when `path` ends in `.gz`. Panics as [`encode_idx_images`].
pub fn write_idx_images(
    path: &Path,
    pixels: &[u8],
    count: usize,
    rows: usize,
    cols: usize,
) -> Result<()> {
    write_file(path, &encode_idx_images(pixels, count, rows, cols))
}

/// Writes an IDX labels file, gzipped when `path` ends in `.gz`.
pub fn write_idx_labels(path: &Path, labels: &[u8]) -> Result<()> {
    write_file(path, &encode_idx_labels(labels))
}

fn encode(magic: u32, dims: &[usize], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 4 * dims.len() + payload.len());
    // Writing into a Vec cannot fail; only the u32 conversion can, and that is a caller bug.
    out.write_u32::<BigEndian>(magic).unwrap();
    for &d in dims {
        let d =
            u32::try_from(d).unwrap_or_else(|_| panic!("IDX dimension {d} does not fit in a u32"));
        out.write_u32::<BigEndian>(d).unwrap();
    }
    out.extend_from_slice(payload);
    out
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let file = BufWriter::new(File::create(path).map_err(Error::io(path))?);
    let written = if is_gz(path) {
        let mut gz = GzEncoder::new(file, Compression::default());
        gz.write_all(bytes).and_then(|()| gz.finish()?.flush())
    } else {
        let mut file = file;
        file.write_all(bytes).and_then(|()| file.flush())
    };
    written.map_err(Error::io(path))
}
