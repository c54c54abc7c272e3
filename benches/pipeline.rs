//! Criterion benches of each stage: parsing scores, keyword affinity, and both solvers.

use criterion::{Criterion, criterion_group, criterion_main};

use papermatch::generate::{GenerateSpec, Layout, write_venue};
use papermatch::io::{ReadOptions, Source, VenueSources, read_venue_dir, read_venue_sources};
use papermatch::solve::{SolveOptions, SolverKind};
use papermatch::{AssignOptions, Instance};

fn venue(papers: usize, reviewers: usize, layout: Layout) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    let spec = GenerateSpec {
        papers,
        reviewers,
        layout,
        ..GenerateSpec::default()
    };
    write_venue(&spec, dir.path()).expect("generated venue");
    dir
}

fn parse(c: &mut Criterion) {
    // Read from the file, as the command line does (mapped, pages released as they are parsed).
    let dir = venue(2000, 3000, Layout::Scores);
    let path = dir.path().join("scores.csv");
    let len = std::fs::metadata(&path).expect("scores.csv").len();
    let mut g = c.benchmark_group("parse");
    g.sample_size(10);
    g.throughput(criterion::Throughput::Bytes(len));
    g.bench_function("scores 2000x3000", |b| {
        b.iter(|| {
            let sources = VenueSources {
                scores: Some(Source::read(&path).expect("readable")),
                ..VenueSources::default()
            };
            read_venue_sources(&sources, &ReadOptions::default()).expect("parses")
        })
    });
    g.finish();
}

fn affinity(c: &mut Criterion) {
    let dir = venue(4000, 5000, Layout::Keywords);
    let v = read_venue_dir(dir.path(), &ReadOptions::default()).expect("venue");
    let mut g = c.benchmark_group("affinity");
    g.sample_size(10);
    g.bench_function("tfidf 4000x5000", |b| {
        b.iter(|| {
            papermatch::affinity::keyword_affinity(&v, papermatch::affinity::KeywordMeasure::TfIdf)
        })
    });
    g.finish();
}

fn solve(c: &mut Criterion) {
    let opts = AssignOptions::default();
    let issue = venue(2000, 3000, Layout::Scores);
    let issue = Instance::from_dir(issue.path(), &opts).expect("instance");
    let big = venue(1000, 1500, Layout::Scores);
    let big = Instance::from_dir(big.path(), &opts).expect("instance");
    let small = venue(60, 90, Layout::Scores);
    let small = Instance::from_dir(small.path(), &opts).expect("instance");
    let mut g = c.benchmark_group("solve");
    g.sample_size(10);
    g.bench_function("flow dense 2000x3000", |b| {
        b.iter(|| issue.assign_with(&SolveOptions::default()).expect("solves"))
    });
    g.bench_function("flow dense 1000x1500", |b| {
        b.iter(|| big.assign_with(&SolveOptions::default()).expect("solves"))
    });
    g.bench_function("flow dense 60x90", |b| {
        b.iter(|| small.assign_with(&SolveOptions::default()).expect("solves"))
    });
    g.bench_function("fair dense 1000x1500", |b| {
        let fair = papermatch::solve::fair::FairOptions {
            objective: papermatch::solve::fair::Objective::Fair,
            ..Default::default()
        };
        b.iter(|| {
            papermatch::solve::fair::solve_fair(&big.problem(), &SolveOptions::default(), &fair)
                .expect("solves")
        })
    });
    g.bench_function("lp dense 60x90", |b| {
        let lp = SolveOptions {
            solver: SolverKind::Lp,
            ..SolveOptions::default()
        };
        b.iter(|| small.assign_with(&lp).expect("solves"))
    });
    g.finish();
}

criterion_group!(benches, parse, affinity, solve);
criterion_main!(benches);
