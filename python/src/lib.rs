//! The `papermatch._papermatch` extension: the library's requirements model and engine behind
//! the Python package. The Python side (`papermatch/__init__.py`) checks arguments and shapes
//! them into plain lists and a spec dictionary; this side builds the same [`Venue`] and
//! [`Requirements`] the command line builds, solves with the GIL released, and hands back flat
//! byte buffers that numpy reads without a copy. Every library error becomes one of the
//! package's exceptions, and a panic becomes a `PapermatchError`: none crosses into Python.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use papermatch::conflicts::{Coauthors, ConflictOptions};
use papermatch::model::{
    AffinityMatrix, Bid, BidLevel, DeclaredConflict, Paper, PaperIdx, Reviewer, ReviewerIdx, Venue,
    score_to_units,
};
use papermatch::session::views::PaperSort;
use papermatch::session::{EditRequest, Export, Mode, Op, Session, SessionError};
use papermatch::solve::fair::{FairOptions, Objective};
use papermatch::solve::perturbed::{DEFAULT_BETA, Perturbation};
use papermatch::solve::randomized::{PROB_SCALE, ProbabilityCaps};
use papermatch::solve::rules::{Group, RuleOptions};
use papermatch::solve::{Randomization, Requirements, RuleSet, SolveOptions, SolverKind};
use papermatch::{AssignOptions, Error, Instance};
use pyo3::buffer::PyBuffer;
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyKeyError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

create_exception!(
    _papermatch,
    PapermatchError,
    PyException,
    "Base class of papermatch's errors."
);
create_exception!(
    _papermatch,
    InputError,
    PyValueError,
    "Bad input data: the message names the file, line and column, like the command line's."
);
create_exception!(
    _papermatch,
    OptionsError,
    PyValueError,
    "Arguments that do not make sense together or are out of range."
);
create_exception!(
    _papermatch,
    InfeasibleError,
    PapermatchError,
    "No assignment meets every constraint; `.diagnosis` says why."
);

/// A library error as the package's exception (an infeasibility carries its diagnosis).
fn to_py(py: Python<'_>, e: Error) -> PyErr {
    match e {
        Error::Input(ref i) => {
            let err = InputError::new_err(e.to_string());
            let v = err.value(py);
            let _ = v.setattr("file", i.file.clone());
            let _ = v.setattr("line", i.line);
            let _ = v.setattr("column", i.column.as_ref().map(|c| c.1.clone()));
            err
        }
        Error::Io { .. } => InputError::new_err(e.to_string()),
        Error::Options(_) => OptionsError::new_err(e.to_string()),
        Error::Infeasible(d) => {
            let err = InfeasibleError::new_err(d.to_string());
            let info = PyDict::new(py);
            let _ = info.set_item("total_demand", d.total_demand);
            let _ = info.set_item("total_capacity", d.total_capacity);
            let _ = info.set_item("missing", d.missing);
            let _ = info.set_item("short_papers", d.short_papers.clone());
            let _ = info.set_item("short_reviewers", d.short_reviewers.clone());
            let _ = info.set_item("blocked_papers", d.blocked_papers.clone());
            let _ = info.set_item("blocking_reviewers", d.blocking_reviewers.clone());
            let _ = info.set_item("unmet_min_loads", d.unmet_min_loads.clone());
            let _ = info.set_item("below_floor", d.below_floor.clone());
            let _ = info.set_item("rule_failures", d.rule_failures.clone());
            let _ = info.set_item("notes", d.notes.clone());
            let _ = err.value(py).setattr("diagnosis", info);
            err
        }
        other => PapermatchError::new_err(other.to_string()),
    }
}

/// Runs `f`, turning a panic into a `PapermatchError`.
fn guarded<T>(f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown".into());
        Err(PapermatchError::new_err(format!(
            "internal error (please report it): {what}"
        )))
    })
}

/// A value of the spec dictionary, or its default when absent or `None`.
fn get<'py, T: for<'a> FromPyObject<'a, 'py>>(
    spec: &Bound<'py, PyDict>,
    key: &str,
    default: T,
) -> PyResult<T> {
    match spec.get_item(key)? {
        Some(v) if !v.is_none() => v
            .extract::<T>()
            .map_err(|_| OptionsError::new_err(format!("`{key}` has the wrong type"))),
        _ => Ok(default),
    }
}

