//! The methods: each drives the engine ([`crate::solve::engine`]) towards one kind of
//! requirement, and [`crate::solve::requirements`] chooses among them and combines them.
//!
//! | file | method | may use |
//! |---|---|---|
//! | [`fair`] | the worst-off paper first (max-min by Lagrangian weights, lexicographic rounds), score floors | engine; [`rules`] for hard rules under the fair objective |
//! | [`rules`] | composition rules (at least / at most K reviewers of a kind): nested ones as group nodes of the flow, crossing ones by Lagrangian bonuses, small ones by MILP | engine |
//! | [`randomized`] | capped pair probabilities: the expected total, under nested rules, or the expected worst-off paper | engine; [`rules`] for the rules' group nodes |
//! | [`perturbed`] | perturbed maximization (`Σ w (x − βx²)`): dual descent, then the exact flow on the 1/1000 grid, with a proven bound; bad-match limits | engine |
//! | [`wef1`] | FairSequence's picking order, envy-free up to one reviewer; envy figures of any assignment | engine |
//! | [`cycles`] | no review cycles of length 2 or 3 among reviewers who are authors | engine; re-runs the whole [`crate::solve::requirements`] (its constraints are cuts on any method) |
//! | [`reassign`] | repair after drop-outs, keeping every valid pair | engine; re-runs the whole [`crate::solve::requirements`] |
//!
//! Methods do not call each other except where this table says so, and the engine never calls
//! a method.

pub mod cycles;
pub mod fair;
pub mod perturbed;
pub mod randomized;
pub mod reassign;
pub mod rules;
pub mod wef1;
