//! Other systems' formats: OpenReview's matcher and HotCRP.
//!
//! | format | direction | shape |
//! |---|---|---|
//! | OpenReview scores | in | headerless CSV `paper,reviewer,score` (several files, weighted) |
//! | OpenReview constraints | in | headerless CSV `paper,reviewer,c` with `c` = −1 (conflict), 1 (forced assignment), 0 (nothing) |
//! | OpenReview `assignments.json` | in and out | `{"paper": [{"user": "reviewer", "aggregate_score": 0.9}, …], …}` |
//! | papermatch assignment CSV | in and out | `paper_id,reviewer_id[,score]` with a header |
//! | HotCRP bulk assignment | out | CSV `paper,action,email,reviewtype,round`, one `review` action per pair |

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::table::{Source, Table};
use super::{Interner, Lock, lookup_id, pair_ids, write_atomic, write_csv_atomic};
use crate::error::{Error, InputError, Result};
use crate::model::{DeclaredConflict, PaperIdx, ReviewerIdx, Venue, units_to_score};
use crate::solve::{Assignment, Problem};

/// The rows of an assignment CSV, sorted: `(paper id, reviewer id, score units)`.
pub fn assignment_rows<'a>(pb: &'a Problem<'_>, a: &Assignment) -> Vec<(&'a str, &'a str, i64)> {
    let mut rows: Vec<(&str, &str, i64)> = a
        .pairs()
        .map(|(p, r)| {
            (
                pb.paper_ids[p.ix()].as_str(),
                pb.reviewer_ids[r.ix()].as_str(),
                pb.affinity.get(p.ix(), r.ix()) as i64,
            )
        })
        .collect();
    rows.sort_unstable_by(|x, y| x.0.cmp(y.0).then(y.2.cmp(&x.2)).then(x.1.cmp(y.1)));
    rows
}

/// Reads an OpenReview constraints file: conflicts (−1) and forced assignments (1).
pub(crate) fn read_openreview_constraints(
    src: &Source,
    papers: &mut Interner,
    reviewers: &mut Interner,
    fixed: bool,
) -> Result<(Vec<DeclaredConflict>, Vec<Lock>)> {
    let table = Table::parse_headerless(src, &["paper_id", "reviewer_id", "constraint"])?;
    let (mut conflicts, mut locks) = (Vec::new(), Vec::new());
    for row in table.rows() {
        let (p, r) = pair_ids(&row, papers, reviewers, fixed)?;
        match row.text("constraint")? {
            "-1" => conflicts.push(DeclaredConflict {
                paper: p,
                reviewer: r,
                reason: "OpenReview constraint -1".into(),
            }),
            "1" => locks.push((p, r)),
            "0" => {}
            other => {
                return Err(row
                    .error("constraint", format!("`{other}` is not a constraint"))
                    .hint("OpenReview constraints are -1 (conflict), 1 (forced assignment) or 0")
                    .into());
            }
        }
    }
    Ok((conflicts, locks))
}

/// One entry of OpenReview's `assignments.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenReviewEntry {
    /// The reviewer's id.
    #[serde(alias = "reviewer", alias = "tail")]
    pub user: String,
    /// The pair's score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregate_score: Option<f64>,
}

/// Reads an assignment of a venue: OpenReview's `assignments.json` when the file ends in
/// `.json` (or starts with `{`), else a CSV with `paper_id,reviewer_id` columns.
pub fn read_assignment(path: &Path, venue: &Venue) -> Result<Assignment> {
    let src = Source::read(path)?;
    let json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        || src.bytes().trim_ascii_start().starts_with(b"{");
    let pairs = if json {
        openreview_pairs(&src, venue)?
    } else {
        csv_pairs(&src, venue)?
    };
    Ok(Assignment::from_pairs(venue.papers.len(), &pairs))
}

fn interners(venue: &Venue) -> (Interner, Interner) {
    let mut papers = Interner::default();
    for p in &venue.papers {
        papers.intern(&p.id);
    }
    let mut reviewers = Interner::default();
    for r in &venue.reviewers {
        reviewers.intern(&r.id);
    }
    (papers, reviewers)
}