/// An optional value of the spec dictionary.
fn opt<'py, T: for<'a> FromPyObject<'a, 'py>>(
    spec: &Bound<'py, PyDict>,
    key: &str,
) -> PyResult<Option<T>> {
    match spec.get_item(key)? {
        Some(v) if !v.is_none() => v
            .extract::<T>()
            .map(Some)
            .map_err(|_| OptionsError::new_err(format!("`{key}` has the wrong type"))),
        _ => Ok(None),
    }
}

/// The scores: a C-contiguous 2-D float32/float64 buffer read in place, or triples.
fn affinity(
    py: Python<'_>,
    dense: Option<&Bound<'_, PyAny>>,
    spec: &Bound<'_, PyDict>,
    n_papers: usize,
    n_reviewers: usize,
) -> PyResult<AffinityMatrix> {
    struct Raw<T>(*const T, usize);
    // SAFETY: the buffer is held (and its exporter kept alive) for the whole conversion.
    unsafe impl<T> Send for Raw<T> {}
    fn convert<T: pyo3::buffer::Element + Copy + Into<f64> + Sync>(
        py: Python<'_>,
        buf: &PyBuffer<T>,
        np: usize,
        nr: usize,
    ) -> PyResult<AffinityMatrix> {
        if buf.dimensions() != 2 || buf.shape() != [np, nr] {
            return Err(OptionsError::new_err(format!(
                "scores must be a {np} × {nr} matrix, not of shape {:?}",
                buf.shape()
            )));
        }
        let ptr = buf
            .as_slice_ptr()
            .ok_or_else(|| OptionsError::new_err("scores are not C-contiguous"))?;
        let raw = Raw(ptr.as_ptr() as *const T, np * nr);
        py.detach(move || {
            let raw = raw;
            // SAFETY: the pointer and length come from the held, C-contiguous buffer.
            let data = unsafe { std::slice::from_raw_parts(raw.0, raw.1) };
            AffinityMatrix::from_row_major(np, nr, data)
        })
        .map_err(|e| to_py(py, e))
    }
    match dense {
        Some(obj) => {
            if let Ok(buf) = PyBuffer::<f32>::get(obj) {
                convert(py, &buf, n_papers, n_reviewers)
            } else if let Ok(buf) = PyBuffer::<f64>::get(obj) {
                convert(py, &buf, n_papers, n_reviewers)
            } else {
                Err(OptionsError::new_err(
                    "scores must be a numpy array of float32 or float64",
                ))
            }
        }
        None => {
            let (p, r, s): (Vec<usize>, Vec<usize>, Vec<f64>) =
                get(spec, "triples", (Vec::new(), Vec::new(), Vec::new()))?;
            let triples: Vec<(usize, usize, f64)> = p
                .into_iter()
                .zip(r)
                .zip(s)
                .map(|((p, r), s)| (p, r, s))
                .collect();
            AffinityMatrix::from_triples(n_papers, n_reviewers, &triples).map_err(|e| to_py(py, e))
        }
    }
}

