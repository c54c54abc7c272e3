//! What a run tells its user: the assignment CSV, the summary (human text and versioned JSON).
//!
//! | file | what | may use |
//! |---|---|---|
//! | `mod.rs` | the assignment CSV, the run summary (text and JSON), alternates | [`crate::solve`], [`crate::io`] |
//! | [`evaluate`] | the quality of any assignment, comparisons, randomness of marginals | [`crate::solve`] |
//! | [`html`] | the self-contained HTML report | `evaluate`, `mod.rs` |
//!
//! The assignment CSV is `paper_id,reviewer_id,score`, sorted by paper id, then score
//! (descending), then reviewer id, with scores printed with exactly six decimals.
//!
//! The JSON summary has a stable schema, versioned by `schema_version` (currently 1): additions
//! keep the version, renames or removals bump it.

pub mod evaluate;
pub mod html;

use std::path::Path;

use serde::Serialize;

use crate::error::Result;
use crate::model::{SCORE_SCALE, format_units, units_to_score};
use crate::solve::randomized::{Marginals, PROB_SCALE};
use crate::solve::{Assignment, Outcome, Problem, Requirements, Solution};
use evaluate::Distribution;

/// Version of the JSON summary's schema.
pub const SCHEMA_VERSION: u32 = 1;

pub use crate::io::formats::assignment_rows;

/// Writes the assignment as `paper_id,reviewer_id,score` to `path` atomically (`-` = stdout).
pub fn write_assignment(path: &Path, pb: &Problem<'_>, a: &Assignment) -> Result<()> {
    let rows = assignment_rows(pb, a);
    crate::io::write_csv_atomic(path, &["paper_id", "reviewer_id", "score"], |w| {
        for (p, r, s) in rows {
            w.write_record([p, r, &format_units(s)])?;
        }
        Ok(())
    })
}

/// The summary of one assignment, written as JSON by `--summary` and as text to stderr.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Schema version ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Number of papers.
    pub papers: usize,
    /// Number of reviewers.
    pub reviewers: usize,
    /// Number of assigned pairs.
    pub pairs: usize,
    /// Conflicting pairs excluded.
    pub conflicts: usize,
    /// Conflicting pairs by reason (`declared`, `author`, `same institution`, `same e-mail
    /// domain`, `bid`, `co-author`); a pair with two reasons counts for both.
    pub conflicts_by_reason: std::collections::BTreeMap<String, usize>,
    /// Which past papers the co-authorship rule counted (`every year`, `since 2021`), when it
    /// was on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coauthor_rule: Option<String>,
    /// Total affinity of the assignment.
    pub total_affinity: f64,
    /// Total affinity as the exact decimal string (six decimals).
    pub total_affinity_exact: String,
    /// Mean affinity of an assigned pair.
    pub mean_pair_affinity: f64,
    /// Distribution of per-paper totals.
    pub paper_scores: Distribution,
    /// Id of the worst-served paper.
    pub worst_paper: String,
    /// `load_histogram[k]` reviewers have load `k`.
    pub load_histogram: Vec<usize>,
    /// Assigned pairs per bid level, when the venue has bids.
    pub bids: Option<std::collections::BTreeMap<String, usize>>,
    /// For a randomized assignment: its figures.
    pub randomized: Option<RandomizedFigures>,
    /// For a fair objective or a score floor: the proven bounds.
    pub fair: Option<FairFigures>,
    /// For composition rules: how they were solved and how they hold.
    pub rules: Option<RulesFigures>,
    /// For `--no-review-cycles`: what the rule cost and did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cycles: Option<CycleSummary>,
    /// For `--objective wef1`: the sequence's figures and the envy of the result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wef1: Option<Wef1Figures>,
    /// The solver used.
    pub solver: String,
    /// Whether the result is proven optimal (certificate checked over every eligible pair).
    pub optimal: bool,
    /// Pairs in the solver's final candidate graph.
    pub candidate_pairs: usize,
    /// Eligible pairs in the whole problem.
    pub eligible_pairs: u64,
    /// Pricing rounds of the flow solver.
    pub pricing_rounds: usize,
    /// Seconds spent solving.
    pub solve_seconds: f64,
    /// Of which: choosing candidates, min-cost flow, pricing; then the final check.
    pub stage_seconds: StageSeconds,
}

