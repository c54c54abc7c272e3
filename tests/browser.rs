//! Renders the HTML report in a real browser (headless Chromium). Skipped, with a message, when
//! no Chromium is installed (`apt-get install chromium`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The first of `names` found on the PATH.
fn program(names: &[&str]) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

fn chromium() -> Option<PathBuf> {
    program(&["chromium", "chromium-browser", "google-chrome"])
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

/// A minimal WebDriver client (W3C protocol over HTTP/1.1) for ChromeDriver on loopback.
mod webdriver {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    use serde_json::{Value, json};

    /// One browser session.
    pub struct Driver {
        pub port: u16,
        pub session: String,
    }

    /// Sends one request and returns the JSON `value` of the answer.
    pub fn call(port: u16, method: &str, path: &str, body: Option<&Value>) -> Value {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("chromedriver answers");
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        // Read the head, then exactly the body its Content-Length gives (the driver may keep
        // the connection open) or, chunked, up to the last chunk.
        let mut raw = Vec::new();
        let mut buf = [0u8; 8192];
        let head_end = loop {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "chromedriver closed the connection");
            raw.extend_from_slice(&buf[..n]);
            if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
        };
        let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok());
        let chunked = head.contains("transfer-encoding: chunked");
        loop {
            let have = raw.len() - head_end;
            let done = match length {
                Some(n) => have >= n,
                None if chunked => raw.ends_with(b"0\r\n\r\n"),
                None => false,
            };
            if done {
                break;
            }
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&buf[..n]);
        }
        let rest = String::from_utf8_lossy(&raw[head_end..]).into_owned();
        let body = if chunked {
            let mut out = String::new();
            let mut rest = rest.as_str();
            while let Some((size, tail)) = rest.split_once("\r\n") {
                let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                if n == 0 {
                    break;
                }
                out.push_str(&tail[..n]);
                rest = &tail[n + 2..];
            }
            out
        } else {
            rest
        };
        let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        v["value"].clone()
    }

    impl Driver {
        pub fn start(port: u16, browser: &str) -> Driver {
            let caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
                "binary": browser,
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                         "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync",
                         "--window-size=1300,1800"]
            }}}});
            let v = call(port, "POST", "/session", Some(&caps));
            let session = v["sessionId"]
                .as_str()
                .unwrap_or_else(|| panic!("no WebDriver session: {v}"))
                .to_string();
            let d = Driver { port, session };
            // Finding an element waits for it, up to 10 s, while a page loads.
            call(
                port,
                "POST",
                &d.at("/timeouts"),
                Some(&json!({"implicit": 10_000})),
            );
            d
        }

        /// Waits up to 15 s for `ok`, then panics naming `what`.
        pub fn wait_until(&self, what: &str, ok: impl Fn(&Driver) -> bool) {
            for _ in 0..150 {
                if ok(self) {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            panic!(
                "timed out waiting for {what} at {}:\n{}",
                self.url(),
                self.source()
            );
        }

        fn at(&self, path: &str) -> String {
            format!("/session/{}{path}", self.session)
        }

        pub fn go(&self, url: &str) {
            call(
                self.port,
                "POST",
                &self.at("/url"),
                Some(&json!({ "url": url })),
            );
        }

        /// The element `css` selects (panics when there is none).
        pub fn find(&self, css: &str) -> String {
            let v = call(
                self.port,
                "POST",
                &self.at("/element"),
                Some(&json!({"using": "css selector", "value": css})),
            );
            v.as_object()
                .and_then(|o| o.values().next())
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("no element `{css}`: {v}\n{}", self.source()))
                .to_string()
        }

        pub fn click(&self, css: &str) {
            let e = self.find(css);
            call(
                self.port,
                "POST",
                &self.at(&format!("/element/{e}/click")),
                Some(&json!({})),
            );
        }

        pub fn type_into(&self, css: &str, text: &str) {
            let e = self.find(css);
            call(
                self.port,
                "POST",
                &self.at(&format!("/element/{e}/clear")),
                Some(&json!({})),
            );
            call(
                self.port,
                "POST",
                &self.at(&format!("/element/{e}/value")),
                Some(&json!({ "text": text })),
            );
        }

        pub fn text(&self, css: &str) -> String {
            let e = self.find(css);
            call(
                self.port,
                "GET",
                &self.at(&format!("/element/{e}/text")),
                None,
            )
            .as_str()
            .unwrap_or_default()
            .to_string()
        }

        pub fn url(&self) -> String {
            call(self.port, "GET", &self.at("/url"), None)
                .as_str()
                .unwrap_or_default()
                .to_string()
        }

        pub fn source(&self) -> String {
            call(self.port, "GET", &self.at("/source"), None)
                .as_str()
                .unwrap_or_default()
                .to_string()
        }
    }

    impl Drop for Driver {
        fn drop(&mut self) {
            call(
                self.port,
                "DELETE",
                &format!("/session/{}", self.session),
                None,
            );
        }
    }
}