/// The venue a spec describes: ids, demands, loads, authors, bids, locks, declared conflicts.
fn venue_of(spec: &Bound<'_, PyDict>) -> PyResult<Venue> {
    let paper_ids: Vec<String> = get(spec, "paper_ids", Vec::new())?;
    let reviewer_ids: Vec<String> = get(spec, "reviewer_ids", Vec::new())?;
    let demand: Vec<u32> = get(spec, "demand", Vec::new())?;
    let min_load: Vec<u32> = get(spec, "min_load", Vec::new())?;
    let max_load: Vec<u32> = get(spec, "max_load", Vec::new())?;
    let authors: Vec<Vec<String>> = get(spec, "authors", Vec::new())?;
    let (np, nr) = (paper_ids.len(), reviewer_ids.len());
    if demand.len() != np || min_load.len() != nr || max_load.len() != nr {
        return Err(OptionsError::new_err(
            "demand needs one value per paper, loads one per reviewer",
        ));
    }
    let pair = |(p, r): (usize, usize), what: &str| -> PyResult<(PaperIdx, ReviewerIdx)> {
        if p >= np || r >= nr {
            return Err(OptionsError::new_err(format!(
                "{what} ({p}, {r}) is outside the {np} × {nr} matrix"
            )));
        }
        Ok((PaperIdx(p as u32), ReviewerIdx(r as u32)))
    };
    let conflicts: Vec<(usize, usize)> = get(spec, "conflicts", Vec::new())?;
    let locks: Vec<(usize, usize)> = get(spec, "locks", Vec::new())?;
    let bids: Vec<(usize, usize, String)> = get(spec, "bids", Vec::new())?;
    Ok(Venue {
        papers: paper_ids
            .into_iter()
            .enumerate()
            .map(|(p, id)| Paper {
                id,
                demand: demand[p],
                authors: authors.get(p).cloned().unwrap_or_default(),
                ..Paper::default()
            })
            .collect(),
        reviewers: reviewer_ids
            .into_iter()
            .enumerate()
            .map(|(r, id)| Reviewer {
                id,
                min_load: min_load[r],
                max_load: max_load[r],
                ..Reviewer::default()
            })
            .collect(),
        declared_conflicts: conflicts
            .into_iter()
            .map(|c| {
                let (paper, reviewer) = pair(c, "conflict")?;
                Ok(DeclaredConflict {
                    paper,
                    reviewer,
                    reason: String::new(),
                })
            })
            .collect::<PyResult<_>>()?,
        locks: locks
            .into_iter()
            .map(|l| pair(l, "lock"))
            .collect::<PyResult<_>>()?,
        bids: bids
            .into_iter()
            .map(|(p, r, level)| {
                let (paper, reviewer) = pair((p, r), "bid")?;
                let level = BidLevel::parse(&level).ok_or_else(|| {
                    OptionsError::new_err(format!(
                        "`{level}` is not a bid (very high, high, neutral, low, very low, or -2..2)"
                    ))
                })?;
                Ok(Bid {
                    paper,
                    reviewer,
                    level,
                })
            })
            .collect::<PyResult<_>>()?,
        ..Venue::default()
    })
}

/// Affinity and conflict options of a spec (bid weights, forbidden bids, co-authorship).
fn options_of(spec: &Bound<'_, PyDict>) -> PyResult<AssignOptions> {
    let mut opts = AssignOptions::default();
    if let Some(w) = opt::<String>(spec, "bid_weights")? {
        opts.affinity.bid_weights = papermatch::affinity::BidWeights::parse(&w)
            .map_err(|e| OptionsError::new_err(e.to_string()))?;
    }
    opts.conflicts = ConflictOptions {
        forbid_bid: match opt::<String>(spec, "forbid_bid")? {
            Some(l) => Some(BidLevel::parse(&l).ok_or_else(|| {
                OptionsError::new_err(format!("forbid_bid: `{l}` is not a bid level"))
            })?),
            None => None,
        },
        coauthors: opt::<i32>(spec, "coauthor_since")?.map(Coauthors::Since),
        ..ConflictOptions::default()
    };
    if let Some(dir) = opt::<String>(spec, "text_model")? {
        let mut n = papermatch::affinity::neural::NeuralOptions::new(Path::new(&dir));
        n.cache = opt::<String>(spec, "embedding_cache")?.map(Into::into);
        n.encoder = match opt::<String>(spec, "text_encoder")?.as_deref() {
            None | Some("full") => papermatch::affinity::neural::Encoder::Full,
            Some("static") => papermatch::affinity::neural::Encoder::Static,
            Some(other) => {
                return Err(OptionsError::new_err(format!(
                    "text_encoder: `{other}` is not an encoder (full or static)"
                )));
            }
        };
        opts.affinity.neural = Some(n);
        opts.affinity.neural_weight = opt::<f64>(spec, "neural_weight")?;
    }
    opts.read.default_demand = get(spec, "default_demand", 3u32)?;
    opts.read.default_max_load = get(spec, "default_max_load", 6u32)?;
    opts.read.default_min_load = get(spec, "default_min_load", 0u32)?;
    opts.read.allow_any_score = get(spec, "allow_any_score", false)?;
    Ok(opts)
}

