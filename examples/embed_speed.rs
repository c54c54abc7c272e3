//! Neural embedding speed, side by side: papermatch's encoder against sentence-transformers on
//! PyTorch, on the same texts of a venue, on the same CPU.
//!
//! ```sh
//! cargo run --release --example embed_speed -- VENUE MODEL [--torch] [--install] [--batch 8,32]
//! ```
//!
//! - `VENUE`: a venue folder (e.g. `../shared/data/goldstandard/d_20_1`); its distinct texts are
//!   what a neural `affinity` run embeds: each submission's "title. abstract" and each past paper.
//! - `MODEL`: a sentence-transformers folder (`.ci/fetch-model` puts all-MiniLM-L6-v2 in
//!   `target/models/all-minilm-l6-v2`).
//! - `--torch`: also run sentence-transformers' `encode()` at each `--batch` size (default 8 and
//!   32), from `target/embed-speed/venv`; without that environment it is skipped with a message.
//! - `--install`: create that environment first (`pip install sentence-transformers`, a 3 GB
//!   download with the CUDA stack PyPI serves).
//!
//! papermatch runs in this process (model load, tokenizing and embedding; no cache); each torch
//! run is its own Python process, timed around `encode()` with the model loaded. Both use every
//! core (`RAYON_NUM_THREADS` and `torch.set_num_threads` follow `--threads N` when given). Prints
//! texts per second, peak memory, the largest cosine gap between the two sets of vectors, and
//! where papermatch's time goes, step by step.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use papermatch::affinity::neural::{TextModel, venue_texts};
use papermatch::io::{ReadOptions, VenueFiles, read_venue};

mod common;

const TORCH: &str = r#"
import json, sys, time, resource
import torch
from sentence_transformers import SentenceTransformer
texts_path, model_dir, batch, threads, out = sys.argv[1:6]
if int(threads) > 0:
    torch.set_num_threads(int(threads))
