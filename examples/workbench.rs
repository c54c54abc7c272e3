//! Scale harness of the workbench (`papermatch serve`): server time of every kind of request on
//! one venue, in process through the real router, and the peak memory.
//!
//! ```text
//! papermatch generate --layout keywords --papers 16000 --reviewers 20000 -o /tmp/big
//! cargo run --release --example workbench -- /tmp/big
//! /usr/bin/time -v papermatch assign /tmp/big -o /dev/null -q   # the start and memory reference
//! ```
//!
//! It prints, per request kind, the slowest of its runs (milliseconds), then the time of a
//! minimal re-optimize after ten edits and the process's peak resident memory (`VmHWM`).

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::{Request, header};
use papermatch::serve::{AppState, router};
use papermatch::session::Session;
use papermatch::{AssignOptions, Instance};
use serde_json::{Value, json};
use tower::ServiceExt;

const TOKEN: &str = "bench";
const HOST: &str = "127.0.0.1:8480";

fn peak_rss_mb() -> f64 {
    common::peak_rss_mb().unwrap_or(f64::NAN)
}

async fn call(app: &axum::Router, method: &str, uri: &str, body: Option<Value>) -> (f64, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, HOST)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(body.map_or(Body::empty(), |b| Body::from(b.to_string())))
        .unwrap();
    let t = Instant::now();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    let ms = t.elapsed().as_secs_f64() * 1e3;
    assert!(
        status.is_success() || status.is_redirection(),
        "{method} {uri}: {status} {}",
        String::from_utf8_lossy(&bytes)
    );
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (ms, v)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = std::env::args().nth(1).expect("usage: workbench VENUE_DIR");
    let t = Instant::now();
    let files = papermatch::io::VenueFiles::from_dir(dir.as_ref()).unwrap();
    let instance = Instance::from_files(&files, &AssignOptions::default()).unwrap();
    let read = t.elapsed().as_secs_f64();
    let session = Session::start(instance, Default::default(), files.inputs(), None).unwrap();
    let start = t.elapsed().as_secs_f64();
    println!(
        "start: read {read:.2} s, read and solve {start:.2} s, peak {:.0} MB",
        peak_rss_mb()
    );
    let addr: SocketAddr = HOST.parse().unwrap();
    let state = Arc::new(AppState::with_token(session, addr, "bench", TOKEN.into()));
    let app = router(state.clone());

    let papers: Vec<String> = {
        let s = state.session.lock().unwrap();
        let n = s.instance().venue.n_papers();
        (0..20)
            .map(|k| s.instance().venue.papers[k * n / 20].id.clone())
            .collect()
    };
    let reviewers: Vec<String> = {
        let s = state.session.lock().unwrap();
        let n = s.instance().venue.n_reviewers();
        (0..10)
            .map(|k| s.instance().venue.reviewers[k * n / 10].id.clone())
            .collect()
    };
    let mut rows: Vec<(&str, f64)> = Vec::new();
    let mut worst = |name: &'static str, ms: f64| match rows.iter_mut().find(|r| r.0 == name) {
        Some(r) => r.1 = r.1.max(ms),
        None => rows.push((name, ms)),
    };
    // The first overview also computes the chart of all eligible pairs, once per session.
    let (first, _) = call(&app, "GET", "/", None).await;
    for _ in 0..3 {
        worst(
            "GET /api/summary",
            call(&app, "GET", "/api/summary", None).await.0,
        );
        worst(
            "GET / (overview page)",
            call(&app, "GET", "/", None).await.0,
        );
    }
    for q in [
        "pipeline",
        "parallel",
        "zzz-no-match",
        "quantization training",
    ] {
        let uri = format!("/api/papers?q={}&limit=50", q.replace(' ', "+"));
        worst(
            "GET /api/papers?q= (search)",
            call(&app, "GET", &uri, None).await.0,
        );
        let uri = format!("/papers?q={}&sort=weakest", q.replace(' ', "+"));
        worst(
            "GET /papers?q=&sort=weakest (page)",
            call(&app, "GET", &uri, None).await.0,
        );
    }
    for p in &papers {
        worst(
            "GET /api/papers/{id}",
            call(&app, "GET", &format!("/api/papers/{p}"), None).await.0,
        );
        worst(
            "GET /papers/{id} (page)",
            call(&app, "GET", &format!("/papers/{p}"), None).await.0,
        );
    }
    for r in &reviewers {
        worst(
            "GET /api/reviewers/{id}",
            call(&app, "GET", &format!("/api/reviewers/{r}"), None)
                .await
                .0,
        );
        worst(
            "GET /reviewers/{id} (page)",
            call(&app, "GET", &format!("/reviewers/{r}"), None).await.0,
        );
    }
    // Ten edits: swaps for the best alternate with spare load, removals, a lock and a ban.
    for (k, p) in papers.iter().take(10).enumerate() {
        let (_, v) = call(&app, "GET", &format!("/api/papers/{p}"), None).await;
        let out = v["reviewers"][0]["reviewer_id"].clone();
        let alt = v["alternates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["spare_load"].as_u64() > Some(0))
            .map(|a| a["reviewer_id"].clone());
        let body = match (k % 4, alt) {
            (0 | 1, Some(alt)) => {
                json!({"op": "swap", "paper_id": p, "reviewer_id": out, "replacement": alt})
            }
            (2, _) => json!({"op": "remove", "paper_id": p, "reviewer_id": out}),
            (3, Some(alt)) => json!({"op": "ban", "paper_id": p, "reviewer_id": alt}),
            _ => json!({"op": "lock", "paper_id": p, "reviewer_id": out}),
        };
        worst(
            "POST /api/edits",
            call(&app, "POST", "/api/edits", Some(body)).await.0,
        );
        // Reads right after an edit, when nothing is cached.
        let (ms, _) = call(&app, "GET", "/api/summary", None).await;
        worst("GET /api/summary (after an edit)", ms);
        worst(
            "GET / (after an edit)",
            call(&app, "GET", "/", None).await.0,
        );
    }
    worst(
        "POST /api/undo",
        call(&app, "POST", "/api/undo", None).await.0,
    );
    worst(
        "POST /api/redo",
        call(&app, "POST", "/api/redo", None).await.0,
    );
    let (ms, r) = call(
        &app,
        "POST",
        "/api/reoptimize",
        Some(json!({"mode": "minimal"})),
    )
    .await;
    worst("POST /api/reoptimize minimal, after 10 edits", ms);
    println!("first overview (computes the eligible-pair chart once): {first:.0} ms");
    println!("{:<48} {:>9}", "request (slowest run)", "ms");
    for (name, ms) in &rows {
        println!("{name:<48} {ms:>9.1}");
    }
    println!(
        "minimal re-optimize: {} pairs changed, total {} (optimum {}), {} violations",
        r["pairs_changed"],
        r["total"],
        r["optimum"],
        r["violations"].as_array().map_or(0, Vec::len)
    );
    let (ms, r) = call(
        &app,
        "POST",
        "/api/reoptimize",
        Some(json!({"mode": "full"})),
    )
    .await;
    println!(
        "full re-optimize: {ms:.0} ms, {} pairs changed, total {}",
        r["pairs_changed"], r["total"]
    );
    println!("peak resident memory: {:.0} MB", peak_rss_mb());
}
