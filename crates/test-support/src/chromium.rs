//! Headless Chromium driven over the DevTools protocol, through a pipe.
//!
//! Chromium's `--remote-debugging-pipe` reads commands from its file descriptor 3 and
//! writes answers to 4, each a JSON text ended by a NUL byte. A shell maps the child's
//! standard input and output to those descriptors, so the driver is this file and
//! `serde_json`: no WebSocket client, no generated protocol crate, nothing more to build
//! on a two-core machine than the tests themselves.
//!
//! A test that needs Chromium fails when it is not installed, saying how to install it.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(30);

/// The Chromium binary: `TALLY_CHROMIUM`, else the first of the usual names on `PATH`.
fn binary() -> PathBuf {
    let candidates: Vec<PathBuf> = match std::env::var_os("TALLY_CHROMIUM") {
        Some(path) => vec![PathBuf::from(path)],
        None => {
            let names = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];
            std::env::var_os("PATH")
                .iter()
                .flat_map(std::env::split_paths)
                .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
                .collect()
        }
    };
    candidates.into_iter().find(|candidate| candidate.is_file()).unwrap_or_else(|| {
        panic!(
            "Chromium is not installed, and the browser tests of the web pages need it. Install it \
             with `apt-get install -y chromium` (Debian's package; ./test.sh does this when it is \
             missing), or set TALLY_CHROMIUM to a Chromium or Chrome binary."
        )
    })
}

/// A headless Chromium with one page open.
pub struct Chromium {
    child: Child,
    commands: ChildStdin,
    messages: Receiver<Value>,
    next_id: u64,
    session: String,
    _profile: tempfile::TempDir,
}

impl Chromium {
    pub fn launch() -> Chromium {
        let binary = binary();
        let profile = tempfile::tempdir().expect("a profile directory");
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>/dev/null"#)
            .arg(&binary)
            .args([
                "--headless=new",
                "--remote-debugging-pipe",
                // Tests run as root in CI, where Chromium's sandbox cannot start.
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--hide-scrollbars",
                "--window-size=1280,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let commands = child.stdin.take().expect("piped");
        let output = child.stdout.take().expect("piped");
        let (sender, messages) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(output);
            let mut message = Vec::new();
            while reader.read_until(0, &mut message).is_ok_and(|n| n > 0) {
                message.pop();
                if let Ok(value) = serde_json::from_slice::<Value>(&message)
                    && sender.send(value).is_err()
                {
                    return;
                }
                message.clear();
            }
        });
        let mut browser =
            Chromium { child, commands, messages, next_id: 0, session: String::new(), _profile: profile };
        let target = browser.call("Target.createTarget", json!({ "url": "about:blank" }));
        let target = target["targetId"].as_str().expect("a target id").to_string();
        let attached = browser.call("Target.attachToTarget", json!({ "targetId": target, "flatten": true }));
        browser.session = attached["sessionId"].as_str().expect("a session id").to_string();
        browser
    }

