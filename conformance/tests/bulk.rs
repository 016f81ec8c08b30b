//! Statements in bulk as NDJSON over HTTP, on both backends: the export
//! (`GET /exports/statements.ndjson`) and the import (`POST /admin/stores/{id}/statements.ndjson`).

use conformance::statements::{statement_with, voiding};
use conformance::{Lrs, Reply, backend_tests};
use serde_json::{Value, json};
use server::AppConfig;
use test_support::{TestDatabase, TestServer};
use uuid::Uuid;

/// A statement by this person.
fn by(mbox: &str) -> Value {
    statement_with(
        json!({ "mbox": format!("mailto:{mbox}") }),
        "http://adlnet.gov/expapi/verbs/experienced",
        "http://example.com/course",
    )
}

/// The same, under a given id.
fn by_with_id(mbox: &str, id: &str) -> Value {
    let mut statement = by(mbox);
    statement["id"] = json!(id);
    statement
}

fn export(lrs: &Lrs, query: &str) -> Reply {
    let url = format!("{}/exports/statements.ndjson{query}", lrs.root());
    lrs.request("GET", "").url(&url).send()
}

fn import(lrs: &Lrs, store: i64, authorization: &str, body: &str) -> Reply {
    let url = format!("{}/admin/stores/{store}/statements.ndjson", lrs.root());
    lrs.request("POST", "")
        .url(&url)
        .header("Authorization", authorization)
        .header("Content-Type", "application/x-ndjson")
        .body(body.as_bytes())
}

