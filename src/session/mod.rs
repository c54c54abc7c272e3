//! An editing session over one assignment: the state behind the chair's workbench
//! (`papermatch serve`), usable from Rust and Python alike.
//!
//! | file | what | may use |
//! |---|---|---|
//! | `mod.rs` | [`Session`]: edits, incremental checks, decisions, undo and redo, re-optimize, save | [`crate::solve`], [`crate::report`], [`crate::io`] |
//! | [`views`] | what the pages show: search, one paper, one reviewer, why a reviewer matches | `mod.rs`, [`crate::report`], [`crate::affinity`] |
//!
//! A [`Session`] owns a venue's [`Instance`], the [`Requirements`] of the run, the current
//! assignment and its history. Every edit is checked at once against the whole problem:
//!
//! - an edit that would assign a conflicting pair is refused with the conflict's reason;
//! - everything else is applied, and what it breaks (a paper over or under its demand, a reviewer
//!   outside their loads, a missing lock, a composition rule, a review cycle) is listed as a
//!   violation to fix, never silently accepted.
//!
//! Each edit is also a decision of the chair, kept as a lock or a ban ([`Decision`]):
//!
//! | edit | the assignment | the decision kept |
//! |---|---|---|
//! | `add p r` | `r` reviews `p` | lock `(p, r)` |
//! | `remove p r` | `r` no longer reviews `p` | ban `(p, r)` |
//! | `swap p r r′` | `r′` replaces `r` on `p` | ban `(p, r)`, lock `(p, r′)` |
//! | `lock p r` | `r` reviews `p` (added if needed) | lock `(p, r)` |
//! | `ban p r` | `r` does not review `p` (removed if needed) | ban `(p, r)` |
//!
//! The venue's own locks (`locks.csv`) start as decisions too; the chair's latest decision on a
//! pair replaces the earlier one. [`Session::reoptimize`] keeps every decision and solves the rest
//! under the same requirements: with [`Mode::Minimal`] through
//! [`reassign`](crate::solve::reassign::reassign) (every other current pair kept when that is
//! feasible, else as few moved as possible), with [`Mode::Full`] through
//! [`assign`](crate::solve::assign). [`Session::save`] writes the assignment with `locks.csv` and
//! `bans.csv` beside it, so that the next `papermatch assign` keeps the decisions.
//!
//! Undo and redo restore the exact earlier state (pairs and decisions); every change, re-optimize
//! included, is listed with its effect on the total ([`Session::history`]). A `version` grows with
//! every change so that two callers editing at once never lose an update ([`Session::edit`]
//! refuses a stale one).
//!
//! # Cost
//!
//! The checks are incremental: an edit touches one paper and one or two reviewers, so it updates
//! their counts and their rule groups only. Two things cost more: a change to the bans rebuilds
//! the table of conflicts (linear in the conflicts: about 10 ms for 1.5 M of them), and with the
//! cycle rule an edit on a paper written by a reviewer recomputes the review cycles. An edit took
//! 15–17 ms at 16,000 × 20,000 (`examples/workbench.rs`). [`Session::check`] recomputes everything
//! from scratch and compares: the property tests run it after every step.
//!
//! ```
//! use papermatch::session::{Edit, Op, Session};
//! use papermatch::{AssignOptions, Instance};
//! let instance = Instance::from_dir("examples/want-workshop".as_ref(), &AssignOptions::default())?;
//! let mut s = Session::start(instance, Default::default(), Vec::new(), None)?;
//! let optimum = s.total();
//! let p = s.paper_index("W001").unwrap();
//! let r = s.assignment().reviewers[p.ix()][0];
//! s.edit(&Edit { op: Op::Remove, paper: p, reviewer: r, replacement: None }, None)?;
//! assert!(s.total() < optimum);
//! assert_eq!(s.violations(), ["paper W001 has 2 reviewers but needs 3"]);
//! s.undo()?;
//! assert_eq!(s.total(), optimum);
//! # Ok::<(), papermatch::session::SessionError>(())
//! ```

pub mod views;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::Instance;
use crate::conflicts::Conflicts;
use crate::model::{PaperIdx, ReviewerIdx, format_units, units_to_score};
use crate::report::evaluate::{self, EvaluateOptions, Evaluation};
use crate::solve::cycles::{self, Cycles};
use crate::solve::reassign::{self, ReassignOptions};
use crate::solve::rules::{Group, RuleViolation};
use crate::solve::verify::Violation;
use crate::solve::{Assignment, Problem, Requirements};

/// The reason a pair banned in a session is given in its conflicts and in `bans.csv`.
pub const BAN_REASON: &str = "banned by the chair";

/// What the chair decided about a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// The pair must stay assigned.
    Lock,
    /// The pair may never be assigned.
    Ban,
}

/// An edit's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// Assign the reviewer to the paper (and lock the pair).
    Add,
    /// Take the reviewer off the paper (and ban the pair).
    Remove,
    /// Replace the reviewer by `replacement` on the paper.
    Swap,
    /// Lock the pair, assigning it if needed.
    Lock,
    /// Ban the pair, removing it if needed.
    Ban,
}

/// One edit of the assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edit {
    /// What to do.
    pub op: Op,
    /// The paper.
    pub paper: PaperIdx,
    /// The reviewer (for a swap, the one who leaves).
    pub reviewer: ReviewerIdx,
    /// For a swap, the reviewer who comes in.
    pub replacement: Option<ReviewerIdx>,
}

/// How [`Session::reoptimize`] treats the pairs the chair did not decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Keep every current pair that is still valid and fill the gaps (moving as few pairs as
    /// possible when keeping them all is infeasible): the exact optimum among those assignments.
    Minimal,
    /// Solve everything but the decisions again: the exact optimum under the decisions.
    Full,
}

