//! Helpdesk connectors in a real `tally serve`, against helpdesks on 127.0.0.1 that answer
//! as Zendesk's incremental export, ServiceNow's Table API and Jira Cloud's JQL search are
//! documented to: paging and cursors, a 429 with `Retry-After` waited out, a 503 retried,
//! credentials checked. Each first run fetches every page; a second asks only for what
//! changed and updates a ticket in place; a new process resumes from the cursor the last
//! one committed; the credentials are in no answer, log or database cell.

mod support;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use store::copy::{Cell, TABLES, TableCopy};
use support::{Serving, Watched, tally_on as tally};
use test_support::{TestDatabase, backend_tests};

const ADMIN: (&str, &str) = ("ops", "connector-admin-secret");
const SECRET_KEY: &str = "dGVzdC1rZXktZm9yLWhlbHBkZXNrLWNyZWRlbnRpYWw=";

/// A request a helpdesk saw.
#[derive(Clone, Debug)]
struct Seen {
    path: String,
    query: Vec<(String, String)>,
    authorization: String,
    at: Instant,
}

impl Seen {
    fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// What a helpdesk does with one request, before answering it as its API does.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// 429 with `Retry-After: 1`.
    RateLimited,
    /// 503, as during a deploy.
    Unavailable,
    /// 401: the credentials are refused.
    Refused,
}

/// A helpdesk on 127.0.0.1: `answer` makes the documented answer (status, headers, body)
/// to each request whose credentials are right; the requests it saw, in order.
struct Helpdesk {
    base_url: String,
    seen: Arc<Watched<Vec<Seen>>>,
    /// Faults for the next requests, in order (each request takes one; `None` passes).
    faults: Arc<Mutex<VecDeque<Option<Fault>>>>,
}

type Answer = (u16, Vec<(&'static str, String)>, Value);

impl Helpdesk {
    fn start(authorization: String, answer: impl Fn(&Seen) -> Answer + Send + Sync + 'static) -> Helpdesk {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Watched::<Vec<Seen>>::new();
        let faults: Arc<Mutex<VecDeque<Option<Fault>>>> = Arc::default();
        let (recorded, scripted) = (seen.clone(), faults.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let Some(request) = read_request(&stream) else { continue };
                let fault = if request.authorization != authorization {
                    Some(Fault::Refused)
                } else {
                    scripted.lock().unwrap().pop_front().flatten()
                };
                let (status, headers, body) = match fault {
                    Some(Fault::RateLimited) => (
                        429,
                        vec![("Retry-After", "1".to_string())],
                        json!({"error": "APIRateLimitExceeded"}),
                    ),
                    Some(Fault::Unavailable) => (503, vec![], json!({"error": "Service Unavailable"})),
                    Some(Fault::Refused) => (401, vec![], json!({"error": "Couldn't authenticate you"})),
                    None => answer(&request),
                };
                recorded.update(|seen| seen.push(request));
                let body = body.to_string();
                let mut head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                    body.len()
                );
                for (name, value) in headers {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
                let _ = stream.write_all(format!("{head}\r\n{body}").as_bytes());
            }
        });
        Helpdesk { base_url, seen, faults }
    }

    fn fail_next(&self, faults: &[Option<Fault>]) {
        self.faults.lock().unwrap().extend(faults.iter().copied());
    }

    fn requests(&self) -> Vec<Seen> {
        self.seen.value.lock().unwrap().clone()
    }
}

fn read_request(stream: &std::net::TcpStream) -> Option<Seen> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let target = line.split_whitespace().nth(1)?.to_string();
    let mut authorization = String::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("authorization")
        {
            authorization = value.trim().to_string();
        }
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let decode = |text: &str| {
        percent_encoding::percent_decode_str(&text.replace('+', " ")).decode_utf8_lossy().into_owned()
    };
    let query = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect();
    Some(Seen { path: path.to_string(), query, authorization, at: Instant::now() })
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

