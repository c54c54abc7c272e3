//! Quality of any assignment — papermatch's or another tool's — and comparisons of two.
//!
//! Figures: every broken constraint; total and mean affinity; the distribution of per-paper
//! totals (minimum, percentiles, maximum, mean, Gini coefficient); papers with no assigned
//! reviewer at or above an expertise threshold; the reviewer load histogram; how many assigned
//! pairs had each bid level (when the venue has bids); and the gap to the optimum, which
//! papermatch finds by solving the same venue.
//!
//! Percentiles are nearest-rank on the sorted per-paper totals (`x[round(q · (n − 1))]`). The
//! Gini coefficient is `Σ_i Σ_j |x_i − x_j| / (2 n² mean)`, 0 when every paper gets the same total.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::SCHEMA_VERSION;
use crate::model::{PaperIdx, ReviewerIdx, SCORE_SCALE, Venue, format_units, units_to_score};
use crate::solve::wef1::Envy;
use crate::solve::{Assignment, Problem, SolveOptions, verify};

/// How to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluateOptions {
    /// A reviewer is an expert for a paper when their affinity is at least this.
    pub expertise_threshold: f64,
    /// Solve the venue to report the gap to the optimum.
    pub compute_optimum: bool,
    /// How to solve for the optimum.
    pub solve: SolveOptions,
}

impl Default for EvaluateOptions {
    fn default() -> EvaluateOptions {
        EvaluateOptions {
            expertise_threshold: 0.5,
            compute_optimum: true,
            solve: SolveOptions::default(),
        }
    }
}

/// The distribution of a list of values.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Distribution {
    /// Smallest value.
    pub min: f64,
    /// 10th percentile.
    pub p10: f64,
    /// 25th percentile.
    pub p25: f64,
    /// Median.
    pub p50: f64,
    /// 75th percentile.
    pub p75: f64,
    /// 90th percentile.
    pub p90: f64,
    /// Largest value.
    pub max: f64,
    /// Mean.
    pub mean: f64,
    /// Gini coefficient (0 = all equal).
    pub gini: f64,
}

impl Distribution {
    /// The distribution of fixed-point values.
    pub fn of_units(values: &[i64]) -> Distribution {
        let mut v = values.to_vec();
        v.sort_unstable();
        if v.is_empty() {
            return Distribution::default();
        }
        let q = |f: f64| units_to_score(v[((v.len() - 1) as f64 * f).round() as usize]);
        let n = v.len() as f64;
        let sum: f64 = v.iter().map(|&x| x as f64).sum();
        let weighted: f64 = v
            .iter()
            .enumerate()
            .map(|(i, &x)| (i as f64 + 1.0) * x as f64)
            .sum();
        let gini = if sum > 0.0 {
            2.0 * weighted / (n * sum) - (n + 1.0) / n
        } else {
            0.0
        };
        Distribution {
            min: q(0.0),
            p10: q(0.1),
            p25: q(0.25),
            p50: q(0.5),
            p75: q(0.75),
            p90: q(0.9),
            max: q(1.0),
            mean: sum / n / SCORE_SCALE as f64,
            gini,
        }
    }
}

/// Assigned pairs per bid level (`no bid` for pairs without one); `None` when the venue has no
/// bids.
pub fn bid_counts(venue: &Venue, a: &Assignment) -> Option<BTreeMap<String, usize>> {
    if venue.bids.is_empty() {
        return None;
    }
    let level: HashMap<(u32, u32), &str> = venue
        .bids
        .iter()
        .map(|b| ((b.paper.0, b.reviewer.0), b.level.label()))
        .collect();
    let mut counts = BTreeMap::new();
    for (p, r) in a.pairs() {
        let l = level.get(&(p.0, r.0)).copied().unwrap_or("no bid");
        *counts.entry(l.to_string()).or_insert(0) += 1;
    }
    Some(counts)
}

/// `h[k]` is the number of reviewers with `k` papers.
pub fn load_histogram(a: &Assignment, n_reviewers: usize) -> Vec<usize> {
    let loads = a.loads(n_reviewers);
    let mut hist = vec![0usize; loads.iter().copied().max().unwrap_or(0) as usize + 1];
    for l in loads {
        hist[l as usize] += 1;
    }
    hist
}

