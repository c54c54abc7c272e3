//! The editing session: random sequences of edits, undos, redos and re-optimizes never leave its
//! incremental state apart from a from-scratch evaluation of the same pairs; a refused edit
//! changes nothing; a re-optimize keeps every lock and ban and meets every requirement; undoing
//! everything restores the start exactly.

use papermatch::Instance;
use papermatch::conflicts::{Conflicts, Reasons};
use papermatch::model::{AffinityMatrix, Paper, PaperIdx, Reviewer, ReviewerIdx, Venue};
use papermatch::session::{Decision, Edit, Mode, Op, Session};
use papermatch::solve::cycles::CycleRule;
use papermatch::solve::rules::{Group, RuleOptions};
use papermatch::solve::{Requirements, RuleSet};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Step {
    Edit(u8, usize, usize, usize),
    Undo,
    Redo,
    Reoptimize(bool),
}

#[derive(Debug, Clone)]
struct Case {
    np: usize,
    nr: usize,
    demand: Vec<u32>,
    max_load: Vec<u32>,
    min_load: Vec<u32>,
    scores: Vec<i32>,
    conflicts: Vec<bool>,
    /// Members of one rule group (`None`: no rule), with its lower and upper bound.
    group: Option<(Vec<bool>, u32, u32)>,
    /// The paper each reviewer wrote, if any (`None`: no cycle rule).
    authors: Option<Vec<Option<usize>>>,
    steps: Vec<Step>,
}

fn case() -> impl Strategy<Value = Case> {
    (2usize..6, 3usize..7).prop_flat_map(|(np, nr)| {
        let step = prop_oneof![
            6 => (0u8..5, 0..np, 0..nr, 0..nr).prop_map(|(o, p, r, x)| Step::Edit(o, p, r, x)),
            2 => Just(Step::Undo),
            1 => Just(Step::Redo),
            1 => any::<bool>().prop_map(Step::Reoptimize),
        ];
        (
            prop::collection::vec(1u32..=2, np),
            prop::collection::vec(1u32..=3, nr),
            prop::collection::vec(0u32..=1, nr),
            prop::collection::vec(0i32..1_000_000, np * nr),
            prop::collection::vec(prop::bool::weighted(0.15), np * nr),
            prop::option::of((prop::collection::vec(any::<bool>(), nr), 0u32..=1, 1u32..=2)),
            prop::option::of(prop::collection::vec(prop::option::of(0..np), nr)),
            prop::collection::vec(step, 1..25),
        )
            .prop_map(
                move |(demand, max_load, min_load, scores, conflicts, group, authors, steps)| {
                    Case {
                        np,
                        nr,
                        min_load: min_load
                            .iter()
                            .zip(&max_load)
                            .map(|(a, b)| *a.min(b))
                            .collect(),
                        demand,
                        max_load,
                        scores,
                        conflicts,
                        group,
                        authors,
                        steps,
                    }
                },
            )
    })
}

