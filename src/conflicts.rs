//! Conflicts of interest: which paper–reviewer pairs may never be assigned, and why.
//!
//! A pair conflicts when any of these holds:
//!
//! - **declared**: it is listed in `conflicts.csv`;
//! - **author**: the reviewer is among the paper's authors (an author entry equal to the reviewer's
//!   id, or to their e-mail, ignoring case);
//! - **institution**: the reviewer's institution equals an author's institution (from the paper's
//!   `institutions` column, or the institution of an author who is also a reviewer), compared
//!   after [`normalize_keyword`];
//! - **e-mail domain**: the reviewer's e-mail domain equals an author's (from author e-mails and
//!   authors who are reviewers). Domains are compared by organisation: the last two labels, or
//!   three when the second-level label is generic (`ox.ac.uk`, `unsw.edu.au`), so
//!   `cs.stanford.edu` matches `stanford.edu`. Webmail domains ([`WEBMAIL`]) never conflict.
//!
//! The institution and domain rules can each be turned off. This module only finds conflicts; the
//! solvers treat a conflicting pair as ineligible.

use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::affinity::normalize_keyword;
use crate::model::{PaperIdx, ReviewerIdx, Venue};

/// E-mail domains shared by unrelated people, exempt from the domain rule.
pub const WEBMAIL: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "yahoo.com",
    "yahoo.co.uk",
    "icloud.com",
    "me.com",
    "mac.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "gmx.de",
    "gmx.net",
    "web.de",
    "mail.ru",
    "yandex.ru",
    "qq.com",
    "163.com",
    "126.com",
    "foxmail.com",
    "naver.com",
    "zoho.com",
    "fastmail.com",
    "hey.com",
];

/// Which rules find conflicts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictOptions {
    /// Same institution as an author.
    pub institution_rule: bool,
    /// Same e-mail domain as an author.
    pub domain_rule: bool,
    /// Forbid pairs whose bid is this level or lower (`--forbid-bid "very low"`).
    pub forbid_bid: Option<crate::model::BidLevel>,
    /// Co-authorship: a reviewer who appears on a past paper (from `reviewer_papers.csv` or
    /// OpenReview archives) with an author of the submission conflicts with it.
    pub coauthors: Option<Coauthors>,
}

/// Which past papers make co-authors conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coauthors {
    /// Every past paper, whatever its year (or without one).
    AnyYear,
    /// Past papers of this year or later (papers without a year do not count).
    Since(i32),
}

impl Coauthors {
    fn counts(self, year: Option<i32>) -> bool {
        match self {
            Coauthors::AnyYear => true,
            Coauthors::Since(y) => year.is_some_and(|x| x >= y),
        }
    }
}

impl std::fmt::Display for Coauthors {
    /// `every year`, or `since 2021`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Coauthors::AnyYear => f.write_str("every year"),
            Coauthors::Since(y) => write!(f, "since {y}"),
        }
    }
}

impl Default for ConflictOptions {
    fn default() -> ConflictOptions {
        ConflictOptions {
            institution_rule: true,
            domain_rule: true,
            forbid_bid: None,
            coauthors: None,
        }
    }
}

/// Why a pair conflicts: a set of reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Reasons(u8);

impl Reasons {
    /// Listed in `conflicts.csv`.
    pub const DECLARED: Reasons = Reasons(1);
    /// The reviewer is an author.
    pub const AUTHOR: Reasons = Reasons(2);
    /// Same institution as an author.
    pub const INSTITUTION: Reasons = Reasons(4);
    /// Same e-mail domain as an author.
    pub const DOMAIN: Reasons = Reasons(8);
    /// A locked pair, fixed before solving (used inside the solver, never reported).
    pub const LOCKED: Reasons = Reasons(16);
    /// The reviewer's bid is at or below the forbidden level.
    pub const BID: Reasons = Reasons(32);
    /// The reviewer wrote a past paper with an author of the submission.
    pub const COAUTHOR: Reasons = Reasons(64);
    /// Taken out to break a review cycle (used inside the solver, never reported).
    pub const CYCLE: Reasons = Reasons(128);

