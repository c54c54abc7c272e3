//! Errors of the library.
//!
//! Every error says what went wrong and, for bad input, where: [`InputError`] carries the file,
//! the line and the column (number and header name) like `csv::Position`, plus a hint on how to
//! fix it. An infeasible instance is not a bare error string: [`Error::Infeasible`] carries a
//! [`Diagnosis`] that names the papers and reviewers involved.

use std::fmt;
use std::path::PathBuf;

use crate::solve::Diagnosis;

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in papermatch.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file of the venue is malformed; the error points at the place.
    #[error(transparent)]
    Input(#[from] Box<InputError>),
    /// A file could not be read or written.
    #[error("{action} {path}")]
    Io {
        /// What was being done ("cannot read", "cannot write", ...).
        action: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The options contradict each other or the venue.
    #[error("invalid options: {0}")]
    Options(String),
    /// No assignment satisfies every constraint; the diagnosis says why.
    #[error("{0}")]
    Infeasible(Box<Diagnosis>),
    /// A solver failed to produce an answer.
    #[error("solver failed: {0}")]
    Solver(String),
    /// A solver's answer failed papermatch's own check of constraints or optimality. This is a bug.
    #[error("internal check failed (please report this as a bug): {0}")]
    Verification(String),
}

impl Error {
    /// Builds an [`Error::Io`] for `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

impl From<InputError> for Error {
    fn from(e: InputError) -> Error {
        Error::Input(Box::new(e))
    }
}

/// A problem with one input file, with the place it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// The file, as the user named it (`-` for standard input).
    pub file: String,
    /// 1-based line number, when the problem is on one line.
    pub line: Option<u64>,
    /// 1-based column number and the column's header name, when the problem is in one field.
    pub column: Option<(usize, String)>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

impl InputError {
    /// An error about a whole file.
    pub fn file(file: impl Into<String>, message: impl Into<String>) -> InputError {
        InputError {
            file: file.into(),
            line: None,
            column: None,
            message: message.into(),
            hint: None,
        }
    }

    /// Sets the line.
    pub fn at_line(mut self, line: u64) -> InputError {
        self.line = Some(line);
        self
    }

    /// Sets the column (1-based) and its header name.
    pub fn at_column(mut self, column: usize, name: impl Into<String>) -> InputError {
        self.column = Some((column, name.into()));
        self
    }

    /// Adds a hint on how to fix the problem.
    pub fn hint(mut self, hint: impl Into<String>) -> InputError {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some((col, _)) = &self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": {}", self.message)?;
        if let Some((_, name)) = &self.column {
            write!(f, " (column `{name}`)")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InputError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_error_names_file_line_column_and_hint() {
        let e = InputError::file("papers.csv", "empty id")
            .at_line(4)
            .at_column(1, "paper_id")
            .hint("give every paper an id");
        assert_eq!(
            e.to_string(),
            "papers.csv:4:1: empty id (column `paper_id`)\n  hint: give every paper an id"
        );
    }
}
