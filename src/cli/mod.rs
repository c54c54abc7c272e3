//! Command-line interface: flag definitions (clap derive) and the wiring to the library.
//! Nothing here computes anything the library does not.

mod args;

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;

use args::{Cli, Command, FormatArg, OutputFormat, VenueArgs};
use papermatch::io::formats::{self, read_assignment};
use papermatch::io::write_csv_atomic;
use papermatch::model::format_units;
use papermatch::report::evaluate;
use papermatch::report::{summarize_solution, write_assignment, write_summary};
use papermatch::{Error, Instance};

/// Exit code for bad usage or bad input.
const EXIT_INPUT: u8 = 2;
/// Exit code for an infeasible instance.
const EXIT_INFEASIBLE: u8 = 3;

/// Runs the command line and maps errors to exit codes: 0 ok, 1 other failure, 2 bad usage or
/// input, 3 infeasible.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // A closed pipe (`papermatch ... | head`) is not a failure.
            let broken_pipe = err.chain().any(|e| {
                e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            });
            if broken_pipe {
                return ExitCode::SUCCESS;
            }
            let code = match err.downcast_ref::<Error>() {
                Some(Error::Infeasible(d)) => {
                    eprint!("{d}");
                    return ExitCode::from(EXIT_INFEASIBLE);
                }
                Some(Error::Input(_) | Error::Options(_)) => EXIT_INPUT,
                Some(Error::Io { action, .. })
                    if action.starts_with("cannot read") || action.starts_with("cannot open") =>
                {
                    EXIT_INPUT
                }
                _ => 1,
            };
            eprintln!("error: {err:#}");
            ExitCode::from(code)
        }
    }
}

fn log(cli: &Cli, msg: impl AsRef<str>) {
    if !cli.quiet {
        eprintln!("{}", msg.as_ref());
    }
}

fn load(cli: &Cli, v: &VenueArgs) -> anyhow::Result<Instance> {
    let start = Instant::now();
    let opts = v.options(!cli.quiet)?;
    let instance = Instance::from_files(&v.files()?, &opts)?;
    log(
        cli,
        format!(
            "read {} papers, {} reviewers; affinity {} stored pairs; {} conflicts ({:.2} s)",
            instance.venue.n_papers(),
            instance.venue.n_reviewers(),
            instance.affinity.stored(),
            instance.conflicts.len(),
            start.elapsed().as_secs_f64()
        ),
    );
    Ok(instance)
}

fn assign_randomized(
    cli: &Cli,
    a: &args::AssignArgs,
    instance: &Instance,
    opts: &papermatch::solve::SolveOptions,
) -> anyhow::Result<()> {
    use papermatch::solve::randomized::{self, PROB_SCALE, ProbabilityCaps};
    let q = a.max_probability.unwrap_or(1.0);
    if !(q > 0.0 && q <= 1.0) {
        anyhow::bail!(Error::Options(format!(
            "--max-probability {q} must lie in (0, 1]"
        )));
    }
    let mut caps = ProbabilityCaps {
        default: q,
        pairs: Vec::new(),
    };
    if let Some(path) = &a.probability_limits {
        caps.pairs = formats::read_probability_limits(path, &instance.venue)?;
    }
    let problem = instance.problem();
    let r = randomized::assign_randomized(&problem, &caps, a.seed, opts)?;
    write_output(&a.format, &a.output, instance, &r.assignment)?;
    if let Some(path) = &a.probabilities {
        let mut rows: Vec<(&str, &str, i32)> = Vec::new();
        for (p, row) in r.marginals.by_paper.iter().enumerate() {
            for &(rv, f) in row {
                rows.push((&problem.paper_ids[p], &problem.reviewer_ids[rv.ix()], f));
            }
        }
        rows.sort_unstable_by(|x, y| x.0.cmp(y.0).then(y.2.cmp(&x.2)).then(x.1.cmp(y.1)));
        write_csv_atomic(path, &["paper_id", "reviewer_id", "probability"], |w| {
            for (p, rv, f) in rows {
                w.write_record([p, rv, &format!("{:.3}", f as f64 / PROB_SCALE as f64)])?;
            }
            Ok(())
        })?;
    }
    let mut summary = papermatch::report::summarize(&problem, &r.assignment);
    summary.bids = evaluate::bid_counts(&instance.venue, &r.assignment);
    summary.randomized = Some(papermatch::report::RandomizedFigures {
        seed: r.seed,
        expected_affinity: r.marginals.expected_affinity(),
        deterministic_optimum: r.deterministic_optimum as f64
            / papermatch::model::SCORE_SCALE as f64,
        ratio_to_optimum: r.ratio(),
        max_probability_used: r.marginals.max_probability(),
    });
    if let Some(path) = &a.summary {
        write_summary(path, &summary)?;
    }
    if !cli.quiet {
        eprint!("{}", summary.human());
    }
    Ok(())
}

