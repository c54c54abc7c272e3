//! Reading `scores.csv` (`paper_id,reviewer_id,score`) at close to memory speed.
//!
//! | file | what | may use |
//! |---|---|---|
//! | `mod.rs` | the entry ([`read_scores`]): the fast path or the general `csv` reader, and the matrix they fill | the three below, `io::table` |
//! | `chunks.rs` | the fast path: chunks cut at line boundaries, parsed in parallel, rows stored into the grid or a chunk's table | `decimal`, `ids` |
//! | `decimal.rs` | a score's text to exact fixed-point units | nothing |
//! | `ids.rs` | the id tables: short inline keys, a cheap hasher, each chunk's own ids | nothing |
//!
//! A dense venue of 5,000 × 7,000 is 35 million rows, so the common case (no quoted fields) does
//! not go through a general CSV reader: the body is cut into chunks at line boundaries and parsed
//! in parallel with rayon. Each row costs a prediction check (files are usually grouped by paper,
//! with reviewers in a repeating order, or grouped by reviewer) or two id lookups, and its score is
//! parsed as an exact decimal into fixed-point units. With ids known up front (papers.csv and
//! reviewers.csv) it is stored straight into the matrix; otherwise each chunk interns its own ids
//! and keeps its rows in a small table (or, rows in no order, as records), merged in chunk order
//! so that ids keep their order of first appearance (see [`Reader::fill_unknown`]). A file with
//! quotes falls back to the `csv` crate. Both paths report errors with file, line and column, and
//! both produce the same matrix.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;
use std::sync::atomic::{AtomicI32, Ordering};

use ndarray::Array2;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use super::table::{Source, Table};
use super::{Interner, ReadOptions, pair_ids};
use crate::error::{InputError, Result};
use crate::model::{AffinityMatrix, SCORE_SCALE};

mod chunks;
mod decimal;
mod ids;

use chunks::*;
pub use decimal::parse_score;
use decimal::*;
use ids::*;

pub use crate::model::MAX_ABS_SCORE;

/// Bytes per parallel chunk; fixed so that chunking, and so every error, is deterministic.
#[cfg(not(test))]
const CHUNK: usize = 4 << 20;
/// Small chunks in unit tests, so that small files cross many chunk boundaries.
#[cfg(test)]
const CHUNK: usize = 64;

/// Cells a chunk's table may hold beyond one per 8 bytes of the chunk before its rows are kept
/// as records instead; small in unit tests, so that their files take every path.
const TABLE_SLACK: usize = if cfg!(test) { 0 } else { 4096 };

/// Files larger than this are read in two passes when their ids are not known up front (ids,
/// then scores straight into the grid), so that the chunks' tables and the grid are never held
/// together: the peak is the grid. A dense 16,000 × 20,000 file (7 GB) is assigned in 14.1 s
/// with a 1.83 GB peak in two passes, 14.7 s with 3.92 GB in one (back to back, 2 cores). Small
/// in unit tests, so that their files take both paths.
const TWO_PASSES_FROM: usize = if cfg!(test) { 2048 } else { 1 << 30 };

/// Papers or reviewers of its own a chunk's records may name (16 bits each); beyond, the file is
/// read in two passes. Small in unit tests, for the same reason.
const MAX_LOCAL_IDS: u32 = if cfg!(test) { 4 } else { 1 << 16 };

/// A grid cell holds `units ^ ABSENT`: a zeroed grid (fresh pages, no initialising pass) then
/// means "no score yet", and no score encodes to 0, since every score is far from `i32::MIN`.
const ABSENT: i32 = i32::MIN;

fn encode(units: i32) -> i32 {
    units ^ ABSENT
}