/// Figures of the cycle rule (`--no-review-cycles`).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct CycleSummary {
    /// The longest cycle forbidden (2 or 3).
    pub length: usize,
    /// Mutual reviewer pairs in the optimum without the rule.
    pub initial_two_cycles: usize,
    /// Three-reviewer rings in the optimum without the rule (counted when `length` is 3).
    pub initial_three_cycles: usize,
    /// Cycles left (always 0: checked).
    pub left: usize,
    /// Solves made.
    pub solves: usize,
    /// Reviewer-to-reviewer edges forbidden, and the pairs they take out.
    pub forbidden_edges: usize,
    /// Pairs taken out.
    pub forbidden_pairs: usize,
    /// Moves of the repair and local search (a reviewer handing a paper to another).
    pub local_moves: usize,
    /// Total affinity of the assignment.
    pub total: f64,
    /// The optimum without the rule: a proven upper bound.
    pub bound: f64,
    /// What the rule costs, in percent of the optimum without it.
    pub loss_percent: f64,
    /// A proven upper bound with the rule (Lagrangian, over the cycles found).
    pub bound_with_rule: f64,
    /// `bound_with_rule − total`: how far from optimal under the rule the total may be.
    pub gap: f64,
}

/// Figures of a randomized assignment.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct RandomizedFigures {
    /// The seed of the sample.
    pub seed: u64,
    /// Expected total affinity under the optimal marginals.
    pub expected_affinity: f64,
    /// The deterministic optimum.
    pub deterministic_optimum: f64,
    /// `expected_affinity / deterministic_optimum`.
    pub ratio_to_optimum: f64,
    /// The largest probability of any pair.
    pub max_probability_used: f64,
    /// The marginals' randomness figures (as `evaluate --probabilities` gives them).
    pub randomness: evaluate::Randomness,
    /// With the fair objective: the smallest expected paper total of the marginals.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_worst_paper: Option<f64>,
    /// With the fair objective: a proven upper bound on `expected_worst_paper` under the caps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_worst_bound: Option<f64>,
    /// Perturbed maximization: its objective and what is proven about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub perturbed: Option<PerturbedSummary>,
}

/// Figures of an envy-free sequence (`--objective wef1`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Wef1Figures {
    /// The total of the picking sequence and its repairs, before improvement.
    pub sequence_total: f64,
    /// The total after the swaps that keep WEF1.
    pub total: f64,
    /// The plain optimum (an upper bound on any assignment's total).
    pub plain_optimum: f64,
    /// `100 · (plain_optimum − total) / plain_optimum`.
    pub loss_percent: f64,
    /// Exchanges made to complete papers or meet minimum loads (they may break WEF1).
    pub repairs: usize,
    /// Swaps that raised the total and kept WEF1.
    pub improvements: usize,
    /// The envy of the result, checked over every ordered pair of papers.
    pub envy: crate::solve::wef1::Envy,
}

/// Figures of perturbed maximization (`--objective perturbed`).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct PerturbedSummary {
    /// β in `f(x) = x − β x²`.
    pub beta: f64,
    /// `Σ w f(x)` of the marginals.
    pub objective: f64,
    /// A proven upper bound on it over every fractional assignment under the caps and limits.
    pub bound: f64,
    /// `(bound − objective) / bound`.
    pub relative_gap: f64,
    /// Flow solves run.
    pub solves: usize,
    /// Each bad-match threshold with its limit (the unperturbed optimum's expected count) and
    /// the marginals' expected count.
    pub bad_match_limits: Vec<BadMatchSummary>,
}

/// One bad-match limit of a perturbed run.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct BadMatchSummary {
    /// Pairs scoring below this are bad matches.
    pub threshold: f64,
    /// The unperturbed optimum's expected count.
    pub limit: f64,
    /// The marginals' expected count (≤ `limit`).
    pub expected: f64,
}

/// Figures of a fair assignment (`--objective fair`, `--min-paper-score`): what was found and
/// what is proven.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct FairFigures {
    /// `"milp"` (exact integer program) or `"lagrangian"` (flows with proven bounds).
    pub method: String,
    /// The max-min rounds: the minimum found and its proven upper bound.
    pub rounds: Vec<FairRoundFigures>,
    /// The floor every paper not fixed by an earlier round meets.
    pub floor: Option<f64>,
    /// Total affinity found under the floor.
    pub total: f64,
    /// Proven upper bound on the total under the same floor.
    pub total_bound: f64,
    /// `total_bound − total`: 0 when proven optimal.
    pub total_gap: f64,
    /// Whether every stage is proven optimal.
    pub exact: bool,
    /// Flow solves (or integer programs) made.
    pub solves: usize,
    /// Seconds spent.
    pub seconds: f64,
}