/// Why a session refused a request.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// An id or a save format that the venue does not know.
    #[error("{0}")]
    NotFound(String),
    /// The pair conflicts: what was refused, and why the pair conflicts.
    #[error("{message}")]
    Conflict {
        /// The refusal in words, the reason included.
        message: String,
        /// The conflict's reasons alone.
        reason: String,
    },
    /// The request does not fit the current state (a pair not assigned, nothing to undo, …).
    #[error("{0}")]
    Refused(String),
    /// The caller edited an older version than the current one.
    #[error(
        "version {given} is stale: the assignment is now at version {current}; reload it and \
         edit again"
    )]
    Stale {
        /// The version the caller saw.
        given: u64,
        /// The current version.
        current: u64,
    },
    /// The library refused or failed (an infeasible re-optimize, a bad output path, …).
    #[error(transparent)]
    Library(#[from] crate::Error),
}

/// What a session answers after any change: its version, total and open violations.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    /// Grows with every change.
    pub version: u64,
    /// Total affinity.
    pub total: f64,
    /// Every broken constraint, rule and cycle, described.
    pub violations: Vec<String>,
}

/// How many violations of each kind a session has open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ViolationCounts {
    /// Broken demands, loads, conflicts and locks.
    pub constraints: usize,
    /// Broken composition-rule bounds (paper and group).
    pub rules: usize,
    /// Review cycles.
    pub cycles: usize,
}

/// A decision a change made: the pair, its decision before and after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecisionChange {
    /// The pair.
    pub pair: (PaperIdx, ReviewerIdx),
    /// Its decision before the change.
    pub before: Option<Decision>,
    /// Its decision after.
    pub after: Option<Decision>,
}

/// One change in the history: an edit, or a re-optimize.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// What the chair did, in words.
    pub what: String,
    /// Pairs the change added.
    pub added: Vec<(PaperIdx, ReviewerIdx)>,
    /// Pairs the change removed.
    pub removed: Vec<(PaperIdx, ReviewerIdx)>,
    /// Decisions changed.
    pub decisions: Vec<DecisionChange>,
    /// The total before, in score units.
    pub total_before: i64,
    /// The total after, in score units.
    pub total_after: i64,
}

/// An edit by ids, as the faces (HTTP, Python) receive it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditRequest {
    /// `add`, `remove`, `swap`, `lock` or `ban`.
    pub op: Op,
    /// The paper's id.
    pub paper_id: String,
    /// The reviewer's id (for a swap, the one who leaves).
    pub reviewer_id: String,
    /// For a swap, the reviewer who comes in.
    #[serde(default)]
    pub replacement: Option<String>,
    /// The version the caller saw: a stale one is refused.
    #[serde(default)]
    pub version: Option<u64>,
}

/// One change of [`Session::changes`], with ids.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeEntry {
    /// What the chair did, in words.
    pub what: String,
    /// Pairs added, as `(paper id, reviewer id)`.
    pub added: Vec<(String, String)>,
    /// Pairs removed.
    pub removed: Vec<(String, String)>,
    /// The total after the change.
    pub total: f64,
    /// Its effect on the total.
    pub delta_total: f64,
}

/// The optimum under the session's requirements without the chair's decisions, found at start.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Optimum {
    /// Total affinity of the optimal assignment, in score units.
    pub total: i64,
    /// A proven upper bound on the objective the method maximises, in score units.
    pub bound: i64,
    /// The objective maximised (the total for a plain run), in score units.
    pub objective: i64,
    /// Whether it is proven optimal.
    pub exact: bool,
    /// The method that found it.
    pub method: &'static str,
}

/// What a re-optimize did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reoptimized {
    /// The session's state after it.
    #[serde(flatten)]
    pub status: Status,
    /// The total before.
    pub total_before: f64,
    /// The optimum without the chair's decisions (the unconstrained optimum).
    pub optimum: f64,
    /// `optimum − total`.
    pub gap: f64,
    /// Pairs added plus pairs removed.
    pub pairs_changed: usize,
    /// Pairs added, as `(paper id, reviewer id)`.
    pub added: Vec<(String, String)>,
    /// Pairs removed, as `(paper id, reviewer id)`.
    pub removed: Vec<(String, String)>,
}

/// Extra formats [`Session::save`] writes beside the assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Export {
    /// OpenReview's `assignments.json`, as `NAME.openreview.json`.
    Openreview,
    /// HotCRP's bulk assignment CSV, as `NAME.hotcrp.csv`.
    Hotcrp,
}

/// The editing state of one assignment; see the module doc.
#[derive(Debug)]
pub struct Session {
    instance: Instance,
    req: Requirements,
    inputs: Vec<PathBuf>,
    paper_index: FxHashMap<String, u32>,
    reviewer_index: FxHashMap<String, u32>,
    assignment: Assignment,
    loads: Vec<u32>,
    totals: Vec<i64>,
    total: i64,
    decisions: BTreeMap<(PaperIdx, ReviewerIdx), Decision>,
    /// The venue's conflicts with the chair's bans, rebuilt when the bans change.
    banned: Option<Conflicts>,
    history: Vec<Change>,
    undone: Vec<Change>,
    version: u64,
    optimum: Optimum,
    checks: Checks,
    evaluation: Option<(u64, Evaluation)>,
    pair_chart: Option<crate::report::html::EligibleHistogram>,
    /// Each pair's bid, and each reviewer's bid papers.
    bids: FxHashMap<(u32, u32), crate::model::BidLevel>,
    bids_of: Vec<Vec<u32>>,
    /// Per paper, its id, title, keywords and authors in lower case, for the search.
    search_text: Vec<String>,
}

