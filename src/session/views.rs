//! What the workbench shows, computed from a [`Session`] without changing it: the paper search,
//! one paper with its reviewers, alternates and conflicts, and one reviewer with their papers,
//! bids and best unassigned papers.
//!
//! **Why a reviewer matches** ([`Why`]): the keywords the paper and the reviewer share (after
//! [`normalize_keyword`]), and, when the venue has the reviewers' own papers, those most similar
//! to the submission: the cosine of their sets of stemmed terms ([`text::tokens`]) with the
//! submission's title and abstract, with the terms they share. This explains a match in words
//! whichever model scored it (keywords, text, neural or a scores file).
//!
//! **Alternates** of a paper are its best eligible reviewers not assigned to it
//! ([`alternates_of`]), each with `delta_total`: the change in total affinity if they replaced
//! the paper's weakest reviewer that the chair has not locked (or, when the paper lacks
//! reviewers, their own score: they would be added). `spare_load` is `max_load − load`; at 0 the
//! reviewer is full and taking them would put them over their load.

use std::collections::BTreeMap;

use rustc_hash::FxHashSet;
use serde::Serialize;

use super::{Decision, Session};
use crate::affinity::{normalize_keyword, text};
use crate::model::{BidLevel, PaperIdx, ReviewerIdx, units_to_score};
use crate::report::alternates_of;

/// Alternates listed per paper, and best unassigned papers per reviewer.
pub const ALTERNATES: usize = 10;

/// How the paper list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PaperSort {
    /// File order.
    #[default]
    Id,
    /// Lowest total affinity first.
    Total,
    /// Highest total affinity first.
    TotalDesc,
    /// Lowest-scoring reviewer first.
    Weakest,
    /// Most violations first.
    Violations,
}

/// One row of the paper list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PaperRow {
    /// The paper's id.
    pub paper_id: String,
    /// Its title.
    pub title: String,
    /// Total affinity of its reviewers.
    pub total: f64,
    /// Its weakest reviewer's score (`None` without reviewers).
    pub weakest: Option<f64>,
    /// Violations naming the paper (coverage, conflicts, rules, missing locks).
    pub violations: usize,
    /// Its reviewers' ids.
    pub reviewers: Vec<String>,
}

/// A page of the paper list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PaperPage {
    /// Papers matching the query, in all.
    pub matches: usize,
    /// The rows of this page.
    pub rows: Vec<PaperRow>,
}

/// Why a reviewer matches a paper.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Why {
    /// Keywords both have, as the paper writes them.
    pub shared_keywords: Vec<String>,
    /// The reviewer's own papers most similar to the submission.
    pub similar_papers: Vec<SimilarPaper>,
}

/// One of a reviewer's past papers, as a reason for a match.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimilarPaper {
    /// Its title.
    pub title: String,
    /// Its year, when known.
    pub year: Option<i32>,
    /// Cosine of the two sets of stemmed terms.
    pub similarity: f64,
    /// Terms both use, as the submission writes them.
    pub shared_terms: Vec<String>,
}

/// A reviewer of a paper.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewerEntry {
    /// The reviewer's id.
    pub reviewer_id: String,
    /// Their name.
    pub name: String,
    /// Their institution.
    pub institution: String,
    /// The pair's affinity.
    pub score: f64,
    /// The reviewer's bid on the paper, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bid: Option<&'static str>,
    /// The chair's decision on the pair, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// Their load and bounds.
    pub load: u32,
    /// Their minimum load.
    pub min_load: u32,
    /// Their maximum load.
    pub max_load: u32,
    /// The attributes rules may use (extra columns of reviewers.csv).
    pub attributes: BTreeMap<String, String>,
    /// Why they match.
    pub why: Why,
}

/// An eligible reviewer not assigned to a paper.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlternateEntry {
    /// The reviewer's id.
    pub reviewer_id: String,
    /// Their name.
    pub name: String,
    /// The pair's affinity.
    pub score: f64,
    /// Change in total affinity if they replaced the weakest unlocked reviewer (see the module
    /// doc).
    pub delta_total: f64,
    /// The reviewer they would replace, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
    /// Papers they could still take; 0 means full.
    pub spare_load: u32,
    /// Their bid on the paper, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bid: Option<&'static str>,
    /// Why they match.
    pub why: Why,
}

/// A reviewer who may not review a paper, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConflictEntry {
    /// The reviewer's id.
    pub reviewer_id: String,
    /// The reasons, in words.
    pub reason: String,
}

