//! Paper × reviewer affinity from keywords, and how keyword and external scores combine.
//!
//! | file | what | may use |
//! |---|---|---|
//! | `mod.rs` | keyword affinity (TF-IDF cosine, Jaccard) and blending with external scores | [`crate::model`] |
//! | [`text`] | lexical text affinity: titles and abstracts against reviewers' own papers | `mod.rs` |
//! | [`neural`] | expertise from a sentence-embedding model (full BERT or the static encoder) | `bert`, `kernels`, `cache`, `text` |
//! | `bert.rs` | the BERT encoder of a sentence-transformers folder | `kernels` |
//! | `kernels.rs` | the CPU kernels: packed matrix products, `exp`, GELU, layer norm | nothing |
//! | [`cache`] | the embedding cache, crash-safe and shared between runs | nothing |
//! | [`goldstandard`] | measuring text affinity against expert judgements | `text` |
//!
//! # Keywords
//!
//! A keyword list is `;`-separated. Each keyword is normalised: Unicode NFKC, lower case,
//! surrounding white space removed and inner runs of white space folded to one space
//! ([`normalize_keyword`]). A paper's or reviewer's keywords form a set.
//!
//! # TF-IDF cosine (the default)
//!
//! Every paper and every reviewer is a document; with `N` documents and `df(k)` of them holding
//! keyword `k`, the weight of `k` is the smoothed inverse document frequency
//!
//! ```text
//! idf(k) = ln((1 + N) / (1 + df(k))) + 1
//! ```
//!
//! and the affinity of paper `p` and reviewer `r` is the cosine of their weighted sets:
//!
//! ```text
//! affinity(p, r) = Σ_{k ∈ K(p) ∩ K(r)} idf(k)²  /  ( sqrt(Σ_{k ∈ K(p)} idf(k)²) · sqrt(Σ_{k ∈ K(r)} idf(k)²) )
//! ```
//!
//! so a shared rare topic counts more than a shared common one. It lies in [0, 1]: 1 for equal
//! sets, 0 when nothing is shared or either set is empty.
//!
//! # Jaccard
//!
//! `|K(p) ∩ K(r)| / |K(p) ∪ K(r)|`, also in [0, 1] (0 when both are empty).
//!
//! # Combining with `scores.csv`
//!
//! When a venue has both keywords and external scores, the affinity is the weighted mean
//! `(w_s · score + w_k · keyword) / (w_s + w_k)` with `w_s = --score-weight` and
//! `w_k = --keyword-weight` (both 1 by default); a pair missing from `scores.csv` has score 0.
//! A venue with only one of the two uses it alone.
//!
//! Every affinity is rounded to fixed point (10⁻⁶, [`crate::model::SCORE_SCALE`]), and that
//! rounded value is what the solvers optimise exactly.
//!
//! # Cost
//!
//! The matrix is built sparse, from an inverted index keyword → reviewers: each paper only
//! touches the reviewers that share a keyword with it, in parallel over papers with rayon. Work is
//! `O(Σ_p Σ_{k∈K(p)} df_R(k))`, and memory is the number of non-zero pairs.

use ndarray::{Array2, Axis};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use unicode_normalization::UnicodeNormalization;

pub mod bert;
pub mod cache;
pub mod goldstandard;
pub mod kernels;
pub mod neural;
pub mod text;

use crate::error::{Error, Result};
use crate::model::{
    AffinityMatrix, BidLevel, MAX_ABS_SCORE, SCORE_SCALE, SparseRows, Venue, score_to_units,
};
pub use text::TextOptions;

/// How keyword affinity is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeywordMeasure {
    /// TF-IDF-weighted cosine similarity (the default).
    #[default]
    TfIdf,
    /// Jaccard similarity of the keyword sets.
    Jaccard,
}

/// What each bid level adds to a pair's affinity (a pair without a bid counts as neutral).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BidWeights {
    /// Added for "very high", "high", "neutral", "low", "very low", in that order.
    pub by_level: [f64; 5],
}

impl Default for BidWeights {
    /// `very high = 0.3, high = 0.15, neutral = 0, low = -0.15, very low = -0.3`: a clear bid
    /// moves a pair by about a third of the affinity range, so expertise still leads.
    fn default() -> BidWeights {
        BidWeights {
            by_level: [0.3, 0.15, 0.0, -0.15, -0.3],
        }
    }
}