/// The quality figures of one assignment (`papermatch evaluate`), versioned JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    /// Schema version ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Number of papers.
    pub papers: usize,
    /// Number of reviewers.
    pub reviewers: usize,
    /// Number of assigned pairs.
    pub pairs: usize,
    /// Whether every constraint holds.
    pub feasible: bool,
    /// Every broken constraint, described.
    pub violations: Vec<String>,
    /// Total affinity.
    pub total_affinity: f64,
    /// Total affinity, exact with six decimals.
    pub total_affinity_exact: String,
    /// Mean affinity of an assigned pair.
    pub mean_pair_affinity: f64,
    /// Distribution of per-paper totals.
    pub paper_scores: Distribution,
    /// The worst-served paper.
    pub worst_paper: String,
    /// The expertise threshold used.
    pub expertise_threshold: f64,
    /// Papers with no assigned reviewer at or above the threshold.
    pub papers_without_expert: Vec<String>,
    /// `load_histogram[k]` reviewers have `k` papers.
    pub load_histogram: Vec<usize>,
    /// Assigned pairs per bid level (`no bid` for pairs without one); absent without bids.
    pub bids: Option<BTreeMap<String, usize>>,
    /// The optimal total affinity of the venue, if computed.
    pub optimum: Option<f64>,
    /// `optimum − total`, if computed.
    pub gap: Option<f64>,
    /// `gap / optimum` in percent, if computed.
    pub gap_percent: Option<f64>,
    /// Why the optimum is missing (not requested, infeasible venue, …).
    pub optimum_note: Option<String>,
    /// Review cycles among reviewers who are authors: unordered pairs that review each other's
    /// papers, and directed three-reviewer cycles; absent when no author is a reviewer.
    pub review_cycles: Option<ReviewCycles>,
    /// For a randomized assignment whose marginal probabilities are given: how random it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub randomness: Option<Randomness>,
    /// Whether any paper envies another's reviewers beyond one, weighed by demand (WEF1).
    pub envy: Envy,
}

/// How random a randomized assignment is, from its marginal probabilities `x` (the figures Xu
/// et al., "A One-Size-Fits-All Approach to Improving Randomness in Paper Assignment", NeurIPS
/// 2023, report).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Randomness {
    /// `Σ x · affinity`.
    pub expected_total: f64,
    /// `expected_total` over the deterministic optimum, when it is known and positive.
    pub ratio_to_optimum: Option<f64>,
    /// The largest `x`.
    pub max_probability: f64,
    /// `√(Σ x²)`.
    pub l2_norm: f64,
    /// `−Σ x ln x`.
    pub entropy: f64,
    /// Pairs with `x > 0`.
    pub support: usize,
    /// For each threshold asked for, the expected number of assigned pairs scoring below it.
    pub bad_matches: Vec<BadMatches>,
}

/// The expected number of assigned pairs whose affinity is below `threshold`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BadMatches {
    /// The affinity threshold.
    pub threshold: f64,
    /// `Σ x` over the pairs scoring below it.
    pub expected: f64,
}

/// The [`Randomness`] of the marginal probabilities `marginals` (`(paper, reviewer,
/// probability)`, each pair once) on `pb`, against the deterministic `optimum` when known, with
/// the expected bad matches below each of `thresholds`.
///
/// ```
/// use papermatch::conflicts::Conflicts;
/// use papermatch::model::{AffinityMatrix, PaperIdx, ReviewerIdx};
/// use papermatch::report::evaluate::randomness;
/// use papermatch::solve::Problem;
/// let scores = AffinityMatrix::Dense(ndarray::array![[1_000_000, 200_000]]);
/// let none = Conflicts::none(1);
/// let pb = Problem::new(&scores, &none, vec![1], vec![0, 0], vec![1, 1]);
/// // Either reviewer, half and half: 0.6 expected of the optimum 1.0.
/// let x = [(PaperIdx(0), ReviewerIdx(0), 0.5), (PaperIdx(0), ReviewerIdx(1), 0.5)];
/// let r = randomness(&pb, &x, Some(1.0), &[0.5]);
/// assert!((r.expected_total - 0.6).abs() < 1e-12 && r.ratio_to_optimum == Some(r.expected_total));
/// assert_eq!((r.support, r.max_probability, r.bad_matches[0].expected), (2, 0.5, 0.5));
/// assert!((r.entropy - std::f64::consts::LN_2).abs() < 1e-12);
/// assert!((r.l2_norm - 0.5f64.sqrt()).abs() < 1e-12);
/// ```
pub fn randomness(
    pb: &Problem<'_>,
    marginals: &[(PaperIdx, ReviewerIdx, f64)],
    optimum: Option<f64>,
    thresholds: &[f64],
) -> Randomness {
    let score =
        |p: PaperIdx, r: ReviewerIdx| units_to_score(pb.affinity.get(p.ix(), r.ix()) as i64);
    let live = marginals.iter().filter(|&&(_, _, x)| x > 0.0);
    let expected_total = live.clone().map(|&(p, r, x)| x * score(p, r)).sum::<f64>();
    Randomness {
        expected_total,
        ratio_to_optimum: optimum.filter(|&o| o > 0.0).map(|o| expected_total / o),
        max_probability: live.clone().map(|m| m.2).fold(0.0, f64::max),
        l2_norm: live.clone().map(|m| m.2 * m.2).sum::<f64>().sqrt(),
        entropy: -live.clone().map(|m| m.2 * m.2.ln()).sum::<f64>(),
        support: live.clone().count(),
        bad_matches: thresholds
            .iter()
            .map(|&threshold| BadMatches {
                threshold,
                expected: live
                    .clone()
                    .filter(|&&(p, r, _)| score(p, r) < threshold)
                    .map(|m| m.2)
                    .sum(),
            })
            .collect(),
    }
}