/// One paper as the workbench shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PaperView {
    /// The paper's id.
    pub paper_id: String,
    /// Its title.
    pub title: String,
    /// Its keywords.
    pub keywords: Vec<String>,
    /// Its authors.
    pub authors: Vec<String>,
    /// Reviewers it needs.
    pub demand: u32,
    /// Total affinity of its reviewers.
    pub total: f64,
    /// Its reviewers, best first.
    pub reviewers: Vec<ReviewerEntry>,
    /// Its best eligible unassigned reviewers.
    pub alternates: Vec<AlternateEntry>,
    /// Its conflicts of interest (the chair's bans included).
    pub conflicts: Vec<ConflictEntry>,
    /// Violations naming this paper.
    pub violations: Vec<String>,
}

/// A paper of a reviewer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewerPaper {
    /// The paper's id.
    pub paper_id: String,
    /// Its title.
    pub title: String,
    /// The pair's affinity.
    pub score: f64,
    /// The reviewer's bid on it, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bid: Option<&'static str>,
    /// The chair's decision on the pair, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// Whether the reviewer reviews it now.
    pub assigned: bool,
}

/// One reviewer as the workbench shows them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewerView {
    /// The reviewer's id.
    pub reviewer_id: String,
    /// Their name.
    pub name: String,
    /// Their e-mail.
    pub email: String,
    /// Their institution.
    pub institution: String,
    /// Their keywords.
    pub keywords: Vec<String>,
    /// The attributes rules may use.
    pub attributes: BTreeMap<String, String>,
    /// Papers assigned now.
    pub load: u32,
    /// Their minimum load.
    pub min_load: u32,
    /// Their maximum load.
    pub max_load: u32,
    /// Their papers, best first.
    pub papers: Vec<ReviewerPaper>,
    /// Their bids, highest first.
    pub bids: Vec<ReviewerPaper>,
    /// Their best eligible papers not assigned to them.
    pub best_unassigned: Vec<ReviewerPaper>,
}

impl Session {
    /// The reviewer's bid on a paper, if any.
    pub fn bid(&self, p: PaperIdx, r: ReviewerIdx) -> Option<BidLevel> {
        self.bids.get(&(p.0, r.0)).copied()
    }