/// The requirements a spec asks for, on `venue` (for the cycle rule's authors).
fn requirements_of(spec: &Bound<'_, PyDict>, venue: &Venue) -> PyResult<Requirements> {
    let groups: Vec<(String, Vec<u32>, u32, u32)> = get(spec, "groups", Vec::new())?;
    let soft: Option<f64> = opt(spec, "soft_penalty")?;
    let rules = (!groups.is_empty()).then(|| RuleSet {
        rules: Vec::new(),
        groups: groups
            .into_iter()
            .map(|(label, mut members, lower, upper)| {
                members.sort_unstable();
                members.dedup();
                Group {
                    members,
                    lower,
                    upper,
                    label,
                }
            })
            .collect(),
        options: RuleOptions {
            soft: soft.map(score_to_units),
            ..RuleOptions::default()
        },
    });
    let objective: String = get(spec, "objective", "total".to_string())?;
    let perturbed = objective == "perturbed";
    let objective = match objective.as_str() {
        "total" | "perturbed" => Objective::Total,
        "fair" => Objective::Fair,
        "wef1" => Objective::Wef1,
        other => {
            return Err(OptionsError::new_err(format!(
                "objective `{other}`: use \"total\", \"fair\", \"perturbed\" or \"wef1\""
            )));
        }
    };
    let min_paper_score: Option<f64> = opt(spec, "min_paper_score")?;
    let fair = (objective != Objective::Total || min_paper_score.is_some()).then(|| FairOptions {
        objective,
        rounds: 1,
        min_paper_score: min_paper_score.map(score_to_units),
        ..FairOptions::default()
    });
    let fair = match fair {
        Some(mut f) => {
            f.rounds = get(spec, "fair_rounds", 1usize)?;
            f.iterations = get(spec, "fair_iterations", f.iterations)?;
            f.tolerance = get(spec, "fair_tolerance", f.tolerance)?;
            Some(f)
        }
        None => None,
    };
    let max_probability: Option<f64> = opt(spec, "max_probability")?;
    let limits: Vec<(usize, usize, f64)> = get(spec, "probability_limits", Vec::new())?;
    let thresholds: Vec<f64> = get(spec, "bad_match_thresholds", Vec::new())?;
    if !perturbed && !thresholds.is_empty() {
        return Err(OptionsError::new_err(
            "bad_match_thresholds limit perturbed maximization: add objective=\"perturbed\"",
        ));
    }
    let randomized = if perturbed || max_probability.is_some() || !limits.is_empty() {
        let q = max_probability.unwrap_or(1.0);
        if !(q > 0.0 && q <= 1.0) {
            return Err(OptionsError::new_err(format!(
                "max_probability {q} must lie in (0, 1]"
            )));
        }
        Some(Randomization {
            caps: ProbabilityCaps {
                default: q,
                pairs: limits
                    .into_iter()
                    .map(|(p, r, q)| (PaperIdx(p as u32), ReviewerIdx(r as u32), q))
                    .collect(),
            },
            seed: get(spec, "seed", 0u64)?,
            perturbation: if perturbed {
                let beta: f64 = get(spec, "perturbation", DEFAULT_BETA)?;
                if !(beta.is_finite() && beta >= 0.0) {
                    return Err(OptionsError::new_err(format!(
                        "perturbation {beta} must be a number ≥ 0"
                    )));
                }
                Some(Perturbation {
                    beta,
                    bad_match_thresholds: thresholds.into_iter().map(score_to_units).collect(),
                })
            } else {
                None
            },
        })
    } else {
        None
    };
    let cycles = match opt::<usize>(spec, "no_review_cycles")? {
        Some(l) => Some(
            papermatch::solve::cycles::CycleRule::from_venue(venue, l)
                .map_err(|e| OptionsError::new_err(e.to_string()))?,
        ),
        None => None,
    };
    let solver: String = get(spec, "solver", "flow".to_string())?;
    Ok(Requirements {
        fair,
        rules,
        randomized,
        cycles,
        solve: SolveOptions {
            solver: match solver.as_str() {
                "flow" => SolverKind::Flow,
                "lp" => SolverKind::Lp,
                other => {
                    return Err(OptionsError::new_err(format!(
                        "solver `{other}`: use \"flow\" or \"lp\""
                    )));
                }
            },
            candidates: get(spec, "candidates", 0usize)?,
            progress: false,
        },
    })
}

