//! Reading IDX files, the format of MNIST and Fashion-MNIST, raw or gzipped.
//!
//! Layout (big-endian): a magic number `0x0000_08NN` (`08` = unsigned bytes, `NN` = number of
//! dimensions), one `u32` per dimension, then the payload. Images have 3 dimensions
//! (count, rows, cols), labels 1 (count).
//!
//! The header is untrusted: its declared size is checked against the bytes actually present
//! before anything is allocated from it.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use byteorder::{BigEndian, ByteOrder};
use flate2::read::MultiGzDecoder;

use crate::error::{Error, IdxError, Result};

/// Magic number of an IDX file of unsigned-byte images (3 dimensions).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned-byte labels (1 dimension).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// Largest payload accepted, 1 GiB: MNIST's largest file is 47 MB, so anything past this is a
/// corrupt or hostile header, not data.
pub const MAX_PAYLOAD: u64 = 1 << 30;

/// Images parsed from an IDX file, pixels scaled to `[0, 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Pixel rows per image.
    pub rows: usize,
    /// Pixel columns per image.
    pub cols: usize,
    /// `count * rows * cols` pixels, image after image, row-major, each `byte / 255`.
    pub pixels: Vec<f32>,
}

/// Parses an IDX images file held in memory.
pub fn parse_idx_images(bytes: &[u8]) -> Result<IdxImages, IdxError> {
    let dims = header(bytes, IMAGES_MAGIC, "images", 3)?;
    let (count, rows, cols) = (dims[0], dims[1], dims[2]);
    let payload = payload(bytes, 16, count, rows, cols)?;
    Ok(IdxImages {
        count: count as usize,
        rows: rows as usize,
        cols: cols as usize,
        pixels: payload.iter().map(|&p| f32::from(p) / 255.0).collect(),
    })
}

/// Parses an IDX labels file held in memory.
pub fn parse_idx_labels(bytes: &[u8]) -> Result<Vec<u8>, IdxError> {
    let dims = header(bytes, LABELS_MAGIC, "labels", 1)?;
    // A label is one 1x1 item, so the size checks are the images' ones.
    Ok(payload(bytes, 8, dims[0], 1, 1)?.to_vec())
}

/// Reads an IDX images file; a name ending in `.gz` is gunzipped first.
pub fn read_idx_images(path: &Path) -> Result<IdxImages> {
    let bytes = read_maybe_gz(path)?;
    parse_idx_images(&bytes).map_err(|source| Error::Idx {
        path: path.into(),
        source,
    })
}

/// Reads an IDX labels file; a name ending in `.gz` is gunzipped first.
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>> {
    let bytes = read_maybe_gz(path)?;
    parse_idx_labels(&bytes).map_err(|source| Error::Idx {
        path: path.into(),
        source,
    })
}

/// Whether a path names a gzipped file (by extension, as the standard file names do).
pub(crate) fn is_gz(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "gz")
}

/// The whole (decompressed) file, read no further than one byte past the largest valid file,
/// so a gzip bomb costs at most that much memory and still fails the size checks.
fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let file = File::open(path).map_err(Error::io(path))?;
    let reader: Box<dyn Read> = if is_gz(path) {
        Box::new(MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut bytes = Vec::new();
    reader
        .take(16 + MAX_PAYLOAD + 1)
        .read_to_end(&mut bytes)
        .map_err(Error::io(path))?;
    Ok(bytes)
}

/// Checks the magic number and returns the `ndims` declared dimensions.
fn header(
    bytes: &[u8],
    magic: u32,
    what: &'static str,
    ndims: usize,
) -> Result<Vec<u32>, IdxError> {
    let header_len = 4 + 4 * ndims;
    let truncated = || IdxError::Truncated {
        needed: header_len as u64,
        found: bytes.len() as u64,
    };
    // The magic comes first so that a file of the wrong kind says so, not "truncated".
    let found = BigEndian::read_u32(bytes.get(..4).ok_or_else(truncated)?);
    if found != magic {
        return Err(IdxError::BadMagic {
            expected: magic,
            found,
            what,
        });
    }
    let dims = bytes.get(4..header_len).ok_or_else(truncated)?;
    Ok(dims.chunks_exact(4).map(BigEndian::read_u32).collect())
}

/// The payload after a `header_len`-byte header, once its declared size is known to be sane
/// and to match the bytes present exactly.
fn payload(
    bytes: &[u8],
    header_len: usize,
    count: u32,
    rows: u32,
    cols: u32,
) -> Result<&[u8], IdxError> {
    // u128 cannot overflow: three u32 factors need at most 96 bits.
    let size = u128::from(count) * u128::from(rows) * u128::from(cols);
    if rows == 0 || cols == 0 || size > u128::from(MAX_PAYLOAD) {
        return Err(IdxError::AbsurdDims {
            count,
            rows,
            cols,
            bytes: size,
            limit: MAX_PAYLOAD,
        });
    }
    let expected = header_len as u64 + size as u64;
    let found = bytes.len() as u64;
    if found < expected {
        return Err(IdxError::Truncated {
            needed: expected,
            found,
        });
    }
    if found > expected {
        return Err(IdxError::TrailingBytes {
            expected,
            extra: found - expected,
        });
    }
    Ok(&bytes[header_len..])
}
