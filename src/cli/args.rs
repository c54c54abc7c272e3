//! Flag definitions. Each flag's doc comment is its `--help` text.

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};

use papermatch::AssignOptions;
use papermatch::affinity::{AffinityOptions, BidWeights, KeywordMeasure, ProfileAffinity};
use papermatch::conflicts::{Coauthors, ConflictOptions};
use papermatch::generate::{GenerateSpec, Layout};
use papermatch::io::{ReadOptions, VenueFiles};
use papermatch::model::BidLevel;
use papermatch::solve::fair::{FairOptions, Objective};
use papermatch::solve::perturbed::Perturbation;
use papermatch::solve::randomized::ProbabilityCaps;
use papermatch::solve::rules::{Bound, Rule, RuleOptions};
use papermatch::solve::{Randomization, Requirements, RuleSet, SolveOptions, SolverKind};

/// Assign submitted papers to reviewers: exact, fast, verified.
///
/// Exit codes: 0 success, 1 internal failure, 2 bad usage or bad input, 3 infeasible instance.
#[derive(Debug, Parser)]
#[command(name = "papermatch", version, propagate_version = true)]
pub struct Cli {
    /// Print nothing on stderr but errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Solve the assignment: every paper gets its reviewers, loads are respected, total affinity is maximal.
    #[command(
        after_help = "Example:\n  papermatch assign examples/want-workshop -o assignments.csv --summary summary.json"
    )]
    Assign(Box<AssignArgs>),
    /// Write the affinity matrix as paper_id,reviewer_id,score (non-zero pairs, or the top K per paper).
    #[command(
        after_help = "Example:\n  papermatch affinity examples/want-workshop --top 5 -o affinity.csv"
    )]
    Affinity(AffinityArgs),
    /// List every conflict of interest as paper_id,reviewer_id,reason.
    #[command(after_help = "Example:\n  papermatch conflicts examples/want-workshop")]
    Conflicts(ConflictsArgs),
    /// Evaluate any assignment (papermatch's, OpenReview's assignments.json, …): constraints, quality, gap to the optimum.
    #[command(
        after_help = "Examples:\n  papermatch evaluate examples/want-workshop --assignment assignments.csv\n  papermatch evaluate venue/ --assignment assignments.json --json > evaluation.json"
    )]
    Evaluate(EvaluateArgs),
    /// Compare two assignments of the same venue: figures side by side and the pairs that differ.
    #[command(
        after_help = "Example:\n  papermatch compare venue/ openreview/assignments.json assignments.csv"
    )]
    Compare(CompareArgs),
    /// Write a self-contained HTML report (charts and worst-served papers) of an assignment.
    #[command(
        after_help = "Example:\n  papermatch report examples/want-workshop --assignment assignments.csv -o report.html"
    )]
    Report(ReportArgs),
    /// Convert an assignment to another format (papermatch CSV, OpenReview JSON, HotCRP CSV).
    #[command(
        after_help = "Example:\n  papermatch export examples/want-workshop --assignment assignments.csv --format hotcrp --round R1 -o hotcrp.csv"
    )]
    Export(ExportArgs),
    /// Repair an assignment after drop-outs: keep every still-valid pair, fill the gaps, change
    /// nothing else (unless --allow-moves), and report exactly what changed.
    #[command(
        after_help = "Example:\n  papermatch reassign examples/want-workshop --existing assignments.csv --drop dropped.txt --changes changes.csv -o new.csv"
    )]
    Reassign(Box<ReassignArgs>),
    /// Open the chair's workbench in the browser: look up papers and reviewers, edit the
    /// assignment with every constraint checked at once, re-optimize around the edits, save.
    #[command(
        after_help = "Example:\n  papermatch serve examples/want-workshop\n  papermatch serve venue/ --assignment assignments.csv --port 8480\n\nIt prints one URL with a random token; open it in a browser. Ctrl-C stops it."
    )]
    Serve(Box<ServeArgs>),
    /// Generate a synthetic venue of any size (deterministic by seed).
    #[command(
        after_help = "Examples:\n  papermatch generate --papers 2000 --reviewers 3000 --seed 1 -o /tmp/venue\n  papermatch generate --papers 16000 --reviewers 20000 --layout keywords --demand 4 -o /tmp/big"
    )]
    Generate(GenerateArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AffinityArg {
    /// Keywords (TF-IDF cosine) and/or text, whichever the venue has; both are blended.
    Auto,
    /// TF-IDF-weighted cosine of keyword sets.
    Tfidf,
    /// Jaccard similarity of keyword sets.
    Jaccard,
    /// Text: titles and abstracts against each reviewer's own papers.
    Text,
    /// Keywords (TF-IDF) and text blended with --text-weight.
    #[value(name = "keywords+text")]
    KeywordsText,
    /// The neural text model of --text-model alone.
    Neural,
}

/// How a neural text model embeds texts.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum EncoderArg {
    /// Every text through the whole model.
    Full,
    /// The model's distilled static form.
    Static,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SolverArg {
    /// Exact network-flow solver with pruning and pricing (fast at any size).
    Flow,
    /// The LP through good_lp (small venues; a cross-check).
    Lp,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// paper_id,reviewer_id,score (papermatch's CSV).
    Csv,
    /// OpenReview matcher's assignments.json.
    Openreview,
    /// HotCRP bulk assignment CSV (paper,action,email,reviewtype,round).
    Hotcrp,
}

/// How an assignment is written.
#[derive(Debug, Args)]
pub struct OutputFormat {
    /// Output format.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: FormatArg,
    /// HotCRP review type (primary, secondary, optional, pc, meta).
    #[arg(long, default_value = "primary", value_name = "TYPE")]
    pub review_type: String,
    /// HotCRP review round (empty for the default round).
    #[arg(long, default_value = "", value_name = "NAME")]
    pub round: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LayoutArg {
    /// A bare dense scores.csv (+ conflicts.csv).
    Scores,
    /// papers.csv + reviewers.csv with keywords, authors, institutions.
    Keywords,
    /// papers.csv with titles and abstracts, reviewers.csv, reviewer_papers.csv (20 each).
    Text,
    /// The keywords layout with reciprocal reviewing: papers mostly written by reviewers of
    /// their area, and reviewer_papers.csv with co-authors and years.
    Reciprocal,
}

/// Where the venue is and how to read it.
#[derive(Debug, Args)]
pub struct VenueArgs {
    /// Venue directory: papers.csv + reviewers.csv and/or scores.csv, optionally conflicts.csv,
    /// bids.csv, locks.csv, bans.csv, reviewer_papers.csv; or OpenReview's expertise layout
    /// (submissions.json + archives/).
    pub venue: Option<PathBuf>,
    /// papers.csv to use instead of the venue's (`-` for stdin).
    #[arg(long, value_name = "FILE")]
    pub papers: Option<PathBuf>,
    /// reviewers.csv to use instead of the venue's (`-` for stdin).
    #[arg(long, value_name = "FILE")]
    pub reviewers: Option<PathBuf>,
    /// conflicts.csv to use instead of the venue's (`-` for stdin).
    #[arg(long, value_name = "FILE")]
    pub conflicts: Option<PathBuf>,
    /// scores.csv to use instead of the venue's (`-` for stdin).
    #[arg(long, value_name = "FILE")]
    pub scores: Option<PathBuf>,
    /// locks.csv (paper_id,reviewer_id pairs that must be assigned) instead of the venue's.
    #[arg(long, value_name = "FILE")]
    pub locks: Option<PathBuf>,
    /// bids.csv (paper_id,reviewer_id,bid) instead of the venue's.
    #[arg(long, value_name = "FILE")]
    pub bids: Option<PathBuf>,
    /// What each bid adds to a pair's affinity, e.g. "very high=0.5,high=0.25" (others keep
    /// their defaults: very high 0.3, high 0.15, neutral 0, low -0.15, very low -0.3).
    #[arg(long, value_name = "LEVEL=W,...")]
    pub bid_weights: Option<String>,
    /// Forbid pairs whose bid is this level or lower, e.g. "very low".
    #[arg(long, value_name = "LEVEL")]
    pub forbid_bid: Option<String>,
    /// bans.csv (paper_id,reviewer_id[,reason]): pairs that may never be assigned.
    #[arg(long, value_name = "FILE")]
    pub bans: Option<PathBuf>,
    /// An OpenReview matcher score file (headerless paper,reviewer,score); repeat for several.
    #[arg(long, value_name = "FILE")]
    pub openreview_scores: Vec<PathBuf>,
    /// Weights of the OpenReview score files, in order (default 1 each).
    #[arg(long, value_name = "W", num_args = 1.., value_delimiter = ',')]
    pub openreview_weights: Vec<f64>,
    /// An OpenReview matcher constraints file (headerless paper,reviewer,-1|0|1).
    #[arg(long, value_name = "FILE")]
    pub openreview_constraints: Option<PathBuf>,
    /// Reviewers per paper when papers.csv has no demand column (or the venue has no papers.csv).
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub reviewers_per_paper: u32,
    /// Maximum papers per reviewer when reviewers.csv gives none.
    #[arg(long, default_value_t = 6, value_name = "N")]
    pub max_load: u32,
    /// Minimum papers per reviewer when reviewers.csv gives none.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub min_load: u32,
    /// Accept scores outside [0, 1] (finite, within ±1000).
    #[arg(long)]
    pub allow_any_score: bool,
    /// Affinity from the profiles: keywords, text, or both.
    #[arg(long, value_enum, default_value = "auto")]
    pub affinity: AffinityArg,
    /// Share of text in keywords+text: (1 − W) · keywords + W · text.
    #[arg(long, default_value_t = 0.5, value_name = "W")]
    pub text_weight: f64,
    /// reviewer_papers.csv (reviewer_id,title,abstract; several rows per reviewer) instead of the venue's.
    #[arg(long, value_name = "FILE")]
    pub reviewer_papers: Option<PathBuf>,
    /// Weight of scores.csv when the venue has both scores and keywords (weighted mean).
    #[arg(long, default_value_t = 1.0, value_name = "W")]
    pub score_weight: f64,
    /// Weight of keyword affinity when the venue has both scores and keywords (weighted mean).
    #[arg(long, default_value_t = 1.0, value_name = "W")]
    pub keyword_weight: f64,
    /// Do not treat a shared e-mail domain with an author as a conflict.
    #[arg(long)]
    pub no_domain_conflicts: bool,
    /// Do not treat a shared institution with an author as a conflict.
    #[arg(long)]
    pub no_institution_conflicts: bool,
    /// A sentence-transformers folder (BERT family: config.json, model.safetensors,
    /// tokenizer.json, 1_Pooling/config.json) for text affinity with a neural model, run on the
    /// CPU in pure Rust (see --text-encoder and --neural-weight).
    #[arg(long, value_name = "DIR")]
    pub text_model: Option<PathBuf>,
    /// Share of the neural model in the text affinity, the rest going to the lexical model
    /// [default: 1 with the full model, 0.5 with --text-encoder static].
    #[arg(long, value_name = "W")]
    pub neural_weight: Option<f64>,
    /// How --text-model embeds texts: the whole model, or its distilled static form (each
    /// token's vector computed once by the model; thousands of texts per second, for the
    /// largest venues).
    #[arg(long, value_enum, default_value_t = EncoderArg::Full, value_name = "HOW")]
    pub text_encoder: EncoderArg,
    /// Keep embeddings under DIR, keyed by model and text, so a text is embedded once across
    /// runs and venues.
    #[arg(long, value_name = "DIR")]
    pub embedding_cache: Option<PathBuf>,
    /// Co-authorship conflicts: a reviewer who wrote a past paper (reviewer_papers.csv with an
    /// `authors` column, or OpenReview archives) with an author of the submission, from YEAR on
    /// (without YEAR: every year, papers without a year included).
    #[arg(long, value_name = "YEAR", num_args = 0..=1, default_missing_value = "any")]
    pub coauthor_since: Option<String>,
}

impl VenueArgs {
    /// The co-authorship rule `--coauthor-since` asks for.
    pub fn coauthors(&self) -> anyhow::Result<Option<Coauthors>> {
        Ok(match self.coauthor_since.as_deref() {
            None => None,
            Some("any") => Some(Coauthors::AnyYear),
            Some(y) => Some(Coauthors::Since(y.trim().parse().map_err(|_| {
                papermatch::Error::Options(format!(
                    "--coauthor-since: `{y}` is not a year (write it like 2021, or give the flag \
                     alone for every year)"
                ))
            })?)),
        })
    }

    pub fn files(&self) -> anyhow::Result<VenueFiles> {
        let mut files = match &self.venue {
            Some(dir) => VenueFiles::from_dir(dir)?,
            None => VenueFiles::default(),
        };
        let over = |slot: &mut Option<PathBuf>, v: &Option<PathBuf>| {
            if let Some(p) = v {
                *slot = Some(p.clone());
            }
        };
        over(&mut files.papers, &self.papers);
        over(&mut files.reviewers, &self.reviewers);
        over(&mut files.conflicts, &self.conflicts);
        over(&mut files.scores, &self.scores);
        over(&mut files.locks, &self.locks);
        over(&mut files.bids, &self.bids);
        over(&mut files.bans, &self.bans);
        over(&mut files.reviewer_papers, &self.reviewer_papers);
        over(
            &mut files.openreview_constraints,
            &self.openreview_constraints,
        );
        if self.openreview_weights.len() > self.openreview_scores.len() {
            anyhow::bail!(papermatch::Error::Options(
                "more --openreview-weights than --openreview-scores files".into()
            ));
        }
        files.openreview_scores = self
            .openreview_scores
            .iter()
            .enumerate()
            .map(|(i, p)| {
                (
                    p.clone(),
                    self.openreview_weights.get(i).copied().unwrap_or(1.0),
                )
            })
            .collect();
        if files == VenueFiles::default() {
            anyhow::bail!(papermatch::Error::Options(
                "no venue given: name a venue directory, or files with --papers/--reviewers/--scores".into()
            ));
        }
        Ok(files)
    }

    pub fn options(&self, progress: bool) -> anyhow::Result<AssignOptions> {
        Ok(AssignOptions {
            read: ReadOptions {
                default_demand: self.reviewers_per_paper,
                default_max_load: self.max_load,
                default_min_load: self.min_load,
                allow_any_score: self.allow_any_score,
                progress,
            },
            affinity: AffinityOptions {
                profile: match self.affinity {
                    AffinityArg::Auto => ProfileAffinity::Auto,
                    AffinityArg::Tfidf | AffinityArg::Jaccard => ProfileAffinity::Keywords,
                    AffinityArg::Text => ProfileAffinity::Text,
                    AffinityArg::KeywordsText => ProfileAffinity::KeywordsText,
                    AffinityArg::Neural => ProfileAffinity::Neural,
                },
                measure: match self.affinity {
                    AffinityArg::Jaccard => KeywordMeasure::Jaccard,
                    _ => KeywordMeasure::TfIdf,
                },
                text: Default::default(),
                text_weight: self.text_weight,
                bid_weights: match &self.bid_weights {
                    Some(text) => BidWeights::parse(text)?,
                    None => BidWeights::default(),
                },
                score_weight: self.score_weight,
                keyword_weight: self.keyword_weight,
                neural: self.text_model.as_ref().map(|dir| {
                    let mut n = papermatch::affinity::neural::NeuralOptions::new(dir);
                    n.cache = self.embedding_cache.clone();
                    n.progress = progress;
                    n.encoder = match self.text_encoder {
                        EncoderArg::Full => papermatch::affinity::neural::Encoder::Full,
                        EncoderArg::Static => papermatch::affinity::neural::Encoder::Static,
                    };
                    n
                }),
                neural_weight: self.neural_weight,
            },
            conflicts: ConflictOptions {
                institution_rule: !self.no_institution_conflicts,
                domain_rule: !self.no_domain_conflicts,
                forbid_bid: self
                    .forbid_bid
                    .as_deref()
                    .map(|l| {
                        BidLevel::parse(l).ok_or_else(|| {
                            papermatch::Error::Options(format!(
                                "--forbid-bid: `{l}` is not a bid level"
                            ))
                        })
                    })
                    .transpose()?,
                coauthors: self.coauthors()?,
            },
            solve: SolveOptions::default(),
        })
    }
}

#[derive(Debug, Args)]
pub struct AssignArgs {
    #[command(flatten)]
    pub venue: VenueArgs,
    /// Where to write the assignment CSV (paper_id,reviewer_id,score); `-` is stdout.
    #[arg(short, long, default_value = "-", value_name = "FILE")]
    pub output: PathBuf,
    /// Also write a JSON summary (schema_version 1) to this file.
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    #[command(flatten)]
    pub format: OutputFormat,
    /// Also write, per paper, the N best eligible reviewers not assigned to it, with their spare capacity.
    #[arg(long, value_name = "N")]
    pub alternates: Option<usize>,
    /// Where to write the alternates (paper_id,rank,reviewer_id,score,spare_capacity).
    #[arg(long, default_value = "alternates.csv", value_name = "FILE")]
    pub alternates_output: PathBuf,
    /// Write every pair's probability (paper_id,reviewer_id,probability) of a randomized assignment.
    #[arg(long, value_name = "FILE")]
    pub probabilities: Option<PathBuf>,
    #[command(flatten)]
    pub req: RequirementArgs,
}

/// What a run asks for beyond the venue: solver, objective, rules, safeguards, randomization
/// (`assign` and `serve`).
#[derive(Debug, Args)]
pub struct RequirementArgs {
    /// Which solver to use.
    #[arg(long, value_enum, default_value = "flow")]
    pub solver: SolverArg,
    /// Candidate reviewers per paper the flow solvers start from before pricing (plain, randomized, rules; 0 = automatic).
    #[arg(long, default_value_t = 0, value_name = "L")]
    pub candidates: usize,
    /// Randomized assignment: no pair is assigned with probability above Q (maximises expected
    /// affinity, then samples one assignment with exactly those probabilities).
    #[arg(long, value_name = "Q")]
    pub max_probability: Option<f64>,
    /// Per-pair caps for randomized assignment: paper_id,reviewer_id,max_probability (others take --max-probability, default 1).
    #[arg(long, value_name = "FILE")]
    pub probability_limits: Option<PathBuf>,
    /// Seed of the randomized sample: the same seed gives the same assignment.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// What to maximise: total affinity; the worst-off paper's total first and then the
    /// total (max-min, lexicographic); Σ w·(x − βx²) over fractional assignments, then one
    /// sample (perturbed maximization, randomized); or the highest total of an envy-free
    /// picking sequence (WEF1).
    #[arg(long, value_enum, default_value = "total")]
    pub objective: ObjectiveArg,
    /// β of --objective perturbed: a pair's marginal value falls from w at probability 0 to
    /// w·(1 − 2β) at probability 1; larger spreads each paper over more reviewers.
    #[arg(long, default_value_t = papermatch::solve::perturbed::DEFAULT_BETA, value_name = "BETA")]
    pub perturbation: f64,
    /// With --objective perturbed: the expected number of assigned pairs scoring below T may
    /// not exceed the unperturbed optimum's (repeatable).
    #[arg(long = "bad-match-threshold", value_name = "T")]
    pub bad_match_thresholds: Vec<f64>,
    /// Max-min rounds for --objective fair: after each round but the last, the papers at the
    /// minimum keep their reviewers and the next round raises the minimum of the others.
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub fair_rounds: u32,
    /// Every paper's total affinity must be at least T (a score, like 1.5).
    #[arg(long, value_name = "T")]
    pub min_paper_score: Option<f64>,
    #[command(flatten)]
    pub rule: RuleArgs,
    /// Flow solves per fairness stage on venues too big for the exact integer program; more
    /// can narrow the proven gap.
    #[arg(long, default_value_t = 40, value_name = "N")]
    pub fair_iterations: usize,
    /// A fairness stage stops once what it found is within this fraction of its proven bound
    /// (0: only when they meet, or the iterations run out); the gap left is reported.
    #[arg(long, default_value_t = 1e-6, value_name = "F")]
    pub fair_tolerance: f64,
}

/// Composition rules, for `assign` and `reassign`.
#[derive(Debug, Args)]
pub struct RuleArgs {
    /// Composition rule: each paper gets at least COUNT reviewers with ATTR=VALUE (an extra
    /// column of reviewers.csv), e.g. `--at-least 1 seniority=senior`. Repeatable.
    #[arg(long, num_args = 2, value_names = ["COUNT", "ATTR=VALUE"])]
    pub at_least: Vec<String>,
    /// Composition rule: each paper gets at most COUNT reviewers with ATTR=VALUE, or at most
    /// COUNT sharing any one value: `--at-most 1 per institution`. Repeatable.
    #[arg(long, num_args = 2..=3, value_names = ["COUNT", "ATTR=VALUE | per ATTR"])]
    pub at_most: Vec<String>,
    /// Make the composition rules soft: each missing or extra reviewer costs --rule-penalty.
    #[arg(long)]
    pub soft: bool,
    /// Score lost per rule violation under --soft (1.0 = one perfectly matched reviewer).
    #[arg(long, default_value_t = 1.0, value_name = "W")]
    pub rule_penalty: f64,
    /// No review cycle of length up to L (2: no two reviewers review each other's papers; 3:
    /// no three in a ring), among reviewers who are authors (their id or e-mail in a paper's
    /// authors).
    #[arg(long, value_name = "L")]
    pub no_review_cycles: Option<usize>,
}

impl RuleArgs {
    /// The cycle rule `--no-review-cycles` asks for, for `venue`.
    pub fn cycle_rule(
        &self,
        venue: &papermatch::model::Venue,
    ) -> anyhow::Result<Option<papermatch::solve::cycles::CycleRule>> {
        Ok(match self.no_review_cycles {
            Some(l) => Some(papermatch::solve::cycles::CycleRule::from_venue(venue, l)?),
            None => None,
        })
    }

    /// The composition rules and their options; `None` without rules.
    pub fn rules(&self) -> anyhow::Result<Option<(Vec<Rule>, RuleOptions)>> {
        // Each occurrence is `COUNT ATTR=VALUE` or `COUNT per ATTR`; clap hands over the words
        // of all occurrences in one list.
        let mut rules = Vec::new();
        for (bound, words) in [
            (Bound::AtLeast, &self.at_least),
            (Bound::AtMost, &self.at_most),
        ] {
            let mut i = 0;
            while i < words.len() {
                let n = if words.get(i + 1).is_some_and(|w| w == "per") {
                    3
                } else {
                    2
                };
                let end = (i + n).min(words.len());
                rules.push(Rule::parse(bound, &words[i..end].join(" "))?);
                i = end;
            }
        }
        if rules.is_empty() {
            if self.soft {
                anyhow::bail!(papermatch::Error::Options(
                    "--soft needs composition rules (--at-least, --at-most)".into()
                ));
            }
            return Ok(None);
        }
        if !(self.rule_penalty.is_finite() && self.rule_penalty >= 0.0) {
            anyhow::bail!(papermatch::Error::Options(format!(
                "--rule-penalty {} must be a non-negative number",
                self.rule_penalty
            )));
        }
        let soft = self
            .soft
            .then(|| papermatch::model::score_to_units(self.rule_penalty));
        Ok(Some((
            rules,
            RuleOptions {
                soft,
                ..RuleOptions::default()
            },
        )))
    }

    /// The rules as the library's rule set for `venue` (groups from the reviewers' attributes),
    /// starting the flow from `candidates` reviewers per paper.
    pub fn rule_set(
        &self,
        venue: &papermatch::model::Venue,
        candidates: usize,
    ) -> anyhow::Result<Option<RuleSet>> {
        Ok(match self.rules()? {
            Some((rules, options)) => Some(RuleSet {
                groups: papermatch::solve::rules::groups(&rules, &venue.reviewers)?,
                rules,
                options: RuleOptions {
                    candidates,
                    ..options
                },
            }),
            None => None,
        })
    }
}

/// What to maximise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ObjectiveArg {
    /// Total affinity.
    Total,
    /// The worst-off paper first, then total affinity.
    Fair,
    /// Perturbed maximization (randomized): Σ w·(x − βx²), then one sample.
    Perturbed,
    /// A picking sequence that is weighted envy-free up to one reviewer (FairSequence).
    Wef1,
}

impl RequirementArgs {
    /// The fairness options, when the objective or a floor asks for them.
    pub fn fair_options(&self) -> anyhow::Result<Option<FairOptions>> {
        let min_paper_score = match self.min_paper_score {
            Some(t) if !t.is_finite() => anyhow::bail!(papermatch::Error::Options(format!(
                "--min-paper-score {t} is not a number"
            ))),
            Some(t) => Some(papermatch::model::score_to_units(t)),
            None => None,
        };
        let objective = match self.objective {
            ObjectiveArg::Total | ObjectiveArg::Perturbed => Objective::Total,
            ObjectiveArg::Fair => Objective::Fair,
            ObjectiveArg::Wef1 => Objective::Wef1,
        };
        if objective == Objective::Total && min_paper_score.is_none() {
            return Ok(None);
        }
        Ok(Some(FairOptions {
            objective,
            rounds: self.fair_rounds as usize,
            min_paper_score,
            iterations: self.fair_iterations,
            tolerance: self.fair_tolerance,
            ..FairOptions::default()
        }))
    }

    /// Everything the flags ask for, as the library's requirements model.
    pub fn requirements(
        &self,
        venue: &papermatch::model::Venue,
        progress: bool,
    ) -> anyhow::Result<Requirements> {
        let rules = self.rule.rule_set(venue, self.candidates)?;
        let perturbed = self.objective == ObjectiveArg::Perturbed;
        if !perturbed && !self.bad_match_thresholds.is_empty() {
            anyhow::bail!(papermatch::Error::Options(
                "--bad-match-threshold limits perturbed maximization: add --objective perturbed"
                    .into()
            ));
        }
        let randomized =
            if perturbed || self.max_probability.is_some() || self.probability_limits.is_some() {
                let q = self.max_probability.unwrap_or(1.0);
                if !(q > 0.0 && q <= 1.0) {
                    anyhow::bail!(papermatch::Error::Options(format!(
                        "--max-probability {q} must lie in (0, 1]"
                    )));
                }
                let pairs = match &self.probability_limits {
                    Some(path) => papermatch::io::formats::read_probability_limits(path, venue)?,
                    None => Vec::new(),
                };
                let perturbation = perturbed
                    .then(|| -> anyhow::Result<Perturbation> {
                        let beta = self.perturbation;
                        if !(beta.is_finite() && beta >= 0.0) {
                            anyhow::bail!(papermatch::Error::Options(format!(
                                "--perturbation {beta} must be a number ≥ 0 (0.5 is the default)"
                            )));
                        }
                        Ok(Perturbation {
                            beta,
                            bad_match_thresholds: self
                                .bad_match_thresholds
                                .iter()
                                .map(|&t| papermatch::model::score_to_units(t))
                                .collect(),
                        })
                    })
                    .transpose()?;
                Some(Randomization {
                    caps: ProbabilityCaps { default: q, pairs },
                    seed: self.seed,
                    perturbation,
                })
            } else {
                None
            };
        Ok(Requirements {
            fair: self.fair_options()?,
            rules,
            randomized,
            cycles: self.rule.cycle_rule(venue)?,
            solve: self.solve_options(progress),
        })
    }

    pub fn solve_options(&self, progress: bool) -> SolveOptions {
        SolveOptions {
            solver: match self.solver {
                SolverArg::Flow => SolverKind::Flow,
                SolverArg::Lp => SolverKind::Lp,
            },
            candidates: self.candidates,
            progress,
        }
    }
}

#[derive(Debug, Args)]
pub struct AffinityArgs {
    #[command(flatten)]
    pub venue: VenueArgs,
    /// Where to write the matrix; `-` is stdout.
    #[arg(short, long, default_value = "-", value_name = "FILE")]
    pub output: PathBuf,
    /// Only the K highest-scoring reviewers of each paper.
    #[arg(long, value_name = "K")]
    pub top: Option<usize>,
}

#[derive(Debug, Args)]
pub struct ConflictsArgs {
    #[command(flatten)]
    pub venue: VenueArgs,
    /// Where to write the list; `-` is stdout.
    #[arg(short, long, default_value = "-", value_name = "FILE")]
    pub output: PathBuf,
}

/// Options of the commands that measure an assignment.
#[derive(Debug, Args)]
pub struct MeasureArgs {
    /// A reviewer counts as an expert for a paper when their affinity is at least this.
    #[arg(long, default_value_t = 0.5, value_name = "T")]
    pub expertise_threshold: f64,
    /// Do not solve the venue for the gap to the optimum.
    #[arg(long)]
    pub no_optimum: bool,
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    #[command(flatten)]
    pub venue: VenueArgs,
    /// The assignment: papermatch CSV (paper_id,reviewer_id[,score]) or OpenReview assignments.json.
    #[arg(long, value_name = "FILE")]
    pub assignment: PathBuf,
    /// Print JSON (schema_version 1) instead of text.
    #[arg(long)]
    pub json: bool,
    /// The marginal probabilities of a randomized assignment (paper_id,reviewer_id,probability,
    /// as `assign --probabilities` writes them): adds their randomness figures.
    #[arg(long, value_name = "FILE")]
    pub probabilities: Option<PathBuf>,
    /// With --probabilities: the expected number of assigned pairs scoring below T (repeatable).
    #[arg(
        long = "bad-match-threshold",
        value_name = "T",
        requires = "probabilities"
    )]
    pub bad_match_thresholds: Vec<f64>,
    #[command(flatten)]
    pub measure: MeasureArgs,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    #[command(flatten)]
    pub venue: VenueArgs,
    /// The first assignment (CSV or OpenReview JSON).
    pub a: PathBuf,
    /// The second assignment.
    pub b: PathBuf,
    /// Print JSON (schema_version 1) instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub measure: MeasureArgs,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub venue: VenueArgs,
    /// The assignment (CSV or OpenReview JSON).
    #[arg(long, value_name = "FILE")]
    pub assignment: PathBuf,
    /// Where to write the HTML file; `-` is stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Title of the report (default: the venue directory's name).
    #[arg(long)]
    pub title: Option<String>,
    #[command(flatten)]
    pub measure: MeasureArgs,
}