fn session(c: &Case) -> Option<Session> {
    let venue = Venue {
        papers: (0..c.np)
            .map(|p| Paper {
                id: format!("P{p}"),
                title: format!("paper {p}"),
                demand: c.demand[p],
                ..Paper::default()
            })
            .collect(),
        reviewers: (0..c.nr)
            .map(|r| Reviewer {
                id: format!("R{r}"),
                min_load: c.min_load[r],
                max_load: c.max_load[r],
                ..Reviewer::default()
            })
            .collect(),
        ..Venue::default()
    };
    let scores = ndarray::Array2::from_shape_vec((c.np, c.nr), c.scores.clone()).unwrap();
    let conflicts = Conflicts::from_pairs(
        c.np,
        (0..c.np * c.nr)
            .filter(|&k| c.conflicts[k])
            .map(|k| ((k / c.nr) as u32, (k % c.nr) as u32, Reasons::DECLARED))
            .collect(),
    );
    let mut req = Requirements::default();
    if let Some((members, lower, upper)) = &c.group {
        let members: Vec<u32> = (0..c.nr as u32).filter(|&r| members[r as usize]).collect();
        if !members.is_empty() {
            req.rules = Some(RuleSet {
                rules: Vec::new(),
                groups: vec![Group {
                    members,
                    lower: *lower,
                    upper: *upper.max(lower),
                    label: "group=x".into(),
                }],
                options: RuleOptions::default(),
            });
        }
    }
    if let Some(wrote) = &c.authors {
        let mut authors = vec![Vec::new(); c.np];
        for (r, p) in wrote.iter().enumerate() {
            if let Some(p) = p {
                authors[*p].push(r as u32);
            }
        }
        req.cycles = Some(CycleRule { length: 2, authors });
    }
    let instance = Instance {
        venue,
        affinity: AffinityMatrix::Dense(scores),
        conflicts,
    };
    Session::start(instance, req, Vec::new(), None).ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    #[test]
    fn edits_and_undos_stay_consistent(c in case()) {
        let Some(mut s) = session(&c) else { return Ok(()) };
        prop_assert!(s.check().is_ok(), "{:?}", s.check());
        let start = (s.assignment().clone(), s.decisions().clone(), s.total());
        for step in &c.steps {
            let before = (s.assignment().clone(), s.decisions().clone(), s.version());
            let outcome = match *step {
                Step::Edit(op, p, r, x) => {
                    let op = [Op::Add, Op::Remove, Op::Swap, Op::Lock, Op::Ban][op as usize];
                    let edit = Edit {
                        op,
                        paper: PaperIdx(p as u32),
                        reviewer: ReviewerIdx(r as u32),
                        replacement: Some(ReviewerIdx(x as u32)),
                    };
                    s.edit(&edit, Some(s.version())).map(|_| ())
                }
                Step::Undo => s.undo().map(|_| ()),
                Step::Redo => s.redo().map(|_| ()),
                Step::Reoptimize(minimal) => {
                    let mode = if minimal { Mode::Minimal } else { Mode::Full };
                    s.reoptimize(mode).map(|r| {
                        // Every lock kept, every ban respected, every requirement met.
                        assert!(r.status.violations.is_empty(), "{:?}", r.status.violations);
                    })
                }
            };
            match outcome {
                Ok(()) => {}
                Err(_) => {
                    // A refused request changes nothing.
                    prop_assert_eq!(&before.0, s.assignment());
                    prop_assert_eq!(&before.1, s.decisions());
                    prop_assert_eq!(before.2, s.version());
                }
            }
            prop_assert!(s.check().is_ok(), "after {:?}: {:?}", step, s.check());
            for (&(p, r), d) in s.decisions() {
                let has = s.assignment().reviewers[p.ix()].contains(&r);
                if *d == Decision::Ban {
                    prop_assert!(!has, "banned pair assigned after {:?}", step);
                }
            }
        }
        while s.undo().is_ok() {}
        prop_assert_eq!(&start.0, s.assignment());
        prop_assert_eq!(&start.1, s.decisions());
        prop_assert_eq!(start.2, s.total());
    }
}

#[test]
fn stale_versions_are_refused() {
    let c = Case {
        np: 2,
        nr: 3,
        demand: vec![1, 1],
        max_load: vec![1, 1, 1],
        min_load: vec![0; 3],
        scores: vec![9, 5, 1, 8, 7, 2],
        conflicts: vec![false, false, true, false, false, false],
        group: None,
        authors: None,
        steps: Vec::new(),
    };
    let mut s = session(&c).unwrap();
    let edit = |op, p: u32, r: u32| Edit {
        op,
        paper: PaperIdx(p),
        reviewer: ReviewerIdx(r),
        replacement: None,
    };
    let v = s.version();
    s.edit(&edit(Op::Remove, 0, 0), Some(v)).unwrap();
    let e = s.edit(&edit(Op::Add, 0, 1), Some(v)).unwrap_err();
    assert!(e.to_string().contains("stale"), "{e}");
    // A conflict is refused with its reason.
    let e = s.edit(&edit(Op::Add, 0, 2), None).unwrap_err();
    assert!(e.to_string().contains("conflict (declared)"), "{e}");
    // Removing made P0 short; a minimal re-optimize fills it without the banned reviewer
    // (R1 is the only one left for P0, and it is full).
    let r = s.reoptimize(Mode::Minimal).unwrap();
    assert!(r.status.violations.is_empty());
    assert!(!s.assignment().reviewers[0].contains(&ReviewerIdx(0)));
    // R1 moves from P1 to P0, and P1 takes R0: three pairs change.
    assert_eq!(r.pairs_changed, 3);
}
