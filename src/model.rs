//! The venue: papers, reviewers, explicit conflicts and external scores, with dense indices.
//!
//! Ids are strings at the edge (CSV files) and dense indices inside: [`PaperIdx`] and
//! [`ReviewerIdx`] are newtypes so that one cannot be used as the other. The strings live in the
//! [`Paper`] and [`Reviewer`] records and are used again only for output.
//!
//! Scores are fixed-point: one unit is 10⁻⁶ ([`SCORE_SCALE`]), stored in an `i32`. A score given
//! with up to six decimals is therefore exact, and every objective is an exact integer sum. This
//! module does not read files ([`crate::io`] does) nor compute affinities ([`crate::affinity`]).

use ndarray::Array2;

/// Score units per 1.0: scores are stored as integers in millionths.
pub const SCORE_SCALE: i64 = 1_000_000;

/// Largest absolute score accepted (with `allow_any_score`; otherwise scores lie in [0, 1]):
/// keeps the solver's integer arithmetic exact and free of overflow.
pub const MAX_ABS_SCORE: i64 = 1000;

/// Index of a paper in [`Venue::papers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PaperIdx(pub u32);

/// Index of a reviewer in [`Venue::reviewers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReviewerIdx(pub u32);

impl PaperIdx {
    /// The index as `usize`.
    pub fn ix(self) -> usize {
        self.0 as usize
    }
}

impl ReviewerIdx {
    /// The index as `usize`.
    pub fn ix(self) -> usize {
        self.0 as usize
    }
}

/// One submitted paper.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Paper {
    /// The paper's id, unique in the venue.
    pub id: String,
    /// Title (may be empty).
    pub title: String,
    /// Topic keywords, normalised (see [`crate::affinity::normalize_keyword`]).
    pub keywords: Vec<String>,
    /// Authors: e-mail addresses or reviewer ids.
    pub authors: Vec<String>,
    /// Institutions of the authors (optional `institutions` column).
    pub institutions: Vec<String>,
    /// Abstract (may be empty).
    pub abstract_text: String,
    /// Reviewers this paper needs (the file's `demand`, or the default given when reading).
    pub demand: u32,
}

/// One reviewer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reviewer {
    /// The reviewer's id, unique in the venue.
    pub id: String,
    /// Display name (may be empty).
    pub name: String,
    /// E-mail address (may be empty).
    pub email: String,
    /// Institution (may be empty).
    pub institution: String,
    /// Expertise keywords, normalised.
    pub keywords: Vec<String>,
    /// Fewest papers this reviewer must get.
    pub min_load: u32,
    /// Most papers this reviewer may get.
    pub max_load: u32,
    /// Every other column of reviewers.csv (and `institution`), by lower-case column name, with
    /// trimmed lower-case values: what composition rules select on (`seniority=senior`).
    pub attributes: std::collections::BTreeMap<String, String>,
}

/// A conflict of interest declared in `conflicts.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredConflict {
    /// The paper.
    pub paper: PaperIdx,
    /// The reviewer.
    pub reviewer: ReviewerIdx,
    /// The reason given in the file (may be empty).
    pub reason: String,
}

/// The usual bid levels, from most to least eager.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BidLevel {
    /// "very high" (or the number 2).
    VeryHigh,
    /// "high" (1).
    High,
    /// "neutral" (0).
    Neutral,
    /// "low" (-1).
    Low,
    /// "very low" (-2).
    VeryLow,
}

impl BidLevel {
    /// Every level, most eager first.
    pub const ALL: [BidLevel; 5] = [
        BidLevel::VeryHigh,
        BidLevel::High,
        BidLevel::Neutral,
        BidLevel::Low,
        BidLevel::VeryLow,
    ];

