//! Expertise from a sentence-embedding model, in pure Rust: a BERT-family model from a
//! sentence-transformers folder (`config.json`, `model.safetensors`, `tokenizer.json`,
//! `1_Pooling/config.json`, and a `Normalize` module in `modules.json` when the model
//! normalises), run with candle on the CPU.
//!
//! A submission's title and abstract and each of a reviewer's past papers are embedded (mean or
//! CLS pooling, unit length); a pair's affinity is the mean cosine of the reviewer's `top_k` past
//! papers most similar to the submission (0 below 0). Texts are embedded in batches of similar
//! length (sorted by token count, so padding is small), on both cores, with a progress bar on
//! stderr; with an [`EmbeddingCache`], a text embedded once by a model is never embedded again by
//! it, across runs and venues.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use rayon::prelude::*;
use tokenizers::Tokenizer;

use super::SparseRows;
use crate::error::{Error, Result};
use crate::model::{SCORE_SCALE, Venue};

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
    model: BertModel,
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
        let weights = dir.join("model.safetensors");
        let device = Device::Cpu;
        // SAFETY: the weights file is mapped read-only for the model's life; changing it while
        // papermatch runs is not supported.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&weights], DType::F32, &device) }
            .map_err(|e| model_error(dir, format!("model.safetensors: {e}")))?;
        let model = BertModel::load(vb, &config)
            .map_err(|e| model_error(dir, format!("not a BERT-family model: {e}")))?;
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
        let encodings: Vec<(usize, Vec<u32>)> = todo
            .par_iter()
            .map(|&i| {
                self.tokenizer
                    .encode(texts[i].as_str(), true)
                    .map(|e| (i, e.get_ids().to_vec()))
                    .map_err(|e| Error::Solver(format!("tokenizing: {e}")))
            })
            .collect::<Result<_>>()?;
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&k| (encodings[k].1.len(), k));
        let bar = crate::progress::bar(progress, order.len() as u64, "embedding texts");
        // Batches of 8: larger ones only add attention memory (measured: 8 is as fast as 16 or
        // 32 and takes a quarter of the memory).
        const BATCH: usize = 8;
        keep_large_allocations();
        for chunk in order.chunks(BATCH) {
            let rows: Vec<&Vec<u32>> = chunk.iter().map(|&k| &encodings[k].1).collect();
            let vectors = self.forward(&rows)?;
            for (&k, v) in chunk.iter().zip(vectors) {
                let i = encodings[k].0;
                if let Some(c) = cache.as_deref_mut() {
                    c.put(&self.key, &texts[i], v.clone());
                }
                out[i] = Some(v);
            }
            bar.inc(chunk.len() as u64);
        }
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

    /// One batch of token ids (padded to the longest) through the model, pooled.
    fn forward(&self, rows: &[&Vec<u32>]) -> Result<Vec<Vec<f32>>> {
        let err = |e: candle_core::Error| Error::Solver(format!("text model: {e}"));
        let len = rows.iter().map(|r| r.len()).max().unwrap_or(1).max(1);
        let mut ids = Vec::with_capacity(rows.len() * len);
        let mut mask = Vec::with_capacity(rows.len() * len);
        for r in rows {
            ids.extend(r.iter().copied());
            ids.extend(std::iter::repeat_n(0u32, len - r.len()));
            mask.extend(std::iter::repeat_n(1u32, r.len()));
            mask.extend(std::iter::repeat_n(0u32, len - r.len()));
        }
        let device = Device::Cpu;
        let ids = Tensor::from_vec(ids, (rows.len(), len), &device).map_err(err)?;
        let mask_t = Tensor::from_vec(mask.clone(), (rows.len(), len), &device).map_err(err)?;
        let types = ids.zeros_like().map_err(err)?;
        let hidden = self
            .model
            .forward(&ids, &types, Some(&mask_t))
            .map_err(err)?;
        let hidden: Vec<Vec<Vec<f32>>> = hidden.to_vec3().map_err(err)?;
        Ok(hidden
            .into_iter()
            .enumerate()
            .map(|(b, tokens)| {
                let n = rows[b].len().max(1);
                let mut v = match self.pooling {
                    Pooling::Cls => tokens[0].clone(),
                    Pooling::Mean => {
                        let mut acc = vec![0f32; self.dim];
                        for t in tokens.iter().take(n) {
                            for (a, x) in acc.iter_mut().zip(t) {
                                *a += x;
                            }
                        }
                        acc.iter_mut().for_each(|a| *a /= n as f32);
                        acc
                    }
                };
                if self.normalize {
                    normalize(&mut v);
                }
                v
            })
            .collect())
    }
}

/// The model's temporary tensors are tens of megabytes; glibc's malloc hands such blocks back
/// to the kernel with `munmap` after each use and faults them in again for the next batch, which
/// took a third of the run (system time). Raising its thresholds keeps them in the heap: 300 texts
/// in 13.8 s instead of 20.7 s on 2 cores. Process-wide, once; other allocators are unaffected.
fn keep_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt only changes allocator thresholds; it is safe at any time.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30);
                libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
            }
        });
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
    h.write(format!("{pooling:?}{normalize}{max_tokens}").as_bytes());
    Ok(format!("{:016x}", h.0))
}

/// 64-bit FNV-1a, for cache keys.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x100_0000_01b3);
        }
    }
}

fn text_key(text: &str) -> u128 {
    let mut a = Fnv::default();
    a.write(text.as_bytes());
    let mut b = Fnv(0x6c62_272e_07bb_0142);
    b.write(text.as_bytes());
    (a.0 as u128) << 64 | b.0 as u128
}