/// The statements a store's credential reads, oldest first.
fn statements_of(lrs: &Lrs, authorization: &str) -> Vec<Value> {
    let url = format!("{}/statements?ascending=true&limit=500", lrs.base_url);
    let reply = lrs.call(&url, "GET", authorization, None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["statements"].as_array().cloned().unwrap_or_default()
}

fn ids(statements: &[Value]) -> Vec<String> {
    statements.iter().map(|s| s["id"].as_str().unwrap_or_default().to_string()).collect()
}

backend_tests! {
    fn the_ndjson_export_holds_each_visible_statement_as_stored_one_per_line_oldest_first(backend) {
        let lrs = Lrs::start(backend);
        let stored = lrs.store(&json!([by("a@example.com"), by("b@example.com"), by("c@example.com")]));
        lrs.store_one(&voiding(stored[1].parse().unwrap()));
        let reply = export(&lrs, "");
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.header("Content-Type"), Some("application/x-ndjson"));
        let lines: Vec<Value> = reply.body.lines().map(|l| serde_json::from_str(l).expect("one JSON statement per line")).collect();
        // The voided statement is left out, as a statement query leaves it out.
        let expected = [stored[0].clone(), stored[2].clone()];
        assert_eq!(ids(&lines)[..2], expected, "oldest first: {}", reply.body);
        assert_eq!(lines.len(), 3, "the two statements and the voiding one");
        let by_get = lrs.get(&format!("/statements?statementId={}", stored[0])).json();
        assert_eq!(lines[0], by_get, "each line is the statement as the LRS answers it");
        let newest_first = export(&lrs, "?ascending=false");
        assert_eq!(newest_first.body.lines().count(), 3);
        assert!(newest_first.body.lines().next().unwrap().contains("http://adlnet.gov/expapi/verbs/voided"));
        let filtered = export(&lrs, &format!("?agent={}", conformance::encode(&json!({"mbox": "mailto:c@example.com"}).to_string())));
        assert_eq!(ids(&filtered.body.lines().map(|l| serde_json::from_str(l).unwrap()).collect::<Vec<Value>>()), [stored[2].clone()]);
        export(&lrs, &format!("?statementId={}", stored[0])).assert_error(400, "statementId");
    }

    fn statements_exported_as_ndjson_import_into_another_store_once_however_often_it_runs(backend) {
        let lrs = Lrs::start(backend);
        let stored = lrs.store(&json!([by("a@example.com"), by("b@example.com")]));
        let ndjson = export(&lrs, "").body;
        let (store, reader) = lrs.tenant("copy", &["all"]);
        let first = import(&lrs, store, lrs.authorization(), &ndjson);
        assert_eq!(first.status, 200, "{}", first.body);
        assert_eq!(first.json(), json!({ "lines": 2, "accepted": 2, "rejected": 0, "rejected_lines": [] }));
        let again = import(&lrs, store, lrs.authorization(), &ndjson).json();
        assert_eq!(again["accepted"], json!(2), "a re-run accepts the same statements: {again}");
        let copied = statements_of(&lrs, &reader);
        assert_eq!(ids(&copied), stored, "each statement once, with its id, in the same order");
        let original = lrs.get(&format!("/statements?statementId={}", stored[0])).json();
        for field in ["actor", "verb", "object", "timestamp"] {
            assert_eq!(copied[0][field], original[field], "{field} travels unchanged");
        }
    }

    fn an_ndjson_import_refuses_bad_lines_by_number_and_stores_the_rest(backend) {
        let lrs = Lrs::start(backend);
        let taken = lrs.store_one(&by("a@example.com"));
        let clash = by_with_id("someone-else@example.com", &taken);
        let good = Uuid::new_v4().to_string();
        let lines = [
            by_with_id("b@example.com", &good).to_string(),
            "{not json".to_string(),
            String::new(),
            json!({ "actor": { "mbox": "mailto:c@example.com" } }).to_string(),
            clash.to_string(),
            "[]".to_string(),
            by("d@example.com").to_string(),
        ];
        let reply = import(&lrs, 1, lrs.authorization(), &lines.join("\n"));
        assert_eq!(reply.status, 200, "{}", reply.body);
        let report = reply.json();
        assert_eq!((report["lines"].clone(), report["accepted"].clone(), report["rejected"].clone()), (json!(7), json!(2), json!(4)), "{report}");
        let refused: Vec<u64> = report["rejected_lines"].as_array().unwrap().iter().map(|r| r["line"].as_u64().unwrap()).collect();
        assert_eq!(refused, [2, 4, 5, 6], "{report}");
        let reasons: Vec<&str> = report["rejected_lines"].as_array().unwrap().iter().map(|r| r["reason"].as_str().unwrap()).collect();
        assert!(reasons[0].contains("JSON") && reasons[1].contains("verb") && reasons[2].contains("different content"), "{reasons:?}");
        assert_eq!(lrs.get(&format!("/statements?statementId={good}")).status, 200);
        let kept = lrs.get(&format!("/statements?statementId={taken}")).json();
        assert_eq!(kept["actor"]["mbox"], json!("mailto:a@example.com"), "the stored statement is untouched");
    }

    fn an_ndjson_import_is_read_as_it_arrives_so_its_size_is_not_bounded_by_the_body_limit(backend) {
        if std::env::var("TALLY_CONFORMANCE_URL").is_ok() {
            return;
        }
        let config = AppConfig { max_body_bytes: 16 * 1024, workers: 2, ..AppConfig::default() };
        let lrs = Lrs::for_server(TestServer::start_with(TestDatabase::new(backend), config));
        let lines: Vec<String> = (0..1_200).map(|i| by(&format!("learner{i}@example.com")).to_string()).collect();
        let body = lines.join("\n");
        assert!(body.len() > 10 * 16 * 1024, "ten times the body limit");
        let too_long = format!("{}\n{{\"pad\":\"{}\"}}", body, "x".repeat(20 * 1024));
        let reply = import(&lrs, 1, lrs.authorization(), &too_long);
        assert_eq!(reply.status, 200, "{}", reply.body);
        let report = reply.json();
        assert_eq!((report["accepted"].clone(), report["rejected"].clone()), (json!(1_200), json!(1)), "{report}");
        assert!(report["rejected_lines"][0]["reason"].as_str().unwrap().contains("longer than 16384 bytes"), "{report}");
        let exported = export(&lrs, "");
        assert_eq!(exported.body.lines().count(), 1_200);
    }

    fn an_ndjson_import_needs_an_admin_of_the_store_and_a_live_store(backend) {
        let lrs = Lrs::start(backend);
        let line = by("a@example.com").to_string();
        let (store, writer) = lrs.tenant("tenant", &["all"]);
        assert_eq!(import(&lrs, store, &writer, &line).status, 403, "all is not admin");
        let (other, other_admin) = lrs.tenant("other", &["admin"]);
        assert_eq!(import(&lrs, store, &other_admin, &line).status, 404, "another store's admin does not see it");
        assert_eq!(import(&lrs, other, &other_admin, &line).status, 200, "a store's admin imports into it");
        assert_eq!(import(&lrs, 999, lrs.authorization(), &line).status, 404);
        let url = format!("{}/admin/stores/1/statements.ndjson", lrs.root());
        lrs.request("POST", "").url(&url).header("Content-Type", "text/csv").body(line.as_bytes()).assert_error(400, "Content-Type");
        assert_eq!(lrs.admin("DELETE", &format!("/stores/{store}"), None).status, 204);
        import(&lrs, store, lrs.authorization(), &line).assert_error(400, "id");
    }
}
