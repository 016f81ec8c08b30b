//! What an operator sees of a running `tally serve`: Prometheus metrics on their own
//! listener, JSON logs with request ids, and plain logs without colour codes in a pipe.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::Value;
use test_support::{TestDatabase, backend_tests};

struct Serving {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Serving {
    fn start(db: &TestDatabase, args: &[&str]) -> Serving {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tally"));
        match db.database_url() {
            Some(url) => command.args(["--database-url", url]),
            None => command.arg("--data-dir").arg(db.data_dir()),
        };
        let mut child = command
            .args(["serve", "--bind", "127.0.0.1:0", "--no-insights"])
            .args(args)
            .env("TALLY_ADMIN_KEY", "ops")
            .env("TALLY_ADMIN_SECRET", "an-operator-secret")
            .env("TALLY_LOG", "info,tally::access=debug")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tally serve starts");
        let stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let log = Arc::new(Mutex::new(Vec::new()));
        let collected = log.clone();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                collected.lock().unwrap().push(line);
            }
        });
        Serving { child, log }
    }

    /// The first URL logged after `marker` (waits for it).
    fn logged_url(&self, marker: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            for line in self.log.lock().unwrap().iter() {
                if let Some(at) = line.find(marker) {
                    let rest = &line[at + marker.len()..];
                    // Up to the end of the word (text logs) or of the JSON string.
                    let end = rest.find(|c: char| c.is_whitespace() || c == '"').unwrap_or(rest.len());
                    return rest[..end].to_string();
                }
            }
            assert!(Instant::now() < deadline, "never logged {marker:?}: {:?}", self.log.lock().unwrap());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn request(method: &str, url: &str, body: &str, request_id: Option<&str>) -> (u16, String, Option<String>) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let auth = base64::engine::general_purpose::STANDARD.encode("ops:an-operator-secret");
    let mut builder = ureq::http::Request::builder()
        .method(method)
        .uri(url)
        .header("Authorization", format!("Basic {auth}"))
        .header("X-Experience-API-Version", "1.0.3")
        .header("Content-Type", "application/json");
    if let Some(id) = request_id {
        builder = builder.header("X-Request-Id", id);
    }
    let response = agent.run(builder.body(body.as_bytes().to_vec()).unwrap()).expect("an answer");
    let status = response.status().as_u16();
    let id = response.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string);
    (status, response.into_body().read_to_string().unwrap_or_default(), id)
}

backend_tests! {
    fn metrics_count_requests_by_route_and_statements_by_batch(backend) {
        let db = TestDatabase::new(backend);
        let serving = Serving::start(&db, &["--metrics-bind", "127.0.0.1:0"]);
        let xapi = serving.logged_url("xAPI at ");
        let metrics = serving.logged_url("metrics at ");
        let batch = Value::Array((0..5).map(|_| test_support::statements::statement()).collect()).to_string();
        assert_eq!(request("POST", &format!("{xapi}/statements"), &batch, None).0, 200);
        let (_, ids, _) = request("POST", &format!("{xapi}/statements"), &test_support::statements::statement().to_string(), None);
        let id = serde_json::from_str::<Value>(&ids).unwrap()[0].as_str().unwrap().to_string();
        assert_eq!(request("GET", &format!("{xapi}/statements?statementId={id}"), "", None).0, 200);
        assert_eq!(request("GET", &format!("{xapi}/no/such/{id}"), "", None).0, 404);
        let (status, text, _) = request("GET", &metrics, "", None);
        assert_eq!(status, 200);
        for expected in [
            r#"tally_http_requests_total{route="/xapi/statements",method="POST",status="200"} 2"#,
            r#"tally_http_requests_total{route="/xapi/statements",method="GET",status="200"} 1"#,
            "tally_statements_ingested_total 6",
            r#"tally_statement_batch_size_bucket{le="5"} 2"#,
            "tally_http_request_duration_seconds_bucket",
            r#"tally_db_pool_connections{state="open"}"#,
            "tally_db_up 1",
        ] {
            assert!(text.contains(expected), "no {expected:?} in\n{text}");
        }
        if backend == test_support::Backend::Postgres {
            assert!(text.contains(r#"tally_db_pool_connections{state="max"} 16"#), "{text}");
        }
        assert!(!text.contains(&id), "a raw path became a label:\n{text}");
    }
}

#[test]
fn json_logs_carry_the_request_id() {
    let db = TestDatabase::new(test_support::Backend::Sqlite);
    let serving = Serving::start(&db, &["--log-format", "json", "--metrics-bind", "off"]);
    let xapi = serving.logged_url("xAPI at ");
    let (status, _, echoed) = request("GET", &format!("{xapi}/statements"), "", Some("trace-abc-123"));
    assert_eq!((status, echoed.as_deref()), (200, Some("trace-abc-123")));
    let deadline = Instant::now() + Duration::from_secs(10);
    let access = loop {
        let found = serving.lines().into_iter().find(|l| l.contains("trace-abc-123"));
        if let Some(line) = found {
            break line;
        }
        assert!(Instant::now() < deadline, "no log line with the request id: {:?}", serving.lines());
        std::thread::sleep(Duration::from_millis(20));
    };
    let access: Value = serde_json::from_str(&access).expect("a JSON log line");
    assert_eq!(access["span"]["request_id"], "trace-abc-123", "{access}");
    assert_eq!(access["fields"]["status"], 200, "{access}");
    assert_eq!(access["fields"]["route"], "/xapi/statements", "{access}");
    for line in serving.lines() {
        serde_json::from_str::<Value>(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }
}

#[test]
fn text_logs_in_a_pipe_have_no_colour_codes() {
    let db = TestDatabase::new(test_support::Backend::Sqlite);
    let serving = Serving::start(&db, &["--metrics-bind", "off"]);
    let xapi = serving.logged_url("xAPI at ");
    assert_eq!(request("GET", &format!("{xapi}/statements"), "", None).0, 200);
    std::thread::sleep(Duration::from_millis(100));
    let log = serving.lines().join("\n");
    assert!(log.contains("request_id="), "{log}");
    assert!(!log.contains('\u{1b}'), "ANSI escapes in a pipe: {log:?}");
}
