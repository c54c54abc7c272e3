//! The HTML pages and their forms: each page renders what one [`Session`] view returns; each
//! form posts to an `/act/…` route that calls the same session method as the JSON API and
//! redirects back with a message. No JavaScript: every page reads and edits without it.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Deserialize;

use super::api::SaveBody;
use super::{AppState, with_session};
use crate::model::units_to_score;
use crate::session::views::{PaperSort, Why};
use crate::session::{Decision, EditRequest, Export, Mode, Op, Session, SessionError};

/// Rows per page of the paper list.
pub const PAGE: usize = 50;

/// A message carried back after a form: `msg` for success, `err` for a refusal.
#[derive(Debug, Default, Deserialize)]
pub struct Flash {
    msg: Option<String>,
    err: Option<String>,
}

/// Percent-encodes a query value.
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The page a form came from, without its message: only a local path is followed.
fn back_to(back: &str) -> String {
    let ok = back.starts_with('/') && !back.starts_with("//") && !back.contains('\\');
    let path = if ok { back } else { "/" };
    let kept: Vec<&str> = match path.split_once('?') {
        Some((p, q)) => std::iter::once(p)
            .chain(
                q.split('&')
                    .filter(|kv| !kv.starts_with("msg=") && !kv.starts_with("err=")),
            )
            .collect(),
        None => vec![path],
    };
    match kept.as_slice() {
        [p] => p.to_string(),
        [p, rest @ ..] => format!("{p}?{}", rest.join("&")),
        [] => "/".into(),
    }
}

fn redirect(back: &str, r: Result<String, SessionError>) -> Response {
    let base = back_to(back);
    let sep = if base.contains('?') { '&' } else { '?' };
    let target = match r {
        Ok(msg) => format!("{base}{sep}msg={}", enc(&msg)),
        Err(e) => format!("{base}{sep}err={}", enc(&e.to_string())),
    };
    Redirect::to(&target).into_response()
}

fn score(x: f64) -> String {
    format!("{x:.4}")
}

fn signed(x: f64) -> String {
    format!("{x:+.4}")
}

/// The frame of every page: navigation, the session's state line, undo and redo, the message.
fn layout(
    state: &AppState,
    s: &Session,
    title: &str,
    back: &str,
    flash: &Flash,
    body: Markup,
) -> Markup {
    let total = units_to_score(s.total());
    let optimum = units_to_score(s.optimum().total);
    let violations = s.violations().len();
    let (can_undo, can_redo) = s.can_undo_redo();
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · papermatch · " (state.title) }
                link rel="stylesheet" href="/assets/style.css";
            }
            body {
                header {
                    nav {
                        a.brand href="/" { "papermatch · " (state.title) }
                        a href="/" { "Overview" }
                        a href="/papers" { "Papers" }
                        a href="/history" { "Changes (" (s.history().len()) ")" }
                        form.search method="get" action="/papers" {
                            input type="search" name="q" placeholder="paper id, title, keyword, author" aria-label="search papers";
                            button type="submit" { "Search" }
                        }
                    }
                    div.status {
                        span #total { "total " strong { (score(total)) } }
                        span { "optimum " (score(optimum)) }
                        span #gap { "gap " (score(optimum - total)) }
                        @if violations == 0 {
                            span.ok #violations { "every constraint holds" }
                        } @else {
                            span.bad #violations { (violations) " violation(s)" }
                        }
                        span.version { "version " (s.version()) }
                        form.inline method="post" action="/act/undo" {
                            input type="hidden" name="back" value=(back);
                            button #undo type="submit" disabled[!can_undo] { "Undo" }
                        }
                        form.inline method="post" action="/act/redo" {
                            input type="hidden" name="back" value=(back);
                            button #redo type="submit" disabled[!can_redo] { "Redo" }
                        }
                    }
                }
                @if let Some(m) = &flash.msg { p.flash.ok #message { (m) } }
                @if let Some(e) = &flash.err { p.flash.bad #message { (e) } }
                main { (body) }
            }
        }
    }
}

/// The path and query a page was asked for, for its forms' `back`.
fn here(uri: &Uri) -> String {
    back_to(uri.path_and_query().map_or("/", |pq| pq.as_str()))
}

