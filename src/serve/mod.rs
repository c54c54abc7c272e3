//! The chair's workbench over HTTP (`papermatch serve`): a thin face over a [`Session`].
//!
//! | file | what | may use |
//! |---|---|---|
//! | `mod.rs` | the router, the token and origin guards, starting the server | `api`, `pages`, [`crate::session`] |
//! | [`api`] | the JSON handlers | [`crate::session`] |
//! | [`pages`] | the HTML pages (maud) and their forms | `api`, [`crate::session`] |
//! | `assets/` | the style sheet, embedded in the binary | nothing |
//!
//! Handlers parse a request, call one [`Session`] method and render what comes back, as JSON
//! ([`api`]) or as server-rendered HTML ([`pages`]); no handler decides anything about an
//! assignment. The pages need no JavaScript: every edit is a plain HTML form posted to an
//! `/act/…` route, which calls the same session method as the JSON API and redirects back.
//!
//! # Routes
//!
//! | route | what |
//! |---|---|
//! | `GET /` | overview: figures, charts, requirements and whether they hold, the gap, the edits |
//! | `GET /papers?q=&sort=&page=` | paper search, sorting and pagination |
//! | `GET /papers/{id}` | one paper: reviewers and why, alternates, conflicts |
//! | `GET /reviewers/{id}` | one reviewer: papers, load, bids, best unassigned papers |
//! | `GET /history` | every change with its effect on the total |
//! | `POST /act/edit`, `/act/undo`, `/act/redo`, `/act/reoptimize`, `/act/save` | the forms |
//! | `GET /assets/style.css` | the style sheet (embedded in the binary) |
//! | `GET /api/summary` | `evaluate --json` fields, plus `edits` and `version` |
//! | `GET /api/papers?q=&limit=&offset=&sort=` | `[{paper_id, title, total, reviewers, …}]` |
//! | `GET /api/papers/{id}` | `{paper_id, title, reviewers, alternates, conflicts, …}` |
//! | `GET /api/reviewers/{id}` | `{reviewer_id, load, min_load, max_load, papers, …}` |
//! | `GET /api/history` | `[{what, added, removed, delta_total}]` |
//! | `POST /api/edits` | `{op, paper_id, reviewer_id, replacement?, version?}` → `{version, total, violations}` |
//! | `POST /api/undo`, `POST /api/redo` | → `{version, total, violations}` |
//! | `POST /api/reoptimize` | `{mode: "minimal" \| "full"}` → `{version, total, optimum, pairs_changed, violations, …}` |
//! | `POST /api/save` | `{output, exports?: ["openreview", "hotcrp"]}` → `{written: [path…]}` |
//!
//! Errors answer `{"error": message}`: 400 for a malformed body or a refused output path, 401
//! without the token, 403 for a foreign `Host` or `Origin`, 404 for an unknown id, 409 for a
//! conflict of interest, a stale `version`, an edit that does not fit the current state, nothing
//! to undo or redo, or an infeasible re-optimize.
//!
//! # Security
//!
//! A local tool, but a browser is an attack surface:
//! - it binds 127.0.0.1 unless told otherwise;
//! - every request needs the random token printed in the URL: as the `token` query parameter
//!   (which also sets an `HttpOnly`, `SameSite=Strict` cookie), the cookie, or
//!   `Authorization: Bearer TOKEN`; without it, 401;
//! - a `Host` that is not this server's address, or an `Origin` that is not this server, gets 403
//!   (DNS rebinding, cross-site forms);
//! - changes are made only by POST;
//! - every text from the venue is escaped (maud escapes by default);
//! - no file path is taken from a request except `save`'s output, checked as `assign` checks its
//!   outputs.

pub mod api;
pub mod pages;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::session::{Session, SessionError};

/// The workbench's own style rules, embedded in the binary; `/assets/style.css` serves them
/// after the report's ([`crate::report::html::STYLE`]), whose tables and charts the overview
/// shows.
pub const STYLE: &str = include_str!("assets/style.css");

/// Everything the handlers share: the session and the security settings.
#[derive(Debug)]
pub struct AppState {
    /// The editing session.
    pub session: Mutex<Session>,
    /// The token every request must carry.
    pub token: String,
    /// `Host` header values this server answers to (`host:port`); empty accepts any host (a
    /// server bound to every interface).
    pub hosts: Vec<String>,
    /// The name of the cookie that carries the token (one per port: cookies ignore ports).
    pub cookie: String,
    /// The venue's name, for page titles.
    pub title: String,
}

impl AppState {
    /// The state of a server at `addr` for `session`, with a fresh random token.
    pub fn new(session: Session, addr: SocketAddr, title: &str) -> AppState {
        AppState::with_token(session, addr, title, new_token())
    }

    /// The same with a given token (tests).
    pub fn with_token(session: Session, addr: SocketAddr, title: &str, token: String) -> AppState {
        let port = addr.port();
        let hosts = if addr.ip().is_unspecified() {
            Vec::new()
        } else {
            let mut h = vec![
                format!("127.0.0.1:{port}"),
                format!("localhost:{port}"),
                format!("[::1]:{port}"),
            ];
            h.push(match addr.ip() {
                IpAddr::V4(ip) => format!("{ip}:{port}"),
                IpAddr::V6(ip) => format!("[{ip}]:{port}"),
            });
            h
        };
        AppState {
            session: Mutex::new(session),
            token,
            hosts,
            cookie: format!("papermatch_token_{port}"),
            title: title.to_string(),
        }
    }
}

