//! Errors that point at the line and key a user has to fix.

use std::fmt;

/// Everything that can go wrong reading or resolving a configuration.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The text is not TOML / JSON at all; nothing past this point could be read.
    #[error("{}{line}:{column}: {message}", origin_prefix(origin))]
    Syntax {
        origin: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// The text parsed but keys or values are wrong; every problem found, one per line.
    #[error("{}", ProblemLines(.0))]
    Invalid(Vec<Problem>),
    /// The file could not be read.
    #[error("{origin}: {source}")]
    Read {
        origin: String,
        #[source]
        source: std::io::Error,
    },
}

/// Shorthand used throughout this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One wrong key or value, located as precisely as the source allows. A warning
/// ([`crate::Resolved::warnings`]) has the same shape: a key that works but should change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file name given to the parser (empty for a spec not read from a file).
    pub origin: String,
    /// 1-based line of the key at fault (or of its table) when the text is known.
    pub line: Option<usize>,
    /// 0-based index into `ConfigFile::endpoints` and the endpoint's name; `None` for
    /// `[defaults]` and the top level. Shown 1-based, as a user counts `[[endpoint]]` tables.
    pub endpoint: Option<(usize, String)>,
    /// The key as written in the file, relative to the endpoint (`ping_interval`,
    /// `reconnect.cap`, `secret_headers.Authorization`, `on_connect[0]`) or absolute
    /// outside one (`defaults.pong_timeout`).
    pub field: String,
    /// What is wrong and, where possible, how to fix it. Never contains a secret value.
    pub message: String,
}

impl Error {
    /// The problems of an [`Error::Invalid`]; empty for other kinds.
    pub fn problems(&self) -> &[Problem] {
        match self {
            Error::Invalid(p) => p,
            _ => &[],
        }
    }
}

impl fmt::Display for Problem {
    /// `heartline.toml:14: endpoint 2 (ticker): ping_interval: <message>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.origin.is_empty(), self.line) {
            (false, Some(line)) => write!(f, "{}:{line}: ", self.origin)?,
            (false, None) => write!(f, "{}: ", self.origin)?,
            (true, Some(line)) => write!(f, "line {line}: ")?,
            (true, None) => {}
        }
        match &self.endpoint {
            Some((i, name)) if name.trim().is_empty() => write!(f, "endpoint {}: ", i + 1)?,
            Some((i, name)) => write!(f, "endpoint {} ({name}): ", i + 1)?,
            None => {}
        }
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

fn origin_prefix(origin: &str) -> String {
    if origin.is_empty() {
        "line ".into()
    } else {
        format!("{origin}:")
    }
}

struct ProblemLines<'a>(&'a [Problem]);

impl fmt::Display for ProblemLines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}