#[derive(Debug, Args)]
pub struct ReassignArgs {
    #[command(flatten)]
    pub venue: VenueArgs,
    /// The current assignment (CSV with paper_id,reviewer_id, or OpenReview JSON).
    #[arg(long, value_name = "FILE")]
    pub existing: PathBuf,
    /// Reviewers who dropped out: one id per line (a `reviewer_id` header is optional).
    #[arg(long, value_name = "FILE")]
    pub drop: Option<PathBuf>,
    /// Extra demand: paper_id,extra rows, each asking for `extra` more reviewers on a paper.
    #[arg(long, value_name = "FILE")]
    pub add: Option<PathBuf>,
    /// Still-valid existing pairs that may be given up for a better total (default: none).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub allow_moves: usize,
    /// Where to write the new assignment; `-` is stdout.
    #[arg(short, long, default_value = "-", value_name = "FILE")]
    pub output: PathBuf,
    /// The rules still hold when re-assigning.
    #[command(flatten)]
    pub rule: RuleArgs,
    /// Write every change: change,paper_id,reviewer_id,score,reason (kept, removed, added).
    #[arg(long, value_name = "FILE")]
    pub changes: Option<PathBuf>,
    /// Also write a JSON summary of the new assignment.
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    #[command(flatten)]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub venue: VenueArgs,
    /// Start from this assignment (CSV or OpenReview JSON) instead of solving one.
    #[arg(long, value_name = "FILE")]
    pub assignment: Option<PathBuf>,
    /// The port to listen on (0: any free port).
    #[arg(long, default_value_t = 8480, value_name = "N")]
    pub port: u16,
    /// The address to listen on; anything but loopback exposes the workbench (its token still
    /// guards it) to the network.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub bind: std::net::IpAddr,
    /// The venue's name on the pages (default: the venue directory's name).
    #[arg(long)]
    pub title: Option<String>,
    #[command(flatten)]
    pub req: RequirementArgs,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub venue: VenueArgs,
    /// The assignment (CSV or OpenReview JSON).
    #[arg(long, value_name = "FILE")]
    pub assignment: PathBuf,
    /// Where to write; `-` is stdout.
    #[arg(short, long, default_value = "-", value_name = "FILE")]
    pub output: PathBuf,
    #[command(flatten)]
    pub format: OutputFormat,
}