fn csv_pairs(src: &Source, venue: &Venue) -> Result<Vec<(PaperIdx, ReviewerIdx)>> {
    let (mut papers, mut reviewers) = interners(venue);
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

fn openreview_pairs(src: &Source, venue: &Venue) -> Result<Vec<(PaperIdx, ReviewerIdx)>> {
    let (papers, reviewers) = interners(venue);
    let parsed: BTreeMap<String, Vec<OpenReviewEntry>> =
        serde_json::from_slice(src.bytes()).map_err(|e| {
            InputError::file(src.name.clone(), format!("not an OpenReview assignments file: {e}"))
                .at_line(e.line() as u64)
                .hint("expected {\"paper_id\": [{\"user\": \"reviewer_id\", \"aggregate_score\": 0.5}, ...], ...}")
        })?;
    let mut out = Vec::new();
    for (paper, entries) in parsed {
        let p = papers.get(&paper).ok_or_else(|| {
            InputError::file(src.name.clone(), format!("unknown paper id `{paper}`"))
                .hint("every paper of the assignment must be in the venue")
        })?;
        for e in entries {
            let r = reviewers.get(&e.user).ok_or_else(|| {
                InputError::file(
                    src.name.clone(),
                    format!("unknown reviewer id `{}` (paper `{paper}`)", e.user),
                )
                .hint("every reviewer of the assignment must be in the venue")
            })?;
            out.push((PaperIdx(p), ReviewerIdx(r)));
        }
    }
    Ok(out)
}

/// Writes an assignment as OpenReview's `assignments.json` (papers in id order, reviewers by
/// score descending).
pub fn write_openreview_json(path: &Path, pb: &Problem<'_>, a: &Assignment) -> Result<()> {
    let mut out: BTreeMap<&str, Vec<OpenReviewEntry>> = BTreeMap::new();
    for (p, r, s) in assignment_rows(pb, a) {
        out.entry(p).or_default().push(OpenReviewEntry {
            user: r.to_string(),
            aggregate_score: Some(units_to_score(s)),
        });
    }
    let json = serde_json::to_string_pretty(&out).map_err(|e| Error::Solver(e.to_string()))?;
    write_atomic(path, |w| {
        w.write_all(json.as_bytes())?;
        w.write_all(b"\n")
    })
}

/// How HotCRP should record the reviews.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HotCrpOptions {
    /// HotCRP review type: `primary`, `secondary`, `optional`, `pc`, `meta`.
    pub review_type: String,
    /// Review round name (empty for the default round).
    pub round: String,
}

impl Default for HotCrpOptions {
    fn default() -> HotCrpOptions {
        HotCrpOptions {
            review_type: "primary".into(),
            round: String::new(),
        }
    }
}

/// Writes HotCRP's bulk-assignment CSV: `paper,action,email,reviewtype,round`, one `review`
/// action per pair. The reviewer's e-mail is used when known, else their id.
pub fn write_hotcrp(
    path: &Path,
    pb: &Problem<'_>,
    venue: &Venue,
    a: &Assignment,
    opts: &HotCrpOptions,
) -> Result<()> {
    let email: std::collections::HashMap<&str, &str> = venue
        .reviewers
        .iter()
        .map(|r| {
            (
                r.id.as_str(),
                if r.email.trim().is_empty() {
                    r.id.as_str()
                } else {
                    r.email.trim()
                },
            )
        })
        .collect();
    let rows = assignment_rows(pb, a);
    write_csv_atomic(
        path,
        &["paper", "action", "email", "reviewtype", "round"],
        |w| {
            for (p, r, _) in rows {
                let e = email.get(r).copied().unwrap_or(r);
                w.write_record([p, "review", e, &opts.review_type, &opts.round])?;
            }
            Ok(())
        },
    )
}

/// A folder in OpenReview's expertise layout: `submissions.json`
/// (`{paper_id: {"id", "content": {"title", "abstract"}}}`) and `archives/<reviewer_id>.jsonl`
/// (one past paper per line with the same `content` fields). Fields may also be written
/// `{"value": "..."}`, as in OpenReview's newer API.
#[derive(Debug)]
pub struct Expertise {
    submissions: Source,
    archives: Vec<(String, Source)>,
}

#[derive(Deserialize)]
struct Note {
    #[serde(default)]
    content: Content,
    /// Publication and creation dates, in milliseconds since 1970.
    #[serde(default)]
    pdate: Option<f64>,
    #[serde(default)]
    cdate: Option<f64>,
    #[serde(default)]
    year: Year,
}

#[derive(Deserialize, Default)]
struct Content {
    #[serde(default)]
    title: Field,
    #[serde(default, rename = "abstract")]
    abstract_text: Field,
    #[serde(default)]
    authorids: List,
    #[serde(default)]
    authors: List,
    #[serde(default)]
    year: Year,
}

impl Note {
    /// The authors' identifiers (`authorids`, else `authors`).
    fn authors(&mut self) -> Vec<String> {
        let ids = std::mem::take(&mut self.content.authorids).items();
        if ids.is_empty() {
            std::mem::take(&mut self.content.authors).items()
        } else {
            ids
        }
    }

    /// The year: `content.year` or `year`, else the year of `pdate`, else of `cdate`.
    fn year(&self) -> Option<i32> {
        self.content
            .year
            .value()
            .or(self.year.value())
            .or_else(|| self.pdate.map(year_of_millis))
            .or_else(|| self.cdate.map(year_of_millis))
    }
}