/// One max-min round of [`FairFigures`].
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct FairRoundFigures {
    /// The worst paper total found.
    pub worst: f64,
    /// Proven upper bound on it.
    pub bound: f64,
    /// `bound − worst`: 0 when proven optimal.
    pub gap: f64,
    /// Papers at the minimum.
    pub papers_at_minimum: usize,
}

impl FairFigures {
    /// The figures of a fair solution.
    pub fn of(s: &crate::solve::fair::FairSolution) -> FairFigures {
        FairFigures {
            method: s.method.to_string(),
            rounds: s
                .rounds
                .iter()
                .map(|r| FairRoundFigures {
                    worst: units_to_score(r.worst),
                    bound: units_to_score(r.bound),
                    gap: units_to_score(r.bound - r.worst),
                    papers_at_minimum: r.at_minimum,
                })
                .collect(),
            floor: s.floor.map(units_to_score),
            total: units_to_score(s.objective),
            total_bound: units_to_score(s.objective_bound),
            total_gap: units_to_score(s.objective_bound - s.objective),
            exact: s.exact(),
            solves: s.flow_solves,
            seconds: s.seconds,
        }
    }
}

/// Figures of an assignment under composition rules.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct RulesFigures {
    /// The rules, as given.
    pub rules: Vec<String>,
    /// `"flow"` (nested groups: exact, certified) or `"milp"` (crossing groups: exact integer
    /// program).
    pub method: String,
    /// Whether the rules were soft.
    pub soft: bool,
    /// Missing or extra reviewers summed over papers and groups (0 for hard rules).
    pub violations: u64,
    /// Papers with at least one violation.
    pub papers_with_violations: usize,
    /// Penalty per violation (soft rules).
    pub penalty: f64,
    /// The objective maximised: total affinity minus the penalties.
    pub objective: f64,
    /// Proven upper bound on it.
    pub bound: f64,
    /// `bound − objective`: 0 when proven optimal.
    pub gap: f64,
}

impl RulesFigures {
    /// The figures of a rules solution.
    pub fn of(
        rules: &[crate::solve::rules::Rule],
        s: &crate::solve::rules::RulesSolution,
        soft: Option<i64>,
    ) -> RulesFigures {
        let mut papers: Vec<usize> = s.violations.iter().map(|v| v.paper).collect();
        papers.sort_unstable();
        papers.dedup();
        RulesFigures {
            rules: rules.iter().map(ToString::to_string).collect(),
            method: s.method.to_string(),
            soft: soft.is_some(),
            violations: s.violations.iter().map(|v| v.by as u64).sum(),
            papers_with_violations: papers.len(),
            penalty: soft.map_or(0.0, units_to_score),
            objective: units_to_score(s.penalised),
            bound: units_to_score(s.bound),
            gap: units_to_score(s.bound - s.penalised),
        }
    }
}

/// Where the solve's time went.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct StageSeconds {
    /// Choosing candidate pairs.
    pub candidates: f64,
    /// Feasibility and min-cost flow.
    pub flow: f64,
    /// Pricing pruned pairs.
    pub pricing: f64,
    /// Checking constraints and the certificate.
    pub check: f64,
}

