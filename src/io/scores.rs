//! Reading `scores.csv` (`paper_id,reviewer_id,score`) at close to memory speed.
//!
//! A dense venue of 5,000 × 7,000 is 35 million rows, so the common case (no quoted fields) does
//! not go through a general CSV reader: the body is cut into chunks at line boundaries and parsed
//! in parallel with rayon. Ids are interned once (for a venue without profile files, in order of
//! first appearance, found by a first parallel pass); each row then costs a prediction check (files
//! are usually grouped by paper, with reviewers in a repeating order) or one hash lookup, and its
//! score is parsed as an exact decimal into fixed-point units and stored straight into the matrix.
//! A file with quotes falls back to the `csv` crate. Both paths report errors with file, line and
//! column, and both produce the same matrix.

use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

use ndarray::Array2;
use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};

use super::table::{Source, Table};
use super::{Interner, ReadOptions, pair_ids};
use crate::error::{InputError, Result};
use crate::model::{AffinityMatrix, SCORE_SCALE, SparseRows};

/// Largest absolute score accepted with `allow_any_score` (keeps the solver's integer arithmetic
/// exact and free of overflow).
pub const MAX_ABS_SCORE: i64 = 1000;

/// Bytes per parallel chunk; fixed so that chunking, and so every error, is deterministic.
const CHUNK: usize = 4 << 20;

/// Parses a decimal score into fixed-point units (10⁻⁶), exactly for up to six decimals and
/// rounded half away from zero beyond. Returns `None` for anything that is not a finite number.
///
/// ```
/// assert_eq!(papermatch::io::parse_score("0.123456"), Some(123_456));
/// assert_eq!(papermatch::io::parse_score("-1.5e-1"), Some(-150_000));
/// assert_eq!(papermatch::io::parse_score("nan"), None);
/// ```
pub fn parse_score(s: &str) -> Option<i64> {
    parse_score_bytes(s.as_bytes())
}

fn parse_score_bytes(b: &[u8]) -> Option<i64> {
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let mut int: i64 = 0;
    let mut i = 0;
    while i < digits.len() && digits[i].is_ascii_digit() {
        if i >= 12 {
            return slow_parse(b);
        }
        int = int * 10 + (digits[i] - b'0') as i64;
        i += 1;
    }
    let int_digits = i;
    let mut frac: i64 = 0;
    let mut frac_digits = 0;
    let mut round_up = false;
    if i < digits.len() && digits[i] == b'.' {
        i += 1;
        while i < digits.len() && digits[i].is_ascii_digit() {
            if frac_digits < 6 {
                frac = frac * 10 + (digits[i] - b'0') as i64;
            } else if frac_digits == 6 {
                round_up = digits[i] >= b'5';
            }
            frac_digits += 1;
            i += 1;
        }
    }
    if i != digits.len() || (int_digits == 0 && frac_digits == 0) {
        return slow_parse(b);
    }
    for _ in frac_digits.min(6)..6 {
        frac *= 10;
    }
    let units = int * SCORE_SCALE + frac + round_up as i64;
    Some(if neg { -units } else { units })
}

fn slow_parse(b: &[u8]) -> Option<i64> {
    let x: f64 = std::str::from_utf8(b).ok()?.parse().ok()?;
    if !x.is_finite() || x.abs() > 1e12 {
        return None;
    }
    Some(crate::model::score_to_units(x))
}

/// Checks a parsed score against the allowed range; the message says how to fix it.
fn check_score(bytes: &[u8], allow_any: bool) -> Result<i32, (String, String)> {
    let text = || String::from_utf8_lossy(bytes);
    let Some(units) = parse_score_bytes(bytes) else {
        let text = text();
        return Err((
            format!("`{text}` is not a finite number"),
            "scores must be decimal numbers such as 0.75".into(),
        ));
    };
    if allow_any {
        if units.abs() > MAX_ABS_SCORE * SCORE_SCALE {
            let text = text();
            return Err((
                format!("score {text} is outside [-{MAX_ABS_SCORE}, {MAX_ABS_SCORE}]"),
                "rescale the scores; papermatch keeps them exact in 32-bit fixed point".into(),
            ));
        }
    } else if !(0..=SCORE_SCALE).contains(&units) {
        let text = text();
        return Err((
            format!("score {text} is outside [0, 1]"),
            "rescale the scores to [0, 1], or pass --allow-any-score".into(),
        ));
    }
    Ok(units as i32)
}

