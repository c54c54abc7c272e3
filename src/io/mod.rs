//! Reading venues from CSV files and writing results atomically.
//!
//! # Input files
//!
//! A venue is a directory with conventional file names; each can also be named on its own
//! ([`VenueFiles`]). Every file is CSV with a header row (UTF-8, optional BOM, LF or CRLF, quoted
//! fields allowed); column order does not matter and unknown columns are ignored.
//!
//! | file | columns |
//! |---|---|
//! | `papers.csv` | `paper_id` (required, unique), `title`, `keywords` (`;`-separated), `authors` (`;`-separated e-mails or reviewer ids), `institutions` (`;`-separated, optional), `abstract`, `demand` |
//! | `reviewers.csv` | `reviewer_id` (required, unique), `name`, `email`, `institution`, `keywords`, `max_load`, `min_load` |
//! | `conflicts.csv` | `paper_id`, `reviewer_id` (required), `reason` |
//! | `scores.csv` | `paper_id`, `reviewer_id`, `score` (required) |
//!
//! When the venue has `scores.csv` but no `papers.csv` / `reviewers.csv`, the ids come from the
//! scores and conflicts files (in order of first appearance) and every paper and reviewer gets the
//! default demand and loads.
//!
//! Every error names the file, the line and the column ([`crate::InputError`]).

mod scores;
mod table;
mod write;

use std::path::{Path, PathBuf};

use crate::affinity::{normalize_keyword, split_list};
use crate::error::{Error, Result};
use crate::model::{
    AffinityMatrix, DeclaredConflict, Paper, PaperIdx, Reviewer, ReviewerIdx, Venue,
};

pub use scores::parse_score;
pub use table::{Row, Source, Table};
pub use write::{write_atomic, write_csv_atomic};

/// The files that make up a venue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VenueFiles {
    /// `papers.csv`.
    pub papers: Option<PathBuf>,
    /// `reviewers.csv`.
    pub reviewers: Option<PathBuf>,
    /// `conflicts.csv`.
    pub conflicts: Option<PathBuf>,
    /// `scores.csv`.
    pub scores: Option<PathBuf>,
}

impl VenueFiles {
    /// The conventional files that exist in `dir` (`papers.csv`, `reviewers.csv`, `conflicts.csv`,
    /// `scores.csv`).
    pub fn from_dir(dir: &Path) -> Result<VenueFiles> {
        if !dir.is_dir() {
            return Err(Error::io(
                "cannot open venue",
                dir,
                std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
            ));
        }
        let pick = |name: &str| {
            let p = dir.join(name);
            p.is_file().then_some(p)
        };
        Ok(VenueFiles {
            papers: pick("papers.csv"),
            reviewers: pick("reviewers.csv"),
            conflicts: pick("conflicts.csv"),
            scores: pick("scores.csv"),
        })
    }
}

/// Defaults and switches used while reading a venue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    /// Reviewers per paper when `papers.csv` has no `demand` (or no papers file exists).
    pub default_demand: u32,
    /// Maximum load when `reviewers.csv` gives none.
    pub default_max_load: u32,
    /// Minimum load when `reviewers.csv` gives none.
    pub default_min_load: u32,
    /// Accept scores outside [0, 1] (still finite, and within ±[`scores::MAX_ABS_SCORE`]).
    pub allow_any_score: bool,
    /// Show progress bars on stderr for long steps (only drawn on a terminal).
    pub progress: bool,
}

impl Default for ReadOptions {
    fn default() -> ReadOptions {
        ReadOptions {
            default_demand: 3,
            default_max_load: 6,
            default_min_load: 0,
            allow_any_score: false,
            progress: false,
        }
    }
}

/// Maps string ids to dense indices, keeping first-appearance order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Interner {
    pub ids: Vec<String>,
    pub map: rustc_hash::FxHashMap<String, u32>,
}

impl Interner {
    pub fn get(&self, id: &str) -> Option<u32> {
        self.map.get(id).copied()
    }

    pub fn intern(&mut self, id: &str) -> u32 {
        if let Some(&i) = self.map.get(id) {
            return i;
        }
        let i = self.ids.len() as u32;
        self.ids.push(id.to_string());
        self.map.insert(id.to_string(), i);
        i
    }
}

/// Reads a venue from a directory with the conventional file names.
///
/// ```no_run
/// let venue = papermatch::io::read_venue_dir(
///     std::path::Path::new("examples/want-workshop"),
///     &papermatch::io::ReadOptions::default(),
/// )?;
/// println!("{} papers", venue.n_papers());
/// # Ok::<(), papermatch::Error>(())
/// ```
pub fn read_venue_dir(dir: &Path, opts: &ReadOptions) -> Result<Venue> {
    read_venue(&VenueFiles::from_dir(dir)?, opts)
}