/// The incremental checks: what is broken now, updated pair by pair.
#[derive(Debug, Default)]
struct Checks {
    /// Papers whose reviewer count is not their demand.
    papers: BTreeSet<u32>,
    /// Reviewers outside their loads.
    reviewers: BTreeSet<u32>,
    /// Assigned pairs that conflict (only an assignment read from a file can have them).
    conflicted: BTreeSet<(u32, u32)>,
    /// The rules' groups and, per reviewer, the groups they belong to.
    groups: Vec<Group>,
    member_of: Vec<Vec<u32>>,
    /// Broken group bounds, by (group, paper).
    rules: BTreeMap<(u32, u32), RuleViolation>,
    /// With the cycle rule: its length, each paper's reviewer authors, and the cycles now.
    cycle_length: usize,
    authors: Vec<Vec<u32>>,
    cycles: Cycles,
}

/// The affinity of a pair in score units.
fn score(instance: &Instance, p: PaperIdx, r: ReviewerIdx) -> i64 {
    instance.affinity.get(p.ix(), r.ix()) as i64
}

impl Session {
    /// Starts a session on `instance` under `req`: solves for the optimum (the gap is measured
    /// against it), and starts from `assignment` or, without one, from that optimum. `inputs`
    /// are the files the venue was read from: [`Session::save`] never writes over them.
    pub fn start(
        instance: Instance,
        req: Requirements,
        inputs: Vec<PathBuf>,
        assignment: Option<Assignment>,
    ) -> Result<Session, SessionError> {
        let outcome = crate::solve::assign(&instance.problem(), &req)?;
        let optimum = Optimum {
            total: outcome.total,
            bound: outcome.bound,
            objective: outcome.objective,
            exact: outcome.exact,
            method: outcome.method,
        };
        let (np, nr) = (instance.venue.n_papers(), instance.venue.n_reviewers());
        let mut assignment = assignment.unwrap_or(outcome.assignment);
        assignment.reviewers.resize(np, Vec::new());
        for list in &mut assignment.reviewers {
            list.sort_unstable();
            list.dedup();
            list.retain(|r| r.ix() < nr);
        }
        let decisions = instance
            .venue
            .locks
            .iter()
            .map(|&pr| (pr, Decision::Lock))
            .collect();
        let index = |ids: &mut dyn Iterator<Item = &String>| -> FxHashMap<String, u32> {
            ids.enumerate()
                .map(|(i, id)| (id.clone(), i as u32))
                .collect()
        };
        let paper_index = index(&mut instance.venue.papers.iter().map(|p| &p.id));
        let reviewer_index = index(&mut instance.venue.reviewers.iter().map(|r| &r.id));
        let mut checks = Checks::default();
        if let Some(set) = &req.rules {
            checks.groups = set.groups.clone();
            checks.member_of = vec![Vec::new(); nr];
            for (g, group) in set.groups.iter().enumerate() {
                for &m in &group.members {
                    checks.member_of[m as usize].push(g as u32);
                }
            }
        }
        if let Some(rule) = &req.cycles {
            checks.cycle_length = rule.length;
            checks.authors = rule.authors.clone();
        }
        let mut bids_of = vec![Vec::new(); nr];
        for b in &instance.venue.bids {
            bids_of[b.reviewer.ix()].push(b.paper.0);
        }
        let bids = instance
            .venue
            .bids
            .iter()
            .map(|b| ((b.paper.0, b.reviewer.0), b.level))
            .collect();
        let search_text = instance
            .venue
            .papers
            .iter()
            .map(|p| {
                let mut t = format!("{}\n{}", p.id, p.title);
                for x in p.keywords.iter().chain(&p.authors) {
                    t.push('\n');
                    t.push_str(x);
                }
                t.to_lowercase()
            })
            .collect();
        let mut s = Session {
            bids,
            bids_of,
            search_text,
            loads: assignment.loads(nr),
            totals: assignment.paper_totals(&instance.affinity),
            total: 0,
            instance,
            req,
            inputs,
            paper_index,
            reviewer_index,
            assignment,
            decisions,
            banned: None,
            history: Vec::new(),
            undone: Vec::new(),
            version: 0,
            optimum,
            checks,
            evaluation: None,
            pair_chart: None,
        };
        s.total = s.totals.iter().sum();
        for p in 0..np {
            s.recheck_paper(PaperIdx(p as u32));
        }
        for r in 0..nr {
            s.recheck_reviewer(ReviewerIdx(r as u32));
        }
        s.recheck_cycles();
        Ok(s)
    }

    /// The venue, its affinity and conflicts (without the chair's bans).
    pub fn instance(&self) -> &Instance {
        &self.instance
    }

    /// The requirements every re-optimize meets.
    pub fn requirements(&self) -> &Requirements {
        &self.req
    }

    /// The current assignment (each paper's reviewers in increasing index order).
    pub fn assignment(&self) -> &Assignment {
        &self.assignment
    }

    /// Each reviewer's current load.
    pub fn loads(&self) -> &[u32] {
        &self.loads
    }

    /// Each paper's current total, in score units.
    pub fn paper_totals(&self) -> &[i64] {
        &self.totals
    }

    /// The current total affinity, in score units.
    pub fn total(&self) -> i64 {
        self.total
    }

    /// The optimum without the chair's decisions.
    pub fn optimum(&self) -> &Optimum {
        &self.optimum
    }

    /// Grows with every change.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Every change so far, oldest first (undone changes are not listed).
    pub fn history(&self) -> &[Change] {
        &self.history
    }

    /// The change [`Session::redo`] would make again, if any.
    pub fn undone_last(&self) -> Option<&Change> {
        self.undone.last()
    }

    /// How many violations of each kind are open.
    pub fn violation_counts(&self) -> ViolationCounts {
        ViolationCounts {
            constraints: self.constraint_violations().len(),
            rules: self.checks.rules.len(),
            cycles: self.checks.cycles.two.len() + self.checks.cycles.three.len(),
        }
    }

