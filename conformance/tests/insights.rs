//! The insights API and the CSV exports over HTTP, on both backends: ticket import, goals,
//! changes, the report, status, and the exports BI tools pull.

use std::time::{Duration, Instant};

use conformance::{Lrs, Reply, backend_tests};
use insights::demo::Scenario;
use serde_json::{Value, json};

/// A call beside `/xapi` (`/insights/…`, `/exports/…`) with the LRS's credential.
fn call(lrs: &Lrs, method: &str, path: &str, content_type: &str, body: &[u8]) -> Reply {
    let url = format!("{}{path}", lrs.base_url.trim_end_matches("/xapi"));
    lrs.request(method, "").url(&url).header("Content-Type", content_type).body(body)
}

fn get(lrs: &Lrs, path: &str) -> Reply {
    let url = format!("{}{path}", lrs.base_url.trim_end_matches("/xapi"));
    lrs.request("GET", "").url(&url).send()
}

const ZENDESK: &str = "Id,Created at,Solved at,Status,Tags,Requester email,Ticket type,Priority,Via,Subject,Group\r\n\
    101,2025-02-10 09:00:00,2025-02-11 10:00:00,Solved,install windows,Ann@Example.com,Problem,High,Web,Cannot install,Platform\r\n\
    102,2025-02-12 11:30:00,,Open,install,bob@example.com,Question,Normal,Email,Installer hangs,Platform\r\n\
    103,not a date,,Open,billing,carl@example.com,Question,Low,Web,Invoice,Billing\r\n";

/// Tickets the LRS's store holds, by its CSV export.
fn lrs_tickets(lrs: &Lrs) -> usize {
    get(lrs, "/exports/tickets.csv").body.lines().count() - 1
}