/// Kills a child process when dropped (the test's server and ChromeDriver).
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn workbench_works_in_headless_chromium() {
    use std::io::BufRead;
    use std::process::Stdio;
    let (Some(browser), Some(driver)) = (chromium(), program(&["chromedriver"])) else {
        eprintln!(
            "skipping workbench_works_in_headless_chromium: needs Chromium and ChromeDriver \
             (apt-get install chromium chromium-driver)"
        );
        return;
    };
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/want-workshop");
    let mut server = Killed(
        Command::new(env!("CARGO_BIN_EXE_papermatch"))
            .args(["serve", example.to_str().unwrap(), "--port", "0", "-q"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    std::io::BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().to_string();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.contains("?token="),
        "{url}"
    );
    let base = url.split("/?").next().unwrap().to_string();

    let port = free_port();
    let _chromedriver = Killed(
        Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let b = webdriver::Driver::start(port, browser.to_str().unwrap());

    // Open the app with its token: the overview.
    b.go(&url);
    assert!(b.text("h1").contains("Overview"), "{}", b.source());
    assert!(b.text("#violations").contains("every constraint holds"));
    // Search a paper and open it.
    b.go(&format!("{base}/papers"));
    b.type_into("#paper-search", "W002");
    b.click("main form button[type=submit]");
    b.wait_until("the search", |b| b.url().contains("q=W002"));
    b.click("#papers a[href='/papers/W002']");
    b.wait_until("paper W002", |b| b.text("h1").contains("W002"));
    // Swap a reviewer for the best alternate.
    b.click("#alternates button.op-swap");
    b.wait_until("the swap", |b| {
        b.text("#message").starts_with("swap reviewer")
    });
    // Re-optimize around it, then save.
    b.go(&format!("{base}/"));
    b.click("#reoptimize-minimal");
    b.wait_until("the re-optimize", |b| {
        b.text("#message").starts_with("re-optimized")
    });
    assert!(b.text("#violations").contains("every constraint holds"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("chosen.csv");
    b.type_into("#save-output", out.to_str().unwrap());
    b.click("#save-button");
    b.wait_until("the save", |b| b.text("#message").starts_with("saved"));
    // The file holds the swap: W002 has the new reviewer, and evaluate accepts it.
    let locks = std::fs::read_to_string(dir.path().join("locks.csv")).unwrap();
    let bans = std::fs::read_to_string(dir.path().join("bans.csv")).unwrap();
    assert_eq!(
        locks.lines().filter(|l| l.starts_with("W002,")).count(),
        1,
        "{locks}"
    );
    assert_eq!(
        bans.lines().filter(|l| l.starts_with("W002,")).count(),
        1,
        "{bans}"
    );
    let locked = locks.lines().find(|l| l.starts_with("W002,")).unwrap();
    let saved = std::fs::read_to_string(&out).unwrap();
    assert!(saved.lines().any(|l| l.starts_with(locked)), "{saved}");
    let o = Command::new(env!("CARGO_BIN_EXE_papermatch"))
        .args(["evaluate", example.to_str().unwrap(), "--assignment"])
        .arg(&out)
        .args(["--locks"])
        .arg(dir.path().join("locks.csv"))
        .args(["--bans"])
        .arg(dir.path().join("bans.csv"))
        .args(["--json", "-q", "--no-optimum"])
        .output()
        .unwrap();
    let ev: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(ev["feasible"], true, "{ev}");
}