/// Embeddings kept across runs: one file per model under a directory, appended to as texts are
/// embedded (`<model key>.emb`: records of a 16-byte text hash and the vector's f32s).
#[derive(Debug, Default)]
pub struct EmbeddingCache {
    dir: PathBuf,
    loaded: HashMap<String, HashMap<u128, Vec<f32>>>,
    fresh: HashMap<String, Vec<(u128, Vec<f32>)>>,
}

impl EmbeddingCache {
    /// A cache under `dir` (created when saving).
    pub fn new(dir: &Path) -> EmbeddingCache {
        EmbeddingCache {
            dir: dir.to_path_buf(),
            ..EmbeddingCache::default()
        }
    }

    fn file(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.emb"))
    }

    fn load(&mut self, key: &str) {
        if self.loaded.contains_key(key) {
            return;
        }
        let mut map = HashMap::new();
        if let Ok(bytes) = std::fs::read(self.file(key))
            && bytes.len() >= 4
        {
            let dim = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes")) as usize;
            let rec = 16 + 4 * dim;
            for r in bytes[4..].chunks_exact(rec) {
                let k = u128::from_le_bytes(r[..16].try_into().expect("16 bytes"));
                let v = r[16..]
                    .chunks_exact(4)
                    .map(|x| f32::from_le_bytes(x.try_into().expect("4 bytes")))
                    .collect();
                map.insert(k, v);
            }
        }
        self.loaded.insert(key.to_string(), map);
    }

    fn get(&self, key: &str, text: &str) -> Option<&Vec<f32>> {
        self.loaded.get(key)?.get(&text_key(text))
    }

    fn put(&mut self, key: &str, text: &str, v: Vec<f32>) {
        let k = text_key(text);
        self.fresh
            .entry(key.to_string())
            .or_default()
            .push((k, v.clone()));
        self.loaded.entry(key.to_string()).or_default().insert(k, v);
    }

    /// Appends the embeddings computed since the last save to their files.
    pub fn save(&mut self) -> Result<()> {
        for (key, rows) in std::mem::take(&mut self.fresh) {
            if rows.is_empty() {
                continue;
            }
            std::fs::create_dir_all(&self.dir)
                .map_err(|e| Error::io("cannot create", &self.dir, e))?;
            let path = self.file(&key);
            let new = !path.exists();
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| Error::io("cannot write", &path, e))?;
            let mut buf = Vec::new();
            if new {
                buf.extend_from_slice(&(rows[0].1.len() as u32).to_le_bytes());
            }
            for (k, v) in rows {
                buf.extend_from_slice(&k.to_le_bytes());
                for x in v {
                    buf.extend_from_slice(&x.to_le_bytes());
                }
            }
            f.write_all(&buf)
                .map_err(|e| Error::io("cannot write", &path, e))?;
        }
        Ok(())
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
        }
    }
}

/// A submission's text: its title and abstract.
fn paper_text(title: &str, abstract_text: &str) -> String {
    match (title.trim(), abstract_text.trim()) {
        (t, "") => t.to_string(),
        ("", a) => a.to_string(),
        (t, a) => format!("{t}. {a}"),
    }
}

/// The neural affinity of a venue: papers × reviewers, each pair the mean cosine of the
/// reviewer's `top_k` most similar past papers (negative cosines count as 0).
pub fn neural_affinity(venue: &Venue, opts: &NeuralOptions) -> Result<SparseRows> {
    let model = TextModel::load(&opts.model, opts.max_tokens)?;
    let mut cache = opts.cache.as_deref().map(EmbeddingCache::new);
    if let Some(c) = cache.as_mut() {
        c.load(&model.key);
    }
    let papers: Vec<String> = venue
        .papers
        .iter()
        .map(|p| paper_text(&p.title, &p.abstract_text))
        .collect();
    let mut past: Vec<String> = Vec::new();
    let mut owner: Vec<usize> = Vec::new();
    for (r, list) in venue.reviewer_papers.iter().enumerate() {
        for p in list {
            past.push(paper_text(&p.title, &p.abstract_text));
            owner.push(r);
        }
    }
    let n_papers = papers.len();
    let mut all = papers;
    all.extend(past);
    let vectors = model.embed(&all, cache.as_mut(), opts.progress)?;
    if let Some(c) = cache.as_mut() {
        c.save()?;
    }
    let (pv, rv) = vectors.split_at(n_papers);
    let nr = venue.reviewers.len();
    let mut by_reviewer: Vec<Vec<&Vec<f32>>> = vec![Vec::new(); nr];
    for (v, &r) in rv.iter().zip(&owner) {
        if r < nr {
            by_reviewer[r].push(v);
        }
    }
    let k = opts.top_k.max(1);
    let rows: Vec<Vec<(u32, i32)>> = pv
        .par_iter()
        .map(|p| {
            let mut row = Vec::new();
            let mut sims: Vec<f32> = Vec::new();
            for (r, list) in by_reviewer.iter().enumerate() {
                if list.is_empty() {
                    continue;
                }
                sims.clear();
                sims.extend(list.iter().map(|q| cosine(p, q)));
                sims.sort_unstable_by(|a, b| b.total_cmp(a));
                let n = k.min(sims.len());
                let mean = sims[..n].iter().sum::<f32>() / n as f32;
                let units = (mean.clamp(0.0, 1.0) as f64 * SCORE_SCALE as f64).round() as i32;
                if units > 0 {
                    row.push((r as u32, units));
                }
            }
            row
        })
        .collect();
    Ok(SparseRows::from_rows(nr, rows))
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut ab, mut aa, mut bb) = (0f32, 0f32, 0f32);
    for (x, y) in a.iter().zip(b) {
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        0.0
    } else {
        ab / (aa.sqrt() * bb.sqrt())
    }
}