/// The header line OpenReview's headerless files are read as.
const OPENREVIEW_HEADER: &[u8] = b"paper_id,reviewer_id,score\n";

pub(super) fn read_scores(
    src: &Source,
    papers: &mut Interner,
    reviewers: &mut Interner,
    fixed: bool,
    opts: &ReadOptions,
    headerless: bool,
) -> Result<AffinityMatrix> {
    if memchr::memchr(b'"', src.bytes()).is_some() {
        if headerless {
            // Rare (OpenReview writes no quotes): read a copy with the header put in front.
            let mut bytes = OPENREVIEW_HEADER.to_vec();
            bytes.extend_from_slice(src.bytes());
            let copy = Source::from_bytes(src.name.clone(), bytes);
            return read_scores_csv(&copy, papers, reviewers, fixed, opts, 1);
        }
        return read_scores_csv(src, papers, reviewers, fixed, opts, 0);
    }
    let header_end = if headerless {
        0
    } else {
        memchr::memchr(b'\n', src.bytes()).map_or(src.bytes().len(), |i| i + 1)
    };
    let cols = if headerless {
        let first = src.bytes().split(|&b| b == b'\n').next().unwrap_or(&[]);
        let count = first.split(|&b| b == b',').count();
        if src.bytes().trim_ascii().is_empty() || count < 3 {
            return Err(src
                .error("expected rows of paper,reviewer,score (OpenReview's headerless layout)")
                .at_line(1)
                .into());
        }
        Columns {
            paper: 0,
            reviewer: 1,
            score: 2,
            count,
        }
    } else {
        // The header goes through the general reader for its checks and messages.
        let header_only = Source::from_bytes(src.name.clone(), src.bytes()[..header_end].to_vec());
        let header = Table::parse(&header_only, &["paper_id", "reviewer_id", "score"])?;
        Columns {
            paper: header.column("paper_id"),
            reviewer: header.column("reviewer_id"),
            score: header.column("score"),
            count: header.n_columns(),
        }
    };
    let first_body_line: u64 = if headerless { 1 } else { 2 };
    let body = &src.bytes()[header_end..];
    let chunks = split_chunks(body);
    let bar = crate::progress::bar(opts.progress, body.len() as u64, "reading scores");
    let mut first_line = Vec::with_capacity(chunks.len());
    let newlines: Vec<u64> = chunks
        .par_iter()
        .map(|c| memchr::memchr_iter(b'\n', c).count() as u64)
        .collect();
    let mut line = first_body_line;
    for n in newlines {
        first_line.push(line);
        line += n;
    }
    let ctx = Ctx {
        name: &src.name,
        cols,
        allow_any: opts.allow_any_score,
    };
    if !fixed {
        let found: Vec<Result<(Vec<&str>, Vec<&str>)>> = chunks
            .par_iter()
            .zip(&first_line)
            .map(|(c, &l)| ctx.collect_ids(c, l))
            .collect();
        for f in found {
            let (ps, rs) = f?;
            for p in ps {
                papers.intern(p);
            }
            for r in rs {
                reviewers.intern(r);
            }
        }
    }
    let (np, nr) = (papers.ids.len(), reviewers.ids.len());
    let cells = np
        .checked_mul(nr)
        .filter(|&n| n <= isize::MAX as usize / 8)
        .ok_or_else(|| {
            src.error(format!(
                "{np} papers × {nr} reviewers is too large a matrix"
            ))
        })?;
    let grid: Vec<AtomicI32> = (0..cells).map(|_| AtomicI32::new(0)).collect();
    let seen: Vec<AtomicU64> = (0..cells.div_ceil(64)).map(|_| AtomicU64::new(0)).collect();
    let sink = Sink {
        grid: &grid,
        seen: &seen,
        n_reviewers: nr,
        serial: false,
    };
    let results: Vec<Result<(), Fill>> = chunks
        .par_iter()
        .zip(&first_line)
        .map(|(c, &l)| {
            let r = ctx.fill(c, l, papers, reviewers, &sink);
            bar.inc(c.len() as u64);
            r
        })
        .collect();
    bar.finish_and_clear();
    for r in &results {
        match r {
            Ok(()) => {}
            Err(Fill::Input(e)) => return Err(e.clone().into()),
            Err(Fill::Duplicate) => {
                // Which copy a parallel pass saw second is a race: find the first one in order.
                let fresh: Vec<AtomicU64> = (0..seen.len()).map(|_| AtomicU64::new(0)).collect();
                let serial = Sink {
                    grid: &grid,
                    seen: &fresh,
                    n_reviewers: nr,
                    serial: true,
                };
                return match ctx.fill(body, first_body_line, papers, reviewers, &serial) {
                    Err(Fill::Input(e)) => Err(e.into()),
                    _ => Err(src.error("duplicate pair").into()),
                };
            }
        }
    }
    let present: u64 = seen
        .iter()
        .map(|w| w.load(Ordering::Relaxed).count_ones() as u64)
        .sum();
    let values: Vec<i32> = grid.into_iter().map(AtomicI32::into_inner).collect();
    let seen: Vec<u64> = seen.into_iter().map(AtomicU64::into_inner).collect();
    Ok(assemble(np, nr, values, &seen, present))
}

