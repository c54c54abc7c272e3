//! Reading venues from CSV files and writing results atomically.
//!
//! | file | what | may use |
//! |---|---|---|
//! | `mod.rs` | a venue's files: papers, reviewers, conflicts, locks, bans, bids, reviewers' papers, OpenReview's expertise layout | `table`, `scores`, [`crate::model`], [`crate::affinity`] (keyword normalisation) |
//! | `table.rs` | one CSV table with a header, every error at its file, line and column | nothing |
//! | `scores/` | `scores.csv` at close to memory speed: chunks in parallel, exact decimals, id tables | `table` |
//! | [`formats`] | OpenReview's and HotCRP's files, marginals and probability limits | `table`, [`crate::solve`] (assignments) |
//! | [`write`] | outputs written to a temporary file and renamed into place | nothing |
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

pub mod formats;
mod scores;
mod table;
mod write;

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::affinity::{normalize_keyword, split_list};
use crate::error::{Error, Result};
use crate::model::{
    AffinityMatrix, Bid, BidLevel, DeclaredConflict, Paper, PaperIdx, Publication, Reviewer,
    ReviewerIdx, Venue,
};

pub use scores::{MAX_ABS_SCORE, parse_score};
pub use table::{Row, Source, Table};
pub use write::{check_outputs, write_atomic, write_csv_atomic};