    /// Every reason with its name, in the order they are listed.
    pub const NAMES: [(Reasons, &'static str); 8] = [
        (Reasons::DECLARED, "declared"),
        (Reasons::AUTHOR, "author"),
        (Reasons::INSTITUTION, "same institution"),
        (Reasons::DOMAIN, "same e-mail domain"),
        (Reasons::LOCKED, "locked"),
        (Reasons::BID, "bid"),
        (Reasons::COAUTHOR, "co-author"),
        (Reasons::CYCLE, "review cycle"),
    ];

    /// Whether all of `other`'s reasons are in `self`.
    pub fn contains(self, other: Reasons) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::fmt::Display for Reasons {
    /// The reasons in words, e.g. `author, same institution`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let words: Vec<&str> = Reasons::NAMES
            .iter()
            .filter(|(r, _)| self.contains(*r))
            .map(|&(_, n)| n)
            .collect();
        f.write_str(&words.join(", "))
    }
}

impl std::ops::BitOr for Reasons {
    type Output = Reasons;
    fn bitor(self, o: Reasons) -> Reasons {
        Reasons(self.0 | o.0)
    }
}

/// No declared reason for a pair (see `Conflicts::declared_at`).
const NO_TEXT: u32 = u32::MAX;

/// The conflicting pairs of a venue, by paper, each with its reasons.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conflicts {
    indptr: Vec<usize>,
    reviewers: Vec<u32>,
    reasons: Vec<Reasons>,
    /// The distinct reasons given in conflicts.csv (most files use one or two).
    declared_text: Vec<String>,
    /// Per conflicting pair (as in `reviewers`), its declared reason in `declared_text`, or
    /// [`NO_TEXT`]; empty when nothing was declared with a reason.
    declared_at: Vec<u32>,
    /// For co-author conflicts: the past paper that shows it (title, year).
    coauthored: FxHashMap<(u32, u32), (String, Option<i32>)>,
}

impl Conflicts {
    /// No conflicts among `n_papers` papers.
    pub fn none(n_papers: usize) -> Conflicts {
        Conflicts {
            indptr: vec![0; n_papers + 1],
            ..Default::default()
        }
    }

    /// Builds the set from `(paper, reviewer, reasons)` triples (any order, repeats merged).
    pub fn from_pairs(n_papers: usize, mut pairs: Vec<(u32, u32, Reasons)>) -> Conflicts {
        pairs.par_sort_unstable_by_key(|&(p, r, _)| (p, r));
        let mut c = Conflicts::none(n_papers);
        c.reviewers.reserve(pairs.len());
        let mut counts = vec![0usize; n_papers];
        for (p, r, why) in pairs {
            if counts[p as usize] > 0 && c.reviewers.last() == Some(&r) {
                let last = c.reasons.last_mut().unwrap();
                *last = *last | why;
                continue;
            }
            counts[p as usize] += 1;
            c.reviewers.push(r);
            c.reasons.push(why);
        }
        for (p, &n) in counts.iter().enumerate() {
            c.indptr[p + 1] = c.indptr[p] + n;
        }
        c
    }