pub(super) fn read_scores(
    src: &Source,
    papers: &mut Interner,
    reviewers: &mut Interner,
    fixed: bool,
    opts: &ReadOptions,
    headerless: bool,
) -> Result<AffinityMatrix> {
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
    let reader = Reader {
        src,
        header_end,
        parser: Parser::new(cols, opts.allow_any_score),
    };
    // The interners as they were, for the general reader if it takes over.
    let before = (papers.ids.len(), reviewers.ids.len());
    let parsed = if fixed {
        reader.fill_known(papers, reviewers, opts.progress)
    } else {
        reader.fill_unknown(papers, reviewers, opts.progress)
    };
    if let Ok((grid, rows)) = parsed {
        let (np, nr) = (papers.ids.len(), reviewers.ids.len());
        if let Some(m) = assemble(np, nr, grid, rows) {
            return Ok(m);
        }
        // Fewer pairs than rows: a pair is repeated somewhere.
    }
    // Quotes, a bad row, a repeated pair, an unknown id: the general reader reads the file,
    // so every error is its positioned error, whichever path met it first.
    papers.truncate(before.0);
    reviewers.truncate(before.1);
    read_general(src, papers, reviewers, fixed, opts, headerless)
}

/// The general path: the `csv` crate's reader, for quoted fields and every error.
fn read_general(
    src: &Source,
    papers: &mut Interner,
    reviewers: &mut Interner,
    fixed: bool,
    opts: &ReadOptions,
    headerless: bool,
) -> Result<AffinityMatrix> {
    const COLUMNS: [&str; 3] = ["paper_id", "reviewer_id", "score"];
    let table = if headerless {
        Table::parse_headerless(src, &COLUMNS)?
    } else {
        Table::parse(src, &COLUMNS)?
    };
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
        triplets.push((p, r, units, row.line));
    }
    let (np, nr) = (papers.ids.len(), reviewers.ids.len());
    let mut grid = zeroed_grid(np, nr).ok_or_else(|| {
        src.error(format!(
            "{np} papers × {nr} reviewers is too large a matrix"
        ))
    })?;
    let column = table.column("reviewer_id") + 1;
    for &(p, r, units, line) in &triplets {
        let cell = &mut grid[p as usize * nr + r as usize];
        if *cell != 0 {
            return Err(InputError::file(
                src.name.clone(),
                format!(
                    "duplicate pair: paper `{}` and reviewer `{}` are scored twice",
                    papers.ids[p as usize], reviewers.ids[r as usize]
                ),
            )
            .at_line(line)
            .at_column(column, "reviewer_id")
            .hint("give each pair one score; remove the repeated row")
            .into());
        }
        *cell = encode(units);
    }
    Ok(assemble(np, nr, grid, triplets.len() as u64).expect("every pair stored once"))
}

/// Decodes the grid in place; dense when at least half the pairs are given, sparse otherwise
/// (absent pairs score 0). `None` when fewer pairs than `rows` were stored: a repeated pair.
fn assemble(np: usize, nr: usize, mut grid: Vec<i32>, rows: u64) -> Option<AffinityMatrix> {
    let present: u64 = grid
        .par_chunks_mut(1 << 16)
        .map(|cells| {
            let mut n = 0;
            for c in cells {
                n += (*c != 0) as u64;
                *c = if *c == 0 { 0 } else { *c ^ ABSENT };
            }
            n
        })
        .sum();
    if present < rows {
        return None;
    }
    let grid = Array2::from_shape_vec((np, nr), grid).expect("grid has np × nr cells");
    Some(AffinityMatrix::from_grid(grid, present as usize))
}

/// A zeroed grid of `np × nr` cells, or an error when it cannot be addressed.
fn zeroed_grid(np: usize, nr: usize) -> Option<Vec<i32>> {
    np.checked_mul(nr)
        .filter(|&n| n <= isize::MAX as usize / 8)
        .map(|n| {
            let grid = vec![0; n];
            huge_pages(&grid);
            grid
        })
}

/// Asks for transparent huge pages under a large allocation not yet touched: a dense matrix of
/// tens of MB then faults in 2 MB at a time instead of 4 KB (thousands of faults fewer), and
/// the solver's scans of it miss the TLB less. Advice only; elsewhere it does nothing.
fn huge_pages(cells: &[i32]) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const HUGE: usize = 2 << 20;
        let start = (cells.as_ptr() as usize).next_multiple_of(HUGE);
        let end = (cells.as_ptr() as usize + std::mem::size_of_val(cells)) / HUGE * HUGE;
        if start < end {
            // SAFETY: the range lies inside this allocation, and MADV_HUGEPAGE changes how its
            // pages are backed, never their contents.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = cells;
}

