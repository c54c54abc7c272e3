//! Co-authorship conflicts against an independent computation from the publication lists.

use papermatch::conflicts::{Coauthors, ConflictOptions, Reasons, find_conflicts};
use papermatch::model::{Paper, PaperIdx, Publication, Reviewer, ReviewerIdx, Venue};
use proptest::prelude::*;

/// A random venue: reviewers `r0..` with e-mails `R{i}@x.org` (upper case, to test case), papers
/// whose authors are drawn from the reviewers' ids and e-mails and outsiders, and past papers
/// with co-authors drawn the same way and years 2010–2025 (some missing).
fn venue() -> impl Strategy<Value = Venue> {
    (2usize..6, 1usize..6)
        .prop_flat_map(|(nr, np)| {
            let person = prop_oneof![
                (0..nr).prop_map(|i| format!("r{i}")),
                (0..nr).prop_map(|i| format!("R{i}@X.org")),
                (0..3usize).prop_map(|i| format!("out{i}@y.org")),
            ];
            let pubs = proptest::collection::vec(
                proptest::collection::vec(
                    (
                        proptest::collection::vec(person.clone(), 0..3),
                        proptest::option::of(2010i32..2026),
                    ),
                    0..4,
                ),
                nr,
            );
            let papers = proptest::collection::vec(proptest::collection::vec(person, 1..3), np);
            (Just(nr), papers, pubs)
        })
        .prop_map(|(nr, papers, pubs)| Venue {
            papers: papers
                .into_iter()
                .enumerate()
                .map(|(p, authors)| Paper {
                    id: format!("p{p}"),
                    authors,
                    ..Paper::default()
                })
                .collect(),
            reviewers: (0..nr)
                .map(|i| Reviewer {
                    id: format!("r{i}"),
                    email: format!("r{i}@x.org"),
                    ..Reviewer::default()
                })
                .collect(),
            reviewer_papers: pubs
                .into_iter()
                .map(|list| {
                    list.into_iter()
                        .enumerate()
                        .map(|(k, (authors, year))| Publication {
                            title: format!("t{k}"),
                            authors,
                            year,
                            ..Publication::default()
                        })
                        .collect()
                })
                .collect(),
            has_profiles: true,
            ..Venue::default()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn coauthor_conflicts_equal_a_brute_force(v in venue(), since in prop::option::of(2010i32..2026)) {
        let rule = since.map_or(Coauthors::AnyYear, Coauthors::Since);
        let opts = ConflictOptions {
            institution_rule: false,
            domain_rule: false,
            coauthors: Some(rule),
            ..ConflictOptions::default()
        };
        let c = find_conflicts(&v, &opts);
        let ids = |r: usize| [format!("r{r}"), format!("r{r}@x.org")];
        for p in 0..v.papers.len() {
            for r in 0..v.reviewers.len() {
                let mut expected = false;
                for (o, list) in v.reviewer_papers.iter().enumerate() {
                    for past in list {
                        if since.is_some_and(|y| past.year.is_none_or(|x| x < y)) {
                            continue;
                        }
                        let mut people: Vec<String> =
                            past.authors.iter().map(|a| a.to_lowercase()).collect();
                        people.extend(ids(o));
                        let on = |id: &String| people.contains(id);
                        if !ids(r).iter().any(on) {
                            continue;
                        }
                        expected |= v.papers[p].authors.iter().any(|a| {
                            let a = a.to_lowercase();
                            !ids(r).contains(&a) && people.contains(&a)
                        });
                    }
                }
                let got = c
                    .reasons(p, r)
                    .is_some_and(|why| why.contains(Reasons::COAUTHOR));
                prop_assert_eq!(got, expected, "paper {} reviewer {}", p, r);
                if got {
                    let why = c.describe(&v, PaperIdx(p as u32), ReviewerIdx(r as u32));
                    prop_assert!(why.contains("co-author: t"), "{}", why);
                }
            }
        }
    }
}

/// Through the command line: `--coauthor-since` adds the conflicts, `papermatch conflicts` lists
/// each with its past paper, and a year that is not one is a usage error.
#[test]
fn cli_lists_coauthor_conflicts_with_their_paper() {
    let dir = tempfile::tempdir().unwrap();
    let w = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    w(
        "papers.csv",
        "paper_id,keywords,authors\np1,a,alice@uni.org\np2,a,r2\n",
    );
    w(
        "reviewers.csv",
        "reviewer_id,email,keywords\nr1,bob@lab.org,a\nr2,carol@else.org,a\nr3,dan@other.org,a\n",
    );
    w(
        "reviewer_papers.csv",
        "reviewer_id,title,authors,year\nr1,Old work,Alice@Uni.org,2015\nr1,New work,alice@uni.org;r3,2023\n",
    );
    let bin = env!("CARGO_BIN_EXE_papermatch");
    let venue = dir.path().to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["conflicts", venue, "--no-domain-conflicts"];
        args.extend(extra);
        std::process::Command::new(bin)
            .args(&args)
            .output()
            .unwrap()
    };
    let o = run(&["--coauthor-since", "2020"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "paper_id,reviewer_id,reason\np1,r1,co-author: New work (2023)\np1,r3,co-author: New work (2023)\np2,r2,author\n"
    );
    // Every year: the 2015 paper counts too; the most recent is named.
    let o = run(&["--coauthor-since"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("p1,r1,co-author: New work (2023)"));
    let o = run(&["--coauthor-since", "2024"]);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("co-author"));
    let o = run(&["--coauthor-since", "last"]);
    assert_eq!(o.status.code(), Some(2));
}
