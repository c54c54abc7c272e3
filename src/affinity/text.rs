//! Affinity from text: a submission's title and abstract against each reviewer's own papers.
//!
//! A lexical model, built in the crate, with no model download:
//!
//! 1. **Tokens**: lower case, split on anything not a letter or digit, tokens of one character
//!    and pure numbers dropped, English stop words dropped ([`STOP_WORDS`]), Snowball (Porter 2)
//!    English stemming (`rust-stemmers`). Optional bigrams of consecutive kept tokens add phrase
//!    features ("pipelin parallel").
//! 2. **Fields**: a title token counts [`TextOptions::title_weight`] times, an abstract token once.
//! 3. **Weights**: every submission and every reviewer paper is a document; with `N` documents and
//!    `df(t)` of them holding term `t`, `idf(t) = ln((1 + N) / (1 + df(t))) + 1`. Term weights are
//!    `(1 + ln tf) · idf` (TF-IDF) or the BM25 saturation `tf (k1 + 1) / (tf + k1 (1 − b + b ·
//!    len / avglen)) · idf`; terms in more than [`TextOptions::max_df`] of the documents are
//!    dropped. Each document vector is normalised to length 1.
//! 4. **Similarity and aggregation**: the cosine of the submission with each of the reviewer's
//!    papers, aggregated per reviewer ([`Aggregation`]): the best paper, the mean of the best `k`,
//!    the mean of all, or one averaged profile. Affinities below [`TextOptions::min_score`] are
//!    dropped to 0.
//!
//! The chosen defaults come from measurements on a published gold-standard dataset of reviewer
//! expertise (see docs/affinity.md's table and `examples/goldstandard.rs`). Affinities are in [0, 1].
//!
//! # Cost
//!
//! Tokenising is parallel over documents (each thread keeps its own vocabulary; the vocabularies
//! are merged and numbered in sorted order, so the result does not depend on the threads).
//! Similarities go through an inverted index over the reviewers' papers, in parallel over
//! submissions: each submission touches only the papers that share a term with it.

use rayon::prelude::*;
use rust_stemmers::{Algorithm, Stemmer};
use rustc_hash::{FxHashMap, FxHashSet};

use crate::model::{SCORE_SCALE, SparseRows, Venue, score_to_units};

/// English stop words dropped before stemming.
pub const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "however",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "may",
    "me",
    "might",
    "more",
    "most",
    "must",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "same",
    "she",
    "should",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "thus",
    "to",
    "too",
    "under",
    "until",
    "up",
    "upon",
    "us",
    "very",
    "via",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "whether",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "within",
    "without",
    "would",
    "yet",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

/// How a term's weight grows with its count in a document.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Weighting {
    /// `(1 + ln tf) · idf`.
    TfIdf,
    /// BM25 saturation with parameters `k1` and `b`, times idf.
    Bm25 {
        /// Saturation.
        k1: f64,
        /// Length normalisation.
        b: f64,
    },
}

/// How a reviewer's papers make one score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregation {
    /// The most similar paper.
    Max,
    /// The mean of the `k` most similar papers (fewer if the reviewer has fewer).
    TopMean(usize),
    /// The mean over all the reviewer's papers.
    Mean,
    /// One profile: the normalised sum of the reviewer's paper vectors.
    Profile,
}

/// The text model's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct TextOptions {
    /// Term weighting.
    pub weighting: Weighting,
    /// Aggregation over a reviewer's papers.
    pub aggregation: Aggregation,
    /// How many times a title token counts.
    pub title_weight: f64,
    /// Weight of bigram features relative to single terms (0 turns them off).
    pub bigram_weight: f64,
    /// Terms in more than this share of all documents are dropped.
    pub max_df: f64,
    /// Whether to stem.
    pub stem: bool,
    /// Affinities below this are 0 (keeps the matrix sparse; they carry no expertise signal).
    pub min_score: f64,
}