impl BidWeights {
    /// The weight of one level.
    pub fn of(&self, level: BidLevel) -> f64 {
        let i = BidLevel::ALL.iter().position(|&l| l == level).unwrap_or(2);
        self.by_level[i]
    }

    /// Parses overrides such as `very high=0.5,low=-0.2` on top of the defaults.
    ///
    /// ```
    /// use papermatch::affinity::BidWeights;
    /// use papermatch::model::BidLevel;
    /// let w = BidWeights::parse("very high=0.5, Low=-0.2").unwrap();
    /// assert_eq!(w.of(BidLevel::VeryHigh), 0.5);
    /// assert_eq!(w.of(BidLevel::High), 0.15);
    /// assert_eq!(w.of(BidLevel::Low), -0.2);
    /// ```
    pub fn parse(text: &str) -> Result<BidWeights> {
        let mut w = BidWeights::default();
        for item in text.split(',').map(str::trim).filter(|x| !x.is_empty()) {
            let (name, value) = item.split_once('=').ok_or_else(|| {
                Error::Options(format!("bid weight `{item}` is not LEVEL=NUMBER"))
            })?;
            let level = BidLevel::parse(name)
                .filter(|_| !name.trim().chars().any(|c| c.is_ascii_digit()))
                .ok_or_else(|| Error::Options(format!("`{}` is not a bid level", name.trim())))?;
            let x: f64 = value
                .trim()
                .parse()
                .ok()
                .filter(|x: &f64| x.is_finite())
                .ok_or_else(|| {
                    Error::Options(format!("bid weight `{}` is not a number", value.trim()))
                })?;
            let i = BidLevel::ALL.iter().position(|&l| l == level).unwrap_or(2);
            w.by_level[i] = x;
        }
        Ok(w)
    }
}

/// Sorts `(index, value)` pairs by index and adds up the values of repeated indices.
pub(crate) fn merge_sorted<T: Copy + std::ops::AddAssign>(mut v: Vec<(u32, T)>) -> Vec<(u32, T)> {
    v.sort_unstable_by_key(|&(i, _)| i);
    let mut out: Vec<(u32, T)> = Vec::with_capacity(v.len());
    for (i, x) in v {
        match out.last_mut() {
            Some(last) if last.0 == i => last.1 += x,
            _ => out.push((i, x)),
        }
    }
    // Merging often halves the list: the room for the rest would stay with it (1.3 GB of
    // 416,000 documents' term vectors at 16,000 × 20,000).
    out.shrink_to_fit();
    out
}

/// Adds each bid's weight to its pair's affinity.
fn add_bids(m: AffinityMatrix, venue: &Venue, weights: &BidWeights) -> AffinityMatrix {
    if venue.bids.is_empty() || weights.by_level.iter().all(|&w| w == 0.0) {
        return m;
    }
    let units = |l: BidLevel| score_to_units(weights.of(l)) as i32;
    match m {
        AffinityMatrix::Dense(mut a) => {
            for b in &venue.bids {
                a[[b.paper.ix(), b.reviewer.ix()]] += units(b.level);
            }
            AffinityMatrix::Dense(a)
        }
        AffinityMatrix::Sparse(s) => {
            let mut extra: Vec<Vec<(u32, i32)>> = vec![Vec::new(); s.n_rows()];
            for b in &venue.bids {
                extra[b.paper.ix()].push((b.reviewer.0, units(b.level)));
            }
            let rows = (0..s.n_rows())
                .map(|p| {
                    let (cols, vals) = s.row(p);
                    let mut row: Vec<(u32, i32)> =
                        cols.iter().copied().zip(vals.iter().copied()).collect();
                    row.append(&mut extra[p]);
                    let mut merged = merge_sorted(row);
                    merged.retain(|&(_, v)| v != 0);
                    merged
                })
                .collect();
            AffinityMatrix::Sparse(SparseRows::from_rows(s.n_cols, rows))
        }
    }
}