/// Figures of an assignment for any problem (no solver information).
pub fn summarize(pb: &Problem<'_>, a: &Assignment) -> Summary {
    let totals = a.paper_totals(pb.affinity);
    let worst = (0..totals.len()).min_by_key(|&p| (totals[p], p));
    let total: i64 = totals.iter().sum();
    let pairs = a.len();
    Summary {
        schema_version: SCHEMA_VERSION,
        papers: pb.n_papers(),
        reviewers: pb.n_reviewers(),
        pairs,
        conflicts: pb.conflicts.len(),
        conflicts_by_reason: pb
            .conflicts
            .count_by_reason()
            .into_iter()
            .filter(|&(name, _)| name != "locked")
            .map(|(name, n)| (name.to_string(), n))
            .collect(),
        coauthor_rule: None,
        total_affinity: units_to_score(total),
        total_affinity_exact: format_units(total),
        mean_pair_affinity: if pairs == 0 {
            0.0
        } else {
            units_to_score(total) / pairs as f64
        },
        paper_scores: Distribution::of_units(&totals),
        worst_paper: worst.map(|p| pb.paper_ids[p].clone()).unwrap_or_default(),
        load_histogram: evaluate::load_histogram(a, pb.n_reviewers()),
        bids: None,
        randomized: None,
        fair: None,
        rules: None,
        cycles: None,
        wef1: None,
        solver: String::new(),
        optimal: false,
        candidate_pairs: 0,
        eligible_pairs: 0,
        pricing_rounds: 0,
        solve_seconds: 0.0,
        stage_seconds: StageSeconds::default(),
    }
}

/// The summary of a verified solution.
pub fn summarize_solution(pb: &Problem<'_>, s: &Solution) -> Summary {
    Summary {
        solver: s.stats.solver.to_string(),
        optimal: true,
        candidate_pairs: s.stats.candidate_pairs,
        eligible_pairs: s.stats.eligible_pairs,
        pricing_rounds: s.stats.pricing_rounds,
        solve_seconds: s.stats.seconds,
        stage_seconds: StageSeconds {
            candidates: s.stats.candidates_seconds,
            flow: s.stats.flow_seconds,
            pricing: s.stats.pricing_seconds,
            check: s.stats.check_seconds,
        },
        ..summarize(pb, &s.assignment)
    }
}

/// The summary of an [`Outcome`] of [`crate::solve::assign`], with the figures of whichever
/// requirements it met (fairness, rules, randomization).
pub fn summarize_outcome(pb: &Problem<'_>, req: &Requirements, outcome: &Outcome) -> Summary {
    let mut summary = match &outcome.solution {
        Some(s) => summarize_solution(pb, s),
        None => summarize(pb, &outcome.assignment),
    };
    summary.fair = outcome.fair.as_ref().map(FairFigures::of);
    if let (Some(set), Some(s)) = (&req.rules, &outcome.rules) {
        summary.rules = Some(RulesFigures::of(&set.rules, s, set.options.soft));
    }
    summary.cycles = outcome.cycles.as_ref().map(|c| CycleSummary {
        length: c.length,
        initial_two_cycles: c.initial.0,
        initial_three_cycles: c.initial.1,
        left: 0,
        solves: c.solves,
        forbidden_edges: c.forbidden_edges,
        forbidden_pairs: c.forbidden_pairs,
        local_moves: c.moves,
        total: units_to_score(outcome.objective),
        bound: units_to_score(c.bound_without_rule),
        bound_with_rule: units_to_score(c.bound_with_rule),
        gap: units_to_score(c.bound_with_rule - outcome.objective),
        loss_percent: if c.bound_without_rule > 0 {
            100.0 * (c.bound_without_rule - outcome.objective) as f64 / c.bound_without_rule as f64
        } else {
            0.0
        },
    });
    summary.wef1 = outcome.wef1.as_ref().map(|w| Wef1Figures {
        sequence_total: units_to_score(w.sequence_total),
        total: units_to_score(w.total),
        plain_optimum: units_to_score(outcome.bound),
        loss_percent: if outcome.bound > 0 {
            100.0 * (outcome.bound - w.total) as f64 / outcome.bound as f64
        } else {
            0.0
        },
        repairs: w.repairs,
        improvements: w.improvements,
        envy: w.envy.clone(),
    });
    summary.randomized = outcome.randomized.as_ref().map(|r| RandomizedFigures {
        seed: r.seed,
        expected_affinity: r.marginals.expected_affinity(),
        deterministic_optimum: units_to_score(r.deterministic_optimum),
        ratio_to_optimum: r.ratio(),
        max_probability_used: r.marginals.max_probability(),
        randomness: evaluate::randomness(
            pb,
            &r.marginals.pairs(),
            Some(units_to_score(r.deterministic_optimum)),
            &r.perturbed.as_ref().map_or_else(Vec::new, |f| {
                f.bad_matches
                    .iter()
                    .map(|b| units_to_score(b.threshold))
                    .collect()
            }),
        ),
        expected_worst_paper: r.worst.as_ref().map(|w| units_to_score(w.value)),
        expected_worst_bound: r.worst.as_ref().map(|w| units_to_score(w.bound)),
        perturbed: r.perturbed.as_ref().map(|f| PerturbedSummary {
            beta: f.beta,
            objective: f.objective / SCORE_SCALE as f64,
            bound: f.bound / SCORE_SCALE as f64,
            relative_gap: f.relative_gap(),
            solves: f.solves,
            bad_match_limits: f
                .bad_matches
                .iter()
                .map(|b| BadMatchSummary {
                    threshold: units_to_score(b.threshold),
                    limit: b.limit,
                    expected: b.expected,
                })
                .collect(),
        }),
    });
    summary
}

