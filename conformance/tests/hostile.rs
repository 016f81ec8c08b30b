//! Hostile and broken input (DESIGN.md "Bad input"): every malformed request gets a 4xx
//! with a JSON error, never a 500, and changes nothing that is stored. Limits are
//! answered 413/400/431/408 with a message naming the limit; slow clients are cut off.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use conformance::statements::{agent, statement};
use conformance::{BOUNDARY, Lrs, backend_tests, encode, multipart};
use serde_json::{Value, json};
use server::AppConfig;
use test_support::{TestDatabase, TestServer};

/// Small limits, so that going over them is cheap.
fn limited() -> AppConfig {
    AppConfig {
        workers: 2,
        max_body_bytes: 256 * 1024,
        max_attachment_bytes: 64 * 1024,
        max_batch_statements: 50,
        max_json_depth: 32,
        max_header_bytes: 8 * 1024,
        header_timeout: Duration::from_millis(800),
        body_idle_timeout: Duration::from_millis(800),
        ..AppConfig::default()
    }
}

/// A Tally of our own with [`limited`] settings, or `None` when the suite runs against
/// another LRS (whose limits we do not know).
fn start(backend: test_support::Backend) -> Option<Lrs> {
    if std::env::var("TALLY_CONFORMANCE_URL").is_ok() {
        return None;
    }
    Some(Lrs::for_server(TestServer::start_with(TestDatabase::new(backend), limited())))
}

/// What a malformed request is.
struct Case {
    name: &'static str,
    method: &'static str,
    /// Path and query under `/xapi`.
    target: String,
    content_type: &'static str,
    body: Vec<u8>,
    /// The status expected (a 4xx).
    status: u16,
}

fn case(
    name: &'static str,
    method: &'static str,
    target: impl Into<String>,
    content_type: &'static str,
    body: impl Into<Vec<u8>>,
    status: u16,
) -> Case {
    Case { name, method, target: target.into(), content_type, body: body.into(), status }
}

const JSON: &str = "application/json";