    /// Parses a label (case-insensitive; `very high`, `very_high`, `Very High`, …) or a number
    /// from −2 to 2 (rounded; OpenReview's numeric bids).
    ///
    /// ```
    /// use papermatch::model::BidLevel;
    /// assert_eq!(BidLevel::parse("Very High"), Some(BidLevel::VeryHigh));
    /// assert_eq!(BidLevel::parse("-1"), Some(BidLevel::Low));
    /// assert_eq!(BidLevel::parse("maybe"), None);
    /// ```
    pub fn parse(s: &str) -> Option<BidLevel> {
        let norm: String = s
            .trim()
            .to_lowercase()
            .chars()
            .map(|c| {
                if c == '_' || c == '-' && !s.trim().starts_with('-') {
                    ' '
                } else {
                    c
                }
            })
            .collect();
        let norm = norm.split_whitespace().collect::<Vec<_>>().join(" ");
        match norm.as_str() {
            "very high" => Some(BidLevel::VeryHigh),
            "high" => Some(BidLevel::High),
            "neutral" | "none" | "" => Some(BidLevel::Neutral),
            "low" => Some(BidLevel::Low),
            "very low" => Some(BidLevel::VeryLow),
            _ => {
                let x: f64 = norm.parse().ok().filter(|x: &f64| x.is_finite())?;
                Some(match x.round() as i64 {
                    i64::MIN..=-2 => BidLevel::VeryLow,
                    -1 => BidLevel::Low,
                    0 => BidLevel::Neutral,
                    1 => BidLevel::High,
                    _ => BidLevel::VeryHigh,
                })
            }
        }
    }

    /// The label as written in files and reports.
    pub fn label(self) -> &'static str {
        match self {
            BidLevel::VeryHigh => "very high",
            BidLevel::High => "high",
            BidLevel::Neutral => "neutral",
            BidLevel::Low => "low",
            BidLevel::VeryLow => "very low",
        }
    }
}

/// A reviewer's past paper: its text for text affinity, its authors and year for co-authorship
/// conflicts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Publication {
    /// Title.
    pub title: String,
    /// Abstract (may be empty).
    pub abstract_text: String,
    /// Its authors' identifiers (e-mails, reviewer ids or OpenReview profile ids), as given;
    /// the reviewer whose paper it is need not be listed.
    pub authors: Vec<String>,
    /// Year of publication, when known.
    pub year: Option<i32>,
}

/// One reviewer's bid on one paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bid {
    /// The paper.
    pub paper: PaperIdx,
    /// The reviewer.
    pub reviewer: ReviewerIdx,
    /// The level.
    pub level: BidLevel,
}

/// A whole venue as read from its files.
#[derive(Debug, Clone, Default)]
pub struct Venue {
    /// The papers, in file order.
    pub papers: Vec<Paper>,
    /// The reviewers, in file order.
    pub reviewers: Vec<Reviewer>,
    /// Conflicts declared in `conflicts.csv`.
    pub declared_conflicts: Vec<DeclaredConflict>,
    /// Pairs that must be in the assignment (`locks.csv`, or OpenReview constraint 1).
    pub locks: Vec<(PaperIdx, ReviewerIdx)>,
    /// Bids from `bids.csv`.
    pub bids: Vec<Bid>,
    /// Each reviewer's own past papers (`reviewer_papers.csv` or OpenReview archives), by
    /// reviewer index; empty when the venue has none.
    pub reviewer_papers: Vec<Vec<Publication>>,
    /// Affinities from `scores.csv`, if the venue has one.
    pub scores: Option<AffinityMatrix>,
    /// Whether papers and reviewers came with keyword files (as opposed to a bare scores file).
    pub has_profiles: bool,
}

impl Venue {
    /// Number of papers.
    pub fn n_papers(&self) -> usize {
        self.papers.len()
    }

    /// Number of reviewers.
    pub fn n_reviewers(&self) -> usize {
        self.reviewers.len()
    }
}

