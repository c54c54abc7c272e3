//! Expertise from a sentence-embedding model, in pure Rust: a BERT-family model from a
//! sentence-transformers folder (`config.json`, `model.safetensors`, `tokenizer.json`,
//! `1_Pooling/config.json`, and a `Normalize` module in `modules.json` when the model
//! normalises), run on the CPU by [`super::bert`] and its hand-written [`super::kernels`].
//!
//! A submission's title and abstract and each of a reviewer's past papers are embedded (unit
//! length); a pair's affinity is the mean cosine of the reviewer's `top_k` past papers most
//! similar to the submission (0 below 0), computed by matrix products over blocks of papers and
//! reviewers on both cores.
//!
//! Two encoders ([`Encoder`]):
//! - **full**: every text through the whole model, in batches of texts of the same token count
//!   (no padding: a text's vector depends only on the text, the model and its settings, never on
//!   the other texts of the run, the batch size, the cache or the thread count), with a progress
//!   bar on stderr; with an [`EmbeddingCache`], a text embedded once by a model is never embedded
//!   again by it, across runs and venues;
//! - **static** ([`StaticModel`]): the model distilled into one vector per token, for venues too
//!   large for the full model.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, s};
use rayon::prelude::*;
use tokenizers::Tokenizer;

use super::bert::{Bert, Config, Scratch};
pub use super::cache::EmbeddingCache;
use super::cache::Fnv;
use crate::error::{Error, Result};
use crate::model::{AffinityMatrix, SCORE_SCALE, Venue};

/// How a text's token vectors become one vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// The mean over the text's tokens.
    Mean,
    /// The first token's vector.
    Cls,
}

/// A loaded sentence-embedding model.
pub struct TextModel {
    model: Bert,
    tokenizer: Tokenizer,
    pooling: Pooling,
    normalize: bool,
    /// Texts are cut to this many tokens.
    pub max_tokens: usize,
    /// The embedding size.
    pub dim: usize,
    /// A key that changes when the model's weights, tokenizer or pooling change (for the cache).
    pub key: String,
}

impl std::fmt::Debug for TextModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextModel")
            .field("pooling", &self.pooling)
            .field("normalize", &self.normalize)
            .field("max_tokens", &self.max_tokens)
            .field("dim", &self.dim)
            .finish()
    }
}

fn model_error(dir: &Path, what: impl std::fmt::Display) -> Error {
    Error::Options(format!(
        "--text-model {}: {what} (expected a sentence-transformers folder: config.json, \
         model.safetensors, tokenizer.json, 1_Pooling/config.json)",
        dir.display()
    ))
}