/// Dense when at least half the pairs are given, sparse otherwise; absent pairs score 0.
fn assemble(np: usize, nr: usize, values: Vec<i32>, seen: &[u64], present: u64) -> AffinityMatrix {
    if present as usize * 2 >= np * nr {
        // A pair given with a score keeps it; others are 0 already.
        return AffinityMatrix::Dense(
            Array2::from_shape_vec((np, nr), values).expect("grid has np × nr cells"),
        );
    }
    let rows = (0..np)
        .map(|p| {
            (0..nr)
                .filter_map(|r| {
                    let k = p * nr + r;
                    let given = seen[k / 64] >> (k % 64) & 1 == 1;
                    (given && values[k] != 0).then_some((r as u32, values[k]))
                })
                .collect()
        })
        .collect();
    AffinityMatrix::Sparse(SparseRows::from_rows(nr, rows))
}

fn split_chunks(body: &[u8]) -> Vec<&[u8]> {
    let mut chunks = Vec::new();
    let mut start = 0;
    while start < body.len() {
        let mut end = (start + CHUNK).min(body.len());
        if end < body.len() {
            end = memchr::memchr(b'\n', &body[end..]).map_or(body.len(), |i| end + i + 1);
        }
        chunks.push(&body[start..end]);
        start = end;
    }
    chunks
}

#[derive(Clone, Copy)]
struct Columns {
    paper: usize,
    reviewer: usize,
    score: usize,
    count: usize,
}

struct Ctx<'a> {
    name: &'a str,
    cols: Columns,
    allow_any: bool,
}

struct Sink<'a> {
    grid: &'a [AtomicI32],
    seen: &'a [AtomicU64],
    n_reviewers: usize,
    /// The serial re-run after a duplicate reports it; parallel runs only flag it, since which
    /// copy they meet second is a race.
    serial: bool,
}

enum Fill {
    Input(InputError),
    Duplicate,
}

/// Fields of one line: paper id, reviewer id, score, as trimmed bytes.
type Fields<'b> = [&'b [u8]; 3];

const NAMES: [&str; 3] = ["paper_id", "reviewer_id", "score"];

