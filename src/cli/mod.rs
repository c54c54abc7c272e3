//! Command-line interface: flag definitions (clap derive) and the wiring to the library.
//! Nothing here computes anything the library does not.
//!
//! | file | what | may use |
//! |---|---|---|
//! | `mod.rs` | each command: parse, call the library, render | the library |
//! | `args.rs` | the flags (clap derive); each flag's doc comment is its `--help` | the library's option types |

mod args;

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;

use args::{Cli, Command, FormatArg, OutputFormat, VenueArgs};
use papermatch::io::formats::{self, read_assignment};
use papermatch::io::write_csv_atomic;
use papermatch::model::{count, format_units};
use papermatch::report::evaluate;
use papermatch::report::{write_assignment, write_summary};
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
            "read {}, {}; affinity {} stored pairs; {} ({:.2} s)",
            count(instance.venue.n_papers() as u64, "paper"),
            count(instance.venue.n_reviewers() as u64, "reviewer"),
            instance.affinity.stored(),
            count(instance.conflicts.len() as u64, "conflict"),
            start.elapsed().as_secs_f64()
        ),
    );
    Ok(instance)
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

/// Refuses, before anything is read or solved, an output that would replace an input of the
/// run or that cannot be written where it is asked for.
fn check_outputs(command: &Command) -> anyhow::Result<()> {
    let (venue, extra, outputs) = command.io_paths();
    let mut inputs: Vec<std::path::PathBuf> = extra.iter().map(|p| p.to_path_buf()).collect();
    if let Some(v) = venue {
        // A venue that cannot be listed is reported when it is read.
        inputs.extend(v.files().map(|f| f.inputs()).unwrap_or_default());
    }
    papermatch::io::check_outputs(&inputs, &outputs)?;
    Ok(())
}

/// The venue directory's name, for titles.
fn venue_name(v: &VenueArgs) -> String {
    v.venue
        .as_ref()
        .and_then(|d| d.canonicalize().ok())
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "venue".into())
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    check_outputs(&cli.command)?;
    match &cli.command {
        Command::Assign(a) => {
            let instance = load(cli, &a.venue)?;
            let req = a.req.requirements(&instance.venue, !cli.quiet)?;
            let problem = instance.problem();
            let outcome = papermatch::solve::assign(&problem, &req)?;
            write_output(&a.format, &a.output, &instance, &outcome.assignment)?;
            if let (Some(path), Some(r)) = (&a.probabilities, &outcome.randomized) {
                papermatch::report::write_marginals(path, &problem, &r.marginals)?;
            }
            if let Some(n) = a.alternates {
                papermatch::report::write_alternates(
                    &a.alternates_output,
                    &problem,
                    &outcome.assignment,
                    n,
                )?;
            }
            let mut summary = papermatch::report::summarize_outcome(&problem, &req, &outcome);
            summary.bids = evaluate::bid_counts(&instance.venue, &outcome.assignment);
            summary.coauthor_rule = a.venue.coauthors()?.map(|c| c.to_string());
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
            let pb = instance.problem();
            let mut ev = evaluate::evaluate(&pb, &instance.venue, &a, &opts);
            if let Some(path) = &e.probabilities {
                let marginals = papermatch::io::formats::read_marginals(path, &instance.venue)?;
                ev.randomness = Some(evaluate::randomness(
                    &pb,
                    &marginals,
                    ev.optimum,
                    &e.bad_match_thresholds,
                ));
            }
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
            let title = r.title.clone().unwrap_or_else(|| venue_name(&r.venue));
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
                fewest_moves: false,
            };
            let problem = instance.problem();
            let req = papermatch::solve::Requirements {
                rules: x.rule.rule_set(venue, 0)?,
                cycles: x.rule.cycle_rule(venue)?,
                solve: optimum_solve_options(cli),
                ..Default::default()
            };
            let r = papermatch::solve::reassign::reassign(&problem, &existing, &opts, &req)?;
            write_output(&x.format, &x.output, &instance, &r.assignment)?;
            if let Some(path) = &x.changes {
                formats::write_changes(path, &problem, &r)?;
            }
            let mut summary = papermatch::report::summarize(&problem, &r.assignment);
            summary.bids = evaluate::bid_counts(venue, &r.assignment);
            summary.coauthor_rule = x.venue.coauthors()?.map(|c| c.to_string());
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
        Command::Serve(x) => {
            let instance = load(cli, &x.venue)?;
            let req = x.req.requirements(&instance.venue, !cli.quiet)?;
            let existing = match &x.assignment {
                Some(path) => Some(read_assignment(path, &instance.venue)?),
                None => None,
            };
            let start = Instant::now();
            // Save never writes over a file the run reads, the starting assignment included.
            let mut inputs = x.venue.files()?.inputs();
            inputs.extend(x.assignment.iter().cloned());
            inputs.extend(x.req.probability_limits.iter().cloned());
            let session = papermatch::session::Session::start(instance, req, inputs, existing)
                .map_err(|e| match e {
                    papermatch::session::SessionError::Library(e) => anyhow::Error::from(e),
                    other => anyhow::Error::from(other),
                })?;
            log(
                cli,
                format!(
                    "solved in {:.2} s: optimum {}, current total {}, {}",
                    start.elapsed().as_secs_f64(),
                    format_units(session.optimum().total),
                    format_units(session.total()),
                    count(session.violations().len() as u64, "violation")
                ),
            );
            let title = x.title.clone().unwrap_or_else(|| venue_name(&x.venue));
            let addr = std::net::SocketAddr::new(x.bind, x.port);
            papermatch::serve::run(session, addr, &title)
                .with_context(|| format!("serving the workbench on {addr}"))?;
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
                    "wrote {} ({} × {}) in {:.2} s",
                    written.join(", "),
                    count(spec.papers as u64, "paper"),
                    count(spec.reviewers as u64, "reviewer"),
                    start.elapsed().as_secs_f64()
                ),
            );
            Ok(())
        }
    }
}
