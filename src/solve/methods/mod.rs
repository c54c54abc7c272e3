//! The methods: each drives the engine ([`crate::solve::engine`]) towards one kind of
//! requirement, and [`crate::solve::requirements`] chooses among them and combines them.
//!
//! | file | method | may use |
//! |---|---|---|
//! | [`fair`] | the worst-off paper first (max-min by Lagrangian weights, lexicographic rounds), score floors | engine; under hard rules, the rules' optimum handed in by the requirements model |
//! | [`rules`] | composition rules (at least / at most K reviewers of a kind): nested ones as group nodes of the flow, crossing ones by Lagrangian bonuses, small ones by MILP | engine (the rules' data and group nodes live in `engine::groups`) |
//! | [`randomized`] | capped pair probabilities: the expected total, under nested rules, or the expected worst-off paper | engine; under rules, the rules' optimum handed in by the requirements model |
//! | [`perturbed`] | perturbed maximization (`Σ w (x − βx²)`): dual descent, then the exact flow on the 1/1000 grid, with a proven bound; bad-match limits | engine |
//! | [`wef1`] | FairSequence's picking order, envy-free up to one reviewer; envy figures of any assignment | engine |
//! | [`cycles`] | no review cycles of length 2 or 3 among reviewers who are authors | engine; re-runs whatever method the requirements chose through a closure ([`cycles::CycleRun`]) |
//! | [`reassign`] | repair after drop-outs, keeping every valid pair | engine; calls the requirements model ([`crate::solve::assign`]), which never calls it back |
//!
//! No method imports another, the engine never imports a method, and the module graph has no
//! circle: where methods combine (fair or randomized under rules, the cycle rule around any
//! method), the requirements model passes one to the other as a closure.

pub mod cycles;
pub mod fair;
pub mod perturbed;
pub mod randomized;
pub mod reassign;
pub mod rules;
pub mod wef1;
