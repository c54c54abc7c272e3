//! Synthetic venues of any size, for benchmarks, tests and users trying papermatch out.
//!
//! Structure: `T` topics (`T = clamp(√P, 8, 200)`) with skewed popularity. Every paper and
//! reviewer has a primary and a secondary topic with a random mix; the latent similarity of a
//! pair is the cosine of their topic mixtures.
//!
//! - **`scores` layout**: a dense `scores.csv` with `score = 0.75 · similarity + 0.25 · u²`
//!   (`u` uniform noise), six decimals, plus a `conflicts.csv` with about 1 % of the pairs.
//! - **`keywords` layout**: `papers.csv` (3–6 keywords of the primary topic, usually one of the
//!   secondary, sometimes a random one; 2–4 authors, some of them reviewers; a `demand` column)
//!   and `reviewers.csv` (keywords of both topics, a `seniority` column (about 30 % senior), an
//!   e-mail at one of `R/50` institutions or at
//!   a webmail domain, a `max_load` column), plus a few declared conflicts. Authors come from
//!   twice as many institutions as reviewers, half of them without reviewers. Authorship, institution
//!   and domain rules then give about 1 % conflicts.
//!
//! Every paper and reviewer draws from its own ChaCha8 stream seeded by `(seed, index)`, so the
//! output is byte-identical for the same spec whatever the number of threads. The maximum load is
//! raised when needed so that total capacity is at least 1.1 × total demand.

use std::io::Write;
use std::path::Path;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::error::{Error, Result};

/// Which files to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// `scores.csv` + `conflicts.csv`.
    #[default]
    Scores,
    /// `papers.csv` + `reviewers.csv` + `conflicts.csv`.
    Keywords,
    /// `papers.csv` (titles and abstracts) + `reviewers.csv` + `reviewer_papers.csv` (20 past
    /// papers per reviewer), for text affinity.
    Text,
    /// The `keywords` layout of a venue with reciprocal reviewing: most papers are written by
    /// reviewers of their own area, and `reviewer_papers.csv` lists each reviewer's past papers
    /// (a title in words of their topics) with co-authors (mostly reviewers of the same area)
    /// and years.
    Reciprocal,
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateSpec {
    /// Number of papers.
    pub papers: usize,
    /// Number of reviewers.
    pub reviewers: usize,
    /// Random seed.
    pub seed: u64,
    /// Which files.
    pub layout: Layout,
    /// Reviewers per paper.
    pub demand: u32,
    /// Maximum load (raised if capacity would fall short).
    pub max_load: u32,
}

impl Default for GenerateSpec {
    fn default() -> GenerateSpec {
        GenerateSpec {
            papers: 100,
            reviewers: 150,
            seed: 1,
            layout: Layout::Scores,
            demand: 3,
            max_load: 6,
        }
    }
}

impl GenerateSpec {
    /// The maximum load actually used: at least `max_load`, and enough for 1.1 × total demand.
    pub fn effective_max_load(&self) -> u32 {
        let need =
            (self.papers as f64 * self.demand as f64 * 1.1 / self.reviewers.max(1) as f64).ceil();
        self.max_load.max(need as u32)
    }

    fn topics(&self) -> usize {
        ((self.papers as f64).sqrt() as usize).clamp(8, 200)
    }
}

/// A stream of random numbers for entity `index` of kind `kind`.
fn stream(seed: u64, kind: u64, index: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(kind << 40 | index as u64);
    rng
}

/// Primary topic, secondary topic and the primary's share.
#[derive(Clone, Copy)]
struct Profile {
    a: usize,
    b: usize,
    mix: f64,
}

fn profile(rng: &mut ChaCha8Rng, topics: usize) -> Profile {
    // Popularity ∝ 1/√(t+1): draw by inverse transform on a few tries.
    let skewed = |rng: &mut ChaCha8Rng| -> usize {
        let u: f64 = rng.random();
        ((u * u) * topics as f64) as usize % topics
    };
    let a = skewed(rng);
    let mut b = rng.random_range(0..topics);
    if b == a {
        b = (a + 1) % topics;
    }
    Profile {
        a,
        b,
        mix: rng.random_range(0.6..0.95),
    }
}

fn similarity(x: Profile, y: Profile) -> f64 {
    let dot = |t: usize, p: Profile| {
        if t == p.a {
            p.mix
        } else if t == p.b {
            1.0 - p.mix
        } else {
            0.0
        }
    };
    let num = x.mix * dot(x.a, y) + (1.0 - x.mix) * dot(x.b, y);
    let norm = |p: Profile| (p.mix * p.mix + (1.0 - p.mix) * (1.0 - p.mix)).sqrt();
    num / (norm(x) * norm(y))
}

