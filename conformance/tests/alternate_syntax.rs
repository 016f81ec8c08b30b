//! xAPI 1.0.3 Communication §1.3: the alternate request syntax. A client that can only
//! `POST` forms sends `POST <resource>?method=<METHOD>` with the headers, query parameters
//! and content as form fields. Tried on the Statement resource; the LRS treats every
//! resource alike.

use conformance::statements::{agent, statement, statement_with, verb_id};
use conformance::{Lrs, Request, backend_tests};
use serde_json::json;
use uuid::Uuid;

/// `POST /statements?method=<method>`, with the real version and Authorization headers
/// unless the test takes them off.
fn alternate<'a>(lrs: &'a Lrs, method: &str) -> Request<'a> {
    lrs.request("POST", &format!("/statements?method={method}"))
}

backend_tests! {
    fn a_put_through_the_alternate_syntax_stores_the_statement(backend) {
        let lrs = Lrs::start(backend);
        let id = Uuid::new_v4().to_string();
        let s = statement();
        let reply = alternate(&lrs, "PUT").form(&[("statementId", &id), ("content", &s.to_string())]);
        assert_eq!(reply.status, 204, "{}", reply.body);
        assert!(reply.body.is_empty());
        assert_eq!(reply.header("X-Experience-API-Version"), Some("1.0.3"));
        let stored = lrs.get(&format!("/statements?statementId={id}")).json();
        assert_eq!(stored["id"], json!(id));
        assert_eq!(stored["actor"], s["actor"]);
        assert_eq!(stored["verb"], s["verb"]);
    }

    fn authorization_and_version_may_arrive_only_as_form_fields(backend) {
        // The ADL suite's case: no real Authorization or version header at all.
        let lrs = Lrs::start(backend);
        let id = Uuid::new_v4().to_string();
        let reply = alternate(&lrs, "PUT")
            .without("Authorization")
            .without("X-Experience-API-Version")
            .form(&[
                ("statementId", &id),
                ("content", &statement().to_string()),
                ("X-Experience-API-Version", "1.0.3"),
                ("Authorization", lrs.authorization()),
                ("Content-Type", "application/json"),
                ("Content-Length", "0"),
            ]);
        assert_eq!(reply.status, 204, "{}", reply.body);
        assert_eq!(lrs.get(&format!("/statements?statementId={id}")).status, 200);
    }

    fn header_form_fields_are_matched_without_regard_to_case(backend) {
        let lrs = Lrs::start(backend);
        let id = Uuid::new_v4().to_string();
        let reply = alternate(&lrs, "PUT")
            .without("Authorization")
            .without("X-Experience-API-Version")
            .form(&[
                ("statementId", &id),
                ("content", &statement().to_string()),
                ("x-experience-api-version", "1.0.3"),
                ("AUTHORIZATION", lrs.authorization()),
                ("content-type", "application/json; charset=utf-8"),
            ]);
        assert_eq!(reply.status, 204, "{}", reply.body);
        assert_eq!(lrs.get(&format!("/statements?statementId={id}")).status, 200);
    }

    fn header_form_fields_take_the_place_of_the_real_headers(backend) {
        let lrs = Lrs::start(backend);
        // A form version of 0.8 beats a real 1.0.3 header (as in the ADL suite) …
        let id = Uuid::new_v4().to_string();
        let reply = alternate(&lrs, "PUT").form(&[
            ("statementId", &id),
            ("X-Experience-API-Version", "0.8"),
            ("content", &statement().to_string()),
        ]);
        reply.assert_error(400, "X-Experience-API-Version");
        assert_eq!(lrs.get(&format!("/statements?statementId={id}")).status, 404);
        // … a wrong form Authorization beats a right real one …
        alternate(&lrs, "GET")
            .form(&[("Authorization", "Basic a2V5Ondyb25n")])
            .assert_error(401, "");
        // … and without either, the version is still required.
        alternate(&lrs, "GET")
            .without("X-Experience-API-Version")
            .form(&[])
            .assert_error(400, "X-Experience-API-Version");
    }

    fn the_content_type_defaults_to_json_when_content_is_sent(backend) {
        let lrs = Lrs::start(backend);
        let id = Uuid::new_v4().to_string();
        let content = statement().to_string();
        // No Content-Type field: the content is JSON, not the form it came in.
        let reply = alternate(&lrs, "PUT").form(&[("statementId", &id), ("content", &content)]);
        assert_eq!(reply.status, 204, "{}", reply.body);
        // A Content-Type field is the content's type, and statements must be JSON.
        let other = Uuid::new_v4().to_string();
        alternate(&lrs, "PUT")
            .form(&[("statementId", &other), ("Content-Type", "text/plain"), ("content", &content)])
            .assert_error(400, "Content-Type");
    }

    fn the_content_is_read_whole_as_utf_8_whatever_its_content_length_field_says(backend) {
        // JavaScript clients count UTF-16 units, not bytes, so the field may be short.
        let lrs = Lrs::start(backend);
        let id = Uuid::new_v4().to_string();
        let mut s = statement();
        s["verb"]["display"] = json!({ "fr-FR": "a réussi ✓", "ja-JP": "合格した" });
        let content = s.to_string();
        let characters = content.chars().count().to_string();
        let reply = alternate(&lrs, "PUT").form(&[
            ("statementId", &id),
            ("Content-Length", &characters),
            ("content", &content),
        ]);
        assert_eq!(reply.status, 204, "{}", reply.body);
        let stored = lrs.get(&format!("/statements?statementId={id}")).json();
        assert_eq!(stored["verb"]["display"], s["verb"]["display"]);
    }

    fn a_get_through_the_alternate_syntax_answers_a_statement_result(backend) {
        let lrs = Lrs::start(backend);
        lrs.store(&json!([statement(), statement()]));
        let reply = alternate(&lrs, "GET").form(&[("limit", "1")]);
        assert_eq!(reply.status, 200, "{}", reply.body);
        let result = reply.json();
        assert_eq!(result["statements"].as_array().map(Vec::len), Some(1));
        let more = result["more"].as_str().expect("more");
        assert!(!more.is_empty(), "a second page: {}", reply.body);
        assert!(reply.header("X-Experience-API-Consistent-Through").is_some());
        assert_eq!(reply.header("X-Experience-API-Version"), Some("1.0.3"));
    }

    fn other_form_fields_are_the_query_parameters(backend) {
        let lrs = Lrs::start(backend);
        let actor = agent();
        let id = lrs.store_one(&statement_with(actor.clone(), &verb_id(), "http://example.com/a"));
        lrs.store_one(&statement());
        let single = alternate(&lrs, "GET").form(&[("statementId", &id)]);
        assert_eq!(single.status, 200, "{}", single.body);
        assert_eq!(single.json()["id"], json!(id));
        // JSON values travel form-encoded like any other.
        let query = alternate(&lrs, "GET").form(&[("agent", &actor.to_string()), ("ascending", "true")]);
        assert_eq!(query.status, 200, "{}", query.body);
        let ids: Vec<_> = query.json()["statements"]
            .as_array()
            .expect("statements")
            .iter()
            .map(|s| s["id"].clone())
            .collect();
        assert_eq!(ids, [json!(id)]);
        // A parameter the resource lacks is refused by the resource, by name.
        alternate(&lrs, "GET").form(&[("nope", "1")]).assert_error(400, "nope");
    }

    fn a_post_through_the_alternate_syntax_stores_statements(backend) {
        let lrs = Lrs::start(backend);
        let content = json!([statement(), statement()]).to_string();
        let reply = alternate(&lrs, "POST").form(&[("content", &content)]);
        assert_eq!(reply.status, 200, "{}", reply.body);
        let ids = reply.json();
        let ids = ids.as_array().expect("an array of ids");
        assert_eq!(ids.len(), 2);
        for id in ids {
            let id = id.as_str().expect("id");
            assert_eq!(lrs.get(&format!("/statements?statementId={id}")).status, 200);
        }
    }

    fn a_head_through_the_alternate_syntax_answers_headers_without_a_body(backend) {
        let lrs = Lrs::start(backend);
        let id = lrs.store_one(&statement());
        let reply = alternate(&lrs, "HEAD").form(&[("statementId", &id)]);
        assert_eq!(reply.status, 200);
        assert!(reply.body.is_empty(), "{}", reply.body);
        assert!(reply.header("Last-Modified").is_some());
        assert!(reply.header("X-Experience-API-Consistent-Through").is_some());
        assert_eq!(alternate(&lrs, "HEAD").form(&[("statementId", &Uuid::new_v4().to_string())]).status, 404);
    }

    fn query_parameters_besides_method_are_rejected(backend) {
        let lrs = Lrs::start(backend);
        let id = Uuid::new_v4().to_string();
        let reply = lrs
            .request("POST", &format!("/statements?method=PUT&statementId={id}"))
            .form(&[("statementId", &id), ("content", &statement().to_string())]);
        reply.assert_error(400, "statementId");
        assert_eq!(reply.header("X-Experience-API-Version"), Some("1.0.3"));
        assert_eq!(lrs.get(&format!("/statements?statementId={id}")).status, 404);
        lrs.request("POST", "/statements?limit=1&method=GET").form(&[]).assert_error(400, "limit");
        lrs.request("POST", "/statements?method=GET&method=GET").form(&[]).assert_error(400, "method");
    }

    fn the_method_parameter_is_accepted_only_on_a_post(backend) {
        let lrs = Lrs::start(backend);
        let content = statement().to_string();
        lrs.request("PUT", "/statements?method=POST")
            .form(&[("content", &content)])
            .assert_error(400, "method");
        lrs.request("GET", "/statements?method=GET").send().assert_error(400, "method");
    }

    fn unknown_methods_are_rejected(backend) {
        let lrs = Lrs::start(backend);
        for method in ["PATCH", "OPTIONS", "CONNECT", "FETCH", ""] {
            let reply = alternate(&lrs, method).form(&[]);
            reply.assert_error(400, "method");
            assert_eq!(reply.header("X-Experience-API-Version"), Some("1.0.3"), "{method}");
        }
    }

    fn a_body_that_is_not_a_form_is_rejected(backend) {
        let lrs = Lrs::start(backend);
        let id = Uuid::new_v4().to_string();
        let fields = json!({
            "statementId": id,
            "content": statement().to_string(),
            "X-Experience-API-Version": "1.0.3",
        });
        // JSON under its own content type.
        alternate(&lrs, "PUT").json(&fields).assert_error(400, "Content-Type");
        // No body at all (so no content type either).
        alternate(&lrs, "PUT").send().assert_error(400, "Content-Type");
        // JSON under the form content type (as in the ADL suite).
        alternate(&lrs, "PUT")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(fields.to_string().as_bytes())
            .assert_error(400, "");
        assert_eq!(lrs.get(&format!("/statements?statementId={id}")).status, 404);
    }

    fn repeated_content_or_header_fields_are_rejected(backend) {
        let lrs = Lrs::start(backend);
        let id = Uuid::new_v4().to_string();
        let content = statement().to_string();
        alternate(&lrs, "PUT")
            .form(&[("statementId", &id), ("content", &content), ("content", &content)])
            .assert_error(400, "content");
        alternate(&lrs, "PUT")
            .form(&[
                ("statementId", &id),
                ("content", &content),
                ("If-Match", "\"a\""),
                ("if-match", "\"b\""),
            ])
            .assert_error(400, "If-Match");
    }

    fn the_alternate_syntax_is_rejected_under_xapi_2_0(backend) {
        // xAPI 2.0.0 removed the syntax, whether the version comes as a form field or a header.
        let lrs = Lrs::start(backend);
        alternate(&lrs, "GET")
            .form(&[("X-Experience-API-Version", "2.0.0")])
            .assert_error(400, "method");
        alternate(&lrs, "GET")
            .header("X-Experience-API-Version", "2.0.0")
            .form(&[("limit", "1")])
            .assert_error(400, "method");
    }
}