/// The calendar year (UTC) of a time in milliseconds since 1970 (Hinnant's civil-from-days).
fn year_of_millis(ms: f64) -> i32 {
    let days = (ms / 86_400_000.0).floor() as i64 + 719_468;
    let era = days.div_euclid(146_097);
    let doe = days - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2)) as i32
}

/// A list of strings, plain or wrapped as `{"value": […]}`.
#[derive(Deserialize, Default)]
#[serde(untagged)]
enum List {
    Plain(Vec<String>),
    Wrapped {
        value: Vec<String>,
    },
    #[default]
    Missing,
}

impl List {
    fn items(self) -> Vec<String> {
        match self {
            List::Plain(v) | List::Wrapped { value: v } => v,
            List::Missing => Vec::new(),
        }
    }
}

/// A year: a number or a string, plain or wrapped as `{"value": …}`.
#[derive(Deserialize, Default)]
#[serde(untagged)]
enum Year {
    Number(f64),
    Text(String),
    Wrapped {
        value: Box<Year>,
    },
    #[default]
    Missing,
}

impl Year {
    fn value(&self) -> Option<i32> {
        match self {
            Year::Number(y) => Some(*y as i32),
            Year::Text(s) => s.trim().parse().ok(),
            Year::Wrapped { value } => value.value(),
            Year::Missing => None,
        }
    }
}

/// A text field, plain or wrapped as `{"value": …}`.
#[derive(Deserialize, Default)]
#[serde(untagged)]
enum Field {
    Plain(String),
    Wrapped {
        value: String,
    },
    #[default]
    Missing,
}

impl Field {
    fn text(self) -> String {
        match self {
            Field::Plain(s) | Field::Wrapped { value: s } => s,
            Field::Missing => String::new(),
        }
    }
}

impl Expertise {
    /// Reads `dir/submissions.json` and every `dir/archives/*.jsonl` (in name order).
    pub fn read(dir: &Path) -> Result<Expertise> {
        let submissions = Source::read(&dir.join("submissions.json"))?;
        let archive_dir = dir.join("archives");
        let mut archives = Vec::new();
        let entries = std::fs::read_dir(&archive_dir)
            .map_err(|e| Error::io("cannot read", &archive_dir, e))?;
        for entry in entries {
            let path = entry
                .map_err(|e| Error::io("cannot read", &archive_dir, e))?
                .path();
            if path.extension().is_some_and(|e| e == "jsonl") {
                let id = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                archives.push((id, Source::read(&path)?));
            }
        }
        archives.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Expertise {
            submissions,
            archives,
        })
    }

    /// Fills the venue's papers (submissions), reviewers (archive owners) and reviewers' papers.
    pub(crate) fn fill(
        &self,
        venue: &mut Venue,
        opts: &super::ReadOptions,
        papers: &mut Interner,
        reviewers: &mut Interner,
    ) -> Result<()> {
        let src = &self.submissions;
        let notes: BTreeMap<String, Note> = serde_json::from_slice(src.bytes()).map_err(|e| {
            InputError::file(src.name.clone(), format!("not an OpenReview submissions file: {e}"))
                .at_line(e.line() as u64)
                .hint("expected {\"paper_id\": {\"id\": ..., \"content\": {\"title\": ..., \"abstract\": ...}}, ...}")
        })?;
        for (id, mut note) in notes {
            papers.intern(&id);
            venue.papers.push(crate::model::Paper {
                id,
                authors: note.authors(),
                title: note.content.title.text(),
                abstract_text: note.content.abstract_text.text(),
                demand: opts.default_demand,
                ..Default::default()
            });
        }
        for (id, src) in &self.archives {
            reviewers.intern(id);
            venue.reviewers.push(crate::model::Reviewer {
                id: id.clone(),
                min_load: opts.default_min_load,
                max_load: opts.default_max_load,
                ..Default::default()
            });
            let mut pubs = Vec::new();
            for (k, line) in src.bytes().split(|&b| b == b'\n').enumerate() {
                if line.trim_ascii().is_empty() {
                    continue;
                }
                let mut note: Note = serde_json::from_slice(line).map_err(|e| {
                    InputError::file(
                        src.name.clone(),
                        format!("not an OpenReview archive line: {e}"),
                    )
                    .at_line(k as u64 + 1)
                    .hint("each line must be a JSON object with content.title and content.abstract")
                })?;
                let (authors, year) = (note.authors(), note.year());
                pubs.push(crate::model::Publication {
                    title: note.content.title.text(),
                    abstract_text: note.content.abstract_text.text(),
                    authors,
                    year,
                });
            }
            venue.reviewer_papers.push(pubs);
        }
        Ok(())
    }
}

