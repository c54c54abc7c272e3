//! Review-cycle harness: on a venue with reciprocal reviewing, the loss and time of
//! `--no-review-cycles 2` and `3` against the naive method (after each solve, ban the
//! lower-scored pair of every cycle found; re-solve until none is left).
//!
//! ```sh
//! cargo run --release --example cycles -- 3000x3000 [SEED]
//! cargo run --release --example cycles -- VENUE_DIR
//! ```

use std::time::Instant;

use papermatch::conflicts::{Conflicts, Reasons};
use papermatch::generate::{GenerateSpec, Layout, write_venue};
use papermatch::io::ReadOptions;
use papermatch::solve::cycles::{CycleRule, find_cycles, review_graph};
use papermatch::solve::{Problem, Requirements, assign};
use papermatch::{AssignOptions, Instance};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let first = args.first().map_or("3000x3000", String::as_str);
    let seed: u64 = args.get(1).map_or(Ok(1), |s| s.parse())?;
    let tmp = tempfile::tempdir()?;
    // A venue folder, or a size to generate.
    let (dir, name) = if std::path::Path::new(first).is_dir() {
        (std::path::PathBuf::from(first), first.to_string())
    } else {
        let (p, r) = first
            .split_once('x')
            .ok_or("size must be PxR or a venue folder")?;
        let spec = GenerateSpec {
            papers: p.parse()?,
            reviewers: r.parse()?,
            seed,
            layout: Layout::Reciprocal,
            ..GenerateSpec::default()
        };
        write_venue(&spec, tmp.path())?;
        (
            tmp.path().to_path_buf(),
            format!("{p}x{r} reciprocal, seed {seed}"),
        )
    };
    let files = papermatch::io::VenueFiles::from_dir(&dir)?;
    let instance = Instance::from_files(
        &files,
        &AssignOptions {
            read: ReadOptions::default(),
            ..AssignOptions::default()
        },
    )?;
    let pb = instance.problem();
    let start = Instant::now();
    let plain = assign(&pb, &Requirements::default())?;
    let t0 = start.elapsed().as_secs_f64();
    println!(
        "{name}: plain total {:.6} in {t0:.2} s",
        plain.objective as f64 / 1e6
    );
    for length in [2, 3] {
        let rule = CycleRule::from_venue(&instance.venue, length)?;
        let c = find_cycles(&plain.assignment, &rule.authors, length);
        println!(
            "  L = {length}: {} mutual pairs, {} rings in the plain optimum",
            c.two.len(),
            c.three.len()
        );
        let start = Instant::now();
        let (total, solves) = naive(&pb, &rule)?;
        let t = start.elapsed().as_secs_f64();
        println!(
            "    naive (ban the lower-scored pair):  loss {:.3} %, {solves} solves, {t:.2} s",
            100.0 * (plain.objective - total) as f64 / plain.objective as f64
        );
        let start = Instant::now();
        let req = Requirements {
            cycles: Some(rule.clone()),
            ..Requirements::default()
        };
        let out = assign(&pb, &req)?;
        let t = start.elapsed().as_secs_f64();
        let f = out.cycles.as_ref().expect("cycle figures");
        println!(
            "    papermatch:                         loss {:.3} %, {} solves, {t:.2} s ({:.1}x plain)",
            100.0 * (plain.objective - out.objective) as f64 / plain.objective as f64,
            f.solves,
            t / t0
        );
    }
    Ok(())
}

/// Bans the lower-scored pair of every cycle found, re-solving until none is left: the total
/// and the number of solves.
fn naive(pb: &Problem<'_>, rule: &CycleRule) -> Result<(i64, usize), papermatch::Error> {
    let mut bans: Vec<(u32, u32, Reasons)> = Vec::new();
    let mut solves = 0;
    loop {
        let mut pairs: Vec<(u32, u32, Reasons)> =
            pb.conflicts.iter().map(|(p, r, w)| (p.0, r.0, w)).collect();
        pairs.extend(bans.iter().copied());
        let conflicts = Conflicts::from_pairs(pb.n_papers(), pairs);
        let banned = Problem {
            conflicts: &conflicts,
            ..pb.clone()
        };
        let out = assign(&banned, &Requirements::default())?;
        solves += 1;
        let c = find_cycles(&out.assignment, &rule.authors, rule.length);
        if c.two.is_empty() && c.three.is_empty() {
            return Ok((out.objective, solves));
        }
        let edges = review_graph(&out.assignment, &rule.authors);
        let mut cycles: Vec<Vec<(u32, u32)>> =
            c.two.iter().map(|&(x, y)| vec![(x, y), (y, x)]).collect();
        cycles.extend(
            c.three
                .iter()
                .map(|&(x, y, z)| vec![(x, y), (y, z), (z, x)]),
        );
        for cycle in cycles {
            let lowest = cycle
                .iter()
                .flat_map(|e| edges[e].iter().map(move |&p| (p, e.0)))
                .min_by_key(|&(p, r)| (pb.affinity.get(p as usize, r as usize), p, r))
                .expect("a cycle has pairs");
            bans.push((lowest.0, lowest.1, Reasons::DECLARED));
        }
    }
}
