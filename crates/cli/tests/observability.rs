//! What an operator sees of a running `tally serve`: Prometheus metrics on their own
//! listener, JSON logs with request ids, plain logs without colour codes in a pipe, and
//! request spans exported to an OTLP collector.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{Span, span};
use prost::Message;
use serde_json::Value;
use test_support::{TestDatabase, backend_tests};

mod support;
use support::Watched;

struct Serving {
    child: Child,
    log: Arc<Watched<Vec<String>>>,
}

impl Serving {
    fn start(db: &TestDatabase, args: &[&str]) -> Serving {
        Serving::start_command(Command::new(env!("CARGO_BIN_EXE_tally")), db, args)
    }

    fn start_command(command: Command, db: &TestDatabase, args: &[&str]) -> Serving {
        Serving::spawn(command, db, &[&["--no-insights"], args].concat())
    }

    /// As `tally serve` runs by default: with the insights engine and API.
    fn start_with_insights(command: Command, db: &TestDatabase, args: &[&str]) -> Serving {
        Serving::spawn(command, db, args)
    }

    fn spawn(mut command: Command, db: &TestDatabase, args: &[&str]) -> Serving {
        match db.database_url() {
            Some(url) => command.args(["--database-url", url]),
            None => command.arg("--data-dir").arg(db.data_dir()),
        };
        let mut child = command
            .args(["serve", "--bind", "127.0.0.1:0"])
            .args(args)
            .env("TALLY_ADMIN_KEY", "ops")
            .env("TALLY_ADMIN_SECRET", "an-operator-secret")
            .env("TALLY_LOG", "info,tally::access=debug")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tally serve starts");
        let stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let log = Watched::<Vec<String>>::new();
        let collected = log.clone();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                collected.update(|log| log.push(line));
            }
        });
        Serving { child, log }
    }

    /// The first URL logged after `marker` (waits for it).
    fn logged_url(&self, marker: &str) -> String {
        let log = self.log.when(&format!("logged {marker:?}"), |log| log.iter().any(|l| l.contains(marker)));
        let line = log.iter().find(|l| l.contains(marker)).expect("the line waited for");
        let rest = &line[line.find(marker).expect("the marker") + marker.len()..];
        // Up to the end of the word (text logs) or of the JSON string.
        let end = rest.find(|c: char| c.is_whitespace() || c == '"').unwrap_or(rest.len());
        rest[..end].to_string()
    }

    /// Sends SIGTERM and waits for a clean exit.
    fn terminate_and_wait(&mut self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs").success());
        let status = self.child.wait().expect("tally exits");
        assert!(status.success(), "tally exited with {status}: {:?}", self.lines());
    }

    fn lines(&self) -> Vec<String> {
        self.log.value.lock().unwrap().clone()
    }

    /// The log as one text once `ready` holds for it (waits up to 30 s).
    fn lines_when(&self, ready: impl Fn(&str) -> bool) -> String {
        self.log.when("logged what the test reads", |lines| ready(&lines.join("\n"))).join("\n")
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends a request as the operator, with `headers` besides the usual ones; returns the
/// status, the body and the echoed request id.
fn request(method: &str, url: &str, body: &str, headers: &[(&str, &str)]) -> (u16, String, Option<String>) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let auth = base64::engine::general_purpose::STANDARD.encode("ops:an-operator-secret");
    let mut builder = ureq::http::Request::builder()
        .method(method)
        .uri(url)
        .header("Authorization", format!("Basic {auth}"))
        .header("X-Experience-API-Version", "1.0.3")
        .header("Content-Type", "application/json");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
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
        assert_eq!(request("POST", &format!("{xapi}/statements"), &batch, &[]).0, 200);
        let (_, ids, _) = request("POST", &format!("{xapi}/statements"), &test_support::statements::statement().to_string(), &[]);
        let id = serde_json::from_str::<Value>(&ids).unwrap()[0].as_str().unwrap().to_string();
        assert_eq!(request("GET", &format!("{xapi}/statements?statementId={id}"), "", &[]).0, 200);
        assert_eq!(request("GET", &format!("{xapi}/no/such/{id}"), "", &[]).0, 404);
        let (status, text, _) = request("GET", &metrics, "", &[]);
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
    let (status, _, echoed) =
        request("GET", &format!("{xapi}/statements"), "", &[("X-Request-Id", "trace-abc-123")]);
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
    assert_eq!(request("GET", &format!("{xapi}/statements"), "", &[]).0, 200);
    let log = serving.lines_when(|log| log.contains("request_id="));
    assert!(log.contains("request_id="), "{log}");
    assert!(!log.contains('\u{1b}'), "ANSI escapes in a pipe: {log:?}");
}

