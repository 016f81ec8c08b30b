//! Erasing a person (`DELETE /admin/agents`, `tally erase`) from a real Tally holding the
//! demo data set and statements, documents, an attachment and a credential of the person:
//! afterwards no table of the backend, no API answer and no export holds any of their
//! identifiers, the statements that only mentioned them remain with a pseudonym, and the
//! goal report is recomputed without them.

mod support;

use serde_json::{Value, json};
use sha2::Digest;
use store::copy::{Cell, TABLES, TableCopy};
use support::{Serving, stdout_of, tally_on as tally};
use test_support::{Backend, TestDatabase, backend_tests, percent_encode};

const ADMIN: (&str, &str) = ("ops", "erasure-secret");
const NAME: &str = "Erin Example";
const ACCOUNT: &str = "erin-from-the-lms";

fn serving(db: &TestDatabase, allow_erasure: bool) -> Serving {
    let mut command = tally(db);
    command.env("TALLY_ADMIN_KEY", ADMIN.0).env("TALLY_ADMIN_SECRET", ADMIN.1);
    command.env("TALLY_ALLOW_ERASURE", if allow_erasure { "true" } else { "false" });
    Serving::start(command)
}

fn post(serving: &Serving, statement: Value) {
    let (status, body) = serving.request("POST", ADMIN.0, ADMIN.1, &statement.to_string());
    assert_eq!(status, 200, "{body}");
}

fn verb(id: &str) -> Value {
    json!({ "id": format!("http://adlnet.gov/expapi/verbs/{id}") })
}

/// A demo person who files tickets and watched the goal's content (a requester of the
/// ticket export who is a learner), as their mailbox in lower case, and the mailbox as the
/// ticket wrote it.
fn a_learning_requester(serving: &Serving) -> (String, String) {
    let learners: std::collections::HashSet<String> = serving
        .statements(ADMIN)
        .iter()
        .filter(|s| {
            s["object"]["id"].as_str().is_some_and(|id| id.starts_with(insights::demo::CONTENT_PREFIX))
        })
        .filter_map(|s| s["actor"]["mbox"].as_str().map(|m| m.trim_start_matches("mailto:").to_lowercase()))
        .collect();
    let (status, csv) = serving.call("GET", "/exports/tickets.csv", ADMIN, "");
    assert_eq!(status, 200, "{csv}");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let column = header.iter().position(|c| *c == "requester").unwrap();
    let written = lines
        .map(|line| line.split(',').nth(column).unwrap().to_string())
        .find(|requester| learners.contains(&requester.to_lowercase()))
        .expect("a requester who learned");
    (written.to_lowercase(), written)
}

/// The texts that would identify the person: mailbox, its SHA-1, name and account name.
fn identifiers(mailbox: &str) -> Vec<String> {
    let sha1: String = sha1_hex(&format!("mailto:{mailbox}"));
    vec![mailbox.to_string(), sha1, NAME.to_lowercase(), ACCOUNT.to_string()]
}

fn sha1_hex(text: &str) -> String {
    use sha1::Sha1;
    Sha1::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Every place of `text` (lowercased) where one of the identifiers appears.
fn mentions(text: &str, identifiers: &[String]) -> Vec<String> {
    let lower = text.to_lowercase();
    identifiers.iter().filter(|i| lower.contains(i.as_str())).cloned().collect()
}

/// Every text and byte column of every table the backend holds (the list `tally copy`
/// copies, which is every table but the migrations' own), each row that holds an
/// identifier, by table.
fn tables_naming(db: &TestDatabase, identifiers: &[String]) -> Vec<String> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        match db.backend() {
            Backend::Sqlite => {
                scan(&store::sqlite::SqliteStore::open_for_admin(db.data_dir()).unwrap(), identifiers).await
            }
            Backend::Postgres => {
                scan(
                    &store::postgres::PgStore::connect(db.database_url().unwrap()).await.unwrap(),
                    identifiers,
                )
                .await
            }
        }
    })
}