    /// These conflicts with `pairs` added as declared conflicts whose reason is `reason` (a pair
    /// already in conflict gains the declared reason, keeping a text it already had).
    ///
    /// ```
    /// use papermatch::conflicts::Conflicts;
    /// use papermatch::model::{PaperIdx, ReviewerIdx};
    /// let c = Conflicts::none(2).with_declared(&[(PaperIdx(1), ReviewerIdx(4))], "banned");
    /// assert!(c.contains(1, 4) && !c.contains(0, 4));
    /// ```
    pub fn with_declared(&self, pairs: &[(PaperIdx, ReviewerIdx)], reason: &str) -> Conflicts {
        let np = self.indptr.len() - 1;
        let mut extra: Vec<(u32, u32)> = pairs.iter().map(|&(p, r)| (p.0, r.0)).collect();
        extra.sort_unstable();
        extra.dedup();
        let mut out = Conflicts {
            indptr: vec![0; np + 1],
            declared_text: self.declared_text.clone(),
            coauthored: self.coauthored.clone(),
            ..Conflicts::default()
        };
        let n = self.reviewers.len() + extra.len();
        out.reviewers.reserve(n);
        out.reasons.reserve(n);
        out.declared_at.reserve(n);
        let text = out.declared_text.len() as u32;
        out.declared_text.push(reason.to_string());
        let old_text = |i: usize| self.declared_at.get(i).copied().unwrap_or(NO_TEXT);
        let mut k = 0;
        for p in 0..np {
            let (mut i, end) = (self.indptr[p], self.indptr[p + 1]);
            loop {
                let old = (i < end).then(|| self.reviewers[i]);
                let new = extra.get(k).filter(|e| e.0 == p as u32).map(|e| e.1);
                let (r, why, at) = match (old, new) {
                    (None, None) => break,
                    (Some(o), Some(n)) if o == n => {
                        let at = match old_text(i) {
                            NO_TEXT => text,
                            t => t,
                        };
                        i += 1;
                        k += 1;
                        (o, self.reasons[i - 1] | Reasons::DECLARED, at)
                    }
                    (None, Some(n)) => {
                        k += 1;
                        (n, Reasons::DECLARED, text)
                    }
                    (Some(o), Some(n)) if n < o => {
                        k += 1;
                        (n, Reasons::DECLARED, text)
                    }
                    (Some(o), _) => {
                        i += 1;
                        (o, self.reasons[i - 1], old_text(i - 1))
                    }
                };
                out.reviewers.push(r);
                out.reasons.push(why);
                out.declared_at.push(at);
            }
            out.indptr[p + 1] = out.reviewers.len();
        }
        out
    }

    /// The reviewers conflicting with paper `p`, in increasing order.
    pub fn of_paper(&self, p: usize) -> &[u32] {
        &self.reviewers[self.indptr[p]..self.indptr[p + 1]]
    }

    /// Whether paper `p` and reviewer `r` conflict.
    pub fn contains(&self, p: usize, r: usize) -> bool {
        self.of_paper(p).binary_search(&(r as u32)).is_ok()
    }

    /// The reasons of a pair, if it conflicts.
    pub fn reasons(&self, p: usize, r: usize) -> Option<Reasons> {
        let a = self.indptr[p];
        self.of_paper(p)
            .binary_search(&(r as u32))
            .ok()
            .map(|i| self.reasons[a + i])
    }

    /// The reason conflicts.csv gives for a pair, if it gives one.
    fn declared_text(&self, p: usize, r: usize) -> Option<&str> {
        let i = self.of_paper(p).binary_search(&(r as u32)).ok()?;
        let k = *self.declared_at.get(self.indptr[p] + i)?;
        self.declared_text.get(k as usize).map(String::as_str)
    }

    /// Number of conflicting pairs.
    pub fn len(&self) -> usize {
        self.reviewers.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.reviewers.is_empty()
    }