impl MeasureArgs {
    pub fn options(&self, solve: SolveOptions) -> papermatch::report::evaluate::EvaluateOptions {
        papermatch::report::evaluate::EvaluateOptions {
            expertise_threshold: self.expertise_threshold,
            compute_optimum: !self.no_optimum,
            solve,
        }
    }
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Number of papers.
    #[arg(long, default_value_t = 100)]
    pub papers: usize,
    /// Number of reviewers.
    #[arg(long, default_value_t = 150)]
    pub reviewers: usize,
    /// Random seed: the same seed gives byte-identical files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// What files to write.
    #[arg(long, value_enum, default_value = "scores")]
    pub layout: LayoutArg,
    /// Reviewers per paper (written as the demand column in the keywords layout).
    #[arg(long, default_value_t = 3)]
    pub demand: u32,
    /// Maximum load per reviewer (raised if the venue would otherwise be infeasible).
    #[arg(long, default_value_t = 6)]
    pub max_load: u32,
    /// Output directory (created if needed).
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
}

impl GenerateArgs {
    pub fn spec(&self) -> GenerateSpec {
        GenerateSpec {
            papers: self.papers,
            reviewers: self.reviewers,
            seed: self.seed,
            layout: match self.layout {
                LayoutArg::Scores => Layout::Scores,
                LayoutArg::Keywords => Layout::Keywords,
                LayoutArg::Text => Layout::Text,
                LayoutArg::Reciprocal => Layout::Reciprocal,
            },
            demand: self.demand,
            max_load: self.max_load,
        }
    }
}

