//! Evaluate, compare, report and the other systems' formats, through the real binary.

mod common;
use common::*;

fn tiny() -> String {
    path("tests/fixtures/tiny")
}

fn golden(name: &str) -> String {
    std::fs::read_to_string(path(&format!("tests/fixtures/golden/{name}"))).unwrap()
}

#[test]
fn openreview_json_output_matches_golden_file() {
    let o = run(&["assign", &tiny(), "-q", "--format", "openreview"]);
    assert!(o.status.success());
    assert_eq!(stdout(&o), golden("tiny.assignments.json"));
}

#[test]
fn hotcrp_output_matches_golden_file() {
    let o = run(&[
        "assign",
        &tiny(),
        "-q",
        "--format",
        "hotcrp",
        "--review-type",
        "secondary",
        "--round",
        "R2",
    ]);
    assert!(o.status.success());
    assert_eq!(stdout(&o), golden("tiny.hotcrp.csv"));
}

#[test]
fn export_round_trips_between_formats() {
    let json = path("tests/fixtures/golden/tiny.assignments.json");
    let o = run(&["export", &tiny(), "--assignment", &json, "-q"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(stdout(&o), golden("tiny.assignments.csv"));
}

#[test]
fn evaluate_matches_hand_computed_figures() {
    let csv = path("tests/fixtures/golden/tiny.assignments.csv");
    let o = run(&[
        "evaluate",
        &tiny(),
        "--assignment",
        &csv,
        "--json",
        "--expertise-threshold",
        "0.7",
        "-q",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["feasible"], true);
    assert_eq!(v["total_affinity_exact"], "2.063964");
    assert_eq!(v["paper_scores"]["min"], 0.64975);
    assert_eq!(v["paper_scores"]["max"].to_string(), "0.707107");
    // Gini: Σ|xi − xj| / (2 n² mean) = 4 · 0.057357 / (18 · 0.687988).
    let gini = v["paper_scores"]["gini"].as_f64().unwrap();
    assert!(
        (gini - 4.0 * 0.057357 / (18.0 * 2.063964 / 3.0)).abs() < 1e-6,
        "{gini}"
    );
    assert_eq!(v["papers_without_expert"], serde_json::json!(["P1"]));
    assert_eq!(v["load_histogram"], serde_json::json!([1, 2, 1]));
    assert_eq!(v["gap"], 0.0);
}

#[test]
fn evaluate_lists_violations_of_another_tools_assignment() {
    let other = path("tests/fixtures/golden/tiny.other.json");
    let o = run(&["evaluate", &tiny(), "--assignment", &other, "-q"]);
    assert!(o.status.success());
    let text = stdout(&o);
    assert!(text.contains("constraints              1 broken"), "{text}");
    assert!(
        text.contains("violation: paper P1 is assigned to conflicted reviewer R1"),
        "{text}"
    );
    assert!(text.contains("total affinity           2.856857"), "{text}");
}

#[test]
fn compare_shows_figures_and_differing_pairs() {
    let a = path("tests/fixtures/golden/tiny.assignments.csv");
    let b = path("tests/fixtures/golden/tiny.other.json");
    let o = run(&["compare", &tiny(), &a, &b, "-q"]);
    assert!(o.status.success());
    let text = stdout(&o);
    assert!(text.contains("pairs: 2 shared, 2 only in"), "{text}");
    assert!(text.contains("- P1,R3,0.000000"), "{text}");
    assert!(text.contains("- P2,R4,0.707107"), "{text}");
    assert!(text.contains("+ P1,R1,1.000000"), "{text}");
    assert!(text.contains("+ P2,R3,0.500000"), "{text}");
}

#[test]
fn unknown_reviewer_in_assignment_is_pointed_at() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("a.csv");
    std::fs::write(&bad, "paper_id,reviewer_id\nP1,R9\n").unwrap();
    let o = run(&["evaluate", &tiny(), "--assignment", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("a.csv:2:2: unknown reviewer id `R9`"));
}

#[test]
fn openreview_inputs_make_a_venue() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("scores.txt");
    let c = dir.path().join("constraints.txt");
    std::fs::write(&s, "a,x,0.9\na,y,0.8\nb,x,0.85\nb,y,0.2\n").unwrap();
    std::fs::write(&c, "a,x,-1\nb,y,1\n").unwrap();
    let o = run(&[
        "assign",
        "--openreview-scores",
        s.to_str().unwrap(),
        "--openreview-constraints",
        c.to_str().unwrap(),
        "--reviewers-per-paper",
        "1",
        "--max-load",
        "2",
        "-q",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // a-x is a conflict and b-y is forced, so a takes y.
    assert_eq!(
        stdout(&o),
        "paper_id,reviewer_id,score\na,y,0.800000\nb,y,0.200000\n"
    );
}

/// The HTML report: one self-contained file whose charts have the right number of bars.
#[test]
fn report_html_has_every_chart_and_table() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.html");
    let example = path("examples/want-workshop");
    let a = dir.path().join("a.csv");
    assert!(
        run(&["assign", &example, "-q", "-o", a.to_str().unwrap()])
            .status
            .success()
    );
    let o = run(&[
        "report",
        &example,
        "--assignment",
        a.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(&out).unwrap();
    let count = |needle: &str| html.matches(needle).count();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(count("<svg "), 3);
    assert_eq!(count(r#"class="bar paper-totals""#), 20);
    assert_eq!(count(r#"class="bar assigned""#), 20);
    assert_eq!(count(r#"class="bar eligible""#), 20);
    // Loads 0..=6: seven bars, whose counts add up to the 40 reviewers.
    assert_eq!(count(r#"class="bar loads""#), 7);
    let reviewers: u32 = html
        .split(r#"data-series="reviewers""#)
        .skip(1)
        .map(|s| {
            s.split("</title>")
                .next()
                .unwrap()
                .rsplit(": ")
                .next()
                .unwrap()
                .parse::<u32>()
                .unwrap()
        })
        .sum();
    assert_eq!(reviewers, 40);
    assert_eq!(
        html.split(r#"<table id="worst">"#)
            .nth(1)
            .unwrap()
            .matches("<tr><td>")
            .count(),
        10
    );
    assert!(
        !html.contains("http://") || html.matches("http://").count() == count("<svg "),
        "no external resources"
    );
    assert!(!html.contains("<script"));
}

#[test]
fn alternates_list_best_unassigned_reviewers_with_spare_capacity() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("alternates.csv");
    let o = run(&[
        "assign",
        &tiny(),
        "-q",
        "--alternates",
        "2",
        "--alternates-output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Assigned: P1 {R2, R3}, P2 {R4}, P3 {R3}; R1 conflicts with P1; loads R1 0/2, R2 1/2,
    // R3 2/2, R4 1/1. Ties (score 0) go to the lower reviewer index.
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "paper_id,rank,reviewer_id,score,spare_capacity\n\
         P1,1,R4,0.000000,0\n\
         P2,1,R3,0.500000,0\n\
         P2,2,R1,0.000000,2\n\
         P3,1,R1,0.000000,2\n\
         P3,2,R2,0.000000,1\n"
    );
}