    /// Whether there is a change to undo, and one to redo.
    pub fn can_undo_redo(&self) -> (bool, bool) {
        (!self.history.is_empty(), !self.undone.is_empty())
    }

    /// The chair's decisions (and the venue's locks), by pair.
    pub fn decisions(&self) -> &BTreeMap<(PaperIdx, ReviewerIdx), Decision> {
        &self.decisions
    }

    /// The index of a paper id.
    pub fn paper_index(&self, id: &str) -> Option<PaperIdx> {
        self.paper_index.get(id).map(|&i| PaperIdx(i))
    }

    /// The index of a reviewer id.
    pub fn reviewer_index(&self, id: &str) -> Option<ReviewerIdx> {
        self.reviewer_index.get(id).map(|&i| ReviewerIdx(i))
    }

    /// The index of a paper id, or a `NotFound` error naming it.
    pub fn find_paper(&self, id: &str) -> Result<PaperIdx, SessionError> {
        self.paper_index(id)
            .ok_or_else(|| SessionError::NotFound(format!("no paper has the id `{id}`")))
    }

    /// The index of a reviewer id, or a `NotFound` error naming it.
    pub fn find_reviewer(&self, id: &str) -> Result<ReviewerIdx, SessionError> {
        self.reviewer_index(id)
            .ok_or_else(|| SessionError::NotFound(format!("no reviewer has the id `{id}`")))
    }

    /// The session's state: version, total and violations.
    pub fn status(&self) -> Status {
        Status {
            version: self.version,
            total: units_to_score(self.total),
            violations: self.violations(),
        }
    }

    /// The locks the problem carries now: the venue's and the chair's.
    fn locks(&self) -> Vec<(PaperIdx, ReviewerIdx)> {
        self.decisions
            .iter()
            .filter(|(_, d)| **d == Decision::Lock)
            .map(|(&pr, _)| pr)
            .collect()
    }

    fn bans(&self) -> Vec<(PaperIdx, ReviewerIdx)> {
        self.decisions
            .iter()
            .filter(|(_, d)| **d == Decision::Ban)
            .map(|(&pr, _)| pr)
            .collect()
    }

    /// Rebuilds the conflicts with the chair's bans after the bans changed.
    fn rebuild_bans(&mut self) {
        let bans = self.bans();
        self.banned =
            (!bans.is_empty()).then(|| self.instance.conflicts.with_declared(&bans, BAN_REASON));
    }