impl Ctx<'_> {
    fn error(&self, line: u64, field: Option<usize>, message: String, hint: &str) -> InputError {
        let mut e = InputError::file(self.name, message)
            .at_line(line)
            .hint(hint);
        if let Some(f) = field {
            let col = [self.cols.paper, self.cols.reviewer, self.cols.score][f];
            e = e.at_column(col + 1, NAMES[f]);
        }
        e
    }

    /// Splits one line into the three fields, or `None` for a blank line.
    fn fields<'b>(&self, raw: &'b [u8], line: u64) -> Result<Option<Fields<'b>>, InputError> {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let mut picked: Fields<'b> = [&raw[..0]; 3];
        let mut n = 0;
        let mut start = 0;
        loop {
            let end = memchr::memchr(b',', &raw[start..]).map_or(raw.len(), |i| start + i);
            let field = &raw[start..end];
            if n == self.cols.paper {
                picked[0] = field;
            } else if n == self.cols.reviewer {
                picked[1] = field;
            } else if n == self.cols.score {
                picked[2] = field;
            }
            n += 1;
            if end == raw.len() {
                break;
            }
            start = end + 1;
        }
        if n != self.cols.count {
            if raw.trim_ascii().is_empty() {
                return Ok(None);
            }
            return Err(self.error(
                line,
                None,
                format!(
                    "this row has {n} fields but the header has {}",
                    self.cols.count
                ),
                "every row needs paper_id, reviewer_id and score separated by commas",
            ));
        }
        for (f, field) in picked.iter_mut().enumerate() {
            *field = field.trim_ascii();
            if field.is_empty() {
                if raw.trim_ascii().is_empty() {
                    return Ok(None);
                }
                let what = ["empty paper id", "empty reviewer id", "empty score"][f];
                return Err(self.error(
                    line,
                    Some(f),
                    what.into(),
                    "every row needs a paper id, a reviewer id and a score",
                ));
            }
        }
        Ok(Some(picked))
    }

    /// An id field as text; only ids that are not predicted pay for the UTF-8 check.
    fn text<'b>(&self, bytes: &'b [u8], line: u64, f: usize) -> Result<&'b str, InputError> {
        std::str::from_utf8(bytes).map_err(|_| {
            self.error(
                line,
                Some(f),
                "the field is not valid UTF-8".into(),
                "save the file as UTF-8",
            )
        })
    }

    fn collect_ids<'b>(
        &self,
        chunk: &'b [u8],
        first_line: u64,
    ) -> Result<(Vec<&'b str>, Vec<&'b str>)> {
        let mut papers: (FxHashSet<&[u8]>, Vec<&str>) = Default::default();
        let mut reviewers: (FxHashMap<&[u8], usize>, Vec<&str>) = Default::default();
        let mut last: &[u8] = &[];
        let mut last_reviewer = usize::MAX;
        for (k, raw) in lines(chunk).enumerate() {
            let line = first_line + k as u64;
            let Some([p, r, _]) = self.fields(raw, line)? else {
                continue;
            };
            if p != last && papers.0.insert(p) {
                papers.1.push(self.text(p, line, 0)?);
            }
            last = p;
            // Reviewers usually repeat in the same order paper after paper: check the guess first.
            let guess = last_reviewer.wrapping_add(1);
            if reviewers.1.get(guess).is_some_and(|g| g.as_bytes() == r) {
                last_reviewer = guess;
                continue;
            }
            last_reviewer = match reviewers.0.get(r) {
                Some(&i) => i,
                None => {
                    let i = reviewers.1.len();
                    reviewers.0.insert(r, i);
                    reviewers.1.push(self.text(r, line, 1)?);
                    i
                }
            };
        }
        Ok((papers.1, reviewers.1))
    }

    fn fill(
        &self,
        chunk: &[u8],
        first_line: u64,
        papers: &Interner,
        reviewers: &Interner,
        sink: &Sink<'_>,
    ) -> Result<(), Fill> {
        let mut last_paper: (&[u8], u32) = (&[], 0);
        let mut last_reviewer: u32 = u32::MAX;
        for (k, raw) in lines(chunk).enumerate() {
            let line = first_line + k as u64;
            let Some([p_id, r_id, score]) = self.fields(raw, line).map_err(Fill::Input)? else {
                continue;
            };
            let p = if p_id == last_paper.0 {
                last_paper.1
            } else {
                let text = self.text(p_id, line, 0).map_err(Fill::Input)?;
                let p = papers.get(text).ok_or_else(|| {
                    Fill::Input(self.error(
                        line,
                        Some(0),
                        format!("unknown paper id `{text}`"),
                        "every paper id here must appear in papers.csv; check for typos",
                    ))
                })?;
                last_paper = (p_id, p);
                p
            };
            let guess = last_reviewer.wrapping_add(1) as usize;
            let r = if reviewers
                .ids
                .get(guess)
                .is_some_and(|id| id.as_bytes() == r_id)
            {
                guess as u32
            } else {
                let text = self.text(r_id, line, 1).map_err(Fill::Input)?;
                reviewers.get(text).ok_or_else(|| {
                    Fill::Input(self.error(
                        line,
                        Some(1),
                        format!("unknown reviewer id `{text}`"),
                        "every reviewer id here must appear in reviewers.csv; check for typos",
                    ))
                })?
            };
            last_reviewer = r;
            let units = check_score(score, self.allow_any)
                .map_err(|(m, h)| Fill::Input(self.error(line, Some(2), m, &h)))?;
            let cell = p as usize * sink.n_reviewers + r as usize;
            let bit = 1u64 << (cell % 64);
            if sink.seen[cell / 64].fetch_or(bit, Ordering::Relaxed) & bit != 0 {
                let (p_id, r_id) = (String::from_utf8_lossy(p_id), String::from_utf8_lossy(r_id));
                return Err(match sink.serial {
                    true => Fill::Input(self.error(
                        line,
                        Some(1),
                        format!(
                            "duplicate pair: paper `{p_id}` and reviewer `{r_id}` are scored twice"
                        ),
                        "give each pair one score; remove the repeated row",
                    )),
                    false => Fill::Duplicate,
                });
            }
            sink.grid[cell].store(units, Ordering::Relaxed);
        }
        Ok(())
    }
}

