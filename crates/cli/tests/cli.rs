//! The `tally` binary, run as a user would: serve, migrate and credentials, on both stores.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

use base64::Engine;
use test_support::{Backend, TestDatabase, backend_tests};

fn tally(db: &TestDatabase) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tally"));
    command.env_remove("TALLY_ADMIN_KEY").env_remove("TALLY_ADMIN_SECRET").env("TALLY_LOG", "info");
    match db.database_url() {
        Some(url) => command.args(["--database-url", url]),
        None => command.arg("--data-dir").arg(db.data_dir()),
    };
    command
}

fn stdout_of(command: &mut Command) -> String {
    let output = command.output().expect("tally runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// A `tally serve` child process, killed on drop.
struct Serving {
    child: Child,
    base_url: String,
    /// Everything the server logged (read in the background).
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Serving {
    fn start(mut command: Command) -> Serving {
        let mut child = command
            .args(["serve", "--bind", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tally serve starts");
        let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let mut base_url = None;
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        for line in stderr.by_ref().lines() {
            let line = line.expect("log line");
            log.lock().unwrap().push_str(&line);
            if let Some(at) = line.find("xAPI at ") {
                base_url = Some(line[at + 8..].split_whitespace().next().expect("url").to_string());
                break;
            }
        }
        let base_url = base_url.expect("tally serve logs its address");
        let stderr_rest = stderr;
        // Keep draining the log so the server never blocks on a full pipe.
        let collected = log.clone();
        std::thread::spawn(move || {
            for line in stderr_rest.lines().map_while(Result::ok) {
                collected.lock().unwrap().push_str(&line);
            }
        });
        Serving { child, base_url, log }
    }

    fn status_with(&self, key: &str, secret: &str) -> u16 {
        self.request("GET", key, secret, "").0
    }

    /// Sends a request (a POST of `body` when it is not empty); answers status and body.
    fn request(&self, method: &str, key: &str, secret: &str, body: &str) -> (u16, String) {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{key}:{secret}"));
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}/statements", self.base_url))
            .header("Authorization", format!("Basic {auth}"))
            .header("X-Experience-API-Version", "1.0.3")
            .header("Content-Type", "application/json")
            .body(body.as_bytes().to_vec())
            .expect("a request");
        let response = agent.run(request).expect("the server answers");
        let status = response.status().as_u16();
        (status, response.into_body().read_to_string().unwrap_or_default())
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn field(text: &str, name: &str) -> String {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{name}:")).map(|v| v.trim().to_string()))
        .unwrap_or_else(|| panic!("no {name} in {text:?}"))
}

backend_tests! {
    fn created_credentials_authenticate_until_revoked(backend) {
        let db = TestDatabase::new(backend);
        let created = stdout_of(tally(&db).args(["credentials", "create", "--name", "LMS", "--scopes", "statements/write,statements/read"]));
        let (key, secret) = (field(&created, "key"), field(&created, "secret"));
        assert!(secret.len() >= 22, "at least 128 bits");
        let listed = stdout_of(tally(&db).args(["credentials", "list"]));
        assert!(listed.contains(&key) && listed.contains("LMS") && !listed.contains(&secret), "{listed}");
        let serving = Serving::start(tally(&db));
        assert_eq!(serving.status_with(&key, &secret), 200);
        assert_eq!(serving.status_with(&key, "wrong"), 401);
        stdout_of(tally(&db).args(["credentials", "revoke", &key]));
        assert_eq!(serving.status_with(&key, &secret), 401, "revocation takes effect on the next request");
    }

    fn a_credential_can_do_only_what_its_scopes_allow(backend) {
        let db = TestDatabase::new(backend);
        let created = stdout_of(tally(&db).args(["credentials", "create", "--scopes", "statements/read"]));
        let (reader, reader_secret) = (field(&created, "key"), field(&created, "secret"));
        let created = stdout_of(tally(&db).args(["credentials", "create", "--scopes", "statements/write"]));
        let (writer, writer_secret) = (field(&created, "key"), field(&created, "secret"));
        let serving = Serving::start(tally(&db));
        let statement = test_support::statements::statement().to_string();
        let (status, body) = serving.request("POST", &reader, &reader_secret, &statement);
        assert_eq!(status, 403);
        assert!(body.contains("statements/write"), "{body}");
        assert_eq!(serving.request("POST", &writer, &writer_secret, &statement).0, 200);
        assert_eq!(serving.status_with(&reader, &reader_secret), 200);
        assert_eq!(serving.status_with(&writer, &writer_secret), 403);
    }

    fn serve_prints_a_first_credential_only_for_an_empty_store(backend) {
        let db = TestDatabase::new(backend);
        let mut first = tally(&db);
        first.args(["serve", "--bind", "127.0.0.1:0"]).stdout(Stdio::piped()).stderr(Stdio::null());
        let mut child = first.spawn().expect("serve");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut printed = String::new();
        for _ in 0..3 {
            out.read_line(&mut printed).unwrap();
        }
        let _ = child.kill();
        let _ = child.wait();
        let (key, secret) = (field(&printed, "key"), field(&printed, "secret"));
        let serving = Serving::start(tally(&db));
        assert_eq!(serving.status_with(&key, &secret), 200);
        let listed = stdout_of(tally(&db).args(["credentials", "list"]));
        assert_eq!(listed.lines().count(), 1, "no second credential: {listed}");
    }

    fn the_admin_credential_comes_from_the_environment(backend) {
        let db = TestDatabase::new(backend);
        let mut command = tally(&db);
        command.env("TALLY_ADMIN_KEY", "ops").env("TALLY_ADMIN_SECRET", "a-long-operator-secret");
        let serving = Serving::start(command);
        assert_eq!(serving.status_with("ops", "a-long-operator-secret"), 200);
        let listed = stdout_of(tally(&db).args(["credentials", "list"]));
        assert!(listed.starts_with("ops\t") && listed.lines().count() == 1, "{listed}");
    }

    fn stores_are_managed_from_the_command_line(backend) {
        let db = TestDatabase::new(backend);
        let created = stdout_of(tally(&db).args(["stores", "create", "Partner academy"]));
        let id = field(&created, "id");
        stdout_of(tally(&db).args(["stores", "rename", &id, "Partners"]));
        let listed = stdout_of(tally(&db).args(["stores", "list"]));
        assert!(listed.lines().any(|l| l.starts_with(&format!("{id}\tPartners\tactive"))), "{listed}");
        let made = stdout_of(tally(&db).args(["credentials", "create", "--store", &id, "--scopes", "statements/read"]));
        let (key, secret) = (field(&made, "key"), field(&made, "secret"));
        let listed = stdout_of(tally(&db).args(["credentials", "list", "--store", &id]));
        assert_eq!(listed.lines().count(), 1, "{listed}");
        let serving = Serving::start(tally(&db));
        assert_eq!(serving.status_with(&key, &secret), 200);
        stdout_of(tally(&db).args(["stores", "revoke", &id]));
        assert_eq!(serving.status_with(&key, &secret), 401);
        let refused = tally(&db).args(["stores", "revoke", "1"]).output().unwrap();
        assert!(!refused.status.success(), "the default store cannot be revoked");
    }

    fn migrate_brings_an_empty_database_up_to_date(backend) {
        let db = TestDatabase::new(backend);
        assert!(stdout_of(tally(&db).arg("migrate")).contains("up to date"));
        assert!(stdout_of(tally(&db).arg("migrate")).contains("up to date"), "idempotent");
    }
}

#[test]
fn secrets_never_appear_in_the_log() {
    let db = TestDatabase::new(Backend::Sqlite);
    let created = stdout_of(tally(&db).args(["credentials", "create", "--scopes", "all"]));
    let (key, secret) = (field(&created, "key"), field(&created, "secret"));
    let admin_secret = "operator-secret-that-must-not-leak";
    let mut command = tally(&db);
    command.env("TALLY_ADMIN_KEY", "ops").env("TALLY_ADMIN_SECRET", admin_secret).env("TALLY_LOG", "trace");
    let serving = Serving::start(command);
    assert_eq!(serving.status_with(&key, &secret), 200);
    assert_eq!(serving.status_with(&key, "a-wrong-guess-that-must-not-leak"), 401);
    assert_eq!(serving.status_with("ops", admin_secret), 200);
    let statement = test_support::statements::statement().to_string();
    assert_eq!(serving.request("POST", &key, &secret, &statement).0, 200);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let log = serving.log.lock().unwrap().clone();
    assert!(log.len() > 1_000, "trace logging was on: {} bytes", log.len());
    for leaked in [secret.as_str(), admin_secret, "a-wrong-guess-that-must-not-leak"] {
        assert!(!log.contains(leaked), "the log holds a secret");
    }
}

#[test]
fn an_unsupported_database_url_is_refused_with_advice() {
    let db = TestDatabase::new(Backend::Sqlite);
    let output = tally(&db).args(["--database-url", "mysql://x", "migrate"]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("postgres://"));
}