    /// Every conflicting pair with its reasons, by paper then reviewer index.
    pub fn iter(&self) -> impl Iterator<Item = (PaperIdx, ReviewerIdx, Reasons)> + '_ {
        (0..self.indptr.len() - 1).flat_map(move |p| {
            (self.indptr[p]..self.indptr[p + 1]).map(move |i| {
                (
                    PaperIdx(p as u32),
                    ReviewerIdx(self.reviewers[i]),
                    self.reasons[i],
                )
            })
        })
    }

    /// A readable reason for a pair, e.g. `author; same e-mail domain (mit.edu)`.
    pub fn describe(&self, venue: &Venue, p: PaperIdx, r: ReviewerIdx) -> String {
        let Some(why) = self.reasons(p.ix(), r.ix()) else {
            return String::new();
        };
        let mut parts = Vec::new();
        if why.contains(Reasons::DECLARED) {
            match self.declared_text(p.ix(), r.ix()) {
                Some(text) => parts.push(format!("declared: {text}")),
                None => parts.push("declared".to_string()),
            }
        }
        if why.contains(Reasons::AUTHOR) {
            parts.push("author".to_string());
        }
        let rev = &venue.reviewers[r.ix()];
        if why.contains(Reasons::INSTITUTION) {
            parts.push(format!("same institution ({})", rev.institution.trim()));
        }
        if why.contains(Reasons::BID) {
            let level = venue
                .bids
                .iter()
                .find(|b| b.paper == p && b.reviewer == r)
                .map_or("", |b| b.level.label());
            parts.push(format!("bid: {level}"));
        }
        if why.contains(Reasons::DOMAIN) {
            let d = email_domain(&rev.email).map(org_domain).unwrap_or_default();
            parts.push(format!("same e-mail domain ({d})"));
        }
        if why.contains(Reasons::COAUTHOR) {
            match self.coauthored.get(&(p.0, r.0)) {
                Some((title, Some(year))) => parts.push(format!("co-author: {title} ({year})")),
                Some((title, None)) => parts.push(format!("co-author: {title}")),
                None => parts.push("co-author".into()),
            }
        }
        parts.join("; ")
    }

    /// How many pairs have each reason (a pair with two reasons counts for both), by name.
    pub fn count_by_reason(&self) -> std::collections::BTreeMap<&'static str, usize> {
        let mut out = std::collections::BTreeMap::new();
        for &why in &self.reasons {
            for (r, name) in Reasons::NAMES {
                if why.contains(r) {
                    *out.entry(name).or_default() += 1;
                }
            }
        }
        out
    }
}

/// The domain of an e-mail address, lower-cased, if it has one.
pub fn email_domain(email: &str) -> Option<String> {
    let (_, d) = email.trim().rsplit_once('@')?;
    let d = d.trim().trim_end_matches('.').to_lowercase();
    (!d.is_empty()).then_some(d)
}

/// The organisation part of a domain: last two labels, or three under a generic second level.
///
/// ```
/// use papermatch::conflicts::org_domain;
/// assert_eq!(org_domain("cs.stanford.edu".into()), "stanford.edu");
/// assert_eq!(org_domain("eng.ox.ac.uk".into()), "ox.ac.uk");
/// ```
pub fn org_domain(d: String) -> String {
    let labels: Vec<&str> = d.split('.').collect();
    let n = labels.len();
    if n <= 2 {
        return d;
    }
    let generic = ["ac", "co", "com", "edu", "gov", "org", "net", "res"];
    let keep = if labels[n - 1].len() == 2 && generic.contains(&labels[n - 2]) {
        3
    } else {
        2
    };
    labels[n.saturating_sub(keep)..].join(".")
}