/// Writes the marginal probability of every pair with one, as `paper_id,reviewer_id,probability`
/// (three decimals), by paper, most likely first, atomically (`-` = stdout).
pub fn write_marginals(path: &Path, pb: &Problem<'_>, m: &Marginals) -> Result<()> {
    let mut rows: Vec<(&str, &str, i32)> = Vec::new();
    for (p, row) in m.by_paper.iter().enumerate() {
        for &(r, f) in row {
            rows.push((&pb.paper_ids[p], &pb.reviewer_ids[r.ix()], f));
        }
    }
    rows.sort_unstable_by(|x, y| x.0.cmp(y.0).then(y.2.cmp(&x.2)).then(x.1.cmp(y.1)));
    crate::io::write_csv_atomic(path, &["paper_id", "reviewer_id", "probability"], |w| {
        for (p, r, f) in rows {
            w.write_record([p, r, &format!("{:.3}", f as f64 / PROB_SCALE as f64)])?;
        }
        Ok(())
    })
}

impl Summary {
    /// The summary as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a summary always serialises")
    }

    /// A short human-readable report.
    pub fn human(&self) -> String {
        let loads = self
            .load_histogram
            .iter()
            .enumerate()
            .filter(|&(_, &n)| n > 0)
            .map(|(k, n)| format!("{k}:{n}"))
            .collect::<Vec<_>>()
            .join(" ");
        let mut s = format!(
            "papers {}  reviewers {}  pairs {}  conflicts excluded {}\n\
             total affinity {}  mean per pair {:.4}  mean per paper {:.4}\n\
             worst paper {} with {:.4}  (p10 {:.4}, median {:.4}, p90 {:.4})\n\
             reviewer loads (load:count) {loads}\n{}",
            self.papers,
            self.reviewers,
            self.pairs,
            self.conflicts,
            self.total_affinity_exact,
            self.mean_pair_affinity,
            self.paper_scores.mean,
            self.worst_paper,
            self.paper_scores.min,
            self.paper_scores.p10,
            self.paper_scores.p50,
            self.paper_scores.p90,
            if self.conflicts_by_reason.is_empty() {
                String::new()
            } else {
                format!(
                    "conflicts by reason: {}{}\n",
                    self.conflicts_by_reason
                        .iter()
                        .map(|(k, n)| format!("{k} {n}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    self.coauthor_rule
                        .as_ref()
                        .map_or(String::new(), |r| format!(
                            " (co-authors: past papers of {r})"
                        ))
                )
            },
        );
        if let Some(r) = &self.randomized {
            s.push_str(&format!(
                "randomized (seed {}): expected affinity {:.6} = {:.4} of the deterministic optimum {:.6}; largest pair probability {:.3}\n",
                r.seed, r.expected_affinity, r.ratio_to_optimum, r.deterministic_optimum, r.max_probability_used
            ));
            if let Some(f) = &r.perturbed {
                s.push_str(&format!(
                    "perturbed (β = {}): Σ w·(x − βx²) = {:.6}, proven bound {:.6} (relative gap {:.2e}) in {} flow solves\n",
                    f.beta, f.objective, f.bound, f.relative_gap, f.solves
                ));
                for b in &f.bad_match_limits {
                    s.push_str(&format!(
                        "  pairs below {}: {:.3} expected, at most {:.3} (the unperturbed optimum's)\n",
                        b.threshold, b.expected, b.limit
                    ));
                }
            }
            if let (Some(w), Some(b)) = (r.expected_worst_paper, r.expected_worst_bound) {
                s.push_str(&format!(
                    "fair under the caps: worst expected paper total {w:.6}, proven bound {b:.6} (gap {:.6})\n",
                    b - w
                ));
            }
        }
        if let Some(w) = &self.wef1 {
            s.push_str(&format!(
                "envy-free sequence: WEF1 {} (worst ratio {}); sequence total {:.6}, {} swaps to {:.6}, {:.3} % below the plain optimum {:.6}; {} repairs\n",
                if w.envy.wef1 { "holds" } else { "FAILS" },
                w.envy.worst_ratio.map_or("infinite".into(), |x| format!("{x:.4}")),
                w.sequence_total, w.improvements, w.total, w.loss_percent, w.plain_optimum, w.repairs
            ));
        }
        if let Some(c) = &self.cycles {
            s.push_str(&format!(
                "review cycles up to length {}: {} mutual pairs and {} three-reviewer rings in the optimum without the rule, none left; {} solves, {} edges forbidden ({} pairs), {} local moves; total {:.6}, {:.3} % below the optimum without the rule {:.6}; proven bound with the rule {:.6} (gap {:.6})\n",
                c.length,
                c.initial_two_cycles,
                c.initial_three_cycles,
                c.solves,
                c.forbidden_edges,
                c.forbidden_pairs,
                c.local_moves,
                c.total,
                c.loss_percent,
                c.bound,
                c.bound_with_rule,
                c.gap
            ));
        }
        if let Some(f) = &self.fair {
            for (k, r) in f.rounds.iter().enumerate() {
                s.push_str(&format!(
                    "max-min round {}: worst paper {:.6}, proven bound {:.6} (gap {:.6}), {} paper(s) at the minimum\n",
                    k + 1, r.worst, r.bound, r.gap, r.papers_at_minimum
                ));
            }
            s.push_str(&format!(
                "{}: total {:.6}, proven bound {:.6} (gap {:.6}){}; {} solves ({}) in {:.2} s\n",
                match f.floor {
                    Some(t) => format!("every paper at least {t:.6}"),
                    None => "no floor".into(),
                },
                f.total,
                f.total_bound,
                f.total_gap,
                if f.exact { ", proven optimal" } else { "" },
                f.solves,
                f.method,
                f.seconds
            ));
        }
        if let Some(r) = &self.rules {
            // A randomized run's guarantee is on its marginals (above), not on the sample.
            let how = if self.randomized.is_some() {
                "drawn at random under the caps".to_string()
            } else {
                format!(
                    "solved by {}, objective {:.6}, proven bound {:.6}, gap {:.6}",
                    r.method, r.objective, r.bound, r.gap
                )
            };
            s.push_str(&format!(
                "rules ({}; {how}): {}\n",
                r.rules.join("; "),
                if r.violations == 0 {
                    "every rule holds on every paper".to_string()
                } else {
                    format!(
                        "{} violation(s) on {} paper(s), penalty {} each",
                        r.violations, r.papers_with_violations, r.penalty
                    )
                }
            ));
        }
        if let Some(b) = &self.bids {
            let text: Vec<String> = b.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            s.push_str(&format!("assigned pairs by bid: {}\n", text.join(", ")));
        }
        if !self.solver.is_empty() {
            s.push_str(&format!(
                "solver {}: optimal (certificate checked on {} eligible pairs; {} candidate pairs, {} pricing rounds) in {:.3} s\n  (candidates {:.3} s, flow {:.3} s, pricing {:.3} s, final check {:.3} s)\n",
                self.solver, self.eligible_pairs, self.candidate_pairs, self.pricing_rounds, self.solve_seconds,
                self.stage_seconds.candidates, self.stage_seconds.flow, self.stage_seconds.pricing, self.stage_seconds.check
            ));
        }
        s
    }
}

/// Writes the JSON summary atomically.
pub fn write_summary(path: &Path, summary: &Summary) -> Result<()> {
    let json = summary.to_json();
    crate::io::write_atomic(path, |w| {
        w.write_all(json.as_bytes())?;
        w.write_all(b"\n")
    })
}

/// The rows of an affinity CSV: every non-zero pair, or the `top` best pairs of each paper
/// (ties to the lower reviewer id), sorted like [`assignment_rows`].
pub fn affinity_rows<'a>(pb: &'a Problem<'_>, top: Option<usize>) -> Vec<(&'a str, &'a str, i64)> {
    let mut rows = Vec::new();
    for p in 0..pb.n_papers() {
        let mut row: Vec<(&str, &str, i64)> = Vec::new();
        pb.affinity.for_each_in_row(p, |r, w| {
            if w != 0 {
                row.push((
                    pb.paper_ids[p].as_str(),
                    pb.reviewer_ids[r].as_str(),
                    w as i64,
                ));
            }
        });
        row.sort_unstable_by(|x, y| y.2.cmp(&x.2).then(x.1.cmp(y.1)));
        if let Some(k) = top {
            row.truncate(k);
        }
        rows.extend(row);
    }
    rows.sort_by(|x, y| x.0.cmp(y.0).then(y.2.cmp(&x.2)).then(x.1.cmp(y.1)));
    rows
}