/// The files that make up a venue.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VenueFiles {
    /// `papers.csv`.
    pub papers: Option<PathBuf>,
    /// `reviewers.csv`.
    pub reviewers: Option<PathBuf>,
    /// `conflicts.csv`.
    pub conflicts: Option<PathBuf>,
    /// `scores.csv`.
    pub scores: Option<PathBuf>,
    /// `locks.csv`: pairs that must be assigned.
    pub locks: Option<PathBuf>,
    /// `bids.csv`.
    pub bids: Option<PathBuf>,
    /// `bans.csv`: pairs that may never be assigned.
    pub bans: Option<PathBuf>,
    /// `reviewer_papers.csv`: reviewers' own papers for text affinity.
    pub reviewer_papers: Option<PathBuf>,
    /// A folder in OpenReview's expertise layout (`submissions.json` + `archives/`).
    pub openreview_expertise: Option<PathBuf>,
    /// OpenReview matcher score files (headerless `paper,reviewer,score`) with their weights.
    pub openreview_scores: Vec<(PathBuf, f64)>,
    /// An OpenReview matcher constraints file (headerless `paper,reviewer,-1|0|1`).
    pub openreview_constraints: Option<PathBuf>,
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
            locks: pick("locks.csv"),
            bids: pick("bids.csv"),
            bans: pick("bans.csv"),
            reviewer_papers: pick("reviewer_papers.csv"),
            openreview_expertise: (dir.join("submissions.json").is_file()
                && !dir.join("papers.csv").is_file())
            .then(|| dir.to_path_buf()),
            openreview_scores: Vec::new(),
            openreview_constraints: None,
        })
    }

    /// Every file the venue is read from (an OpenReview folder's `submissions.json` and
    /// archives included), for [`check_outputs`].
    pub fn inputs(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = [
            &self.papers,
            &self.reviewers,
            &self.conflicts,
            &self.scores,
            &self.locks,
            &self.bids,
            &self.bans,
            &self.reviewer_papers,
            &self.openreview_constraints,
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
        out.extend(self.openreview_scores.iter().map(|(p, _)| p.clone()));
        if let Some(dir) = &self.openreview_expertise {
            out.push(dir.join("submissions.json"));
            if let Ok(entries) = std::fs::read_dir(dir.join("archives")) {
                out.extend(entries.flatten().map(|e| e.path()));
            }
        }
        out
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
    /// Accept scores outside [0, 1] (still finite, and within ±[`MAX_ABS_SCORE`]).
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

    /// Forgets every id interned after the first `len`.
    pub fn truncate(&mut self, len: usize) {
        for id in self.ids.drain(len..) {
            self.map.remove(&id);
        }
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

/// A venue's files already in memory; see [`VenueFiles`] for what each holds.
#[derive(Debug, Default)]
pub struct VenueSources {
    /// `papers.csv`.
    pub papers: Option<Source>,
    /// `reviewers.csv`.
    pub reviewers: Option<Source>,
    /// `conflicts.csv`.
    pub conflicts: Option<Source>,
    /// `scores.csv`.
    pub scores: Option<Source>,
    /// `locks.csv`.
    pub locks: Option<Source>,
    /// `bids.csv`.
    pub bids: Option<Source>,
    /// `bans.csv`.
    pub bans: Option<Source>,
    /// `reviewer_papers.csv`.
    pub reviewer_papers: Option<Source>,
    /// OpenReview's `submissions.json` and the `archives/<reviewer>.jsonl` files.
    pub openreview_expertise: Option<formats::Expertise>,
    /// OpenReview score files with weights.
    pub openreview_scores: Vec<(Source, f64)>,
    /// OpenReview constraints file.
    pub openreview_constraints: Option<Source>,
}

/// Reads a venue from its files.
pub fn read_venue(files: &VenueFiles, opts: &ReadOptions) -> Result<Venue> {
    let load = |p: &Option<PathBuf>| p.as_deref().map(Source::read).transpose();
    let sources = VenueSources {
        papers: load(&files.papers)?,
        reviewers: load(&files.reviewers)?,
        conflicts: load(&files.conflicts)?,
        scores: load(&files.scores)?,
        locks: load(&files.locks)?,
        bids: load(&files.bids)?,
        bans: load(&files.bans)?,
        reviewer_papers: load(&files.reviewer_papers)?,
        openreview_expertise: files
            .openreview_expertise
            .as_deref()
            .map(formats::Expertise::read)
            .transpose()?,
        openreview_scores: files
            .openreview_scores
            .iter()
            .map(|(p, w)| Source::read(p).map(|s| (s, *w)))
            .collect::<Result<_>>()?,
        openreview_constraints: load(&files.openreview_constraints)?,
    };
    read_venue_sources(&sources, opts)
}

/// Reads a venue from sources already in memory.
pub fn read_venue_sources(src: &VenueSources, opts: &ReadOptions) -> Result<Venue> {
    if opts.default_min_load > opts.default_max_load {
        return Err(Error::Options(format!(
            "the default minimum load {} exceeds the default maximum load {}",
            opts.default_min_load, opts.default_max_load
        )));
    }
    let has_scores = src.scores.is_some()
        || !src.openreview_scores.is_empty()
        || src.openreview_expertise.is_some();
    match (&src.papers, &src.reviewers) {
        (Some(_), None) | (None, Some(_)) => {
            return Err(Error::Options(
                "a venue needs both papers.csv and reviewers.csv, or neither (with scores.csv)"
                    .into(),
            ));
        }
        (None, None) if !has_scores => {
            return Err(Error::Options(
                "the venue has no papers.csv + reviewers.csv and no scores: nothing to assign"
                    .into(),
            ));
        }
        _ => {}
    }
    let mut venue = Venue::default();
    let mut paper_ids = Interner::default();
    let mut reviewer_ids = Interner::default();
    if let (Some(p), Some(r)) = (&src.papers, &src.reviewers) {
        venue.papers = read_papers(p, opts, &mut paper_ids)?;
        venue.reviewers = read_reviewers(r, opts, &mut reviewer_ids)?;
        venue.has_profiles = true;
    } else if let Some(e) = &src.openreview_expertise {
        e.fill(&mut venue, opts, &mut paper_ids, &mut reviewer_ids)?;
        venue.has_profiles = true;
    }
    let fixed = venue.has_profiles;
    let mut matrices: Vec<(AffinityMatrix, f64)> = Vec::new();
    if let Some(s) = &src.scores {
        let m = scores::read_scores(s, &mut paper_ids, &mut reviewer_ids, fixed, opts, false)?;
        matrices.push((m, 1.0));
    }
    for (s, w) in &src.openreview_scores {
        let m = scores::read_scores(s, &mut paper_ids, &mut reviewer_ids, fixed, opts, true)?;
        matrices.push((m, *w));
    }
    // A venue without profiles takes its ids from its scores alone: every other table may only
    // name them (a swapped header would otherwise add phantom papers and reviewers).
    let fixed = true;
    if let Some(c) = &src.conflicts {
        venue.declared_conflicts = read_conflicts(c, &mut paper_ids, &mut reviewer_ids, fixed)?;
    }
    if let Some(c) = &src.openreview_constraints {
        let (conflicts, locks) =
            formats::read_openreview_constraints(c, &mut paper_ids, &mut reviewer_ids, fixed)?;
        venue.declared_conflicts.extend(conflicts);
        venue.locks.extend(locks);
    }
    if let Some(l) = &src.locks {
        let (locks, bans) = read_locks(l, &mut paper_ids, &mut reviewer_ids, fixed)?;
        venue.locks.extend(locks);
        venue.declared_conflicts.extend(bans);
    }
    if let Some(b) = &src.bans {
        let pairs = read_pair_table(b, &mut paper_ids, &mut reviewer_ids, fixed)?;
        venue
            .declared_conflicts
            .extend(
                pairs
                    .into_iter()
                    .map(|(paper, reviewer, why)| DeclaredConflict {
                        paper,
                        reviewer,
                        reason: banned(&why),
                    }),
            );
    }
    if let Some(b) = &src.bids {
        venue.bids = read_bids(b, &mut paper_ids, &mut reviewer_ids, fixed)?;
    }
    if let Some(rp) = &src.reviewer_papers {
        if !venue.has_profiles {
            return Err(Error::Options(
                "reviewer_papers.csv needs papers.csv and reviewers.csv (text affinity compares \
                 paper texts with reviewers' papers)"
                    .into(),
            ));
        }
        read_reviewer_papers(rp, &mut reviewer_ids, &mut venue)?;
    }
    if !venue.has_profiles {
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
    }
    // Ids first seen in later files widen the matrices with zero scores.
    let (np, nr) = (venue.papers.len(), venue.reviewers.len());
    venue.scores = match matrices.len() {
        0 => None,
        1 if matrices[0].1 == 1.0 => matrices.pop().map(|(m, _)| widen(m, np, nr)),
        _ => Some(weighted_sum(matrices, np, nr)?),
    };
    venue.locks.sort_unstable();
    venue.locks.dedup();
    Ok(venue)
}

/// `Σ w_i · m_i` over score matrices (OpenReview's `--weights`), dense.
fn weighted_sum(mats: Vec<(AffinityMatrix, f64)>, np: usize, nr: usize) -> Result<AffinityMatrix> {
    if np.saturating_mul(nr) > 400_000_000 {
        return Err(Error::Options(format!(
            "combining several score files needs a dense {np} × {nr} matrix, which is too large"
        )));
    }
    let mut acc = ndarray::Array2::<f64>::zeros((np, nr));
    for (m, w) in mats {
        for p in 0..m.n_papers() {
            m.for_each_in_row(p, |r, v| acc[[p, r]] += w * v as f64);
        }
    }
    let limit = (scores::MAX_ABS_SCORE * crate::model::SCORE_SCALE) as f64;
    if acc.iter().any(|x| x.abs() > limit) {
        return Err(Error::Options(format!(
            "the weighted sum of the score files leaves [-{0}, {0}]; lower the weights",
            scores::MAX_ABS_SCORE
        )));
    }
    Ok(AffinityMatrix::Dense(acc.mapv(|x| x.round() as i32)))
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
    const CORE: [&str; 6] = [
        "reviewer_id",
        "name",
        "email",
        "keywords",
        "min_load",
        "max_load",
    ];
    let extra: Vec<&str> = table
        .column_names()
        .into_iter()
        .filter(|c| !CORE.contains(c))
        .collect();
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
            attributes: extra
                .iter()
                .map(|&c| Ok((c.to_string(), row.text(c)?.trim().to_lowercase())))
                .collect::<Result<_>>()?,
        });
    }
    Ok(reviewers)
}

