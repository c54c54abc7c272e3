//! Helpers shared by the integration tests: running the real binary and finding fixtures.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// A command for the `papermatch` binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_papermatch"))
}

/// Runs the binary with `args` and waits for it.
pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("the binary runs")
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A path inside the crate, as a string.
pub fn path(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(rel)
        .display()
        .to_string()
}

/// A fixture folder or file under `tests/fixtures`.
pub fn fixture(name: &str) -> String {
    path(&format!("tests/fixtures/{name}"))
}
