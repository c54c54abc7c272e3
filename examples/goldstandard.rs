//! Measures text affinity on the gold-standard reviewer-expertise dataset (development half):
//! for each variant of the text model, the ranking loss on each version of the data and the mean.
//!
//! ```sh
//! cargo run --release --example goldstandard -- ../shared/data/goldstandard
//! ```
//!
//! The folder holds `evaluations_dev.tsv` (participants' expertise ratings; else any
//! `evaluations*.tsv`) and the versions `d_*` (`d_20_1`, `d_20_2`, `d_20_3`) in OpenReview's
//! expertise layout: the held-out half's folder works the same way. Lower is better; published: TPMS 0.313,
//! SPECTER 0.274, SPECTER+MFR (OpenReview's production model) 0.244.

use std::path::PathBuf;

use papermatch::affinity::blend;
use papermatch::affinity::goldstandard::{loss, loss_of, read_ratings};
use papermatch::affinity::neural::{Encoder, NeuralOptions, neural_affinity};
use papermatch::affinity::text::text_affinity;
use papermatch::affinity::text::{Aggregation, TextOptions, Weighting};
use papermatch::io::{ReadOptions, VenueFiles, read_venue};
use papermatch::model::Venue;
use papermatch::model::{AffinityMatrix, SparseRows};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| "../shared/data/goldstandard".into());
    // The ratings (`evaluations_dev.tsv`, or any `evaluations*.tsv`, e.g. the held-out half's)
    // and every version folder `d_*` beside them.
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let Some(evaluations) = names
        .iter()
        .find(|n| *n == "evaluations_dev.tsv")
        .or_else(|| {
            names
                .iter()
                .find(|n| n.starts_with("evaluations") && n.ends_with(".tsv"))
        })
    else {
        eprintln!(
            "no gold-standard data at {} (expected evaluations_dev.tsv): nothing to measure",
            dir.display()
        );
        return Ok(());
    };
    let ratings = read_ratings(&dir.join(evaluations))?;
    let versions: Vec<&str> = names
        .iter()
        .filter(|n| n.starts_with("d_") && dir.join(n).is_dir())
        .map(String::as_str)
        .collect();
    eprintln!("{evaluations} against {}", versions.join(", "));
    let venues: Vec<Venue> = versions
        .iter()
        .map(|v| {
            read_venue(
                &VenueFiles::from_dir(&dir.join(v))?,
                &ReadOptions::default(),
            )
        })
        .collect::<Result<_, _>>()?;
    let base = TextOptions::default();
    let tfidf = |aggregation, title_weight, bigram_weight| TextOptions {
        weighting: Weighting::TfIdf,
        aggregation,
        title_weight,
        bigram_weight,
        ..base.clone()
    };
    let mut variants: Vec<(String, TextOptions)> = Vec::new();
    if std::env::args().any(|a| a == "--grid") {
        for k in [3usize, 4, 5, 6, 8, 10] {
            for (tw, bw) in [(1.0, 0.0), (2.0, 0.0), (2.0, 0.5), (1.0, 0.5)] {
                variants.push((
                    format!("tf-idf, top-{k} mean, title {tw}, bigrams {bw}"),
                    tfidf(Aggregation::TopMean(k), tw, bw),
                ));
            }
        }
        for df in [0.1, 0.3, 1.0] {
            variants.push((
                format!("tf-idf, top-5 mean, title 2, bigrams 0.5, max df {df}"),
                TextOptions {
                    max_df: df,
                    ..tfidf(Aggregation::TopMean(5), 2.0, 0.5)
                },
            ));
        }
        for (k1, b) in [(1.2, 0.75), (1.5, 0.5), (0.9, 0.4)] {
            variants.push((
                format!("bm25 ({k1}, {b}), top-5 mean, title 2, bigrams 0.5"),
                TextOptions {
                    weighting: Weighting::Bm25 { k1, b },
                    ..tfidf(Aggregation::TopMean(5), 2.0, 0.5)
                },
            ));
        }
    } else {
        variants = vec![
            (
                "tf-idf, profile (= mean), title 1, no bigrams".into(),
                tfidf(Aggregation::Profile, 1.0, 0.0),
            ),
            (
                "tf-idf, max, title 1, no bigrams".into(),
                tfidf(Aggregation::Max, 1.0, 0.0),
            ),
            (
                "tf-idf, top-3 mean, title 1, no bigrams".into(),
                tfidf(Aggregation::TopMean(3), 1.0, 0.0),
            ),
            (
                "tf-idf, top-5 mean, title 1, no bigrams".into(),
                tfidf(Aggregation::TopMean(5), 1.0, 0.0),
            ),
            ("default".into(), base.clone()),
        ];
    }
    // A sentence-transformers folder: the neural model alone and blended with the default.
    let model = std::env::args()
        .skip_while(|a| a != "--text-model")
        .nth(1)
        .map(PathBuf::from);
    let mut matrices: Vec<(String, Vec<AffinityMatrix>)> = Vec::new();
    if let Some(model) = &model {
        let text: Vec<SparseRows> = venues.iter().map(|v| text_affinity(v, &base)).collect();
        for (name, encoder) in [("MiniLM", Encoder::Full), ("static", Encoder::Static)] {
            let mut opts = NeuralOptions::new(model);
            opts.cache = Some(std::env::temp_dir().join("papermatch-embeddings"));
            opts.progress = true;
            opts.encoder = encoder;
            let start = std::time::Instant::now();
            let neural: Vec<AffinityMatrix> = venues
                .iter()
                .map(|v| neural_affinity(v, &opts))
                .collect::<Result<_, _>>()?;
            eprintln!(
                "{name}: affinity of the {} versions in {:.1} s",
                venues.len(),
                start.elapsed().as_secs_f64()
            );
            for w in [1.0, 0.8, 0.6, 0.5, 0.4] {
                let blended = neural
                    .iter()
                    .zip(&text)
                    .map(|(n, t)| blend(n, t, w))
                    .collect();
                matrices.push((format!("{name} {w} + default text {:.1}", 1.0 - w), blended));
            }
        }
    }
    println!("| variant | {} | mean |", versions.join(" | "));
    println!("|---|{}---|", "---|".repeat(versions.len()));
    for (name, opts) in variants {
        let losses: Vec<f64> = venues.iter().map(|v| loss(v, &ratings, &opts)).collect();
        let mean = losses.iter().sum::<f64>() / losses.len() as f64;
        let cells: Vec<String> = losses.iter().map(|l| format!("{l:.4}")).collect();
        println!("| {name} | {} | **{mean:.4}** |", cells.join(" | "));
    }
    for (name, ms) in matrices {
        let losses: Vec<f64> = venues
            .iter()
            .zip(&ms)
            .map(|(v, m)| loss_of(v, &ratings, m))
            .collect();
        let mean = losses.iter().sum::<f64>() / losses.len() as f64;
        let cells: Vec<String> = losses.iter().map(|l| format!("{l:.4}")).collect();
        println!("| {name} | {} | **{mean:.4}** |", cells.join(" | "));
    }
    Ok(())
}