/// A stand-in OpenTelemetry collector: answers OTLP/HTTP trace exports with 200 and keeps
/// the decoded requests.
struct Collector {
    url: String,
    received: Arc<Watched<Vec<ExportTraceServiceRequest>>>,
}

impl Collector {
    fn start() -> Collector {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port for the collector");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received = Watched::<Vec<ExportTraceServiceRequest>>::new();
        let kept = received.clone();
        std::thread::spawn(move || {
            for connection in listener.incoming().map_while(Result::ok) {
                let kept = kept.clone();
                std::thread::spawn(move || serve_exports(connection, &kept));
            }
        });
        Collector { url, received }
    }

    /// Every span received so far, with its resource's `service.name`.
    fn spans(&self) -> Vec<(String, Span)> {
        spans_of(&self.received.value.lock().unwrap())
    }

    /// Every span received once one named each of `names` has arrived (waits up to 30 s).
    fn spans_named(&self, names: &[&str]) -> Vec<(String, Span)> {
        let has_all = |exports: &Vec<ExportTraceServiceRequest>| {
            let spans = spans_of(exports);
            names.iter().all(|name| spans.iter().any(|(_, s)| s.name == *name))
        };
        spans_of(&self.received.when(&format!("received spans {names:?}"), has_all))
    }
}

/// The spans of some exports, each with its resource's `service.name`.
fn spans_of(exports: &[ExportTraceServiceRequest]) -> Vec<(String, Span)> {
    let mut spans = Vec::new();
    for export in exports {
        for resource_spans in &export.resource_spans {
            let service = resource_spans
                .resource
                .as_ref()
                .and_then(|resource| string_attribute(&resource.attributes, "service.name"))
                .unwrap_or_default();
            for scope in &resource_spans.scope_spans {
                spans.extend(scope.spans.iter().map(|span| (service.clone(), span.clone())));
            }
        }
    }
    spans
}

/// Answers the HTTP/1.1 requests on one connection (kept alive), decoding each body.
fn serve_exports(connection: TcpStream, received: &Watched<Vec<ExportTraceServiceRequest>>) {
    let mut reader = BufReader::new(connection.try_clone().expect("a second handle"));
    let mut writer = connection;
    loop {
        let mut length = 0;
        let mut path = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(target) = line.strip_prefix("POST ") {
                path = target.split(' ').next().unwrap_or_default().to_string();
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().expect("a length");
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).expect("the export's body");
        assert_eq!(path, "/v1/traces", "spans go to the traces path");
        let export = ExportTraceServiceRequest::decode(body.as_slice()).expect("OTLP protobuf");
        received.update(|exports| exports.push(export));
        writer
            .write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n",
            )
            .unwrap();
    }
}

fn string_attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    let value = attributes.iter().find(|kv| kv.key == key)?.value.as_ref()?.value.as_ref()?;
    match value {
        any_value::Value::StringValue(text) => Some(text.clone()),
        any_value::Value::IntValue(number) => Some(number.to_string()),
        _ => None,
    }
}