/// Finds every conflict of a venue.
pub fn find_conflicts(venue: &Venue, opts: &ConflictOptions) -> Conflicts {
    let n_papers = venue.papers.len();
    let mut by_id: FxHashMap<String, u32> = FxHashMap::default();
    let mut by_inst: FxHashMap<String, Vec<u32>> = FxHashMap::default();
    let mut by_domain: FxHashMap<String, Vec<u32>> = FxHashMap::default();
    let webmail: FxHashSet<&str> = WEBMAIL.iter().copied().collect();
    for (i, r) in venue.reviewers.iter().enumerate() {
        let i = i as u32;
        by_id.insert(r.id.clone(), i);
        if !r.email.trim().is_empty() {
            by_id.entry(r.email.trim().to_lowercase()).or_insert(i);
        }
        let inst = normalize_keyword(&r.institution);
        if !inst.is_empty() {
            by_inst.entry(inst).or_default().push(i);
        }
        if let Some(d) = email_domain(&r.email).map(org_domain)
            && !webmail.contains(d.as_str())
        {
            by_domain.entry(d).or_default().push(i);
        }
    }
    let mut pairs: Vec<(u32, u32, Reasons)> = venue
        .declared_conflicts
        .iter()
        .map(|c| (c.paper.0, c.reviewer.0, Reasons::DECLARED))
        .collect();
    if let Some(level) = opts.forbid_bid {
        // Levels are ordered most eager first: "lower" bids compare greater.
        pairs.extend(
            venue
                .bids
                .iter()
                .filter(|b| b.level >= level)
                .map(|b| (b.paper.0, b.reviewer.0, Reasons::BID)),
        );
    }
    let found: Vec<Vec<(u32, u32, Reasons)>> = venue
        .papers
        .par_iter()
        .enumerate()
        .map(|(p, paper)| {
            let p = p as u32;
            let mut out = Vec::new();
            let mut insts: Vec<String> = paper
                .institutions
                .iter()
                .map(|s| normalize_keyword(s))
                .collect();
            let mut domains = Vec::new();
            for a in &paper.authors {
                let key = a.trim();
                let hit = by_id.get(key).or_else(|| by_id.get(&key.to_lowercase()));
                if let Some(&r) = hit {
                    out.push((p, r, Reasons::AUTHOR));
                    let rev = &venue.reviewers[r as usize];
                    insts.push(normalize_keyword(&rev.institution));
                    domains.extend(email_domain(&rev.email).map(org_domain));
                }
                domains.extend(email_domain(key).map(org_domain));
            }
            if opts.institution_rule {
                for i in insts.iter().filter(|i| !i.is_empty()) {
                    for &r in by_inst.get(i).map_or(&[][..], Vec::as_slice) {
                        out.push((p, r, Reasons::INSTITUTION));
                    }
                }
            }
            if opts.domain_rule {
                for d in &domains {
                    for &r in by_domain.get(d).map_or(&[][..], Vec::as_slice) {
                        out.push((p, r, Reasons::DOMAIN));
                    }
                }
            }
            out
        })
        .collect();
    pairs.extend(found.into_iter().flatten());
    let coauthored = opts
        .coauthors
        .map_or_else(Vec::new, |rule| coauthor_pairs(venue, rule));
    pairs.extend(
        coauthored
            .iter()
            .map(|&(p, r, _, _)| (p, r, Reasons::COAUTHOR)),
    );
    let mut c = Conflicts::from_pairs(n_papers, pairs);
    // Each declared reason's text once, and per pair its index (a later row of a pair wins).
    let mut texts: FxHashMap<&str, u32> = FxHashMap::default();
    for d in venue
        .declared_conflicts
        .iter()
        .filter(|d| !d.reason.is_empty())
    {
        let (p, r) = (d.paper.ix(), d.reviewer.0);
        let Ok(i) = c.of_paper(p).binary_search(&r) else {
            continue;
        };
        let k = *texts.entry(d.reason.as_str()).or_insert_with(|| {
            c.declared_text.push(d.reason.clone());
            (c.declared_text.len() - 1) as u32
        });
        if c.declared_at.is_empty() {
            c.declared_at = vec![NO_TEXT; c.reviewers.len()];
        }
        c.declared_at[c.indptr[p] + i] = k;
    }
    // The evidence of each co-author conflict: its most recent past paper.
    for (p, r, o, k) in coauthored {
        let paper = &venue.reviewer_papers[o as usize][k as usize];
        let slot = c.coauthored.entry((p, r));
        let better = |old: &(String, Option<i32>)| paper.year > old.1;
        match slot {
            std::collections::hash_map::Entry::Occupied(mut e) => {
                if better(e.get()) {
                    e.insert((paper.title.clone(), paper.year));
                }
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert((paper.title.clone(), paper.year));
            }
        }
    }
    c
}

