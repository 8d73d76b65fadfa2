//! Loading a folder: the four files found raw or gzipped, checked against their sums, paired up.

mod common;

use common::{sha256_hex, sums_for, tiny_files, write_all, COLS, ROWS, TEST_LEN, TRAIN_LEN};
use mnist::{
    encode_idx_labels, load_dir, load_dir_with, sha256_file, Checksums, Error, Kind,
    FASHION_SHA256, FILE_NAMES, MNIST_SHA256, TRAIN_IMAGES, TRAIN_LABELS,
};

fn loads(gz: bool) {
    let dir = tempfile::tempdir().unwrap();
    let files = tiny_files(gz);
    write_all(dir.path(), &files);
    let splits = load_dir_with(dir.path(), &sums_for(&files)).unwrap();
    assert_eq!(
        (splits.train.len(), splits.test.len()),
        (TRAIN_LEN, TEST_LEN)
    );
    assert_eq!(
        (splits.train.rows, splits.train.cols, splits.train.dim()),
        (ROWS, COLS, ROWS * COLS)
    );
    assert_eq!(splits.train.labels, common::labels(TRAIN_LEN));
    let second: Vec<f32> = common::pixels(TRAIN_LEN)[12..24]
        .iter()
        .map(|&p| p as f32 / 255.0)
        .collect();
    assert_eq!(splits.train.image(1), &second[..]);
    assert!(!splits.test.is_empty());
}

#[test]
fn loads_raw_folder() {
    loads(false);
}

#[test]
fn loads_gz_folder() {
    loads(true);
}

#[test]
fn checksum_mismatch_means_the_file_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let files = tiny_files(false);
    write_all(dir.path(), &files);
    let mut sums = Checksums::default();
    let wrong = "00".repeat(32);
    for (name, bytes) in &files {
        let sum = if name == TRAIN_LABELS {
            wrong.clone()
        } else {
            sha256_hex(bytes)
        };
        sums = sums.with(name, &sum);
    }
    let err = load_dir_with(dir.path(), &sums).unwrap_err();
    let Error::ChecksumMismatch {
        path,
        expected,
        found,
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(path, &dir.path().join(TRAIN_LABELS));
    assert_eq!(expected, &vec![wrong.clone()]);
    assert_eq!(found, &sha256_hex(&files[1].1));
    let msg = err.to_string();
    for part in [
        &wrong,
        found,
        &path.display().to_string(),
        &"not used".to_owned(),
    ] {
        assert!(msg.contains(part.as_str()), "{msg} lacks {part}");
    }
}

#[test]
fn a_bad_raw_copy_is_skipped_for_a_good_gz_one() {
    let dir = tempfile::tempdir().unwrap();
    let gz = tiny_files(true);
    write_all(dir.path(), &gz);
    std::fs::write(dir.path().join(TRAIN_IMAGES), b"tampered").unwrap();
    let splits = load_dir_with(dir.path(), &sums_for(&gz)).unwrap();
    assert_eq!(splits.train.len(), TRAIN_LEN);
}

#[test]
fn a_file_without_a_known_sum_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    write_all(dir.path(), &tiny_files(false));
    let err = load_dir_with(dir.path(), &Checksums::default()).unwrap_err();
    assert!(matches!(err, Error::UnknownChecksum { .. }), "{err}");
}

#[test]
fn missing_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let files = tiny_files(false);
    write_all(dir.path(), &files[..3]);
    let err = load_dir_with(dir.path(), &sums_for(&files)).unwrap_err();
    assert!(
        matches!(&err, Error::Missing { name, .. } if name == FILE_NAMES[3]),
        "{err}"
    );
    assert!(
        err.to_string().contains("t10k-labels-idx1-ubyte.gz"),
        "{err}"
    );
}

#[test]
fn image_and_label_counts_must_agree() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = tiny_files(false);
    files[1].1 = encode_idx_labels(&[1, 2, 3]);
    write_all(dir.path(), &files);
    let err = load_dir_with(dir.path(), &sums_for(&files)).unwrap_err();
    let Error::CountMismatch { images, labels, .. } = err else {
        panic!("{err}")
    };
    assert_eq!((images, labels), (TRAIN_LEN, 3));
}

#[test]
fn builtin_sums_cover_every_file_raw_and_gz() {
    for kind in [Kind::Mnist, Kind::Fashion] {
        let sums = Checksums::builtin(kind);
        for name in FILE_NAMES {
            assert_eq!(sums.expected(name).len(), 1, "{kind} {name}");
            // Fashion trusts both Zalando's .gz and Debian's re-gzipped copy.
            let gz = if kind == Kind::Fashion { 2 } else { 1 };
            assert_eq!(
                sums.expected(&format!("{name}.gz")).len(),
                gz,
                "{kind} {name}.gz"
            );
        }
    }
    for (_, hex) in MNIST_SHA256.iter().chain(&FASHION_SHA256) {
        assert!(
            hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
            "{hex}"
        );
    }
}

#[test]
fn real_data_is_refused_by_the_builtin_sums_when_fake() {
    // Small generated files under the real names fail the real sums: nothing is used.
    let dir = tempfile::tempdir().unwrap();
    write_all(dir.path(), &tiny_files(true));
    let err = load_dir(Kind::Mnist, dir.path()).unwrap_err();
    assert!(matches!(err, Error::ChecksumMismatch { .. }), "{err}");
}

#[test]
fn sha256_file_matches_known_vector() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("abc");
    std::fs::write(&path, b"abc").unwrap();
    let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    assert_eq!(sha256_file(&path).unwrap(), abc);
}

#[test]
fn kind_parses_and_prints() {
    assert_eq!("mnist".parse::<Kind>().unwrap(), Kind::Mnist);
    assert_eq!("Fashion".parse::<Kind>().unwrap(), Kind::Fashion);
    assert_eq!(Kind::Fashion.to_string(), "fashion");
    assert_eq!(
        Kind::Mnist.to_string().parse::<Kind>().unwrap(),
        Kind::Mnist
    );
    assert!("cifar"
        .parse::<Kind>()
        .unwrap_err()
        .to_string()
        .contains("cifar"));
}