/// The paper and reviewer of `row`: looked up among the ids known up front when `fixed`,
/// interned otherwise (a bare-score venue's scores).
pub(crate) fn pair_ids(
    row: &Row<'_>,
    papers: &mut Interner,
    reviewers: &mut Interner,
    fixed: bool,
) -> Result<(PaperIdx, ReviewerIdx)> {
    if fixed {
        return known_pair_ids(row, papers, reviewers);
    }
    let p = lookup_id(row, "paper_id", papers, false, "paper", "papers.csv")?;
    let r = lookup_id(
        row,
        "reviewer_id",
        reviewers,
        false,
        "reviewer",
        "reviewers.csv",
    )?;
    Ok((PaperIdx(p), ReviewerIdx(r)))
}

/// [`pair_ids`] among ids known up front; an id of the other kind is reported as a likely
/// swap of the two columns.
pub(crate) fn known_pair_ids(
    row: &Row<'_>,
    papers: &Interner,
    reviewers: &Interner,
) -> Result<(PaperIdx, ReviewerIdx)> {
    for (column, own, other, what, kind) in [
        ("paper_id", papers, reviewers, "paper", "reviewer"),
        ("reviewer_id", reviewers, papers, "reviewer", "paper"),
    ] {
        let id = row.text(column)?;
        if !id.is_empty() && own.get(id).is_none() && other.get(id).is_some() {
            return Err(row
                .error(
                    column,
                    format!("unknown {what} id `{id}`, which is a {kind} id"),
                )
                .hint(format!(
                    "are the paper_id and reviewer_id columns swapped? The header names \
                     column `{column}` here, but its value is a {kind}"
                ))
                .into());
        }
    }
    let p = known_id(row, "paper_id", papers, "paper", "papers.csv")?;
    let r = known_id(row, "reviewer_id", reviewers, "reviewer", "reviewers.csv")?;
    Ok((PaperIdx(p), ReviewerIdx(r)))
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
    if fixed {
        known_id(row, column, ids, what, defined_in)
    } else {
        Ok(ids.intern(id_text(row, column, what)?))
    }
}

