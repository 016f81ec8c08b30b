//! Tally's conformance suite: HTTP tests organised by xAPI specification section, each
//! named after the requirement it checks.
//!
//! By default every test spawns a Tally server on a fresh database (once per backend).
//! Set `TALLY_CONFORMANCE_URL` (the xAPI base, e.g. `http://127.0.0.1:8080/xapi`),
//! `TALLY_CONFORMANCE_KEY` and `TALLY_CONFORMANCE_SECRET` to run the same tests against
//! any LRS instead.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use test_support::{Backend, TestServer};

pub use test_support::backend_tests;
pub use test_support::statements;

/// The xAPI version requests carry unless a test says otherwise.
pub const VERSION: &str = "1.0.3";

/// Percent-encodes a query parameter value (JSON agents, IRIs, timestamps with `+`).
pub use test_support::percent_encode as encode;

/// The boundary of the multipart bodies tests send.
pub const BOUNDARY: &str = "conformance-boundary-1b2c";

/// SHA-256 of `bytes`, lowercase hex (an attachment's `sha2`).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A `multipart/mixed` statement request body (xAPI 1.0.3 Communication §1.5.2): the
/// statements, then one part per `(content type, content)` with the headers xAPI requires.
pub fn multipart(statements: &Value, parts: &[(&str, &[u8])]) -> Vec<u8> {
    let mut body =
        format!("--{BOUNDARY}\r\nContent-Type: application/json\r\n\r\n{statements}\r\n").into_bytes();
    for (content_type, content) in parts {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Type: {content_type}\r\nContent-Transfer-Encoding: binary\r\n\
                 X-Experience-API-Hash: {}\r\n\r\n",
                sha256_hex(content)
            )
            .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// The attachment metadata a statement declares for `content`.
pub fn attachment_for(content: &[u8], content_type: &str, usage_type: &str) -> Value {
    serde_json::json!({
        "usageType": usage_type,
        "display": { "en-US": "an attachment" },
        "contentType": content_type,
        "length": content.len(),
        "sha2": sha256_hex(content),
    })
}

/// The `Authorization` header value of a key and secret.
pub fn basic(key: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{key}:{secret}")))
}

/// An LRS under test and a client for it.
pub struct Lrs {
    pub base_url: String,
    /// The `X-Experience-API-Version` requests carry.
    version: &'static str,
    authorization: String,
    agent: ureq::Agent,
    server: Option<TestServer>,
}

impl Lrs {
    /// The LRS named by `TALLY_CONFORMANCE_URL`, or a fresh Tally on `backend`.
    pub fn start(backend: Backend) -> Lrs {
        match std::env::var("TALLY_CONFORMANCE_URL") {
            Ok(url) => {
                let key = std::env::var("TALLY_CONFORMANCE_KEY").unwrap_or_default();
                let secret = std::env::var("TALLY_CONFORMANCE_SECRET").unwrap_or_default();
                Lrs::new(url.trim_end_matches('/').to_string(), &key, &secret, None)
            }
            Err(_) => {
                let server = TestServer::start(backend);
                Lrs::new(server.base_url.clone(), &server.key.clone(), &server.secret.clone(), Some(server))
            }
        }
    }

    /// A client for a running server (e.g. one a test restarts).
    pub fn for_server(server: TestServer) -> Lrs {
        Lrs::new(server.base_url.clone(), &server.key.clone(), &server.secret.clone(), Some(server))
    }

    fn new(base_url: String, key: &str, secret: &str, server: Option<TestServer>) -> Lrs {
        let agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let authorization = basic(key, secret);
        Lrs { base_url, version: VERSION, authorization, agent, server }
    }

    /// The `Authorization` header value of the test credential (for tests that send it
    /// some other way, e.g. as a form field).
    pub fn authorization(&self) -> &str {
        &self.authorization
    }

    /// The same LRS, with requests that speak another xAPI version.
    pub fn speaking(mut self, version: &'static str) -> Lrs {
        self.version = version;
        self
    }

    /// Hands back the spawned server (to stop and restart it).
    pub fn into_server(self) -> Option<TestServer> {
        self.server
    }

    /// The instance root (`http://127.0.0.1:port`) of the xAPI base URL.
    pub fn root(&self) -> String {
        self.base_url.trim_end_matches("/xapi").to_string()
    }

    /// A call to `url` with another credential's `authorization`, and a JSON body if any.
    pub fn call(&self, url: &str, method: &str, authorization: &str, body: Option<Value>) -> Reply {
        let request = self.request(method, "").url(url).header("Authorization", authorization);
        match body {
            Some(body) => request.json(&body),
            None => request.send(),
        }
    }

    /// An admin API call with the LRS's own (instance admin) credential.
    pub fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.call(&format!("{}/admin{path}", self.root()), method, &self.authorization, body)
    }

    /// A new store with a credential of the given scopes: (store id, Basic authorization).
    pub fn tenant(&self, name: &str, scopes: &[&str]) -> (i64, String) {
        let created = self.admin("POST", "/stores", Some(serde_json::json!({ "name": name })));
        assert_eq!(created.status, 201, "{}", created.body);
        let id = created.json()["id"].as_i64().unwrap();
        (id, self.credential(id, scopes))
    }

    /// A new credential of a store: its Basic authorization.
    pub fn credential(&self, store: i64, scopes: &[&str]) -> String {
        let body = serde_json::json!({ "store": store, "scopes": scopes, "name": "client" });
        let made = self.admin("POST", "/credentials", Some(body));
        assert_eq!(made.status, 201, "{}", made.body);
        let made = made.json();
        basic(made["key"].as_str().unwrap(), made["secret"].as_str().unwrap())
    }

    /// A request with the version and authorization headers set.
    pub fn request(&self, method: &str, path: &str) -> Request<'_> {
        Request {
            lrs: self,
            method: method.to_string(),
            url: format!("{}{path}", self.base_url),
            headers: vec![
                ("X-Experience-API-Version".into(), self.version.into()),
                ("Authorization".into(), self.authorization.clone()),
            ],
        }
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path).send()
    }

    pub fn post_json(&self, path: &str, body: &Value) -> Reply {
        self.request("POST", path).json(body)
    }

    pub fn put_json(&self, path: &str, body: &Value) -> Reply {
        self.request("PUT", path).json(body)
    }

    /// POSTs statements that must be accepted, returning their ids.
    pub fn store(&self, statements: &Value) -> Vec<String> {
        let reply = self.post_json("/statements", statements);
        assert_eq!(reply.status, 200, "POST /statements: {}", reply.body);
        serde_json::from_value(reply.json()).expect("an array of ids")
    }

    /// Stores one statement and returns its id.
    pub fn store_one(&self, statement: &Value) -> String {
        self.store(statement).remove(0)
    }

    /// GET `/statements` with a query string, expecting 200; the StatementResult.
    pub fn query(&self, query: &str) -> Value {
        let reply = self.get(&format!("/statements?{query}"));
        assert_eq!(reply.status, 200, "GET /statements?{query}: {}", reply.body);
        reply.json()
    }

    /// The ids of a query's first page, in order.
    pub fn query_ids(&self, query: &str) -> Vec<String> {
        self.query(query)["statements"]
            .as_array()
            .expect("statements array")
            .iter()
            .map(|s| s["id"].as_str().expect("id").to_string())
            .collect()
    }
}