impl Default for TextOptions {
    fn default() -> TextOptions {
        TextOptions {
            weighting: Weighting::TfIdf,
            aggregation: Aggregation::TopMean(5),
            title_weight: 2.0,
            bigram_weight: 0.5,
            max_df: 0.5,
            stem: true,
            min_score: 0.01,
        }
    }
}

/// Splits `text` into kept, stemmed tokens (stop words and numbers removed).
///
/// ```
/// let t = papermatch::affinity::text::tokens("Pipelining the training of large models", true);
/// assert_eq!(t, ["pipelin", "train", "larg", "model"]);
/// ```
pub fn tokens(text: &str, stem: bool) -> Vec<String> {
    let stemmer = Stemmer::create(Algorithm::English);
    let stop = stop_set();
    let mut vocab = LocalVocab::new(stem.then_some(&stemmer), &stop);
    let ids = vocab.field(text, &mut String::new());
    ids.into_iter()
        .map(|t| vocab.names[t as usize].clone())
        .collect()
}

fn stop_set() -> FxHashSet<&'static str> {
    STOP_WORDS.iter().copied().collect()
}

/// A document's fields.
struct Doc<'a> {
    title: &'a str,
    body: &'a str,
}

/// Sparse term counts of one document, with local or global term ids.
type Counts = Vec<(u32, f32)>;

/// One thread's vocabulary of stemmed terms, with a cache from raw lower-cased words to their
/// term (so each distinct word is stemmed once).
struct LocalVocab<'s> {
    stemmer: Option<&'s Stemmer>,
    stop: &'s FxHashSet<&'static str>,
    words: FxHashMap<String, u32>,
    terms: FxHashMap<String, u32>,
    names: Vec<String>,
}

/// Marks a word the cache knows to be dropped (stop word or number).
const DROPPED: u32 = u32::MAX;

/// Bigram features are hashed into this many buckets (the hashing trick): no strings, no
/// vocabulary of the millions of bigrams a big venue has, and rare collisions.
const BIGRAM_BUCKETS: u64 = 1 << 24;