/// Solve options for the optimum computed by evaluate, compare and report.
fn optimum_solve_options(cli: &Cli) -> papermatch::solve::SolveOptions {
    papermatch::solve::SolveOptions {
        progress: !cli.quiet,
        ..Default::default()
    }
}

fn write_output(
    f: &OutputFormat,
    path: &std::path::Path,
    instance: &Instance,
    a: &papermatch::solve::Assignment,
) -> anyhow::Result<()> {
    let pb = instance.problem();
    match f.format {
        FormatArg::Csv => write_assignment(path, &pb, a)?,
        FormatArg::Openreview => formats::write_openreview_json(path, &pb, a)?,
        FormatArg::Hotcrp => formats::write_hotcrp(
            path,
            &pb,
            &instance.venue,
            a,
            &formats::HotCrpOptions {
                review_type: f.review_type.clone(),
                round: f.round.clone(),
            },
        )?,
    }
    Ok(())
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Assign(a) => {
            let instance = load(cli, &a.venue)?;
            let opts = a.solve_options(!cli.quiet);
            let problem = instance.problem();
            let fair = a.fair_options()?;
            let rules = a.rules()?;
            let randomized = a.max_probability.is_some() || a.probability_limits.is_some();
            if [randomized, fair.is_some(), rules.is_some()]
                .iter()
                .filter(|&&x| x)
                .count()
                > 1
            {
                anyhow::bail!(Error::Options(
                    "randomized assignment (--max-probability, --probability-limits), fairness \
                     (--objective fair, --min-paper-score) and composition rules (--at-least, \
                     --at-most) are separate modes: use one at a time"
                        .into()
                ));
            }
            if randomized {
                return assign_randomized(cli, a, &instance, &opts);
            }
            let (assignment, mut summary) = match (&fair, &rules) {
                (_, Some((rules, ropts))) => {
                    let groups =
                        papermatch::solve::rules::groups(rules, &instance.venue.reviewers)?;
                    let s = papermatch::solve::rules::solve_rules(&problem, &groups, ropts)?;
                    let mut summary = papermatch::report::summarize(&problem, &s.assignment);
                    summary.rules =
                        Some(papermatch::report::RulesFigures::of(rules, &s, ropts.soft));
                    (s.assignment, summary)
                }
                (Some(f), None) => {
                    let s = papermatch::solve::fair::solve_fair(&problem, &opts, f)?;
                    let mut summary = papermatch::report::summarize(&problem, &s.assignment);
                    summary.fair = Some(papermatch::report::FairFigures::of(&s));
                    (s.assignment, summary)
                }
                (None, None) => {
                    let s = papermatch::solve::solve(&problem, &opts)?;
                    let summary = summarize_solution(&problem, &s);
                    (s.assignment, summary)
                }
            };
            write_output(&a.format, &a.output, &instance, &assignment)?;
            if let Some(n) = a.alternates {
                papermatch::report::write_alternates(
                    &a.alternates_output,
                    &problem,
                    &assignment,
                    n,
                )?;
            }
            summary.bids = evaluate::bid_counts(&instance.venue, &assignment);
            if let Some(path) = &a.summary {
                write_summary(path, &summary)?;
            }
            if !cli.quiet {
                eprint!("{}", summary.human());
            }
            Ok(())
        }
        Command::Affinity(a) => {
            let instance = load(cli, &a.venue)?;
            let pb = instance.problem();
            let rows = papermatch::report::affinity_rows(&pb, a.top);
            write_csv_atomic(&a.output, &["paper_id", "reviewer_id", "score"], |w| {
                for (p, r, s) in rows {
                    w.write_record([p, r, &format_units(s)])?;
                }
                Ok(())
            })
            .context("writing the affinity matrix")?;
            Ok(())
        }
        Command::Conflicts(a) => {
            let instance = load(cli, &a.venue)?;
            let v = &instance.venue;
            write_csv_atomic(&a.output, &["paper_id", "reviewer_id", "reason"], |w| {
                for (p, r, _) in instance.conflicts.iter() {
                    let why = instance.conflicts.describe(v, p, r);
                    w.write_record([&v.papers[p.ix()].id, &v.reviewers[r.ix()].id, &why])?;
                }
                Ok(())
            })?;
            Ok(())
        }
        Command::Evaluate(e) => {
            let instance = load(cli, &e.venue)?;
            let a = read_assignment(&e.assignment, &instance.venue)?;
            let opts = e.measure.options(optimum_solve_options(cli));
            let ev = evaluate::evaluate(&instance.problem(), &instance.venue, &a, &opts);
            print!(
                "{}",
                if e.json {
                    ev.to_json() + "\n"
                } else {
                    ev.human()
                }
            );
            Ok(())
        }
        Command::Compare(c) => {
            let instance = load(cli, &c.venue)?;
            let a = read_assignment(&c.a, &instance.venue)?;
            let b = read_assignment(&c.b, &instance.venue)?;
            let opts = c.measure.options(optimum_solve_options(cli));
            let cmp = evaluate::compare(
                &instance.problem(),
                &instance.venue,
                (&c.a.display().to_string(), &a),
                (&c.b.display().to_string(), &b),
                &opts,
            );
            print!(
                "{}",
                if c.json {
                    cmp.to_json() + "\n"
                } else {
                    cmp.human()
                }
            );
            Ok(())
        }
        Command::Report(r) => {
            let instance = load(cli, &r.venue)?;
            let a = read_assignment(&r.assignment, &instance.venue)?;
            let problem = instance.problem();
            let ev = evaluate::evaluate(
                &problem,
                &instance.venue,
                &a,
                &r.measure.options(optimum_solve_options(cli)),
            );
            let title = r.title.clone().unwrap_or_else(|| {
                r.venue
                    .venue
                    .as_ref()
                    .and_then(|d| d.file_name())
                    .map_or("venue".into(), |n| n.to_string_lossy().into_owned())
            });
            let html = papermatch::report::html::render(&title, &problem, &instance.venue, &a, &ev);
            papermatch::io::write_atomic(&r.output, |w| w.write_all(html.as_bytes()))?;
            log(cli, format!("wrote {}", r.output.display()));
            Ok(())
        }
        Command::Export(x) => {
            let instance = load(cli, &x.venue)?;
            let a = read_assignment(&x.assignment, &instance.venue)?;
            write_output(&x.format, &x.output, &instance, &a)
        }
        Command::Reassign(x) => {
            let instance = load(cli, &x.venue)?;
            let venue = &instance.venue;
            let existing = read_assignment(&x.existing, venue)?;
            let opts = papermatch::solve::reassign::ReassignOptions {
                dropped: match &x.drop {
                    Some(path) => formats::read_reviewer_list(path, venue)?,
                    None => Vec::new(),
                },
                extra_demand: match &x.add {
                    Some(path) => formats::read_extra_demand(path, venue)?,
                    None => Vec::new(),
                },
                allow_moves: x.allow_moves,
            };
            let problem = instance.problem();
            let r = papermatch::solve::reassign::reassign(
                &problem,
                &existing,
                &opts,
                &optimum_solve_options(cli),
            )?;
            write_output(&x.format, &x.output, &instance, &r.assignment)?;
            if let Some(path) = &x.changes {
                formats::write_changes(path, &problem, &r)?;
            }
            let mut summary = papermatch::report::summarize(&problem, &r.assignment);
            summary.bids = evaluate::bid_counts(venue, &r.assignment);
            if let Some(path) = &x.summary {
                write_summary(path, &summary)?;
            }
            if !cli.quiet {
                eprint!("{}", summary.human());
                let moved = r
                    .removed
                    .iter()
                    .filter(|c| c.2 == papermatch::solve::reassign::Removal::Moved)
                    .count();
                eprintln!(
                    "kept {} pairs, removed {} ({} moved), added {}; total {} (proven bound {})",
                    r.kept.len(),
                    r.removed.len(),
                    moved,
                    r.added.len(),
                    format_units(r.objective),
                    format_units(r.bound)
                );
            }
            Ok(())
        }
        Command::Generate(g) => {
            let start = Instant::now();
            let spec = g.spec();
            let spinner = papermatch::progress::spinner(!cli.quiet, "generating");
            let written = papermatch::generate::write_venue(&spec, &g.output)?;
            spinner.finish_and_clear();
            log(
                cli,
                format!(
                    "wrote {} ({} papers × {} reviewers) in {:.2} s",
                    written.join(", "),
                    spec.papers,
                    spec.reviewers,
                    start.elapsed().as_secs_f64()
                ),
            );
            Ok(())
        }
    }
}