/// A paper × reviewer matrix of fixed-point scores ([`SCORE_SCALE`] units per 1.0).
///
/// Dense when every pair has a score (a full scores file), sparse otherwise (keyword affinity,
/// partial scores files); an absent entry of a sparse matrix is 0.
#[derive(Debug, Clone, PartialEq)]
pub enum AffinityMatrix {
    /// Every pair stored: `papers × reviewers`.
    Dense(Array2<i32>),
    /// Only non-zero pairs stored, by paper.
    Sparse(SparseRows),
}

/// A compressed sparse row matrix: for each paper, its non-zero reviewers in increasing order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SparseRows {
    /// Number of columns (reviewers).
    pub n_cols: usize,
    /// Row `p` is `cols[indptr[p]..indptr[p + 1]]`; length is rows + 1.
    pub indptr: Vec<usize>,
    /// Column indices, increasing within a row.
    pub cols: Vec<u32>,
    /// Values, parallel to `cols`.
    pub vals: Vec<i32>,
}

impl SparseRows {
    /// An empty matrix with `n_rows` rows and `n_cols` columns.
    pub fn zeros(n_rows: usize, n_cols: usize) -> SparseRows {
        SparseRows {
            n_cols,
            indptr: vec![0; n_rows + 1],
            cols: Vec::new(),
            vals: Vec::new(),
        }
    }

    /// Builds a matrix from rows of `(column, value)` pairs sorted by column.
    pub fn from_rows(n_cols: usize, rows: Vec<Vec<(u32, i32)>>) -> SparseRows {
        let nnz = rows.iter().map(Vec::len).sum();
        let mut m = SparseRows {
            n_cols,
            indptr: Vec::with_capacity(rows.len() + 1),
            cols: Vec::with_capacity(nnz),
            vals: Vec::with_capacity(nnz),
        };
        m.indptr.push(0);
        for row in rows {
            for (c, v) in row {
                m.cols.push(c);
                m.vals.push(v);
            }
            m.indptr.push(m.cols.len());
        }
        m
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.indptr.len() - 1
    }

    /// Row `p` as parallel slices of columns and values.
    pub fn row(&self, p: usize) -> (&[u32], &[i32]) {
        let (a, b) = (self.indptr[p], self.indptr[p + 1]);
        (&self.cols[a..b], &self.vals[a..b])
    }

    /// The entry at `(p, r)`, 0 when absent.
    pub fn get(&self, p: usize, r: usize) -> i32 {
        let (cols, vals) = self.row(p);
        match cols.binary_search(&(r as u32)) {
            Ok(i) => vals[i],
            Err(_) => 0,
        }
    }
}

impl AffinityMatrix {
    /// A papers × reviewers grid as it is when at least half its cells are `filled` (given a
    /// score, 0 included), otherwise its non-zero cells, sparse.
    pub fn from_grid(grid: Array2<i32>, filled: usize) -> AffinityMatrix {
        if 2 * filled >= grid.len() {
            return AffinityMatrix::Dense(grid);
        }
        let nr = grid.ncols();
        let rows = grid
            .rows()
            .into_iter()
            .map(|row| {
                row.iter()
                    .enumerate()
                    .filter(|&(_, &v)| v != 0)
                    .map(|(r, &v)| (r as u32, v))
                    .collect()
            })
            .collect();
        AffinityMatrix::Sparse(SparseRows::from_rows(nr, rows))
    }

    /// Number of papers (rows).
    pub fn n_papers(&self) -> usize {
        match self {
            AffinityMatrix::Dense(a) => a.nrows(),
            AffinityMatrix::Sparse(s) => s.n_rows(),
        }
    }

    /// Number of reviewers (columns).
    pub fn n_reviewers(&self) -> usize {
        match self {
            AffinityMatrix::Dense(a) => a.ncols(),
            AffinityMatrix::Sparse(s) => s.n_cols,
        }
    }

    /// The score of `(p, r)` in fixed-point units.
    pub fn get(&self, p: usize, r: usize) -> i32 {
        match self {
            AffinityMatrix::Dense(a) => a[[p, r]],
            AffinityMatrix::Sparse(s) => s.get(p, r),
        }
    }