impl<'s> LocalVocab<'s> {
    fn new(stemmer: Option<&'s Stemmer>, stop: &'s FxHashSet<&'static str>) -> LocalVocab<'s> {
        LocalVocab {
            stemmer,
            stop,
            words: FxHashMap::default(),
            terms: FxHashMap::default(),
            names: Vec::new(),
        }
    }

    /// The kept terms of one field, in order.
    fn field(&mut self, text: &str, buf: &mut String) -> Vec<u32> {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(|raw| self.word(raw, buf))
            .filter(|&t| t != DROPPED)
            .collect()
    }

    /// The term of one raw word, or `DROPPED`.
    fn word(&mut self, raw: &str, buf: &mut String) -> u32 {
        buf.clear();
        if raw.is_ascii() {
            buf.push_str(raw);
            buf.make_ascii_lowercase();
        } else {
            buf.extend(raw.chars().flat_map(char::to_lowercase));
        }
        if let Some(&t) = self.words.get(buf.as_str()) {
            return t;
        }
        let keep = raw.chars().count() > 1
            && !raw.chars().all(|c| c.is_ascii_digit())
            && !self.stop.contains(buf.as_str());
        let t = if keep {
            let stemmed = match self.stemmer {
                Some(s) => s.stem(buf).into_owned(),
                None => buf.clone(),
            };
            match self.terms.get(&stemmed) {
                Some(&i) => i,
                None => {
                    let i = self.names.len() as u32;
                    self.names.push(stemmed.clone());
                    self.terms.insert(stemmed, i);
                    i
                }
            }
        } else {
            DROPPED
        };
        self.words.insert(buf.clone(), t);
        t
    }
}

/// The bucket of the bigram `(a, b)` of global term ids (a fixed mixing function, so every run
/// and every thread agree).
fn bigram_bucket(a: u32, b: u32) -> u64 {
    let mut x = (a as u64) << 32 | b as u64;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^= x >> 33;
    x % BIGRAM_BUCKETS
}

/// Token ids of one document's title and body.
type Fields = (Vec<u32>, Vec<u32>);

/// Tokenises documents in parallel into counts over one vocabulary: stemmed terms numbered in
/// sorted order, then the bigram buckets.
fn vectorize(docs: &[Doc<'_>], opts: &TextOptions) -> (Vec<Counts>, usize) {
    // Few large chunks: each stems its own vocabulary once (Snowball costs about a microsecond
    // a word), and a handful per thread still balance the load.
    let chunk = docs
        .len()
        .div_ceil(4 * rayon::current_num_threads())
        .max(2048);
    let stop = stop_set();
    let chunks: Vec<(Vec<String>, Vec<Fields>)> = docs
        .par_chunks(chunk)
        .map(|chunk| {
            let stemmer = Stemmer::create(Algorithm::English);
            let mut vocab = LocalVocab::new(opts.stem.then_some(&stemmer), &stop);
            let mut buf = String::new();
            let fields = chunk
                .iter()
                .map(|d| {
                    (
                        vocab.field(d.title, &mut buf),
                        vocab.field(d.body, &mut buf),
                    )
                })
                .collect();
            (vocab.names, fields)
        })
        .collect();
    let mut all: Vec<&str> = chunks
        .iter()
        .flat_map(|(n, _)| n.iter().map(String::as_str))
        .collect();
    all.par_sort_unstable();
    all.dedup();
    let global: FxHashMap<&str, u32> = all
        .iter()
        .enumerate()
        .map(|(i, &t)| (t, i as u32))
        .collect();
    let n_unigrams = all.len();
    let bigrams = opts.bigram_weight > 0.0;
    let vectors = chunks
        .par_iter()
        .flat_map_iter(|(names, fields)| {
            let map: Vec<u32> = names.iter().map(|n| global[n.as_str()]).collect();
            fields.iter().map(move |(title, body)| {
                let mut v: Counts = Vec::new();
                for (toks, weight) in [(title, opts.title_weight as f32), (body, 1.0)] {
                    let ids: Vec<u32> = toks.iter().map(|&t| map[t as usize]).collect();
                    if bigrams {
                        for k in 1..ids.len() {
                            let bucket = n_unigrams as u64 + bigram_bucket(ids[k - 1], ids[k]);
                            v.push((bucket as u32, weight * opts.bigram_weight as f32));
                        }
                    }
                    v.extend(ids.iter().map(|&t| (t, weight)));
                }
                super::merge_sorted(v)
            })
        })
        .collect();
    let n_terms = n_unigrams + if bigrams { BIGRAM_BUCKETS as usize } else { 0 };
    (vectors, n_terms)
}

/// Weighted, length-normalised document vectors.
fn weigh(counts: Vec<Counts>, n_terms: usize, opts: &TextOptions) -> Vec<Counts> {
    let n = counts.len() as f64;
    let mut df = vec![0u32; n_terms];
    for c in &counts {
        for &(t, _) in c {
            df[t as usize] += 1;
        }
    }
    let cut = (opts.max_df * n).max(1.0);
    let idf: Vec<f32> = df
        .iter()
        .map(|&d| {
            if d as f64 > cut {
                0.0
            } else {
                (((1.0 + n) / (1.0 + d as f64)).ln() + 1.0) as f32
            }
        })
        .collect();
    let lengths: Vec<f32> = counts
        .iter()
        .map(|c| c.iter().map(|&(_, w)| w).sum())
        .collect();
    let avg = (lengths.iter().map(|&l| l as f64).sum::<f64>() / n.max(1.0)).max(1e-9) as f32;
    counts
        .into_par_iter()
        .zip(lengths)
        .map(|(c, len)| {
            let mut v: Counts = c
                .into_iter()
                .filter(|&(t, _)| idf[t as usize] > 0.0)
                .map(|(t, tf)| {
                    let w = match opts.weighting {
                        Weighting::TfIdf => 1.0 + tf.ln().max(0.0),
                        Weighting::Bm25 { k1, b } => {
                            let (k1, b) = (k1 as f32, b as f32);
                            tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * len / avg))
                        }
                    };
                    (t, w * idf[t as usize])
                })
                .collect();
            let norm = v.iter().map(|&(_, w)| w * w).sum::<f32>().sqrt();
            if norm > 0.0 {
                for x in &mut v {
                    x.1 /= norm;
                }
            }
            v
        })
        .collect()
}