/// The grid as atomics, so that parallel chunks may store into it; a repeated pair is the only
/// way two chunks touch one cell, and it is caught by counting (see [`assemble`]).
fn atomic(grid: &mut [i32]) -> &[AtomicI32] {
    // SAFETY: AtomicI32 has the size, alignment and bit validity of i32, and the exclusive
    // borrow of `grid` guarantees no other access while the atomic view lives.
    unsafe { &*(grid as *mut [i32] as *const [AtomicI32]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_split_as_the_line_path_does() {
        let parser = Parser::new(
            Columns {
                paper: 0,
                reviewer: 1,
                score: 2,
                count: 3,
            },
            false,
        );
        let plain: [(&[u8], usize); 4] = [
            (b"p1,r2,0.5\nnext", 10),
            (b"p1,r2,0.5\r\nnext", 11),
            (b"p1,r2,0.5", 9),
            (b"paper 1,r 2,1\n", 14),
        ];
        for (text, len) in plain {
            let (fields, n) = plain_line(text).expect("a plain line");
            assert_eq!(n, len);
            let line = &text[..memchr::memchr(b'\n', text).unwrap_or(text.len())];
            assert_eq!(Some(fields), parser.fields(line).ok().flatten());
        }
        for other in [
            &b" p1,r2,0.5\n"[..],
            b"p1,r2 ,0.5\n",
            b"p1,,0.5\n",
            b"p1,r2,\n",
            b"p1,r2,0.5,x\n",
            b"p1,\"r2\",0.5\n",
            b"p1,r2\r,0.5\n",
            b"p1,r2,0.5\r",
            b"p1,r2\n",
            b"\n",
        ] {
            assert!(
                plain_line(other).is_none(),
                "{:?}",
                String::from_utf8_lossy(other)
            );
        }
    }

    #[test]
    fn short_keys_tell_every_id_apart() {
        // Every id over a 3-letter alphabet up to length 7, and long runs of one letter up to
        // the 16-byte limit (where overlapping words could hide a length difference).
        let mut ids: Vec<Vec<u8>> = vec![Vec::new()];
        let mut last = vec![Vec::new()];
        for _ in 0..7 {
            last = last
                .iter()
                .flat_map(|id: &Vec<u8>| b"ab\0".iter().map(move |&c| [&id[..], &[c]].concat()))
                .collect();
            ids.extend(last.iter().cloned());
        }
        ids.extend(
            (8..=16).flat_map(|n| [vec![b'a'; n], [vec![b'a'; n - 1], vec![b'b']].concat()]),
        );
        let keys: std::collections::HashSet<(u64, u64, u8)> = ids
            .iter()
            .map(|id| {
                let k = short_key(id).expect("at most 16 bytes");
                (k.lo, k.hi, k.len)
            })
            .collect();
        assert_eq!(keys.len(), ids.len());
        assert!(short_key(&[b'a'; 17]).is_none());
    }

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

#[cfg(test)]
mod equivalence {
    //! The fast reader against the general one, on random files and random damage: the same
    //! matrix and ids, or the same positioned error.
    use proptest::prelude::*;

    use super::*;

    /// Reads `text` with the fast path (as `read_scores` does) or the general CSV reader.
    fn read(text: &[u8], fixed: bool, general: bool) -> std::result::Result<String, String> {
        let (mut p, mut r) = (Interner::default(), Interner::default());
        if fixed {
            for i in 0..5 {
                p.intern(&format!("p{i}"));
                r.intern(&format!("r{i}"));
            }
        }
        let src = Source::from_bytes("scores.csv", text.to_vec());
        let opts = ReadOptions::default();
        let m = if general {
            read_general(&src, &mut p, &mut r, fixed, &opts, false)
        } else {
            read_scores(&src, &mut p, &mut r, fixed, &opts, false)
        };
        m.map(|m| format!("{m:?} {:?} {:?}", p.ids, r.ids))
            .map_err(|e| e.to_string())
    }

    fn score() -> impl Strategy<Value = String> {
        prop_oneof![
            (0u32..=1_000_000).prop_map(|u| format!("{}.{:06}", u / 1_000_000, u % 1_000_000)),
            (0u32..=1000).prop_map(|u| format!("0.{u}")),
            (0u32..2).prop_map(|u| u.to_string()),
            "0\\.[0-9]{7,9}",
            Just("1.0000000".to_string()),
            Just(" 0.5 ".to_string()),
            Just(".25".to_string()),
            Just("5e-1".to_string()),
        ]
    }

    /// Rows of random pairs (repeats included), or every pair once, in file order, grouped by
    /// paper or grouped by reviewer.
    fn file() -> impl Strategy<Value = (Vec<u8>, bool)> {
        let rows = proptest::collection::vec((0u8..5, 0u8..5, score()), 0..40);
        let every = proptest::collection::vec(score(), 25).prop_map(|scores| {
            scores
                .into_iter()
                .enumerate()
                .map(|(k, s)| ((k / 5) as u8, (k % 5) as u8, s))
                .collect::<Vec<_>>()
        });
        let rows = prop_oneof![rows, every];
        (rows, any::<bool>(), 0u8..3).prop_map(|(rows, crlf, order)| {
            let mut rows = rows;
            match order {
                1 => rows.sort_by_key(|&(p, r, _)| (p, r)),
                2 => rows.sort_by_key(|&(p, r, _)| (r, p)),
                _ => {}
            }
            let grouped = order > 0;
            let end = if crlf { "\r\n" } else { "\n" };
            let mut text = format!("paper_id,reviewer_id,score{end}");
            for (p, r, s) in rows {
                text.push_str(&format!("p{p},r{r},{s}{end}"));
            }
            (text.into_bytes(), grouped)
        })
    }

    /// Damage of the kinds real files have.
    #[derive(Debug, Clone)]
    enum Damage {
        Truncate(usize),
        Byte(usize, u8),
        Insert(usize, &'static str),
        DuplicateLine(usize),
    }

    fn damage() -> impl Strategy<Value = Damage> {
        let bytes = prop::sample::select(vec![b',', b'\n', b'\r', b'"', b' ', b'x', b'-', 0xFF]);
        let texts = prop::sample::select(vec!["\n", ",", "\"", "p9,r9,0.5\n", "\n\n", "nan"]);
        prop_oneof![
            any::<usize>().prop_map(Damage::Truncate),
            (any::<usize>(), bytes).prop_map(|(i, b)| Damage::Byte(i, b)),
            (any::<usize>(), texts).prop_map(|(i, t)| Damage::Insert(i, t)),
            any::<usize>().prop_map(Damage::DuplicateLine),
        ]
    }

    fn apply(text: &mut Vec<u8>, d: &Damage) {
        let header = memchr::memchr(b'\n', text).map_or(text.len(), |i| i + 1);
        if text.len() <= header {
            return;
        }
        let at = |i: usize| header + i % (text.len() - header);
        match *d {
            Damage::Truncate(i) => text.truncate(at(i)),
            Damage::Byte(i, b) => {
                let i = at(i);
                text[i] = b;
            }
            Damage::Insert(i, t) => {
                let i = at(i);
                text.splice(i..i, t.bytes());
            }
            Damage::DuplicateLine(i) => {
                let start = text[..at(i)]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |k| k + 1)
                    .max(header);
                let end =
                    memchr::memchr(b'\n', &text[start..]).map_or(text.len(), |k| start + k + 1);
                let line = text[start..end].to_vec();
                text.splice(end..end, line);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn fast_reader_equals_general_reader(
            (text, _) in file(),
            damages in proptest::collection::vec(damage(), 0..3),
            fixed in any::<bool>(),
        ) {
            let mut text = text;
            for d in &damages {
                apply(&mut text, d);
            }
            prop_assert_eq!(read(&text, fixed, false), read(&text, fixed, true));
        }
    }

    #[test]
    fn plain_decimal_equals_parse_score() {
        let mut cases: Vec<String> = Vec::new();
        for int in ["0", "1", "12", "999999999", "0000000001"] {
            for frac in [
                "",
                ".",
                ".5",
                ".000001",
                ".0000005",
                ".0000004",
                ".1234565",
                ".99999999",
            ] {
                cases.push(format!("{int}{frac}"));
            }
        }
        for u in (0..=1_000_000u32).step_by(997) {
            cases.push(format!("{}.{:06}", u / 1_000_000, u % 1_000_000));
        }
        for case in cases {
            for end in ["\n", "\r\n", ""] {
                let text = format!("{case}{end}");
                if let Some((units, len)) = plain_decimal(text.as_bytes()) {
                    assert_eq!(Some(units), parse_score(&case), "{text:?}");
                    assert_eq!(len, text.len(), "{text:?}");
                }
            }
        }
        assert_eq!(plain_decimal(b"0.123456\n"), Some((123_456, 9)));
        assert_eq!(plain_decimal(b"1.000000\r\n"), Some((1_000_000, 10)));
        assert_eq!(plain_decimal(b"0.12345x\n"), None);
        assert_eq!(plain_decimal(b"0.5,\n"), None);
    }

    #[test]
    fn files_grouped_by_paper_or_by_reviewer_stay_on_the_fast_path() {
        let (np, nr) = (40, 30);
        let row = |p: usize, r: usize| format!("p{p},r{r},0.{:06}\n", (p * 31 + r * 7) % 999_999);
        let by_paper: String = (0..np)
            .flat_map(|p| (0..nr).map(move |r| row(p, r)))
            .collect();
        let by_reviewer: String = (0..nr)
            .flat_map(|r| (0..np).map(move |p| row(p, r)))
            .collect();
        for body in [by_paper, by_reviewer] {
            let text = format!("paper_id,reviewer_id,score\n{body}");
            let src = Source::from_bytes("scores.csv", text.clone().into_bytes());
            let header_end = text.find('\n').unwrap() + 1;
            let cols = Columns {
                paper: 0,
                reviewer: 1,
                score: 2,
                count: 3,
            };
            let reader = Reader {
                src: &src,
                header_end,
                parser: Parser::new(cols, false),
            };
            let (mut p, mut r) = (Interner::default(), Interner::default());
            let (_, rows) = reader
                .fill_unknown(&mut p, &mut r, false)
                .unwrap_or_else(|_| panic!("fell back to the general reader"));
            assert_eq!(rows, (np * nr) as u64);
            // Ids known up front, in another order than the file's.
            let (mut p, mut r) = (Interner::default(), Interner::default());
            (0..np).rev().for_each(|i| _ = p.intern(&format!("p{i}")));
            (0..nr).rev().for_each(|i| _ = r.intern(&format!("r{i}")));
            assert!(reader.fill_known(&p, &r, false).is_ok());
            assert_eq!(
                read(text.as_bytes(), false, false),
                read(text.as_bytes(), false, true)
            );
        }
    }

    #[test]
    fn random_order_reads_the_same() {
        // Rows in no order: every chunk's own table would be mostly empty, so its rows are kept
        // as records, or (beyond a few ids of its own, in tests) the file is read in two passes.
        let mut text = String::from("paper_id,reviewer_id,score\n");
        let mut k = 7u64;
        let mut pairs: Vec<(u64, u64)> =
            (0..60).flat_map(|p| (0..60).map(move |r| (p, r))).collect();
        for i in (1..pairs.len()).rev() {
            k = k
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            pairs.swap(i, (k >> 33) as usize % (i + 1));
        }
        for (p, r) in &pairs {
            text.push_str(&format!("p{p},r{r},0.{:06}\n", (p * 61 + r) % 1_000_000));
        }
        let fast = read(text.as_bytes(), false, false);
        assert!(fast.is_ok());
        assert_eq!(fast, read(text.as_bytes(), false, true));
    }
}
