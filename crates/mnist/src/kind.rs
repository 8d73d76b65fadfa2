//! Which data set: MNIST digits or Zalando's Fashion-MNIST (same format, same file names).

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// Which data set. Parses from and prints as `mnist` / `fashion`, so it works as a CLI value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Kind {
    /// LeCun's handwritten digits.
    #[default]
    Mnist,
    /// Zalando's clothing images, a drop-in replacement for MNIST.
    Fashion,
}

impl Kind {
    /// The name people know it by, for messages: "MNIST" or "Fashion-MNIST".
    pub fn title(self) -> &'static str {
        match self {
            Kind::Mnist => "MNIST",
            Kind::Fashion => "Fashion-MNIST",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Mnist => "mnist",
            Kind::Fashion => "fashion",
        })
    }
}

impl FromStr for Kind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().as_str() {
            "mnist" => Ok(Kind::Mnist),
            "fashion" | "fashion-mnist" | "fashion_mnist" => Ok(Kind::Fashion),
            _ => Err(Error::UnknownKind(s.into())),
        }
    }
}
