//! Measuring text affinity against expert judgements: the gold-standard reviewer-expertise
//! dataset (Stelmakh, Wieting, Xi, Neubig, Shah; TMLR 2025).
//!
//! Its `evaluations_*.tsv` lists, per participant, up to ten papers with the participant's
//! self-assessed expertise (1 to 5); each version of the venue is a folder in OpenReview's
//! expertise layout where the participant's archive is `~<ParticipantID>.jsonl`. The loss
//! ([`super::text::ranking_loss`]) counts how often the model orders two of a participant's
//! papers against their judgement.

use std::path::Path;

use super::text::{TextOptions, ranking_loss, text_affinity};
use crate::error::{Error, InputError, Result};
use crate::model::{AffinityMatrix, Venue};

/// One participant's ratings: reviewer id (`~<ParticipantID>`) and `(paper id, expertise)`.
pub type Ratings = Vec<(String, Vec<(String, f64)>)>;

/// Reads an `evaluations_*.tsv` file.
pub fn read_ratings(path: &Path) -> Result<Ratings> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("cannot read", path, e))?;
    let name = path.display().to_string();
    let mut out = Vec::new();
    for (k, line) in text.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 21 {
            return Err(InputError::file(
                name.clone(),
                format!("expected 21 tab-separated fields, found {}", f.len()),
            )
            .at_line(k as u64 + 1)
            .into());
        }
        let mut rated = Vec::new();
        for j in 1..=10 {
            let (paper, level) = (f[j].trim(), f[j + 10].trim());
            if paper.is_empty() || level.is_empty() {
                continue;
            }
            let e: f64 = level.parse().map_err(|_| {
                InputError::file(name.clone(), format!("`{level}` is not an expertise level"))
                    .at_line(k as u64 + 1)
                    .at_column(j + 11, format!("Expertise{j}"))
            })?;
            rated.push((paper.to_string(), e));
        }
        out.push((format!("~{}", f[0].trim()), rated));
    }
    Ok(out)
}

/// The loss of the text model `opts` on one version of the venue (participants or papers
/// missing from the venue are skipped).
pub fn loss(venue: &Venue, ratings: &Ratings, opts: &TextOptions) -> f64 {
    loss_of(
        venue,
        ratings,
        &AffinityMatrix::Sparse(text_affinity(venue, opts)),
    )
}

/// The loss of any affinity matrix `m` of `venue` (papers × reviewers) against the ratings.
pub fn loss_of(venue: &Venue, ratings: &Ratings, m: &AffinityMatrix) -> f64 {
    let papers: std::collections::HashMap<&str, usize> = venue
        .papers
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.as_str(), i))
        .collect();
    let (mut cost, mut total) = (0.0, 0.0);
    for (reviewer, rated) in ratings {
        let Some(r) = venue.reviewers.iter().position(|x| &x.id == reviewer) else {
            continue;
        };
        let (pred, exp): (Vec<f64>, Vec<f64>) = rated
            .iter()
            .filter_map(|(p, e)| papers.get(p.as_str()).map(|&p| (m.get(p, r) as f64, *e)))
            .unzip();
        let (c, t) = ranking_loss(&pred, &exp);
        cost += c;
        total += t;
    }
    if total == 0.0 { 0.0 } else { cost / total }
}
