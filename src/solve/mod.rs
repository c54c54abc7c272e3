//! The assignment problem and everything that solves it.
//!
//! Given demands `d_p`, loads `min_r ≤ load_r ≤ max_r`, conflicts and scores `w_pr`, find
//! `x_pr ∈ {0, 1}` that maximises `Σ w_pr x_pr` subject to `Σ_r x_pr = d_p` for every paper,
//! `min_r ≤ Σ_p x_pr ≤ max_r` for every reviewer, and `x_pr = 0` on conflicts. This is a
//! transportation problem: its constraint matrix is totally unimodular, so the LP relaxation has
//! an integral optimum, and it is a minimum-cost flow.
//!
//! # Map
//!
//! Three layers, each using only the ones below it:
//!
//! | where | what | may use |
//! |---|---|---|
//! | [`requirements`] | [`Requirements`]: what a run asks for (rules, fairness, randomization, cycles, locks), and [`assign`], which chooses the methods and runs them together | methods, engine, problem |
//! | [`methods`] | the methods that drive the engine: [`fair`], [`rules`], [`randomized`], [`perturbed`], [`wef1`], [`cycles`], [`reassign`] | engine, problem |
//! | [`engine`] | the network, its exact solvers ([`FlowSolver`], [`LpSolver`]), pricing, certificates ([`verify`]), diagnoses ([`diagnose`]), fractional assignments and their rounding ([`engine::marginals`]) | problem |
//! | [`problem`] | [`Problem`], [`Assignment`], [`Solution`], [`Certificate`] and the [`Solver`] trait | nothing in `solve` |
//!
//! The engine never calls a method, and no method imports another: where methods combine (the
//! fair objective or the randomized draw under composition rules, the cycle rule around any
//! method), the requirements model hands one to the other as a closure. Re-assignment calls the
//! requirements model itself, which never calls it back. Whatever solved it, [`solve`] re-checks
//! every constraint on the result and checks an optimality certificate: node potentials under
//! which no pair, assigned or not, could improve the total ([`verify`]). An infeasible instance
//! gets a [`Diagnosis`].
//!
//! The modules of both folders are re-exported here (`papermatch::solve::fair`,
//! `papermatch::solve::verify`, …), the paths they had before the folders existed.

pub mod engine;
pub mod methods;
pub mod problem;
pub mod requirements;

pub use engine::{Diagnosis, FlowSolver, LpSolver, diagnose, flow, lp, network, solve, verify};
pub(crate) use engine::{Unlocked, add_locks};
pub use methods::{cycles, fair, perturbed, randomized, reassign, rules, wef1};
pub use problem::*;
pub use requirements::{Outcome, Randomization, Requirements, RuleSet, assign};