fn edit_form(
    op: Op,
    label: &str,
    paper: &str,
    reviewer: &str,
    replacement: Option<&str>,
    version: u64,
    back: &str,
) -> Markup {
    let op = match op {
        Op::Add => "add",
        Op::Remove => "remove",
        Op::Swap => "swap",
        Op::Lock => "lock",
        Op::Ban => "ban",
    };
    html! {
        form.inline method="post" action="/act/edit" {
            input type="hidden" name="op" value=(op);
            input type="hidden" name="paper_id" value=(paper);
            input type="hidden" name="reviewer_id" value=(reviewer);
            @if let Some(r) = replacement { input type="hidden" name="replacement" value=(r); }
            input type="hidden" name="version" value=(version);
            input type="hidden" name="back" value=(back);
            button type="submit" class={ "op-" (op) } { (label) }
        }
    }
}

fn why(w: &Why) -> Markup {
    html! {
        @if !w.shared_keywords.is_empty() {
            div.why { "shared keywords: " (w.shared_keywords.join(", ")) }
        }
        @for sp in &w.similar_papers {
            div.why {
                "their paper “" (sp.title) "”"
                @if let Some(y) = sp.year { " (" (y) ")" }
                " shares: " (sp.shared_terms.join(", "))
            }
        }
        @if w.shared_keywords.is_empty() && w.similar_papers.is_empty() {
            div.why.muted { "no shared keyword or text" }
        }
    }
}

fn decision_badge(d: Option<Decision>) -> Markup {
    html! {
        @match d {
            Some(Decision::Lock) => span.badge.lock { "locked" },
            Some(Decision::Ban) => span.badge.ban { "banned" },
            None => "",
        }
    }
}

/// `GET /`: the overview.
pub async fn overview(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    Query(flash): Query<Flash>,
) -> Response {
    let st = state.clone();
    with_session(&state, move |s| {
        let back = here(&uri);
        let report = s.report_sections();
        let req = s.requirements().clone();
        let counts = s.violation_counts();
        let opt = s.optimum().clone();
        let conflicts = s.conflicts();
        let by_reason: Vec<String> = conflicts
            .count_by_reason()
            .iter()
            .map(|(why, n)| format!("{why} {n}"))
            .collect();
        let n_conflicts = conflicts.len();
        let recent: Vec<_> = s.history().iter().rev().take(10).cloned().collect();
        let version = s.version();
        let body = html! {
            h1 { "Overview" }
            section #requirements {
                h2 { "Requirements in force" }
                table { tbody {
                    tr { th { "constraints" } td {
                        "demands, loads, conflicts, locks and bans: "
                        @if counts.constraints == 0 { span.ok { "all hold" } } @else { span.bad { (counts.constraints) " broken" } }
                    } }
                    tr { th { "conflicts of interest" } td {
                        (n_conflicts) " pairs never assigned"
                        @if !by_reason.is_empty() { " (" (by_reason.join(", ")) ")" }
                    } }
                    @if let Some(set) = &req.rules {
                        tr { th { "composition rules" } td {
                            @for r in &set.rules { code { (r.to_string()) } " " }
                            (if set.options.soft.is_some() { "(soft) " } else { "(hard) " })
                            @if counts.rules == 0 { span.ok { "hold" } } @else { span.bad { (counts.rules) " broken" } }
                        } }
                    }
                    @if let Some(c) = &req.cycles {
                        tr { th { "review cycles" } td {
                            "none of length ≤ " (c.length) ": "
                            @if counts.cycles == 0 { span.ok { "hold" } } @else { span.bad { (counts.cycles) " cycle(s)" } }
                        } }
                    }
                    @if let Some(f) = &req.fair {
                        tr { th { "fairness" } td {
                            (format!("{:?}", f.objective).to_lowercase()) " objective"
                            @if let Some(t) = f.min_paper_score { ", every paper at least " (score(units_to_score(t))) }
                        } }
                    }
                    @if let Some(r) = &req.randomized {
                        tr { th { "randomization" } td { "probability caps " (r.caps.default) ", seed " (r.seed) } }
                    }
                    tr { th { "optimum without the chair's edits" } td {
                        (score(units_to_score(opt.total))) " (" (opt.method) ", "
                        @if opt.exact { "proven optimal" } @else { "within " (score(units_to_score(opt.bound - opt.objective))) " of its bound" }
                        ")"
                    } }
                } }
            }
            section #reoptimize {
                h2 { "Re-optimize around your decisions" }
                p { "Every edit is kept as a lock or a ban. " em { "Minimal" } " keeps every other current pair that is still valid and fills the gaps; " em { "full" } " solves everything else again. Both are exact under the requirements above." }
                form.inline method="post" action="/act/reoptimize" {
                    input type="hidden" name="mode" value="minimal";
                    input type="hidden" name="back" value=(back);
                    button #reoptimize-minimal type="submit" { "Re-optimize (minimal changes)" }
                }
                form.inline method="post" action="/act/reoptimize" {
                    input type="hidden" name="mode" value="full";
                    input type="hidden" name="back" value=(back);
                    button #reoptimize-full type="submit" { "Re-optimize (full)" }
                }
            }
            section #save {
                h2 { "Save" }
                form method="post" action="/act/save" {
                    input type="hidden" name="back" value=(back);
                    label { "assignment CSV " input #save-output type="text" name="output" size="50" placeholder="/path/to/assignments.csv" required; }
                    " "
                    label { input type="checkbox" name="openreview" value="1"; " OpenReview JSON" }
                    " "
                    label { input type="checkbox" name="hotcrp" value="1"; " HotCRP CSV" }
                    " "
                    button #save-button type="submit" { "Save" }
                    p.muted { "locks.csv and bans.csv (your decisions) are written beside the assignment, so that the next " code { "papermatch assign" } " keeps them. Files are replaced atomically; an input of the venue is never overwritten." }
                }
            }
            section #edits {
                h2 { "Latest changes" }
                @if recent.is_empty() { p.muted { "No edits yet." } }
                @else {
                    table { thead { tr { th { "change" } th.num { "effect on the total" } } } tbody {
                        @for c in &recent {
                            tr { td { (c.what) } td.num { (signed(units_to_score(c.total_after - c.total_before))) } }
                        }
                    } }
                    p { a href="/history" { "every change" } }
                }
            }
            section #report { (PreEscaped(report)) }
            p.muted { "version " (version) }
        };
        layout(&st, s, "Overview", &back, &flash, body).into_response()
    })
    .await
}

