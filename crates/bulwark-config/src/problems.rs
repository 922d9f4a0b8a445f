//! Problems found in a config file, each with the dotted key path it is about
//! (`routes[2].upstream`) and, once located, the line in the file.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key path, e.g. `routes[2].upstream`; empty for the whole file.
    pub path: String,
    /// 1-based line of the key in the file, when it could be located.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match (self.line, self.path.is_empty()) {
            (Some(line), false) => write!(f, "line {line}: {}: {}", self.path, self.message),
            (Some(line), true) => write!(f, "line {line}: {}", self.message),
            (None, false) => write!(f, "{}: {}", self.path, self.message),
            (None, true) => f.write_str(&self.message),
        }
    }
}

/// Collects every problem instead of stopping at the first, so `bulwark check` can list
/// them all in one go.
#[derive(Debug, Default)]
pub struct Problems {
    pub errors: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

impl Problems {
    pub fn error(&mut self, path: impl Into<String>, message: impl fmt::Display) {
        self.errors.push(Problem {
            path: path.into(),
            line: None,
            message: message.to_string(),
        });
    }

    pub fn warn(&mut self, path: impl Into<String>, message: impl fmt::Display) {
        self.warnings.push(Problem {
            path: path.into(),
            line: None,
            message: message.to_string(),
        });
    }
}