fn lines(chunk: &[u8]) -> impl Iterator<Item = &[u8]> {
    let chunk = chunk.strip_suffix(b"\n").unwrap_or(chunk);
    chunk
        .split(|&b| b == b'\n')
        .filter(move |_| !chunk.is_empty())
}

/// The general path, for files with quoted fields.
fn read_scores_csv(
    src: &Source,
    papers: &mut Interner,
    reviewers: &mut Interner,
    fixed: bool,
    opts: &ReadOptions,
    line_shift: u64,
) -> Result<AffinityMatrix> {
    let table = Table::parse(src, &["paper_id", "reviewer_id", "score"])?;
    let mut triplets = Vec::with_capacity(table.len());
    for row in table.rows() {
        let (p, r) = pair_ids(&row, papers, reviewers, fixed)?;
        let (p, r) = (p.0, r.0);
        let text = row.text("score")?;
        if text.is_empty() {
            return Err(row
                .error("score", "empty score")
                .hint("every row needs a paper id, a reviewer id and a score")
                .into());
        }
        let units = check_score(text.as_bytes(), opts.allow_any_score)
            .map_err(|(m, h)| row.error("score", m).hint(h))?;
        triplets.push((p, r, units, row.line - line_shift));
    }
    let (np, nr) = (papers.ids.len(), reviewers.ids.len());
    let mut values = vec![0i32; np * nr];
    let mut seen = vec![0u64; (np * nr).div_ceil(64)];
    let mut present = 0;
    for &(p, r, units, line) in &triplets {
        let cell = p as usize * nr + r as usize;
        if seen[cell / 64] >> (cell % 64) & 1 == 1 {
            return Err(InputError::file(
                src.name.clone(),
                format!(
                    "duplicate pair: paper `{}` and reviewer `{}` are scored twice",
                    papers.ids[p as usize], reviewers.ids[r as usize]
                ),
            )
            .at_line(line)
            .hint("give each pair one score; remove the repeated row")
            .into());
        }
        seen[cell / 64] |= 1 << (cell % 64);
        values[cell] = units;
        present += 1;
    }
    Ok(assemble(np, nr, values, &seen, present))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_decimal_parsing() {
        assert_eq!(parse_score("1"), Some(1_000_000));
        assert_eq!(parse_score("0.5"), Some(500_000));
        assert_eq!(parse_score(".25"), Some(250_000));
        assert_eq!(parse_score("0.0000005"), Some(1));
        assert_eq!(parse_score("0.00000049"), Some(0));
        assert_eq!(parse_score("1e-6"), Some(1));
        assert_eq!(parse_score(""), None);
        assert_eq!(parse_score("-"), None);
        assert_eq!(parse_score("inf"), None);
        assert_eq!(parse_score("abc"), None);
        assert_eq!(parse_score("0.1.2"), None);
    }

    fn read(
        text: &str,
        fixed: Option<(&[&str], &[&str])>,
    ) -> Result<(AffinityMatrix, Interner, Interner)> {
        let mut p = Interner::default();
        let mut r = Interner::default();
        if let Some((ps, rs)) = fixed {
            ps.iter().for_each(|x| {
                p.intern(x);
            });
            rs.iter().for_each(|x| {
                r.intern(x);
            });
        }
        let src = Source::from_bytes("scores.csv", text.as_bytes().to_vec());
        let m = read_scores(
            &src,
            &mut p,
            &mut r,
            fixed.is_some(),
            &ReadOptions::default(),
            false,
        )?;
        Ok((m, p, r))
    }

    #[test]
    fn fast_and_quoted_paths_agree() {
        let plain = "reviewer_id,score,paper_id\nr1,0.5,p1\nr2,0.25,p1\nr1,1,p2\nr2,0,p2\n";
        let quoted = "reviewer_id,score,paper_id\n\"r1\",0.5,p1\nr2,0.25,p1\nr1,1,p2\nr2,0,p2\n";
        let (a, pa, ra) = read(plain, None).unwrap();
        let (b, pb, rb) = read(quoted, None).unwrap();
        assert_eq!(a, b);
        assert_eq!(pa.ids, pb.ids);
        assert_eq!(ra.ids, rb.ids);
        assert!(matches!(a, AffinityMatrix::Dense(_)));
        assert_eq!(a.get(0, 1), 250_000);
    }

    #[test]
    fn errors_point_at_line_and_column() {
        let e = read("paper_id,reviewer_id,score\np1,r1,0.5\np1,r2,1.5\n", None)
            .err()
            .unwrap();
        assert!(
            e.to_string()
                .starts_with("scores.csv:3:3: score 1.5 is outside [0, 1]"),
            "{e}"
        );
        let e = read("paper_id,reviewer_id,score\np1,r1,x\n", None)
            .err()
            .unwrap();
        assert!(
            e.to_string()
                .starts_with("scores.csv:2:3: `x` is not a finite number"),
            "{e}"
        );
        let e = read(
            "paper_id,reviewer_id,score\np1,r9,0.1\n",
            Some((&["p1"], &["r1"])),
        )
        .err()
        .unwrap();
        assert!(
            e.to_string()
                .starts_with("scores.csv:2:2: unknown reviewer id `r9`"),
            "{e}"
        );
        let e = read("paper_id,reviewer_id,score\np1,r1,0.1\np1,r1,0.2\n", None)
            .err()
            .unwrap();
        assert!(
            e.to_string().starts_with("scores.csv:3:2: duplicate pair"),
            "{e}"
        );
        let e = read("paper_id,reviewer_id,score\np1,r1\n", None)
            .err()
            .unwrap();
        assert!(
            e.to_string()
                .starts_with("scores.csv:2: this row has 2 fields"),
            "{e}"
        );
        let e = read("paper_id,reviewer_id,score\np1,r1,NaN\n", None)
            .err()
            .unwrap();
        assert!(e.to_string().contains("not a finite number"), "{e}");
    }

    #[test]
    fn headerless_openreview_layout() {
        let mut p = Interner::default();
        let mut r = Interner::default();
        let src = Source::from_bytes("or.csv", b"p1,r1,0.5\np1,r2,0.25\np2,r1,x\n".to_vec());
        let e = read_scores(&src, &mut p, &mut r, false, &ReadOptions::default(), true)
            .err()
            .unwrap();
        assert!(
            e.to_string()
                .starts_with("or.csv:3:3: `x` is not a finite number"),
            "{e}"
        );
        let src = Source::from_bytes("or.csv", b"p1,r1,0.5\n\"p1\",r2,0.25\n".to_vec());
        let m = read_scores(&src, &mut p, &mut r, false, &ReadOptions::default(), true).unwrap();
        assert_eq!(m.get(0, 1), 250_000);
    }

    #[test]
    fn sparse_when_few_pairs() {
        let (m, _, _) = read(
            "paper_id,reviewer_id,score\np1,r1,0.5\np2,r2,0.5\np3,r3,0.5\n",
            None,
        )
        .unwrap();
        assert!(m.is_sparse());
        assert_eq!(m.get(1, 1), 500_000);
        assert_eq!(m.get(1, 2), 0);
    }
}