/// The query of `GET /papers`.
#[derive(Debug, Deserialize)]
pub struct PapersPageQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    sort: PaperSort,
    #[serde(default)]
    page: usize,
    #[serde(flatten)]
    flash: Flash,
}

/// `GET /papers`: search, sort, paginate.
pub async fn papers(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    query: Result<Query<PapersPageQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(q) = match query {
        Ok(q) => q,
        Err(e) => return super::error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let st = state.clone();
    with_session(&state, move |s| {
        let back = here(&uri);
        let result = s.search_papers(&q.q, q.sort, q.page * PAGE, PAGE);
        let pages = result.matches.div_ceil(PAGE).max(1);
        let link = |sort: &str, page: usize| format!("/papers?q={}&sort={sort}&page={page}", enc(&q.q));
        let sort_name = serde_json::to_value(q.sort).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
        let body = html! {
            h1 { "Papers" }
            form method="get" action="/papers" {
                input #paper-search type="search" name="q" value=(q.q) placeholder="paper id, title, keyword, author" autofocus;
                input type="hidden" name="sort" value=(sort_name);
                " " button type="submit" { "Search" }
            }
            p {
                (result.matches) " paper(s). Sort by: "
                a href=(link("id", 0)) { "file order" } " · "
                a href=(link("total", 0)) { "lowest total" } " · "
                a href=(link("total-desc", 0)) { "highest total" } " · "
                a href=(link("weakest", 0)) { "weakest reviewer" } " · "
                a href=(link("violations", 0)) { "violations" }
            }
            table #papers { thead { tr { th { "paper" } th { "title" } th.num { "total" } th.num { "weakest" } th.num { "violations" } th { "reviewers" } } } tbody {
                @for row in &result.rows {
                    tr {
                        td { a href={ "/papers/" (enc(&row.paper_id)) } { (row.paper_id) } }
                        td { (row.title) }
                        td.num { (score(row.total)) }
                        td.num { @if let Some(w) = row.weakest { (score(w)) } }
                        td.num { @if row.violations > 0 { span.bad { (row.violations) } } @else { "0" } }
                        td { @for (i, r) in row.reviewers.iter().enumerate() { @if i > 0 { ", " } a href={ "/reviewers/" (enc(r)) } { (r) } } }
                    }
                }
            } }
            p.pager {
                @if q.page > 0 { a rel="prev" href=(link(&sort_name, q.page - 1)) { "← previous" } " " }
                "page " (q.page + 1) " of " (pages)
                @if q.page + 1 < pages { " " a rel="next" href=(link(&sort_name, q.page + 1)) { "next →" } }
            }
        };
        layout(&st, s, "Papers", &back, &q.flash, body).into_response()
    })
    .await
}

