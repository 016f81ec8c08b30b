//! Retention on a real Tally: `DELETE /admin/statements?until=` purges what was stored
//! before an instant (voiding pairs together, attachments only those statements named, their
//! part of the rollups), a `more` cursor pages on across it, and a store's policy
//! (`PUT /admin/stores/{id}/retention`, `tally stores retention`) purges in the background.

mod support;

use serde_json::{Value, json};
use support::{Serving, stdout_of, tally_on as tally};
use test_support::{TestDatabase, backend_tests, percent_encode, wait_for_the_clock_to_pass};
use xapi::Timestamp;

const ADMIN: (&str, &str) = ("ops", "retention-secret");
const OLD: &str = "http://example.com/old";
const NEW: &str = "http://example.com/new";

fn serving(db: &TestDatabase) -> Serving {
    let mut command = tally(db);
    command.env("TALLY_ADMIN_KEY", ADMIN.0).env("TALLY_ADMIN_SECRET", ADMIN.1);
    Serving::start(command)
}

fn post(serving: &Serving, statement: Value) -> String {
    let (status, body) = serving.request("POST", ADMIN.0, ADMIN.1, &statement.to_string());
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Vec<String>>(&body).unwrap().remove(0)
}

fn on(activity: &str, verb: &str) -> Value {
    json!({ "actor": { "mbox": "mailto:ann@example.com" }, "verb": { "id": format!("http://adlnet.gov/expapi/verbs/{verb}") },
            "object": { "id": activity } })
}

fn voiding(target: &str) -> Value {
    json!({ "actor": { "mbox": "mailto:ops@example.com" }, "verb": { "id": "http://adlnet.gov/expapi/verbs/voided" },
            "object": { "objectType": "StatementRef", "id": target } })
}

fn purge(serving: &Serving, until: &str, extra: &str) -> (u16, Value) {
    let (status, body) = serving.call(
        "DELETE",
        &format!("/admin/statements?until={}{extra}", percent_encode(until)),
        ADMIN,
        "",
    );
    (status, serde_json::from_str(&body).unwrap_or(Value::String(body)))
}

fn daily_activities(serving: &Serving) -> String {
    serving.wait_until_caught_up(ADMIN);
    let (status, csv) = serving.call("GET", "/exports/activity-daily.csv", ADMIN, "");
    assert_eq!(status, 200, "{csv}");
    csv
}