/// A `tally serve` with the sealing key, its scheduler idle for the tests' `1h` connectors.
fn serve(db: &TestDatabase, extra: &[&str]) -> Serving {
    let mut command = tally(db);
    command
        .env("TALLY_ADMIN_KEY", ADMIN.0)
        .env("TALLY_ADMIN_SECRET", ADMIN.1)
        .env("TALLY_SECRET_KEY", SECRET_KEY);
    command.env("TALLY_LOG", "info,tally::connectors=info");
    let mut args = vec!["serve", "--bind", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    Serving::start_as(command, &args, "xAPI at ")
}

fn create(serving: &Serving, body: Value) -> Value {
    let (status, answer) = serving.call("POST", "/admin/stores/1/connectors", ADMIN, &body.to_string());
    assert_eq!(status, 201, "{answer}");
    serde_json::from_str(&answer).unwrap()
}

/// Runs connector `id` now; answers its state after the run.
fn run_now(serving: &Serving, id: &Value) -> Value {
    let (status, answer) = serving.call("POST", &format!("/admin/stores/1/connectors/{id}/run"), ADMIN, "");
    assert_eq!(status, 200, "{answer}");
    serde_json::from_str(&answer).unwrap()
}

/// The store's tickets (the CSV export), by external id: the row's cells by header.
fn stored_tickets(
    serving: &Serving,
) -> std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>> {
    let (status, csv) = serving.call("GET", "/exports/tickets.csv", ADMIN, "");
    assert_eq!(status, 200, "{csv}");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|line| {
            let cells: std::collections::BTreeMap<String, String> = header
                .iter()
                .zip(line.split(','))
                .map(|(h, c)| (h.to_string(), c.trim_matches('"').to_string()))
                .collect();
            (cells["external_id"].clone(), cells)
        })
        .collect()
}

/// Asserts that no secret (a token, or the `Authorization` made of it) is in any of the
/// connectors table's cells (nor, on SQLite, in the database's files), in the answers about
/// the connectors, or in anything the server logged.
fn assert_secret_kept(db: &TestDatabase, serving: &Serving, secrets: &[&str]) {
    for secret in secrets {
        assert_one_secret_kept(db, serving, secret);
    }
}

fn assert_one_secret_kept(db: &TestDatabase, serving: &Serving, secret: &str) {
    let table = TABLES.iter().find(|t| t.name == "connectors").unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let rows = runtime.block_on(async {
        match db.database_url() {
            Some(url) => store::PgStore::connect(url).await.unwrap().page(table, None, 100).await.unwrap(),
            None => store::SqliteStore::open_for_admin(db.data_dir())
                .unwrap()
                .page(table, None, 100)
                .await
                .unwrap(),
        }
    });
    assert!(!rows.is_empty());
    for cell in rows.iter().flatten() {
        let bytes = match cell {
            Cell::Text(text) => text.as_bytes().to_vec(),
            Cell::Bytes(bytes) => bytes.clone(),
            _ => continue,
        };
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} is readable in {cell:?}"
        );
    }
    if db.database_url().is_none() {
        for file in std::fs::read_dir(db.data_dir()).unwrap() {
            let bytes = std::fs::read(file.unwrap().path()).unwrap_or_default();
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} is in the database files"
            );
        }
    }
    let (_, listed) = serving.call("GET", "/admin/stores/1/connectors", ADMIN, "");
    assert!(!listed.contains(secret), "{listed}");
    assert!(!serving.log.value.lock().unwrap().contains(secret), "the log shows the secret");
}

fn zendesk_ticket(id: u64, updated: &str, status: &str) -> Value {
    json!({ "id": id, "url": format!("https://acme.zendesk.com/api/v2/tickets/{id}.json"), "external_id": null,
            "type": "incident", "subject": format!("Installer fails {id}"), "priority": "high", "status": status,
            "requester_id": 9000 + id % 2, "group_id": 77, "tags": ["install", "Windows"],
            "via": { "channel": "web", "source": { "from": {}, "to": {}, "rel": null } },
            "created_at": "2024-03-04T08:15:02Z", "updated_at": updated, "generated_timestamp": 0 })
}