/// Co-authorship: `(paper, reviewer, owner, k)` for every reviewer who appears, with an author of
/// the paper, on past paper `k` of reviewer `owner` that `rule` counts. Identifiers (reviewer
/// ids, e-mails, profile ids) are compared without case; a paper's own authors are not their
/// own co-authors (that is the author conflict).
fn coauthor_pairs(venue: &Venue, rule: Coauthors) -> Vec<(u32, u32, u32, u32)> {
    let key = |s: &str| s.trim().to_lowercase();
    let mut who: FxHashMap<String, u32> = FxHashMap::default();
    for (i, r) in venue.reviewers.iter().enumerate() {
        for k in [key(&r.id), key(&r.email)] {
            if !k.is_empty() {
                who.entry(k).or_insert(i as u32);
            }
        }
    }
    // Past papers that count: owner, index, and the reviewers on it; indexed by author.
    let mut pubs: Vec<(u32, u32, Vec<u32>)> = Vec::new();
    let mut by_author: FxHashMap<String, Vec<usize>> = FxHashMap::default();
    for (o, list) in venue.reviewer_papers.iter().enumerate() {
        let owner = &venue.reviewers[o];
        for (k, past) in list.iter().enumerate() {
            if !rule.counts(past.year) {
                continue;
            }
            let mut keys: Vec<String> = past.authors.iter().map(|a| key(a)).collect();
            keys.extend([key(&owner.id), key(&owner.email)]);
            keys.retain(|k| !k.is_empty());
            keys.sort_unstable();
            keys.dedup();
            let mut members: Vec<u32> = keys.iter().filter_map(|k| who.get(k).copied()).collect();
            members.push(o as u32);
            members.sort_unstable();
            members.dedup();
            let ix = pubs.len();
            pubs.push((o as u32, k as u32, members));
            for k in keys {
                by_author.entry(k).or_default().push(ix);
            }
        }
    }
    venue
        .papers
        .par_iter()
        .enumerate()
        .flat_map_iter(|(p, paper)| {
            let mut out = Vec::new();
            for a in &paper.authors {
                let a = key(a);
                let itself = who.get(&a).copied();
                for &ix in by_author.get(&a).map_or(&[][..], Vec::as_slice) {
                    let (o, k, ref members) = pubs[ix];
                    for &m in members.iter().filter(|&&m| Some(m) != itself) {
                        out.push((p as u32, m, o, k));
                    }
                }
            }
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DeclaredConflict, Paper, Reviewer};

    fn venue() -> Venue {
        let rev = |id: &str, email: &str, inst: &str| Reviewer {
            id: id.into(),
            email: email.into(),
            institution: inst.into(),
            ..Default::default()
        };
        Venue {
            papers: vec![
                Paper {
                    id: "p1".into(),
                    authors: vec!["Alice@CS.MIT.edu".into()],
                    ..Default::default()
                },
                Paper {
                    id: "p2".into(),
                    authors: vec!["r3".into()],
                    ..Default::default()
                },
                Paper {
                    id: "p3".into(),
                    authors: vec!["x@gmail.com".into()],
                    ..Default::default()
                },
            ],
            reviewers: vec![
                rev("r1", "alice@cs.mit.edu", "MIT"),
                rev("r2", "bob@mit.edu", "Harvard"),
                rev("r3", "carol@gmail.com", "ETH  Zürich"),
                rev("r4", "dan@gmail.com", "eth zürich"),
            ],
            declared_conflicts: vec![DeclaredConflict {
                paper: PaperIdx(2),
                reviewer: ReviewerIdx(0),
                reason: "advisor".into(),
            }],
            has_profiles: true,
            ..Default::default()
        }
    }

    #[test]
    fn finds_every_rule() {
        let v = venue();
        let c = find_conflicts(&v, &ConflictOptions::default());
        let d = |p: u32, r: u32| c.describe(&v, PaperIdx(p), ReviewerIdx(r));
        assert_eq!(
            d(0, 0),
            "author; same institution (MIT); same e-mail domain (mit.edu)"
        );
        assert_eq!(d(0, 1), "same e-mail domain (mit.edu)");
        assert_eq!(d(1, 2), "author; same institution (ETH  Zürich)");
        assert_eq!(d(1, 3), "same institution (eth zürich)");
        assert_eq!(d(2, 0), "declared: advisor");
        // gmail.com is webmail: p3's author shares it with r3 and r4 but that is no conflict.
        assert!(!c.contains(2, 2) && !c.contains(2, 3));
        assert_eq!(c.len(), 5);
    }

    #[test]
    fn rules_can_be_turned_off() {
        let v = venue();
        let c = find_conflicts(
            &v,
            &ConflictOptions {
                institution_rule: false,
                domain_rule: false,
                ..ConflictOptions::default()
            },
        );
        assert_eq!(c.len(), 3);
        assert!(c.contains(0, 0) && c.contains(1, 2) && c.contains(2, 0));
    }
}