/// Which profile affinity a venue gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProfileAffinity {
    /// Keywords and/or text, whichever the venue has (both: blended).
    #[default]
    Auto,
    /// Keywords only.
    Keywords,
    /// Text only (titles and abstracts against reviewers' papers).
    Text,
    /// Both, blended with `text_weight`.
    KeywordsText,
    /// The neural text model alone ([`AffinityOptions::neural`]), without keywords or the
    /// lexical text model.
    Neural,
}

/// How the affinity matrix is built.
#[derive(Debug, Clone, PartialEq)]
pub struct AffinityOptions {
    /// Which profile affinity: keywords, text, or both.
    pub profile: ProfileAffinity,
    /// The keyword measure.
    pub measure: KeywordMeasure,
    /// The text model.
    pub text: TextOptions,
    /// Share of text in `keywords+text`: `(1 − w) · keywords + w · text`.
    pub text_weight: f64,
    /// What each bid level adds to a pair's affinity.
    pub bid_weights: BidWeights,
    /// Weight of `scores.csv` when a venue has both scores and keywords.
    pub score_weight: f64,
    /// Weight of keyword affinity when a venue has both scores and keywords.
    pub keyword_weight: f64,
    /// A neural text model ([`neural`]): with it, the text affinity is the blend
    /// `w · neural + (1 − w) · lexical`.
    pub neural: Option<neural::NeuralOptions>,
    /// Share `w` of the neural model in the text affinity; `None`: the encoder's
    /// [`neural::Encoder::default_weight`].
    pub neural_weight: Option<f64>,
}

impl Default for AffinityOptions {
    fn default() -> AffinityOptions {
        AffinityOptions {
            profile: ProfileAffinity::Auto,
            measure: KeywordMeasure::TfIdf,
            text: TextOptions::default(),
            text_weight: 0.5,
            bid_weights: BidWeights::default(),
            score_weight: 1.0,
            keyword_weight: 1.0,
            neural: None,
            neural_weight: None,
        }
    }
}

impl AffinityMatrix {
    /// A dense matrix from floating-point scores, papers × reviewers (an `ndarray` array or view).
    ///
    /// Scores are converted to fixed point by [`score_to_units`]: six decimals are kept
    /// exactly, the seventh rounds half away from zero, so every objective is an exact integer
    /// sum (in units of 10⁻⁶). Every score must be finite and within ±[`MAX_ABS_SCORE`]; a
    /// score outside is an error naming its row and column.
    ///
    /// ```
    /// use papermatch::model::AffinityMatrix;
    /// let m = AffinityMatrix::from_scores(&ndarray::array![[0.25, 1.0], [0.1234567, 0.0]])?;
    /// assert_eq!(m.get(0, 0), 250_000);
    /// assert_eq!(m.get(1, 0), 123_457);
    /// # Ok::<(), papermatch::Error>(())
    /// ```
    pub fn from_scores<S: ndarray::Data<Elem = f64>>(
        scores: &ndarray::ArrayBase<S, ndarray::Ix2>,
    ) -> Result<AffinityMatrix> {
        let mut units = ndarray::Array2::zeros(scores.raw_dim());
        for ((p, r), &x) in scores.indexed_iter() {
            units[[p, r]] = checked_units(x, p, r)?;
        }
        Ok(AffinityMatrix::Dense(units))
    }

    /// A dense matrix from floating-point scores laid out row by row (paper after paper, each
    /// with its `n_reviewers` scores), as a C-contiguous `numpy` array is: converted in parallel
    /// by the rule of [`AffinityMatrix::from_scores`], without an intermediate copy.
    ///
    /// ```
    /// use papermatch::model::AffinityMatrix;
    /// let m = AffinityMatrix::from_row_major(2, 2, &[0.5f32, 0.25, 1.0, 0.0])?;
    /// assert_eq!((m.get(0, 1), m.get(1, 0)), (250_000, 1_000_000));
    /// # Ok::<(), papermatch::Error>(())
    /// ```
    pub fn from_row_major<T: Copy + Into<f64> + Sync>(
        n_papers: usize,
        n_reviewers: usize,
        data: &[T],
    ) -> Result<AffinityMatrix> {
        if data.len() != n_papers * n_reviewers {
            return Err(Error::Options(format!(
                "{} scores for a {n_papers} × {n_reviewers} matrix",
                data.len()
            )));
        }
        let mut units = ndarray::Array2::<i32>::zeros((n_papers, n_reviewers));
        if n_reviewers > 0 {
            units
                .as_slice_mut()
                .expect("a new array is contiguous")
                .par_chunks_mut(n_reviewers)
                .zip(data.par_chunks(n_reviewers))
                .enumerate()
                .try_for_each(|(p, (out, row))| {
                    for (r, (u, &x)) in out.iter_mut().zip(row).enumerate() {
                        *u = checked_units(x.into(), p, r)?;
                    }
                    Ok::<(), Error>(())
                })?;
        }
        Ok(AffinityMatrix::Dense(units))
    }