/// Short review cycles of an assignment (see [`crate::solve::cycles`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReviewCycles {
    /// Unordered reviewer pairs `{a, b}` where each reviews a paper the other wrote.
    pub two: usize,
    /// Directed cycles `a → b → c → a` of three reviewers.
    pub three: usize,
}

/// A broken constraint in words; a conflict is listed with its reasons (co-authorship with the
/// paper that shows it).
pub fn describe_violation(
    v: &verify::Violation,
    names: &dyn verify::IdNames,
    conflicts: &crate::conflicts::Conflicts,
    venue: &Venue,
) -> String {
    match *v {
        verify::Violation::Conflict { paper, reviewer } if paper < venue.papers.len() => {
            let why = conflicts.describe(
                venue,
                crate::model::PaperIdx(paper as u32),
                crate::model::ReviewerIdx(reviewer as u32),
            );
            format!("{} ({why})", v.describe_ids(names))
        }
        _ => v.describe_ids(names),
    }
}

/// Evaluates `a` on the problem `pb` of `venue`.
pub fn evaluate(
    pb: &Problem<'_>,
    venue: &Venue,
    a: &Assignment,
    opts: &EvaluateOptions,
) -> Evaluation {
    let violations: Vec<String> = verify::check_constraints(pb, a)
        .iter()
        .map(|v| describe_violation(v, pb, pb.conflicts, venue))
        .collect();
    let totals = a.paper_totals(pb.affinity);
    let total: i64 = totals.iter().sum();
    let worst = (0..totals.len()).min_by_key(|&p| (totals[p], p));
    let threshold = (opts.expertise_threshold * SCORE_SCALE as f64).round() as i64;
    let without: Vec<String> = (0..pb.n_papers())
        .filter(|&p| {
            !a.reviewers.get(p).is_some_and(|rs| {
                rs.iter()
                    .any(|r| pb.affinity.get(p, r.ix()) as i64 >= threshold)
            })
        })
        .map(|p| pb.paper_ids[p].clone())
        .collect();
    let bids = bid_counts(venue, a);
    let (mut optimum, mut gap, mut gap_percent, mut note) = (None, None, None, None);
    if opts.compute_optimum {
        match crate::solve::solve(pb, &opts.solve) {
            Ok(s) => {
                let best = units_to_score(s.objective);
                optimum = Some(best);
                gap = Some(units_to_score(s.objective - total));
                gap_percent = (s.objective != 0)
                    .then(|| 100.0 * (s.objective - total) as f64 / s.objective as f64);
            }
            Err(e) => {
                note = Some(format!(
                    "no optimum: {}",
                    e.to_string().lines().next().unwrap_or("")
                ))
            }
        }
    } else {
        note = Some("not computed".into());
    }
    Evaluation {
        schema_version: SCHEMA_VERSION,
        papers: pb.n_papers(),
        reviewers: pb.n_reviewers(),
        pairs: a.len(),
        feasible: violations.is_empty(),
        violations,
        total_affinity: units_to_score(total),
        total_affinity_exact: format_units(total),
        mean_pair_affinity: if a.is_empty() {
            0.0
        } else {
            units_to_score(total) / a.len() as f64
        },
        paper_scores: Distribution::of_units(&totals),
        worst_paper: worst.map(|p| pb.paper_ids[p].clone()).unwrap_or_default(),
        expertise_threshold: opts.expertise_threshold,
        papers_without_expert: without,
        load_histogram: load_histogram(a, pb.n_reviewers()),
        bids,
        optimum,
        gap,
        gap_percent,
        optimum_note: note,
        review_cycles: {
            let authors = crate::solve::cycles::authors_among_reviewers(venue);
            authors.iter().any(|v| !v.is_empty()).then(|| {
                let c = crate::solve::cycles::find_cycles(a, &authors, 3);
                ReviewCycles {
                    two: c.two.len(),
                    three: c.three.len(),
                }
            })
        },
        randomness: None,
        envy: crate::solve::wef1::envy(pb, a),
    }
}