/// Reads a venue from its files.
pub fn read_venue(files: &VenueFiles, opts: &ReadOptions) -> Result<Venue> {
    let load = |p: &Option<PathBuf>| p.as_deref().map(Source::read).transpose();
    let papers_src = load(&files.papers)?;
    let reviewers_src = load(&files.reviewers)?;
    match (&papers_src, &reviewers_src) {
        (Some(_), None) | (None, Some(_)) => {
            return Err(Error::Options(
                "a venue needs both papers.csv and reviewers.csv, or neither (with scores.csv)"
                    .into(),
            ));
        }
        (None, None) if files.scores.is_none() => {
            return Err(Error::Options(
                "the venue has no papers.csv + reviewers.csv and no scores.csv: nothing to assign"
                    .into(),
            ));
        }
        _ => {}
    }
    let conflicts_src = load(&files.conflicts)?;
    let scores_src = load(&files.scores)?;
    read_venue_sources(
        papers_src.as_ref(),
        reviewers_src.as_ref(),
        conflicts_src.as_ref(),
        scores_src.as_ref(),
        opts,
    )
}

/// Reads a venue from sources already in memory.
pub fn read_venue_sources(
    papers: Option<&Source>,
    reviewers: Option<&Source>,
    conflicts: Option<&Source>,
    scores: Option<&Source>,
    opts: &ReadOptions,
) -> Result<Venue> {
    let mut venue = Venue::default();
    let mut paper_ids = Interner::default();
    let mut reviewer_ids = Interner::default();
    if let (Some(p), Some(r)) = (papers, reviewers) {
        venue.papers = read_papers(p, opts, &mut paper_ids)?;
        venue.reviewers = read_reviewers(r, opts, &mut reviewer_ids)?;
        venue.has_profiles = true;
    }
    let fixed = venue.has_profiles;
    if let Some(s) = scores {
        venue.scores = Some(scores::read_scores(
            s,
            &mut paper_ids,
            &mut reviewer_ids,
            fixed,
            opts,
        )?);
    }
    if let Some(c) = conflicts {
        venue.declared_conflicts = read_conflicts(c, &mut paper_ids, &mut reviewer_ids, fixed)?;
    }
    if !fixed {
        venue.papers = paper_ids
            .ids
            .iter()
            .map(|id| Paper {
                id: id.clone(),
                demand: opts.default_demand,
                ..Paper::default()
            })
            .collect();
        venue.reviewers = reviewer_ids
            .ids
            .iter()
            .map(|id| Reviewer {
                id: id.clone(),
                min_load: opts.default_min_load,
                max_load: opts.default_max_load,
                ..Reviewer::default()
            })
            .collect();
        // Ids first seen in conflicts.csv widen the matrix with zero scores.
        if let Some(m) = venue.scores.take() {
            venue.scores = Some(widen(m, venue.papers.len(), venue.reviewers.len()));
        }
    }
    if opts.default_min_load > opts.default_max_load {
        return Err(Error::Options(format!(
            "the default minimum load {} exceeds the default maximum load {}",
            opts.default_min_load, opts.default_max_load
        )));
    }
    Ok(venue)
}

fn widen(m: AffinityMatrix, rows: usize, cols: usize) -> AffinityMatrix {
    if m.n_papers() == rows && m.n_reviewers() == cols {
        return m;
    }
    match m {
        AffinityMatrix::Dense(a) => {
            let mut b = ndarray::Array2::zeros((rows, cols));
            b.slice_mut(ndarray::s![..a.nrows(), ..a.ncols()])
                .assign(&a);
            AffinityMatrix::Dense(b)
        }
        AffinityMatrix::Sparse(mut s) => {
            let last = *s.indptr.last().unwrap_or(&0);
            s.indptr.resize(rows + 1, last);
            s.n_cols = cols;
            AffinityMatrix::Sparse(s)
        }
    }
}

fn unique_id(row: &Row<'_>, column: &str, ids: &mut Interner, what: &str) -> Result<u32> {
    let id = row.text(column)?;
    if id.is_empty() {
        return Err(row
            .error(column, format!("empty {what} id"))
            .hint(format!("give every {what} a non-empty id"))
            .into());
    }
    if ids.get(id).is_some() {
        return Err(row
            .error(column, format!("duplicate {what} id `{id}`"))
            .hint(format!(
                "{what} ids must be unique; remove or rename one of the rows"
            ))
            .into());
    }
    Ok(ids.intern(id))
}

