//! A real OpenID provider for the tests: `provider.mjs` beside this file (the npm package
//! `oidc-provider`) run by the machine's node, installed with `npm ci` from the pinned
//! lock file into the test's target directory when it is not there yet. A failed install
//! fails the test with npm's output: nothing is skipped.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, OnceLock};

use base64::Engine;

use crate::support::Watched;

const SOURCES: [&str; 3] = ["package.json", "package-lock.json", "provider.mjs"];

/// The directory holding `provider.mjs` and its installed `node_modules` (installed once
/// per test process; tests that start at the same time wait for that one install).
fn installed() -> &'static Path {
    static DIRECTORY: OnceLock<PathBuf> = OnceLock::new();
    DIRECTORY.get_or_init(|| {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
        let directory = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oidc-provider");
        std::fs::create_dir_all(&directory).expect("a directory for the provider");
        let lock = std::fs::read(source.join("package-lock.json")).expect("the provider's package-lock.json");
        let installed_lock = std::fs::read(directory.join("node_modules/.tally-lock")).ok();
        for file in SOURCES {
            std::fs::copy(source.join(file), directory.join(file)).expect("the provider's files copied");
        }
        if installed_lock.as_deref() != Some(&lock[..]) {
            let output = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&directory)
                .output()
                .unwrap_or_else(|e| panic!("npm cannot run ({e}): install Node.js and npm (./test.sh does)"));
            assert!(
                output.status.success(),
                "`npm ci` of the test OpenID provider failed in {}:\n{}{}",
                directory.display(),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            std::fs::write(directory.join("node_modules/.tally-lock"), lock).expect("the install recorded");
        }
        directory
    })
}

/// A running provider on 127.0.0.1, killed on drop.
pub struct Provider {
    child: Child,
    stdin: ChildStdin,
    pub issuer: String,
    /// What the provider printed on standard output, line by line.
    lines: Arc<Watched<Vec<String>>>,
}

impl Provider {
    /// Starts a provider whose tokens are for `audience` unless another resource is asked for.
    pub fn start(audience: &str) -> Provider {
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .current_dir(installed())
            .env("TALLY_AUDIENCE", audience)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("node cannot run ({e}): install Node.js (./test.sh does)"));
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let lines = Watched::<Vec<String>>::new();
        let collected = lines.clone();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                collected.update(|lines| lines.push(line));
            }
        });
        let issuer = printed_after(&lines, "listening ", 0);
        Provider { child, stdin, issuer, lines }
    }

    /// A JWT access token from the token endpoint by client credentials (RFC 6749 §4.4).
    pub fn token(&self, client: &str, scope: &str, resource: Option<&str>) -> String {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{client}:{client}-secret"));
        let mut form = vec![("grant_type", "client_credentials"), ("scope", scope)];
        form.extend(resource.map(|resource| ("resource", resource)));
        let mut response = agent
            .post(format!("{}/token", self.issuer))
            .header("Authorization", format!("Basic {basic}"))
            .send_form(form)
            .expect("the provider answers");
        let body: serde_json::Value = response.body_mut().read_json().expect("a JSON token response");
        assert_eq!(response.status(), 200, "the token request failed: {body}");
        body["access_token"].as_str().expect("an access token").to_owned()
    }

    /// Makes the provider sign with a new key (keeping the old one published); answers
    /// the new key's id once the provider says it uses it.
    pub fn rotate(&mut self) -> String {
        let seen = self.lines.value.lock().unwrap().len();
        writeln!(self.stdin, "rotate").expect("the provider reads commands");
        printed_after(&self.lines, "rotated ", seen)
    }

    /// Registers an authorization-code client (`client_id`, `client_secret`,
    /// `redirect_uris`, …, as OpenID Connect Dynamic Client Registration spells them).
    pub fn register_client(&mut self, client: serde_json::Value) {
        let seen = self.lines.value.lock().unwrap().len();
        writeln!(self.stdin, "client {client}").expect("the provider reads commands");
        printed_after(&self.lines, "client ", seen);
    }

    /// The claims the person signing in as `login` gets (`name`, `email`, `groups`).
    pub fn account(&mut self, login: &str, claims: serde_json::Value) {
        let seen = self.lines.value.lock().unwrap().len();
        writeln!(self.stdin, "account {login} {claims}").expect("the provider reads commands");
        printed_after(&self.lines, &format!("account {login}"), seen);
    }

    /// How many times the provider has served its JWKS so far.
    pub fn key_fetches(&mut self) -> usize {
        let seen = self.lines.value.lock().unwrap().len();
        writeln!(self.stdin, "ping").expect("the provider reads commands");
        // Standard output keeps its order: every fetch printed before `pong` is in.
        printed_after(&self.lines, "pong", seen);
        self.lines.value.lock().unwrap().iter().filter(|line| *line == "served keys").count()
    }
}

/// The rest of the first line printed from line `from` on that starts with `marker`.
fn printed_after(lines: &Watched<Vec<String>>, marker: &str, from: usize) -> String {
    let lines = lines.when(&format!("printed {marker:?}"), |lines| {
        lines.iter().skip(from).any(|line| line.starts_with(marker))
    });
    let line = lines.iter().skip(from).find(|line| line.starts_with(marker)).expect("the line");
    line[marker.len()..].trim().to_owned()
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The JSON of a token's header or claims (`part` 0 or 1), for assertions.
pub fn decoded(token: &str, part: usize) -> serde_json::Value {
    let text = token.split('.').nth(part).expect("a JWT part");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON")
}