    /// A sparse matrix from `(paper, reviewer, score)` triples (indices from 0); a pair not
    /// given scores 0. Scores are converted as by [`AffinityMatrix::from_scores`]; an index out
    /// of range or a pair given twice is an error.
    ///
    /// ```
    /// use papermatch::model::AffinityMatrix;
    /// let m = AffinityMatrix::from_triples(2, 3, &[(0, 2, 0.5), (1, 0, 0.75)])?;
    /// assert_eq!((m.get(0, 2), m.get(1, 0), m.get(1, 1)), (500_000, 750_000, 0));
    /// # Ok::<(), papermatch::Error>(())
    /// ```
    pub fn from_triples(
        n_papers: usize,
        n_reviewers: usize,
        triples: &[(usize, usize, f64)],
    ) -> Result<AffinityMatrix> {
        let mut rows: Vec<Vec<(u32, i32)>> = vec![Vec::new(); n_papers];
        for &(p, r, x) in triples {
            if p >= n_papers || r >= n_reviewers {
                return Err(Error::Options(format!(
                    "score of paper {p} and reviewer {r}: the matrix is {n_papers} × {n_reviewers}"
                )));
            }
            rows[p].push((r as u32, checked_units(x, p, r)?));
        }
        for (p, row) in rows.iter_mut().enumerate() {
            row.sort_unstable_by_key(|&(r, _)| r);
            if let Some(w) = row.windows(2).find(|w| w[0].0 == w[1].0) {
                return Err(Error::Options(format!(
                    "paper {p} and reviewer {} are scored twice",
                    w[0].0
                )));
            }
            row.retain(|&(_, w)| w != 0);
        }
        Ok(AffinityMatrix::Sparse(SparseRows::from_rows(
            n_reviewers,
            rows,
        )))
    }
}

/// A score in fixed-point units, or an error naming the pair when it is not finite or too large.
fn checked_units(x: f64, p: usize, r: usize) -> Result<i32> {
    if !x.is_finite() || x.abs() > MAX_ABS_SCORE as f64 {
        return Err(Error::Options(format!(
            "score {x} of paper {p} and reviewer {r} is not a finite number within \
             ±{MAX_ABS_SCORE}; rescale the scores"
        )));
    }
    Ok(score_to_units(x) as i32)
}