/// Little-endian bytes of a slice of numbers, for `numpy.frombuffer`.
fn bytes<'py, T: Copy>(py: Python<'py>, v: &[T], to: impl Fn(T) -> [u8; 8]) -> Bound<'py, PyBytes> {
    let mut out = Vec::with_capacity(v.len() * 8);
    for &x in v {
        out.extend_from_slice(&to(x));
    }
    PyBytes::new(py, &out)
}

/// Solves `instance` under `spec` with the GIL released; the result as a dictionary.
fn solve_instance<'py>(
    py: Python<'py>,
    instance: &Instance,
    spec: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyDict>> {
    let req = requirements_of(spec, &instance.venue)?;
    let (outcome, summary) = py
        .detach(|| {
            let problem = instance.problem();
            let outcome = papermatch::solve::assign(&problem, &req)?;
            let summary = papermatch::report::summarize_outcome(&problem, &req, &outcome);
            Ok::<_, Error>((outcome, summary.to_json()))
        })
        .map_err(|e| to_py(py, e))?;
    let out = PyDict::new(py);
    let pairs: Vec<i64> = outcome
        .assignment
        .pairs()
        .flat_map(|(p, r)| [p.0 as i64, r.0 as i64])
        .collect();
    out.set_item("pairs", bytes(py, &pairs, i64::to_le_bytes))?;
    let totals = outcome.assignment.paper_totals(&instance.affinity);
    out.set_item("paper_totals", bytes(py, &totals, i64::to_le_bytes))?;
    out.set_item("total", outcome.total)?;
    out.set_item("objective", outcome.objective)?;
    out.set_item("bound", outcome.bound)?;
    out.set_item("exact", outcome.exact)?;
    out.set_item("method", outcome.method)?;
    out.set_item("summary", summary)?;
    if let Some(r) = &outcome.randomized {
        let mut p = Vec::new();
        let mut rv = Vec::new();
        let mut q = Vec::new();
        for (paper, row) in r.marginals.by_paper.iter().enumerate() {
            for &(reviewer, f) in row {
                p.push(paper as i64);
                rv.push(reviewer.0 as i64);
                q.push(f as f64 / PROB_SCALE as f64);
            }
        }
        out.set_item(
            "marginals",
            (
                bytes(py, &p, i64::to_le_bytes),
                bytes(py, &rv, i64::to_le_bytes),
                bytes(py, &q, f64::to_le_bytes),
            ),
        )?;
    }
    Ok(out)
}

/// Builds the instance of an in-memory venue: scores (dense buffer or triples) and a spec.
fn instance_of(
    py: Python<'_>,
    dense: Option<&Bound<'_, PyAny>>,
    spec: &Bound<'_, PyDict>,
) -> PyResult<Instance> {
    let mut venue = venue_of(spec)?;
    let (np, nr) = (venue.papers.len(), venue.reviewers.len());
    venue.scores = Some(affinity(py, dense, spec, np, nr)?);
    let opts = options_of(spec)?;
    py.detach(|| Instance::new(venue, &opts))
        .map_err(|e| to_py(py, e))
}

/// Solves an in-memory venue: `dense` is a papers × reviewers float array (or `None` with
/// `spec["triples"]`); `spec` holds ids, demands, loads and every requirement.
#[pyfunction]
#[pyo3(signature = (dense, spec))]
fn assign<'py>(
    py: Python<'py>,
    dense: Option<Bound<'py, PyAny>>,
    spec: Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyDict>> {
    guarded(|| {
        let instance = instance_of(py, dense.as_ref(), &spec)?;
        solve_instance(py, &instance, &spec)
    })
}

