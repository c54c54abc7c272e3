//! Flag definitions. Each flag's doc comment is its `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use papermatch::AssignOptions;
use papermatch::affinity::{AffinityOptions, KeywordMeasure};
use papermatch::conflicts::ConflictOptions;
use papermatch::generate::{GenerateSpec, Layout};
use papermatch::io::{ReadOptions, VenueFiles};
use papermatch::solve::{SolveOptions, SolverKind};

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
    Assign(AssignArgs),
    /// Write the affinity matrix as paper_id,reviewer_id,score (non-zero pairs, or the top K per paper).
    #[command(
        after_help = "Example:\n  papermatch affinity examples/want-workshop --top 5 -o affinity.csv"
    )]
    Affinity(AffinityArgs),
    /// List every conflict of interest as paper_id,reviewer_id,reason.
    #[command(after_help = "Example:\n  papermatch conflicts examples/want-workshop")]
    Conflicts(ConflictsArgs),
    /// Generate a synthetic venue of any size (deterministic by seed).
    #[command(
        after_help = "Examples:\n  papermatch generate --papers 2000 --reviewers 3000 --seed 1 -o /tmp/venue\n  papermatch generate --papers 16000 --reviewers 20000 --layout keywords --demand 4 -o /tmp/big"
    )]
    Generate(GenerateArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AffinityArg {
    /// TF-IDF-weighted cosine of keyword sets.
    Tfidf,
    /// Jaccard similarity of keyword sets.
    Jaccard,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SolverArg {
    /// Exact network-flow solver with pruning and pricing (fast at any size).
    Flow,
    /// The LP through good_lp (small venues; a cross-check).
    Lp,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LayoutArg {
    /// A bare dense scores.csv (+ conflicts.csv).
    Scores,
    /// papers.csv + reviewers.csv with keywords, authors, institutions.
    Keywords,
}

/// Where the venue is and how to read it.
#[derive(Debug, Args)]
pub struct VenueArgs {
    /// Venue directory holding papers.csv, reviewers.csv, conflicts.csv and/or scores.csv.
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
    /// Keyword affinity measure.
    #[arg(long, value_enum, default_value = "tfidf")]
    pub affinity: AffinityArg,
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
}

impl VenueArgs {
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
                measure: match self.affinity {
                    AffinityArg::Tfidf => KeywordMeasure::TfIdf,
                    AffinityArg::Jaccard => KeywordMeasure::Jaccard,
                },
                score_weight: self.score_weight,
                keyword_weight: self.keyword_weight,
            },
            conflicts: ConflictOptions {
                institution_rule: !self.no_institution_conflicts,
                domain_rule: !self.no_domain_conflicts,
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
    /// Which solver to use.
    #[arg(long, value_enum, default_value = "flow")]
    pub solver: SolverArg,
    /// Candidate reviewers per paper kept by the flow solver before pricing (0 = automatic).
    #[arg(long, default_value_t = 0, value_name = "L")]
    pub candidates: usize,
}

impl AssignArgs {
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
            },
            demand: self.demand,
            max_load: self.max_load,
        }
    }
}
