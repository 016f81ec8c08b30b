//! A real Tally (LRS, insights and the pages) on a real socket and database, and what the
//! page tests do with it: call the JSON API with Basic auth, load the demo data set, and
//! use the pages as a browser would, keeping the session cookie by hand.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use insights::demo::{DemoData, Scenario};
use serde_json::{Value, json};
use server::AppConfig;
use test_support::{Backend, TestDatabase, TestServer};

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn headers(&self, name: &str) -> impl Iterator<Item = &str> {
        self.headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The value a `Set-Cookie` header of this response gives `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers("set-cookie").find_map(|c| {
            let (pair, _) = c.split_once(';').unwrap_or((c, ""));
            let (n, v) = pair.split_once('=')?;
            (n.trim() == name).then(|| v.trim().to_string())
        })
    }

    /// Where a redirect sends the browser.
    pub fn location(&self) -> &str {
        self.header("location").unwrap_or_default()
    }
}

/// A signed-in browser session, as cookies and the form token.
#[derive(Clone, Debug)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

/// A running Tally with its all-scopes credential.
pub struct Site {
    pub root: String,
    pub key: String,
    pub secret: String,
    agent: ureq::Agent,
    _server: TestServer,
}

/// The value of `<input … name="NAME" value="VALUE">` in a page (the first one).
pub fn hidden_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let start = html[..at].rfind('<')?;
    let end = at + html[at..].find('>')?;
    let tag = &html[start..end];
    let value = tag.split("value=\"").nth(1)?;
    Some(value[..value.find('"')?].to_string())
}

/// Form-encodes pairs (empty values too).
pub fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    ui::format::path_segment(value)
}

/// A `multipart/form-data` body of text fields and one file; answers (content type, body).
pub fn multipart(fields: &[(&str, &str)], file: (&str, &str, &[u8])) -> (String, Vec<u8>) {
    let boundary = "tally-test-boundary-7f3a";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    let (name, file_name, content) = file;
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\n\
             Content-Type: text/csv\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

impl Site {
    pub fn start(backend: Backend) -> Site {
        // Connectors can be created: the server has a key to seal their credentials with.
        let key = insights::connectors::SecretKey::from_base64(&"A".repeat(43)).expect("a 32-byte key");
        let config = AppConfig { workers: 2, connector_key: Some(key), ..AppConfig::default() };
        let server = TestServer::start_with(TestDatabase::new(backend), config);
        let root = server.base_url.trim_end_matches("/xapi").to_string();
        // Redirects are the pages' answers: the tests look at them instead of following.
        let agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
        Site { root, key: server.key.clone(), secret: server.secret.clone(), agent, _server: server }
    }

    /// A request to `path` (beside `/xapi`, e.g. `/ui/goals`) with the given headers.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let mut builder = ureq::http::Request::builder().method(method).uri(format!("{}{path}", self.root));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(body.to_vec()).expect("a valid request");
        let response = self.agent.run(request).unwrap_or_else(|e| panic!("{method} {path}: no answer: {e}"));
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let bytes = response.into_body().with_config().limit(1 << 28).read_to_vec().unwrap_or_default();
        Reply { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
    }

    pub fn basic(key: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{key}:{secret}")))
    }

    /// A call of the JSON API with the all-scopes credential.
    pub fn api(&self, method: &str, path: &str, content_type: &str, body: &[u8]) -> Reply {
        let auth = Site::basic(&self.key, &self.secret);
        self.request(
            method,
            path,
            &[
                ("Authorization", &auth),
                ("Content-Type", content_type),
                ("X-Experience-API-Version", "1.0.3"),
            ],
            body,
        )
    }

    /// `GET path` of the JSON API, expecting 200.
    pub fn api_json(&self, path: &str) -> Value {
        let reply = self.api("GET", path, "application/json", b"");
        assert_eq!(reply.status, 200, "GET {path}: {}", reply.body);
        reply.json()
    }

    /// A new credential of the default store with these scopes: (key, secret).
    pub fn credential(&self, scopes: &[&str]) -> (String, String) {
        let body = json!({ "store": 1, "scopes": scopes, "name": format!("test {}", scopes.join(" ")) });
        let reply = self.api("POST", "/admin/credentials", "application/json", body.to_string().as_bytes());
        assert_eq!(reply.status, 201, "{}", reply.body);
        let made = reply.json();
        (made["key"].as_str().unwrap().to_string(), made["secret"].as_str().unwrap().to_string())
    }

    /// Posts statements, which must be accepted.
    pub fn store_statements(&self, statements: &[Value]) {
        for chunk in statements.chunks(500) {
            let body = Value::Array(chunk.to_vec()).to_string();
            let reply = self.api("POST", "/xapi/statements", "application/json", body.as_bytes());
            assert_eq!(reply.status, 200, "POST /xapi/statements: {}", reply.body);
        }
    }

    /// Loads the `working` demo: its statements and its goal (as `install`); the tickets
    /// only when `with_tickets` (the browser test imports them through the form).
    pub fn load_demo(&self, with_tickets: bool) -> DemoData {
        let data = Scenario::working().generate();
        self.store_statements(&data.statements);
        if with_tickets {
            let reply =
                self.api("POST", "/insights/tickets?preset=zendesk", "text/csv", data.tickets_csv.as_bytes());
            assert_eq!(reply.json()["rejected"], json!(0), "{}", reply.body);
        }
        let reply =
            self.api("PUT", "/insights/goals/install", "application/json", data.goal.to_string().as_bytes());
        assert!(reply.status == 201 || reply.status == 200, "{}", reply.body);
        data
    }

    /// Waits until the rollups have caught up with every statement.
    pub fn caught_up(&self) {
        let started = Instant::now();
        loop {
            let status = self.api_json("/insights/status");
            if status["rollups"]["statements_behind"] == json!(0) {
                return;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "the rollups did not catch up: {status}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A page, with or without a session.
    pub fn page(&self, path: &str, session: Option<&Session>) -> Reply {
        let cookie = session.map(|s| s.cookie.clone()).unwrap_or_default();
        let headers: Vec<(&str, &str)> =
            if cookie.is_empty() { vec![] } else { vec![("Cookie", cookie.as_str())] };
        self.request("GET", path, &headers, b"")
    }

    /// Posts a form to a page, with or without a session.
    pub fn post_form(&self, path: &str, session: Option<&Session>, pairs: &[(&str, &str)]) -> Reply {
        let cookie = session.map(|s| s.cookie.clone()).unwrap_or_default();
        let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
        if !cookie.is_empty() {
            headers.push(("Cookie", cookie.as_str()));
        }
        self.request("POST", path, &headers, form(pairs).as_bytes())
    }

    /// Signs in through the form; the answer to the form, and the session when it started.
    pub fn try_sign_in(&self, key: &str, secret: &str) -> (Reply, Option<Session>) {
        let form_page = self.page("/ui/sign-in", None);
        assert_eq!(form_page.status, 200, "{}", form_page.body);
        let token = form_page.cookie("tally_sign_in").expect("the sign-in page sets its token cookie");
        assert_eq!(hidden_value(&form_page.body, "csrf").as_deref(), Some(token.as_str()));
        let cookie = format!("tally_sign_in={token}");
        let body = form(&[("csrf", &token), ("key", key), ("secret", secret)]);
        let reply = self.request(
            "POST",
            "/ui/sign-in",
            &[("Content-Type", "application/x-www-form-urlencoded"), ("Cookie", &cookie)],
            body.as_bytes(),
        );
        let Some(id) = reply.cookie("tally_session") else { return (reply, None) };
        let cookie = format!("tally_session={id}");
        let landing =
            self.page(reply.location(), Some(&Session { cookie: cookie.clone(), csrf: String::new() }));
        assert_eq!(landing.status, 200, "{}: {}", reply.location(), landing.body);
        let csrf = hidden_value(&landing.body, "csrf").expect("the sign-out form carries the token");
        (reply, Some(Session { cookie, csrf }))
    }

    /// Signs in, which must work.
    pub fn sign_in(&self, key: &str, secret: &str) -> Session {
        let (reply, session) = self.try_sign_in(key, secret);
        session.unwrap_or_else(|| panic!("signing in failed: {} {}", reply.status, reply.location()))
    }
}