/// An eligible reviewer not assigned to a paper, ranked by affinity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alternate {
    /// The reviewer.
    pub reviewer: crate::model::ReviewerIdx,
    /// The pair's affinity in fixed-point units.
    pub score: i64,
    /// Papers the reviewer could still take (`max_load − load`).
    pub spare: u32,
}

/// The `n` best eligible reviewers of paper `p` that `a` does not assign to it (ties to the
/// lower index), with their spare capacity under `loads`.
pub fn alternates_of(
    pb: &Problem<'_>,
    a: &Assignment,
    loads: &[u32],
    p: usize,
    n: usize,
) -> Vec<Alternate> {
    let assigned = a.reviewers.get(p).map_or(&[][..], Vec::as_slice);
    let conflicts = pb.conflicts.of_paper(p);
    let open = |r: usize| {
        conflicts.binary_search(&(r as u32)).is_err() && !assigned.iter().any(|x| x.ix() == r)
    };
    // The stored scores (every score of a dense matrix), then for a sparse one the first few
    // reviewers by index whose score is an implicit 0: no scan of the whole row.
    let mut best: Vec<(i32, usize)> = Vec::new();
    pb.affinity.for_each_in_row(p, |r, w| {
        if open(r) {
            best.push((w, r));
        }
    });
    if let crate::model::AffinityMatrix::Sparse(m) = pb.affinity {
        let stored = m.row(p).0;
        best.extend(
            (0..pb.n_reviewers())
                .filter(|&r| stored.binary_search(&(r as u32)).is_err() && open(r))
                .take(n)
                .map(|r| (0, r)),
        );
    }
    let key = |&(w, r): &(i32, usize)| (std::cmp::Reverse(w), r);
    if best.len() > n && n > 0 {
        best.select_nth_unstable_by_key(n - 1, key);
    }
    best.truncate(n);
    best.sort_unstable_by_key(key);
    // A new vector: collecting `best` in place would keep its whole capacity alive per paper.
    best.iter()
        .map(|&(w, r)| Alternate {
            reviewer: crate::model::ReviewerIdx(r as u32),
            score: w as i64,
            spare: pb.max_load[r].saturating_sub(loads[r]),
        })
        .collect()
}