    /// Calls `f(r, score)` for every stored entry of row `p` (every reviewer if dense).
    pub fn for_each_in_row(&self, p: usize, mut f: impl FnMut(usize, i32)) {
        match self {
            AffinityMatrix::Dense(a) => {
                let row = a.row(p);
                match row.as_slice() {
                    Some(row) => row.iter().enumerate().for_each(|(r, &w)| f(r, w)),
                    None => row.iter().enumerate().for_each(|(r, &w)| f(r, w)),
                }
            }
            AffinityMatrix::Sparse(s) => {
                let (cols, vals) = s.row(p);
                for (&r, &w) in cols.iter().zip(vals) {
                    f(r as usize, w);
                }
            }
        }
    }

    /// Whether absent entries exist (a sparse matrix whose implicit zeros matter).
    pub fn is_sparse(&self) -> bool {
        matches!(self, AffinityMatrix::Sparse(_))
    }

    /// Number of stored entries.
    pub fn stored(&self) -> usize {
        match self {
            AffinityMatrix::Dense(a) => a.len(),
            AffinityMatrix::Sparse(s) => s.cols.len(),
        }
    }

    /// Smallest and largest score over all pairs (absent entries count as 0).
    pub fn range(&self) -> (i32, i32) {
        let (stored_min, stored_max) = match self {
            AffinityMatrix::Dense(a) => a
                .iter()
                .fold((i32::MAX, i32::MIN), |(lo, hi), &w| (lo.min(w), hi.max(w))),
            AffinityMatrix::Sparse(s) => s
                .vals
                .iter()
                .fold((i32::MAX, i32::MIN), |(lo, hi), &w| (lo.min(w), hi.max(w))),
        };
        let full = self.stored() == self.n_papers() * self.n_reviewers();
        if self.stored() == 0 {
            (0, 0)
        } else if full {
            (stored_min, stored_max)
        } else {
            (stored_min.min(0), stored_max.max(0))
        }
    }
}

/// Converts a floating-point score to fixed-point units, rounding half away from zero.
pub fn score_to_units(x: f64) -> i64 {
    (x * SCORE_SCALE as f64).round() as i64
}

/// Converts fixed-point units to a floating-point score.
pub fn units_to_score(u: i64) -> f64 {
    u as f64 / SCORE_SCALE as f64
}

/// `n` and the noun, singular for one: `count(1, "reviewer")` is `1 reviewer`, `count(2,
/// "reviewer")` is `2 reviewers`.
///
/// ```
/// assert_eq!(papermatch::model::count(1, "paper"), "1 paper");
/// assert_eq!(papermatch::model::count(0, "paper"), "0 papers");
/// ```
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Formats fixed-point units with exactly six decimals, without floating-point rounding.
///
/// ```
/// assert_eq!(papermatch::model::format_units(1_500_000), "1.500000");
/// assert_eq!(papermatch::model::format_units(-42), "-0.000042");
/// ```
pub fn format_units(u: i64) -> String {
    let sign = if u < 0 { "-" } else { "" };
    let a = u.unsigned_abs();
    let s = SCORE_SCALE as u64;
    format!("{sign}{}.{:06}", a / s, a % s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_rows_get_and_range() {
        let m = SparseRows::from_rows(4, vec![vec![(1, 5), (3, 7)], vec![], vec![(0, -2)]]);
        assert_eq!(m.get(0, 3), 7);
        assert_eq!(m.get(0, 2), 0);
        assert_eq!(m.get(2, 0), -2);
        let a = AffinityMatrix::Sparse(m);
        assert_eq!(a.range(), (-2, 7));
        assert_eq!(a.n_papers(), 3);
    }

    #[test]
    fn units_round_trip_six_decimals() {
        for s in ["0.123456", "0.999999", "0.000001", "1.000000", "0.500000"] {
            let x: f64 = s.parse().unwrap();
            assert_eq!(format_units(score_to_units(x)), s);
        }
    }
}