/// Reads a venue folder with the command line's readers and solves it under `spec`.
#[pyfunction]
fn assign_venue<'py>(
    py: Python<'py>,
    path: String,
    spec: Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyDict>> {
    guarded(|| {
        let instance = read(py, &path, &spec)?;
        solve_instance(py, &instance, &spec)
    })
}

fn read(py: Python<'_>, path: &str, spec: &Bound<'_, PyDict>) -> PyResult<Instance> {
    let opts = options_of(spec)?;
    py.detach(|| {
        let files = papermatch::io::VenueFiles::from_dir(Path::new(path))?;
        Instance::from_files(&files, &opts)
    })
    .map_err(|e| to_py(py, e))
}

/// Reads a venue folder: ids, demands, loads, the affinity matrix (int32 units of 10⁻⁶, row by
/// row), conflicts, locks and each paper's authors among the reviewers.
#[pyfunction]
fn read_venue<'py>(
    py: Python<'py>,
    path: String,
    spec: Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyDict>> {
    guarded(|| {
        let instance = read(py, &path, &spec)?;
        let v = &instance.venue;
        let out = PyDict::new(py);
        out.set_item(
            "paper_ids",
            v.papers.iter().map(|p| p.id.clone()).collect::<Vec<_>>(),
        )?;
        out.set_item(
            "reviewer_ids",
            v.reviewers.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        )?;
        out.set_item(
            "demand",
            v.papers.iter().map(|p| p.demand).collect::<Vec<_>>(),
        )?;
        out.set_item(
            "min_load",
            v.reviewers.iter().map(|r| r.min_load).collect::<Vec<_>>(),
        )?;
        out.set_item(
            "max_load",
            v.reviewers.iter().map(|r| r.max_load).collect::<Vec<_>>(),
        )?;
        let (np, nr) = (v.papers.len(), v.reviewers.len());
        let mut units = vec![0u8; np * nr * 4];
        for p in 0..np {
            for r in 0..nr {
                let k = (p * nr + r) * 4;
                units[k..k + 4].copy_from_slice(&instance.affinity.get(p, r).to_le_bytes());
            }
        }
        out.set_item("units", PyBytes::new(py, &units))?;
        let conflicts: Vec<(u32, u32)> = instance
            .conflicts
            .iter()
            .map(|(p, r, _)| (p.0, r.0))
            .collect();
        out.set_item("conflicts", conflicts)?;
        out.set_item(
            "locks",
            v.locks.iter().map(|&(p, r)| (p.0, r.0)).collect::<Vec<_>>(),
        )?;
        let authors = papermatch::solve::cycles::authors_among_reviewers(v);
        out.set_item("authors", authors)?;
        Ok(out)
    })
}

/// Evaluates an assignment (pairs of indices) of an in-memory venue: the JSON of `papermatch
/// evaluate`.
#[pyfunction]
#[pyo3(signature = (dense, spec, pairs, expertise_threshold=0.5, optimum=true))]
fn evaluate(
    py: Python<'_>,
    dense: Option<Bound<'_, PyAny>>,
    spec: Bound<'_, PyDict>,
    pairs: Vec<(usize, usize)>,
    expertise_threshold: f64,
    optimum: bool,
) -> PyResult<String> {
    guarded(|| {
        let instance = instance_of(py, dense.as_ref(), &spec)?;
        let np = instance.venue.papers.len();
        let nr = instance.venue.reviewers.len();
        let mut list = Vec::with_capacity(pairs.len());
        for (p, r) in pairs {
            if p >= np || r >= nr {
                return Err(OptionsError::new_err(format!(
                    "pair ({p}, {r}) is outside the {np} × {nr} matrix"
                )));
            }
            list.push((PaperIdx(p as u32), ReviewerIdx(r as u32)));
        }
        let a = papermatch::solve::Assignment::from_pairs(np, &list);
        let opts = papermatch::report::evaluate::EvaluateOptions {
            expertise_threshold,
            compute_optimum: optimum,
            solve: SolveOptions::default(),
        };
        Ok(py.detach(|| {
            papermatch::report::evaluate::evaluate(&instance.problem(), &instance.venue, &a, &opts)
                .to_json()
        }))
    })
}