/// A request being built.
pub struct Request<'a> {
    lrs: &'a Lrs,
    method: String,
    url: String,
    headers: Vec<(String, String)>,
}

impl Request<'_> {
    /// Sets (or replaces) a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sends the request to another URL (e.g. the admin API beside `/xapi`).
    pub fn url(mut self, url: &str) -> Self {
        self.url = url.to_string();
        self
    }

    /// Removes a header the request would otherwise carry.
    pub fn without(mut self, name: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    /// Sends a `multipart/mixed` body made by [`multipart`].
    pub fn multipart(self, body: &[u8]) -> Reply {
        self.header("Content-Type", &format!("multipart/mixed; boundary={BOUNDARY}")).body(body)
    }

    pub fn json(self, body: &Value) -> Reply {
        self.header("Content-Type", "application/json").body(body.to_string().as_bytes())
    }

    /// Sends `fields` as an `application/x-www-form-urlencoded` body.
    pub fn form(self, fields: &[(&str, &str)]) -> Reply {
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        self.header("Content-Type", "application/x-www-form-urlencoded").body(body.as_bytes())
    }

    pub fn body(self, body: &[u8]) -> Reply {
        let mut builder = http_request(&self);
        if !self.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-type")) {
            builder = builder.header("Content-Type", "application/octet-stream");
        }
        let request = builder.body(body.to_vec()).expect("a valid request");
        Reply::from(self.lrs.agent.run(request))
    }

    pub fn send(self) -> Reply {
        let request = http_request(&self).body(Vec::new()).expect("a valid request");
        Reply::from(self.lrs.agent.run(request))
    }
}

fn http_request(request: &Request<'_>) -> ureq::http::request::Builder {
    let mut builder =
        ureq::http::Request::builder().method(request.method.as_str()).uri(request.url.as_str());
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    headers: Vec<(String, String)>,
    /// The body as text (invalid UTF-8 replaced).
    pub body: String,
    /// The body as received.
    pub bytes: Vec<u8>,
}

impl Reply {
    fn from(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
        let response = result.unwrap_or_else(|e| panic!("the LRS did not answer: {e}"));
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let bytes = response.into_body().with_config().limit(1 << 30).read_to_vec().unwrap_or_default();
        let body = String::from_utf8_lossy(&bytes).into_owned();
        Reply { status, headers, body, bytes }
    }

    /// A header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// Asserts a 4xx JSON error naming `path`.
    pub fn assert_error(&self, status: u16, path: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        let error = &self.json()["error"];
        assert_eq!(error["status"], status, "{}", self.body);
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", self.body);
        if !path.is_empty() {
            assert_eq!(error["path"].as_str(), Some(path), "{}", self.body);
        }
    }
}