fn not_found(state: &AppState, s: &Session, what: &str, back: &str) -> Response {
    let body =
        html! { h1 { "Not found" } p { (what) } p { a href="/papers" { "search the papers" } } };
    (
        StatusCode::NOT_FOUND,
        layout(state, s, "Not found", back, &Flash::default(), body),
    )
        .into_response()
}

/// `GET /papers/{id}`.
pub async fn paper(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    Path(id): Path<String>,
    Query(flash): Query<Flash>,
) -> Response {
    let st = state.clone();
    with_session(&state, move |s| {
        let back = here(&uri);
        let p = match s.find_paper(&id) {
            Ok(p) => p,
            Err(e) => return not_found(&st, s, &e.to_string(), &back),
        };
        let v = s.paper_view(p);
        let version = s.version();
        let pid = v.paper_id.clone();
        let body = html! {
            h1 { "Paper " (v.paper_id) }
            p.title { (v.title) }
            table.facts { tbody {
                tr { th { "keywords" } td { (v.keywords.join("; ")) } }
                tr { th { "authors" } td { (v.authors.join("; ")) } }
                tr { th { "reviewers" } td { (v.reviewers.len()) " of " (v.demand) } }
                tr { th { "total affinity" } td #paper-total { (score(v.total)) } }
            } }
            @if !v.violations.is_empty() {
                ul.violations { @for x in &v.violations { li.bad { (x) } } }
            }
            h2 { "Reviewers" }
            table #reviewers { thead { tr { th { "reviewer" } th.num { "score" } th { "bid" } th { "load" } th { "attributes" } th { "why" } th { "edit" } } } tbody {
                @for r in &v.reviewers {
                    tr data-reviewer=(r.reviewer_id) {
                        td { a href={ "/reviewers/" (enc(&r.reviewer_id)) } { (r.reviewer_id) } br; span.muted { (r.name) " " (r.institution) } " " (decision_badge(r.decision)) }
                        td.num { (score(r.score)) }
                        td { (r.bid.unwrap_or("")) }
                        td { (r.load) " in [" (r.min_load) ", " (r.max_load) "]" }
                        td { @for (k, val) in &r.attributes { (k) "=" (val) br; } }
                        td { (why(&r.why)) }
                        td {
                            (edit_form(Op::Remove, "remove", &pid, &r.reviewer_id, None, version, &back))
                            @if r.decision != Some(Decision::Lock) { (edit_form(Op::Lock, "lock", &pid, &r.reviewer_id, None, version, &back)) }
                            (edit_form(Op::Ban, "ban", &pid, &r.reviewer_id, None, version, &back))
                        }
                    }
                }
            } }
            form #add-reviewer method="post" action="/act/edit" {
                input type="hidden" name="op" value="add";
                input type="hidden" name="paper_id" value=(pid);
                input type="hidden" name="version" value=(version);
                input type="hidden" name="back" value=(back);
                label { "add reviewer by id " input type="text" name="reviewer_id" required; }
                " " button type="submit" { "Add" }
            }
            h2 { "Alternates" }
            p.muted { "The best eligible reviewers not assigned to this paper. Δ total is the change if one replaced the weakest reviewer you have not locked; a reviewer with no spare load is full, and taking them puts them over their load." }
            table #alternates { thead { tr { th { "reviewer" } th.num { "score" } th.num { "Δ total" } th { "spare load" } th { "bid" } th { "why" } th { "edit" } } } tbody {
                @for a in &v.alternates {
                    tr data-reviewer=(a.reviewer_id) {
                        td { a href={ "/reviewers/" (enc(&a.reviewer_id)) } { (a.reviewer_id) } br; span.muted { (a.name) } }
                        td.num { (score(a.score)) }
                        td.num { (signed(a.delta_total)) @if let Some(x) = &a.replaces { br; span.muted { "for " (x) } } }
                        td { @if a.spare_load == 0 { span.bad { "full" } } @else { (a.spare_load) } }
                        td { (a.bid.unwrap_or("")) }
                        td { (why(&a.why)) }
                        td {
                            @if let Some(x) = &a.replaces { (edit_form(Op::Swap, &format!("swap in for {x}"), &pid, x, Some(&a.reviewer_id), version, &back)) }
                            (edit_form(Op::Add, "add", &pid, &a.reviewer_id, None, version, &back))
                        }
                    }
                }
            } }
            h2 { "Conflicts" }
            @if v.conflicts.is_empty() { p.muted { "None." } }
            @else {
                table #conflicts { thead { tr { th { "reviewer" } th { "reason" } } } tbody {
                    @for c in &v.conflicts { tr { td { a href={ "/reviewers/" (enc(&c.reviewer_id)) } { (c.reviewer_id) } } td { (c.reason) } } }
                } }
            }
        };
        layout(&st, s, &format!("Paper {}", v.paper_id), &back, &flash, body).into_response()
    })
    .await
}