async fn scan<S: TableCopy>(store: &S, identifiers: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for table in &TABLES {
        let mut after = None;
        loop {
            let rows = store.page(table, after.clone(), 1_000).await.unwrap();
            for row in &rows {
                for cell in row {
                    let text = match cell {
                        Cell::Text(text) => text.clone(),
                        Cell::Bytes(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                        _ => continue,
                    };
                    for identifier in mentions(&text, identifiers) {
                        found.push(format!("{}: {identifier} in {text}", table.name));
                    }
                }
            }
            match rows.last() {
                Some(last) => after = Some(table.key_of(last)),
                None => break,
            }
        }
    }
    found
}

/// Statements, documents, an attachment and a credential of the person beyond the demo's,
/// and statements of others that mention them in every place an agent can be.
fn add_the_persons_traces(serving: &Serving, mailbox: &str, written: &str) {
    let named = json!({ "name": NAME, "mbox": format!("mailto:{written}") });
    let account = json!({ "account": { "homePage": "https://lms.example.com", "name": ACCOUNT } });
    let bob = json!({ "name": "Bob Other", "mbox": "mailto:bob@other.example" });
    let course = json!({ "id": "http://example.com/course" });
    let attached = serving.post_with_attachment(
        ADMIN,
        json!({ "actor": named, "verb": verb("completed"), "object": course }),
        "erin's certificate",
    );
    post(
        serving,
        json!({ "actor": { "mbox_sha1sum": sha1_hex(&format!("mailto:{mailbox}")) }, "verb": verb("experienced"), "object": course }),
    );
    post(serving, json!({ "actor": account, "verb": verb("attempted"), "object": course }));
    post(
        serving,
        json!({ "actor": { "objectType": "Group", "member": [named] }, "verb": verb("attended"), "object": course }),
    );
    post(
        serving,
        json!({ "actor": bob, "verb": verb("mentored"), "object": { "objectType": "Agent", "mbox": format!("MAILTO:{}", mailbox.to_uppercase()) } }),
    );
    post(
        serving,
        json!({ "actor": bob, "verb": verb("experienced"), "object": course,
        "context": { "instructor": named, "team": { "objectType": "Group", "name": "Team", "member": [bob, account] } } }),
    );
    post(
        serving,
        json!({ "actor": bob, "verb": verb("commented"), "object": { "objectType": "StatementRef", "id": attached } }),
    );
    let agent = percent_encode(&json!({ "mbox": format!("mailto:{mailbox}") }).to_string());
    let state = format!(
        "/xapi/activities/state?activityId=http%3A%2F%2Fexample.com%2Fcourse&agent={agent}&stateId=bookmark"
    );
    let (status, body) = serving.call("PUT", &state, ADMIN, r#"{"page": 7}"#);
    assert_eq!(status, 204, "{body}");
    let profile = format!("/xapi/agents/profile?agent={agent}&profileId=preferences");
    let (status, body) = serving.call("PUT", &profile, ADMIN, r#"{"theme": "dark"}"#);
    assert!(status == 204 || status == 201, "{status} {body}");
    let made =
        json!({ "store": 1, "scopes": ["statements/read/mine"], "name": "erin's app", "acts_for": named })
            .to_string();
    let (status, body) = serving.call("POST", "/admin/credentials", ADMIN, &made);
    assert_eq!(status, 201, "{body}");
}

fn the_person(mailbox: &str) -> String {
    json!({ "objectType": "Person", "mbox": [format!("mailto:{mailbox}")],
            "account": [{ "homePage": "https://lms.example.com", "name": ACCOUNT }] })
    .to_string()
}

fn erase(serving: &Serving, person: &str, extra: &str) -> (u16, Value) {
    let (status, body) =
        serving.call("DELETE", &format!("/admin/agents?agent={}{extra}", percent_encode(person)), ADMIN, "");
    (status, serde_json::from_str(&body).unwrap_or(Value::String(body)))
}

/// Everything a client or BI tool can read of the store.
fn every_answer(serving: &Serving) -> String {
    let mut answers = serde_json::to_string(&serving.statements(ADMIN)).unwrap();
    for export in [
        "/exports/statements.csv",
        "/exports/statements.ndjson",
        "/exports/tickets.csv",
        "/exports/activity-daily.csv",
        "/exports/goals/install-tickets.csv",
    ] {
        let (status, body) = serving.call("GET", export, ADMIN, "");
        assert_eq!(status, 200, "{export}: {body}");
        answers.push_str(&body);
    }
    let (_, credentials) = serving.call("GET", "/admin/credentials", ADMIN, "");
    answers + &credentials
}

backend_tests! {
    fn an_erasure_leaves_no_identifier_of_the_person_in_any_table_answer_or_export_and_the_report_forgets_them(backend) {
        let db = TestDatabase::new(backend);
        let serving = serving(&db, true);
        let loaded = stdout_of(tally(&db).args(["demo", "--url", &serving.base_url, "--key", ADMIN.0, "--secret", ADMIN.1]));
        assert!(loaded.contains("report"), "{loaded}");
        let (mailbox, written) = a_learning_requester(&serving);
        add_the_persons_traces(&serving, &mailbox, &written);
        let before = serving.report_when_caught_up(ADMIN);
        let identifiers = identifiers(&mailbox);
        assert!(!tables_naming(&db, &identifiers).is_empty(), "the scan finds the person before the erasure");
        let statements_before = serving.statements(ADMIN).len();

        let person = the_person(&mailbox);
        let (status, dry) = erase(&serving, &person, "&dry_run=true");
        assert_eq!(status, 200, "{dry}");
        assert_eq!(serving.statements(ADMIN).len(), statements_before, "a dry run changes nothing");
        let (status, erased) = erase(&serving, &person, "");
        assert_eq!(status, 200, "{erased}");
        assert_eq!(erased["dry_run"], false);
        assert_eq!(erased["removed"], dry["removed"], "the dry run answered what the erasure did");
        assert_eq!(erased["replaced"], dry["replaced"]);
        let removed = erased["removed"]["statements"].as_u64().unwrap();
        assert!(removed >= 5, "the demo's statements of the person and the four added: {erased}");
        assert_eq!(erased["removed"]["documents"], 2, "{erased}");
        assert_eq!(erased["removed"]["attachments"], 1, "{erased}");
        assert_eq!(erased["replaced"]["statements"], 2, "mentored, and instructor with team: {erased}");
        assert!(erased["replaced"]["tickets"].as_u64().unwrap() >= 1, "{erased}");
        assert_eq!(erased["replaced"]["credentials"], 1, "{erased}");
        assert!(mentions(&erased.to_string(), &identifiers).is_empty(), "the answer holds counts only");
        let (status, audit) = serving.call("GET", "/admin/audit?action=person.erase", ADMIN, "");
        assert_eq!(status, 200, "{audit}");
        let audit: Value = serde_json::from_str(&audit).unwrap();
        assert_eq!(audit["entries"].as_array().unwrap().len(), 1, "the erasure is recorded, the dry run is not: {audit}");
        assert_eq!(audit["entries"][0]["details"]["removed"], erased["removed"], "with its counts: {audit}");

        let after = serving.report_when_caught_up(ADMIN);
        let reach = |report: &Value, measure: &str| report["reach"][measure].as_u64().unwrap();
        assert_eq!(reach(&after, "learners") + 1, reach(&before, "learners"),
            "the report is recomputed without the person's learning: {} then {}", before["reach"], after["reach"]);
        assert_eq!(reach(&after, "population"), reach(&before, "population"),
            "their tickets stay, filed by the pseudonym, who counts as one person: {}", after["reach"]);
        let remaining = serving.statements(ADMIN);
        assert_eq!(remaining.len() as u64 + removed, statements_before as u64);
        assert_eq!(remaining.iter().filter(|s| s["actor"]["mbox"] == "mailto:bob@other.example").count(), 3, "the others' statements stay");
        let answers = every_answer(&serving);
        assert!(mentions(&answers, &identifiers).is_empty(), "an answer names the person: {:?}", mentions(&answers, &identifiers));
        let agent = percent_encode(&json!({ "mbox": format!("mailto:{mailbox}") }).to_string());
        for query in [format!("agent={agent}"), format!("agent={agent}&related_agents=true")] {
            let (status, body) = serving.call("GET", &format!("/xapi/statements?{query}"), ADMIN, "");
            assert_eq!(status, 200, "{body}");
            assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["statements"], json!([]), "{query}: {body}");
        }
        let (status, _) = serving.call("GET", &format!("/xapi/activities/state?activityId=http%3A%2F%2Fexample.com%2Fcourse&agent={agent}&stateId=bookmark"), ADMIN, "");
        assert_eq!(status, 404, "the person's state is gone");
        drop(serving);
        let left = tables_naming(&db, &identifiers);
        assert!(left.is_empty(), "rows still name the person: {left:#?}");
    }

    fn an_erasure_needs_the_operators_consent_an_admin_of_the_store_and_a_valid_agent(backend) {
        let db = TestDatabase::new(backend);
        let serving = serving(&db, false);
        post(&serving, json!({ "actor": { "mbox": "mailto:ann@example.com" }, "verb": verb("experienced"), "object": { "id": "http://example.com/a" } }));
        let ann = json!({ "mbox": "mailto:ann@example.com" }).to_string();
        let (status, refused) = erase(&serving, &ann, "");
        assert_eq!(status, 403, "{refused}");
        assert!(refused.to_string().contains("--allow-erasure"), "{refused}");
        let (status, dry) = erase(&serving, &ann, "&dry_run=true");
        assert_eq!((status, &dry["removed"]["statements"]), (200, &json!(1)), "{dry}");
        let (status, bad) = erase(&serving, r#"{"mbox":"ann@example.com"}"#, "&dry_run=true");
        assert_eq!(status, 400, "{bad}");
        assert!(bad.to_string().contains("agent.mbox"), "the error names the property: {bad}");
        let (status, bad) = erase(&serving, &ann, "&dry_run=maybe");
        assert!(status == 400 && bad.to_string().contains("dry_run"), "{bad}");
        let (status, _) = erase(&serving, &ann, "&dry_run=true&store=99");
        assert_eq!(status, 404, "a store that is not there");
        let (status, body) = serving.call("POST", "/admin/credentials", ADMIN, r#"{"store": 1, "scopes": ["all"], "name": "lms"}"#);
        assert_eq!(status, 201, "{body}");
        let lms: Value = serde_json::from_str(&body).unwrap();
        let (status, _) = serving.call("DELETE", &format!("/admin/agents?agent={}&dry_run=true", percent_encode(&ann)),
            (lms["key"].as_str().unwrap(), lms["secret"].as_str().unwrap()), "");
        assert_eq!(status, 403, "a credential without the admin scope");
        drop(serving);

        let dry = stdout_of(tally(&db).args(["erase", "--agent", &ann, "--dry-run"]));
        assert!(dry.contains("\"dry_run\": true") && dry.contains("\"statements\": 1"), "{dry}");
        let done = stdout_of(tally(&db).args(["erase", "--agent", &ann]));
        assert!(done.contains("\"dry_run\": false"), "{done}");
        let exported = stdout_of(tally(&db).args(["export", "statements", "--format", "ndjson"]));
        assert!(exported.is_empty(), "tally erase removed the statement: {exported}");
    }
}