/// Normalises one keyword: NFKC, lower case, white space trimmed and folded.
///
/// ```
/// assert_eq!(papermatch::affinity::normalize_keyword("  Pipeline\tParallelism "), "pipeline parallelism");
/// assert_eq!(papermatch::affinity::normalize_keyword("ＦＰ８"), "fp8");
/// ```
pub fn normalize_keyword(k: &str) -> String {
    let nfkc: String = k.nfkc().collect::<String>().to_lowercase();
    nfkc.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Splits a `;`-separated list into trimmed, non-empty items.
pub fn split_list(s: &str) -> impl Iterator<Item = &str> {
    s.split(';').map(str::trim).filter(|x| !x.is_empty())
}

/// Builds the affinity matrix of a venue: keywords, external scores, or their weighted mean.
pub fn build(venue: &Venue, opts: &AffinityOptions) -> Result<AffinityMatrix> {
    combine(venue, venue.scores.clone(), opts)
}

/// Like [`build`], with the external scores passed by value (and not copied when they are the
/// whole answer); `venue.scores` is ignored.
pub fn combine(
    venue: &Venue,
    scores: Option<AffinityMatrix>,
    opts: &AffinityOptions,
) -> Result<AffinityMatrix> {
    let profile = profile_affinity(venue, opts)?;
    let m = blend_sources(venue, scores, profile, opts)?;
    Ok(add_bids(m, venue, &opts.bid_weights))
}

/// External scores and profile affinity, blended with the score and keyword weights.
fn blend_sources(
    venue: &Venue,
    scores: Option<AffinityMatrix>,
    profile: Option<AffinityMatrix>,
    opts: &AffinityOptions,
) -> Result<AffinityMatrix> {
    match (scores, profile) {
        (Some(s), None) => Ok(s),
        (None, p) => Ok(p.unwrap_or_else(|| {
            AffinityMatrix::Sparse(SparseRows::zeros(venue.papers.len(), venue.reviewers.len()))
        })),
        (Some(s), Some(k)) => {
            let (ws, wk) = (opts.score_weight, opts.keyword_weight);
            if !(ws.is_finite() && wk.is_finite() && ws >= 0.0 && wk >= 0.0 && ws + wk > 0.0) {
                return Err(Error::Options(format!(
                    "--score-weight {ws} and --keyword-weight {wk} must be non-negative and not both 0"
                )));
            }
            if wk == 0.0 {
                return Ok(s);
            }
            if ws == 0.0 {
                return Ok(k);
            }
            Ok(blend_matrices(s, k, ws / (ws + wk)))
        }
    }
}

/// The affinity from the venue's profiles (keywords, reviewers' papers), `None` when the venue
/// has neither.
fn profile_affinity(venue: &Venue, opts: &AffinityOptions) -> Result<Option<AffinityMatrix>> {
    let has_keywords = venue.has_profiles
        && (venue.papers.iter().any(|p| !p.keywords.is_empty())
            || venue.reviewers.iter().any(|r| !r.keywords.is_empty()));
    let has_text = venue.reviewer_papers.iter().any(|v| !v.is_empty());
    let which = match opts.profile {
        ProfileAffinity::Auto => match (has_keywords, has_text) {
            (true, true) => ProfileAffinity::KeywordsText,
            (false, true) => ProfileAffinity::Text,
            (true, false) => ProfileAffinity::Keywords,
            (false, false) => return Ok(None),
        },
        other => other,
    };
    if matches!(
        which,
        ProfileAffinity::Text | ProfileAffinity::KeywordsText | ProfileAffinity::Neural
    ) && !has_text
    {
        return Err(Error::Options(
            "text affinity needs reviewers' own papers (reviewer_papers.csv or an OpenReview \
             archives/ folder)"
                .into(),
        ));
    }
    let text_part = || -> Result<AffinityMatrix> {
        match &opts.neural {
            None => Ok(AffinityMatrix::Sparse(text::text_affinity(
                venue, &opts.text,
            ))),
            Some(n) => {
                let w = opts
                    .neural_weight
                    .unwrap_or_else(|| n.encoder.default_weight());
                if !(0.0..=1.0).contains(&w) {
                    return Err(Error::Options(format!(
                        "--neural-weight {w} must lie in [0, 1]"
                    )));
                }
                if w >= 1.0 {
                    return neural::neural_affinity(venue, n);
                }
                // The lexical rows first, straight into the grid, whose pages are only touched
                // once the lexical index is built and its papers' vectors freed; then each
                // neural score blended into its cell as it is computed. Neither model's matrix
                // is held on its own.
                let mut grid = Array2::<i32>::zeros((venue.papers.len(), venue.reviewers.len()));
                text::text_rows(
                    venue,
                    &opts.text,
                    grid.axis_iter_mut(Axis(0)).into_par_iter(),
                    |mut row, pairs| pairs.into_iter().for_each(|(r, v)| row[r as usize] = v),
                );
                let blend = |lexical: i32, neural: i32| mix(w, neural, 1.0 - w, lexical);
                let set = neural::neural_into(venue, n, &mut grid, blend)?;
                Ok(AffinityMatrix::from_grid(grid, set))
            }
        }
    };
    Ok(Some(match which {
        ProfileAffinity::Keywords | ProfileAffinity::Auto => {
            AffinityMatrix::Sparse(keyword_affinity(venue, opts.measure))
        }
        ProfileAffinity::Neural => match &opts.neural {
            Some(n) => neural::neural_affinity(venue, n)?,
            None => {
                return Err(Error::Options(
                    "--affinity neural needs --text-model DIR (a sentence-transformers folder)"
                        .into(),
                ));
            }
        },
        ProfileAffinity::Text => text_part()?,
        ProfileAffinity::KeywordsText => {
            let w = opts.text_weight;
            if !(0.0..=1.0).contains(&w) {
                return Err(Error::Options(format!(
                    "--text-weight {w} must lie in [0, 1]"
                )));
            }
            let k = AffinityMatrix::Sparse(keyword_affinity(venue, opts.measure));
            blend_matrices(k, text_part()?, 1.0 - w)
        }
    }))
}

/// Hands memory freed by a stage's many small allocations (token lists, term vectors) back to
/// the system: glibc keeps it in its heaps otherwise, and the next stage's peak would count it.
/// Elsewhere it does nothing.
pub(crate) fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap memory to the system; it is safe at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// `round(w_a · a + w_b · b)`: the rounding of every blend of two matrices.
fn mix(w_a: f64, a: i32, w_b: f64, b: i32) -> i32 {
    (w_a * a as f64 + w_b * b as f64).round() as i32
}

/// `share · scores + (1 − share) · keywords`, rounded to fixed point.
pub fn blend(scores: &AffinityMatrix, keywords: &SparseRows, share: f64) -> AffinityMatrix {
    match scores {
        AffinityMatrix::Dense(a) => {
            let mut out = a.clone();
            blend_into(&mut out, keywords, share, 1.0 - share);
            AffinityMatrix::Dense(out)
        }
        AffinityMatrix::Sparse(s) => {
            let rows = (0..s.n_rows())
                .into_par_iter()
                .map(|p| {
                    let (sc, sv) = s.row(p);
                    let (kc, kv) = keywords.row(p);
                    let mut out = Vec::with_capacity(sc.len() + kc.len());
                    let (mut i, mut j) = (0, 0);
                    while i < sc.len() || j < kc.len() {
                        let (c, a, b) = match (sc.get(i), kc.get(j)) {
                            (Some(&x), Some(&y)) if x == y => {
                                i += 1;
                                j += 1;
                                (x, sv[i - 1], kv[j - 1])
                            }
                            (Some(&x), Some(&y)) if x < y => {
                                i += 1;
                                (x, sv[i - 1], 0)
                            }
                            (Some(&x), None) => {
                                i += 1;
                                (x, sv[i - 1], 0)
                            }
                            (_, Some(&y)) => {
                                j += 1;
                                (y, 0, kv[j - 1])
                            }
                            (None, None) => unreachable!(),
                        };
                        let v = mix(share, a, 1.0 - share, b);
                        if v != 0 {
                            out.push((c, v));
                        }
                    }
                    out
                })
                .collect();
            AffinityMatrix::Sparse(SparseRows::from_rows(s.n_cols, rows))
        }
    }
}

/// `grid ← round(w_grid · grid + w_rows · rows)` in place, `rows` sparse (absent pairs 0).
fn blend_into(grid: &mut Array2<i32>, rows: &SparseRows, w_grid: f64, w_rows: f64) {
    grid.axis_iter_mut(Axis(0))
        .into_par_iter()
        .enumerate()
        .for_each(|(p, mut row)| {
            let (cols, vals) = rows.row(p);
            let mut next = cols.iter().zip(vals).peekable();
            for (r, x) in row.iter_mut().enumerate() {
                let k = match next.peek() {
                    Some(&(&c, &v)) if c as usize == r => {
                        next.next();
                        v
                    }
                    _ => 0,
                };
                *x = mix(w_grid, *x, w_rows, k);
            }
        });
}

/// `share · a + (1 − share) · b`, in place in whichever of the two is dense (both sparse: a new
/// sparse matrix), with the same rounding as [`blend`].
fn blend_matrices(a: AffinityMatrix, b: AffinityMatrix, share: f64) -> AffinityMatrix {
    match (a, b) {
        (a, AffinityMatrix::Sparse(b)) => match a {
            AffinityMatrix::Dense(mut g) => {
                blend_into(&mut g, &b, share, 1.0 - share);
                AffinityMatrix::Dense(g)
            }
            a => blend(&a, &b, share),
        },
        (AffinityMatrix::Sparse(a), AffinityMatrix::Dense(mut g)) => {
            blend_into(&mut g, &a, 1.0 - share, share);
            AffinityMatrix::Dense(g)
        }
        (AffinityMatrix::Dense(a), AffinityMatrix::Dense(mut g)) => {
            ndarray::Zip::from(&mut g).and(&a).par_for_each(|k, &s| {
                *k = mix(share, s, 1.0 - share, *k);
            });
            AffinityMatrix::Dense(g)
        }
    }
}

/// Keyword affinity of every paper with every reviewer, as a sparse matrix of non-zero pairs.
///
/// ```
/// use papermatch::model::{Paper, Reviewer, Venue};
/// use papermatch::affinity::{keyword_affinity, KeywordMeasure};
/// let kw = |s: &[&str]| s.iter().map(|k| k.to_string()).collect::<Vec<_>>();
/// let venue = Venue {
///     papers: vec![Paper { id: "p".into(), keywords: kw(&["offloading", "pipelining"]), ..Default::default() }],
///     reviewers: vec![
///         Reviewer { id: "a".into(), keywords: kw(&["offloading", "pipelining"]), ..Default::default() },
///         Reviewer { id: "b".into(), keywords: kw(&["energy"]), ..Default::default() },
///     ],
///     has_profiles: true,
///     ..Default::default()
/// };
/// let m = keyword_affinity(&venue, KeywordMeasure::TfIdf);
/// assert_eq!(m.get(0, 0), 1_000_000); // identical sets
/// assert_eq!(m.get(0, 1), 0);         // nothing shared
/// ```
pub fn keyword_affinity(venue: &Venue, measure: KeywordMeasure) -> SparseRows {
    let n_rev = venue.reviewers.len();
    // Term ids in sorted keyword order, so every run numbers them alike.
    let mut vocab: Vec<&str> = venue
        .papers
        .iter()
        .flat_map(|p| &p.keywords)
        .chain(venue.reviewers.iter().flat_map(|r| &r.keywords))
        .map(String::as_str)
        .collect();
    vocab.sort_unstable();
    vocab.dedup();
    let term: FxHashMap<&str, u32> = vocab
        .iter()
        .enumerate()
        .map(|(i, &k)| (k, i as u32))
        .collect();
    let terms_of = |kws: &[String]| -> Vec<u32> {
        let mut t: Vec<u32> = kws.iter().map(|k| term[k.as_str()]).collect();
        t.sort_unstable();
        t.dedup();
        t
    };
    let paper_terms: Vec<Vec<u32>> = venue.papers.iter().map(|p| terms_of(&p.keywords)).collect();
    let reviewer_terms: Vec<Vec<u32>> = venue
        .reviewers
        .iter()
        .map(|r| terms_of(&r.keywords))
        .collect();
    let mut df = vec![0u32; vocab.len()];
    for t in paper_terms.iter().chain(&reviewer_terms).flatten() {
        df[*t as usize] += 1;
    }
    let n_docs = (venue.papers.len() + n_rev) as f64;
    let w2: Vec<f64> = df
        .iter()
        .map(|&d| {
            let idf = ((1.0 + n_docs) / (1.0 + d as f64)).ln() + 1.0;
            idf * idf
        })
        .collect();
    let mut postings: Vec<Vec<u32>> = vec![Vec::new(); vocab.len()];
    for (r, ts) in reviewer_terms.iter().enumerate() {
        for &t in ts {
            postings[t as usize].push(r as u32);
        }
    }
    let norm = |ts: &[u32]| ts.iter().map(|&t| w2[t as usize]).sum::<f64>().sqrt();
    let reviewer_norm: Vec<f64> = reviewer_terms.iter().map(|t| norm(t)).collect();
    let rows: Vec<Vec<(u32, i32)>> = paper_terms
        .par_iter()
        .map_init(
            || (vec![0f64; n_rev], Vec::<u32>::new()),
            |(acc, touched), pts| {
                for &t in pts {
                    let add = match measure {
                        KeywordMeasure::TfIdf => w2[t as usize],
                        KeywordMeasure::Jaccard => 1.0,
                    };
                    for &r in &postings[t as usize] {
                        if acc[r as usize] == 0.0 {
                            touched.push(r);
                        }
                        acc[r as usize] += add;
                    }
                }
                touched.sort_unstable();
                let pn = norm(pts);
                let row = touched
                    .iter()
                    .map(|&r| {
                        let shared = acc[r as usize];
                        acc[r as usize] = 0.0;
                        let x = match measure {
                            KeywordMeasure::TfIdf => shared / (pn * reviewer_norm[r as usize]),
                            KeywordMeasure::Jaccard => {
                                let union = pts.len() + reviewer_terms[r as usize].len();
                                shared / (union as f64 - shared)
                            }
                        };
                        (r, score_to_units(x).clamp(0, SCORE_SCALE) as i32)
                    })
                    .filter(|&(_, v)| v > 0)
                    .collect();
                touched.clear();
                row
            },
        )
        .collect();
    SparseRows::from_rows(n_rev, rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Paper, Reviewer};

    fn kw(s: &[&str]) -> Vec<String> {
        s.iter().map(|k| k.to_string()).collect()
    }

    fn venue() -> Venue {
        Venue {
            papers: vec![
                Paper {
                    id: "p1".into(),
                    keywords: kw(&["a", "rare"]),
                    ..Default::default()
                },
                Paper {
                    id: "p2".into(),
                    keywords: kw(&["a"]),
                    ..Default::default()
                },
            ],
            reviewers: vec![
                Reviewer {
                    id: "r1".into(),
                    keywords: kw(&["a"]),
                    ..Default::default()
                },
                Reviewer {
                    id: "r2".into(),
                    keywords: kw(&["rare"]),
                    ..Default::default()
                },
                Reviewer {
                    id: "r3".into(),
                    keywords: kw(&["a", "b"]),
                    ..Default::default()
                },
            ],
            has_profiles: true,
            ..Default::default()
        }
    }

    #[test]
    fn tfidf_matches_hand_computation() {
        let m = keyword_affinity(&venue(), KeywordMeasure::TfIdf);
        // N = 5 documents; df(a) = 4, df(rare) = 2, df(b) = 1.
        let idf = |df: f64| (6.0 / (1.0 + df)).ln() + 1.0;
        let (a, rare, b) = (idf(4.0), idf(2.0), idf(1.0));
        let p1 = (a * a + rare * rare).sqrt();
        let expect_r1 = a * a / (p1 * a);
        let expect_r2 = rare * rare / (p1 * rare);
        let expect_p2_r3 = a * a / (a * (a * a + b * b).sqrt());
        assert_eq!(m.get(0, 0), score_to_units(expect_r1) as i32);
        assert_eq!(m.get(0, 1), score_to_units(expect_r2) as i32);
        assert!(
            m.get(0, 1) > m.get(0, 0),
            "the rare shared topic counts more"
        );
        assert_eq!(m.get(1, 2), score_to_units(expect_p2_r3) as i32);
        assert_eq!(m.get(1, 1), 0);
        assert_eq!(m.get(1, 0), SCORE_SCALE as i32);
    }

    #[test]
    fn jaccard_matches_hand_computation() {
        let m = keyword_affinity(&venue(), KeywordMeasure::Jaccard);
        assert_eq!(m.get(0, 0), 500_000);
        assert_eq!(m.get(0, 2), 333_333);
        assert_eq!(m.get(1, 2), 500_000);
        assert_eq!(m.get(1, 0), 1_000_000);
    }

    #[test]
    fn blend_is_weighted_mean() {
        let mut v = venue();
        v.scores = Some(AffinityMatrix::Dense(ndarray::Array2::from_elem(
            (2, 3),
            200_000,
        )));
        let opts = AffinityOptions {
            measure: KeywordMeasure::Jaccard,
            score_weight: 3.0,
            keyword_weight: 1.0,
            ..AffinityOptions::default()
        };
        let m = build(&v, &opts).unwrap();
        assert_eq!(m.get(1, 0), 400_000); // (3·0.2 + 1·1.0) / 4
        assert_eq!(m.get(1, 1), 150_000); // (3·0.2 + 0) / 4
    }

    #[test]
    fn normalises_keywords() {
        assert_eq!(normalize_keyword(" Low   Precision "), "low precision");
        assert_eq!(split_list("a; ;b ;").collect::<Vec<_>>(), vec!["a", "b"]);
    }
}
