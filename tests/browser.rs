//! Renders the HTML report in a real browser (headless Chromium). Skipped, with a message, when
//! no Chromium is installed (`apt-get install chromium`).

use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(name))
                    .find(|p| p.is_file())
            })
        })
}

fn headless(browser: &Path, profile: &Path, extra: &[&str], url: &str) -> std::process::Output {
    Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("chromium runs")
}

#[test]
fn report_renders_in_headless_chromium() {
    let Some(browser) = chromium() else {
        eprintln!(
            "skipping report_renders_in_headless_chromium: no Chromium installed (apt-get install chromium)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/want-workshop");
    let a = dir.path().join("a.csv");
    let html = dir.path().join("report.html");
    let bin = env!("CARGO_BIN_EXE_papermatch");
    let ok = Command::new(bin)
        .args([
            "assign",
            example.to_str().unwrap(),
            "-q",
            "-o",
            a.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(ok.success());
    let ok = Command::new(bin)
        .args([
            "report",
            example.to_str().unwrap(),
            "--assignment",
            a.to_str().unwrap(),
            "-o",
            html.to_str().unwrap(),
            "-q",
        ])
        .status()
        .unwrap();
    assert!(ok.success());
    let url = format!("file://{}", html.display());
    let profile = dir.path().join("profile");
    // The DOM the browser built: three charts, every bar present.
    let dom = headless(&browser, &profile, &["--dump-dom"], &url);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert_eq!(dom.matches("<svg").count(), 3, "{dom}");
    assert_eq!(dom.matches(r#"class="bar paper-totals""#).count(), 20);
    assert!(dom.contains("Worst-served papers"));
    // And the pixels: a real screenshot of some size.
    let png = dir.path().join("report.png");
    let shot = format!("--screenshot={}", png.display());
    headless(
        &browser,
        &profile,
        &[&shot, "--window-size=1200,1800"],
        &url,
    );
    let bytes = std::fs::read(&png).expect("a screenshot");
    assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
    assert!(
        bytes.len() > 20_000,
        "screenshot too small to show the charts: {} bytes",
        bytes.len()
    );
}
