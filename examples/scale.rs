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

use std::time::Instant;

use papermatch::generate::{GenerateSpec, Layout, write_venue};
use papermatch::io::ReadOptions;
use papermatch::{AssignOptions, Instance};

fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_mb() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or("-".into(), |kb| format!("{:.0}", kb / 1024.0))
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
    let fair = args.iter().any(|a| a == "--fair");
    let rules = args.iter().any(|a| a == "--rules");
    let mut sizes: Vec<String> = args.into_iter().filter(|a| !a.starts_with("--")).collect();
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
        let opts = AssignOptions {
            read: ReadOptions {
                default_demand: demand,
                ..ReadOptions::default()
            },
            ..AssignOptions::default()
        };
        let venue = stage("read", || {
            papermatch::io::read_venue_dir(dir.path(), &opts.read)
        })?;
        let instance = stage("affinity + conflicts", || Instance::new(venue, &opts))?;
        let solution = stage("solve (+ check)", || instance.assign(&opts))?;
        let out = dir.path().join("assignments.csv");
        stage("write", || {
            papermatch::report::write_assignment(&out, &instance.problem(), &solution.assignment)
        })?;
        if fair {
            let f = stage("fair (max-min, then total)", || {
                papermatch::solve::fair::solve_fair(
                    &instance.problem(),
                    &opts.solve,
                    &papermatch::solve::fair::FairOptions {
                        objective: papermatch::solve::fair::Objective::Fair,
                        ..Default::default()
                    },
                )
            })?;
            let r = &f.rounds[0];
            println!(
                "  worst paper {} (bound {}), total {} (bound {}), {} flow solves",
                papermatch::model::format_units(r.worst),
                papermatch::model::format_units(r.bound),
                papermatch::model::format_units(f.objective),
                papermatch::model::format_units(f.objective_bound),
                f.flow_solves
            );
        }
        if rules && layout == Layout::Keywords {
            use papermatch::solve::rules::{Bound, Rule, RuleOptions, groups, solve_rules};
            let rules = [
                Rule::parse(Bound::AtLeast, "1 seniority=senior")?,
                Rule::parse(Bound::AtMost, "1 per institution")?,
            ];
            let g = groups(&rules, &instance.venue.reviewers)?;
            let s = stage("rules (senior + institution cap)", || {
                solve_rules(&instance.problem(), &g, &RuleOptions::default())
            })?;
            println!(
                "  {}: total {} (bound {})",
                s.method,
                papermatch::model::format_units(s.objective),
                papermatch::model::format_units(s.bound)
            );
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