/// Writes `paper_id,rank,reviewer_id,score,spare_capacity`: each paper's `n` best unassigned
/// eligible reviewers, for replacing a reviewer who drops out.
pub fn write_alternates(path: &Path, pb: &Problem<'_>, a: &Assignment, n: usize) -> Result<()> {
    use rayon::prelude::*;
    let loads = a.loads(pb.n_reviewers());
    let all: Vec<Vec<Alternate>> = (0..pb.n_papers())
        .into_par_iter()
        .map(|p| alternates_of(pb, a, &loads, p, n))
        .collect();
    let mut order: Vec<usize> = (0..pb.n_papers()).collect();
    order.sort_by(|&x, &y| pb.paper_ids[x].cmp(&pb.paper_ids[y]));
    crate::io::write_csv_atomic(
        path,
        &["paper_id", "rank", "reviewer_id", "score", "spare_capacity"],
        |w| {
            for p in order {
                for (k, alt) in all[p].iter().enumerate() {
                    w.write_record([
                        pb.paper_ids[p].as_str(),
                        &(k + 1).to_string(),
                        &pb.reviewer_ids[alt.reviewer.ix()],
                        &format_units(alt.score),
                        &alt.spare.to_string(),
                    ])?;
                }
            }
            Ok(())
        },
    )
}