/// Text affinity of every paper with every reviewer who has past papers, as a sparse matrix of
/// non-zero pairs. Reviewers without papers score 0.
pub fn text_affinity(venue: &Venue, opts: &TextOptions) -> SparseRows {
    let mut rows = vec![Vec::new(); venue.papers.len()];
    text_rows(venue, opts, rows.par_iter_mut(), |slot, row| *slot = row);
    SparseRows::from_rows(venue.reviewers.len(), rows)
}

/// The rows of [`text_affinity`], computed on all cores: paper `p`'s `(reviewer, units)` pairs
/// (by increasing reviewer) are handed to `emit` with item `p` of `outs` (one item a paper), so
/// that a caller may store or blend them without the whole matrix being built.
pub fn text_rows<O: Send>(
    venue: &Venue,
    opts: &TextOptions,
    outs: impl IndexedParallelIterator<Item = O>,
    emit: impl Fn(O, Vec<(u32, i32)>) + Sync + Send,
) {
    let np = venue.papers.len();
    let nr = venue.reviewers.len();
    let mut docs: Vec<Doc<'_>> = venue
        .papers
        .iter()
        .map(|p| Doc {
            title: &p.title,
            body: &p.abstract_text,
        })
        .collect();
    let mut owner: Vec<u32> = Vec::new();
    for (r, papers) in venue.reviewer_papers.iter().enumerate().take(nr) {
        for q in papers {
            docs.push(Doc {
                title: &q.title,
                body: &q.abstract_text,
            });
            owner.push(r as u32);
        }
    }
    let (counts, n_terms) = vectorize(&docs, opts);
    let mut vectors = weigh(counts, n_terms, opts);
    let targets: Vec<Counts> = vectors.split_off(np);

    let (targets, owner) = if opts.aggregation == Aggregation::Profile {
        profiles(targets, &owner, nr)
    } else {
        (targets, owner)
    };
    // Inverted index over the reviewers' papers, compressed by term (CSR).
    let mut start = vec![0u32; n_terms + 1];
    for v in &targets {
        for &(t, _) in v {
            start[t as usize + 1] += 1;
        }
    }
    for t in 0..n_terms {
        start[t + 1] += start[t];
    }
    let mut fill = start.clone();
    let mut entries = vec![(0u32, 0f32); start[n_terms] as usize];
    // Each paper's vector is freed once placed, and the freed memory handed back every 16,384
    // papers, so the index and the vectors are not held twice over (1 GB each at 400,000 papers).
    for (d, v) in targets.into_iter().enumerate() {
        for (t, w) in v {
            entries[fill[t as usize] as usize] = (d as u32, w);
            fill[t as usize] += 1;
        }
        if d % 16_384 == 16_383 {
            super::release_freed_memory();
        }
    }
    drop(fill);
    super::release_freed_memory();
    // The targets of one reviewer are contiguous: `first[r]..first[r + 1]`.
    let n_owners = nr;
    let mut first = vec![0usize; n_owners + 1];
    for &r in &owner {
        first[r as usize + 1] += 1;
    }
    for r in 0..n_owners {
        first[r + 1] += first[r];
    }
    let floor = score_to_units(opts.min_score).max(1) as i32;
    // Reviewers in blocks whose papers fit a small accumulator (L2-resident): each submission
    // walks the blocks in order, and each of its terms keeps a cursor into its postings.
    const BLOCK_DOCS: usize = 16 * 1024;
    let blocks = reviewer_blocks(&first, BLOCK_DOCS);
    let block_len = blocks
        .iter()
        .map(|&(a, b)| first[b] - first[a])
        .max()
        .unwrap_or(0);
    vectors.par_iter().zip(outs).for_each_init(
        || {
            (
                vec![0f32; block_len],
                Vec::<usize>::new(),
                Vec::<f32>::new(),
            )
        },
        |(acc, cursor, scratch), (q, out)| {
            cursor.clear();
            cursor.extend(q.iter().map(|&(t, _)| start[t as usize] as usize));
            let mut row = Vec::new();
            for &(ra, rb) in &blocks {
                let (lo, hi) = (first[ra], first[rb]);
                for (k, &(t, wq)) in q.iter().enumerate() {
                    let end = start[t as usize + 1] as usize;
                    let mut c = cursor[k];
                    while c < end && (entries[c].0 as usize) < hi {
                        let (d, wd) = entries[c];
                        acc[d as usize - lo] += wq * wd;
                        c += 1;
                    }
                    cursor[k] = c;
                }
                for r in ra..rb {
                    let docs = first[r] - lo..first[r + 1] - lo;
                    scratch.clear();
                    scratch.extend(acc[docs.clone()].iter().copied().filter(|&x| x > 0.0));
                    if scratch.is_empty() {
                        continue;
                    }
                    acc[docs].fill(0.0);
                    let n_papers = venue.reviewer_papers[r].len().max(1);
                    let score = aggregate(scratch, opts.aggregation, n_papers);
                    let units = score_to_units(score as f64).clamp(0, SCORE_SCALE) as i32;
                    if units >= floor {
                        row.push((r as u32, units));
                    }
                }
            }
            emit(out, row);
        },
    );
    drop(vectors);
    super::release_freed_memory();
}