    /// The problem as it stands: the venue's, with the chair's locks and bans.
    pub fn problem(&self) -> Problem<'_> {
        let mut pb = Problem::from_venue(
            &self.instance.venue,
            &self.instance.affinity,
            self.conflicts(),
        );
        pb.locks = self.locks();
        pb
    }

    /// The conflicts as they stand: the venue's and the chair's bans.
    pub fn conflicts(&self) -> &Conflicts {
        self.banned.as_ref().unwrap_or(&self.instance.conflicts)
    }

    /// Why a pair conflicts (the venue's reasons, or the chair's ban), if it does.
    pub fn conflict_reason(&self, p: PaperIdx, r: ReviewerIdx) -> Option<String> {
        let c = self.conflicts();
        c.contains(p.ix(), r.ix())
            .then(|| c.describe(&self.instance.venue, p, r))
    }

    fn paper_id(&self, p: PaperIdx) -> &str {
        &self.instance.venue.papers[p.ix()].id
    }

    fn reviewer_id(&self, r: ReviewerIdx) -> &str {
        &self.instance.venue.reviewers[r.ix()].id
    }

    fn has(&self, p: PaperIdx, r: ReviewerIdx) -> bool {
        self.assignment.reviewers[p.ix()].binary_search(&r).is_ok()
    }

    /// Applies `edit`, checked against the whole problem. With `version`, refuses the edit when
    /// the session has changed since (two tabs never lose an update).
    pub fn edit(&mut self, edit: &Edit, version: Option<u64>) -> Result<Status, SessionError> {
        if let Some(v) = version.filter(|&v| v != self.version) {
            return Err(SessionError::Stale {
                given: v,
                current: self.version,
            });
        }
        let (np, nr) = (
            self.instance.venue.n_papers(),
            self.instance.venue.n_reviewers(),
        );
        let (p, r) = (edit.paper, edit.reviewer);
        if p.ix() >= np {
            return Err(SessionError::NotFound(format!("no paper #{}", p.0)));
        }
        for x in std::iter::once(r).chain(edit.replacement) {
            if x.ix() >= nr {
                return Err(SessionError::NotFound(format!("no reviewer #{}", x.0)));
            }
        }
        let (pid, rid) = (
            self.paper_id(p).to_string(),
            self.reviewer_id(r).to_string(),
        );
        let refuse_conflict = |s: &Session, x: ReviewerIdx| -> Result<(), SessionError> {
            match s.conflict_reason(p, x) {
                Some(why) => Err(SessionError::Conflict {
                    message: format!(
                        "paper {pid} and reviewer {} conflict ({why})",
                        s.reviewer_id(x)
                    ),
                    reason: why,
                }),
                None => Ok(()),
            }
        };
        let mut change = Change {
            what: String::new(),
            added: Vec::new(),
            removed: Vec::new(),
            decisions: Vec::new(),
            total_before: self.total,
            total_after: self.total,
        };
        let decide = |c: &mut Change, s: &Session, pr, d: Option<Decision>| {
            let before = s.decisions.get(&pr).copied();
            if before != d {
                c.decisions.push(DecisionChange {
                    pair: pr,
                    before,
                    after: d,
                });
            }
        };
        match edit.op {
            Op::Add | Op::Lock => {
                refuse_conflict(self, r)?;
                let assigned = self.has(p, r);
                if edit.op == Op::Add && assigned {
                    return Err(SessionError::Refused(format!(
                        "reviewer {rid} already reviews paper {pid}"
                    )));
                }
                if edit.op == Op::Lock && self.decisions.get(&(p, r)) == Some(&Decision::Lock) {
                    return Err(SessionError::Refused(format!(
                        "paper {pid} and reviewer {rid} are already locked"
                    )));
                }
                if !assigned {
                    change.added.push((p, r));
                }
                decide(&mut change, self, (p, r), Some(Decision::Lock));
                change.what = format!(
                    "{} reviewer {rid} on paper {pid}",
                    if edit.op == Op::Add { "add" } else { "lock" }
                );
            }
            Op::Remove => {
                if !self.has(p, r) {
                    return Err(SessionError::Refused(format!(
                        "reviewer {rid} does not review paper {pid}"
                    )));
                }
                change.removed.push((p, r));
                if !self.instance.conflicts.contains(p.ix(), r.ix()) {
                    decide(&mut change, self, (p, r), Some(Decision::Ban));
                } else {
                    decide(&mut change, self, (p, r), None);
                }
                change.what = format!("remove reviewer {rid} from paper {pid}");
            }
            Op::Ban => {
                if self.decisions.get(&(p, r)) == Some(&Decision::Ban) {
                    return Err(SessionError::Refused(format!(
                        "paper {pid} and reviewer {rid} are already banned"
                    )));
                }
                if let Some(why) = self
                    .instance
                    .conflicts
                    .reasons(p.ix(), r.ix())
                    .map(|_| self.instance.conflicts.describe(&self.instance.venue, p, r))
                {
                    return Err(SessionError::Conflict {
                        message: format!("paper {pid} and reviewer {rid} already conflict ({why})"),
                        reason: why,
                    });
                }
                if self.has(p, r) {
                    change.removed.push((p, r));
                }
                decide(&mut change, self, (p, r), Some(Decision::Ban));
                change.what = format!("ban reviewer {rid} from paper {pid}");
            }
            Op::Swap => {
                let Some(r2) = edit.replacement else {
                    return Err(SessionError::Refused(
                        "a swap needs a `replacement` reviewer".into(),
                    ));
                };
                if !self.has(p, r) {
                    return Err(SessionError::Refused(format!(
                        "reviewer {rid} does not review paper {pid}, so cannot be swapped out"
                    )));
                }
                if self.has(p, r2) {
                    return Err(SessionError::Refused(format!(
                        "reviewer {} already reviews paper {pid}",
                        self.reviewer_id(r2)
                    )));
                }
                refuse_conflict(self, r2)?;
                change.removed.push((p, r));
                change.added.push((p, r2));
                if !self.instance.conflicts.contains(p.ix(), r.ix()) {
                    decide(&mut change, self, (p, r), Some(Decision::Ban));
                }
                decide(&mut change, self, (p, r2), Some(Decision::Lock));
                change.what = format!(
                    "swap reviewer {rid} for {} on paper {pid}",
                    self.reviewer_id(r2)
                );
            }
        }
        self.apply(&mut change, true);
        self.undone.clear();
        self.history.push(change);
        Ok(self.status())
    }

    /// Applies an edit given by ids (see [`Session::edit`]).
    pub fn edit_by_ids(&mut self, e: &EditRequest) -> Result<Status, SessionError> {
        let edit = Edit {
            op: e.op,
            paper: self.find_paper(&e.paper_id)?,
            reviewer: self.find_reviewer(&e.reviewer_id)?,
            replacement: match &e.replacement {
                Some(id) if !id.is_empty() => Some(self.find_reviewer(id)?),
                _ => None,
            },
        };
        self.edit(&edit, e.version)
    }

    /// Pairs as `(paper id, reviewer id)`.
    pub fn pair_ids(&self, pairs: &[(PaperIdx, ReviewerIdx)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|&(p, r)| {
                (
                    self.paper_id(p).to_string(),
                    self.reviewer_id(r).to_string(),
                )
            })
            .collect()
    }

    /// Every change so far with ids and its effect on the total, oldest first.
    pub fn changes(&self) -> Vec<ChangeEntry> {
        self.history
            .iter()
            .map(|c| ChangeEntry {
                what: c.what.clone(),
                added: self.pair_ids(&c.added),
                removed: self.pair_ids(&c.removed),
                total: units_to_score(c.total_after),
                delta_total: units_to_score(c.total_after - c.total_before),
            })
            .collect()
    }

    /// The `evaluate --json` fields of the current assignment ([`Session::evaluation`]), plus
    /// `edits` (changes so far), `version`, the decisions (`locks`, `bans`) and how the optimum
    /// was found (`optimum_exact`, `optimum_method`, `optimum_bound`).
    pub fn summary(&mut self) -> serde_json::Value {
        let (locks, bans) = self.decisions.values().fold((0, 0), |(l, b), d| match d {
            Decision::Lock => (l + 1, b),
            Decision::Ban => (l, b + 1),
        });
        let extra = serde_json::json!({
            "edits": self.history.len(),
            "version": self.version,
            "locks": locks,
            "bans": bans,
            "optimum_exact": self.optimum.exact,
            "optimum_method": self.optimum.method,
            "optimum_bound": units_to_score(self.optimum.bound),
        });
        let mut v = serde_json::to_value(self.evaluation()).expect("an evaluation serialises");
        if let (Some(m), serde_json::Value::Object(extra)) = (v.as_object_mut(), extra) {
            m.extend(extra);
        }
        v
    }

    /// Applies a change forwards (`true`) or backwards, and records its effect on the total.
    fn apply(&mut self, change: &mut Change, forward: bool) {
        let (on, off) = if forward {
            (&change.added, &change.removed)
        } else {
            (&change.removed, &change.added)
        };
        for &(p, r) in off {
            self.set_pair(p, r, false);
        }
        for &(p, r) in on {
            self.set_pair(p, r, true);
        }
        let mut bans_changed = false;
        for &DecisionChange {
            pair: pr,
            before,
            after,
        } in &change.decisions
        {
            let d = if forward { after } else { before };
            let old = match d {
                Some(d) => self.decisions.insert(pr, d),
                None => self.decisions.remove(&pr),
            };
            bans_changed |= old == Some(Decision::Ban) || d == Some(Decision::Ban);
        }
        if bans_changed {
            self.rebuild_bans();
        }
        let mut touched: Vec<PaperIdx> = on.iter().chain(off).map(|&(p, _)| p).collect();
        touched.extend(change.decisions.iter().map(|d| d.pair.0));
        touched.sort_unstable();
        touched.dedup();
        for p in touched {
            self.recheck_paper(p);
        }
        let mut reviewers: Vec<ReviewerIdx> = on.iter().chain(off).map(|&(_, r)| r).collect();
        reviewers.sort_unstable();
        reviewers.dedup();
        for r in reviewers {
            self.recheck_reviewer(r);
        }
        if self.checks.cycle_length > 0
            && on
                .iter()
                .chain(off)
                .any(|(p, _)| !self.checks.authors[p.ix()].is_empty())
        {
            self.recheck_cycles();
        }
        if forward {
            change.total_after = self.total;
        }
        self.version += 1;
    }

    /// Adds or removes one pair, keeping loads and totals.
    fn set_pair(&mut self, p: PaperIdx, r: ReviewerIdx, on: bool) {
        let list = &mut self.assignment.reviewers[p.ix()];
        let w = score(&self.instance, p, r);
        match (list.binary_search(&r), on) {
            (Err(i), true) => {
                list.insert(i, r);
                self.loads[r.ix()] += 1;
                self.totals[p.ix()] += w;
                self.total += w;
            }
            (Ok(i), false) => {
                list.remove(i);
                self.loads[r.ix()] -= 1;
                self.totals[p.ix()] -= w;
                self.total -= w;
                self.checks.conflicted.remove(&(p.0, r.0));
            }
            _ => {}
        }
    }

    /// Re-checks one paper's coverage, conflicts and rule groups.
    fn recheck_paper(&mut self, p: PaperIdx) {
        let rs = &self.assignment.reviewers[p.ix()];
        let demand = self.instance.venue.papers[p.ix()].demand;
        if rs.len() as u32 != demand {
            self.checks.papers.insert(p.0);
        } else {
            self.checks.papers.remove(&p.0);
        }
        let conflicts = self.banned.as_ref().unwrap_or(&self.instance.conflicts);
        for &r in rs {
            if conflicts.contains(p.ix(), r.ix()) {
                self.checks.conflicted.insert((p.0, r.0));
            } else {
                self.checks.conflicted.remove(&(p.0, r.0));
            }
        }
        let groups = &self.checks.groups;
        if groups.is_empty() {
            return;
        }
        let mut got = vec![0u32; groups.len()];
        for r in rs {
            for &g in &self.checks.member_of[r.ix()] {
                got[g as usize] += 1;
            }
        }
        for (g, group) in groups.iter().enumerate() {
            let (lower, upper) = (group.lower.min(demand), group.upper);
            let n = got[g];
            let key = (g as u32, p.0);
            if n < lower || n > upper {
                self.checks.rules.insert(
                    key,
                    RuleViolation {
                        paper: p.ix(),
                        group: g,
                        got: n,
                        by: lower.saturating_sub(n) + n.saturating_sub(upper),
                    },
                );
            } else {
                self.checks.rules.remove(&key);
            }
        }
    }

    fn recheck_reviewer(&mut self, r: ReviewerIdx) {
        let rev = &self.instance.venue.reviewers[r.ix()];
        let load = self.loads[r.ix()];
        if load < rev.min_load || load > rev.max_load {
            self.checks.reviewers.insert(r.0);
        } else {
            self.checks.reviewers.remove(&r.0);
        }
    }

    fn recheck_cycles(&mut self) {
        if self.checks.cycle_length > 0 {
            self.checks.cycles = cycles::find_cycles(
                &self.assignment,
                &self.checks.authors,
                self.checks.cycle_length,
            );
        }
    }

    /// The broken constraints in the order of [`crate::solve::verify::check_constraints`].
    fn constraint_violations(&self) -> Vec<Violation> {
        let mut out = Vec::new();
        let mut papers: BTreeSet<u32> = self.checks.papers.clone();
        papers.extend(self.checks.conflicted.iter().map(|&(p, _)| p));
        for p in papers {
            let rs = &self.assignment.reviewers[p as usize];
            let demand = self.instance.venue.papers[p as usize].demand;
            if rs.len() as u32 != demand {
                out.push(Violation::Coverage {
                    paper: p as usize,
                    got: rs.len() as u32,
                    demand,
                });
            }
            for (_, r) in self.checks.conflicted.range((p, 0)..=(p, u32::MAX)) {
                out.push(Violation::Conflict {
                    paper: p as usize,
                    reviewer: *r as usize,
                });
            }
        }
        for (&(p, r), d) in &self.decisions {
            if *d == Decision::Lock && !self.has(p, r) {
                out.push(Violation::MissingLock {
                    paper: p.ix(),
                    reviewer: r.ix(),
                });
            }
        }
        for &r in &self.checks.reviewers {
            let rev = &self.instance.venue.reviewers[r as usize];
            out.push(Violation::Load {
                reviewer: r as usize,
                load: self.loads[r as usize],
                min: rev.min_load,
                max: rev.max_load,
            });
        }
        out
    }

    /// Every broken constraint, rule and review cycle, described: empty when the assignment
    /// meets the whole problem.
    pub fn violations(&self) -> Vec<String> {
        let venue = &self.instance.venue;
        let ids = Ids(venue);
        let mut out: Vec<String> = self
            .constraint_violations()
            .iter()
            .map(|v| evaluate::describe_violation(v, &ids, self.conflicts(), venue))
            .collect();
        out.extend(
            self.checks
                .rules
                .values()
                .map(|v| describe_rule(venue, &self.checks.groups, v)),
        );
        out.extend(describe_cycles(venue, &self.checks.cycles));
        out
    }

    /// Recomputes every check from scratch on the current pairs and compares it with the
    /// incremental state: the violations, the loads and the totals. `Err` says what differs.
    pub fn check(&self) -> Result<(), String> {
        let incremental = self.violations();
        let a = &self.assignment;
        let pb = self.problem();
        let venue = &self.instance.venue;
        let opts = EvaluateOptions {
            compute_optimum: false,
            ..Default::default()
        };
        let mut scratch = evaluate::evaluate(&pb, venue, a, &opts).violations;
        let groups = &self.checks.groups;
        scratch.extend(
            crate::solve::rules::check_rules(&pb, groups, a)
                .iter()
                .map(|v| describe_rule(venue, groups, v)),
        );
        if self.checks.cycle_length > 0 {
            let c = cycles::find_cycles(a, &self.checks.authors, self.checks.cycle_length);
            scratch.extend(describe_cycles(venue, &c));
        }
        if scratch != incremental {
            return Err(format!(
                "violations differ:\n  incremental {incremental:?}\n  from scratch {scratch:?}"
            ));
        }
        let totals = a.paper_totals(pb.affinity);
        let total: i64 = totals.iter().sum();
        if (total, &totals, &a.loads(pb.n_reviewers())) != (self.total, &self.totals, &self.loads) {
            return Err(format!(
                "totals or loads differ: incremental total {}, from scratch {}",
                format_units(self.total),
                format_units(total)
            ));
        }
        Ok(())
    }

    /// Takes back the last change.
    pub fn undo(&mut self) -> Result<Status, SessionError> {
        let Some(mut change) = self.history.pop() else {
            return Err(SessionError::Refused("nothing to undo".into()));
        };
        self.apply(&mut change, false);
        self.undone.push(change);
        Ok(self.status())
    }

    /// Makes the last undone change again.
    pub fn redo(&mut self) -> Result<Status, SessionError> {
        let Some(mut change) = self.undone.pop() else {
            return Err(SessionError::Refused("nothing to redo".into()));
        };
        self.apply(&mut change, true);
        self.history.push(change);
        Ok(self.status())
    }

    /// Keeps every decision (locks and bans) and solves the rest exactly under the session's
    /// requirements; see [`Mode`]. The result is one change in the history, so it can be undone.
    pub fn reoptimize(&mut self, mode: Mode) -> Result<Reoptimized, SessionError> {
        let current = self.assignment.clone();
        let before = self.total;
        let pb = self.problem();
        let new = match mode {
            Mode::Full => crate::solve::assign(&pb, &self.req)?.assignment,
            Mode::Minimal => {
                let opts = ReassignOptions {
                    fewest_moves: true,
                    ..ReassignOptions::default()
                };
                reassign::reassign(&pb, &current, &opts, &self.req)?.assignment
            }
        };
        drop(pb);
        let mut change = Change {
            what: match mode {
                Mode::Full => "re-optimize (full)".into(),
                Mode::Minimal => "re-optimize (minimal changes)".into(),
            },
            added: Vec::new(),
            removed: Vec::new(),
            decisions: Vec::new(),
            total_before: before,
            total_after: before,
        };
        for (p, (old, new)) in current.reviewers.iter().zip(&new.reviewers).enumerate() {
            let p = PaperIdx(p as u32);
            change.removed.extend(
                old.iter()
                    .filter(|r| new.binary_search(r).is_err())
                    .map(|&r| (p, r)),
            );
            change.added.extend(
                new.iter()
                    .filter(|r| old.binary_search(r).is_err())
                    .map(|&r| (p, r)),
            );
        }
        self.apply(&mut change, true);
        let out = Reoptimized {
            status: self.status(),
            total_before: units_to_score(before),
            optimum: units_to_score(self.optimum.total),
            gap: units_to_score(self.optimum.total - self.total),
            pairs_changed: change.added.len() + change.removed.len(),
            added: self.pair_ids(&change.added),
            removed: self.pair_ids(&change.removed),
        };
        self.undone.clear();
        self.history.push(change);
        Ok(out)
    }

    /// The `evaluate` figures of the current assignment, with the optimum found at start, and
    /// the session's violations (rules and cycles included); kept until the next change.
    pub fn evaluation(&mut self) -> &Evaluation {
        if self
            .evaluation
            .as_ref()
            .is_none_or(|(v, _)| *v != self.version)
        {
            let opts = EvaluateOptions {
                compute_optimum: false,
                ..Default::default()
            };
            let mut ev = evaluate::evaluate(
                &self.problem(),
                &self.instance.venue,
                &self.assignment,
                &opts,
            );
            let (optimum, total) = (self.optimum.total, self.total);
            ev.optimum = Some(units_to_score(optimum));
            ev.gap = Some(units_to_score(optimum - total));
            ev.gap_percent =
                (optimum != 0).then(|| 100.0 * (optimum - total) as f64 / optimum as f64);
            ev.optimum_note = None;
            ev.violations = self.violations();
            ev.feasible = ev.violations.is_empty();
            self.evaluation = Some((self.version, ev));
        }
        &self.evaluation.as_ref().expect("just computed").1
    }

    /// The report's HTML sections (figures, charts, worst-served papers) for the current
    /// assignment; the histogram of all eligible pairs is computed once.
    pub fn report_sections(&mut self) -> String {
        self.evaluation();
        let chart = self.pair_chart.get_or_insert_with(|| {
            crate::report::html::EligibleHistogram::of(&Problem::from_venue(
                &self.instance.venue,
                &self.instance.affinity,
                &self.instance.conflicts,
            ))
        });
        let chart = chart.clone();
        let ev = &self.evaluation.as_ref().expect("computed").1;
        crate::report::html::sections(
            &self.problem(),
            &self.instance.venue,
            &self.assignment,
            ev,
            &chart,
        )
    }

    /// Writes the assignment CSV to `output`, and `locks.csv` and `bans.csv` (the decisions, the
    /// venue's own bans included) beside it, plus any `exports`, each atomically. Refuses an
    /// output that would replace an input of the venue. Returns the files written.
    pub fn save(&self, output: &Path, exports: &[Export]) -> Result<Vec<PathBuf>, SessionError> {
        if output.as_os_str().is_empty() {
            return Err(SessionError::Library(crate::Error::Options(
                "save: name the output file".into(),
            )));
        }
        let dir = match output.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let stem = output
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "assignment".into());
        let mut files: Vec<(&'static str, PathBuf)> = vec![
            ("output", output.to_path_buf()),
            ("locks", dir.join("locks.csv")),
            ("bans", dir.join("bans.csv")),
        ];
        for e in exports {
            files.push(match e {
                Export::Openreview => ("openreview", dir.join(format!("{stem}.openreview.json"))),
                Export::Hotcrp => ("hotcrp", dir.join(format!("{stem}.hotcrp.csv"))),
            });
        }
        let outputs: Vec<(&str, &Path)> = files.iter().map(|(f, p)| (*f, p.as_path())).collect();
        crate::io::check_outputs(&self.inputs, &outputs)?;
        let a = &self.assignment;
        let venue_bans: Vec<(PaperIdx, ReviewerIdx, String)> = self
            .instance
            .venue
            .declared_conflicts
            .iter()
            .filter_map(|c| {
                let why = c.reason.strip_prefix("banned")?;
                Some((
                    c.paper,
                    c.reviewer,
                    why.trim_start_matches(": ").to_string(),
                ))
            })
            .collect();
        let decisions = &self.decisions;
        let pb = self.problem();
        crate::report::write_assignment(output, &pb, a)?;
        let ids = |p: PaperIdx, r: ReviewerIdx| {
            [
                pb.paper_ids[p.ix()].as_str(),
                pb.reviewer_ids[r.ix()].as_str(),
            ]
        };
        crate::io::write_csv_atomic(&files[1].1, &["paper_id", "reviewer_id"], |w| {
            for (&(p, r), d) in decisions {
                if *d == Decision::Lock {
                    w.write_record(ids(p, r))?;
                }
            }
            Ok(())
        })?;
        let mut bans: Vec<(PaperIdx, ReviewerIdx, String)> = venue_bans;
        bans.extend(
            decisions
                .iter()
                .filter(|(_, d)| **d == Decision::Ban)
                .map(|(&(p, r), _)| (p, r, BAN_REASON.to_string())),
        );
        bans.sort();
        bans.dedup_by(|x, y| (x.0, x.1) == (y.0, y.1));
        crate::io::write_csv_atomic(&files[2].1, &["paper_id", "reviewer_id", "reason"], |w| {
            for (p, r, why) in &bans {
                let [pi, ri] = ids(*p, *r);
                w.write_record([pi, ri, why.as_str()])?;
            }
            Ok(())
        })?;
        for (i, e) in exports.iter().enumerate() {
            let path = &files[3 + i].1;
            match e {
                Export::Openreview => crate::io::formats::write_openreview_json(path, &pb, a)?,
                Export::Hotcrp => crate::io::formats::write_hotcrp(
                    path,
                    &pb,
                    &self.instance.venue,
                    a,
                    &crate::io::formats::HotCrpOptions::default(),
                )?,
            }
        }
        Ok(files.into_iter().map(|(_, p)| p).collect())
    }
}