fn keywords(row: &Row<'_>) -> Result<Vec<String>> {
    let mut k: Vec<String> = split_list(row.text("keywords")?)
        .map(normalize_keyword)
        .filter(|k| !k.is_empty())
        .collect();
    k.sort_unstable();
    k.dedup();
    Ok(k)
}

fn read_papers(src: &Source, opts: &ReadOptions, ids: &mut Interner) -> Result<Vec<Paper>> {
    let table = Table::parse(src, &["paper_id"])?;
    let mut papers = Vec::with_capacity(table.len());
    for row in table.rows() {
        unique_id(&row, "paper_id", ids, "paper")?;
        papers.push(Paper {
            id: row.text("paper_id")?.to_string(),
            title: row.text("title")?.to_string(),
            keywords: keywords(&row)?,
            authors: split_list(row.text("authors")?)
                .map(str::to_string)
                .collect(),
            institutions: split_list(row.text("institutions")?)
                .map(str::to_string)
                .collect(),
            abstract_text: row.text("abstract")?.to_string(),
            demand: row.count("demand")?.unwrap_or(opts.default_demand),
        });
    }
    Ok(papers)
}

fn read_reviewers(src: &Source, opts: &ReadOptions, ids: &mut Interner) -> Result<Vec<Reviewer>> {
    let table = Table::parse(src, &["reviewer_id"])?;
    let mut reviewers = Vec::with_capacity(table.len());
    for row in table.rows() {
        unique_id(&row, "reviewer_id", ids, "reviewer")?;
        let max_load = row.count("max_load")?.unwrap_or(opts.default_max_load);
        let min_load = row.count("min_load")?.unwrap_or(opts.default_min_load);
        if min_load > max_load {
            let col = if table.has("min_load") {
                "min_load"
            } else {
                "max_load"
            };
            return Err(row
                .error(
                    col,
                    format!("min_load {min_load} is larger than max_load {max_load}"),
                )
                .hint("a reviewer's min_load must not exceed their max_load")
                .into());
        }
        reviewers.push(Reviewer {
            id: row.text("reviewer_id")?.to_string(),
            name: row.text("name")?.to_string(),
            email: row.text("email")?.to_string(),
            institution: row.text("institution")?.to_string(),
            keywords: keywords(&row)?,
            min_load,
            max_load,
        });
    }
    Ok(reviewers)
}

/// Looks up (or, for bare-score venues, interns) the id in `column` of `row`.
pub(crate) fn lookup_id(
    row: &Row<'_>,
    column: &str,
    ids: &mut Interner,
    fixed: bool,
    what: &str,
    defined_in: &str,
) -> Result<u32> {
    let id = row.text(column)?;
    if id.is_empty() {
        return Err(row
            .error(column, format!("empty {what} id"))
            .hint(format!("every row needs a {what} id"))
            .into());
    }
    if fixed {
        ids.get(id).ok_or_else(|| {
            row.error(column, format!("unknown {what} id `{id}`"))
                .hint(format!(
                    "every {what} id here must appear in {defined_in}; check for typos"
                ))
                .into()
        })
    } else {
        Ok(ids.intern(id))
    }
}

fn read_conflicts(
    src: &Source,
    papers: &mut Interner,
    reviewers: &mut Interner,
    fixed: bool,
) -> Result<Vec<DeclaredConflict>> {
    let table = Table::parse(src, &["paper_id", "reviewer_id"])?;
    let mut out = Vec::with_capacity(table.len());
    for row in table.rows() {
        let p = lookup_id(&row, "paper_id", papers, fixed, "paper", "papers.csv")?;
        let r = lookup_id(
            &row,
            "reviewer_id",
            reviewers,
            fixed,
            "reviewer",
            "reviewers.csv",
        )?;
        out.push(DeclaredConflict {
            paper: PaperIdx(p),
            reviewer: ReviewerIdx(r),
            reason: row.text("reason")?.to_string(),
        });
    }
    Ok(out)
}