/// Consecutive reviewer ranges `(a, b)` whose papers (`first[a]..first[b]`, reviewer `r`'s
/// being `first[r]..first[r + 1]`) number at most `max_docs`, unless one reviewer has more.
pub(crate) fn reviewer_blocks(first: &[usize], max_docs: usize) -> Vec<(usize, usize)> {
    let n = first.len() - 1;
    let mut blocks = Vec::new();
    let mut r0 = 0;
    for r in 0..n {
        if first[r + 1] - first[r0] > max_docs && r > r0 {
            blocks.push((r0, r));
            r0 = r;
        }
    }
    blocks.push((r0, n));
    blocks
}

/// Combines the similarities of one reviewer's papers that share a term with the submission
/// (the others are 0) out of `n_papers`.
fn aggregate(sims: &mut [f32], how: Aggregation, n_papers: usize) -> f32 {
    match how {
        Aggregation::Max | Aggregation::Profile => sims.iter().copied().fold(0.0, f32::max),
        Aggregation::Mean => sims.iter().sum::<f32>() / n_papers as f32,
        Aggregation::TopMean(k) => {
            let k = k.min(n_papers).max(1);
            if sims.len() > k {
                sims.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
            }
            // Summed in a fixed order so that the result does not depend on the selection.
            let m = k.min(sims.len());
            let top = &mut sims[..m];
            top.sort_unstable_by(|a, b| b.total_cmp(a));
            top.iter().sum::<f32>() / k as f32
        }
    }
}

/// One normalised profile vector per reviewer (the sum of their paper vectors).
fn profiles(papers: Vec<Counts>, owner: &[u32], nr: usize) -> (Vec<Counts>, Vec<u32>) {
    let mut sums: Vec<FxHashMap<u32, f32>> = vec![FxHashMap::default(); nr];
    for (v, &r) in papers.iter().zip(owner) {
        for &(t, w) in v {
            *sums[r as usize].entry(t).or_default() += w;
        }
    }
    let mut out = Vec::new();
    let mut who = Vec::new();
    for (r, s) in sums.into_iter().enumerate() {
        if s.is_empty() {
            continue;
        }
        let mut v: Counts = s.into_iter().collect();
        v.sort_unstable_by_key(|&(t, _)| t);
        let norm = v.iter().map(|&(_, w)| w * w).sum::<f32>().sqrt();
        for x in &mut v {
            x.1 /= norm;
        }
        out.push(v);
        who.push(r as u32);
    }
    (out, who)
}