/// Paper and reviewer ids of a venue, for describing violations without building a problem.
struct Ids<'a>(&'a crate::model::Venue);

impl crate::solve::verify::IdNames for Ids<'_> {
    fn paper(&self, p: usize) -> &str {
        &self.0.papers[p].id
    }
    fn reviewer(&self, r: usize) -> &str {
        self.0.reviewers.get(r).map_or("?", |x| x.id.as_str())
    }
}

/// A broken group bound in words.
fn describe_rule(venue: &crate::model::Venue, groups: &[Group], v: &RuleViolation) -> String {
    let g = &groups[v.group];
    let paper = &venue.papers[v.paper];
    let lower = g.lower.min(paper.demand);
    let (bound, n) = if v.got < lower {
        ("at least", lower)
    } else {
        ("at most", g.upper)
    };
    format!(
        "paper {} has {} with {}, but the rules ask for {bound} {n}",
        paper.id,
        crate::model::count(v.got as u64, "reviewer"),
        g.label
    )
}

/// Each review cycle in words.
fn describe_cycles<'a>(
    venue: &'a crate::model::Venue,
    c: &'a Cycles,
) -> impl Iterator<Item = String> + 'a {
    let id = |r: u32| venue.reviewers[r as usize].id.as_str();
    let two = c.two.iter().map(move |&(x, y)| {
        format!(
            "review cycle: reviewers {} and {} review each other's papers",
            id(x),
            id(y)
        )
    });
    let three = c.three.iter().map(move |&(x, y, z)| {
        format!(
            "review cycle: reviewer {} reviews {}'s paper, {} reviews {}'s, {} reviews {}'s",
            id(x),
            id(y),
            id(y),
            id(z),
            id(z),
            id(x)
        )
    });
    two.chain(three)
}
