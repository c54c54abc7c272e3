//! The workbench's HTTP face, in process (tower's `oneshot`): every route, the security answers,
//! bad input refused with a 4xx that changes nothing, conflicts, undo and redo, re-optimize,
//! and a save that `papermatch evaluate` accepts.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use papermatch::serve::{AppState, router};
use papermatch::session::{Decision, Session};
use papermatch::{AssignOptions, Instance};
use serde_json::{Value, json};
use tower::ServiceExt;

const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const HOST: &str = "127.0.0.1:8480";

fn state_of(dir: &Path) -> Arc<AppState> {
    let files = papermatch::io::VenueFiles::from_dir(dir).unwrap();
    let instance = Instance::from_files(&files, &AssignOptions::default()).unwrap();
    let session = Session::start(instance, Default::default(), files.inputs(), None).unwrap();
    let addr: SocketAddr = HOST.parse().unwrap();
    Arc::new(AppState::with_token(session, addr, "test", TOKEN.into()))
}

fn example() -> (Arc<AppState>, Router) {
    let state = state_of(Path::new(&common::path("examples/want-workshop")));
    (state.clone(), router(state))
}

/// Sends a request with the token and this server's Host; returns the status, the headers and
/// the body (JSON when it parses, else a JSON string).
async fn send(
    app: &Router,
    method: &str,
    uri: &str,
    body: Option<Value>,
    extra: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, HOST);
    let auth = format!("Bearer {TOKEN}");
    if !extra.iter().any(|(k, _)| *k == "no-auth") {
        req = req.header(header::AUTHORIZATION, &auth);
    }
    for (k, v) in extra {
        if *k != "no-auth" {
            req = req.header(*k, *v);
        }
    }
    let body = match body {
        Some(v) => Body::from(v.to_string()),
        None => Body::empty(),
    };
    let res = app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, headers, value)
}

async fn get(app: &Router, uri: &str) -> (StatusCode, Value) {
    let (s, _, v) = send(app, "GET", uri, None, &[]).await;
    (s, v)
}

async fn post(app: &Router, uri: &str, body: Value) -> (StatusCode, Value) {
    let (s, _, v) = send(app, "POST", uri, Some(body), &[]).await;
    (s, v)
}

/// Posts an edit that must succeed; its answer.
async fn edit_ok(app: &Router, body: Value) -> Value {
    let (s, v) = post(app, "/api/edits", body.clone()).await;
    assert_eq!(s, StatusCode::OK, "{body} → {v}");
    v
}

/// A JSON string as an owned id.
fn id(v: &Value) -> String {
    v.as_str().unwrap().to_string()
}

async fn version(app: &Router) -> u64 {
    get(app, "/api/summary").await.1["version"]
        .as_u64()
        .unwrap()
}