/// The gold-standard ranking loss of one participant's ratings (Stelmakh et al., "A Gold
/// Standard Dataset for the Reviewer Assignment Problem"): over every pair of papers rated with
/// different expertise, a predicted similarity that orders the pair the wrong way costs the
/// difference in expertise and a tie costs half of it. Returns `(cost, total difference)`; the
/// loss over many participants is the sum of costs over the sum of differences (0 is perfect,
/// 0.5 is chance).
///
/// ```
/// use papermatch::affinity::text::ranking_loss;
/// // Expertise 5 > 3 > 1; the model swaps the last two and ties nothing.
/// let (cost, total) = ranking_loss(&[0.9, 0.1, 0.2], &[5.0, 3.0, 1.0]);
/// assert_eq!((cost, total), (2.0, 8.0)); // the (3, 1) pair is wrong: 2 of 2 + 4 + 2
/// ```
pub fn ranking_loss(predicted: &[f64], expertise: &[f64]) -> (f64, f64) {
    let (mut cost, mut total) = (0.0, 0.0);
    for i in 0..expertise.len() {
        for j in i + 1..expertise.len() {
            let diff = expertise[i] - expertise[j];
            if diff == 0.0 {
                continue;
            }
            total += diff.abs();
            let agree = (predicted[i] - predicted[j]) * diff;
            if agree < 0.0 {
                cost += diff.abs();
            } else if predicted[i] == predicted[j] {
                cost += diff.abs() / 2.0;
            }
        }
    }
    (cost, total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Paper, Publication, Reviewer};

    #[test]
    fn tokenizer_drops_stop_words_numbers_and_stems() {
        assert_eq!(
            tokens("The 2 GPUs are training; re-materialization!", true),
            ["gpus", "train", "re", "materi"]
        );
        assert_eq!(
            tokens("Offloading offloaded OFFLOADS", true),
            ["offload", "offload", "offload"]
        );
        assert_eq!(tokens("Offloading", false), ["offloading"]);
    }

    fn pubs(titles: &[&str]) -> Vec<Publication> {
        titles
            .iter()
            .map(|t| Publication {
                title: t.to_string(),
                ..Publication::default()
            })
            .collect()
    }

    fn venue() -> Venue {
        Venue {
            papers: vec![
                Paper {
                    id: "p".into(),
                    title: "Activation checkpointing for pipeline training".into(),
                    ..Default::default()
                },
                Paper {
                    id: "q".into(),
                    title: "Energy of data loading".into(),
                    ..Default::default()
                },
            ],
            reviewers: vec![
                Reviewer {
                    id: "a".into(),
                    ..Default::default()
                },
                Reviewer {
                    id: "b".into(),
                    ..Default::default()
                },
                Reviewer {
                    id: "c".into(),
                    ..Default::default()
                },
            ],
            reviewer_papers: vec![
                pubs(&["Optimal activation checkpointing", "Graph kernels"]),
                pubs(&["Energy measurement of data loading pipelines"]),
                vec![],
            ],
            has_profiles: true,
            ..Default::default()
        }
    }

    #[test]
    fn scores_follow_shared_terms_and_are_deterministic() {
        let v = venue();
        let m = text_affinity(&v, &TextOptions::default());
        assert!(m.get(0, 0) > m.get(0, 1), "checkpointing expert first");
        assert!(m.get(1, 1) > m.get(1, 0), "data loading expert first");
        assert_eq!(m.get(0, 2), 0, "no papers, no score");
        for row in m.vals.iter() {
            assert!((0..=SCORE_SCALE as i32).contains(row));
        }
        assert_eq!(m, text_affinity(&v, &TextOptions::default()));
    }

    #[test]
    fn aggregations_order_as_expected() {
        let mut s = [0.2f32, 0.8, 0.5];
        assert_eq!(aggregate(&mut s.clone(), Aggregation::Max, 3), 0.8);
        assert!((aggregate(&mut s.clone(), Aggregation::Mean, 4) - 0.375).abs() < 1e-6);
        assert!((aggregate(&mut s, Aggregation::TopMean(2), 3) - 0.65).abs() < 1e-6);
    }
}