/// Appends fixed-point units (0..=10⁶) as a six-decimal number.
fn push_units(buf: &mut Vec<u8>, u: u32) {
    let whole = u / 1_000_000;
    let mut frac = u % 1_000_000;
    buf.push(b'0' + whole as u8);
    buf.push(b'.');
    let mut digits = [b'0'; 6];
    for d in digits.iter_mut().rev() {
        *d = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    buf.extend_from_slice(&digits);
}

/// Writes a file of `n_items` items in order, produced in parallel blocks by `item`.
fn write_blocks(
    dir: &Path,
    name: &str,
    header: &str,
    n_items: usize,
    item: impl Fn(usize, &mut Vec<u8>) + Sync,
) -> Result<()> {
    const BLOCK: usize = 256;
    crate::io::write_atomic(&dir.join(name), |w| {
        w.write_all(header.as_bytes())?;
        for start in (0..n_items).step_by(BLOCK) {
            let end = (start + BLOCK).min(n_items);
            let bufs: Vec<Vec<u8>> = (start..end)
                .into_par_iter()
                .map(|i| {
                    let mut b = Vec::new();
                    item(i, &mut b);
                    b
                })
                .collect();
            for b in bufs {
                w.write_all(&b)?;
            }
        }
        Ok(())
    })
}

/// Generates the venue described by `spec` into `dir` (created if needed); returns the file names.
///
/// ```
/// use papermatch::generate::{write_venue, GenerateSpec};
/// let dir = tempfile::tempdir()?;
/// let files = write_venue(&GenerateSpec { papers: 20, reviewers: 30, ..Default::default() }, dir.path())?;
/// assert_eq!(files, ["scores.csv", "conflicts.csv"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_venue(spec: &GenerateSpec, dir: &Path) -> Result<Vec<String>> {
    if spec.papers == 0 || spec.reviewers == 0 {
        return Err(Error::Options(
            "generate needs at least one paper and one reviewer".into(),
        ));
    }
    if spec.demand as usize > spec.reviewers {
        return Err(Error::Options(format!(
            "a demand of {} needs at least that many reviewers",
            spec.demand
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, e))?;
    let topics = spec.topics();
    let papers: Vec<Profile> = (0..spec.papers)
        .map(|p| profile(&mut stream(spec.seed, 1, p), topics))
        .collect();
    let reviewers: Vec<Profile> = (0..spec.reviewers)
        .map(|r| profile(&mut stream(spec.seed, 2, r), topics))
        .collect();
    match spec.layout {
        Layout::Scores => {
            write_blocks(
                dir,
                "scores.csv",
                "paper_id,reviewer_id,score\n",
                spec.papers,
                |p, buf| {
                    let mut rng = stream(spec.seed, 3, p);
                    buf.reserve(spec.reviewers * 20);
                    for (r, &rp) in reviewers.iter().enumerate() {
                        let u: f64 = rng.random();
                        let s = 0.75 * similarity(papers[p], rp) + 0.25 * u * u;
                        let units = (s * 1e6).round().clamp(0.0, 1e6) as u32;
                        write!(buf, "p{p},r{r},").expect("writing to a Vec");
                        push_units(buf, units);
                        buf.push(b'\n');
                    }
                },
            )?;
            write_blocks(
                dir,
                "conflicts.csv",
                "paper_id,reviewer_id,reason\n",
                spec.papers,
                |p, buf| {
                    let mut rng = stream(spec.seed, 4, p);
                    let n = (spec.reviewers as f64 * 0.01 * rng.random_range(0.5..1.5)).round()
                        as usize;
                    let mut picks: Vec<usize> = (0..n)
                        .map(|_| rng.random_range(0..spec.reviewers))
                        .collect();
                    picks.sort_unstable();
                    picks.dedup();
                    for r in picks {
                        writeln!(buf, "p{p},r{r},generated").expect("writing to a Vec");
                    }
                },
            )?;
            Ok(vec!["scores.csv".into(), "conflicts.csv".into()])
        }
        Layout::Text => {
            write_text_venue(spec, dir, &papers, &reviewers, topics)?;
            Ok(vec![
                "papers.csv".into(),
                "reviewers.csv".into(),
                "reviewer_papers.csv".into(),
            ])
        }
        Layout::Keywords | Layout::Reciprocal => {
            write_keyword_venue(spec, dir, &papers, &reviewers, topics)
        }
    }
}

/// The `keywords` and `reciprocal` layouts.
fn write_keyword_venue(
    spec: &GenerateSpec,
    dir: &Path,
    papers: &[Profile],
    reviewers: &[Profile],
    topics: usize,
) -> Result<Vec<String>> {
    let reciprocal = spec.layout == Layout::Reciprocal;
    let institutions = (spec.reviewers / 50).max(10);
    let keyword = |t: usize, k: usize| format!("topic {t:03} method {k:02}");
    const PER_TOPIC: usize = 12;
    let pick_keywords = |rng: &mut ChaCha8Rng, t: usize, n: usize, out: &mut Vec<String>| {
        let mut ks: Vec<usize> = (0..PER_TOPIC).collect();
        for i in 0..n.min(PER_TOPIC) {
            let j = rng.random_range(i..PER_TOPIC);
            ks.swap(i, j);
            out.push(keyword(t, ks[i]));
        }
    };
    let reviewer_inst: Vec<(usize, bool)> = (0..spec.reviewers)
        .map(|r| {
            let mut rng = stream(spec.seed, 5, r);
            (rng.random_range(0..institutions), rng.random::<f64>() < 0.1)
        })
        .collect();
    let max_load = spec.effective_max_load();
    let email_domain = |r: usize| {
        let (inst, webmail) = reviewer_inst[r];
        if webmail {
            "gmail.com".to_string()
        } else {
            format!("inst{inst}.edu")
        }
    };
    let reviewer_email = |r: usize| format!("r{r}@{}", email_domain(r));
    // Reviewers by primary topic, for authors of the same area.
    let mut by_topic: Vec<Vec<usize>> = vec![Vec::new(); topics];
    for (r, prof) in reviewers.iter().enumerate() {
        by_topic[prof.a].push(r);
    }
    let same_area = |rng: &mut ChaCha8Rng, t: usize| -> usize {
        let list = &by_topic[t];
        if list.is_empty() {
            rng.random_range(0..spec.reviewers)
        } else {
            list[rng.random_range(0..list.len())]
        }
    };
    write_blocks(
        dir,
        "reviewers.csv",
        "reviewer_id,name,email,institution,seniority,keywords,max_load\n",
        spec.reviewers,
        |r, buf| {
            let mut rng = stream(spec.seed, 6, r);
            let prof = reviewers[r];
            let mut kws = Vec::new();
            let (na, nb) = (rng.random_range(4..=10), rng.random_range(2..=4));
            pick_keywords(&mut rng, prof.a, na, &mut kws);
            pick_keywords(&mut rng, prof.b, nb, &mut kws);
            let inst = reviewer_inst[r].0;
            let domain = email_domain(r);
            // About a third of the reviewers are senior, from a stream of their own.
            let senior = stream(spec.seed, 12, r).random::<f64>() < 0.3;
            writeln!(
                buf,
                "r{r},Reviewer {r},r{r}@{domain},Institute {inst},{},{},{max_load}",
                if senior { "senior" } else { "junior" },
                kws.join(";")
            )
            .expect("writing to a Vec");
        },
    )?;
    write_blocks(
        dir,
        "papers.csv",
        "paper_id,title,keywords,authors,demand\n",
        spec.papers,
        |p, buf| {
            let mut rng = stream(spec.seed, 7, p);
            let prof = papers[p];
            let mut kws = Vec::new();
            let na = rng.random_range(3..=6);
            pick_keywords(&mut rng, prof.a, na, &mut kws);
            if rng.random::<f64>() < 0.7 {
                pick_keywords(&mut rng, prof.b, 1, &mut kws);
            }
            if rng.random::<f64>() < 0.2 {
                let t = rng.random_range(0..topics);
                pick_keywords(&mut rng, t, 1, &mut kws);
            }
            let n_auth = rng.random_range(2..=4);
            let authors: Vec<String> = (0..n_auth)
                .map(|j| {
                    if reciprocal && (j == 0 || rng.random::<f64>() < 0.5) {
                        // A reviewer of the paper's area, by e-mail or by id.
                        let r = same_area(&mut rng, prof.a);
                        if rng.random::<bool>() {
                            format!("r{r}")
                        } else {
                            reviewer_email(r)
                        }
                    } else if rng.random::<f64>() < 0.3 {
                        format!("r{}", rng.random_range(0..spec.reviewers))
                    } else {
                        // Half of the authors' institutions have no reviewers.
                        format!("a{p}.{j}@inst{}.edu", rng.random_range(0..2 * institutions))
                    }
                })
                .collect();
            writeln!(
                buf,
                "p{p},Synthetic study {p} of {},{},{},{}",
                kws[0],
                kws.join(";"),
                authors.join(";"),
                spec.demand
            )
            .expect("writing to a Vec");
        },
    )?;
    write_blocks(
        dir,
        "conflicts.csv",
        "paper_id,reviewer_id,reason\n",
        spec.papers,
        |p, buf| {
            let mut rng = stream(spec.seed, 8, p);
            if rng.random::<f64>() < 0.05 {
                let r = rng.random_range(0..spec.reviewers);
                writeln!(buf, "p{p},r{r},declared by the authors").expect("writing to a Vec");
            }
        },
    )?;
    let mut files = vec![
        "papers.csv".to_string(),
        "reviewers.csv".to_string(),
        "conflicts.csv".to_string(),
    ];
    if reciprocal {
        write_blocks(
            dir,
            "reviewer_papers.csv",
            "reviewer_id,title,authors,year\n",
            spec.reviewers,
            |r, buf| {
                let mut rng = stream(spec.seed, 13, r);
                for k in 0..8 {
                    let title = text(&mut rng, reviewers[r], 8);
                    let mut authors = vec![reviewer_email(r)];
                    for j in 0..rng.random_range(1..=3) {
                        authors.push(if rng.random::<f64>() < 0.6 {
                            format!("r{}", same_area(&mut rng, reviewers[r].a))
                        } else {
                            format!("x{r}.{k}.{j}@inst{}.edu", rng.random_range(0..institutions))
                        });
                    }
                    let year = rng.random_range(2012..=2025);
                    writeln!(buf, "r{r},{title},{},{year}", authors.join(";"))
                        .expect("writing to a Vec");
                }
            },
        )?;
        files.push("reviewer_papers.csv".into());
    }
    Ok(files)
}

/// Words of a synthetic text: topic words (200 per topic, Zipf-like) mixed with common words.
fn text(rng: &mut ChaCha8Rng, prof: Profile, n: usize) -> String {
    const COMMON: &[&str] = &[
        "model",
        "training",
        "method",
        "results",
        "performance",
        "data",
        "learning",
        "neural",
        "network",
        "approach",
        "efficient",
        "large",
        "show",
        "propose",
        "system",
        "time",
        "memory",
        "accuracy",
        "algorithm",
        "framework",
        "analysis",
        "problem",
        "novel",
        "scale",
    ];
    let mut words = Vec::with_capacity(n);
    for _ in 0..n {
        let u: f64 = rng.random();
        if u < 0.35 {
            words.push(COMMON[rng.random_range(0..COMMON.len())].to_string());
        } else {
            let topic = if rng.random::<f64>() < prof.mix {
                prof.a
            } else {
                prof.b
            };
            let z: f64 = rng.random();
            words.push(format!("topic{topic}word{}", (z * z * z * 200.0) as usize));
        }
    }
    words.join(" ")
}

fn write_text_venue(
    spec: &GenerateSpec,
    dir: &Path,
    papers: &[Profile],
    reviewers: &[Profile],
    _topics: usize,
) -> Result<()> {
    let max_load = spec.effective_max_load();
    write_blocks(
        dir,
        "reviewers.csv",
        "reviewer_id,name,max_load\n",
        spec.reviewers,
        |r, buf| {
            writeln!(buf, "r{r},Reviewer {r},{max_load}").expect("writing to a Vec");
        },
    )?;
    write_blocks(
        dir,
        "papers.csv",
        "paper_id,title,abstract,demand\n",
        spec.papers,
        |p, buf| {
            let mut rng = stream(spec.seed, 9, p);
            let (t, a) = (
                text(&mut rng, papers[p], 10),
                text(&mut rng, papers[p], 150),
            );
            writeln!(buf, "p{p},{t},{a},{}", spec.demand).expect("writing to a Vec");
        },
    )?;
    write_blocks(
        dir,
        "reviewer_papers.csv",
        "reviewer_id,title,abstract\n",
        spec.reviewers,
        |r, buf| {
            let mut rng = stream(spec.seed, 10, r);
            for _ in 0..20 {
                let (t, a) = (
                    text(&mut rng, reviewers[r], 10),
                    text(&mut rng, reviewers[r], 150),
                );
                writeln!(buf, "r{r},{t},{a}").expect("writing to a Vec");
            }
        },
    )
}