/// Zendesk's cursor-based incremental ticket export over `tickets`, two per page. Its
/// cursor (opaque to clients) is the position after the last ticket returned.
fn zendesk(tickets: Arc<Mutex<Vec<Value>>>, authorization: String) -> Helpdesk {
    Helpdesk::start(authorization, move |seen| {
        assert_eq!(seen.path, "/api/v2/incremental/tickets/cursor.json");
        assert_eq!(seen.param("include"), Some("users,groups,metric_sets"));
        let mut all = tickets.lock().unwrap().clone();
        all.sort_by_key(|t| (t["updated_at"].as_str().unwrap().to_string(), t["id"].as_u64().unwrap()));
        let position = |t: &Value| format!("{}|{}", t["updated_at"].as_str().unwrap(), t["id"]);
        let after = match (seen.param("cursor"), seen.param("start_time")) {
            (Some(cursor), _) => {
                String::from_utf8(base64::engine::general_purpose::STANDARD.decode(cursor).unwrap()).unwrap()
            }
            (None, Some("0")) => String::new(),
            other => panic!("neither a cursor nor a start time: {other:?}"),
        };
        let rest: Vec<Value> = all.into_iter().filter(|t| position(t) > after).collect();
        let page: Vec<Value> = rest.iter().take(2).cloned().collect();
        let last = page.last().map_or(after.clone(), position);
        let users = [9000, 9001]
            .map(|id| json!({ "id": id, "name": "Jane", "email": format!("Jane.{id}@Customer.example") }));
        let metric_sets: Vec<Value> = page
            .iter()
            .filter(|t| t["status"] == "solved")
            .map(|t| json!({ "ticket_id": t["id"], "solved_at": "2024-03-05T16:21:00Z" }))
            .collect();
        let cursor = base64::engine::general_purpose::STANDARD.encode(last);
        (
            200,
            vec![("x-rate-limit-remaining", "9".into())],
            json!({
            "tickets": page, "users": users, "groups": [{ "id": 77, "name": "Installation Support" }],
            "metric_sets": metric_sets,
            "after_url": format!("https://acme.zendesk.com/api/v2/incremental/tickets/cursor.json?cursor={cursor}"),
            "after_cursor": cursor, "before_url": null, "before_cursor": null,
            "end_of_stream": rest.len() <= 2 }),
        )
    })
}

/// The request after the 429 at `rate_limited_at` came a second later at least
/// (`Retry-After: 1`), and asked for the same page.
fn assert_waited_out_the_rate_limit(seen: &[Seen], rate_limited_at: usize) {
    let waited = seen[rate_limited_at + 1].at.duration_since(seen[rate_limited_at].at);
    assert!(waited >= Duration::from_millis(950), "asked again after {waited:?}, before Retry-After");
    assert_eq!(seen[rate_limited_at].query, seen[rate_limited_at + 1].query, "the same page is asked again");
}