/// Looks up the id in `column` of `row` among the ids known up front.
fn known_id(
    row: &Row<'_>,
    column: &str,
    ids: &Interner,
    what: &str,
    defined_in: &str,
) -> Result<u32> {
    let id = id_text(row, column, what)?;
    ids.get(id).ok_or_else(|| {
        row.error(column, format!("unknown {what} id `{id}`"))
            .hint(format!(
                "every {what} id here must appear in {defined_in} (in a venue without it, \
                 in the scores); check for typos"
            ))
            .into()
    })
}

/// The id in `column` of `row`, which must not be empty.
fn id_text<'r>(row: &'r Row<'_>, column: &str, what: &str) -> Result<&'r str> {
    let id = row.text(column)?;
    if id.is_empty() {
        return Err(row
            .error(column, format!("empty {what} id"))
            .hint(format!("every row needs a {what} id"))
            .into());
    }
    Ok(id)
}

/// Reads a `paper_id,reviewer_id[,reason]` table.
fn read_pair_table(
    src: &Source,
    papers: &mut Interner,
    reviewers: &mut Interner,
    fixed: bool,
) -> Result<Vec<(PaperIdx, ReviewerIdx, String)>> {
    let table = Table::parse(src, &["paper_id", "reviewer_id"])?;
    if fixed {
        // Ids are only looked up: the rows in parallel, the first error in file order reported.
        let (papers, reviewers) = (&*papers, &*reviewers);
        let rows: Vec<Result<_>> = (0..table.len())
            .into_par_iter()
            .map(|k| {
                let row = table.row(k);
                let (p, r) = known_pair_ids(&row, papers, reviewers)?;
                Ok((p, r, row.text("reason")?.to_string()))
            })
            .collect();
        return rows.into_iter().collect();
    }
    let mut out = Vec::with_capacity(table.len());
    for row in table.rows() {
        let (p, r) = pair_ids(&row, papers, reviewers, false)?;
        out.push((p, r, row.text("reason")?.to_string()));
    }
    Ok(out)
}

