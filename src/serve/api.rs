//! The JSON API: each handler parses its request, calls one [`Session`] method and answers with
//! what it returns (see the route table in [`super`]).

use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::{AppState, error, status_of, with_session};
use crate::model::units_to_score;
use crate::session::views::PaperSort;
use crate::session::{Edit, Export, Mode, Op, Session, SessionError};

/// A session result as a response: the value as JSON, or the error's status and message.
fn answer<T: Serialize>(r: Result<T, SessionError>) -> Response {
    match r {
        Ok(v) => Json(v).into_response(),
        Err(e) => error(status_of(&e), e.to_string()),
    }
}

/// Parses a JSON body, or answers 400 saying what is wrong with it.
#[allow(clippy::result_large_err)]
fn parse<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            format!("the request body is not what this route takes: {e}"),
        )
    })
}

/// The summary's fields beyond `evaluate --json`.
pub(crate) fn summary_json(s: &mut Session) -> serde_json::Value {
    let edits = s.history().len();
    let version = s.version();
    let (locks, bans) = s.decisions().values().fold((0, 0), |(l, b), d| match d {
        crate::session::Decision::Lock => (l + 1, b),
        crate::session::Decision::Ban => (l, b + 1),
    });
    let optimum = s.optimum().clone();
    let mut v = serde_json::to_value(s.evaluation()).expect("an evaluation serialises");
    if let Some(m) = v.as_object_mut() {
        m.insert("edits".into(), edits.into());
        m.insert("version".into(), version.into());
        m.insert("locks".into(), locks.into());
        m.insert("bans".into(), bans.into());
        m.insert("optimum_exact".into(), optimum.exact.into());
        m.insert("optimum_method".into(), optimum.method.into());
        m.insert("optimum_bound".into(), units_to_score(optimum.bound).into());
    }
    v
}

/// `GET /api/summary`.
pub async fn summary(State(state): State<Arc<AppState>>) -> Response {
    Json(with_session(&state, summary_json).await).into_response()
}

/// The query of `GET /api/papers`.
#[derive(Debug, Deserialize)]
pub struct PapersQuery {
    /// Words that must all appear in the id, title, keywords or authors.
    #[serde(default)]
    pub q: String,
    /// At most this many rows (default 50).
    pub limit: Option<usize>,
    /// Skip this many rows.
    #[serde(default)]
    pub offset: usize,
    /// The order.
    #[serde(default)]
    pub sort: PaperSort,
}

/// `GET /api/papers`.
pub async fn papers(
    State(state): State<Arc<AppState>>,
    query: Result<Query<PapersQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(q) = match query {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let page = with_session(&state, move |s| {
        s.search_papers(&q.q, q.sort, q.offset, q.limit.unwrap_or(50))
    })
    .await;
    Json(page.rows).into_response()
}

/// `GET /api/papers/{id}`.
pub async fn paper(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    answer(
        with_session(&state, move |s| {
            let p = s.find_paper(&id)?;
            Ok(s.paper_view(p))
        })
        .await,
    )
}

/// `GET /api/reviewers/{id}`.
pub async fn reviewer(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    answer(
        with_session(&state, move |s| {
            let r = s.find_reviewer(&id)?;
            Ok(s.reviewer_view(r))
        })
        .await,
    )
}

/// One change of `GET /api/history`.
#[derive(Debug, Serialize)]
struct ChangeJson {
    what: String,
    added: Vec<(String, String)>,
    removed: Vec<(String, String)>,
    total: f64,
    delta_total: f64,
}

/// `GET /api/history`.
pub async fn history(State(state): State<Arc<AppState>>) -> Response {
    let list = with_session(&state, |s| {
        let venue = &s.instance().venue;
        let ids = |pairs: &[(crate::model::PaperIdx, crate::model::ReviewerIdx)]| {
            pairs
                .iter()
                .map(|&(p, r)| {
                    (
                        venue.papers[p.ix()].id.clone(),
                        venue.reviewers[r.ix()].id.clone(),
                    )
                })
                .collect()
        };
        s.history()
            .iter()
            .map(|c| ChangeJson {
                what: c.what.clone(),
                added: ids(&c.added),
                removed: ids(&c.removed),
                total: units_to_score(c.total_after),
                delta_total: units_to_score(c.total_after - c.total_before),
            })
            .collect::<Vec<_>>()
    })
    .await;
    Json(list).into_response()
}

/// The body of `POST /api/edits`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditBody {
    /// `add`, `remove`, `swap`, `lock` or `ban`.
    pub op: Op,
    /// The paper's id.
    pub paper_id: String,
    /// The reviewer's id (for a swap, the one who leaves).
    pub reviewer_id: String,
    /// For a swap, the reviewer who comes in.
    pub replacement: Option<String>,
    /// The version the caller saw: a stale one is refused (409).
    pub version: Option<u64>,
}

impl EditBody {
    /// Resolves the ids and applies the edit.
    pub(crate) fn apply(&self, s: &mut Session) -> Result<crate::session::Status, SessionError> {
        let edit = Edit {
            op: self.op,
            paper: s.find_paper(&self.paper_id)?,
            reviewer: s.find_reviewer(&self.reviewer_id)?,
            replacement: match &self.replacement {
                Some(id) if !id.is_empty() => Some(s.find_reviewer(id)?),
                _ => None,
            },
        };
        s.edit(&edit, self.version)
    }
}

/// `POST /api/edits`.
pub async fn edit(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let body: EditBody = match parse(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    answer(with_session(&state, move |s| body.apply(s)).await)
}

/// `POST /api/undo`.
pub async fn undo(State(state): State<Arc<AppState>>) -> Response {
    answer(with_session(&state, Session::undo).await)
}

/// `POST /api/redo`.
pub async fn redo(State(state): State<Arc<AppState>>) -> Response {
    answer(with_session(&state, Session::redo).await)
}

/// The body of `POST /api/reoptimize`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReoptimizeBody {
    /// `minimal` or `full`.
    pub mode: Mode,
}

/// `POST /api/reoptimize`.
pub async fn reoptimize(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let body: ReoptimizeBody = match parse(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    answer(with_session(&state, move |s| s.reoptimize(body.mode)).await)
}

/// The body of `POST /api/save`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaveBody {
    /// Where to write the assignment CSV; `locks.csv` and `bans.csv` go beside it.
    pub output: PathBuf,
    /// Also write these formats beside it.
    #[serde(default)]
    pub exports: Vec<Export>,
}

/// What `POST /api/save` wrote.
#[derive(Debug, Serialize)]
pub(crate) struct Saved {
    pub(crate) written: Vec<PathBuf>,
}

impl SaveBody {
    /// Saves the session as asked.
    pub(crate) fn apply(&self, s: &mut Session) -> Result<Saved, SessionError> {
        if self.output.as_os_str().is_empty() {
            return Err(SessionError::Library(crate::Error::Options(
                "save: name the output file".into(),
            )));
        }
        Ok(Saved {
            written: s.save(&self.output, &self.exports)?,
        })
    }
}

/// `POST /api/save`.
pub async fn save(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let body: SaveBody = match parse(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    answer(with_session(&state, move |s| body.apply(s)).await)
}