/// `GET /reviewers/{id}`.
pub async fn reviewer(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    Path(id): Path<String>,
    Query(flash): Query<Flash>,
) -> Response {
    let st = state.clone();
    with_session(&state, move |s| {
        let back = here(&uri);
        let r = match s.find_reviewer(&id) {
            Ok(r) => r,
            Err(e) => return not_found(&st, s, &e.to_string(), &back),
        };
        let v = s.reviewer_view(r);
        let version = s.version();
        let rid = v.reviewer_id.clone();
        let row = |p: &crate::session::views::ReviewerPaper, action: Markup| html! {
            tr data-paper=(p.paper_id) {
                td { a href={ "/papers/" (enc(&p.paper_id)) } { (p.paper_id) } " " (decision_badge(p.decision)) }
                td { (p.title) }
                td.num { (score(p.score)) }
                td { (p.bid.unwrap_or("")) }
                td { (action) }
            }
        };
        let head = html! { thead { tr { th { "paper" } th { "title" } th.num { "score" } th { "bid" } th { "edit" } } } };
        let load_ok = v.load >= v.min_load && v.load <= v.max_load;
        let body = html! {
            h1 { "Reviewer " (v.reviewer_id) }
            table.facts { tbody {
                tr { th { "name" } td { (v.name) } }
                tr { th { "e-mail" } td { (v.email) } }
                tr { th { "institution" } td { (v.institution) } }
                tr { th { "keywords" } td { (v.keywords.join("; ")) } }
                @for (k, val) in &v.attributes { tr { th { (k) } td { (val) } } }
                tr { th { "load" } td #load { span class=(if load_ok { "ok" } else { "bad" }) { (v.load) } " in [" (v.min_load) ", " (v.max_load) "]" } }
            } }
            h2 { "Papers" }
            table #reviewer-papers { (head) tbody {
                @for p in &v.papers { (row(p, edit_form(Op::Remove, "remove", &p.paper_id, &rid, None, version, &back))) }
            } }
            h2 { "Bids" }
            @if v.bids.is_empty() { p.muted { "No bids." } }
            @else {
                table #bids { (head) tbody {
                    @for p in &v.bids {
                        (row(p, if p.assigned { html! { "assigned" } } else { edit_form(Op::Add, "add", &p.paper_id, &rid, None, version, &back) }))
                    }
                } }
            }
            h2 { "Best unassigned papers" }
            table #best-unassigned { (head) tbody {
                @for p in &v.best_unassigned { (row(p, edit_form(Op::Add, "add", &p.paper_id, &rid, None, version, &back))) }
            } }
        };
        layout(&st, s, &format!("Reviewer {}", v.reviewer_id), &back, &flash, body).into_response()
    })
    .await
}

/// `GET /history`: every change with its effect on the total.
pub async fn history(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    Query(flash): Query<Flash>,
) -> Response {
    let st = state.clone();
    with_session(&state, move |s| {
        let back = here(&uri);
        let venue = &s.instance().venue;
        let pair = |&(p, r): &(crate::model::PaperIdx, crate::model::ReviewerIdx)| {
            format!("{} ← {}", venue.papers[p.ix()].id, venue.reviewers[r.ix()].id)
        };
        let body = html! {
            h1 { "Changes" }
            @if s.history().is_empty() { p.muted { "No changes yet." } }
            table #history { thead { tr { th { "#" } th { "change" } th { "added" } th { "removed" } th.num { "total after" } th.num { "effect" } } } tbody {
                @for (i, c) in s.history().iter().enumerate() {
                    tr {
                        td { (i + 1) }
                        td { (c.what) }
                        td { @for x in c.added.iter().take(20) { (pair(x)) br; } @if c.added.len() > 20 { "… " (c.added.len() - 20) " more" } }
                        td { @for x in c.removed.iter().take(20) { (pair(x)) br; } @if c.removed.len() > 20 { "… " (c.removed.len() - 20) " more" } }
                        td.num { (score(units_to_score(c.total_after))) }
                        td.num { (signed(units_to_score(c.total_after - c.total_before))) }
                    }
                }
            } }
        };
        layout(&st, s, "Changes", &back, &flash, body).into_response()
    })
    .await
}

