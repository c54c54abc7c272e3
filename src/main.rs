//! The `papermatch` command: parses flags and calls the library (see `src/cli`).

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