/// The corpus: each entry is something real clients, broken proxies or attackers send.
fn corpus(activity: &str, actor: &Value) -> Vec<Case> {
    let valid = statement().to_string();
    let state = format!(
        "/activities/state?activityId={}&agent={}&stateId=",
        encode(activity),
        encode(&actor.to_string())
    );
    let deep = format!(
        r#"{{"actor":{actor},"verb":{{"id":"http://example.com/v"}},"object":{{"id":"http://example.com/a"}},"result":{{"extensions":{{"http://example.com/x":{}1{}}}}}}}"#,
        "[".repeat(100),
        "]".repeat(100)
    );
    let many = Value::Array((0..51).map(|_| statement()).collect()).to_string();
    let huge_string =
        format!(r#"{{"actor":{actor},"verb":{{"id":"http://example.com/{}"}}}}"#, "a".repeat(300 * 1024));
    let mut invalid_utf8 = br#"{"actor":{"objectType":"Agent","mbox":"mailto:"#.to_vec();
    invalid_utf8.extend_from_slice(&[0xff, 0xfe, 0xc3]);
    invalid_utf8.extend_from_slice(
        br#"@example.com"},"verb":{"id":"http://example.com/v"},"object":{"id":"http://example.com/a"}}"#,
    );
    let attachment_statement = json!({
        "actor": actor, "verb": {"id": "http://example.com/v"}, "object": {"id": activity},
        "attachments": [conformance::attachment_for(b"hello", "text/plain", "http://example.com/usage")],
    });
    let good_multipart = multipart(&attachment_statement, &[("text/plain", b"hello")]);
    let mut unterminated = good_multipart.clone();
    unterminated.truncate(unterminated.len() - BOUNDARY.len() - 8);
    vec![
        case("truncated JSON", "POST", "/statements", JSON, &valid.as_bytes()[..valid.len() / 2], 400),
        case("empty body", "POST", "/statements", JSON, "", 400),
        case("not JSON at all", "POST", "/statements", JSON, "actor=me&verb=did", 400),
        case("wrong types", "POST", "/statements", JSON, r#"{"actor":5,"verb":"did","object":[]}"#, 400),
        case(
            "a batch with one bad statement",
            "POST",
            "/statements",
            JSON,
            format!("[{valid},{{\"actor\":{{}}}}]"),
            400,
        ),
        case("an empty batch", "POST", "/statements", JSON, "[]", 400),
        case("a number", "POST", "/statements", JSON, "1e999999", 400),
        case("invalid UTF-8", "POST", "/statements", JSON, invalid_utf8, 400),
        case(
            "a byte-order mark and NULs",
            "POST",
            "/statements",
            JSON,
            b"\xef\xbb\xbf\x00\x00{}".to_vec(),
            400,
        ),
        case("nesting past the depth limit", "POST", "/statements", JSON, deep, 400),
        case("more statements than the batch limit", "POST", "/statements", JSON, many, 413),
        case("an enormous string past the body limit", "POST", "/statements", JSON, huge_string, 413),
        case(
            "PUT with an array",
            "PUT",
            format!("/statements?statementId={}", uuid::Uuid::new_v4()),
            JSON,
            format!("[{valid}]"),
            400,
        ),
        case("a wrong content type", "POST", "/statements", "text/plain", valid.clone(), 400),
        case(
            "multipart without a boundary",
            "POST",
            "/statements",
            "multipart/mixed",
            good_multipart.clone(),
            400,
        ),
        case(
            "multipart with another boundary",
            "POST",
            "/statements",
            "multipart/mixed; boundary=not-the-one",
            good_multipart.clone(),
            400,
        ),
        case(
            "multipart with an overlong boundary",
            "POST",
            "/statements",
            "multipart/mixed; boundary=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            good_multipart,
            400,
        ),
        case(
            "multipart without its closing boundary",
            "POST",
            "/statements",
            "multipart/mixed; boundary=conformance-boundary-1b2c",
            unterminated,
            400,
        ),
        case(
            "SQL in a statement id",
            "GET",
            format!("/statements?statementId={}", encode("1' OR '1'='1")),
            JSON,
            "",
            400,
        ),
        case(
            "SQL in a registration",
            "GET",
            format!("/statements?registration={}", encode("'; DROP TABLE statements; --")),
            JSON,
            "",
            400,
        ),
        case(
            "SQL in since",
            "GET",
            format!("/statements?since={}", encode("2024-01-01'; DELETE FROM statements; --")),
            JSON,
            "",
            400,
        ),
        case(
            "SQL in an agent",
            "GET",
            format!("/statements?agent={}", encode(r#"{"mbox":"x' OR 1=1 --"}"#)),
            JSON,
            "",
            400,
        ),
        case(
            "SQL in a more token",
            "GET",
            format!("/statements?more={}", encode("1.2.verb=x' OR 1=1")),
            JSON,
            "",
            400,
        ),
        case(
            "SQL in an activity id",
            "GET",
            format!("/activities?activityId={}", encode("x'); DELETE FROM activities; --")),
            JSON,
            "",
            400,
        ),
        case("a repeated parameter", "GET", "/statements?limit=1&limit=2", JSON, "", 400),
        case("a negative limit", "GET", "/statements?limit=-1", JSON, "", 400),
        case("an enormous limit", "GET", "/statements?limit=99999999999999999999999", JSON, "", 400),
        case("path traversal in a path", "GET", "/../../etc/passwd", JSON, "", 404),
        case("encoded path traversal", "GET", "/%2e%2e/%2e%2e/etc/passwd", JSON, "", 404),
        case(
            "path traversal in a state id",
            "GET",
            format!("{state}{}", encode("../../etc/passwd")),
            JSON,
            "",
            404,
        ),
        case(
            "a state document without an agent",
            "PUT",
            format!("/activities/state?activityId={}&stateId=x", encode(activity)),
            JSON,
            "{}",
            400,
        ),
        case(
            "a merge of a non-object",
            "POST",
            format!("{state}{}", encode("merge-me")),
            JSON,
            "[1,2,3]",
            400,
        ),
        case(
            "a merge of truncated JSON",
            "POST",
            format!("{state}{}", encode("merge-me")),
            JSON,
            r#"{"a":"#,
            400,
        ),
        case(
            "a merge nested past serde's limit",
            "POST",
            format!("{state}{}", encode("merge-me")),
            JSON,
            format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200)),
            400,
        ),
        case(
            "a document past the body limit",
            "PUT",
            format!("{state}{}", encode("big")),
            "application/octet-stream",
            vec![b'x'; 300 * 1024],
            413,
        ),
    ]
}

/// What is stored: the statements a query sees, and the state documents of the context.
fn snapshot(lrs: &Lrs, activity: &str, actor: &Value) -> (Vec<String>, String) {
    let statements = lrs.query_ids("limit=0");
    let ids = lrs.get(&format!(
        "/activities/state?activityId={}&agent={}",
        encode(activity),
        encode(&actor.to_string())
    ));
    assert_eq!(ids.status, 200, "{}", ids.body);
    (statements, ids.body)
}

backend_tests! {
    fn malformed_requests_get_a_4xx_json_error_and_change_nothing(backend) {
        let Some(lrs) = start(backend) else { return };
        let (activity, actor) = (conformance::statements::activity_id(), agent());
        lrs.store(&Value::Array((0..3).map(|_| statement()).collect()));
        let state = format!("/activities/state?activityId={}&agent={}&stateId=kept", encode(&activity), encode(&actor.to_string()));
        assert_eq!(lrs.request("PUT", &state).json(&json!({"a": 1})).status, 204);
        let before = snapshot(&lrs, &activity, &actor);
        for case in corpus(&activity, &actor) {
            let reply = lrs.request(case.method, &case.target).header("Content-Type", case.content_type).body(&case.body);
            assert_eq!(reply.status, case.status, "{}: {}", case.name, reply.body);
            let error = &reply.json()["error"];
            assert_eq!(error["status"], case.status, "{}: {}", case.name, reply.body);
            assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{}: {}", case.name, reply.body);
        }
        assert_eq!(snapshot(&lrs, &activity, &actor), before, "the corpus changed stored data");
    }

    fn limits_name_themselves(backend) {
        let Some(lrs) = start(backend) else { return };
        let many = Value::Array((0..51).map(|_| statement()).collect());
        let reply = lrs.post_json("/statements", &many);
        reply.assert_error(413, "");
        assert!(reply.body.contains("max_batch_statements") && reply.body.contains("51"), "{}", reply.body);
        let fifty = Value::Array((0..50).map(|_| statement()).collect());
        assert_eq!(lrs.store(&fifty).len(), 50, "exactly the limit is fine");
        let mut deep = statement();
        deep["result"] = json!({ "extensions": { "http://example.com/x": serde_json::from_str::<Value>(&format!("{}{}", "[".repeat(40), "]".repeat(40))).unwrap() } });
        let reply = lrs.post_json("/statements", &deep);
        reply.assert_error(400, "");
        assert!(reply.body.contains("max_json_depth"), "{}", reply.body);
        let reply = lrs.request("GET", "/statements").header("X-Padding", &"p".repeat(9 * 1024)).send();
        reply.assert_error(431, "");
        assert!(reply.body.contains("max_header_bytes"), "{}", reply.body);
        let reply = lrs.request("POST", "/statements").header("Content-Type", JSON).body(&vec![b' '; 300 * 1024]);
        reply.assert_error(413, "");
    }

    fn literal_ids_stay_literal(backend) {
        // SQL and path traversal in document ids are just ids: stored and read back as
        // given, never interpreted.
        let Some(lrs) = start(backend) else { return };
        let (activity, actor) = (conformance::statements::activity_id(), agent());
        for id in ["../../etc/passwd", "'; DROP TABLE documents; --", "..\\..\\windows\\win.ini", "%00"] {
            let target = format!("/activities/state?activityId={}&agent={}&stateId={}", encode(&activity), encode(&actor.to_string()), encode(id));
            assert_eq!(lrs.request("PUT", &target).header("Content-Type", "text/plain").body(id.as_bytes()).status, 204, "{id}");
            let reply = lrs.get(&target);
            assert_eq!((reply.status, reply.body.as_str()), (200, id), "{id}");
        }
        // An activity the LRS has never seen is just its id (xAPI 1.0.3 Communication §2.5),
        // whatever the id looks like.
        let reply = lrs.get(&format!("/activities?activityId={}", encode("file:///etc/passwd")));
        assert_eq!(reply.json(), json!({"objectType": "Activity", "id": "file:///etc/passwd"}));
        let sneaky = statement_with_sql();
        let id = lrs.store_one(&sneaky);
        let stored = lrs.get(&format!("/statements?statementId={id}")).json();
        assert_eq!(stored["verb"]["display"]["en-US"], sneaky["verb"]["display"]["en-US"]);
        assert_eq!(lrs.query_ids("limit=0").len(), 1, "nothing else appeared or vanished");
    }

    fn slow_clients_are_cut_off(backend) {
        let Some(lrs) = start(backend) else { return };
        let address = lrs.base_url.trim_start_matches("http://").split('/').next().unwrap().to_string();
        // Slow headers: the request head never completes.
        let started = Instant::now();
        let mut stream = TcpStream::connect(&address).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        stream.write_all(b"POST /xapi/statements HTTP/1.1\r\nHost: x\r\nX-Slow: ").unwrap();
        let answer = read_to_close(&mut stream);
        assert!(started.elapsed() < Duration::from_secs(5), "held for {:?}", started.elapsed());
        assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 408"), "{answer}");
        // A body that stalls: answered 408 with a JSON error, and the connection is closed.
        let started = Instant::now();
        let mut stream = TcpStream::connect(&address).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let head = format!(
            "POST /xapi/statements HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nX-Experience-API-Version: 1.0.3\r\n\
             Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{{\"actor\":",
            lrs.authorization()
        );
        stream.write_all(head.as_bytes()).unwrap();
        let answer = read_to_close(&mut stream);
        assert!(started.elapsed() < Duration::from_secs(5), "held for {:?}", started.elapsed());
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("body_idle_timeout"), "{answer}");
        // The same for a multipart body.
        let mut stream = TcpStream::connect(&address).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let head = format!(
            "POST /xapi/statements HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nX-Experience-API-Version: 1.0.3\r\n\
             Content-Type: multipart/mixed; boundary={BOUNDARY}\r\nContent-Length: 100000\r\n\r\n--{BOUNDARY}\r\n",
            lrs.authorization()
        );
        stream.write_all(head.as_bytes()).unwrap();
        let answer = read_to_close(&mut stream);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        // The server is still fine.
        assert!(lrs.query_ids("limit=0").is_empty());
    }
}

fn statement_with_sql() -> Value {
    let mut s = statement();
    s["verb"]["display"] = json!({ "en-US": "'); DELETE FROM statements; SELECT ('" });
    s
}

/// Reads until the server closes the connection (or the read timeout passes).
fn read_to_close(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}
