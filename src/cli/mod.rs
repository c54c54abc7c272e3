//! Command-line interface: flag definitions (clap derive) and the wiring to the library.
//! Nothing here computes anything the library does not.

mod args;

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;

use args::{Cli, Command, VenueArgs};
use papermatch::io::write_csv_atomic;
use papermatch::model::format_units;
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

fn run(cli: &Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Assign(a) => {
            let instance = load(cli, &a.venue)?;
            let opts = a.solve_options(!cli.quiet);
            let problem = instance.problem();
            let solution = papermatch::solve::solve(&problem, &opts)?;
            write_assignment(&a.output, &problem, &solution.assignment)?;
            let summary = summarize_solution(&problem, &solution);
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
        Command::Generate(g) => {
            let start = Instant::now();
            let spec = g.spec();
            let written = papermatch::generate::write_venue(&spec, &g.output)?;
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
