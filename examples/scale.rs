//! Scale harness: generates venues and prints, per size, the wall time and peak memory of each
//! stage (generate, read, affinity + conflicts, solve, write).
//!
//! ```sh
//! cargo run --release --example scale -- 2000x3000 5000x7000 16000x20000:keywords:4
//! ```
//!
//! Each argument is `PAPERSxREVIEWERS[:scores|keywords[:DEMAND]]`. Peak memory is the process's
//! peak resident set during the stage (Linux: `VmHWM`, reset between stages through
//! `/proc/self/clear_refs`); elsewhere it prints `-`.
//!
//! `--text-model DIR` (a sentence-transformers folder) gives `text` venues the static neural
//! encoder, blended half and half with the lexical model, as `papermatch assign DIR --text-model
//! DIR --text-encoder static` does.
//!
//! Flags time more requirements on each venue, each through `papermatch::solve::assign`:
//! `--fair` (max-min objective), `--randomized` (caps 0.5), `--senior` (at least one senior
//! reviewer per paper), `--institution` (at most one per institution), `--rules` (both rules),
//! `--randomized-senior` (caps 0.5 with the senior rule), `--alternates` (3 per paper). The
//! rules need a keyword venue (it has the attributes).

mod common;

use std::time::Instant;

use papermatch::affinity::neural::{Encoder, NeuralOptions};
use papermatch::generate::{GenerateSpec, Layout, write_venue};
use papermatch::io::ReadOptions;
use papermatch::solve::fair::{FairOptions, Objective};
use papermatch::solve::randomized::ProbabilityCaps;
use papermatch::solve::rules::{Bound, Rule, RuleOptions, groups};
use papermatch::solve::{Randomization, Requirements, RuleSet};
use papermatch::{AssignOptions, Instance};

fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_mb() -> String {
    common::peak_rss_mb().map_or("-".into(), |mb| format!("{mb:.0}"))
}

