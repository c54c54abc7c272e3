//! A self-contained HTML report of an assignment: figures, SVG charts, the worst-served papers.
//!
//! One file with inline CSS and inline SVG, no script and no network access: it opens the same
//! in any browser, offline, and prints. Charts:
//!
//! - `paper-totals`: histogram of per-paper total affinity (20 bins);
//! - `loads`: number of reviewers per load;
//! - `pair-scores`: affinity of assigned pairs against all eligible pairs (share of each, 20 bins);
//!
//! and a table of the worst-served papers with their best unassigned eligible alternatives and
//! those reviewers' spare capacity. Every bar is a `<rect class="bar SERIES">` with a `<title>`
//! tooltip, so tests (and people) can count and read them.

use std::fmt::Write as _;

use super::evaluate::Evaluation;
use crate::model::{SCORE_SCALE, Venue, units_to_score};
use crate::solve::{Assignment, Problem};

/// Bins of the histograms.
pub const BINS: usize = 20;
/// Worst-served papers listed.
pub const WORST: usize = 10;
/// Alternatives listed per worst-served paper.
pub const ALTERNATIVES: usize = 3;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One series of a bar chart.
struct Series {
    name: &'static str,
    class: &'static str,
    values: Vec<f64>,
}

/// An SVG bar chart with one group of bars per label (one bar per series in each group).
fn bar_chart(
    id: &str,
    title: &str,
    labels: &[String],
    series: &[Series],
    x_title: &str,
    y_title: &str,
) -> String {
    let (w, h) = (680.0, 300.0);
    let (left, right, top, bottom) = (60.0, 16.0, 30.0, 58.0);
    let plot_w = w - left - right;
    let plot_h = h - top - bottom;
    let top_value = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(0.0f64, f64::max);
    // Four ticks at a round step (1, 2, 2.5 or 5 times a power of ten).
    let step = nice_step(top_value / 4.0);
    let max = step * 4.0;
    let groups = labels.len().max(1) as f64;
    let group_w = plot_w / groups;
    let bar_w = (group_w * 0.85) / series.len().max(1) as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg id="{id}" class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg">"#,
        t = esc(title)
    );
    let _ = write!(
        s,
        r#"<text class="chart-title" x="{left}" y="18">{}</text>"#,
        esc(title)
    );
    for k in 0..=4 {
        let v = max * k as f64 / 4.0;
        let y = top + plot_h - plot_h * k as f64 / 4.0;
        let _ = write!(
            s,
            r#"<line class="grid" x1="{left}" x2="{}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            left + plot_w,
            left - 6.0,
            y + 4.0,
            if step.fract() == 0.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.2}")
            }
        );
    }
    let every = (labels.len() / 10).max(1);
    for (g, label) in labels.iter().enumerate() {
        let x0 = left + g as f64 * group_w + group_w * 0.075;
        for (k, ser) in series.iter().enumerate() {
            let v = ser.values.get(g).copied().unwrap_or(0.0);
            let bh = plot_h * v / max;
            let x = x0 + k as f64 * bar_w;
            let _ = write!(
                s,
                r#"<rect class="bar {c}" data-series="{n}" x="{x:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}"><title>{n} {l}: {v}</title></rect>"#,
                top + plot_h - bh,
                (bar_w - 1.0).max(1.0),
                c = ser.class,
                n = ser.name,
                l = esc(label),
                v = if v.fract() == 0.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.4}")
                },
            );
        }
        if g % every == 0 {
            let _ = write!(
                s,
                r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                left + (g as f64 + 0.5) * group_w,
                top + plot_h + 16.0,
                esc(label)
            );
        }
    }
    let _ = write!(
        s,
        r#"<line class="axis" x1="{left}" x2="{}" y1="{y}" y2="{y}"/><text class="axis-title" x="{}" y="{}" text-anchor="middle">{}</text><text class="axis-title" transform="translate(14 {}) rotate(-90)" text-anchor="middle">{}</text>"#,
        left + plot_w,
        left + plot_w / 2.0,
        h - 12.0,
        esc(x_title),
        top + plot_h / 2.0,
        esc(y_title),
        y = top + plot_h
    );
    if series.len() > 1 {
        for (k, ser) in series.iter().enumerate() {
            let x = left + plot_w - 170.0 + k as f64 * 90.0;
            let _ = write!(
                s,
                r#"<rect class="legend {}" x="{x}" y="8" width="10" height="10"/><text class="tick" x="{}" y="17">{}</text>"#,
                ser.class,
                x + 14.0,
                ser.name
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// The smallest of 1, 2, 2.5, 5 times a power of ten that is at least `x` (1 for `x <= 0`).
fn nice_step(x: f64) -> f64 {
    if x <= 0.0 || !x.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(x.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|&s| s >= x * (1.0 - 1e-12))
        .unwrap_or(10.0 * p)
}

/// The bin of `v` among `BINS` equal bins over `[lo, hi]` (the last bin includes `hi`).
fn bin_of(v: i64, lo: i64, hi: i64) -> usize {
    let span = (hi - lo).max(1) as f64;
    let b = (((v - lo) as f64 / span) * BINS as f64).floor() as isize;
    b.clamp(0, BINS as isize - 1) as usize
}

/// Counts of `values` in `BINS` equal bins over `[lo, hi]`.
fn histogram(values: impl Iterator<Item = i64>, lo: i64, hi: i64) -> Vec<f64> {
    let mut counts = vec![0.0; BINS];
    for v in values {
        counts[bin_of(v, lo, hi)] += 1.0;
    }
    counts
}

fn bin_labels(lo: i64, hi: i64) -> Vec<String> {
    let span = (hi - lo).max(1) as f64;
    (0..BINS)
        .map(|b| {
            format!(
                "{:.2}",
                units_to_score(lo) + span * b as f64 / BINS as f64 / SCORE_SCALE as f64
            )
        })
        .collect()
}

/// The share of all eligible pairs (not conflicting) in each affinity bin: the background of the
/// `pair-scores` chart. It does not depend on the assignment, so the workbench computes it once.
#[derive(Debug, Clone, PartialEq)]
pub struct EligibleHistogram {
    /// The affinity range the bins cover, in score units.
    pub range: (i64, i64),
    /// Eligible pairs per bin.
    pub counts: Vec<f64>,
}

impl EligibleHistogram {
    /// Counts the eligible pairs of `pb` (a pass over every stored score).
    pub fn of(pb: &Problem<'_>) -> EligibleHistogram {
        let (lo, hi) = pb.affinity.range();
        let (lo, hi) = (lo as i64, (hi as i64).max(lo as i64 + 1));
        let mut eligible = vec![0.0; BINS];
        let nr = pb.n_reviewers();
        for p in 0..pb.n_papers() {
            let conflicts = pb.conflicts.of_paper(p);
            let mut stored = 0usize;
            pb.affinity.for_each_in_row(p, |r, w| {
                if conflicts.binary_search(&(r as u32)).is_err() {
                    stored += 1;
                    eligible[bin_of(w as i64, lo, hi)] += 1.0;
                }
            });
            if pb.affinity.is_sparse() {
                // Absent entries score 0: the eligible ones among them.
                eligible[bin_of(0, lo, hi)] += (nr - conflicts.len() - stored) as f64;
            }
        }
        EligibleHistogram {
            range: (lo, hi),
            counts: eligible,
        }
    }
}

/// The report's style sheet, shared with the workbench.
pub const STYLE: &str = r#"
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #1d232b; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #d8dde3; }
table { border-collapse: collapse; font-size: 0.9rem; } td, th { padding: 0.25rem 0.6rem; border-bottom: 1px solid #eceff2; text-align: left; vertical-align: top; }
th { background: #f4f6f8; } .num { text-align: right; font-variant-numeric: tabular-nums; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; } .chart { max-width: 100%; height: auto; background: #fff; border: 1px solid #eceff2; }
.chart-title { font-size: 13px; font-weight: 600; fill: #1d232b; } .tick { font-size: 10px; fill: #56606b; } .axis-title { font-size: 11px; fill: #1d232b; }
.grid { stroke: #eceff2; } .axis { stroke: #56606b; }
.paper-totals { fill: #2f6db5; } .loads { fill: #3f9b6e; } .assigned { fill: #2f6db5; } .eligible { fill: #c9a227; }
.bad { color: #b3261e; font-weight: 600; } .ok { color: #1e7a46; font-weight: 600; }
"#;

/// Renders the report. `title` names the venue.
pub fn render(
    title: &str,
    pb: &Problem<'_>,
    venue: &Venue,
    a: &Assignment,
    ev: &Evaluation,
) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>papermatch report: {t}</title>
<style>{STYLE}</style></head><body>
<h1>papermatch report: {t}</h1>
"#,
        t = esc(title)
    );
    html.push_str(&sections(pb, venue, a, ev, &EligibleHistogram::of(pb)));
    html.push_str("<p><small>Generated by papermatch. Scores are affinities in [0, 1] unless the venue allows any score.</small></p></body></html>\n");
    html
}

/// The report's body: whether every constraint holds, the figures, the charts and the
/// worst-served papers (the workbench's overview shows the same).
pub fn sections(
    pb: &Problem<'_>,
    venue: &Venue,
    a: &Assignment,
    ev: &Evaluation,
    eligible: &EligibleHistogram,
) -> String {
    let totals = a.paper_totals(pb.affinity);
    let max_total = totals.iter().copied().max().unwrap_or(0).max(1);
    let paper_chart = bar_chart(
        "paper-totals",
        "Total affinity per paper",
        &bin_labels(0, max_total),
        &[Series {
            name: "papers",
            class: "paper-totals",
            values: histogram(totals.iter().copied(), 0, max_total),
        }],
        "total affinity of the paper's reviewers",
        "papers",
    );
    let load_labels: Vec<String> = (0..ev.load_histogram.len())
        .map(|k| k.to_string())
        .collect();
    let load_chart = bar_chart(
        "loads",
        "Reviewer load",
        &load_labels,
        &[Series {
            name: "reviewers",
            class: "loads",
            values: ev.load_histogram.iter().map(|&n| n as f64).collect(),
        }],
        "papers assigned",
        "reviewers",
    );
    // Assigned pairs against all eligible pairs, as shares of each.
    let (lo, hi) = eligible.range;
    let assigned = histogram(
        a.pairs()
            .map(|(p, r)| pb.affinity.get(p.ix(), r.ix()) as i64),
        lo,
        hi,
    );
    let share = |v: Vec<f64>| {
        let n: f64 = v.iter().sum::<f64>().max(1.0);
        v.into_iter().map(|x| x / n).collect::<Vec<_>>()
    };
    let pair_chart = bar_chart(
        "pair-scores",
        "Affinity of assigned pairs against all eligible pairs",
        &bin_labels(lo, hi),
        &[
            Series {
                name: "assigned",
                class: "assigned",
                values: share(assigned),
            },
            Series {
                name: "eligible",
                class: "eligible",
                values: share(eligible.counts.clone()),
            },
        ],
        "pair affinity",
        "share of pairs",
    );
    let mut html = String::new();
    let status = if ev.feasible {
        r#"<p class="ok">Every constraint holds.</p>"#.to_string()
    } else {
        let items: String = ev
            .violations
            .iter()
            .map(|v| format!("<li>{}</li>", esc(v)))
            .collect();
        format!(
            r#"<p class="bad">{} constraint(s) broken:</p><ul>{items}</ul>"#,
            ev.violations.len()
        )
    };
    html.push_str(&status);
    html.push_str("<h2>Figures</h2><table id=\"figures\"><tbody>");
    for (k, v) in ev.rows() {
        let _ = write!(html, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&v));
    }
    html.push_str("</tbody></table>");
    let _ = write!(
        html,
        r#"<h2>Charts</h2><div class="charts">{paper_chart}{load_chart}{pair_chart}</div>"#
    );
    html.push_str(&worst_table(pb, venue, a, &totals));
    html
}

fn worst_table(pb: &Problem<'_>, venue: &Venue, a: &Assignment, totals: &[i64]) -> String {
    let loads = a.loads(pb.n_reviewers());
    let mut order: Vec<usize> = (0..pb.n_papers()).collect();
    order.sort_by_key(|&p| (totals[p], p));
    let mut s = String::from(
        r#"<h2>Worst-served papers</h2><table id="worst"><thead><tr><th>paper</th><th>title</th><th class="num">total</th><th>assigned reviewers</th><th>best unassigned alternatives (spare capacity)</th></tr></thead><tbody>"#,
    );
    for &p in order.iter().take(WORST) {
        let assigned = a.reviewers.get(p).cloned().unwrap_or_default();
        let show = |r: usize| {
            format!(
                "{} ({:.3})",
                esc(&pb.reviewer_ids[r]),
                units_to_score(pb.affinity.get(p, r) as i64)
            )
        };
        let assigned_text: Vec<String> = assigned.iter().map(|r| show(r.ix())).collect();
        let alt_text: Vec<String> = super::alternates_of(pb, a, &loads, p, ALTERNATIVES)
            .iter()
            .map(|alt| format!("{} — spare {}", show(alt.reviewer.ix()), alt.spare))
            .collect();
        let title = venue.papers.get(p).map_or("", |x| x.title.as_str());
        let _ = write!(
            s,
            r#"<tr><td>{}</td><td>{}</td><td class="num">{:.4}</td><td>{}</td><td>{}</td></tr>"#,
            esc(&pb.paper_ids[p]),
            esc(title),
            units_to_score(totals[p]),
            assigned_text.join("<br>"),
            alt_text.join("<br>")
        );
    }
    s.push_str("</tbody></table>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(4.5), 5.0);
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(nice_step(0.18), 0.2);
        assert_eq!(nice_step(12.0), 20.0);
        assert_eq!(nice_step(0.0), 1.0);
    }

    #[test]
    fn bins_cover_the_range() {
        assert_eq!(bin_of(0, 0, 100), 0);
        assert_eq!(bin_of(100, 0, 100), BINS - 1);
        assert_eq!(bin_of(50, 0, 100), BINS / 2);
    }
}