backend_tests! {
    fn zendesk_tickets_arrive_page_by_page_update_in_place_and_resume_after_a_restart(backend) {
        let db = TestDatabase::new(backend);
        let token = "zd-api-token-4f1b9c";
        let tickets = Arc::new(Mutex::new(
            (1..=5).map(|i| zendesk_ticket(100 + i, &format!("2024-03-0{i}T10:00:00Z"), if i % 2 == 0 { "open" } else { "solved" })).collect::<Vec<_>>(),
        ));
        let helpdesk = zendesk(tickets.clone(), basic("ops@acme.example/token", token));
        let serving = serve(&db, &[]);
        let connector = create(&serving, json!({ "kind": "zendesk", "base_url": helpdesk.base_url, "every": "1h",
                                                 "credentials": { "email": "ops@acme.example", "api_token": token } }));
        assert_eq!(connector["last_run"], Value::Null);
        assert_eq!(connector["tickets_fetched"], 0);

        // Pages of 2, 2 and 1; the second page is rate limited once, the third fails once.
        helpdesk.fail_next(&[None, Some(Fault::RateLimited), None, Some(Fault::Unavailable)]);
        let before = xapi::Timestamp::now();
        let state = run_now(&serving, &connector["id"]);
        let first_cursor = state["cursor"].as_str().unwrap().to_string();
        assert_eq!(state["last_error"], Value::Null, "{state}");
        assert_eq!(state["tickets_fetched"], 5);
        assert!(state["last_run"].is_string() && state["next_run"].is_string());
        let known = xapi::Timestamp::parse(state["known_through"].as_str().unwrap()).unwrap().instant;
        assert!(known.as_micros() <= before.as_micros() && known.as_micros() > before.as_micros() - 120_000_000, "{state}");
        let seen = helpdesk.requests();
        assert_eq!(seen.len(), 5, "{seen:?}");
        assert_eq!(seen[0].param("start_time"), Some("0"));
        assert_waited_out_the_rate_limit(&seen, 1);
        assert_eq!(seen[3].query, seen[4].query, "the page that failed is asked again");

        // Mapped as the Zendesk preset maps an export.
        let stored = stored_tickets(&serving);
        assert_eq!(stored.len(), 5);
        let solved = &stored["101"];
        assert_eq!(solved["source"], "zendesk");
        assert_eq!(solved["status"], "solved");
        assert_eq!(solved["category"], "incident");
        assert_eq!(solved["tags"], "install;windows");
        assert_eq!(solved["product"], "Installation Support");
        assert_eq!(solved["requester"], "jane.9001@customer.example");
        assert_eq!(solved["channel"], "web");
        assert!(solved["resolved"].starts_with("2024-03-05T16:21:00"), "{solved:?}");
        assert_eq!(stored["102"]["resolved"], "");

        // What changed: 102 is solved now, 106 is new. The next run starts at the cursor.
        {
            let mut tickets = tickets.lock().unwrap();
            tickets[1] = zendesk_ticket(102, "2024-03-06T09:00:00Z", "solved");
            tickets.push(zendesk_ticket(106, "2024-03-06T10:00:00Z", "open"));
        }
        let state = run_now(&serving, &connector["id"]);
        assert_eq!(state["tickets_fetched"], 7, "{state}");
        let seen = helpdesk.requests();
        assert_eq!(seen[5].param("cursor"), Some(first_cursor.as_str()), "the second run asks from the last cursor");
        assert_eq!(seen[5].param("start_time"), None);
        let stored = stored_tickets(&serving);
        assert_eq!(stored.len(), 6);
        assert_eq!(stored["102"]["status"], "solved");

        // A run that fails on its second page keeps the first: a new process resumes after it.
        tickets.lock().unwrap().extend([107, 108, 109].map(|id| zendesk_ticket(id, &format!("2024-03-07T{}:00:00Z", id - 90), "open")));
        helpdesk.fail_next(&[None, Some(Fault::Refused)]);
        let state = run_now(&serving, &connector["id"]);
        assert!(state["last_error"].as_str().unwrap().contains("refused the connector's credentials"), "{state}");
        assert_eq!(state["tickets_fetched"], 9);
        drop(serving);
        let serving = serve(&db, &[]);
        let state = run_now(&serving, &connector["id"]);
        assert_eq!(state["last_error"], Value::Null, "{state}");
        assert_eq!(state["tickets_fetched"], 10);
        let seen = helpdesk.requests();
        // The failed request asked for the page after the stored one: the new process too.
        assert_eq!(seen[8].param("cursor"), seen[7].param("cursor"));
        assert_eq!(stored_tickets(&serving).len(), 9);
        assert!(seen.iter().all(|s| s.path == "/api/v2/incremental/tickets/cursor.json"));
        assert_secret_kept(&db, &serving, &[token, &basic("ops@acme.example/token", token)]);
    }

    fn servicenow_incidents_follow_sys_updated_on_through_offset_pages(backend) {
        let db = TestDatabase::new(backend);
        let password = "sn-password-77d1";
        let incidents = Arc::new(Mutex::new((1..=5).map(|i| incident(i, &format!("2024-03-0{i} 10:00:00"), "2")).collect::<Vec<_>>()));
        let helpdesk = servicenow(incidents.clone(), basic("tally.integration", password));
        let serving = serve(&db, &["--metrics-bind", "127.0.0.1:0"]);
        let connector = create(&serving, json!({ "kind": "servicenow", "base_url": helpdesk.base_url, "every": "1h",
            "filter": "assignment_group.name=Service Desk",
            "credentials": { "username": "tally.integration", "password": password } }));
        helpdesk.fail_next(&[Some(Fault::Unavailable), None, Some(Fault::RateLimited)]);
        let state = run_now(&serving, &connector["id"]);
        assert_eq!(state["last_error"], Value::Null, "{state}");
        assert_eq!(state["tickets_fetched"], 5);
        let seen = helpdesk.requests();
        // 503, then pages at offsets 0, 2 (after a 429) and 4.
        let offsets: Vec<&str> = seen.iter().map(|s| s.param("sysparm_offset").unwrap()).collect();
        assert_eq!(offsets, ["0", "0", "2", "2", "4"]);
        assert_waited_out_the_rate_limit(&seen, 2);
        assert_eq!(seen[0].param("sysparm_query"), Some("assignment_group.name=Service Desk^ORDERBYsys_updated_on"));
        assert_eq!(seen[0].param("sysparm_display_value"), Some("all"));
        let stored = stored_tickets(&serving);
        let first = &stored["INC0000001"];
        assert_eq!(first["source"], "servicenow");
        assert_eq!(first["status"], "In Progress");
        assert_eq!(first["category"], "Software");
        assert_eq!(first["tags"], "installation");
        assert_eq!(first["requester"], "abel.tuter@example.com");
        assert_eq!(first["product"], "Acme Installer");
        assert!(first["created"].starts_with("2024-03-01T08:00:00"), "{first:?}");

        incidents.lock().unwrap()[0] = incident(1, "2024-03-09 12:30:00", "6");
        let state = run_now(&serving, &connector["id"]);
        assert_eq!(state["tickets_fetched"], 7, "{state}");
        let seen = helpdesk.requests();
        assert_eq!(
            seen[5].param("sysparm_query"),
            Some("sys_updated_on>=2024-03-05 10:00:00^assignment_group.name=Service Desk^ORDERBYsys_updated_on")
        );
        let stored = stored_tickets(&serving);
        assert_eq!(stored.len(), 5);
        assert_eq!(stored["INC0000001"]["status"], "Resolved");
        assert!(stored["INC0000001"]["resolved"].starts_with("2024-03-09T12:30:00"));

        drop(serving);
        let serving = serve(&db, &["--metrics-bind", "127.0.0.1:0"]);
        run_now(&serving, &connector["id"]);
        let seen = helpdesk.requests();
        assert!(seen[6].param("sysparm_query").unwrap().starts_with("sys_updated_on>=2024-03-09 12:30:00^"), "{seen:?}");
        assert_secret_kept(&db, &serving, &[password, &basic("tally.integration", password)]);
    }

    fn jira_issues_follow_updated_through_next_page_tokens(backend) {
        let db = TestDatabase::new(backend);
        let token = "jira-api-token-c0ffee";
        let issues = Arc::new(Mutex::new((1..=3).map(|i| issue(i, &format!("2024-03-0{i}T10:00:15.000+0100"), None)).collect::<Vec<_>>()));
        let helpdesk = jira(issues.clone(), basic("ops@acme.example", token));
        let serving = serve(&db, &[]);
        let connector = create(&serving, json!({ "kind": "jira", "base_url": helpdesk.base_url, "every": "1h",
            "filter": "project = HELP", "credentials": { "email": "ops@acme.example", "api_token": token } }));
        helpdesk.fail_next(&[None, Some(Fault::RateLimited), Some(Fault::Unavailable)]);
        let state = run_now(&serving, &connector["id"]);
        assert_eq!(state["last_error"], Value::Null, "{state}");
        assert_eq!(state["tickets_fetched"], 3);
        let seen = helpdesk.requests();
        assert_eq!(seen.len(), 4);
        assert_eq!(seen[0].param("jql"), Some("(project = HELP) AND updated >= \"1970-01-01 00:00\" ORDER BY updated ASC"));
        assert_eq!(seen[0].param("nextPageToken"), None);
        assert_eq!(seen[3].param("nextPageToken"), Some("page-2"));
        assert_waited_out_the_rate_limit(&seen, 1);
        let stored = stored_tickets(&serving);
        let first = &stored["HELP-1"];
        assert_eq!(first["source"], "jira");
        assert_eq!(first["status"], "Waiting for support");
        assert_eq!(first["category"], "Bug");
        assert_eq!(first["tags"], "install;windows");
        assert_eq!(first["product"], "Installer");
        assert_eq!(first["requester"], "reporter@customer.example");
        assert_eq!(first["priority"], "High");
        assert!(first["created"].starts_with("2024-03-01T07:00:00"), "{first:?}");

        issues.lock().unwrap()[1] = issue(2, "2024-03-08T16:45:59.000+0100", Some("2024-03-08T16:45:00.000+0100"));
        let state = run_now(&serving, &connector["id"]);
        assert_eq!(state["tickets_fetched"], 5, "{state}");
        let seen = helpdesk.requests();
        assert_eq!(seen[4].param("jql"), Some("(project = HELP) AND updated >= \"2024-03-03 10:00\" ORDER BY updated ASC"));
        assert_eq!(stored_tickets(&serving)["HELP-2"]["status"], "Done");
        let (status, audit) = serving.call("GET", "/admin/audit?store=1", ADMIN, "");
        assert_eq!(status, 200, "{audit}");
        let audit: Value = serde_json::from_str(&audit).unwrap();
        let acts: Vec<&str> = audit["entries"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
        assert_eq!(acts.into_iter().filter(|a| a.starts_with("connector.")).collect::<Vec<_>>(), ["connector.run", "connector.run", "connector.create"], "{audit}");
        assert_eq!(audit["entries"][0]["details"]["tickets_fetched"], 5, "the run is recorded with its count: {audit}");

        drop(serving);
        let serving = serve(&db, &[]);
        run_now(&serving, &connector["id"]);
        let seen = helpdesk.requests();
        assert_eq!(seen[5].param("jql"), Some("(project = HELP) AND updated >= \"2024-03-08 16:45\" ORDER BY updated ASC"));
        assert_secret_kept(&db, &serving, &[token, &basic("ops@acme.example", token)]);
    }

    fn the_scheduler_runs_a_due_connector_by_itself_and_the_metrics_show_it(backend) {
        let db = TestDatabase::new(backend);
        let issues = Arc::new(Mutex::new(vec![issue(1, "2024-03-01T10:00:15.000+0000", None)]));
        let helpdesk = jira(issues, basic("ops@acme.example", "t"));
        let metrics = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let serving = serve(&db, &["--metrics-bind", &format!("127.0.0.1:{metrics}")]);
        let connector = create(&serving, json!({ "kind": "jira", "base_url": helpdesk.base_url, "every": "1s",
            "credentials": { "email": "ops@acme.example", "api_token": "t" } }));
        serving.log_when("the scheduled run", |log| log.contains("connector ran"));
        let (_, listed) = serving.call("GET", "/admin/stores/1/connectors", ADMIN, "");
        let listed: Value = serde_json::from_str(&listed).unwrap();
        assert_eq!(listed[0]["id"], connector["id"]);
        assert!(listed[0]["tickets_fetched"].as_u64().unwrap() >= 1, "{listed}");
        let scraped = ureq::get(&format!("http://127.0.0.1:{metrics}/metrics")).call().unwrap().into_body().read_to_string().unwrap();
        let series = format!("tally_connector_tickets_total{{store=\"1\",connector=\"{}\",kind=\"jira\"}}", connector["id"]);
        assert!(scraped.lines().any(|l| l.starts_with(&series)), "{series} in {scraped}");
        assert!(scraped.contains("tally_connector_runs_total{"), "{scraped}");
    }

    fn bad_connectors_are_refused_with_the_property_and_rule_and_none_without_a_key(backend) {
        let db = TestDatabase::new(backend);
        let serving = serve(&db, &[]);
        let good = json!({ "kind": "jira", "base_url": "https://acme.atlassian.net", "every": "1h",
                           "credentials": { "email": "ops@acme.example", "api_token": "t" } });
        for (key, value, property) in [
            ("kind", json!("freshdesk"), "kind"),
            ("base_url", json!("http://acme.atlassian.net"), "base_url"),
            ("every", json!("sometimes"), "every"),
            ("credentials", json!({ "email": "ops@acme.example" }), "credentials.api_token"),
            ("filter", json!("project = HELP ORDER BY key"), "filter"),
        ] {
            let mut body = good.clone();
            body[key] = value;
            let (status, answer) = serving.call("POST", "/admin/stores/1/connectors", ADMIN, &body.to_string());
            assert_eq!(status, 400, "{answer}");
            let answer: Value = serde_json::from_str(&answer).unwrap();
            assert_eq!(answer["error"]["path"], property, "{answer}");
        }
        let (status, _) = serving.call("GET", "/admin/stores/1/connectors/99", ADMIN, "");
        assert_eq!(status, 404);
        let made = create(&serving, good.clone());
        let path = format!("/admin/stores/1/connectors/{}", made["id"]);
        assert_eq!(serving.call("GET", &path, ADMIN, "").0, 200);
        assert_eq!(serving.call("DELETE", &path, ADMIN, "").0, 204);
        assert_eq!(serving.call("GET", &path, ADMIN, "").0, 404);
        drop(serving);

        let mut command = tally(&db);
        command.env("TALLY_ADMIN_KEY", ADMIN.0).env("TALLY_ADMIN_SECRET", ADMIN.1).env_remove("TALLY_SECRET_KEY");
        let keyless = Serving::start(command);
        let (status, answer) = keyless.call("POST", "/admin/stores/1/connectors", ADMIN, &good.to_string());
        assert_eq!(status, 503, "{answer}");
        assert!(answer.contains("TALLY_SECRET_KEY"), "{answer}");
    }
}

fn incident(n: u32, updated: &str, state: &str) -> Value {
    let pair = |value: &str, display: &str| json!({ "value": value, "display_value": display });
    let (state_name, resolved) = if state == "6" { ("Resolved", updated) } else { ("In Progress", "") };
    json!({
        "number": pair(&format!("INC000000{n}"), &format!("INC000000{n}")),
        "opened_at": pair(&format!("2024-03-0{n} 08:00:00"), &format!("0{n}/03/2024 09:00:00")),
        "sys_created_on": pair(&format!("2024-03-0{n} 08:00:00"), &format!("0{n}/03/2024 09:00:00")),
        "resolved_at": pair(resolved, resolved),
        "state": pair(state, state_name),
        "category": pair("software", "Software"),
        "subcategory": pair("installation", "Installation"),
        "sys_tags": pair("", ""),
        "cmdb_ci": pair("a9c0c8d2c611227601cd2ed45989e0ac", "Acme Installer"),
        "caller_id": pair("62826bf03710200044e0bfc8bcbe5df1", "Abel Tuter"),
        "caller_id.email": pair("abel.tuter@example.com", "abel.tuter@example.com"),
        "priority": pair("2", "2 - High"),
        "contact_type": pair("email", "Email"),
        "short_description": pair("Installer stops", "Installer stops"),
        "sys_updated_on": pair(updated, "display, in the user's zone"),
    })
}

/// ServiceNow's Table API on `incident`, two records a page whatever `sysparm_limit` asks
/// (as an instance's result limit does), with `X-Total-Count`.
fn servicenow(incidents: Arc<Mutex<Vec<Value>>>, authorization: String) -> Helpdesk {
    Helpdesk::start(authorization, move |seen| {
        assert_eq!(seen.path, "/api/now/table/incident");
        let query = seen.param("sysparm_query").unwrap();
        let since = query.split('^').find_map(|c| c.strip_prefix("sys_updated_on>=")).unwrap_or("");
        assert!(query.ends_with("^ORDERBYsys_updated_on"), "{query}");
        let fields = seen.param("sysparm_fields").unwrap();
        assert!(fields.contains("caller_id.email") && fields.contains("sys_updated_on"), "{fields}");
        let mut matching: Vec<Value> = incidents
            .lock()
            .unwrap()
            .iter()
            .filter(|i| i["sys_updated_on"]["value"].as_str().unwrap() >= since)
            .cloned()
            .collect();
        matching.sort_by_key(|i| i["sys_updated_on"]["value"].as_str().unwrap().to_string());
        let offset: usize = seen.param("sysparm_offset").unwrap().parse().unwrap();
        let page: Vec<Value> = matching.iter().skip(offset).take(2).cloned().collect();
        let headers =
            vec![("X-Total-Count", matching.len().to_string()), ("X-RateLimit-Remaining", "99".into())];
        (200, headers, json!({ "result": page }))
    })
}

fn issue(n: u32, updated: &str, resolved: Option<&str>) -> Value {
    json!({
        "expand": "", "id": format!("{}", 10_000 + n), "self": format!("https://acme.atlassian.net/rest/api/3/issue/{}", 10_000 + n),
        "key": format!("HELP-{n}"),
        "fields": {
            "summary": "The installer stops at 80%",
            "created": format!("2024-03-0{n}T08:00:00.000+0100"),
            "updated": updated,
            "resolutiondate": resolved,
            "status": { "name": if resolved.is_some() { "Done" } else { "Waiting for support" }, "id": "10001" },
            "issuetype": { "name": "Bug", "id": "10004" },
            "labels": ["install", "Windows"],
            "components": [{ "id": "10100", "name": "Installer" }, { "id": "10101", "name": "Licensing" }],
            "reporter": { "accountId": "5b10a2844c20165700ede21g", "emailAddress": "Reporter@Customer.example", "displayName": "Mia Krystof" },
            "priority": { "name": "High", "id": "2" },
        }
    })
}

/// Jira Cloud's `GET /rest/api/3/search/jql`: two issues a page, `nextPageToken` until
/// `isLast`. It reads the `updated >= "…"` bound of the JQL it is sent.
fn jira(issues: Arc<Mutex<Vec<Value>>>, authorization: String) -> Helpdesk {
    Helpdesk::start(authorization, move |seen| {
        assert_eq!(seen.path, "/rest/api/3/search/jql");
        let jql = seen.param("jql").unwrap();
        assert!(jql.ends_with(" ORDER BY updated ASC"), "{jql}");
        let since = jql.split("updated >= \"").nth(1).unwrap().split('"').next().unwrap().to_string();
        let fields = seen.param("fields").unwrap();
        assert!(fields.contains("resolutiondate") && fields.contains("updated"), "{fields}");
        let mut matching: Vec<Value> = issues
            .lock()
            .unwrap()
            .iter()
            .filter(|i| {
                let updated = i["fields"]["updated"].as_str().unwrap();
                format!("{} {}", &updated[..10], &updated[11..16]) >= since
            })
            .cloned()
            .collect();
        matching.sort_by_key(|i| i["fields"]["updated"].as_str().unwrap().to_string());
        let page_number: usize =
            seen.param("nextPageToken").map_or(1, |t| t.trim_start_matches("page-").parse().unwrap());
        let page: Vec<Value> = matching.iter().skip((page_number - 1) * 2).take(2).cloned().collect();
        let last = matching.len() <= page_number * 2;
        let mut body = json!({ "issues": page, "isLast": last });
        if !last {
            body["nextPageToken"] = json!(format!("page-{}", page_number + 1));
        }
        (200, vec![("X-RateLimit-Remaining", "10".into())], body)
    })
}