    /// Papers whose id, title, keywords or authors contain `q` (without case; every word of `q`
    /// must match), ordered by `sort`, from `offset`, at most `limit`.
    pub fn search_papers(
        &self,
        q: &str,
        sort: PaperSort,
        offset: usize,
        limit: usize,
    ) -> PaperPage {
        let words: Vec<String> = q.split_whitespace().map(str::to_lowercase).collect();
        let mut hits: Vec<usize> = (0..self.search_text.len())
            .filter(|&p| {
                words
                    .iter()
                    .all(|w| self.search_text[p].contains(w.as_str()))
            })
            .collect();
        let violations = self.violations_per_paper();
        let weakest = |p: usize| -> i64 {
            self.assignment.reviewers[p]
                .iter()
                .map(|&r| self.instance.affinity.get(p, r.ix()) as i64)
                .min()
                .unwrap_or(i64::MIN)
        };
        match sort {
            PaperSort::Id => {}
            PaperSort::Total => hits.sort_by_key(|&p| (self.totals[p], p)),
            PaperSort::TotalDesc => hits.sort_by_key(|&p| (std::cmp::Reverse(self.totals[p]), p)),
            PaperSort::Weakest => hits.sort_by_key(|&p| (weakest(p), p)),
            PaperSort::Violations => hits.sort_by_key(|&p| {
                (
                    std::cmp::Reverse(violations.get(&(p as u32)).copied().unwrap_or(0)),
                    p,
                )
            }),
        }
        let matches = hits.len();
        let rows = hits
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|p| {
                let paper = &self.instance.venue.papers[p];
                let rs = &self.assignment.reviewers[p];
                PaperRow {
                    paper_id: paper.id.clone(),
                    title: paper.title.clone(),
                    total: units_to_score(self.totals[p]),
                    weakest: (!rs.is_empty()).then(|| units_to_score(weakest(p))),
                    violations: violations.get(&(p as u32)).copied().unwrap_or(0),
                    reviewers: rs
                        .iter()
                        .map(|r| self.instance.venue.reviewers[r.ix()].id.clone())
                        .collect(),
                }
            })
            .collect();
        PaperPage { matches, rows }
    }

    /// How many violations name each paper (coverage, conflicts, rules, missing locks).
    fn violations_per_paper(&self) -> BTreeMap<u32, usize> {
        let mut out: BTreeMap<u32, usize> = BTreeMap::new();
        let papers = self.checks.papers.iter().copied();
        let conflicts = self.checks.conflicted.iter().map(|&(p, _)| p);
        let rules = self.checks.rules.keys().map(|&(_, p)| p);
        let locks = self
            .decisions
            .iter()
            .filter(|&(&(p, r), d)| *d == Decision::Lock && !self.has(p, r))
            .map(|(&(p, _), _)| p.0);
        for p in papers.chain(conflicts).chain(rules).chain(locks) {
            *out.entry(p).or_default() += 1;
        }
        out
    }

    /// Why reviewer `r` matches paper `p`; see the module doc.
    pub fn why(&self, p: PaperIdx, r: ReviewerIdx) -> Why {
        let venue = &self.instance.venue;
        let (paper, rev) = (&venue.papers[p.ix()], &venue.reviewers[r.ix()]);
        let theirs: FxHashSet<String> = rev.keywords.iter().map(|k| normalize_keyword(k)).collect();
        let shared_keywords = paper
            .keywords
            .iter()
            .filter(|k| theirs.contains(&normalize_keyword(k)))
            .cloned()
            .collect();
        let pubs = venue
            .reviewer_papers
            .get(r.ix())
            .map_or(&[][..], Vec::as_slice);
        let mut similar_papers = Vec::new();
        if !pubs.is_empty() {
            let text = format!("{} {}", paper.title, paper.abstract_text);
            let (stems, words) = (text::tokens(&text, true), text::tokens(&text, false));
            let mut word_of: BTreeMap<&str, &str> = BTreeMap::new();
            if stems.len() == words.len() {
                for (s, w) in stems.iter().zip(&words) {
                    word_of.entry(s).or_insert(w);
                }
            }
            let mine: FxHashSet<&str> = stems.iter().map(String::as_str).collect();
            for pubn in pubs {
                let theirs = text::tokens(&format!("{} {}", pubn.title, pubn.abstract_text), true);
                let theirs: FxHashSet<&str> = theirs.iter().map(String::as_str).collect();
                let mut shared: Vec<&str> = stems
                    .iter()
                    .map(String::as_str)
                    .filter(|s| theirs.contains(s))
                    .collect();
                let mut seen = FxHashSet::default();
                shared.retain(|s| seen.insert(*s));
                if shared.is_empty() {
                    continue;
                }
                let similarity =
                    shared.len() as f64 / ((mine.len() * theirs.len()) as f64).sqrt().max(1.0);
                similar_papers.push(SimilarPaper {
                    title: pubn.title.clone(),
                    year: pubn.year,
                    similarity,
                    shared_terms: shared
                        .iter()
                        .take(8)
                        .map(|s| word_of.get(s).copied().unwrap_or(s).to_string())
                        .collect(),
                });
            }
            similar_papers.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
            similar_papers.truncate(3);
        }
        Why {
            shared_keywords,
            similar_papers,
        }
    }

    /// One paper: its reviewers, alternates, conflicts and violations.
    pub fn paper_view(&self, p: PaperIdx) -> PaperView {
        let venue = &self.instance.venue;
        let paper = &venue.papers[p.ix()];
        let score = |r: ReviewerIdx| self.instance.affinity.get(p.ix(), r.ix()) as i64;
        let mut reviewers: Vec<ReviewerEntry> = self.assignment.reviewers[p.ix()]
            .iter()
            .map(|&r| {
                let rev = &venue.reviewers[r.ix()];
                ReviewerEntry {
                    reviewer_id: rev.id.clone(),
                    name: rev.name.clone(),
                    institution: rev.institution.clone(),
                    score: units_to_score(score(r)),
                    bid: self.bid(p, r).map(BidLevel::label),
                    decision: self.decisions.get(&(p, r)).copied(),
                    load: self.loads[r.ix()],
                    min_load: rev.min_load,
                    max_load: rev.max_load,
                    attributes: rev.attributes.clone(),
                    why: self.why(p, r),
                }
            })
            .collect();
        reviewers.sort_by(|a, b| b.score.total_cmp(&a.score));
        // The weakest reviewer the chair has not locked: the one an alternate would replace.
        let replaced = (self.assignment.reviewers[p.ix()].len() as u32 >= paper.demand)
            .then(|| {
                self.assignment.reviewers[p.ix()]
                    .iter()
                    .copied()
                    .filter(|&r| self.decisions.get(&(p, r)) != Some(&Decision::Lock))
                    .min_by_key(|&r| (score(r), r))
            })
            .flatten();
        let pb = self.problem();
        let alternates = alternates_of(&pb, &self.assignment, &self.loads, p.ix(), ALTERNATES)
            .into_iter()
            .map(|alt| {
                let rev = &venue.reviewers[alt.reviewer.ix()];
                AlternateEntry {
                    reviewer_id: rev.id.clone(),
                    name: rev.name.clone(),
                    score: units_to_score(alt.score),
                    delta_total: units_to_score(alt.score - replaced.map_or(0, score)),
                    replaces: replaced.map(|r| venue.reviewers[r.ix()].id.clone()),
                    spare_load: alt.spare,
                    bid: self.bid(p, alt.reviewer).map(BidLevel::label),
                    why: self.why(p, alt.reviewer),
                }
            })
            .collect();
        let conflicts = self
            .conflicts()
            .of_paper(p.ix())
            .iter()
            .map(|&r| ConflictEntry {
                reviewer_id: venue.reviewers[r as usize].id.clone(),
                reason: self.conflicts().describe(venue, p, ReviewerIdx(r)),
            })
            .collect();
        let needle = format!("paper {} ", paper.id);
        PaperView {
            paper_id: paper.id.clone(),
            title: paper.title.clone(),
            keywords: paper.keywords.clone(),
            authors: paper.authors.clone(),
            demand: paper.demand,
            total: units_to_score(self.totals[p.ix()]),
            reviewers,
            alternates,
            conflicts,
            violations: self
                .violations()
                .into_iter()
                .filter(|v| v.starts_with(&needle))
                .collect(),
        }
    }

    /// One reviewer: their papers, load, bids and best unassigned papers.
    pub fn reviewer_view(&self, r: ReviewerIdx) -> ReviewerView {
        let venue = &self.instance.venue;
        let rev = &venue.reviewers[r.ix()];
        let entry = |p: PaperIdx| {
            let paper = &venue.papers[p.ix()];
            ReviewerPaper {
                paper_id: paper.id.clone(),
                title: paper.title.clone(),
                score: units_to_score(self.instance.affinity.get(p.ix(), r.ix()) as i64),
                bid: self.bid(p, r).map(BidLevel::label),
                decision: self.decisions.get(&(p, r)).copied(),
                assigned: self.has(p, r),
            }
        };
        let by_score = |a: &ReviewerPaper, b: &ReviewerPaper| b.score.total_cmp(&a.score);
        let mut papers: Vec<ReviewerPaper> = self
            .assignment
            .reviewers
            .iter()
            .enumerate()
            .filter(|(_, rs)| rs.binary_search(&r).is_ok())
            .map(|(p, _)| entry(PaperIdx(p as u32)))
            .collect();
        papers.sort_by(by_score);
        let mut bids: Vec<(BidLevel, PaperIdx)> = self
            .bids_of
            .get(r.ix())
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .map(|&p| {
                (
                    self.bid(PaperIdx(p), r).unwrap_or(BidLevel::Neutral),
                    PaperIdx(p),
                )
            })
            .collect();
        bids.sort_by_key(|&(level, p)| (level, p));
        let conflicts = self.conflicts();
        let mut best: Vec<(i64, PaperIdx)> = (0..venue.n_papers())
            .map(|p| PaperIdx(p as u32))
            .filter(|&p| !self.has(p, r) && !conflicts.contains(p.ix(), r.ix()))
            .map(|p| (self.instance.affinity.get(p.ix(), r.ix()) as i64, p))
            .collect();
        let key = |&(w, p): &(i64, PaperIdx)| (std::cmp::Reverse(w), p);
        if best.len() > ALTERNATES {
            best.select_nth_unstable_by_key(ALTERNATES - 1, key);
            best.truncate(ALTERNATES);
        }
        best.sort_unstable_by_key(key);
        ReviewerView {
            reviewer_id: rev.id.clone(),
            name: rev.name.clone(),
            email: rev.email.clone(),
            institution: rev.institution.clone(),
            keywords: rev.keywords.clone(),
            attributes: rev.attributes.clone(),
            load: self.loads[r.ix()],
            min_load: rev.min_load,
            max_load: rev.max_load,
            papers,
            bids: bids.into_iter().map(|(_, p)| entry(p)).collect(),
            best_unassigned: best.into_iter().map(|(_, p)| entry(p)).collect(),
        }
    }
}
