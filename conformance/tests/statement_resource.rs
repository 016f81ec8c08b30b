//! xAPI 1.0.3 Communication §2.1: the Statement resource.

use conformance::statements::{
    activity_id, agent, referring_to, statement, statement_with, verb_id, voiding,
};
use conformance::{Lrs, backend_tests, encode as enc};
use serde_json::{Value, json};
use uuid::Uuid;

fn with_id(mut s: Value, id: &str) -> Value {
    s["id"] = json!(id);
    s
}

backend_tests! {
    fn put_stores_a_statement_under_the_statement_id_and_answers_204(backend) {
        let lrs = Lrs::start(backend);
        let id = Uuid::new_v4().to_string();
        let reply = lrs.put_json(&format!("/statements?statementId={id}"), &statement());
        assert_eq!(reply.status, 204, "{}", reply.body);
        assert!(reply.body.is_empty());
        let stored = lrs.get(&format!("/statements?statementId={id}")).json();
        assert_eq!(stored["id"], json!(id));
    }

    fn put_requires_the_statement_id_parameter(backend) {
        let lrs = Lrs::start(backend);
        lrs.put_json("/statements", &statement()).assert_error(400, "statementId");
        lrs.put_json("/statements?statementId=not-a-uuid", &statement()).assert_error(400, "statementId");
    }

    fn put_rejects_a_body_id_that_differs_from_the_parameter(backend) {
        let lrs = Lrs::start(backend);
        let body = with_id(statement(), &Uuid::new_v4().to_string());
        lrs.put_json(&format!("/statements?statementId={}", Uuid::new_v4()), &body).assert_error(400, "id");
    }

    fn putting_the_same_statement_again_is_accepted_without_change(backend) {
        let lrs = Lrs::start(backend);
        let id = Uuid::new_v4().to_string();
        let s = statement();
        assert_eq!(lrs.put_json(&format!("/statements?statementId={id}"), &s).status, 204);
        let first = lrs.get(&format!("/statements?statementId={id}")).body;
        assert_eq!(lrs.put_json(&format!("/statements?statementId={id}"), &s).status, 204);
        assert_eq!(lrs.get(&format!("/statements?statementId={id}")).body, first);
    }

    fn a_different_statement_under_an_existing_id_is_a_conflict(backend) {
        let lrs = Lrs::start(backend);
        let id = Uuid::new_v4().to_string();
        assert_eq!(lrs.put_json(&format!("/statements?statementId={id}"), &statement()).status, 204);
        let first = lrs.get(&format!("/statements?statementId={id}")).body;
        lrs.put_json(&format!("/statements?statementId={id}"), &statement()).assert_error(409, "");
        lrs.post_json("/statements", &with_id(statement(), &id)).assert_error(409, "");
        assert_eq!(lrs.get(&format!("/statements?statementId={id}")).body, first, "unchanged");
    }

    fn post_answers_the_ids_in_order_generating_missing_ones(backend) {
        let lrs = Lrs::start(backend);
        let given = Uuid::new_v4().to_string();
        let ids = lrs.store(&json!([statement(), with_id(statement(), &given), statement()]));
        assert_eq!(ids.len(), 3);
        assert_eq!(ids[1], given);
        for id in &ids {
            assert!(Uuid::parse_str(id).is_ok());
            assert_eq!(lrs.get(&format!("/statements?statementId={id}")).status, 200);
        }
    }

    fn a_batch_with_one_invalid_statement_stores_nothing(backend) {
        let lrs = Lrs::start(backend);
        let good = Uuid::new_v4().to_string();
        let mut bad = statement();
        bad["verb"]["id"] = json!("should fail");
        let reply = lrs.post_json("/statements", &json!([with_id(statement(), &good), bad]));
        reply.assert_error(400, "[1].verb.id");
        assert_eq!(lrs.get(&format!("/statements?statementId={good}")).status, 404);
    }

    fn a_batch_naming_one_id_twice_is_rejected(backend) {
        let lrs = Lrs::start(backend);
        let id = Uuid::new_v4().to_string();
        let s = with_id(statement(), &id);
        lrs.post_json("/statements", &json!([s.clone(), s])).assert_error(400, "[1].id");
        assert_eq!(lrs.get(&format!("/statements?statementId={id}")).status, 404);
    }

    fn the_lrs_sets_id_stored_authority_version_and_timestamp(backend) {
        let lrs = Lrs::start(backend);
        let mut s = statement();
        s["stored"] = json!("2011-07-15T09:00:00.000Z");
        let id = lrs.store_one(&s);
        let got = lrs.get(&format!("/statements?statementId={id}")).json();
        assert_eq!(got["id"], json!(id));
        assert_ne!(got["stored"], json!("2011-07-15T09:00:00.000Z"), "stored is the LRS's");
        assert_eq!(got["timestamp"], got["stored"]);
        assert_eq!(got["version"], json!("1.0.0"));
        assert_eq!(got["authority"]["objectType"], json!("Agent"));
        assert!(got["authority"]["account"]["name"].is_string());
        assert_eq!(got["actor"], s["actor"], "the client's properties come back as sent");
        assert_eq!(got["verb"], s["verb"]);
        assert_eq!(got["object"], s["object"]);
    }

    fn context_activities_come_back_as_arrays(backend) {
        let lrs = Lrs::start(backend);
        let mut s = statement();
        s["context"] = json!({ "contextActivities": { "parent": { "id": activity_id() } } });
        let id = lrs.store_one(&s);
        let got = lrs.get(&format!("/statements?statementId={id}")).json();
        assert!(got["context"]["contextActivities"]["parent"].is_array());
    }

    fn an_unknown_statement_id_is_404(backend) {
        let lrs = Lrs::start(backend);
        lrs.get(&format!("/statements?statementId={}", Uuid::new_v4())).assert_error(404, "");
    }

    fn statement_id_cannot_be_combined_with_filters(backend) {
        let lrs = Lrs::start(backend);
        let id = Uuid::new_v4();
        for extra in ["limit=1", "ascending=true", "verb=http%3A%2F%2Fx.y%2Fz", &format!("voidedStatementId={id}")] {
            lrs.get(&format!("/statements?statementId={id}&{extra}")).assert_error(400, extra.split('=').next().unwrap());
        }
        assert_eq!(lrs.get(&format!("/statements?voidedStatementId={id}&format=ids&attachments=false")).status, 404);
    }

    fn unknown_and_miscased_parameters_are_rejected(backend) {
        let lrs = Lrs::start(backend);
        lrs.get("/statements?foo=bar").assert_error(400, "foo");
        lrs.get("/statements?Limit=1").assert_error(400, "Limit");
        lrs.put_json(&format!("/statements?StatementId={}", Uuid::new_v4()), &statement()).assert_error(400, "StatementId");
        lrs.post_json("/statements?verb=x", &statement()).assert_error(400, "verb");
    }

    fn bad_parameter_values_are_rejected_naming_the_parameter(backend) {
        let lrs = Lrs::start(backend);
        for (query, name) in [
            ("agent=notjson", "agent"),
            ("agent=%7B%22name%22%3A%22no%20ifi%22%7D", "agent"),
            ("verb=not%20an%20iri", "verb"),
            ("registration=123", "registration"),
            ("since=yesterday", "since"),
            ("limit=many", "limit"),
            ("format=full", "format"),
            ("related_agents=1", "related_agents"),
            ("more=garbage!", "more"),
        ] {
            let reply = lrs.get(&format!("/statements?{query}"));
            assert_eq!(reply.status, 400, "{query}: {}", reply.body);
            assert!(reply.json()["error"]["path"].as_str().is_some_and(|p| p.starts_with(name)), "{query}: {}", reply.body);
        }
    }

    fn voided_statements_are_found_only_by_voided_statement_id(backend) {
        let lrs = Lrs::start(backend);
        let target = lrs.store_one(&statement());
        let voider = lrs.store_one(&voiding(Uuid::parse_str(&target).unwrap()));
        lrs.get(&format!("/statements?statementId={target}")).assert_error(404, "");
        let got = lrs.get(&format!("/statements?voidedStatementId={target}"));
        assert_eq!(got.status, 200);
        assert_eq!(got.json()["id"], json!(target));
        lrs.get(&format!("/statements?voidedStatementId={voider}")).assert_error(404, "");
        assert_eq!(lrs.get(&format!("/statements?statementId={voider}")).status, 200);
    }

    fn voiding_requires_a_statement_ref_object(backend) {
        let lrs = Lrs::start(backend);
        let mut s = statement();
        s["verb"]["id"] = json!("http://adlnet.gov/expapi/verbs/voided");
        assert_eq!(lrs.post_json("/statements", &s).status, 400);
    }

    fn voiding_an_unknown_statement_is_accepted(backend) {
        let lrs = Lrs::start(backend);
        lrs.store_one(&voiding(Uuid::new_v4()));
    }

    fn a_voiding_statement_cannot_be_voided(backend) {
        let lrs = Lrs::start(backend);
        let target = lrs.store_one(&statement());
        let first = lrs.store_one(&voiding(Uuid::parse_str(&target).unwrap()));
        lrs.store_one(&voiding(Uuid::parse_str(&first).unwrap()));
        assert_eq!(lrs.get(&format!("/statements?statementId={first}")).status, 200);
    }

    fn filters_select_by_verb_activity_agent_and_registration(backend) {
        let lrs = Lrs::start(backend);
        let (learner, verb, course, registration) = (agent(), verb_id(), activity_id(), Uuid::new_v4().to_string());
        let mut target = statement_with(learner.clone(), &verb, &course);
        target["context"] = json!({ "registration": registration });
        let id = lrs.store_one(&target);
        lrs.store_one(&statement());
        assert_eq!(lrs.query_ids(&format!("verb={}", enc(&verb))), vec![id.clone()]);
        assert_eq!(lrs.query_ids(&format!("activity={}", enc(&course))), vec![id.clone()]);
        assert_eq!(lrs.query_ids(&format!("agent={}", enc(&learner.to_string()))), vec![id.clone()]);
        assert_eq!(lrs.query_ids(&format!("registration={registration}")), vec![id.clone()]);
        let all = format!("verb={}&activity={}&agent={}&registration={registration}", enc(&verb), enc(&course), enc(&learner.to_string()));
        assert_eq!(lrs.query_ids(&all), vec![id]);
        assert!(lrs.query_ids(&format!("verb={}&registration={}", enc(&verb), Uuid::new_v4())).is_empty());
    }

    fn related_agents_and_related_activities_widen_the_filters(backend) {
        let lrs = Lrs::start(backend);
        let (instructor, course) = (agent(), activity_id());
        let mut s = statement();
        s["context"] = json!({ "instructor": instructor, "contextActivities": { "grouping": [{ "id": course }] } });
        let id = lrs.store_one(&s);
        let by_agent = format!("agent={}", enc(&instructor.to_string()));
        assert!(lrs.query_ids(&by_agent).is_empty());
        assert_eq!(lrs.query_ids(&format!("{by_agent}&related_agents=true")), vec![id.clone()]);
        // As the Python `tincan` library sends it.
        assert_eq!(lrs.query_ids(&format!("{by_agent}&related_agents=True")), vec![id.clone()]);
        let by_activity = format!("activity={}", enc(&course));
        assert!(lrs.query_ids(&by_activity).is_empty());
        assert_eq!(lrs.query_ids(&format!("{by_activity}&related_activities=true")), vec![id]);
        assert_eq!(lrs.get("/statements?related_agents=true&related_activities=true").status, 200);
    }

    fn filters_also_return_statements_that_target_a_match(backend) {
        let lrs = Lrs::start(backend);
        let verb = verb_id();
        let v = lrs.store_one(&statement_with(agent(), &verb, &activity_id()));
        let voider = lrs.store_one(&voiding(Uuid::parse_str(&v).unwrap()));
        let r = lrs.store_one(&referring_to(Uuid::parse_str(&v).unwrap(), "http://adlnet.gov/expapi/verbs/attended"));
        assert_eq!(lrs.query_ids(&format!("verb={}", enc(&verb))), vec![r.clone(), voider]);
        assert_eq!(lrs.query_ids(&format!("verb={}&limit=1", enc(&verb))), vec![r]);
    }

    fn since_is_exclusive_and_until_inclusive(backend) {
        let lrs = Lrs::start(backend);
        let verb = verb_id();
        let first = lrs.store_one(&statement_with(agent(), &verb, &activity_id()));
        let stored = lrs.get(&format!("/statements?statementId={first}")).json()["stored"].as_str().unwrap().to_string();
        // The next statement is stored later once the clock has passed the first's `stored`
        // (the LRS runs on this machine's clock).
        let first_stored = xapi::Timestamp::parse(&stored).expect("an RFC 3339 stored").instant.as_micros();
        while xapi::Timestamp::now().as_micros() <= first_stored {
            std::thread::yield_now();
        }
        let second = lrs.store_one(&statement_with(agent(), &verb, &activity_id()));
        assert_eq!(lrs.query_ids(&format!("verb={}&since={}", enc(&verb), enc(&stored))), vec![second]);
        assert_eq!(lrs.query_ids(&format!("verb={}&until={}", enc(&verb), enc(&stored))), vec![first]);
    }

    fn results_are_newest_first_unless_ascending(backend) {
        let lrs = Lrs::start(backend);
        let verb = verb_id();
        let a = lrs.store_one(&statement_with(agent(), &verb, &activity_id()));
        let b = lrs.store_one(&statement_with(agent(), &verb, &activity_id()));
        assert_eq!(lrs.query_ids(&format!("verb={}", enc(&verb))), vec![b.clone(), a.clone()]);
        assert_eq!(lrs.query_ids(&format!("verb={}&ascending=true", enc(&verb))), vec![a, b]);
    }

    fn more_pages_through_every_result_exactly_once(backend) {
        let lrs = Lrs::start(backend);
        let verb = verb_id();
        let batch: Vec<Value> = (0..7).map(|_| statement_with(agent(), &verb, &activity_id())).collect();
        let mut expected = lrs.store(&Value::Array(batch));
        expected.reverse();
        let mut result = lrs.query(&format!("verb={}&limit=3", enc(&verb)));
        let mut seen = Vec::new();
        loop {
            seen.extend(result["statements"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()));
            let more = result["more"].as_str().expect("more is always present").to_string();
            if more.is_empty() {
                break;
            }
            assert!(more.starts_with("/xapi/statements?"), "a relative IRL: {more}");
            // Written after the first page: outside the result set being paged.
            lrs.store_one(&statement_with(agent(), &verb, &activity_id()));
            let path = more.strip_prefix("/xapi").unwrap();
            let reply = lrs.get(path);
            assert_eq!(reply.status, 200, "{}", reply.body);
            result = reply.json();
        }
        assert_eq!(seen, expected);
    }

    fn more_is_an_empty_string_when_nothing_is_left(backend) {
        let lrs = Lrs::start(backend);
        let result = lrs.query(&format!("verb={}", enc(&verb_id())));
        assert_eq!(result, json!({ "statements": [], "more": "" }));
    }

    fn limit_zero_means_the_server_maximum(backend) {
        let lrs = Lrs::start(backend);
        let verb = verb_id();
        lrs.store(&Value::Array((0..3).map(|_| statement_with(agent(), &verb, &activity_id())).collect()));
        assert_eq!(lrs.query_ids(&format!("verb={}&limit=0", enc(&verb))).len(), 3);
    }

    fn every_statement_get_carries_consistent_through_and_last_modified(backend) {
        let lrs = Lrs::start(backend);
        let id = lrs.store_one(&statement());
        let stored = lrs.get(&format!("/statements?statementId={id}")).json()["stored"].as_str().unwrap().to_string();
        test_support::wait_for_the_clock_to_pass(xapi::Timestamp::parse(&stored).unwrap().instant);
        for path in [format!("/statements?statementId={id}"), "/statements".to_string(), "/statements?LIMIT=1".to_string()] {
            let reply = lrs.get(&path);
            let through = reply.header("X-Experience-API-Consistent-Through").unwrap_or_else(|| panic!("{path}"));
            assert!(through >= stored.as_str(), "{through} < {stored}: the write is covered");
            if reply.status == 200 {
                assert!(reply.header("Last-Modified").is_some_and(|v| v.ends_with(" GMT")), "{path}");
            }
        }
    }

    fn head_answers_like_get_without_a_body(backend) {
        let lrs = Lrs::start(backend);
        let id = lrs.store_one(&statement());
        let get = lrs.get(&format!("/statements?statementId={id}"));
        let head = lrs.request("HEAD", &format!("/statements?statementId={id}")).send();
        assert_eq!(head.status, 200);
        assert!(head.body.is_empty());
        assert_eq!(head.header("Content-Length"), get.header("Content-Length"));
        assert_eq!(lrs.request("HEAD", "/statements").send().status, 200);
    }

    fn statement_bodies_must_be_json(backend) {
        let lrs = Lrs::start(backend);
        let reply = lrs.request("POST", "/statements").header("Content-Type", "text/plain").body(statement().to_string().as_bytes());
        reply.assert_error(400, "Content-Type");
        let reply = lrs.request("POST", "/statements").header("Content-Type", "application/json").body(b"{\"actor\":");
        assert_eq!(reply.status, 400);
        let reply = lrs.request("POST", "/statements").header("Content-Type", "application/json; charset=utf-8").body(statement().to_string().as_bytes());
        assert_eq!(reply.status, 200, "{}", reply.body);
    }

    fn an_invalid_statement_is_rejected_naming_the_property_and_rule(backend) {
        let lrs = Lrs::start(backend);
        let mut s = statement();
        s["actor"]["mbox"] = json!("learner@example.com");
        let reply = lrs.post_json("/statements", &s);
        reply.assert_error(400, "actor.mbox");
        assert!(reply.json()["error"]["message"].as_str().unwrap().contains("mailto"), "{}", reply.body);
    }
}