texts = [json.loads(l) for l in open(texts_path)]
model = SentenceTransformer(model_dir, device="cpu")
model.max_seq_length = 256
start = time.perf_counter()
vectors = model.encode(texts, batch_size=int(batch), convert_to_numpy=True)
seconds = time.perf_counter() - start
with open(out, "wb") as f:
    f.write(vectors.astype("<f4").tobytes())
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak, "threads": torch.get_num_threads()}))
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let positional: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let flag = |name: &str| args.iter().any(|a| a == name);
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    if flag("--kernels") {
        kernel_throughput();
        return Ok(());
    }
    let (Some(venue_dir), Some(model_dir)) = (positional.first(), positional.get(1)) else {
        eprintln!(
            "usage: embed_speed VENUE MODEL [--torch] [--install] [--batch 8,32] [--threads N]"
        );
        return Ok(());
    };
    let model_dir = PathBuf::from(model_dir);
    if !model_dir.join("config.json").exists() {
        eprintln!(
            "skipped: no sentence-transformers model at {}",
            model_dir.display()
        );
        return Ok(());
    }
    let threads: usize = value("--threads").map_or(Ok(0), |t| t.parse())?;
    if threads > 0 {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()?;
    }
    let venue = read_venue(
        &VenueFiles::from_dir(Path::new(venue_dir.as_str()))?,
        &ReadOptions::default(),
    )?;
    let mut texts = venue_texts(&venue).0;
    let mut seen = std::collections::HashSet::new();
    texts.retain(|t| seen.insert(t.clone()));
    let work = PathBuf::from("target/embed-speed");
    std::fs::create_dir_all(&work)?;
    let texts_path = work.join("texts.jsonl");
    let lines: Vec<String> = texts
        .iter()
        .map(|t| serde_json::to_string(t).expect("a string"))
        .collect();
    std::fs::write(&texts_path, lines.join("\n") + "\n")?;

    let start = Instant::now();
    let model = TextModel::load(&model_dir, 256)?;
    let vectors = model.embed(&texts, None, false)?;
    let seconds = start.elapsed().as_secs_f64();
    let tokenizing = Instant::now();
    let tokens: usize = model
        .token_ids(&texts.iter().map(String::as_str).collect::<Vec<_>>(), true)?
        .iter()
        .map(Vec::len)
        .sum();
    let tokenizing = tokenizing.elapsed();
    println!(
        "{} distinct texts, {:.0} tokens on average (cut at 256), {} threads",
        texts.len(),
        tokens as f64 / texts.len() as f64,
        rayon::current_num_threads()
    );
    println!("| | texts/s | peak memory |\n|---|---|---|");
    println!(
        "| papermatch (whole process: load, tokenize, embed) | {:.1} | {:.0} MB |",
        texts.len() as f64 / seconds,
        common::peak_rss_mb().unwrap_or(f64::NAN)
    );

    let python = work.join("venv/bin/python");
    if flag("--install") && !python.exists() {
        eprintln!(
            "creating {} with sentence-transformers…",
            work.join("venv").display()
        );
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(work.join("venv"))
            .status()?
            .success()
            && Command::new(work.join("venv/bin/pip"))
                .args(["install", "-q", "sentence-transformers"])
                .status()?
                .success();
        if !ok {
            eprintln!("installing sentence-transformers failed: torch skipped");
        }
    }
    if flag("--torch") {
        if !python.exists() {
            eprintln!(
                "skipped torch: no {} (run with --install to create it)",
                python.display()
            );
        } else {
            let script = work.join("torch_encode.py");
            std::fs::write(&script, TORCH)?;
            let batches = value("--batch").map_or("8,32", |b| b.as_str());
            for batch in batches.split(',') {
                let out = work.join(format!("torch-{batch}.f32"));
                let o = Command::new(&python)
                    .arg(&script)
                    .arg(&texts_path)
                    .arg(&model_dir)
                    .args([batch, &threads.to_string()])
                    .arg(&out)
                    .output()?;
                if !o.status.success() {
                    eprintln!("torch failed:\n{}", String::from_utf8_lossy(&o.stderr));
                    continue;
                }
                let report: serde_json::Value = serde_json::from_slice(&o.stdout)?;
                let theirs: Vec<f32> = std::fs::read(&out)?
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                    .collect();
                let gap = vectors
                    .iter()
                    .zip(theirs.chunks_exact(model.dim))
                    .map(|(a, b)| 1.0 - cosine(a, b))
                    .fold(0f64, f64::max);
                println!(
                    "| sentence-transformers, batch {batch}, {} threads (encode) | {:.1} | {:.0} MB |",
                    report["threads"],
                    texts.len() as f64 / report["seconds"].as_f64().unwrap_or(f64::NAN),
                    report["peak_mb"].as_f64().unwrap_or(f64::NAN)
                );
                println!("|   largest cosine gap to papermatch's vectors: {gap:.1e} | | |");
            }
        }
    }
    println!("\nwhere papermatch's time goes (summed over threads):");
    println!(
        "  {:<42} {:>7.2} s  (wall, both cores, part of the run above)",
        "tokenizing",
        tokenizing.as_secs_f64()
    );
    let times = model.op_times();
    let total: f64 = times.iter().map(|(_, d)| d.as_secs_f64()).sum();
    for (op, d) in times {
        println!(
            "  {op:<42} {:>7.2} s  {:>5.1} %",
            d.as_secs_f64(),
            100.0 * d.as_secs_f64() / total
        );
    }
    Ok(())
}

/// The matrix product's speed, one core, on the shapes of a MiniLM layer over a batch of 8 texts
/// of 216 tokens (`--kernels`).
fn kernel_throughput() {
    use papermatch::affinity::kernels::{Packed, gemm};
    let m = 8 * 216;
    for (name, k, n) in [
        ("query/key/value", 384, 1152),
        ("output", 384, 384),
        ("up", 384, 1536),
        ("down", 1536, 384),
        ("q·kᵀ (one head)", 32, 216),
        ("p·v (one head)", 216, 32),
    ] {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 97) as f32 / 97.0 - 0.5).collect();
        let w: Vec<f32> = (0..n * k).map(|i| (i % 89) as f32 / 89.0 - 0.5).collect();
        let b = Packed::from_weight(&w, n, k);
        let mut c = vec![0f32; m * n];
        // The best of 20 runs: this machine's neighbours make single runs noisy.
        let best = (0..20)
            .map(|_| {
                let start = Instant::now();
                gemm(&a, k, m, &b, &mut c, n, |_, _| {});
                start.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min);
        let flops = 2.0 * (m * k * n) as f64;
        println!(
            "{name:<18} {m} × {k} · {k} × {n}: {:.1} GFLOP/s",
            flops / best / 1e9
        );
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}