    /// Sends a command (to the page, once attached) and waits for its answer.
    fn send(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut command = json!({ "id": id, "method": method, "params": params });
        if !self.session.is_empty() {
            command["sessionId"] = json!(self.session);
        }
        let mut bytes = command.to_string().into_bytes();
        bytes.push(0);
        self.commands
            .write_all(&bytes)
            .and_then(|()| self.commands.flush())
            .expect("Chromium took the command");
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.messages.recv_timeout(left) {
                // Events carry no id; only the answer to this command matters here.
                Ok(message) if message["id"] == json!(id) => {
                    return match message.get("error") {
                        Some(error) => Err(error.clone()),
                        None => Ok(message["result"].clone()),
                    };
                }
                Ok(_) => continue,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("Chromium did not answer {method} within {TIMEOUT:?}")
                }
                Err(RecvTimeoutError::Disconnected) => panic!("Chromium exited while answering {method}"),
            }
        }
    }

    fn call(&mut self, method: &str, params: Value) -> Value {
        self.send(method, params).unwrap_or_else(|e| panic!("{method} failed: {e}"))
    }

    /// Evaluates JavaScript in the page (the page itself runs none) and answers its value;
    /// `Err` while the page is being replaced.
    fn try_eval(&mut self, expression: &str) -> Result<Value, Value> {
        let result = self.send(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        )?;
        match result.get("exceptionDetails") {
            Some(details) => Err(details.clone()),
            None => Ok(result["result"]["value"].clone()),
        }
    }

    pub fn eval(&mut self, expression: &str) -> Value {
        self.try_eval(expression).unwrap_or_else(|e| panic!("{expression}: {e}"))
    }

    /// Waits until a new document has replaced the one marked before, and has loaded.
    fn wait_for_new_document(&mut self) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let state = self.try_eval("window.__tallyOld === true ? 'old' : document.readyState");
            if state == Ok(json!("complete")) {
                return;
            }
            assert!(Instant::now() < deadline, "the page did not load within {TIMEOUT:?} ({state:?})");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Opens a URL and waits for it to load.
    pub fn goto(&mut self, url: &str) {
        let _ = self.try_eval("window.__tallyOld = true");
        self.call("Page.navigate", json!({ "url": url }));
        self.wait_for_new_document();
    }

    /// Clicks what `selector` finds (a link or a submit button) and waits for the page it
    /// leads to.
    pub fn click_and_wait(&mut self, selector: &str) {
        self.eval("window.__tallyOld = true");
        let clicked = self.eval(&format!(
            "(() => {{ const e = document.querySelector({}); if (!e) return false; e.click(); return true; }})()",
            json!(selector)
        ));
        assert_eq!(clicked, json!(true), "nothing to click at {selector} on {}", self.url());
        self.wait_for_new_document();
    }

    /// Types into a form control (replacing its value).
    pub fn fill(&mut self, selector: &str, value: &str) {
        let done = self.eval(&format!(
            "(() => {{ const e = document.querySelector({}); if (!e) return false; e.value = {}; return true; }})()",
            json!(selector),
            json!(value)
        ));
        assert_eq!(done, json!(true), "no control at {selector} on {}", self.url());
    }

    /// Ticks a checkbox.
    pub fn check(&mut self, selector: &str) {
        let done = self.eval(&format!(
            "(() => {{ const e = document.querySelector({}); if (!e) return false; e.checked = true; return true; }})()",
            json!(selector)
        ));
        assert_eq!(done, json!(true), "no checkbox at {selector}");
    }

    /// Chooses a file for an `<input type=file>`.
    pub fn choose_file(&mut self, selector: &str, path: &Path) {
        let found = self.call(
            "Runtime.evaluate",
            json!({ "expression": format!("document.querySelector({})", json!(selector)) }),
        );
        let object =
            found["result"]["objectId"].as_str().unwrap_or_else(|| panic!("no file input at {selector}"));
        self.call("DOM.setFileInputFiles", json!({ "files": [path], "objectId": object }));
    }

    /// The text of the first element `selector` finds (trimmed), or `None`.
    pub fn text(&mut self, selector: &str) -> Option<String> {
        self.eval(&format!("document.querySelector({})?.textContent.trim() ?? null", json!(selector)))
            .as_str()
            .map(str::to_string)
    }

    /// The texts of every element `selector` finds.
    pub fn texts(&mut self, selector: &str) -> Vec<String> {
        let value = self.eval(&format!(
            "Array.from(document.querySelectorAll({})).map(e => e.textContent.trim())",
            json!(selector)
        ));
        serde_json::from_value(value).unwrap_or_default()
    }

    /// Waits until the page's address contains `part` and that page has loaded (after a
    /// redirect the page itself starts, say).
    pub fn wait_for_url(&mut self, part: &str) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let state = self.try_eval("[location.href, document.readyState]");
            if let Ok(Value::Array(pair)) = &state
                && pair[0].as_str().is_some_and(|url| url.contains(part))
                && pair[1] == json!("complete")
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the page never reached {part} within {TIMEOUT:?} ({state:?})"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The HTTP status the page was answered with.
    pub fn status(&mut self) -> u16 {
        let status = self.eval("performance.getEntriesByType('navigation')[0]?.responseStatus ?? 0");
        status.as_u64().unwrap_or(0) as u16
    }

    /// The page's address.
    pub fn url(&mut self) -> String {
        self.eval("location.href").as_str().unwrap_or_default().to_string()
    }

    /// Saves a screenshot of the whole page as `dir/name.png`.
    pub fn screenshot(&mut self, dir: &Path, name: &str) {
        let metrics = self.call("Page.getLayoutMetrics", json!({}));
        let size = &metrics["cssContentSize"];
        let (width, height) =
            (size["width"].as_f64().unwrap_or(1280.0), size["height"].as_f64().unwrap_or(900.0));
        let shot = self.call(
            "Page.captureScreenshot",
            json!({
                "format": "png",
                "captureBeyondViewport": true,
                "clip": { "x": 0, "y": 0, "width": width, "height": height.min(16_000.0), "scale": 1 },
            }),
        );
        let data = shot["data"].as_str().expect("screenshot data");
        let png =
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, data).expect("base64 PNG");
        std::fs::create_dir_all(dir).expect("the screenshot directory");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("the screenshot is saved");
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