backend_tests! {
    fn a_purge_removes_what_was_stored_before_the_cutoff_keeps_voiding_pairs_together_and_more_pages_on(backend) {
        let db = TestDatabase::new(backend);
        let serving = serving(&db);
        serving.post_with_attachment(ADMIN, on(OLD, "completed"), "old certificate");
        post(&serving, on(OLD, "experienced"));
        let voided_later = post(&serving, on(OLD, "attempted"));
        let voided_early = post(&serving, on(OLD, "passed"));
        post(&serving, voiding(&voided_early));
        let early = serving.statements(ADMIN);
        let cutoff = early.last().unwrap()["stored"].as_str().unwrap().to_string();
        wait_for_the_clock_to_pass(Timestamp::parse(&cutoff).unwrap().instant);
        post(&serving, voiding(&voided_later));
        post(&serving, on(NEW, "experienced"));
        post(&serving, on(NEW, "completed"));
        assert!(daily_activities(&serving).contains(OLD));
        let (status, first) = serving.call("GET", "/xapi/statements?ascending=true&limit=1", ADMIN, "");
        assert_eq!(status, 200, "{first}");
        let more = serde_json::from_str::<Value>(&first).unwrap()["more"].as_str().unwrap().to_string();
        // Everything up to and including the early statements' last `stored` millisecond (the
        // precision `stored` has; the later ones were stored after the clock passed it).
        let until = Timestamp::from_micros(Timestamp::parse(&cutoff).unwrap().instant.as_micros() + 1_000).to_rfc3339();

        let visible = serving.statements(ADMIN).len();
        let (status, dry) = purge(&serving, &until, "&dry_run=true");
        assert_eq!(status, 200, "{dry}");
        assert_eq!(serving.statements(ADMIN).len(), visible, "a dry run removes nothing");
        let (status, purged) = purge(&serving, &until, "");
        assert_eq!(status, 200, "{purged}");
        assert_eq!(purged["statements"], 4, "two old ones and the voided pair of before the cutoff: {purged}");
        assert_eq!(purged["kept_pairs"], 1, "the statement a later one voids stays with it: {purged}");
        assert_eq!(purged["attachments"], 1, "{purged}");
        assert_eq!((&dry["statements"], &dry["kept_pairs"], &dry["attachments"]), (&purged["statements"], &purged["kept_pairs"], &purged["attachments"]));

        let left: Vec<String> = serving.statements(ADMIN).iter().map(|s| s["object"]["id"].as_str().unwrap_or("ref").to_string()).collect();
        assert_eq!(left.iter().filter(|id| *id == NEW).count(), 2, "{left:?}");
        let (status, kept) = serving.call("GET", &format!("/xapi/statements?voidedStatementId={voided_later}"), ADMIN, "");
        assert_eq!(status, 200, "the voided statement of a later voiding one stays: {kept}");
        let (status, next) = serving.call("GET", &more, ADMIN, "");
        assert_eq!(status, 200, "a more cursor from before the purge pages on: {next}");
        let paged = serde_json::from_str::<Value>(&next).unwrap();
        assert!(paged["statements"].as_array().unwrap().iter().all(|s| s["object"]["id"] != OLD), "{next}");
        assert!(!daily_activities(&serving).contains(OLD), "the rollups are rebuilt without the purged statements");
        let (_, audit) = serving.call("GET", "/admin/audit?action=statements.purge", ADMIN, "");
        let audit: Value = serde_json::from_str(&audit).unwrap();
        assert_eq!(audit["entries"][0]["details"]["statements"], 4, "the purge is recorded with its counts: {audit}");
    }

    fn a_stores_ticket_policy_is_applied_in_the_background_and_bad_input_is_refused(backend) {
        let db = TestDatabase::new(backend);
        let set = stdout_of(tally(&db).args(["stores", "retention", "1", "--tickets-days", "30"]));
        assert!(set.contains("tickets 30 days"), "{set}");
        let mut command = tally(&db);
        command.env("TALLY_ADMIN_KEY", ADMIN.0).env("TALLY_ADMIN_SECRET", ADMIN.1).env("TALLY_RETENTION_INTERVAL_S", "1");
        let log = support::Watched::new();
        command.env("TALLY_LOG", "info");
        let serving = Serving::start_logging_to(command, &["serve", "--bind", "127.0.0.1:0"], "xAPI at ", log.clone());
        let recent = Timestamp::now().to_rfc3339();
        let csv = format!("Id,Subject,Created at,Requester email,Tags\n1,Old,2020-01-06T09:00:00Z,ann@example.com,install\n2,New,{recent},bob@example.com,install\n");
        let imported = serving.send("POST", "/insights/tickets?preset=zendesk&source=zendesk", ADMIN, "text/csv", &csv);
        assert_eq!(imported.status, 200, "{}", imported.body);
        drop(log.when("a retention purge", |text: &String| text.contains("retention purge")));
        let (_, tickets) = serving.call("GET", "/exports/tickets.csv", ADMIN, "");
        assert!(!tickets.contains(",Old,") && tickets.contains("New"), "the old ticket went, the new one stayed: {tickets}");

        let (status, info) = serving.call("PUT", "/admin/stores/1/retention", ADMIN, r#"{"statements_days": 365, "tickets_days": null}"#);
        assert_eq!(status, 200, "{info}");
        assert_eq!(serde_json::from_str::<Value>(&info).unwrap()["retention"], json!({ "statements_days": 365, "tickets_days": null }));
        for (body, named) in [(r#"{"statements_days": 0, "tickets_days": null}"#, "statements_days"), (r#"{"statements_days": 1, "tickets_days": null, "x": 1}"#, "x")] {
            let (status, error) = serving.call("PUT", "/admin/stores/1/retention", ADMIN, body);
            assert!(status == 400 && error.contains(named), "{status} {error}");
        }
        let (status, error) = serving.call("PUT", "/admin/stores/99/retention", ADMIN, r#"{"statements_days": 1, "tickets_days": null}"#);
        assert_eq!(status, 404, "{error}");
        let (status, error) = purge(&serving, "yesterday", "");
        assert!(status == 400 && error.to_string().contains("until"), "{error}");
        let (status, error) = serving.call("DELETE", "/admin/statements", ADMIN, "");
        assert!(status == 400 && error.contains("until"), "{error}");
    }
}