/// Reads per-pair probability caps: `paper_id,reviewer_id,max_probability` (with a header).
pub fn read_probability_limits(
    path: &Path,
    venue: &Venue,
) -> Result<Vec<(PaperIdx, ReviewerIdx, f64)>> {
    read_pair_probabilities(path, venue, "max_probability")
}

/// Reads the marginal probabilities of a randomized assignment: `paper_id,reviewer_id,
/// probability` (with a header), as `assign --probabilities` writes them.
pub fn read_marginals(path: &Path, venue: &Venue) -> Result<Vec<(PaperIdx, ReviewerIdx, f64)>> {
    read_pair_probabilities(path, venue, "probability")
}

/// Pairs with a probability in column `column`, each a number from 0 to 1.
fn read_pair_probabilities(
    path: &Path,
    venue: &Venue,
    column: &str,
) -> Result<Vec<(PaperIdx, ReviewerIdx, f64)>> {
    let src = Source::read(path)?;
    let (mut papers, mut reviewers) = interners(venue);
    let table = Table::parse(&src, &["paper_id", "reviewer_id", column])?;
    let mut out = Vec::with_capacity(table.len());
    for row in table.rows() {
        let (p, r) = pair_ids(&row, &mut papers, &mut reviewers, true)?;
        let text = row.text(column)?;
        let q: f64 = text
            .parse()
            .ok()
            .filter(|q: &f64| (0.0..=1.0).contains(q))
            .ok_or_else(|| {
                row.error(column, format!("`{text}` is not a probability"))
                    .hint("write a number from 0 to 1")
            })?;
        out.push((p, r, q));
    }
    Ok(out)
}

/// Reads a list of reviewer ids (`--drop`): one per line, with or without a `reviewer_id`
/// header (a CSV with more columns needs the header). Unknown ids are errors naming the line.
pub fn read_reviewer_list(path: &Path, venue: &Venue) -> Result<Vec<ReviewerIdx>> {
    let src = Source::read(path)?;
    let (_, mut reviewers) = interners(venue);
    let header = src.bytes().split(|&b| b == b'\n').next().is_some_and(|l| {
        String::from_utf8_lossy(l).split(',').any(|c| {
            c.trim()
                .trim_start_matches('\u{feff}')
                .eq_ignore_ascii_case("reviewer_id")
        })
    });
    let table = if header {
        Table::parse(&src, &["reviewer_id"])?
    } else {
        Table::parse_headerless(&src, &["reviewer_id"])?
    };
    let mut out = Vec::with_capacity(table.len());
    for row in table.rows() {
        let r = lookup_id(
            &row,
            "reviewer_id",
            &mut reviewers,
            true,
            "reviewer",
            "the venue",
        )?;
        out.push(ReviewerIdx(r));
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Reads extra demand (`--add`): `paper_id,extra` rows, each asking for `extra` more reviewers
/// on that paper.
pub fn read_extra_demand(path: &Path, venue: &Venue) -> Result<Vec<(PaperIdx, u32)>> {
    let src = Source::read(path)?;
    let (mut papers, _) = interners(venue);
    let table = Table::parse(&src, &["paper_id", "extra"])?;
    let mut out = Vec::with_capacity(table.len());
    for row in table.rows() {
        let p = lookup_id(&row, "paper_id", &mut papers, true, "paper", "the venue")?;
        let extra = row.count("extra")?.unwrap_or(0);
        out.push((PaperIdx(p), extra));
    }
    Ok(out)
}

/// Writes the changes of a re-assignment: `change,paper_id,reviewer_id,score,reason` with
/// `change` one of `kept`, `removed`, `added`, sorted by paper id, change, reviewer id.
pub fn write_changes(
    path: &Path,
    pb: &Problem<'_>,
    r: &crate::solve::reassign::Reassignment,
) -> Result<()> {
    let mut rows: Vec<(&str, &str, &str, i64, &str)> = Vec::new();
    let mut push = |change: &'static str, p: PaperIdx, rv: ReviewerIdx, why: &'static str| {
        rows.push((
            pb.paper_ids[p.ix()].as_str(),
            change,
            pb.reviewer_ids[rv.ix()].as_str(),
            pb.affinity.get(p.ix(), rv.ix()) as i64,
            why,
        ));
    };
    for &(p, rv) in &r.kept {
        push("kept", p, rv, "");
    }
    for &(p, rv, why) in &r.removed {
        push("removed", p, rv, why.label());
    }
    for &(p, rv) in &r.added {
        push("added", p, rv, "");
    }
    rows.sort_unstable();
    write_csv_atomic(
        path,
        &["change", "paper_id", "reviewer_id", "score", "reason"],
        |w| {
            for (p, change, rv, score, why) in rows {
                w.write_record([change, p, rv, &crate::model::format_units(score), why])?;
            }
            Ok(())
        },
    )
}
