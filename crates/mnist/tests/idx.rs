//! The IDX reader and writer: round trips, and every malformed file rejected with a clear error.

mod common;

use common::{labels, pixels, COLS, ROWS};
use mnist::{
    encode_idx_images, encode_idx_labels, parse_idx_images, parse_idx_labels, read_idx_images,
    read_idx_labels, write_idx_images, write_idx_labels, Error, IdxError, IMAGES_MAGIC,
    LABELS_MAGIC, MAX_PAYLOAD,
};

fn round_trip(file_name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let images_path = dir.path().join(format!("images{file_name}"));
    let labels_path = dir.path().join(format!("labels{file_name}"));
    let px = pixels(3);
    write_idx_images(&images_path, &px, 3, ROWS, COLS).unwrap();
    write_idx_labels(&labels_path, &labels(3)).unwrap();

    let images = read_idx_images(&images_path).unwrap();
    assert_eq!((images.count, images.rows, images.cols), (3, ROWS, COLS));
    let expected: Vec<f32> = px.iter().map(|&p| p as f32 / 255.0).collect();
    assert_eq!(images.pixels, expected);
    assert_eq!(images.pixels[0], 0.0);
    assert_eq!(images.pixels[1], 1.0);
    assert_eq!(read_idx_labels(&labels_path).unwrap(), labels(3));
}

#[test]
fn round_trip_raw() {
    round_trip("");
}

#[test]
fn round_trip_gz() {
    round_trip(".gz");
    // The .gz really is gzip: it starts with gzip's magic bytes.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.gz");
    write_idx_labels(&path, &[1, 2, 3]).unwrap();
    assert_eq!(&std::fs::read(&path).unwrap()[..2], &[0x1f, 0x8b]);
}

#[test]
fn header_layout_is_big_endian() {
    let bytes = encode_idx_images(&[7; 6], 1, 2, 3);
    assert_eq!(
        &bytes[..16],
        &[0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]
    );
    assert_eq!(&encode_idx_labels(&[9])[..], &[0, 0, 8, 1, 0, 0, 0, 1, 9]);
}

#[test]
fn truncated_header() {
    let bytes = encode_idx_images(&pixels(1), 1, ROWS, COLS);
    assert_eq!(
        parse_idx_images(&bytes[..2]),
        Err(IdxError::Truncated {
            needed: 16,
            found: 2
        })
    );
    assert_eq!(
        parse_idx_images(&bytes[..10]),
        Err(IdxError::Truncated {
            needed: 16,
            found: 10
        })
    );
    assert_eq!(
        parse_idx_labels(&[]),
        Err(IdxError::Truncated {
            needed: 8,
            found: 0
        })
    );
}

#[test]
fn truncated_payload() {
    let bytes = encode_idx_images(&pixels(2), 2, ROWS, COLS);
    let cut = &bytes[..bytes.len() - 5];
    let needed = bytes.len() as u64;
    assert_eq!(
        parse_idx_images(cut),
        Err(IdxError::Truncated {
            needed,
            found: needed - 5
        })
    );
    let labels = encode_idx_labels(&[1, 2, 3]);
    assert_eq!(
        parse_idx_labels(&labels[..10]),
        Err(IdxError::Truncated {
            needed: 11,
            found: 10
        })
    );
}

#[test]
fn wrong_magic() {
    let labels = encode_idx_labels(&[1, 2, 3]);
    let err = parse_idx_images(&labels).unwrap_err();
    assert_eq!(
        err,
        IdxError::BadMagic {
            expected: IMAGES_MAGIC,
            found: LABELS_MAGIC,
            what: "images"
        }
    );
    assert!(err.to_string().contains("0x00000803"), "{err}");
    let images = encode_idx_images(&[0; 12], 1, ROWS, COLS);
    assert!(matches!(
        parse_idx_labels(&images),
        Err(IdxError::BadMagic {
            expected: LABELS_MAGIC,
            ..
        })
    ));
}

#[test]
fn absurd_dims_are_rejected_before_allocating() {
    // A 20-byte file whose header claims 10^9 images of 28x28: 784 GB that must never be allocated.
    let mut bytes = encode_idx_images(&[0; 4], 1, 2, 2);
    bytes[4..8].copy_from_slice(&1_000_000_000u32.to_be_bytes());
    bytes[8..12].copy_from_slice(&28u32.to_be_bytes());
    bytes[12..16].copy_from_slice(&28u32.to_be_bytes());
    let err = parse_idx_images(&bytes).unwrap_err();
    assert_eq!(
        err,
        IdxError::AbsurdDims {
            count: 1_000_000_000,
            rows: 28,
            cols: 28,
            bytes: 784_000_000_000,
            limit: MAX_PAYLOAD
        }
    );
    // The largest possible header (u32::MAX everywhere) neither overflows nor allocates.
    bytes[4..16].fill(0xff);
    assert!(matches!(
        parse_idx_images(&bytes),
        Err(IdxError::AbsurdDims { .. })
    ));
    // Zero-sized images are not images.
    let zero_rows = encode_idx_images(&[], 5, 0, 28);
    assert!(matches!(
        parse_idx_images(&zero_rows),
        Err(IdxError::AbsurdDims { rows: 0, .. })
    ));
    // A plausible size that the file does not hold is "truncated", still without allocating.
    bytes[4..16].copy_from_slice(&[0, 0, 0xea, 0x60, 0, 0, 0, 28, 0, 0, 0, 28]);
    assert_eq!(
        parse_idx_images(&bytes),
        Err(IdxError::Truncated {
            needed: 16 + 60_000 * 784,
            found: 20
        })
    );
}

#[test]
fn trailing_garbage() {
    let mut bytes = encode_idx_labels(&[1, 2]);
    bytes.extend_from_slice(b"junk");
    assert_eq!(
        parse_idx_labels(&bytes),
        Err(IdxError::TrailingBytes {
            expected: 10,
            extra: 4
        })
    );
}

#[test]
fn file_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t10k-images-idx3-ubyte");
    std::fs::write(&path, &encode_idx_images(&pixels(2), 2, ROWS, COLS)[..30]).unwrap();
    let err = read_idx_images(&path).unwrap_err();
    assert!(matches!(
        err,
        Error::Idx {
            source: IdxError::Truncated { .. },
            ..
        }
    ));
    let msg = err.to_string();
    assert!(
        msg.contains(&path.display().to_string()) && msg.contains("truncated"),
        "{msg}"
    );

    let missing = dir.path().join("nope");
    let msg = read_idx_labels(&missing).unwrap_err().to_string();
    assert!(msg.contains("nope"), "{msg}");
}

#[test]
fn corrupt_gz_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labels.gz");
    let gz = common::gzip(&encode_idx_labels(&labels(100)));
    std::fs::write(&path, &gz[..gz.len() / 2]).unwrap();
    let msg = read_idx_labels(&path).unwrap_err().to_string();
    assert!(msg.contains("labels.gz"), "{msg}");
}