/// A paper, one of its reviewers, and the best alternate that is not full.
async fn swap_candidates(app: &Router, paper: &str) -> (String, String) {
    let (_, v) = get(app, &format!("/api/papers/{paper}")).await;
    let out = id(&v["reviewers"][0]["reviewer_id"]);
    let alt = v["alternates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["spare_load"].as_u64().unwrap() > 0)
        .unwrap()["reviewer_id"]
        .as_str()
        .unwrap()
        .to_string();
    (out, alt)
}

#[tokio::test]
async fn the_token_is_required_once() {
    let (_, app) = example();
    let (s, _, v) = send(&app, "GET", "/api/summary", None, &[("no-auth", "")]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(v["error"].as_str().unwrap().contains("token"));
    let wrong = [("no-auth", ""), ("authorization", "Bearer nope")];
    assert_eq!(
        send(&app, "GET", "/api/summary", None, &wrong).await.0,
        StatusCode::UNAUTHORIZED
    );
    // The query parameter sets a cookie; the cookie alone is then enough.
    let (s, h, _) = send(
        &app,
        "GET",
        &format!("/?token={TOKEN}"),
        None,
        &[("no-auth", "")],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let cookie = h[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let pair = cookie.split(';').next().unwrap();
    let (s, _, _) = send(
        &app,
        "GET",
        "/papers",
        None,
        &[("no-auth", ""), ("cookie", pair)],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    // Static assets need it too.
    let (s, _, _) = send(&app, "GET", "/assets/style.css", None, &[("no-auth", "")]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn foreign_hosts_and_origins_are_refused() {
    let (_, app) = example();
    let mut req = Request::builder()
        .uri("/api/summary")
        .header(header::HOST, "attacker.example:8480")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        app.clone().oneshot(req).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let v0 = version(&app).await;
    let (s, _, v) = send(
        &app,
        "POST",
        "/api/undo",
        None,
        &[("origin", "http://attacker.example")],
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(v["error"].as_str().unwrap().contains("another site"));
    assert_eq!(version(&app).await, v0);
    // The server's own origin is fine.
    req = Request::builder()
        .uri("/api/summary")
        .header(header::HOST, HOST)
        .header(header::ORIGIN, format!("http://{HOST}"))
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        app.clone().oneshot(req).await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn reads_answer_every_route() {
    let (_, app) = example();
    let (s, sum) = get(&app, "/api/summary").await;
    assert_eq!(s, StatusCode::OK);
    for field in [
        "total_affinity",
        "feasible",
        "violations",
        "paper_scores",
        "optimum",
    ] {
        assert!(sum.get(field).is_some(), "summary lacks {field}: {sum}");
    }
    assert_eq!(
        (sum["edits"].as_u64(), sum["version"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(sum["gap"].as_f64(), Some(0.0));

    let (s, list) = get(&app, "/api/papers?q=pipeline&limit=3").await;
    assert_eq!(s, StatusCode::OK);
    let rows = list.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for row in rows {
        assert_eq!(row["reviewers"].as_array().unwrap().len(), 3);
        assert!(row["total"].as_f64().unwrap() > 0.0);
    }
    let (_, one) = get(&app, "/api/papers?q=W002").await;
    assert_eq!(one[0]["paper_id"], "W002");

    let (s, p) = get(&app, "/api/papers/W001").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(p["paper_id"], "W001");
    assert_eq!(p["reviewers"].as_array().unwrap().len(), 3);
    let alt = &p["alternates"][0];
    for field in ["reviewer_id", "score", "delta_total", "spare_load"] {
        assert!(alt.get(field).is_some(), "alternate lacks {field}: {alt}");
    }
    // W001 is written by reviewer R07: a conflict with its reason.
    let c = p["conflicts"].as_array().unwrap();
    assert!(
        c.iter()
            .any(|c| c["reviewer_id"] == "R07" && c["reason"].as_str().unwrap().contains("author")),
        "{c:?}"
    );

    let (s, r) = get(&app, "/api/reviewers/R01").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["reviewer_id"], "R01");
    assert_eq!(r["max_load"], 3);
    assert_eq!(
        r["load"].as_u64().unwrap() as usize,
        r["papers"].as_array().unwrap().len()
    );

    for uri in ["/api/papers/NOPE", "/api/reviewers/NOPE"] {
        let (s, v) = get(&app, uri).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert!(v["error"].as_str().unwrap().contains("NOPE"));
    }
    assert_eq!(get(&app, "/api/history").await.1, json!([]));
    assert_eq!(
        get(&app, "/api/papers?limit=x").await.0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn bad_edits_get_a_4xx_and_change_nothing() {
    let (state, app) = example();
    let before = state.session.lock().unwrap().assignment().clone();
    let v = version(&app).await;
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (json!({"op": "add"}), StatusCode::BAD_REQUEST, "paper_id"),
        (
            json!({"op": "hug", "paper_id": "W001", "reviewer_id": "R01"}),
            StatusCode::BAD_REQUEST,
            "hug",
        ),
        (
            json!({"op": "add", "paper_id": "NOPE", "reviewer_id": "R01"}),
            StatusCode::NOT_FOUND,
            "NOPE",
        ),
        (
            json!({"op": "add", "paper_id": "W001", "reviewer_id": "NOPE"}),
            StatusCode::NOT_FOUND,
            "NOPE",
        ),
        (
            json!({"op": "add", "paper_id": "W001", "reviewer_id": "R07", "version": v}),
            StatusCode::CONFLICT,
            "author",
        ),
        (
            json!({"op": "remove", "paper_id": "W001", "reviewer_id": "R07"}),
            StatusCode::CONFLICT,
            "does not review",
        ),
        (
            json!({"op": "add", "paper_id": "W001", "reviewer_id": "R01", "version": v + 7}),
            StatusCode::CONFLICT,
            "stale",
        ),
    ];
    for (body, status, needle) in cases {
        let (s, answer) = post(&app, "/api/edits", body.clone()).await;
        assert_eq!(s, status, "{body} → {answer}");
        let msg = answer["error"].as_str().unwrap();
        assert!(msg.contains(needle), "{body}: `{msg}` lacks `{needle}`");
        if needle == "author" {
            let reason = answer["reason"].as_str().unwrap();
            assert!(
                reason.starts_with("author;"),
                "the conflict's reasons alone: {answer}"
            );
        }
    }
    let (_, _, a) = send(&app, "POST", "/api/edits", None, &[]).await;
    assert!(a["error"].as_str().is_some());
    // Changes are made only by POST.
    assert_eq!(
        get(&app, "/api/edits").await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(version(&app).await, v);
    assert_eq!(&before, state.session.lock().unwrap().assignment());
    for route in ["/api/undo", "/api/redo"] {
        let (s, e) = post(&app, route, json!({})).await;
        assert_eq!(s, StatusCode::CONFLICT, "{e}");
    }
    let (s, _) = post(&app, "/api/reoptimize", json!({"mode": "sideways"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn swap_undo_redo_restore_exact_states() {
    let (state, app) = example();
    let (out, alt) = swap_candidates(&app, "W002").await;
    let snapshot = |state: &AppState| {
        let s = state.session.lock().unwrap();
        (s.assignment().clone(), s.decisions().clone(), s.total())
    };
    let start = snapshot(&state);
    let page0 = get(&app, "/api/papers/W002").await.1;
    let v = version(&app).await;
    let (s, after) = post(
        &app,
        "/api/edits",
        json!({"op": "swap", "paper_id": "W002", "reviewer_id": out, "replacement": alt, "version": v}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{after}");
    assert_eq!(after["version"].as_u64(), Some(v + 1));
    let swapped = snapshot(&state);
    assert!(
        swapped.0.reviewers[1].iter().any(|r| state
            .session
            .lock()
            .unwrap()
            .instance()
            .venue
            .reviewers[r.ix()]
        .id == alt)
    );
    let page1 = get(&app, "/api/papers/W002").await.1;
    assert_ne!(page0, page1);

    let (s, undone) = post(&app, "/api/undo", json!({})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(undone["version"].as_u64(), Some(v + 2));
    assert_eq!(snapshot(&state), start);
    assert_eq!(get(&app, "/api/papers/W002").await.1, page0);

    let (s, redone) = post(&app, "/api/redo", json!({})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(redone["total"], after["total"]);
    assert_eq!(snapshot(&state), swapped);
    assert_eq!(get(&app, "/api/papers/W002").await.1, page1);
    let history = get(&app, "/api/history").await.1;
    assert_eq!(history.as_array().unwrap().len(), 1);
    assert!(history[0]["delta_total"].as_f64().is_some());
}

#[tokio::test]
async fn reoptimize_keeps_every_lock_and_ban_and_save_passes_evaluate() {
    let (state, app) = example();
    // Ten edits: swaps, removals, additions, a lock and a ban.
    let papers = ["W002", "W005", "W010", "W020", "W030"];
    for p in papers {
        let (out, alt) = swap_candidates(&app, p).await;
        edit_ok(
            &app,
            json!({"op": "swap", "paper_id": p, "reviewer_id": out, "replacement": alt}),
        )
        .await;
    }
    for p in ["W040", "W041"] {
        let (_, v) = get(&app, &format!("/api/papers/{p}")).await;
        let r = id(&v["reviewers"][0]["reviewer_id"]);
        edit_ok(
            &app,
            json!({"op": "remove", "paper_id": p, "reviewer_id": r}),
        )
        .await;
    }
    let (_, v) = get(&app, "/api/papers/W050").await;
    let keep = id(&v["reviewers"][2]["reviewer_id"]);
    let ban = id(&v["alternates"][0]["reviewer_id"]);
    edit_ok(
        &app,
        json!({"op": "lock", "paper_id": "W050", "reviewer_id": keep}),
    )
    .await;
    edit_ok(
        &app,
        json!({"op": "ban", "paper_id": "W050", "reviewer_id": ban}),
    )
    .await;
    let (_, v) = get(&app, "/api/papers/W051").await;
    let add = id(&v["alternates"][0]["reviewer_id"]);
    let added = edit_ok(
        &app,
        json!({"op": "add", "paper_id": "W051", "reviewer_id": add}),
    )
    .await;
    assert!(
        !added["violations"].as_array().unwrap().is_empty(),
        "W051 now has 4 reviewers"
    );
    assert_eq!(get(&app, "/api/summary").await.1["edits"], 10);

    for mode in ["minimal", "full"] {
        let (s, r) = post(&app, "/api/reoptimize", json!({"mode": mode})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["violations"], json!([]), "{mode}: {r}");
        for field in ["version", "total", "optimum", "pairs_changed"] {
            assert!(r.get(field).is_some(), "{mode} lacks {field}");
        }
        assert!(r["total"].as_f64() <= r["optimum"].as_f64());
        let s = state.session.lock().unwrap();
        for (&(p, r), d) in s.decisions() {
            let has = s.assignment().reviewers[p.ix()].contains(&r);
            assert_eq!(
                has,
                *d == Decision::Lock,
                "{mode}: decision {d:?} on {p:?} {r:?}"
            );
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("assignments.csv");
    let (s, saved) = post(
        &app,
        "/api/save",
        json!({"output": out, "exports": ["openreview", "hotcrp"]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{saved}");
    assert_eq!(saved["written"].as_array().unwrap().len(), 5);
    for f in [
        "assignments.csv",
        "locks.csv",
        "bans.csv",
        "assignments.openreview.json",
        "assignments.hotcrp.csv",
    ] {
        assert!(dir.path().join(f).is_file(), "{f} not written");
    }
    let bans = std::fs::read_to_string(dir.path().join("bans.csv")).unwrap();
    assert!(bans.contains(&format!("W050,{ban},")), "{bans}");
    let locks = std::fs::read_to_string(dir.path().join("locks.csv")).unwrap();
    assert!(locks.contains(&format!("W050,{keep}")), "{locks}");
    // Our own evaluator, with the saved decisions as the venue's locks and bans.
    let o = common::run(&[
        "evaluate",
        &common::path("examples/want-workshop"),
        "--assignment",
        out.to_str().unwrap(),
        "--locks",
        dir.path().join("locks.csv").to_str().unwrap(),
        "--bans",
        dir.path().join("bans.csv").to_str().unwrap(),
        "--json",
        "-q",
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let ev: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(ev["feasible"], true, "{ev}");
    let total = get(&app, "/api/summary").await.1["total_affinity"].clone();
    assert_eq!(ev["total_affinity"], total);

    // The same checks as `assign`'s outputs: never an input, never a missing folder.
    let input = common::path("examples/want-workshop/papers.csv");
    let (s, e) = post(&app, "/api/save", json!({"output": input})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert!(e["error"].as_str().unwrap().contains("input"));
    let (s, _) = post(
        &app,
        "/api/save",
        json!({"output": dir.path().join("no/such/dir/a.csv")}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = post(&app, "/api/save", json!({"path": "x.csv"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn pages_render_and_escape_venue_text() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("papers.csv"),
        "paper_id,title,keywords,demand\nP1,\"<script>alert(1)</script> & co\",x; y,1\nP2,Plain,y,1\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("reviewers.csv"),
        "reviewer_id,name,keywords,max_load\nR1,\"<b>Bold</b>\",x,1\nR2,Ann,y,1\nR3,Bo,x; y,1\n",
    )
    .unwrap();
    let app = router(state_of(dir.path()));
    for uri in [
        "/",
        "/papers",
        "/papers?q=script&sort=weakest",
        "/papers/P1",
        "/reviewers/R1",
        "/history",
    ] {
        let (s, body) = get(&app, uri).await;
        assert_eq!(s, StatusCode::OK, "{uri}");
        let html = body.as_str().unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"), "{uri}");
        assert!(
            !html.contains("<script>") && !html.contains("<b>Bold"),
            "{uri} is not escaped"
        );
    }
    let html = get(&app, "/papers/P1").await.1;
    assert!(
        html.as_str()
            .unwrap()
            .contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; co")
    );
    assert_eq!(get(&app, "/papers/NOPE").await.0, StatusCode::NOT_FOUND);
    // A form edit redirects back with a message.
    let req = Request::builder()
        .method("POST")
        .uri("/act/edit")
        .header(header::HOST, HOST)
        .header(header::ORIGIN, format!("http://{HOST}"))
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(
            "op=ban&paper_id=P1&reviewer_id=R2&back=%2Fpapers%2FP1",
        ))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = res.headers()[header::LOCATION].to_str().unwrap();
    assert!(to.starts_with("/papers/P1?msg="), "{to}");
    // An off-site `back` is not followed.
    let req = Request::builder()
        .method("POST")
        .uri("/act/undo")
        .header(header::HOST, HOST)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("back=%2F%2Fevil.example%2F"))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert!(
        res.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/?msg=")
    );
}
