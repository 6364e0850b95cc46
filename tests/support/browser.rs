#![allow(dead_code)] // shared by browser tests; each uses a part
//! A real headless Chromium driven over WebDriver: Debian's `chromium` and
//! `chromium-driver`, a chromedriver on a free port, a fresh profile per browser.
//!
//! Missing programs fail the test with the command that installs them: a browser test
//! that cannot run must never pass by skipping.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use super::process::{free_port, signal};

/// How long a page may take to show what a step waits for.
pub const WAIT: Duration = Duration::from_secs(15);

const INSTALL: &str = "install them with: apt-get install -y chromium chromium-driver";

/// Finds an executable by name on PATH (or at an absolute path).
fn which(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in names {
        let direct = Path::new(name);
        if direct.is_absolute() && direct.is_file() {
            return Some(direct.to_path_buf());
        }
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// A chromedriver process (in its own process group, so Chromium goes with it) and the
/// profile directory of the browsers it starts.
pub struct Driver {
    child: Child,
    pub port: u16,
    chromium: PathBuf,
    profile: tempfile::TempDir,
}

impl Driver {
    /// Starts chromedriver on a free port and waits until it is ready. Panics with the
    /// install command when chromium or chromedriver is missing.
    pub fn start() -> Driver {
        let chromium = which(&["chromium", "chromium-browser", "/usr/lib/chromium/chromium"])
            .unwrap_or_else(|| {
                panic!("the browser test needs Chromium, and `chromium` is not on PATH; {INSTALL}")
            });
        let chromedriver = which(&["chromedriver", "/usr/lib/chromium/chromedriver"])
            .unwrap_or_else(|| panic!("the browser test needs chromedriver, and `chromedriver` is not on PATH; {INSTALL}"));
        let port = free_port();
        let child = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", chromedriver.display()));
        let profile = tempfile::tempdir().expect("a profile directory");
        let mut driver = Driver {
            child,
            port,
            chromium,
            profile,
        };
        driver.wait_ready();
        driver
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let url = format!("http://127.0.0.1:{}/status", self.port);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("chromedriver exited at start with {status}");
            }
            let ready = reqwest::blocking::get(&url)
                .ok()
                .and_then(|r| r.json::<Value>().ok())
                .is_some_and(|v| v["value"]["ready"] == json!(true));
            if ready {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("chromedriver was not ready after 20 s");
    }

    /// The capabilities for a headless Chromium with a fresh profile. Without the
    /// background-networking flags Chromium keeps trying hosts this machine cannot reach.
    fn capabilities(&self) -> serde_json::Map<String, Value> {
        let caps = json!({
            "browserName": "chrome",
            "goog:loggingPrefs": { "browser": "ALL" },
            "goog:chromeOptions": {
                "binary": self.chromium,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-dev-shm-usage",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", self.profile.path().display()),
                ],
            },
        });
        match caps {
            Value::Object(map) => map,
            _ => unreachable!("a JSON object"),
        }
    }

    /// Opens a browser session.
    pub async fn connect(&self) -> Client {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(self.capabilities())
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .unwrap_or_else(|e| panic!("chromedriver could not start Chromium: {e}"))
    }
}

/// Reads the browser's console through chromedriver's log endpoint.
pub struct Console {
    driver: String,
}

impl Driver {
    /// A reader of the console of the sessions this driver runs.
    pub fn console(&self) -> Console {
        Console {
            driver: format!("http://127.0.0.1:{}", self.port),
        }
    }
}

impl Console {
    /// The console errors since the last call: script exceptions, CSP refusals and the
    /// like. Failed HTTP answers (a 401 from `/me` before signing in, an API's 404) are
    /// how the app learns things, so they are left out.
    pub async fn errors(&self, c: &Client) -> Vec<String> {
        let session = c
            .session_id()
            .await
            .ok()
            .flatten()
            .expect("a browser session");
        let res = reqwest::Client::new()
            .post(format!("{}/session/{session}/se/log", self.driver))
            .json(&json!({"type": "browser"}))
            .send()
            .await
            .expect("chromedriver answers the log request");
        let body: Value = res.json().await.expect("the log as JSON");
        body["value"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|e| e["level"] == "SEVERE")
            .filter_map(|e| e["message"].as_str().map(str::to_owned))
            .filter(|m| !m.contains("Failed to load resource"))
            .collect()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // The whole group: chromedriver and any Chromium it left behind.
            signal_group(self.child.id(), "TERM");
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            signal_group(self.child.id(), "KILL");
            let _ = self.child.wait();
        }
    }
}

/// Signals the process group led by `pid` (started with `process_group(0)`).
fn signal_group(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .args([format!("-{name}"), "--".into(), format!("-{pid}")])
        .status();
    signal(pid, name);
}

