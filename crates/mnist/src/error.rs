//! The two error types: what is wrong inside IDX bytes, and what went wrong with a file or a fetch.

use std::fmt;
use std::path::PathBuf;

/// What is wrong inside an IDX byte stream.
///
/// The parser only sees bytes, so this carries no path; [`Error::Idx`] adds it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdxError {
    /// Fewer bytes than the header (or the payload it declares) needs.
    #[error("truncated: {needed} bytes needed but only {found} present")]
    Truncated {
        /// Bytes the header (or header plus declared payload) needs.
        needed: u64,
        /// Bytes present.
        found: u64,
    },
    /// The first four bytes are not the magic number of the expected kind of file.
    #[error("wrong magic number {found:#010x}, expected {expected:#010x} for an IDX {what} file")]
    BadMagic {
        /// [`crate::IMAGES_MAGIC`] or [`crate::LABELS_MAGIC`].
        expected: u32,
        /// The file's first four bytes, big-endian.
        found: u32,
        /// "images" or "labels".
        what: &'static str,
    },
    /// The header declares a shape no MNIST-like file can have (zero-sized images, or more
    /// bytes than [`crate::MAX_PAYLOAD`]). Rejected before anything is allocated.
    #[error("absurd dimensions: header declares {count} items of {rows}x{cols} = {bytes} bytes (limit {limit}, zero rows or columns are not allowed)")]
    AbsurdDims {
        /// Declared number of items.
        count: u32,
        /// Declared rows per item (1 for labels).
        rows: u32,
        /// Declared columns per item (1 for labels).
        cols: u32,
        /// The payload size they imply.
        bytes: u128,
        /// [`crate::MAX_PAYLOAD`].
        limit: u64,
    },
    /// Bytes left over after the declared payload.
    #[error(
        "{extra} bytes of trailing garbage after the {expected}-byte file the header declares"
    )]
    TrailingBytes {
        /// Header plus declared payload.
        expected: u64,
        /// Bytes beyond that.
        extra: u64,
    },
}

/// Everything this crate can fail with at run time. Every variant names the file or place.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file is not a valid IDX file of the expected kind.
    #[error("{}: not a valid IDX file: {source}", path.display())]
    Idx {
        /// The file.
        path: PathBuf,
        /// What is wrong in it.
        source: IdxError,
    },
    /// The file's SHA-256 is not one we trust for its name, so it was not used.
    #[error("{}: checksum mismatch: expected SHA-256 {}, found {found}; the file was not used", path.display(), expected.join(" or "))]
    ChecksumMismatch {
        /// The file (for a download, the name it would have had).
        path: PathBuf,
        /// The trusted sums for its name, lowercase hex.
        expected: Vec<String>,
        /// Its actual sum, lowercase hex.
        found: String,
    },
    /// No SHA-256 is known for a file of this name, so it cannot be trusted and was not used.
    #[error("{}: no known SHA-256 for a file named {name:?}; the file was not used", path.display())]
    UnknownChecksum {
        /// The file.
        path: PathBuf,
        /// Its file name, the key looked up.
        name: String,
    },
    /// Neither `NAME` nor `NAME.gz` is in the folder.
    #[error("{}: missing {name} (looked for {name} and {name}.gz)", dir.display())]
    Missing {
        /// The folder.
        dir: PathBuf,
        /// The standard name, without `.gz`.
        name: String,
    },
    /// An images file and its labels file disagree on how many items there are.
    #[error("{} holds {images} images but {} holds {labels} labels", images_path.display(), labels_path.display())]
    CountMismatch {
        /// The images file.
        images_path: PathBuf,
        /// Images in it.
        images: usize,
        /// The labels file.
        labels_path: PathBuf,
        /// Labels in it.
        labels: usize,
    },
    /// Copying from a URL or an archive failed part way (network error, HTTP status, early
    /// end, timeout); nothing was kept.
    #[error("{from}: {reason}")]
    Transfer {
        /// The URL or archive member.
        from: String,
        /// What went wrong.
        reason: String,
    },
    /// A dataset name other than `mnist` or `fashion`.
    #[error("unknown dataset {0:?}: expected \"mnist\" or \"fashion\"")]
    UnknownKind(String),
    /// Nothing held or fetched the data; the report lists every place tried.
    #[error("{0}")]
    NotFound(Box<NotFound>),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One place [`crate::locate_or_fetch`] looked, and why it did not work out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// A folder, a URL or the npm step.
    pub place: String,
    /// Why it was not used.
    pub reason: String,
}

/// The report of a failed [`crate::locate_or_fetch`]: every place looked, then how to fix it.
#[derive(Debug, Clone)]
pub struct NotFound {
    /// "MNIST" or "Fashion-MNIST".
    pub dataset: String,
    /// Every place looked, in order.
    pub attempts: Vec<Attempt>,
    /// Ways to provide the data by hand, one per line.
    pub help: Vec<String>,
}

impl Attempt {
    pub(crate) fn new(place: String, reason: String) -> Self {
        Attempt { place, reason }
    }
}

impl fmt::Display for NotFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "could not find or fetch {}. Places looked:",
            self.dataset
        )?;
        for a in &self.attempts {
            writeln!(f, "  - {}: {}", a.place, a.reason)?;
        }
        write!(f, "To provide the data:")?;
        for h in &self.help {
            write!(f, "\n  - {h}")?;
        }
        Ok(())
    }
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}