/// A pair that must be assigned.
pub(crate) type Lock = (PaperIdx, ReviewerIdx);

fn banned(why: &str) -> String {
    if why.is_empty() {
        "banned".into()
    } else {
        format!("banned: {why}")
    }
}

/// Reads `locks.csv`; a row whose `forbid` column is `1`, `true` or `yes` bans the pair instead.
fn read_locks(
    src: &Source,
    papers: &mut Interner,
    reviewers: &mut Interner,
    fixed: bool,
) -> Result<(Vec<Lock>, Vec<DeclaredConflict>)> {
    let table = Table::parse(src, &["paper_id", "reviewer_id"])?;
    let (mut locks, mut bans) = (Vec::new(), Vec::new());
    for row in table.rows() {
        let (p, r) = pair_ids(&row, papers, reviewers, fixed)?;
        match row.text("forbid")?.to_ascii_lowercase().as_str() {
            "" | "0" | "false" | "no" => locks.push((p, r)),
            "1" | "true" | "yes" => bans.push(DeclaredConflict {
                paper: p,
                reviewer: r,
                reason: banned(row.text("reason")?),
            }),
            other => {
                return Err(row
                    .error("forbid", format!("`{other}` is not yes or no"))
                    .hint("write 1 (ban the pair) or 0 (lock it), or leave it empty")
                    .into());
            }
        }
    }
    Ok((locks, bans))
}

fn read_conflicts(
    src: &Source,
    papers: &mut Interner,
    reviewers: &mut Interner,
    fixed: bool,
) -> Result<Vec<DeclaredConflict>> {
    Ok(read_pair_table(src, papers, reviewers, fixed)?
        .into_iter()
        .map(|(paper, reviewer, reason)| DeclaredConflict {
            paper,
            reviewer,
            reason,
        })
        .collect())
}

fn read_reviewer_papers(src: &Source, reviewers: &mut Interner, venue: &mut Venue) -> Result<()> {
    let table = Table::parse(src, &["reviewer_id", "title"])?;
    venue
        .reviewer_papers
        .resize(venue.reviewers.len(), Vec::new());
    for row in table.rows() {
        let r = lookup_id(
            &row,
            "reviewer_id",
            reviewers,
            true,
            "reviewer",
            "reviewers.csv",
        )?;
        let year = match row.text("year")? {
            "" => None,
            y => Some(y.parse::<i32>().map_err(|_| {
                row.error("year", format!("`{y}` is not a year"))
                    .hint("write the year of publication as a number, like 2023, or leave it empty")
            })?),
        };
        venue.reviewer_papers[r as usize].push(Publication {
            title: row.text("title")?.to_string(),
            abstract_text: row.text("abstract")?.to_string(),
            authors: split_list(row.text("authors")?)
                .map(str::to_string)
                .collect(),
            year,
        });
    }
    Ok(())
}

