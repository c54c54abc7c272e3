//! # papermatch
//!
//! Assigns submitted papers to reviewers: reads a venue (CSV files), builds the paper × reviewer
//! affinity matrix from keywords and/or external scores, removes every conflict of interest, and
//! solves the assignment problem exactly — every paper gets its reviewers, every reviewer stays
//! within their load, and the total affinity is the highest possible, with a checked certificate
//! of optimality.
//!
//! The modules follow the data flow:
//!
//! | stage | module |
//! |---|---|
//! | data model, ids, fixed-point scores | [`model`] |
//! | reading CSV, writing outputs atomically | [`io`] |
//! | affinity from keywords, blending with scores | [`affinity`] |
//! | conflicts of interest | [`conflicts`] |
//! | the problem; the exact engine, the methods that drive it, the requirements model | [`solve`] |
//! | summaries and the assignment CSV | [`report`] |
//! | an editing session: edits, checks, undo, re-optimize, save | [`session`] |
//! | the workbench's HTTP face over a session (`papermatch serve`) | [`serve`] |
//! | synthetic venues | [`generate`] |
//!
//! ```
//! use papermatch::{AssignOptions, Instance};
//! let opts = AssignOptions::default();
//! let instance = Instance::from_dir("examples/want-workshop".as_ref(), &opts)?;
//! let solution = instance.assign(&opts)?;
//! let summary = papermatch::report::summarize_solution(&instance.problem(), &solution);
//! assert!(summary.optimal);
//! assert_eq!(summary.pairs, instance.problem().total_demand() as usize);
//! # Ok::<(), papermatch::Error>(())
//! ```

#![warn(missing_docs)]

pub mod affinity;
pub mod conflicts;
pub mod error;
pub mod generate;
pub mod io;
pub mod model;
pub mod progress;
pub mod report;
pub mod serve;
pub mod session;
pub mod solve;

use std::path::Path;

pub use error::{Error, InputError, Result};

use affinity::AffinityOptions;
use conflicts::{ConflictOptions, Conflicts};
use io::{ReadOptions, VenueFiles};
use model::{AffinityMatrix, Venue};
use solve::{Problem, Solution, SolveOptions};

/// Every option of an assignment run, each part with documented defaults.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AssignOptions {
    /// Defaults used while reading (demand, loads, score range).
    pub read: ReadOptions,
    /// How affinity is computed.
    pub affinity: AffinityOptions,
    /// Which conflict rules apply.
    pub conflicts: ConflictOptions,
    /// Which solver, and its settings.
    pub solve: SolveOptions,
}

/// A venue with its affinity matrix and conflicts: everything a solver needs.
#[derive(Debug, Clone)]
pub struct Instance {
    /// The venue as read (its scores moved into `affinity`).
    pub venue: Venue,
    /// Its affinity matrix.
    pub affinity: AffinityMatrix,
    /// Its conflicts of interest.
    pub conflicts: Conflicts,
}

impl Instance {
    /// Builds the affinity matrix and conflicts of a venue.
    /// The venue's external scores move into the affinity matrix (`venue.scores` is then `None`).
    pub fn new(mut venue: Venue, opts: &AssignOptions) -> Result<Instance> {
        let spinner = progress::spinner(opts.read.progress, "affinity and conflicts");
        let scores = venue.scores.take();
        let affinity = affinity::combine(&venue, scores, &opts.affinity)?;
        let conflicts = conflicts::find_conflicts(&venue, &opts.conflicts);
        spinner.finish_and_clear();
        Ok(Instance {
            venue,
            affinity,
            conflicts,
        })
    }

    /// Reads a venue's files and builds the instance.
    pub fn from_files(files: &VenueFiles, opts: &AssignOptions) -> Result<Instance> {
        Instance::new(io::read_venue(files, &opts.read)?, opts)
    }

    /// Reads a venue directory and builds the instance.
    pub fn from_dir(dir: &Path, opts: &AssignOptions) -> Result<Instance> {
        Instance::from_files(&VenueFiles::from_dir(dir)?, opts)
    }

    /// The assignment problem of this instance.
    pub fn problem(&self) -> Problem<'_> {
        Problem::from_venue(&self.venue, &self.affinity, &self.conflicts)
    }

    /// Solves the assignment problem; the result is checked and proven optimal.
    pub fn assign(&self, opts: &AssignOptions) -> Result<Solution> {
        solve::solve(&self.problem(), &opts.solve)
    }

    /// Solves with explicit solve options.
    pub fn assign_with(&self, opts: &SolveOptions) -> Result<Solution> {
        solve::solve(&self.problem(), opts)
    }
}

/// The README's code blocks, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// The library guide's code blocks (`docs/library.md`), compiled and run as doctests.
#[doc = include_str!("../docs/library.md")]
#[cfg(doctest)]
pub struct LibraryDoctests;

/// The other documentation pages' code blocks, compiled as doctests where they are Rust.
#[doc = include_str!("../docs/guide.md")]
#[doc = include_str!("../docs/formats.md")]
#[doc = include_str!("../docs/algorithms.md")]
#[doc = include_str!("../docs/python.md")]
#[doc = include_str!("../docs/affinity.md")]
#[doc = include_str!("../docs/benchmarks.md")]
#[cfg(doctest)]
pub struct DocsDoctests;
