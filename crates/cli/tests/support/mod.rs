//! What the tests of the `tally` binary share: the binary with a clean environment, a
//! running `tally serve` (or `tally insights serve`) child process, and HTTP calls to it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine;

/// The `tally` binary, without the operator's credential from the environment.
pub fn tally() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tally"));
    command.env_remove("TALLY_ADMIN_KEY").env_remove("TALLY_ADMIN_SECRET").env("TALLY_LOG", "info");
    command
}

/// The `tally` binary on a test database (its `--data-dir` or `--database-url`).
pub fn tally_on(db: &test_support::TestDatabase) -> Command {
    let mut command = tally();
    match db.database_url() {
        Some(url) => command.args(["--database-url", url]),
        None => command.arg("--data-dir").arg(db.data_dir()),
    };
    command
}

/// Runs a command to its end; answers its output, failing the test when it failed.
pub fn stdout_of(command: &mut Command) -> String {
    let output = command.output().expect("tally runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// Something a background thread adds to, with the signal it gives after each addition.
pub struct Watched<T> {
    pub value: Mutex<T>,
    changed: Condvar,
}

impl<T: Default> Watched<T> {
    pub fn new() -> Arc<Watched<T>> {
        Arc::new(Watched { value: Mutex::new(T::default()), changed: Condvar::new() })
    }
}

impl<T> Watched<T> {
    /// Changes the value and wakes whoever waits on it.
    pub fn update(&self, change: impl FnOnce(&mut T)) {
        change(&mut self.value.lock().unwrap());
        self.changed.notify_all();
    }

    /// The value once `ready` holds for it: woken by each [`Watched::update`], failing the
    /// test after 30 s.
    pub fn when(&self, what: &str, ready: impl Fn(&T) -> bool) -> MutexGuard<'_, T>
    where
        T: std::fmt::Debug,
    {
        let (value, waited) = self
            .changed
            .wait_timeout_while(self.value.lock().unwrap(), Duration::from_secs(30), |value| !ready(value))
            .unwrap();
        assert!(!waited.timed_out(), "never {what}: {value:?}");
        value
    }
}

/// An answer, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    headers: ureq::http::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// A `tally serve` child process, killed on drop.
pub struct Serving {
    child: Child,
    pub base_url: String,
    /// Everything the server logged (read in the background).
    pub log: Arc<Watched<String>>,
}

impl Serving {
    pub fn start(command: Command) -> Serving {
        Serving::start_as(command, &["serve", "--bind", "127.0.0.1:0"], "xAPI at ")
    }

    /// Runs `tally <args>` and waits for the log line with `marker` before its URL.
    pub fn start_as(command: Command, args: &[&str], marker: &str) -> Serving {
        Serving::start_logging_to(command, args, marker, Watched::<String>::new())
    }

    /// The same, adding what it logs to `log` (which several servers may share, so that a
    /// test can wait for an event any of them logs).
    pub fn start_logging_to(
        mut command: Command,
        args: &[&str],
        marker: &str,
        log: Arc<Watched<String>>,
    ) -> Serving {
        let mut child = command
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tally serve starts");
        let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let mut base_url = None;
        for line in stderr.by_ref().lines() {
            let line = line.expect("log line");
            log.update(|log| log.push_str(&format!("{line}\n")));
            if let Some(at) = line.find(marker) {
                base_url =
                    Some(line[at + marker.len()..].split_whitespace().next().expect("url").to_string());
                break;
            }
        }
        let Some(base_url) = base_url else {
            let _ = child.kill();
            panic!("tally {args:?} did not log its address:\n{}", log.value.lock().unwrap());
        };
        let stderr_rest = stderr;
        // Keep draining the log so the server never blocks on a full pipe.
        let collected = log.clone();
        std::thread::spawn(move || {
            for line in stderr_rest.lines().map_while(Result::ok) {
                collected.update(|log| log.push_str(&format!("{line}\n")));
            }
        });
        Serving { child, base_url, log }
    }

    /// The log once `ready` holds for it (waits up to 30 s), as one text.
    pub fn log_when(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        self.log.when(&format!("logged {what}"), |log| ready(log)).clone()
    }

    pub fn status_with(&self, key: &str, secret: &str) -> u16 {
        self.request("GET", key, secret, "").0
    }

    /// Sends a statements request; answers status and body.
    pub fn request(&self, method: &str, key: &str, secret: &str, body: &str) -> (u16, String) {
        self.call(method, "/xapi/statements", (key, secret), body)
    }

    /// The server's root URL (the logged URL without its `/xapi` or `/insights`).
    pub fn root(&self) -> &str {
        self.base_url.rsplit_once('/').map_or(self.base_url.as_str(), |(root, _)| root)
    }

    /// Sends a JSON request to a path under the root; answers status and body.
    pub fn call(&self, method: &str, path: &str, credential: (&str, &str), body: &str) -> (u16, String) {
        let reply = self.send(method, path, credential, "application/json", body);
        (reply.status, reply.body)
    }

    /// Sends a request with a body of this content type to a path under the root.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        (key, secret): (&str, &str),
        content_type: &str,
        body: &str,
    ) -> Reply {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{key}:{secret}"));
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.root()))
            .header("Authorization", format!("Basic {auth}"))
            .header("X-Experience-API-Version", "1.0.3")
            .header("Content-Type", content_type)
            .body(body.as_bytes().to_vec())
            .expect("a request");
        let response = agent.run(request).expect("the server answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().read_to_string().unwrap_or_default();
        Reply { status, headers, body }
    }

    /// Stores `statement` with an attachment of `content` (text/plain), sent as multipart;
    /// answers its id.
    pub fn post_with_attachment(
        &self,
        credential: (&str, &str),
        mut statement: serde_json::Value,
        content: &str,
    ) -> String {
        use sha2::Digest;
        let sha2: String =
            sha2::Sha256::digest(content.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        statement["attachments"] = serde_json::json!([{ "usageType": "http://example.com/certificate",
            "display": { "en": "certificate" }, "contentType": "text/plain", "length": content.len(), "sha2": sha2 }]);
        let body = format!(
            "--b0undary\r\nContent-Type: application/json\r\n\r\n{}\r\n--b0undary\r\nContent-Type: text/plain\r\n\
             Content-Transfer-Encoding: binary\r\nX-Experience-API-Hash: {sha2}\r\n\r\n{content}\r\n--b0undary--\r\n",
            serde_json::json!([statement])
        );
        let reply =
            self.send("POST", "/xapi/statements", credential, "multipart/mixed; boundary=b0undary", &body);
        assert_eq!(reply.status, 200, "{}", reply.body);
        let ids: Vec<String> = serde_json::from_str(&reply.body).unwrap();
        ids[0].clone()
    }

    /// Every statement a credential reads, oldest first, as the server answers them (all
    /// pages, following `more`).
    pub fn statements(&self, credential: (&str, &str)) -> Vec<serde_json::Value> {
        let mut statements = Vec::new();
        let mut path = "/xapi/statements?ascending=true&limit=500".to_string();
        loop {
            let (status, body) = self.call("GET", &path, credential, "");
            assert_eq!(status, 200, "{body}");
            let page: serde_json::Value = serde_json::from_str(&body).unwrap();
            statements.extend(page["statements"].as_array().unwrap().iter().cloned());
            match page["more"].as_str() {
                Some(more) if !more.is_empty() => path = more.to_string(),
                _ => return statements,
            }
        }
    }

    /// The demo goal's report once the rollups have caught up with every statement.
    pub fn report_when_caught_up(&self, credential: (&str, &str)) -> serde_json::Value {
        self.wait_until_caught_up(credential);
        let (status, body) = self.call("GET", "/insights/goals/install-tickets/report", credential, "");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    /// Returns once the rollups have caught up with every statement (polling the engine's
    /// lag, which another process moves).
    pub fn wait_until_caught_up(&self, credential: (&str, &str)) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (status, body) = self.call("GET", "/insights/status", credential, "");
            assert_eq!(status, 200, "{body}");
            let lag: serde_json::Value = serde_json::from_str(&body).unwrap();
            if lag["rollups"]["statements_behind"] == 0 {
                break;
            }
            assert!(Instant::now() < deadline, "the rollups never caught up: {lag}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value after `name:` on a line of a command's output.
pub fn field(text: &str, name: &str) -> String {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{name}:")).map(|v| v.trim().to_string()))
        .unwrap_or_else(|| panic!("no {name} in {text:?}"))
}