impl Evaluation {
    /// The evaluation as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("an evaluation always serialises")
    }

    /// The figures as `(label, value)` rows, shared by the text, the comparison and the HTML.
    pub fn rows(&self) -> Vec<(&'static str, String)> {
        let d = &self.paper_scores;
        let mut rows = vec![
            ("papers", self.papers.to_string()),
            ("reviewers", self.reviewers.to_string()),
            ("assigned pairs", self.pairs.to_string()),
            (
                "constraints",
                if self.feasible {
                    "all hold".into()
                } else {
                    format!("{} broken", self.violations.len())
                },
            ),
            ("total affinity", self.total_affinity_exact.clone()),
            ("mean per pair", format!("{:.4}", self.mean_pair_affinity)),
            ("mean per paper", format!("{:.4}", d.mean)),
            (
                "worst paper",
                format!("{:.4} ({})", d.min, self.worst_paper),
            ),
            (
                "p10 / p25 / median",
                format!("{:.4} / {:.4} / {:.4}", d.p10, d.p25, d.p50),
            ),
            (
                "p75 / p90 / max",
                format!("{:.4} / {:.4} / {:.4}", d.p75, d.p90, d.max),
            ),
            ("Gini of paper totals", format!("{:.4}", d.gini)),
            (
                "envy-free up to one",
                match (&self.envy.worst_ratio, &self.envy.worst_pair) {
                    (Some(x), Some((i, j))) => format!(
                        "{} (worst ratio {x:.4}: {i} towards {j})",
                        if self.envy.wef1 { "yes" } else { "no" }
                    ),
                    (None, Some((i, j))) => {
                        format!("no ({i} values its own reviewers at 0 and envies {j})")
                    }
                    _ => "yes".into(),
                },
            ),
            (
                "papers without expert",
                format!(
                    "{} (threshold {})",
                    self.papers_without_expert.len(),
                    self.expertise_threshold
                ),
            ),
            (
                "reviewer loads",
                self.load_histogram
                    .iter()
                    .enumerate()
                    .filter(|&(_, &n)| n > 0)
                    .map(|(k, n)| format!("{k}:{n}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        ];
        if let Some(c) = &self.review_cycles {
            rows.push((
                "review cycles",
                format!("{} mutual pairs, {} three-reviewer rings", c.two, c.three),
            ));
        }
        if let Some(b) = &self.bids {
            let text = b
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join(", ");
            rows.push(("assigned pairs by bid", text));
        }
        match (self.optimum, self.gap, self.gap_percent) {
            (Some(o), Some(g), pct) => {
                rows.push(("optimum", format!("{o:.6}")));
                rows.push((
                    "gap to optimum",
                    format!("{g:.6} ({:.3} %)", pct.unwrap_or(0.0)),
                ));
            }
            _ => rows.push(("optimum", self.optimum_note.clone().unwrap_or_default())),
        }
        rows
    }

    /// A readable report: the figures, then every broken constraint.
    pub fn human(&self) -> String {
        let mut s = String::new();
        for (k, v) in self.rows() {
            s.push_str(&format!("{k:<24} {v}\n"));
        }
        if let Some(r) = &self.randomness {
            s.push_str(&r.human());
        }
        for v in &self.violations {
            s.push_str(&format!("violation: {v}\n"));
        }
        s
    }
}

impl Randomness {
    /// The figures as lines of text.
    pub fn human(&self) -> String {
        let mut s = format!(
            "{:<24} {:.6}{}\n{:<24} {:.3}\n{:<24} {:.4}\n{:<24} {:.4}\n{:<24} {}\n",
            "expected total",
            self.expected_total,
            self.ratio_to_optimum
                .map_or(String::new(), |r| format!(" ({:.4} of the optimum)", r)),
            "max probability",
            self.max_probability,
            "L2 norm of marginals",
            self.l2_norm,
            "entropy of marginals",
            self.entropy,
            "pairs with probability",
            self.support
        );
        for b in &self.bad_matches {
            s.push_str(&format!(
                "{:<24} {:.4} expected below {}\n",
                "bad matches", b.expected, b.threshold
            ));
        }
        s
    }
}

/// Two evaluations side by side, with the pairs that differ (`papermatch compare`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// Schema version ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Name of the first assignment.
    pub a_name: String,
    /// Name of the second assignment.
    pub b_name: String,
    /// The first assignment's figures.
    pub a: Evaluation,
    /// The second assignment's figures.
    pub b: Evaluation,
    /// Pairs only in the first: `(paper id, reviewer id, score)`.
    pub only_in_a: Vec<(String, String, f64)>,
    /// Pairs only in the second.
    pub only_in_b: Vec<(String, String, f64)>,
    /// Pairs in both.
    pub shared: usize,
}

/// Compares two assignments of the same problem.
pub fn compare(
    pb: &Problem<'_>,
    venue: &Venue,
    (a_name, a): (&str, &Assignment),
    (b_name, b): (&str, &Assignment),
    opts: &EvaluateOptions,
) -> Comparison {
    let ea = evaluate(pb, venue, a, opts);
    // The optimum is the same for both: solve once.
    let eb = evaluate(
        pb,
        venue,
        b,
        &EvaluateOptions {
            compute_optimum: false,
            ..opts.clone()
        },
    );
    let eb = Evaluation {
        gap: ea.optimum.map(|o| o - eb.total_affinity),
        gap_percent: ea
            .optimum
            .filter(|&o| o != 0.0)
            .map(|o| 100.0 * (o - eb.total_affinity) / o),
        optimum: ea.optimum,
        optimum_note: ea.optimum_note.clone(),
        ..eb
    };
    let set = |x: &Assignment| -> std::collections::BTreeSet<(u32, u32)> {
        x.pairs().map(|(p, r)| (p.0, r.0)).collect()
    };
    let (sa, sb) = (set(a), set(b));
    let describe = |&(p, r): &(u32, u32)| {
        (
            pb.paper_ids[p as usize].clone(),
            pb.reviewer_ids[r as usize].clone(),
            units_to_score(pb.affinity.get(p as usize, r as usize) as i64),
        )
    };
    Comparison {
        schema_version: SCHEMA_VERSION,
        a_name: a_name.to_string(),
        b_name: b_name.to_string(),
        only_in_a: sa.difference(&sb).map(describe).collect(),
        only_in_b: sb.difference(&sa).map(describe).collect(),
        shared: sa.intersection(&sb).count(),
        a: ea,
        b: eb,
    }
}

impl Comparison {
    /// Figures side by side, then the differing pairs (`-` only in A, `+` only in B).
    pub fn human(&self) -> String {
        let (ra, rb) = (self.a.rows(), self.b.rows());
        let width = ra
            .iter()
            .chain(&rb)
            .map(|(_, v)| v.len())
            .max()
            .unwrap_or(10)
            .max(self.a_name.len());
        let mut s = format!("{:<24} {:<width$}  {}\n", "", self.a_name, self.b_name);
        for ((k, va), (_, vb)) in ra.iter().zip(&rb) {
            s.push_str(&format!("{k:<24} {va:<width$}  {vb}\n"));
        }
        s.push_str(&format!(
            "\npairs: {} shared, {} only in {}, {} only in {}\n",
            self.shared,
            self.only_in_a.len(),
            self.a_name,
            self.only_in_b.len(),
            self.b_name
        ));
        for (p, r, w) in &self.only_in_a {
            s.push_str(&format!("- {p},{r},{w:.6}\n"));
        }
        for (p, r, w) in &self.only_in_b {
            s.push_str(&format!("+ {p},{r},{w:.6}\n"));
        }
        s
    }

    /// The comparison as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a comparison always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distribution_matches_hand_computation() {
        // Totals 1, 2, 3, 4 (in score units of 10⁻⁶ · 10⁶).
        let d = Distribution::of_units(&[4_000_000, 1_000_000, 3_000_000, 2_000_000]);
        assert_eq!((d.min, d.max, d.mean), (1.0, 4.0, 2.5));
        assert_eq!(d.p50, 3.0); // x[round(0.5 · 3)] = x[2]
        assert_eq!(d.p25, 2.0); // x[round(0.75)] = x[1]
        // Σ|xi − xj| over ordered pairs = 20; 20 / (2 · 16 · 2.5) = 0.25.
        assert!((d.gini - 0.25).abs() < 1e-12);
        assert_eq!(Distribution::of_units(&[5, 5, 5]).gini, 0.0);
    }
}
