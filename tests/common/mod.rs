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

/// Every feasible assignment of a tiny instance, as each paper's reviewers (increasing): each
/// paper gets exactly `demand[p]` reviewers `r` with `eligible(p, r)`, and every reviewer's load
/// lies within `[min_load, max_load]`.
pub fn all_assignments(
    demand: &[u32],
    min_load: &[u32],
    max_load: &[u32],
    eligible: impl Fn(usize, usize) -> bool,
) -> Vec<Vec<Vec<usize>>> {
    struct Search<'a, F> {
        demand: &'a [u32],
        min_load: &'a [u32],
        max_load: &'a [u32],
        eligible: F,
        loads: Vec<u32>,
        current: Vec<Vec<usize>>,
        out: Vec<Vec<Vec<usize>>>,
    }
    impl<F: Fn(usize, usize) -> bool> Search<'_, F> {
        fn go(&mut self, p: usize) {
            if p == self.demand.len() {
                if self.loads.iter().zip(self.min_load).all(|(l, m)| l >= m) {
                    self.out.push(self.current.clone());
                }
                return;
            }
            let options: Vec<usize> = (0..self.max_load.len())
                .filter(|&r| (self.eligible)(p, r))
                .collect();
            for mask in 0u32..(1 << options.len()) {
                if mask.count_ones() != self.demand[p] {
                    continue;
                }
                let chosen: Vec<usize> = (0..options.len())
                    .filter(|&i| mask >> i & 1 == 1)
                    .map(|i| options[i])
                    .collect();
                if chosen.iter().any(|&r| self.loads[r] >= self.max_load[r]) {
                    continue;
                }
                for &r in &chosen {
                    self.loads[r] += 1;
                }
                self.current.push(chosen.clone());
                self.go(p + 1);
                self.current.pop();
                for &r in &chosen {
                    self.loads[r] -= 1;
                }
            }
        }
    }
    let mut search = Search {
        demand,
        min_load,
        max_load,
        eligible,
        loads: vec![0; max_load.len()],
        current: Vec::new(),
        out: Vec::new(),
    };
    search.go(0);
    search.out
}