fn stage<T>(name: &str, f: impl FnOnce() -> T) -> T {
    reset_peak();
    let start = Instant::now();
    let out = f();
    println!(
        "  {name:<22} {:>8.3} s {:>8} MB",
        start.elapsed().as_secs_f64(),
        peak_mb()
    );
    out
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `--fair` also times `--objective fair`; `--rules` (keyword venues) times one seniority
    // rule and one institution cap together.
    let flag = |f: &str| args.iter().any(|a| a == f);
    let mut sizes: Vec<String> = args
        .iter()
        .enumerate()
        .filter(|&(i, a)| !a.starts_with("--") && (i == 0 || args[i - 1] != "--text-model"))
        .map(|(_, a)| a.clone())
        .collect();
    if sizes.is_empty() {
        sizes = vec![
            "500x700".into(),
            "2000x3000".into(),
            "2000x3000:keywords".into(),
        ];
    }
    for arg in sizes {
        let mut parts = arg.split(':');
        let (p, r) = parts
            .next()
            .and_then(|s| s.split_once('x'))
            .ok_or("size must be PxR")?;
        let layout = match parts.next() {
            Some("keywords") => Layout::Keywords,
            Some("text") => Layout::Text,
            _ => Layout::Scores,
        };
        let demand: u32 = parts.next().map_or(Ok(3), str::parse)?;
        let spec = GenerateSpec {
            papers: p.parse()?,
            reviewers: r.parse()?,
            seed: 1,
            layout,
            demand,
            max_load: 6,
        };
        println!(
            "{arg} (demand {demand}, max load {})",
            spec.effective_max_load()
        );
        let dir = tempfile::tempdir()?;
        stage("generate", || write_venue(&spec, dir.path()))?;
        let mut opts = AssignOptions {
            read: ReadOptions {
                default_demand: demand,
                ..ReadOptions::default()
            },
            ..AssignOptions::default()
        };
        let model = args
            .iter()
            .position(|a| a == "--text-model")
            .and_then(|i| args.get(i + 1));
        if let (Layout::Text, Some(model)) = (layout, model) {
            let mut neural = NeuralOptions::new(std::path::Path::new(model));
            neural.encoder = Encoder::Static;
            opts.affinity.neural = Some(neural);
        }
        let venue = stage("read", || {
            papermatch::io::read_venue_dir(dir.path(), &opts.read)
        })?;
        let instance = stage("affinity + conflicts", || Instance::new(venue, &opts))?;
        let solution = stage("solve (+ check)", || instance.assign(&opts))?;
        let out = dir.path().join("assignments.csv");
        stage("write", || {
            papermatch::report::write_assignment(&out, &instance.problem(), &solution.assignment)
        })?;
        let keywords = layout == Layout::Keywords;
        let reviewers = &instance.venue.reviewers;
        let rule_set = |rules: &[(Bound, &str)]| -> Result<RuleSet, papermatch::Error> {
            let rules: Vec<Rule> = rules
                .iter()
                .map(|&(b, text)| Rule::parse(b, text))
                .collect::<Result<_, _>>()?;
            Ok(RuleSet {
                groups: groups(&rules, reviewers)?,
                rules,
                options: RuleOptions::default(),
            })
        };
        let caps = Some(Randomization {
            caps: ProbabilityCaps {
                default: 0.5,
                pairs: Vec::new(),
            },
            seed: 1,
            perturbation: None,
        });
        let senior = [(Bound::AtLeast, "1 seniority=senior")];
        let institution = [(Bound::AtMost, "1 per institution")];
        let mut runs: Vec<(&str, Requirements)> = Vec::new();
        if flag("--fair") {
            let fair = Some(FairOptions {
                objective: Objective::Fair,
                ..FairOptions::default()
            });
            runs.push((
                "fair (max-min, then total)",
                Requirements {
                    fair,
                    ..Requirements::default()
                },
            ));
        }
        if flag("--randomized") {
            runs.push((
                "randomized (caps 0.5)",
                Requirements {
                    randomized: caps.clone(),
                    ..Requirements::default()
                },
            ));
        }
        if keywords && flag("--senior") {
            runs.push((
                "at least 1 senior",
                Requirements {
                    rules: Some(rule_set(&senior)?),
                    ..Requirements::default()
                },
            ));
        }
        if keywords && flag("--institution") {
            runs.push((
                "at most 1 per institution",
                Requirements {
                    rules: Some(rule_set(&institution)?),
                    ..Requirements::default()
                },
            ));
        }
        if keywords && flag("--rules") {
            let both = [senior[0], institution[0]];
            runs.push((
                "both rules (crossing)",
                Requirements {
                    rules: Some(rule_set(&both)?),
                    ..Requirements::default()
                },
            ));
        }
        if keywords && flag("--randomized-senior") {
            runs.push((
                "randomized + senior",
                Requirements {
                    randomized: caps.clone(),
                    rules: Some(rule_set(&senior)?),
                    ..Requirements::default()
                },
            ));
        }
        for (name, req) in &runs {
            let out = stage(name, || papermatch::solve::assign(&instance.problem(), req))?;
            println!(
                "    {}: total {}, objective {} (bound {}, gap {}), worst paper {}",
                out.method,
                papermatch::model::format_units(out.total),
                papermatch::model::format_units(out.objective),
                papermatch::model::format_units(out.bound),
                papermatch::model::format_units(out.gap()),
                papermatch::model::format_units(
                    out.assignment
                        .paper_totals(&instance.affinity)
                        .into_iter()
                        .min()
                        .unwrap_or(0)
                ),
            );
        }
        if flag("--alternates") {
            let alt = dir.path().join("alternates.csv");
            stage("alternates (3 per paper)", || {
                papermatch::report::write_alternates(
                    &alt,
                    &instance.problem(),
                    &solution.assignment,
                    3,
                )
            })?;
        }
        let s = &solution.stats;
        println!(
            "  total affinity {}, {} candidate pairs of {}, {} pricing rounds",
            papermatch::model::format_units(solution.objective),
            s.candidate_pairs,
            s.eligible_pairs,
            s.pricing_rounds
        );
    }
    Ok(())
}