/// Waits until the rollups have caught up with every statement.
fn caught_up(lrs: &Lrs) {
    let started = Instant::now();
    loop {
        let status = get(lrs, "/insights/status").json();
        if status["rollups"]["statements_behind"] == json!(0) {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the rollups did not catch up: {status}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

backend_tests! {
    fn tickets_import_keeps_good_rows_and_explains_bad_ones(backend) {
        let lrs = Lrs::start(backend);
        let reply = call(&lrs, "POST", "/insights/tickets?preset=zendesk", "text/csv", ZENDESK.as_bytes());
        assert_eq!(reply.status, 200, "{}", reply.body);
        let summary = reply.json();
        assert_eq!((summary["inserted"].clone(), summary["updated"].clone(), summary["rejected"].clone()), (json!(2), json!(0), json!(1)));
        assert_eq!(summary["rejected_rows"][0]["row"], json!(4));
        assert_eq!(summary["rejected_rows"][0]["column"], json!("Created at"));
        let again = call(&lrs, "POST", "/insights/tickets?preset=zendesk", "text/csv", ZENDESK.as_bytes()).json();
        assert_eq!((again["inserted"].clone(), again["updated"].clone()), (json!(0), json!(2)), "re-importing updates in place");
        let strict = call(&lrs, "POST", "/insights/tickets?preset=zendesk&source=other&strict=true", "text/csv", ZENDESK.as_bytes()).json();
        assert_eq!(strict["stored"], json!(false));
        let exported = get(&lrs, "/exports/tickets.csv");
        assert!(exported.header("Content-Type").unwrap().starts_with("text/csv"));
        assert_eq!(exported.body.lines().count(), 3, "a header and the two good tickets: {}", exported.body);
        assert!(exported.body.starts_with("source,external_id,created"));
        let summary = get(&lrs, "/insights/tickets/summary?group_by=tag&interval=month").json();
        let install = summary.as_array().unwrap().iter().find(|g| g["group"] == json!("install")).unwrap().clone();
        assert_eq!(install["total"], json!(2));
    }

    fn json_and_ndjson_exports_import_too(backend) {
        let lrs = Lrs::start(backend);
        let rows = json!([{ "external_id": "J-1", "created": "2025-03-01T10:00:00Z", "tags": "install", "requester": "dee@example.com" }]);
        let reply = call(&lrs, "POST", "/insights/tickets?preset=generic&source=json", "application/json", rows.to_string().as_bytes());
        assert_eq!(reply.json()["inserted"], json!(1), "{}", reply.body);
        let lines = "{\"external_id\":\"N-1\",\"created\":\"2025-03-01T10:00:00Z\"}\n{\"external_id\":\"N-2\",\"created\":\"2025-03-02T10:00:00Z\"}\n";
        let reply = call(&lrs, "POST", "/insights/tickets?preset=generic&source=nd", "application/x-ndjson", lines.as_bytes());
        assert_eq!(reply.json()["inserted"], json!(2), "{}", reply.body);
        call(&lrs, "POST", "/insights/tickets?preset=nonsense", "text/csv", b"a,b\n").assert_error(400, "preset");
    }

    fn ticket_import_parameters_are_checked_like_every_other_query(backend) {
        let lrs = Lrs::start(backend);
        let import = |query: &str| call(&lrs, "POST", &format!("/insights/tickets?{query}"), "text/csv", ZENDESK.as_bytes());
        import("preset=zendesk&preset=generic").assert_error(400, "preset");
        import("preset=zendesk&strict=yes").assert_error(400, "strict");
        import("preset=zendesk&colour=blue").assert_error(400, "colour");
        assert_eq!(lrs_tickets(&lrs), 0, "a refused import stores nothing");
        // `map` is the one parameter that repeats: one per remapped field.
        let csv = "Key,Opened,Who\r\nK-1,2025-03-01T10:00:00Z,eve@example.com\r\n";
        let reply = call(
            &lrs,
            "POST",
            "/insights/tickets?preset=generic&map=external_id=Key&map=created=Opened&map=requester=Who&strict=True",
            "text/csv",
            csv.as_bytes(),
        );
        assert_eq!(reply.json()["inserted"], json!(1), "{}", reply.body);
    }

    fn goals_are_kept_validated_and_deleted(backend) {
        let lrs = Lrs::start(backend);
        let goal = Scenario::working().generate().goal;
        let put = call(&lrs, "PUT", "/insights/goals/install", "application/json", goal.to_string().as_bytes());
        assert_eq!(put.status, 201, "{}", put.body);
        assert_eq!(call(&lrs, "PUT", "/insights/goals/install", "application/json", goal.to_string().as_bytes()).status, 200);
        assert_eq!(get(&lrs, "/insights/goals/install").json()["name"], goal["name"]);
        assert_eq!(get(&lrs, "/insights/goals").json().as_array().unwrap().len(), 1);
        let mut bad = goal.clone();
        bad["colour"] = json!("red");
        call(&lrs, "PUT", "/insights/goals/x", "application/json", bad.to_string().as_bytes()).assert_error(400, "colour");
        let change = json!({ "at": "2025-03-20", "kind": "placement", "note": "linked from the installer" });
        let made = call(&lrs, "POST", "/insights/goals/install/changes", "application/json", change.to_string().as_bytes());
        assert_eq!(made.status, 201, "{}", made.body);
        let id = made.json()["id"].as_str().unwrap().to_string();
        assert_eq!(get(&lrs, "/insights/goals/install/changes").json().as_array().unwrap().len(), 1);
        assert_eq!(call(&lrs, "DELETE", &format!("/insights/goals/install/changes/{id}"), "text/plain", b"").status, 204);
        assert_eq!(call(&lrs, "DELETE", "/insights/goals/install", "text/plain", b"").status, 204);
        get(&lrs, "/insights/goals/install").assert_error(404, "");
    }

    fn the_report_and_its_csv_come_from_the_rollups(backend) {
        let lrs = Lrs::start(backend);
        let scenario = Scenario::drop_off_at(0.4);
        let data = scenario.generate();
        for chunk in data.statements.chunks(500) {
            lrs.store(&Value::Array(chunk.to_vec()));
        }
        let imported = call(&lrs, "POST", "/insights/tickets?preset=zendesk", "text/csv", data.tickets_csv.as_bytes());
        assert_eq!(imported.json()["rejected"], json!(0), "{}", imported.body);
        call(&lrs, "PUT", "/insights/goals/install", "application/json", data.goal.to_string().as_bytes());
        caught_up(&lrs);
        let as_of = scenario.target_date();
        let report = get(&lrs, &format!("/insights/goals/install/report?as_of={as_of}")).json();
        for field in ["status", "diagnosis", "tickets", "reach", "consumption", "feedback", "effect", "periods"] {
            assert!(report.get(field).is_some(), "{field} in {report}");
        }
        assert_eq!(report["diagnosis"]["code"], json!("drop_off"), "{report}");
        assert_eq!(report["consumption"]["video"]["largest_drop_at"], json!(0.4));
        let csv = get(&lrs, &format!("/exports/goals/install.csv?as_of={as_of}"));
        assert!(csv.body.starts_with("kind,name,start,end,tickets"), "{}", csv.body);
        assert!(csv.body.contains("period,after launch"));
        let statements = get(&lrs, "/exports/statements.csv?verb=https%3A%2F%2Fw3id.org%2Fxapi%2Fvideo%2Fverbs%2Fplayed");
        assert!(statements.body.starts_with("id,timestamp,stored,actor"));
        assert!(statements.body.lines().count() > 10);
        assert!(statements.body.lines().skip(1).all(|l| l.contains("https://w3id.org/xapi/video/verbs/played")));
        let daily = get(&lrs, "/exports/activity-daily.csv");
        assert!(daily.body.starts_with("day,activity_id,verb,statements"));
        let video = data.statements.iter().find_map(|s| {
            let id = s["object"]["id"].as_str()?;
            (s["object"]["definition"]["type"] == json!("https://w3id.org/xapi/video/activity-type/video")).then(|| id.to_string())
        }).unwrap();
        let viewing = get(&lrs, &format!("/insights/videos?activityId={}", conformance::encode(&video))).json();
        assert!(viewing["viewers"].as_u64().unwrap() > 0, "{viewing}");
        let activities = get(&lrs, "/insights/activities?activity_id_prefix=https%3A%2F%2Facademy.example.com%2F&from=2025-01-01&to=2025-06-01").json();
        assert!(!activities.as_array().unwrap().is_empty(), "{activities}");
    }

    fn voided_statements_are_taken_back_out_of_the_rollups(backend) {
        let lrs = Lrs::start(backend);
        let activity = "https://academy.example.com/install/voided-video";
        let mut s = conformance::statements::statement_with(conformance::statements::agent(), "http://adlnet.gov/expapi/verbs/completed", activity);
        s["timestamp"] = json!("2025-03-10T10:00:00Z");
        let id = lrs.store_one(&s);
        caught_up(&lrs);
        let path = format!("/insights/activities?activityId={}&from=2025-03-01&to=2025-03-31", conformance::encode(activity));
        assert_eq!(get(&lrs, &path).json()[0]["completions"], json!(1));
        lrs.store_one(&conformance::statements::voiding(id.parse().unwrap()));
        caught_up(&lrs);
        assert_eq!(get(&lrs, &path).json(), json!([]), "the voided statement no longer counts");
    }

    fn insights_need_the_insights_scope(backend) {
        let lrs = Lrs::start(backend);
        let admin = |path: &str, body: Value| {
            let url = format!("{}/admin{path}", lrs.base_url.trim_end_matches("/xapi"));
            lrs.request("POST", "").url(&url).json(&body).json()
        };
        let made = admin("/credentials", json!({ "store": 1, "scopes": ["statements/read"], "name": "reader" }));
        let auth = format!("Basic {}", base64_of(&format!("{}:{}", made["key"].as_str().unwrap(), made["secret"].as_str().unwrap())));
        let url = format!("{}/insights/goals", lrs.base_url.trim_end_matches("/xapi"));
        let reply = lrs.request("GET", "").url(&url).header("Authorization", &auth).send();
        reply.assert_error(403, "");
        assert!(reply.body.contains("insights"));
        let url = format!("{}/exports/tickets.csv", lrs.base_url.trim_end_matches("/xapi"));
        assert_eq!(lrs.request("GET", "").url(&url).without("Authorization").send().status, 401);
    }

    fn another_stores_tickets_and_goals_are_invisible(backend) {
        let lrs = Lrs::start(backend);
        call(&lrs, "POST", "/insights/tickets?preset=zendesk", "text/csv", ZENDESK.as_bytes());
        call(&lrs, "PUT", "/insights/goals/install", "application/json", Scenario::working().generate().goal.to_string().as_bytes());
        let admin = |path: &str, body: Value| {
            let url = format!("{}/admin{path}", lrs.base_url.trim_end_matches("/xapi"));
            lrs.request("POST", "").url(&url).json(&body).json()
        };
        let store = admin("/stores", json!({ "name": "B" }))["id"].clone();
        let made = admin("/credentials", json!({ "store": store, "scopes": ["all"], "name": "b" }));
        let auth = format!("Basic {}", base64_of(&format!("{}:{}", made["key"].as_str().unwrap(), made["secret"].as_str().unwrap())));
        let as_b = |path: &str| {
            let url = format!("{}{path}", lrs.base_url.trim_end_matches("/xapi"));
            lrs.request("GET", "").url(&url).header("Authorization", &auth).send()
        };
        assert_eq!(as_b("/insights/goals").json(), json!([]));
        assert_eq!(as_b("/insights/goals/install").status, 404);
        assert_eq!(as_b("/exports/tickets.csv").body.lines().count(), 1, "only the header");
    }
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}