/// Writes a synthetic venue into `path` (created if needed), as `papermatch generate` does.
#[pyfunction]
#[pyo3(signature = (path, papers, reviewers, seed=1, layout="scores", demand=3, max_load=6))]
#[allow(clippy::too_many_arguments)] // Python keyword arguments, one per generate option.
fn generate(
    py: Python<'_>,
    path: String,
    papers: usize,
    reviewers: usize,
    seed: u64,
    layout: &str,
    demand: u32,
    max_load: u32,
) -> PyResult<Vec<String>> {
    use papermatch::generate::{GenerateSpec, Layout};
    guarded(|| {
        let layout = match layout {
            "scores" => Layout::Scores,
            "keywords" => Layout::Keywords,
            "text" => Layout::Text,
            "reciprocal" => Layout::Reciprocal,
            other => {
                return Err(OptionsError::new_err(format!(
                    "layout `{other}`: use scores, keywords, text or reciprocal"
                )));
            }
        };
        let spec = GenerateSpec {
            papers,
            reviewers,
            seed,
            layout,
            demand,
            max_load,
        };
        py.detach(|| papermatch::generate::write_venue(&spec, Path::new(&path)))
            .map_err(|e| to_py(py, e))
    })
}

create_exception!(
    _papermatch,
    EditError,
    PapermatchError,
    "A session refused a request: a conflict of interest (with its reason), a stale version, \
     an edit that does not fit the current state, or nothing to undo or redo."
);

/// A session error as the package's exception: an unknown id is a `KeyError`.
fn session_err(py: Python<'_>, e: SessionError) -> PyErr {
    match e {
        SessionError::NotFound(m) => PyKeyError::new_err(m),
        SessionError::Library(e) => to_py(py, e),
        other => EditError::new_err(other.to_string()),
    }
}

/// A value as JSON text, parsed by the Python side.
fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("a session view serialises")
}

/// A session's answer as JSON text, or its error as the package's exception.
fn answer<T: serde::Serialize>(py: Python<'_>, r: Result<T, SessionError>) -> PyResult<String> {
    r.map(|v| json(&v)).map_err(|e| session_err(py, e))
}

/// One of a few words (an op, a mode, a sort order, an export) as the library's enum, by the
/// names the JSON API takes; anything else is an `OptionsError` listing them.
fn word<T: for<'de> serde::Deserialize<'de>>(
    what: &str,
    value: &str,
    choices: &str,
) -> PyResult<T> {
    serde_json::from_value(serde_json::Value::from(value))
        .map_err(|_| OptionsError::new_err(format!("{what} `{value}`: use {choices}")))
}

/// The chair's editing session over a venue folder (the workbench's state): edits checked at
/// once against every constraint, undo and redo, re-optimize, save. Views answer JSON text.
#[pyclass(name = "Session", module = "papermatch._papermatch")]
struct PySession(Session);

#[pymethods]
impl PySession {
    /// Reads the venue folder with the command line's readers, solves it under the spec's
    /// requirements, and starts from that optimum.
    #[new]
    fn new(py: Python<'_>, path: String, spec: Bound<'_, PyDict>) -> PyResult<PySession> {
        guarded(|| {
            let instance = read(py, &path, &spec)?;
            let req = requirements_of(&spec, &instance.venue)?;
            let inputs = papermatch::io::VenueFiles::from_dir(Path::new(&path))
                .map(|f| f.inputs())
                .unwrap_or_default();
            py.detach(|| Session::start(instance, req, inputs, None))
                .map(PySession)
                .map_err(|e| session_err(py, e))
        })
    }

    /// The `evaluate --json` fields, plus `edits` and `version`.
    fn summary(&mut self) -> String {
        json(&self.0.summary())
    }

    /// Papers matching `q`, sorted by `sort` (id, total, total-desc, weakest, violations).
    #[pyo3(signature = (q="", limit=50, offset=0, sort="id"))]
    fn papers(&self, q: &str, limit: usize, offset: usize, sort: &str) -> PyResult<String> {
        let sort: PaperSort = word("sort", sort, "id, total, total-desc, weakest or violations")?;
        Ok(json(&self.0.search_papers(q, sort, offset, limit).rows))
    }