/// A random token of 128 bits, in hex.
pub fn new_token() -> String {
    use rand::RngExt;
    format!("{:032x}", rand::rng().random::<u128>())
}

/// Every route of the workbench, behind the security checks.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(pages::overview))
        .route("/papers", get(pages::papers))
        .route("/papers/{id}", get(pages::paper))
        .route("/reviewers/{id}", get(pages::reviewer))
        .route("/history", get(pages::history))
        .route("/act/edit", post(pages::act_edit))
        .route("/act/undo", post(pages::act_undo))
        .route("/act/redo", post(pages::act_redo))
        .route("/act/reoptimize", post(pages::act_reoptimize))
        .route("/act/save", post(pages::act_save))
        .route("/assets/style.css", get(style))
        .route("/api/summary", get(api::summary))
        .route("/api/papers", get(api::papers))
        .route("/api/papers/{id}", get(api::paper))
        .route("/api/reviewers/{id}", get(api::reviewer))
        .route("/api/history", get(api::history))
        .route("/api/edits", post(api::edit))
        .route("/api/undo", post(api::undo))
        .route("/api/redo", post(api::redo))
        .route("/api/reoptimize", post(api::reoptimize))
        .route("/api/save", post(api::save))
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

async fn style() -> impl IntoResponse {
    static SHEET: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| format!("{}\n{STYLE}", crate::report::html::STYLE));
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        SHEET.as_str(),
    )
}

/// An error answer: the status and `{"error": message}`.
pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let body = serde_json::json!({ "error": message.into() });
    (status, axum::Json(body)).into_response()
}

/// The status a session error answers with.
pub(crate) fn status_of(e: &SessionError) -> StatusCode {
    match e {
        SessionError::NotFound(_) => StatusCode::NOT_FOUND,
        SessionError::Conflict { .. } | SessionError::Refused(_) | SessionError::Stale { .. } => {
            StatusCode::CONFLICT
        }
        SessionError::Library(crate::Error::Infeasible(_)) => StatusCode::CONFLICT,
        SessionError::Library(crate::Error::Options(_) | crate::Error::Input(_)) => {
            StatusCode::BAD_REQUEST
        }
        SessionError::Library(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Runs `f` on the session on a blocking thread (a re-optimize takes seconds; the async workers
/// stay free).
pub(crate) async fn with_session<T: Send + 'static>(
    state: &Arc<AppState>,
    f: impl FnOnce(&mut Session) -> T + Send + 'static,
) -> T {
    let state = state.clone();
    tokio::task::spawn_blocking(move || {
        let mut s = state
            .session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut s)
    })
    .await
    .expect("a session call does not panic")
}

/// Compares two strings in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The token a request carries, and whether it came in the query (then a cookie is set).
fn token_of<'a>(
    headers: &'a HeaderMap,
    query: Option<&'a str>,
    cookie: &str,
) -> (Vec<&'a str>, bool) {
    let mut found = Vec::new();
    let mut in_query = false;
    if let Some(q) = query {
        for pair in q.split('&') {
            if let Some(t) = pair.strip_prefix("token=") {
                found.push(t);
                in_query = true;
            }
        }
    }
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some(t) = auth.strip_prefix("Bearer ")
    {
        found.push(t.trim());
    }
    for c in headers.get_all(header::COOKIE) {
        if let Ok(c) = c.to_str() {
            for part in c.split(';') {
                if let Some((k, v)) = part.trim().split_once('=')
                    && k == cookie
                {
                    found.push(v);
                }
            }
        }
    }
    (found, in_query)
}

/// The security checks of every request (see the module doc).
async fn guard(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if host.is_empty() || (!state.hosts.is_empty() && !state.hosts.iter().any(|h| h == host)) {
        return error(
            StatusCode::FORBIDDEN,
            format!("this server does not answer to the host `{host}`: open the URL it printed"),
        );
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let ok = origin.to_str().is_ok_and(|o| o == format!("http://{host}"));
        if !ok {
            return error(
                StatusCode::FORBIDDEN,
                "requests from another site are refused (the Origin is not this server)",
            );
        }
    }
    let (tokens, in_query) = token_of(headers, req.uri().query(), &state.cookie);
    if !tokens.iter().any(|t| same(t, &state.token)) {
        return error(
            StatusCode::UNAUTHORIZED,
            "this workbench needs its token: open the URL `papermatch serve` printed (with \
             ?token=…), or send `Authorization: Bearer TOKEN`",
        );
    }
    let mut response = next.run(req).await;
    if in_query
        && let Ok(v) = HeaderValue::from_str(&format!(
            "{}={}; HttpOnly; SameSite=Strict; Path=/",
            state.cookie, state.token
        ))
    {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// Serves `state` on `listener` until Ctrl-C.
pub async fn serve(listener: tokio::net::TcpListener, state: Arc<AppState>) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}

/// Binds `addr`, prints the workbench's URL (with its token) on stdout, and serves until
/// Ctrl-C on a runtime of its own.
pub fn run(session: Session, addr: SocketAddr, title: &str) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let state = Arc::new(AppState::new(session, local, title));
        let shown = if local.ip().is_unspecified() {
            SocketAddr::new(IpAddr::from([127, 0, 0, 1]), local.port())
        } else {
            local
        };
        use std::io::Write as _;
        let mut out = std::io::stdout();
        writeln!(out, "http://{shown}/?token={}", state.token)?;
        out.flush()?;
        serve(listener, state).await
    })
}