fn read_bids(
    src: &Source,
    papers: &mut Interner,
    reviewers: &mut Interner,
    fixed: bool,
) -> Result<Vec<Bid>> {
    let table = Table::parse(src, &["paper_id", "reviewer_id", "bid"])?;
    let mut out = Vec::with_capacity(table.len());
    for row in table.rows() {
        let (p, r) = pair_ids(&row, papers, reviewers, fixed)?;
        let text = row.text("bid")?;
        let level = BidLevel::parse(text).ok_or_else(|| {
            row.error("bid", format!("`{text}` is not a bid"))
                .hint("use very high, high, neutral, low, very low, or a number from -2 to 2")
        })?;
        out.push(Bid {
            paper: p,
            reviewer: r,
            level,
        });
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
        let sources = VenueSources {
            papers: Some(src("papers.csv", papers)),
            reviewers: Some(src("reviewers.csv", reviewers)),
            ..VenueSources::default()
        };
        read_venue_sources(&sources, &ReadOptions::default())
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
        let sources = VenueSources {
            papers: Some(src("papers.csv", "paper_id\np1\n")),
            reviewers: Some(src("reviewers.csv", "reviewer_id\nr1\n")),
            conflicts: Some(src("conflicts.csv", "paper_id,reviewer_id\np1,r9\n")),
            ..VenueSources::default()
        };
        let e = read_venue_sources(&sources, &ReadOptions::default())
            .err()
            .unwrap();
        assert!(
            e.to_string()
                .starts_with("conflicts.csv:2:2: unknown reviewer id `r9`"),
            "{e}"
        );
    }

    #[test]
    fn bare_scores_venue_takes_ids_from_its_scores_only() {
        let scores = "paper_id,reviewer_id,score\np1,r1,0.5\np1,r2,0.25\np2,r1,1\n";
        let read = |conflicts: &str| {
            let sources = VenueSources {
                conflicts: Some(src("conflicts.csv", conflicts)),
                scores: Some(src("scores.csv", scores)),
                ..VenueSources::default()
            };
            read_venue_sources(&sources, &ReadOptions::default())
        };
        let v = read("paper_id,reviewer_id\np2,r2\n").unwrap();
        assert_eq!((v.papers.len(), v.reviewers.len()), (2, 2));
        assert_eq!(v.scores.unwrap().get(0, 1), 250_000);
        // An id no scores row names is an error at its position, not a phantom paper.
        let e = read("paper_id,reviewer_id\np3,r1\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("conflicts.csv:2:1: unknown paper id `p3`"),
            "{e}"
        );
        // A header naming the columns in the wrong order over rows of paper, reviewer.
        let e = read("reviewer_id,paper_id\np1,r2\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("conflicts.csv:2:2: unknown paper id `r2`, which is a reviewer id"),
            "{e}"
        );
        assert!(e.contains("columns swapped"), "{e}");
    }

    #[test]
    fn openreview_inputs_combine_with_weights() {
        let sources = VenueSources {
            openreview_scores: vec![
                (src("a.csv", "p1,r1,0.5\np1,r2,0.25\n"), 1.0),
                (src("b.csv", "p1,r1,0.1\np2,r2,0.2\n"), 2.0),
            ],
            openreview_constraints: Some(src("c.csv", "p1,r1,-1\np2,r1,1\np2,r2,0\n")),
            ..VenueSources::default()
        };
        let v = read_venue_sources(&sources, &ReadOptions::default()).unwrap();
        let m = v.scores.unwrap();
        assert_eq!(m.get(0, 0), 700_000);
        assert_eq!(m.get(1, 1), 400_000);
        assert_eq!(v.declared_conflicts.len(), 1);
        assert_eq!(v.locks, vec![(PaperIdx(1), ReviewerIdx(0))]);
    }

    #[test]
    fn bids_and_locks_are_read() {
        let sources = VenueSources {
            papers: Some(src("papers.csv", "paper_id\np1\n")),
            reviewers: Some(src("reviewers.csv", "reviewer_id\nr1\nr2\n")),
            bids: Some(src(
                "bids.csv",
                "paper_id,reviewer_id,bid\np1,r1,Very High\np1,r2,-1\n",
            )),
            locks: Some(src("locks.csv", "paper_id,reviewer_id\np1,r2\n")),
            ..VenueSources::default()
        };
        let v = read_venue_sources(&sources, &ReadOptions::default()).unwrap();
        assert_eq!(v.bids[0].level, BidLevel::VeryHigh);
        assert_eq!(v.bids[1].level, BidLevel::Low);
        assert_eq!(v.locks, vec![(PaperIdx(0), ReviewerIdx(1))]);
        let bad = VenueSources {
            bids: Some(src("bids.csv", "paper_id,reviewer_id,bid\np1,r1,maybe\n")),
            ..sources
        };
        let e = read_venue_sources(&bad, &ReadOptions::default())
            .err()
            .unwrap();
        assert!(
            e.to_string()
                .starts_with("bids.csv:2:3: `maybe` is not a bid"),
            "{e}"
        );
    }
}