    /// One paper: reviewers and why, alternates, conflicts, violations.
    fn paper(&self, py: Python<'_>, paper_id: &str) -> PyResult<String> {
        let p = self
            .0
            .find_paper(paper_id)
            .map_err(|e| session_err(py, e))?;
        Ok(json(&self.0.paper_view(p)))
    }

    /// One reviewer: papers, load, bids, best unassigned papers.
    fn reviewer(&self, py: Python<'_>, reviewer_id: &str) -> PyResult<String> {
        let r = self
            .0
            .find_reviewer(reviewer_id)
            .map_err(|e| session_err(py, e))?;
        Ok(json(&self.0.reviewer_view(r)))
    }

    /// Applies an edit: `op` is add, remove, swap, lock or ban.
    #[pyo3(signature = (op, paper_id, reviewer_id, replacement=None, version=None))]
    fn edit(
        &mut self,
        py: Python<'_>,
        op: &str,
        paper_id: String,
        reviewer_id: String,
        replacement: Option<String>,
        version: Option<u64>,
    ) -> PyResult<String> {
        let op: Op = word("op", op, "add, remove, swap, lock or ban")?;
        let request = EditRequest {
            op,
            paper_id,
            reviewer_id,
            replacement,
            version,
        };
        answer(py, self.0.edit_by_ids(&request))
    }

    /// Takes back the last change.
    fn undo(&mut self, py: Python<'_>) -> PyResult<String> {
        answer(py, self.0.undo())
    }

    /// Makes the last undone change again.
    fn redo(&mut self, py: Python<'_>) -> PyResult<String> {
        answer(py, self.0.redo())
    }

    /// Keeps every decision and solves the rest: `mode` is minimal or full.
    #[pyo3(signature = (mode="minimal"))]
    fn reoptimize(&mut self, py: Python<'_>, mode: &str) -> PyResult<String> {
        let mode: Mode = word("mode", mode, "minimal or full")?;
        let s = &mut self.0;
        answer(py, py.detach(|| s.reoptimize(mode)))
    }

    /// Writes the assignment to `output`, locks.csv and bans.csv beside it, and `exports`
    /// (openreview, hotcrp); returns the files written.
    #[pyo3(signature = (output, exports=Vec::new()))]
    fn save(&self, py: Python<'_>, output: String, exports: Vec<String>) -> PyResult<Vec<String>> {
        let exports = exports
            .iter()
            .map(|e| word::<Export>("export", e, "openreview or hotcrp"))
            .collect::<PyResult<Vec<_>>>()?;
        self.0
            .save(Path::new(&output), &exports)
            .map(|files| files.iter().map(|f| f.display().to_string()).collect())
            .map_err(|e| session_err(py, e))
    }

    /// Every change with its effect on the total.
    fn history(&self) -> String {
        json(&self.0.changes())
    }

    /// The current version.
    #[getter]
    fn version(&self) -> u64 {
        self.0.version()
    }

    /// Recomputes every check from scratch and compares it with the session's state.
    fn check(&self) -> PyResult<()> {
        self.0.check().map_err(PapermatchError::new_err)
    }
}

/// The library's version and its fixed-point scale.
#[pyfunction]
fn info() -> HashMap<&'static str, String> {
    HashMap::from([
        ("version", env!("CARGO_PKG_VERSION").to_string()),
        ("score_scale", papermatch::model::SCORE_SCALE.to_string()),
    ])
}

#[pymodule]
fn _papermatch(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("PapermatchError", py.get_type::<PapermatchError>())?;
    m.add("InputError", py.get_type::<InputError>())?;
    m.add("OptionsError", py.get_type::<OptionsError>())?;
    m.add("InfeasibleError", py.get_type::<InfeasibleError>())?;
    m.add("EditError", py.get_type::<EditError>())?;
    m.add_class::<PySession>()?;
    m.add_function(wrap_pyfunction!(assign, m)?)?;
    m.add_function(wrap_pyfunction!(assign_venue, m)?)?;
    m.add_function(wrap_pyfunction!(read_venue, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(generate, m)?)?;
    m.add_function(wrap_pyfunction!(info, m)?)?;
    Ok(())
}