/// Reads a two-column `paper_id,reviewer_id` CSV of pairs against a venue (an existing
/// assignment, for example); extra columns are ignored.
pub fn read_pairs(src: &Source, venue: &Venue) -> Result<Vec<(PaperIdx, ReviewerIdx)>> {
    let mut papers = Interner::default();
    for p in &venue.papers {
        papers.intern(&p.id);
    }
    let mut reviewers = Interner::default();
    for r in &venue.reviewers {
        reviewers.intern(&r.id);
    }
    let table = Table::parse(src, &["paper_id", "reviewer_id"])?;
    let mut out = Vec::with_capacity(table.len());
    for row in table.rows() {
        let p = lookup_id(&row, "paper_id", &mut papers, true, "paper", "the venue")?;
        let r = lookup_id(
            &row,
            "reviewer_id",
            &mut reviewers,
            true,
            "reviewer",
            "the venue",
        )?;
        out.push((PaperIdx(p), ReviewerIdx(r)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(name: &str, text: &str) -> Source {
        Source::from_bytes(name, text.as_bytes().to_vec())
    }

    fn venue(papers: &str, reviewers: &str) -> Result<Venue> {
        read_venue_sources(
            Some(&src("papers.csv", papers)),
            Some(&src("reviewers.csv", reviewers)),
            None,
            None,
            &ReadOptions::default(),
        )
    }

    #[test]
    fn reads_profiles_with_defaults() {
        let v = venue(
            "paper_id,title,keywords,demand\np1,T,Pipelining; Offloading ,2\np2,U,,\n",
            "reviewer_id,keywords,max_load,min_load\nr1,pipelining,4,1\nr2,,,\n",
        )
        .unwrap();
        assert_eq!(v.papers[0].keywords, vec!["offloading", "pipelining"]);
        assert_eq!(v.papers[0].demand, 2);
        assert_eq!(v.papers[1].demand, 3);
        assert_eq!((v.reviewers[0].min_load, v.reviewers[0].max_load), (1, 4));
        assert_eq!((v.reviewers[1].min_load, v.reviewers[1].max_load), (0, 6));
    }

    #[test]
    fn duplicate_and_empty_ids_are_pointed_at() {
        let e = venue("paper_id\np1\np1\n", "reviewer_id\nr1\n")
            .err()
            .unwrap();
        assert_eq!(
            e.to_string().lines().next().unwrap(),
            "papers.csv:3:1: duplicate paper id `p1` (column `paper_id`)"
        );
        let e = venue("title,paper_id\nx,\n", "reviewer_id\nr1\n")
            .err()
            .unwrap();
        assert!(
            e.to_string().starts_with("papers.csv:2:2: empty paper id"),
            "{e}"
        );
    }

    #[test]
    fn bad_loads_are_pointed_at() {
        let e = venue("paper_id\np1\n", "reviewer_id,max_load\nr1,-1\n")
            .err()
            .unwrap();
        assert!(
            e.to_string()
                .starts_with("reviewers.csv:2:2: `-1` is not a whole number"),
            "{e}"
        );
        let e = venue("paper_id\np1\n", "reviewer_id,max_load\nr1,2.5\n")
            .err()
            .unwrap();
        assert!(e.to_string().contains("`2.5`"), "{e}");
        let e = venue("paper_id\np1\n", "reviewer_id,max_load,min_load\nr1,2,3\n")
            .err()
            .unwrap();
        assert!(
            e.to_string()
                .starts_with("reviewers.csv:2:3: min_load 3 is larger"),
            "{e}"
        );
    }

    #[test]
    fn conflicts_with_unknown_ids_are_errors() {
        let e = read_venue_sources(
            Some(&src("papers.csv", "paper_id\np1\n")),
            Some(&src("reviewers.csv", "reviewer_id\nr1\n")),
            Some(&src("conflicts.csv", "paper_id,reviewer_id\np1,r9\n")),
            None,
            &ReadOptions::default(),
        )
        .err()
        .unwrap();
        assert!(
            e.to_string()
                .starts_with("conflicts.csv:2:2: unknown reviewer id `r9`"),
            "{e}"
        );
    }

    #[test]
    fn bare_scores_venue_takes_ids_from_scores_and_conflicts() {
        let v = read_venue_sources(
            None,
            None,
            Some(&src("conflicts.csv", "paper_id,reviewer_id\np3,r1\n")),
            Some(&src(
                "scores.csv",
                "paper_id,reviewer_id,score\np1,r1,0.5\np1,r2,0.25\np2,r1,1\n",
            )),
            &ReadOptions::default(),
        )
        .unwrap();
        assert_eq!(v.papers.len(), 3);
        assert_eq!(v.reviewers.len(), 2);
        let m = v.scores.unwrap();
        assert_eq!(m.n_papers(), 3);
        assert_eq!(m.get(0, 1), 250_000);
        assert_eq!(m.get(2, 0), 0);
    }
}