/// The fields of the edit form.
#[derive(Debug, Deserialize)]
pub struct EditForm {
    op: Op,
    paper_id: String,
    reviewer_id: String,
    #[serde(default)]
    replacement: Option<String>,
    version: Option<u64>,
    #[serde(default)]
    back: String,
}

/// A form's `back` field alone.
#[derive(Debug, Deserialize)]
pub struct BackForm {
    #[serde(default)]
    back: String,
}

type FormResult<T> = Result<axum::Form<T>, axum::extract::rejection::FormRejection>;

/// `POST /act/edit`.
pub async fn act_edit(State(state): State<Arc<AppState>>, form: FormResult<EditForm>) -> Response {
    let axum::Form(f) = match form {
        Ok(f) => f,
        Err(e) => return super::error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let body = EditRequest {
        op: f.op,
        paper_id: f.paper_id,
        reviewer_id: f.reviewer_id,
        replacement: f.replacement,
        version: f.version,
    };
    let r = with_session(&state, move |s| {
        let before = s.total();
        s.edit_by_ids(&body).map(|st| {
            let what = s.history().last().map_or(String::new(), |c| c.what.clone());
            format!(
                "{what}: total {} ({}), {} violation(s)",
                score(st.total),
                signed(st.total - units_to_score(before)),
                st.violations.len()
            )
        })
    })
    .await;
    redirect(&f.back, r)
}

async fn act_undo_redo(state: Arc<AppState>, back: String, undo: bool) -> Response {
    let r = with_session(&state, move |s| {
        let what = if undo {
            s.history().last()
        } else {
            s.undone_last()
        }
        .map(|c| c.what.clone());
        let st = if undo { s.undo() } else { s.redo() }?;
        Ok(format!(
            "{} {}: total {}",
            if undo { "undid" } else { "redid" },
            what.unwrap_or_default(),
            score(st.total)
        ))
    })
    .await;
    redirect(&back, r)
}

/// `POST /act/undo`.
pub async fn act_undo(State(state): State<Arc<AppState>>, form: FormResult<BackForm>) -> Response {
    let back = form.map(|f| f.0.back).unwrap_or_default();
    act_undo_redo(state, back, true).await
}

/// `POST /act/redo`.
pub async fn act_redo(State(state): State<Arc<AppState>>, form: FormResult<BackForm>) -> Response {
    let back = form.map(|f| f.0.back).unwrap_or_default();
    act_undo_redo(state, back, false).await
}

/// The fields of the re-optimize form.
#[derive(Debug, Deserialize)]
pub struct ReoptimizeForm {
    mode: Mode,
    #[serde(default)]
    back: String,
}

/// `POST /act/reoptimize`.
pub async fn act_reoptimize(
    State(state): State<Arc<AppState>>,
    form: FormResult<ReoptimizeForm>,
) -> Response {
    let axum::Form(f) = match form {
        Ok(f) => f,
        Err(e) => return super::error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let r = with_session(&state, move |s| {
        s.reoptimize(f.mode).map(|x| {
            format!(
                "re-optimized: total {} → {} ({}), gap to the optimum {}, {} pair(s) changed, {} violation(s)",
                score(x.total_before),
                score(x.status.total),
                signed(x.status.total - x.total_before),
                score(x.gap),
                x.pairs_changed,
                x.status.violations.len()
            )
        })
    })
    .await;
    redirect(&f.back, r)
}

/// The fields of the save form.
#[derive(Debug, Deserialize)]
pub struct SaveForm {
    output: String,
    #[serde(default)]
    openreview: Option<String>,
    #[serde(default)]
    hotcrp: Option<String>,
    #[serde(default)]
    back: String,
}

/// `POST /act/save`.
pub async fn act_save(State(state): State<Arc<AppState>>, form: FormResult<SaveForm>) -> Response {
    let axum::Form(f) = match form {
        Ok(f) => f,
        Err(e) => return super::error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let mut exports = Vec::new();
    if f.openreview.is_some() {
        exports.push(Export::Openreview);
    }
    if f.hotcrp.is_some() {
        exports.push(Export::Hotcrp);
    }
    let body = SaveBody {
        output: f.output.trim().into(),
        exports,
    };
    let r = with_session(&state, move |s| {
        body.apply(s).map(|saved| {
            let names: Vec<String> = saved
                .written
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            format!("saved {}", names.join(", "))
        })
    })
    .await;
    redirect(&f.back, r)
}