impl Command {
    /// The files the command reads (beyond its venue's) and the files it writes, as
    /// `(flag, path)`, for the check that no output replaces an input.
    pub fn io_paths(&self) -> (Option<&VenueArgs>, Vec<&Path>, Vec<(&'static str, &Path)>) {
        fn opt(p: &Option<PathBuf>) -> Option<&Path> {
            p.as_deref()
        }
        match self {
            Command::Assign(a) => {
                let mut out = vec![("-o", a.output.as_path())];
                out.extend(opt(&a.summary).map(|p| ("--summary", p)));
                out.extend(opt(&a.probabilities).map(|p| ("--probabilities", p)));
                if a.alternates.is_some() {
                    out.push(("--alternates-output", a.alternates_output.as_path()));
                }
                (
                    Some(&a.venue),
                    opt(&a.req.probability_limits).into_iter().collect(),
                    out,
                )
            }
            Command::Affinity(a) => (Some(&a.venue), vec![], vec![("-o", &a.output)]),
            Command::Conflicts(a) => (Some(&a.venue), vec![], vec![("-o", &a.output)]),
            Command::Evaluate(e) => (Some(&e.venue), vec![&e.assignment], vec![]),
            Command::Compare(c) => (Some(&c.venue), vec![&c.a, &c.b], vec![]),
            Command::Report(r) => (Some(&r.venue), vec![&r.assignment], vec![("-o", &r.output)]),
            Command::Export(x) => (Some(&x.venue), vec![&x.assignment], vec![("-o", &x.output)]),
            Command::Reassign(x) => {
                let mut inputs = vec![x.existing.as_path()];
                inputs.extend(opt(&x.drop));
                inputs.extend(opt(&x.add));
                let mut out = vec![("-o", x.output.as_path())];
                out.extend(opt(&x.changes).map(|p| ("--changes", p)));
                out.extend(opt(&x.summary).map(|p| ("--summary", p)));
                (Some(&x.venue), inputs, out)
            }
            Command::Serve(x) => {
                let mut inputs: Vec<&Path> = opt(&x.assignment).into_iter().collect();
                inputs.extend(opt(&x.req.probability_limits));
                (Some(&x.venue), inputs, vec![])
            }
            Command::Generate(_) => (None, vec![], vec![]),
        }
    }
}