/// Where screenshots go: `target/screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("screenshots");
    std::fs::create_dir_all(&dir).expect("the screenshot folder");
    dir
}

/// Saves a PNG of the whole page: the window is grown until the page fits, then put back.
pub async fn screenshot(c: &Client, name: &str) -> PathBuf {
    let (width, height) = c.get_window_size().await.expect("window size");
    let mut window = height;
    // The viewport is shorter than the window by the browser's own chrome; two rounds
    // settle it (the page can reflow once its scrollbar goes).
    for _ in 0..3 {
        let overflow = eval(
            c,
            "document.documentElement.scrollHeight - window.innerHeight",
        )
        .await
        .as_i64()
        .unwrap_or(0);
        if overflow <= 0 || window >= 8000 {
            break;
        }
        window += overflow as u64;
        c.set_window_size(width as u32, window.min(8000) as u32)
            .await
            .expect("resize for the shot");
    }
    let png = c.screenshot().await.expect("a screenshot");
    if window != height {
        c.set_window_size(width as u32, height as u32)
            .await
            .expect("resize back");
    }
    let path = screenshot_dir().join(format!("{name}.png"));
    std::fs::write(&path, png).expect("the screenshot is written");
    path
}

/// Waits for an element matching `css` to be present.
pub async fn find(c: &Client, css: &str) -> Element {
    match c.wait().at_most(WAIT).for_element(Locator::Css(css)).await {
        Ok(el) => el,
        Err(e) => panic!(
            "no element matches `{css}` after {WAIT:?} ({e}); the page says:\n{}",
            page_text(c).await
        ),
    }
}

/// Waits until an element matching `css` is displayed and its text contains `needle`
/// (case-insensitively); returns that element's text.
pub async fn wait_text(c: &Client, css: &str, needle: &str) -> String {
    let deadline = Instant::now() + WAIT;
    let wanted = needle.to_lowercase();
    loop {
        if let Ok(els) = c.find_all(Locator::Css(css)).await {
            for el in els {
                let shown = el.is_displayed().await.unwrap_or(false);
                let text = el.text().await.unwrap_or_default();
                if shown && text.to_lowercase().contains(&wanted) {
                    return text;
                }
            }
        }
        if Instant::now() > deadline {
            panic!(
                "no visible `{css}` says {needle:?} after {WAIT:?}; the page says:\n{}",
                page_text(c).await
            );
        }
        rocket::tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `check(text of css)` holds; returns the text.
pub async fn wait_until(c: &Client, css: &str, what: &str, check: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(el) = c.find(Locator::Css(css)).await {
            let text = el.text().await.unwrap_or_default();
            if check(&text) {
                return text;
            }
        }
        if Instant::now() > deadline {
            panic!(
                "`{css}` never became {what} after {WAIT:?}; the page says:\n{}",
                page_text(c).await
            );
        }
        rocket::tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the location's path is `path`.
pub async fn wait_path(c: &Client, path: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(url) = c.current_url().await {
            if url.path() == path {
                return;
            }
        }
        if Instant::now() > deadline {
            let now = c
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            panic!(
                "expected the page {path}, still at {now}; the page says:\n{}",
                page_text(c).await
            );
        }
        rocket::tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Types `text` into the input matching `css` (after clearing it).
pub async fn fill(c: &Client, css: &str, text: &str) {
    let el = find(c, css).await;
    el.clear().await.expect("clear the input");
    el.send_keys(text).await.expect("type into the input");
}

/// Clicks the element matching `css`.
pub async fn click(c: &Client, css: &str) {
    find(c, css)
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("click `{css}`: {e}"));
}

/// Clicks the visible button or link whose text is `label`.
pub async fn click_text(c: &Client, label: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(els) = c
            .find_all(Locator::XPath(&format!(
                "//button[normalize-space(.)='{label}'] | //a[normalize-space(.)='{label}']"
            )))
            .await
        {
            for el in els {
                let usable = el.is_displayed().await.unwrap_or(false)
                    && el.is_enabled().await.unwrap_or(false);
                if usable && el.click().await.is_ok() {
                    return;
                }
            }
        }
        if Instant::now() > deadline {
            panic!(
                "no usable button or link {label:?}; the page says:\n{}",
                page_text(c).await
            );
        }
        rocket::tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The visible text of the page, for failure messages.
pub async fn page_text(c: &Client) -> String {
    match c.find(Locator::Css("body")).await {
        Ok(body) => body.text().await.unwrap_or_default(),
        Err(e) => format!("(no page: {e})"),
    }
}

/// Evaluates a JavaScript expression and returns its JSON value.
pub async fn eval(c: &Client, expr: &str) -> Value {
    c.execute(&format!("return ({expr});"), vec![])
        .await
        .unwrap_or_else(|e| panic!("evaluate `{expr}`: {e}"))
}
