//! The one error type of the core; the bindings map each variant to one Python exception.

use std::fmt;

/// Everything that can go wrong in a core call. Each variant names the offending argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A value is out of its allowed range (negative, non-finite, zero where positive needed).
    InvalidValue { arg: String, message: String },
    /// Array shapes are inconsistent with each other or with what the call expects.
    Shape { arg: String, expected: String, got: String },
    /// The caller asked the computation to stop (Ctrl-C).
    Cancelled,
    /// An iterative decomposition (SVD, eigensolver) did not converge on finite input.
    NoConvergence { what: String },
    /// A buffer sized by `arg` cannot be allocated: `bytes` asked for, or None when the size
    /// itself overflows.
    OutOfMemory { arg: String, bytes: Option<u128> },
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn invalid(arg: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidValue {
            arg: arg.into(),
            message: message.into(),
        }
    }

    pub fn shape(arg: impl Into<String>, expected: impl Into<String>, got: impl Into<String>) -> Self {
        Error::Shape {
            arg: arg.into(),
            expected: expected.into(),
            got: got.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidValue { arg, message } => write!(f, "{arg}: {message}"),
            Error::Shape { arg, expected, got } => {
                write!(f, "{arg}: expected shape {expected}, got {got}")
            }
            Error::Cancelled => write!(f, "computation cancelled"),
            Error::NoConvergence { what } => write!(f, "{what} did not converge"),
            Error::OutOfMemory {
                arg,
                bytes: Some(bytes),
            } => {
                write!(f, "{arg}: cannot allocate {bytes} bytes ({})", human_bytes(*bytes))
            }
            Error::OutOfMemory { arg, bytes: None } => {
                write!(f, "{arg}: the requested size overflows the address space")
            }
        }
    }
}

impl std::error::Error for Error {}

/// `bytes` in binary units with three decimals, e.g. "7.276 TiB".
fn human_bytes(bytes: u128) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.3} {}", units[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_memory_names_the_argument_and_the_bytes() {
        let err = Error::OutOfMemory {
            arg: "batch".into(),
            bytes: Some(8 << 40),
        };
        assert_eq!(
            err.to_string(),
            "batch: cannot allocate 8796093022208 bytes (8.000 TiB)"
        );
        assert_eq!(human_bytes(1000), "1000 B");
        assert_eq!(human_bytes(1536), "1.500 KiB");
    }
}