impl TextModel {
    /// Loads the model in `dir`, cutting texts to `max_tokens` tokens.
    pub fn load(dir: &Path, max_tokens: usize) -> Result<TextModel> {
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name))
                .map_err(|e| model_error(dir, format!("cannot read {name}: {e}")))
        };
        let config: Config = serde_json::from_str(&read("config.json")?)
            .map_err(|e| model_error(dir, format!("config.json: {e}")))?;
        let pooling_json: serde_json::Value =
            serde_json::from_str(&read("1_Pooling/config.json").unwrap_or_else(|_| "{}".into()))
                .map_err(|e| model_error(dir, format!("1_Pooling/config.json: {e}")))?;
        let pooling = if pooling_json["pooling_mode_cls_token"].as_bool() == Some(true) {
            Pooling::Cls
        } else {
            Pooling::Mean
        };
        let normalize = read("modules.json")
            .map(|m| m.contains("Normalize"))
            .unwrap_or(false);
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| model_error(dir, format!("tokenizer.json: {e}")))?;
        tokenizer
            .with_truncation(Some(tokenizers::TruncationParams {
                max_length: max_tokens,
                ..Default::default()
            }))
            .map_err(|e| model_error(dir, e))?;
        tokenizer.with_padding(None);
        let model = Bert::load(&dir.join("model.safetensors"), &config)
            .map_err(|e| model_error(dir, format!("model.safetensors: {e}")))?;
        let key = model_key(dir, pooling, normalize, max_tokens)?;
        Ok(TextModel {
            model,
            tokenizer,
            pooling,
            normalize,
            max_tokens,
            dim: config.hidden_size,
            key,
        })
    }

    /// Embeds `texts` (unit vectors when the model normalises), using and filling `cache`. A
    /// text given several times (a paper in two reviewers' archives) is embedded once.
    pub fn embed(
        &self,
        texts: &[String],
        mut cache: Option<&mut EmbeddingCache>,
        progress: bool,
    ) -> Result<Vec<Vec<f32>>> {
        let mut out: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
        // Each text's first occurrence; later ones copy it at the end.
        let mut first: HashMap<&str, usize> = HashMap::new();
        let mut todo: Vec<usize> = Vec::new();
        for (i, t) in texts.iter().enumerate() {
            if *first.entry(t.as_str()).or_insert(i) != i {
                continue;
            }
            match cache.as_deref().and_then(|c| c.get(&self.key, t)) {
                Some(v) => out[i] = Some(v.clone()),
                None => todo.push(i),
            }
        }
        // Tokenize in parallel, then batch by length.
        let todo_texts: Vec<&str> = todo.iter().map(|&i| texts[i].as_str()).collect();
        let encodings: Vec<(usize, Vec<u32>)> = todo
            .iter()
            .copied()
            .zip(self.token_ids(&todo_texts, true)?)
            .collect();
        // Longest first: the run then ends on short batches, and no core waits long for the other.
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&k| (std::cmp::Reverse(encodings[k].1.len()), k));
        let bar = crate::progress::bar(progress, order.len() as u64, "embedding texts");
        // Only texts of equal token count share a batch: no padding, so a text's vector does not
        // depend on the other texts of its batch (`tests/neural.rs` checks it bit for bit, alone
        // and mixed, on 1 and 2 threads).
        // Batches of 8: larger ones only add memory (the attention is per text anyway).
        let batches: Vec<&[usize]> = order
            .chunk_by(|&a, &b| encodings[a].1.len() == encodings[b].1.len())
            .flat_map(|same| same.chunks(8))
            .collect();
        let rows: Vec<Vec<&[u32]>> = batches
            .iter()
            .map(|b| b.iter().map(|&k| encodings[k].1.as_slice()).collect())
            .collect();
        self.forward_batches(&rows, self.normalize, |b, vectors| {
            for (&k, v) in batches[b].iter().zip(vectors) {
                let i = encodings[k].0;
                if let Some(c) = cache.as_deref_mut() {
                    c.put(&self.key, &texts[i], v.clone());
                }
                out[i] = Some(v);
            }
            bar.inc(batches[b].len() as u64);
            cache
                .as_deref_mut()
                .map_or(Ok(()), EmbeddingCache::save_if_due)
        })?;
        bar.finish_and_clear();
        for (i, t) in texts.iter().enumerate() {
            let j = first[t.as_str()];
            if j != i {
                out[i] = out[j].clone();
            }
        }
        Ok(out
            .into_iter()
            .map(|v| v.expect("every text embedded"))
            .collect())
    }

    /// Each text's token ids, cut to `max_tokens`, with or without the special tokens around
    /// them (tokenized on both cores).
    pub fn token_ids(&self, texts: &[&str], special: bool) -> Result<Vec<Vec<u32>>> {
        let encode = |t: &str| {
            self.tokenizer
                .encode(t, special)
                .map(|e| e.get_ids().to_vec())
                .map_err(|e| Error::Solver(format!("tokenizing: {e}")))
        };
        if special || !self.splits_at_spaces() {
            return texts.par_iter().map(|t| encode(t)).collect();
        }
        // Word by word, each distinct word tokenized once per batch of texts: 5 times faster on
        // abstracts, where most words recur.
        texts
            .par_chunks(1024)
            .map(|chunk| {
                let mut known: HashMap<&str, Vec<u32>> = HashMap::new();
                chunk
                    .iter()
                    .map(|t| {
                        let mut ids = Vec::new();
                        for word in t.split([' ', '\t', '\n', '\r']).filter(|w| !w.is_empty()) {
                            if ids.len() >= self.max_tokens {
                                break;
                            }
                            if !known.contains_key(word) {
                                known.insert(word, encode(word)?);
                            }
                            ids.extend_from_slice(&known[word]);
                        }
                        ids.truncate(self.max_tokens);
                        Ok(ids)
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()
            .map(|chunks| chunks.into_iter().flatten().collect())
    }

    /// Whether tokenizing a text word by word (split at spaces, tabs and line ends) gives the
    /// same tokens as tokenizing it whole, without special tokens: true for BERT's normalizer
    /// and pre-tokenizer, which split at those characters themselves and change nothing across
    /// them (other whitespace stays inside the words and is handled there).
    fn splits_at_spaces(&self) -> bool {
        use tokenizers::normalizers::NormalizerWrapper;
        use tokenizers::pre_tokenizers::PreTokenizerWrapper;
        matches!(
            self.tokenizer.get_pre_tokenizer(),
            Some(PreTokenizerWrapper::BertPreTokenizer(_))
        ) && matches!(
            self.tokenizer.get_normalizer(),
            None | Some(NormalizerWrapper::BertNormalizer(_))
        )
    }

    /// Runs `batches` (each of texts of one token count) through the model on all cores and hands
    /// each batch's vectors to `take(batch, vectors)` in order.
    ///
    /// One worker a core (as many as rayon's pool has threads), each with its own activations,
    /// takes the next batch as soon as it is done with one, so no core waits for another until the
    /// last batch; this thread only puts the results back in order and hands them on. When a
    /// batch or `take` fails, the workers stop after their current batch.
    fn forward_batches(
        &self,
        batches: &[Vec<&[u32]>],
        normalize: bool,
        mut take: impl FnMut(usize, Vec<Vec<f32>>) -> Result<()>,
    ) -> Result<()> {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let threads = rayon::current_num_threads().min(batches.len()).max(1);
        let (next, stop) = (AtomicUsize::new(0), AtomicBool::new(false));
        std::thread::scope(|scope| {
            let (send, receive) = std::sync::mpsc::channel();
            for _ in 0..threads {
                let send = send.clone();
                let (next, stop) = (&next, &stop);
                scope.spawn(move || {
                    let mut scratch = Scratch::default();
                    while !stop.load(Ordering::Relaxed) {
                        let b = next.fetch_add(1, Ordering::Relaxed);
                        let Some(rows) = batches.get(b) else { break };
                        let vectors = self.forward(rows, normalize, &mut scratch);
                        if send.send((b, vectors)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(send);
            let mut waiting = std::collections::BTreeMap::new();
            let mut due = 0;
            let result = receive.iter().try_for_each(|(b, vectors)| {
                waiting.insert(b, vectors);
                while let Some(vectors) = waiting.remove(&due) {
                    take(due, vectors?)?;
                    due += 1;
                }
                Ok(())
            });
            stop.store(true, Ordering::Relaxed);
            result
        })
    }

    /// One batch of token ids, all of the same length (no padding), through the model, pooled,
    /// and scaled to unit length when `normalize`.
    fn forward(
        &self,
        rows: &[&[u32]],
        normalize: bool,
        scratch: &mut Scratch,
    ) -> Result<Vec<Vec<f32>>> {
        let len = rows.first().map_or(0, |r| r.len());
        if len == 0 || rows.iter().any(|r| r.len() != len) {
            return Err(Error::Solver(
                "text model: a batch's texts must have the same, non-zero token count".into(),
            ));
        }
        let ids: Vec<u32> = rows.concat();
        let hidden = self
            .model
            .forward(&ids, len, scratch)
            .map_err(|e| Error::Solver(format!("text model: {e}")))?;
        Ok(hidden
            .chunks_exact(len * self.dim)
            .map(|tokens| {
                let mut v = match self.pooling {
                    Pooling::Cls => tokens[..self.dim].to_vec(),
                    Pooling::Mean => {
                        let mut acc = vec![0f32; self.dim];
                        for t in tokens.chunks_exact(self.dim) {
                            super::kernels::add(&mut acc, t);
                        }
                        acc.iter_mut().for_each(|a| *a /= len as f32);
                        acc
                    }
                };
                if normalize {
                    self::normalize(&mut v);
                }
                v
            })
            .collect())
    }

    /// The time spent so far in each step of the model's forward pass, summed over threads.
    pub fn op_times(&self) -> Vec<(&'static str, std::time::Duration)> {
        self.model.op_times()
    }
}

/// Scales `v` to unit length (a zero vector stays zero).
fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// A hash of the model's files and settings: the cache's key for its embeddings.
fn model_key(dir: &Path, pooling: Pooling, normalize: bool, max_tokens: usize) -> Result<String> {
    let mut h = Fnv::default();
    for name in ["config.json", "tokenizer.json"] {
        let bytes = std::fs::read(dir.join(name)).map_err(|e| model_error(dir, e))?;
        h.write(&bytes);
    }
    // The weights are large: their size and a sample of their bytes.
    let weights = dir.join("model.safetensors");
    let mut f = std::fs::File::open(&weights).map_err(|e| model_error(dir, e))?;
    let len = f.metadata().map_err(|e| model_error(dir, e))?.len();
    h.write(&len.to_le_bytes());
    let mut head = vec![0u8; 1 << 20];
    let n = f.read(&mut head).map_err(|e| model_error(dir, e))?;
    h.write(&head[..n]);
    // The kernels' version: vectors computed by another implementation differ in their last
    // bits, and a cache must not mix the two.
    h.write(format!("{pooling:?}{normalize}{max_tokens}kernels-2").as_bytes());
    Ok(format!("{:016x}", h.0))
}

/// How texts become vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoder {
    /// Every text through the whole model (about 22 texts per second on 2 cores at 216 tokens).
    #[default]
    Full,
    /// The distilled static model ([`StaticModel`]): each token's vector computed once by the
    /// model, a text the frequency-weighted mean of its tokens' vectors (thousands of texts per
    /// second).
    Static,
}

impl Encoder {
    /// The share of this encoder in the text affinity unless one is given, chosen on the
    /// development half of the gold standard (ranking loss, lower is better; the lexical model
    /// alone scores 0.2400):
    /// - [`Encoder::Full`]: 1, the model alone (0.2424). Blends with the lexical model score
    ///   0.2393 to 0.2430 for shares 0.5 to 0.8, within the noise of 29 participants, and an
    ///   independent measurement on the held-out half found the model alone far ahead (0.178
    ///   against 0.198 for a blend and 0.248 for the lexical model), so no blend is made.
    /// - [`Encoder::Static`]: 0.5, half and half with the lexical model (0.2404): alone the static
    ///   model scores 0.2625, clearly behind the lexical model, and the blend brings it level.
    pub fn default_weight(self) -> f64 {
        match self {
            Encoder::Full => 1.0,
            Encoder::Static => 0.5,
        }
    }
}

/// How the neural affinity is computed.
#[derive(Debug, Clone, PartialEq)]
pub struct NeuralOptions {
    /// The sentence-transformers folder.
    pub model: PathBuf,
    /// Where embeddings are kept across runs (none: not kept).
    pub cache: Option<PathBuf>,
    /// Texts are cut to this many tokens.
    pub max_tokens: usize,
    /// A pair's affinity is the mean cosine of the reviewer's this many most similar papers.
    pub top_k: usize,
    /// Show progress on stderr.
    pub progress: bool,
    /// The whole model or its distilled static form.
    pub encoder: Encoder,
}

impl NeuralOptions {
    /// The options for `model` with the defaults: 256 tokens, top-3 mean.
    pub fn new(model: &Path) -> NeuralOptions {
        NeuralOptions {
            model: model.to_path_buf(),
            cache: None,
            max_tokens: 256,
            top_k: 3,
            progress: false,
            encoder: Encoder::Full,
        }
    }
}

/// A static model distilled from a [`TextModel`], as Model2Vec does: each token's vector is the
/// model's pooled output for the text made of that token alone, computed once.
///
/// A text's vector is then the weighted mean of its tokens' vectors after two corrections, both
/// over the tokens of the texts embedded together:
/// - **frequency weights** `a / (a + p)`, `p` the token's share of all tokens and `a` = 10⁻³
///   (smooth inverse frequency, Arora et al. 2017), so frequent tokens ("the", "model") count
///   little;
/// - **common directions removed**: the token vectors' mean and their top
///   [`STATIC_COMPONENTS`] principal directions are subtracted (Mu and Viswanath 2018; Model2Vec
///   centres by its PCA), since every token's vector shares them and they only make all texts
///   look alike.
///
/// Only the tokens the texts use are distilled, and with an [`EmbeddingCache`] each is distilled
/// once per model.
#[derive(Debug)]
pub struct StaticModel {
    /// Row `t`: token `t`'s vector (zeros for tokens not distilled).
    table: Array2<f32>,
    /// Whether token `t` was distilled.
    distilled: Vec<bool>,
}

/// The smooth-inverse-frequency constant of [`StaticModel`].
const SIF_A: f64 = 1e-3;

/// How many principal directions [`StaticModel`] removes. Ranking loss on the development half
/// of the gold standard (lower is better): nothing removed 0.341, the mean only 0.303, and with
/// 1, 2, 3, 5, 10 directions 0.286, 0.263, 0.271, 0.269, 0.296. Differences below 0.01 are noise
/// there, so this is the small round number among the best, not a tuned optimum.
pub const STATIC_COMPONENTS: usize = 2;

impl StaticModel {
    /// Distills the vectors of the tokens in `docs` (token ids without special tokens).
    pub fn distill(
        model: &TextModel,
        docs: &[Vec<u32>],
        cache: Option<&mut EmbeddingCache>,
        progress: bool,
    ) -> Result<StaticModel> {
        StaticModel::distill_counted(model, &token_counts(docs), cache, progress)
    }

    /// Distills the vectors of the tokens that occur (`counts[t] > 0`, as [`token_counts`]
    /// gives): the texts themselves need not be held.
    pub fn distill_counted(
        model: &TextModel,
        counts: &[u64],
        mut cache: Option<&mut EmbeddingCache>,
        progress: bool,
    ) -> Result<StaticModel> {
        let dim = model.dim;
        let vocab = counts.len();
        let used: Vec<bool> = counts.iter().map(|&c| c > 0).collect();
        let key = format!("{}-tokens", model.key);
        if let Some(c) = cache.as_deref_mut() {
            c.load(&key)?;
        }
        let mut table = Array2::<f32>::zeros((vocab, dim));
        let mut todo: Vec<u32> = Vec::new();
        for t in (0..vocab).filter(|&t| used[t]) {
            match cache.as_deref().and_then(|c| c.get(&key, &t.to_string())) {
                Some(v) => table.row_mut(t).assign(&ArrayView1::from(v)),
                None => todo.push(t as u32),
            }
        }
        // The special tokens around a text: those of the empty text, split after the first.
        let around = model.token_ids(&[""], true)?.remove(0);
        let (head, tail) = around.split_at(around.len().min(1));
        let bar = crate::progress::bar(progress, todo.len() as u64, "distilling token vectors");
        // All rows have the same length: no padding, so large batches cost nothing extra.
        let rows: Vec<Vec<u32>> = todo.iter().map(|&t| [head, &[t], tail].concat()).collect();
        let batches: Vec<Vec<&[u32]>> = rows
            .chunks(64)
            .map(|c| c.iter().map(Vec::as_slice).collect())
            .collect();
        model.forward_batches(&batches, false, |b, vectors| {
            for (&t, v) in todo[b * 64..].iter().zip(vectors) {
                table.row_mut(t as usize).assign(&ArrayView1::from(&v));
                if let Some(c) = cache.as_deref_mut() {
                    c.put(&key, &t.to_string(), v);
                }
            }
            bar.inc(batches[b].len() as u64);
            cache
                .as_deref_mut()
                .map_or(Ok(()), EmbeddingCache::save_if_due)
        })?;
        bar.finish_and_clear();
        Ok(StaticModel {
            table,
            distilled: used,
        })
    }

    /// Token `t`'s vector as distilled (before the corrections of [`StaticModel::embed`]),
    /// `None` when no text used it.
    pub fn token_vector(&self, t: u32) -> Option<&[f32]> {
        let t = t as usize;
        (*self.distilled.get(t)?).then(|| {
            let dim = self.table.ncols();
            &self.table.as_slice().expect("a standard-layout table")[t * dim..(t + 1) * dim]
        })
    }

    /// The unit vectors of `docs` (token ids, as given to [`StaticModel::distill`]), rows of
    /// the result.
    pub fn embed(&self, docs: &[Vec<u32>]) -> Array2<f32> {
        let embedder = self.embedder(&token_counts(docs));
        let mut out = Array2::<f32>::zeros((docs.len(), self.table.ncols()));
        embedder.embed_into(docs, out.as_slice_mut().expect("a standard-layout matrix"));
        out
    }

    /// What embeds texts whose tokens occur `counts` times in all (see [`token_counts`]): the
    /// frequency weights and the corrected table, so that the texts can be embedded a part at a
    /// time with the same result as all at once.
    pub fn embedder(&self, counts: &[u64]) -> StaticEmbedder {
        let vocab = self.table.nrows();
        let count = |t: usize| counts.get(t).copied().unwrap_or(0);
        let total = (0..vocab).map(count).sum::<u64>().max(1) as f64;
        let weight: Vec<f32> = (0..vocab)
            .map(|t| (SIF_A / (SIF_A + count(t) as f64 / total)) as f32)
            .collect();
        let used: Vec<usize> = (0..vocab).filter(|&t| count(t) > 0).collect();
        StaticEmbedder {
            table: remove_common_directions(&self.table, &used, STATIC_COMPONENTS),
            weight,
        }
    }
}

/// How many times each token occurs in `docs` (index: token id).
pub fn token_counts(docs: &[Vec<u32>]) -> Vec<u64> {
    let mut counts = Vec::new();
    add_token_counts(&mut counts, docs);
    counts
}

/// Adds the tokens of `docs` to `counts` (grown as needed).
fn add_token_counts(counts: &mut Vec<u64>, docs: &[Vec<u32>]) {
    for &t in docs.iter().flatten() {
        if t as usize >= counts.len() {
            counts.resize(t as usize + 1, 0);
        }
        counts[t as usize] += 1;
    }
}

/// Embeds texts with a [`StaticModel`] (see [`StaticModel::embedder`]).
#[derive(Debug)]
pub struct StaticEmbedder {
    table: Array2<f32>,
    weight: Vec<f32>,
}

impl StaticEmbedder {
    /// The unit vectors of `docs` into `out` (`docs.len()` rows of the embedding size).
    pub fn embed_into(&self, docs: &[Vec<u32>], out: &mut [f32]) {
        let dim = self.table.ncols();
        let table = self.table.as_slice().expect("a standard-layout table");
        out.par_chunks_mut(dim)
            .zip(docs.par_iter())
            .for_each(|(row, doc)| {
                row.fill(0.0);
                for &t in doc {
                    let w = self.weight[t as usize];
                    let v = &table[t as usize * dim..(t as usize + 1) * dim];
                    for (a, x) in row.iter_mut().zip(v) {
                        *a += w * x;
                    }
                }
                normalize(row);
            });
    }
}

/// `table` with the mean of its rows `used` subtracted from them, then their projections on
/// the top `components` principal directions of those rows (power iteration on the covariance,
/// deflated after each direction; deterministic).
fn remove_common_directions(table: &Array2<f32>, used: &[usize], components: usize) -> Array2<f32> {
    let mut x = table.select(Axis(0), used);
    if used.is_empty() {
        return table.clone();
    }
    let mean = x.mean_axis(Axis(0)).expect("rows");
    x -= &mean;
    let mut cov = x.t().dot(&x);
    let dim = cov.nrows();
    let mut directions: Vec<Array1<f32>> = Vec::new();
    for _ in 0..components.min(dim) {
        let mut v = Array1::from_shape_fn(dim, |i| 1.0 + (i % 7) as f32);
        let mut lambda = 0.0;
        for _ in 0..200 {
            let w = cov.dot(&v);
            lambda = w.dot(&w).sqrt();
            if lambda == 0.0 {
                break;
            }
            v = w / lambda;
        }
        // Deflate: the next iteration finds the next direction.
        let outer = v
            .view()
            .insert_axis(Axis(1))
            .dot(&v.view().insert_axis(Axis(0)));
        cov.scaled_add(-lambda, &outer);
        directions.push(v);
    }
    for d in &directions {
        let proj = x.dot(d);
        x -= &proj
            .insert_axis(Axis(1))
            .dot(&d.view().insert_axis(Axis(0)));
    }
    let mut out = table.clone();
    for (row, &t) in x.rows().into_iter().zip(used) {
        out.row_mut(t).assign(&row);
    }
    out
}

/// A submission's text: its title and abstract.
fn paper_text(title: &str, abstract_text: &str) -> String {
    match (title.trim(), abstract_text.trim()) {
        (t, "") => t.to_string(),
        ("", a) => a.to_string(),
        (t, a) => format!("{t}. {a}"),
    }
}

/// The texts a venue's neural affinity embeds: each submission's title and abstract ("title.
/// abstract"), then each reviewer's past papers; reviewer `r`'s are texts `first[r]..first[r +
/// 1]` after the submissions. Returns the texts and `first`.
pub fn venue_texts(venue: &Venue) -> (Vec<String>, Vec<usize>) {
    (text_iter(venue).collect(), past_offsets(venue))
}

/// The texts of [`venue_texts`], one at a time.
fn text_iter(venue: &Venue) -> impl Iterator<Item = String> + '_ {
    let papers = venue.papers.iter().map(|p| (&p.title, &p.abstract_text));
    let nr = venue.reviewers.len();
    let past = venue.reviewer_papers.iter().take(nr).flatten();
    papers
        .chain(past.map(|p| (&p.title, &p.abstract_text)))
        .map(|(t, a)| paper_text(t, a))
}

/// `first` of [`venue_texts`].
fn past_offsets(venue: &Venue) -> Vec<usize> {
    let nr = venue.reviewers.len();
    let mut first = vec![0usize; nr + 1];
    for (r, list) in venue.reviewer_papers.iter().enumerate().take(nr) {
        first[r + 1] = first[r] + list.len();
    }
    first
}

/// The neural affinity of a venue: papers × reviewers, each pair the mean cosine of the
/// reviewer's `top_k` most similar past papers (negative cosines count as 0).
///
/// Dense (4 bytes a pair) when at least half the pairs score above 0, as is usual, sparse
/// otherwise: the matrix is filled in place either way, never held twice.
pub fn neural_affinity(venue: &Venue, opts: &NeuralOptions) -> Result<AffinityMatrix> {
    let mut grid = Array2::<i32>::zeros((venue.papers.len(), venue.reviewers.len()));
    let set = neural_into(venue, opts, &mut grid, |_, units| units)?;
    Ok(AffinityMatrix::from_grid(grid, set))
}

/// `grid` (papers × reviewers) with every cell replaced by `combine(cell, units)`, `units` the
/// pair's neural affinity (0 for a reviewer without papers), as the affinity is computed (so a
/// caller may blend another model's scores, already in `grid`, without a second matrix).
/// Returns how many cells are not 0.
pub(crate) fn neural_into(
    venue: &Venue,
    opts: &NeuralOptions,
    grid: &mut Array2<i32>,
    combine: impl Fn(i32, i32) -> i32 + Sync,
) -> Result<usize> {
    let model = TextModel::load(&opts.model, opts.max_tokens)?;
    let mut cache = opts.cache.as_deref().map(EmbeddingCache::new);
    if let Some(c) = cache.as_mut() {
        c.load(&model.key)?;
    }
    let first = past_offsets(venue);
    let n_papers = venue.papers.len();
    let vectors = match opts.encoder {
        Encoder::Full => {
            let texts: Vec<String> = text_iter(venue).collect();
            let rows = model.embed(&texts, cache.as_mut(), opts.progress)?;
            let mut m = Array2::<f32>::zeros((rows.len(), model.dim));
            for (mut row, v) in m.axis_iter_mut(Axis(0)).zip(rows) {
                let row = row.as_slice_mut().expect("a standard-layout row");
                row.copy_from_slice(&v);
                normalize(row);
            }
            m
        }
        Encoder::Static => {
            // The texts are tokenized 4,096 at a time, twice: once to count their tokens (for
            // the distillation and the frequency weights), once to embed them. Neither the
            // texts nor their tokens are ever all held (750 and 330 MB at 416,000 texts).
            let n_texts = n_papers + first[first.len() - 1];
            let tokenizer = &model;
            let chunks = || {
                let mut texts = text_iter(venue).peekable();
                std::iter::from_fn(move || {
                    texts.peek()?;
                    let chunk: Vec<String> = texts.by_ref().take(4096).collect();
                    let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
                    Some(tokenizer.token_ids(&refs, false))
                })
            };
            let mut counts = Vec::new();
            for docs in chunks() {
                add_token_counts(&mut counts, &docs?);
            }
            let embedder =
                StaticModel::distill_counted(&model, &counts, cache.as_mut(), opts.progress)?
                    .embedder(&counts);
            let mut m = Array2::<f32>::zeros((n_texts, model.dim));
            let out = m.as_slice_mut().expect("a standard-layout matrix");
            let mut at = 0;
            for docs in chunks() {
                let docs = docs?;
                embedder.embed_into(
                    &docs,
                    &mut out[at * model.dim..(at + docs.len()) * model.dim],
                );
                at += docs.len();
            }
            super::release_freed_memory();
            m
        }
    };
    if let Some(c) = cache.as_mut() {
        c.save()?;
    }
    let (papers, past) = vectors.view().split_at(Axis(0), n_papers);
    Ok(top_k_affinity(
        papers,
        past,
        &first,
        opts.top_k.max(1),
        grid,
        combine,
    ))
}

/// Papers × reviewers: the mean of the `k` largest cosines between a paper's vector and the
/// reviewer's papers' vectors (reviewer `r`'s are rows `first[r]..first[r + 1]` of `past`; every
/// vector of unit length or zero), negative means counting as 0, each combined into its cell of
/// `grid` by `combine` (see [`neural_into`]). Matrix products over blocks of papers and of
/// reviewers that fit the cache, the blocks of papers on both cores. Returns the cells not 0.
fn top_k_affinity(
    papers: ArrayView2<'_, f32>,
    past: ArrayView2<'_, f32>,
    first: &[usize],
    k: usize,
    grid: &mut Array2<i32>,
    combine: impl Fn(i32, i32) -> i32 + Sync,
) -> usize {
    // 256 papers a block: the reviewers' block is packed once for them all.
    const PAPERS: usize = 256;
    let blocks = super::text::reviewer_blocks(first, 2048);
    grid.axis_chunks_iter_mut(Axis(0), PAPERS)
        .into_par_iter()
        .enumerate()
        .map(|(c, mut out)| {
            let p = papers.slice(s![c * PAPERS..c * PAPERS + out.nrows(), ..]);
            let mut top: Vec<f32> = Vec::with_capacity(k + 1);
            let mut set = 0;
            for &(ra, rb) in &blocks {
                let lo = first[ra];
                let sims = p.dot(&past.slice(s![lo..first[rb], ..]).t());
                for (mut row, sims) in out.rows_mut().into_iter().zip(sims.rows()) {
                    let sims = sims.as_slice().expect("a standard-layout product");
                    for r in ra..rb {
                        let (a, b) = (first[r] - lo, first[r + 1] - lo);
                        let units = if a == b {
                            0
                        } else {
                            let mean = top_mean(&sims[a..b], k, &mut top);
                            (mean.clamp(0.0, 1.0) as f64 * SCORE_SCALE as f64).round() as i32
                        };
                        row[r] = combine(row[r], units);
                        set += usize::from(row[r] != 0);
                    }
                }
            }
            set
        })
        .sum()
}

/// The mean of the `k` largest of `xs` (all of them when fewer), with `top` as scratch.
fn top_mean(xs: &[f32], k: usize, top: &mut Vec<f32>) -> f32 {
    top.clear();
    top.extend_from_slice(&xs[..k.min(xs.len())]);
    let smallest = |top: &[f32]| {
        (0..top.len())
            .min_by(|&i, &j| top[i].total_cmp(&top[j]))
            .unwrap_or(0)
    };
    let mut m = smallest(top);
    for &x in &xs[top.len()..] {
        if x > top[m] {
            top[m] = x;
            m = smallest(top);
        }
    }
    top.iter().sum::<f32>() / top.len().max(1) as f32
}
