//! Errors of the library.
//!
//! Every error says what went wrong and, for bad input, where: [`InputError`] carries the file,
//! the line and the column (number and header name) like `csv::Position`, plus a hint on how to
//! fix it. An infeasible instance is not a bare error string: [`Error::Infeasible`] carries a
//! [`Diagnosis`] that names the papers and reviewers involved (built by
//! [`crate::solve::diagnose`]; the type lives here so that this module depends on no solver).

use std::fmt;
use std::path::PathBuf;

use crate::model::{count, format_units};

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

/// The reasons an instance is infeasible.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Diagnosis {
    /// Sum of all paper demands.
    pub total_demand: u64,
    /// Sum of all maximum loads.
    pub total_capacity: u64,
    /// Sum of all minimum loads.
    pub total_min_load: u64,
    /// Papers with fewer eligible reviewers than they need: `(id, eligible, demand)`.
    pub short_papers: Vec<(String, u64, u32)>,
    /// Reviewers with fewer eligible papers than their minimum load: `(id, eligible, min_load)`.
    pub short_reviewers: Vec<(String, u64, u32)>,
    /// Papers that cannot all be served together, with the reviewers they can use.
    pub blocked_papers: Vec<String>,
    /// The reviewers those papers can use (all fully used in any maximum assignment).
    pub blocking_reviewers: Vec<String>,
    /// Assignments the blocked papers need together.
    pub blocked_need: u64,
    /// Reviewers whose minimum load cannot be met alongside everything else.
    pub unmet_min_loads: Vec<String>,
    /// Assignments missing in the best attempt: demand plus minimum loads not covered.
    pub missing: u64,
    /// Papers whose best possible total (their best eligible reviewers) is below the score
    /// floor: `(id, best possible, floor)` in score units.
    pub below_floor: Vec<(String, i64, i64)>,
    /// A floor every paper can reach alone but not all together: the proven bound on the worst
    /// paper's total, the floor (score units), and the papers that carry the bound.
    pub floor_bound: Option<(i64, i64, Vec<String>)>,
    /// Composition rules that cannot be met, one sentence each.
    pub rule_failures: Vec<String>,
    /// Other reasons, one sentence each.
    pub notes: Vec<String>,
}

const SHOW: usize = 20;

/// Up to twenty ids, comma-separated, with the count when there are more.
pub(crate) fn list(ids: &[String]) -> String {
    let mut s = ids
        .iter()
        .take(SHOW)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > SHOW {
        s.push_str(&format!(", … ({} in all)", ids.len()));
    }
    s
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "infeasible: no assignment meets every constraint")?;
        if self.total_demand > self.total_capacity {
            writeln!(
                f,
                "- total demand {} exceeds total reviewer capacity {} by {}: raise max loads or add reviewers",
                self.total_demand,
                self.total_capacity,
                self.total_demand - self.total_capacity
            )?;
        }
        if self.total_min_load > self.total_demand {
            writeln!(
                f,
                "- minimum loads add up to {}, more than the {} assignments the papers need: lower min loads",
                self.total_min_load, self.total_demand
            )?;
        }
        for (id, eligible, demand) in self.short_papers.iter().take(SHOW) {
            writeln!(
                f,
                "- paper {id} needs {} but only {eligible} {} free of conflicts",
                count(*demand as u64, "reviewer"),
                if *eligible == 1 { "is" } else { "are" }
            )?;
        }
        if self.short_papers.len() > SHOW {
            writeln!(f, "- … {} such papers in all", self.short_papers.len())?;
        }
        for (id, eligible, min) in self.short_reviewers.iter().take(SHOW) {
            writeln!(
                f,
                "- reviewer {id} must get at least {} but only {eligible} {} free of conflicts",
                count(*min as u64, "paper"),
                if *eligible == 1 { "is" } else { "are" }
            )?;
        }
        if !self.blocked_papers.is_empty() {
            writeln!(
                f,
                "- these {} cannot all get their reviewers: {} (they need {})",
                count(self.blocked_papers.len() as u64, "paper"),
                list(&self.blocked_papers),
                count(self.blocked_need, "assignment")
            )?;
            writeln!(
                f,
                "  the only reviewers free of conflicts with them ({}) cannot take that many: {}",
                self.blocking_reviewers.len(),
                list(&self.blocking_reviewers)
            )?;
            writeln!(
                f,
                "  fix: raise those reviewers' max loads, add reviewers, or lower these papers' demand"
            )?;
        }
        if !self.unmet_min_loads.is_empty() {
            writeln!(
                f,
                "- these reviewers' minimum loads cannot all be met: {}",
                list(&self.unmet_min_loads)
            )?;
        }
        for line in self.rule_failures.iter().take(SHOW) {
            writeln!(f, "- {line}")?;
        }
        if self.rule_failures.len() > SHOW {
            writeln!(f, "- … {} rule failures in all", self.rule_failures.len())?;
        }
        if !self.rule_failures.is_empty() {
            writeln!(
                f,
                "  fix: relax the rule (--at-least/--at-most), make it --soft, or add reviewers"
            )?;
        }
        for line in &self.notes {
            writeln!(f, "- {line}")?;
        }
        if self.missing > 0 {
            writeln!(
                f,
                "- capacity missing: {}",
                count(self.missing, "assignment")
            )?;
        }
        for (id, best, floor) in self.below_floor.iter().take(SHOW) {
            writeln!(
                f,
                "- paper {id} can reach at most {} with its best eligible reviewers, below the \
                 floor {}",
                format_units(*best),
                format_units(*floor)
            )?;
        }
        if self.below_floor.len() > SHOW {
            writeln!(f, "- … {} such papers in all", self.below_floor.len())?;
        }
        if !self.below_floor.is_empty() {
            writeln!(
                f,
                "  fix: lower --min-paper-score, or add reviewers suited to these papers"
            )?;
        }
        if let Some((bound, floor, papers)) = &self.floor_bound {
            writeln!(
                f,
                "- each paper can reach the floor {} alone, but not all together: no assignment \
                 gives every paper more than {}",
                format_units(*floor),
                format_units(*bound)
            )?;
            writeln!(
                f,
                "  the papers that compete for the same reviewers: {}",
                list(papers)
            )?;
            writeln!(
                f,
                "  fix: lower --min-paper-score to at most {}, or raise those reviewers' loads",
                format_units(*bound)
            )?;
        }
        Ok(())
    }
}

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
