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
use crate::session::views::PaperSort;
use crate::session::{EditRequest, Export, Mode, Session, SessionError};

/// A session result as a response: the value as JSON, or the error's status and message.
fn answer<T: Serialize>(r: Result<T, SessionError>) -> Response {
    match r {
        Ok(v) => Json(v).into_response(),
        Err(SessionError::Conflict { message, reason }) => {
            let body = serde_json::json!({ "error": message, "reason": reason });
            (StatusCode::CONFLICT, Json(body)).into_response()
        }
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

/// `GET /api/summary`.
pub async fn summary(State(state): State<Arc<AppState>>) -> Response {
    Json(with_session(&state, Session::summary).await).into_response()
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

/// `GET /api/history`.
pub async fn history(State(state): State<Arc<AppState>>) -> Response {
    Json(with_session(&state, |s| s.changes()).await).into_response()
}

/// `POST /api/edits`.
pub async fn edit(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let body: EditRequest = match parse(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    answer(with_session(&state, move |s| s.edit_by_ids(&body)).await)
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