#[test]
fn request_spans_are_exported_over_otlp_in_the_callers_trace_and_flushed_at_shutdown() {
    let db = TestDatabase::new(test_support::Backend::Sqlite);
    let collector = Collector::start();
    // Batches would wait a minute: what arrives, arrives because shutdown flushed it.
    let mut command = Command::new(env!("CARGO_BIN_EXE_tally"));
    command.env("OTEL_BSP_SCHEDULE_DELAY", "60000");
    let mut serving =
        Serving::start_command(command, &db, &["--otlp-endpoint", &collector.url, "--metrics-bind", "off"]);
    let xapi = serving.logged_url("xAPI at ");
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let traceparent = format!("00-{trace_id}-{caller_span}-01");
    let headers = [("X-Request-Id", "otlp-check-1"), ("traceparent", traceparent.as_str())];
    let statement = test_support::statements::statement().to_string();
    assert_eq!(request("POST", &format!("{xapi}/statements"), &statement, &headers).0, 200);
    assert!(collector.spans().is_empty(), "exported before the batch delay or shutdown");

    serving.terminate_and_wait();
    let spans = collector.spans();
    let (service, span) = spans
        .iter()
        .find(|(_, span)| string_attribute(&span.attributes, "request_id").as_deref() == Some("otlp-check-1"))
        .unwrap_or_else(|| panic!("no span with the request id among {spans:?}"));
    assert_eq!(service, "tally");
    assert_eq!(span.name, "POST /xapi/statements");
    assert_eq!(span.kind, span::SpanKind::Server as i32);
    assert_eq!(hex(&span.trace_id), trace_id, "the span joins the caller's trace");
    assert_eq!(hex(&span.parent_span_id), caller_span, "the caller's span is its parent");
    assert_eq!(string_attribute(&span.attributes, "http.response.status_code").as_deref(), Some("200"));
    assert_eq!(string_attribute(&span.attributes, "http.route").as_deref(), Some("/xapi/statements"));

    // The statement group that committed the request links back to it, with its sizes and
    // the writer's lock wait and commit times.
    let group = spans
        .iter()
        .map(|(_, s)| s)
        .find(|s| s.name == "statement_group" && s.links.iter().any(|l| l.span_id == span.span_id))
        .unwrap_or_else(|| panic!("no statement group links to the request among {spans:?}"));
    assert_eq!(hex(&group.links[0].trace_id), trace_id, "the link names the request's trace");
    assert_eq!(string_attribute(&group.attributes, "batches").as_deref(), Some("1"));
    assert_eq!(string_attribute(&group.attributes, "statements").as_deref(), Some("1"));
    assert_eq!(string_attribute(&group.attributes, "refused").as_deref(), Some("0"));
    for timing in ["lock_wait_us", "commit_us"] {
        assert!(string_attribute(&group.attributes, timing).is_some(), "{timing} in {:?}", group.attributes);
    }
}

#[test]
fn engine_steps_and_ticket_imports_are_exported_as_spans_with_their_counts_and_the_lag_as_a_metric() {
    let db = TestDatabase::new(test_support::Backend::Sqlite);
    let collector = Collector::start();
    let mut command = Command::new(env!("CARGO_BIN_EXE_tally"));
    // Spans leave as soon as they end: the test waits for them to arrive.
    command.env("OTEL_BSP_SCHEDULE_DELAY", "10");
    let serving = Serving::start_with_insights(
        command,
        &db,
        &["--otlp-endpoint", &collector.url, "--metrics-bind", "127.0.0.1:0"],
    );
    let xapi = serving.logged_url("xAPI at ");
    let metrics = serving.logged_url("metrics at ");
    let statement = test_support::statements::statement().to_string();
    assert_eq!(request("POST", &format!("{xapi}/statements"), &statement, &[]).0, 200);
    let root = xapi.trim_end_matches("/xapi");
    let csv = "Id,Created at,Status,Tags,Requester email,Subject\n\
               4101,2024-03-04 08:15:02,Open,install,maria@acme.example,Installer stops\n";
    let imported = request("POST", &format!("{root}/insights/tickets?preset=zendesk&format=csv"), csv, &[]);
    assert_eq!(imported.0, 200, "{}", imported.1);
    // The engine rolls the statement up by itself; its step's span is the event.
    let spans = collector.spans_named(&["rollup_step", "ticket_import"]);
    assert_span(&spans, "rollup_step", &[("from", "0"), ("to", "1"), ("statements", "1")]);
    assert_span(&spans, "ticket_import", &[("inserted", "1"), ("updated", "0"), ("rejected", "0")]);
    // The step set the store's lag gauge before its span ended: caught up.
    let (_, text, _) = request("GET", &metrics, "", &[]);
    assert!(text.contains(r#"tally_rollup_lag_statements{store="1"} 0"#), "{text}");
}

/// Some span named `name` was exported, with these attribute values.
fn assert_span(spans: &[(String, Span)], name: &str, expected: &[(&str, &str)]) {
    let span = spans
        .iter()
        .map(|(_, s)| s)
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no {name} span among {spans:?}"));
    for (key, value) in expected {
        assert_eq!(
            string_attribute(&span.attributes, key).as_deref(),
            Some(*value),
            "{name}.{key}: {:?}",
            span.attributes
        );
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn an_unreachable_collector_holds_up_neither_requests_nor_shutdown() {
    let db = TestDatabase::new(test_support::Backend::Sqlite);
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let endpoint = format!("http://{closed}");
    let mut serving = Serving::start(&db, &["--otlp-endpoint", &endpoint, "--metrics-bind", "off"]);
    let xapi = serving.logged_url("xAPI at ");
    let statement = test_support::statements::statement().to_string();
    assert_eq!(request("POST", &format!("{xapi}/statements"), &statement, &[]).0, 200);
    let started = Instant::now();
    serving.terminate_and_wait();
    assert!(started.elapsed() < Duration::from_secs(10), "shutdown took {:?}", started.elapsed());
}
