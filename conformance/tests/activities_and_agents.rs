//! xAPI 1.0.3 Communication §2.4 (Agents) and §2.5 (Activities).

use conformance::statements::{agent, statement_with};
use conformance::{Lrs, backend_tests, encode as enc};
use serde_json::json;
use uuid::Uuid;

backend_tests! {
    fn an_activity_has_the_definition_merged_from_its_statements(backend) {
        let lrs = Lrs::start(backend);
        let id = format!("http://example.com/videos/{}", Uuid::new_v4().simple());
        let mut english = statement_with(agent(), "http://example.com/verbs/watched", &id);
        english["object"]["definition"] = json!({ "name": { "en-US": "Install" }, "type": "http://example.com/types/video" });
        let mut french = statement_with(agent(), "http://example.com/verbs/watched", &id);
        french["object"]["definition"] = json!({ "name": { "fr-FR": "Installer" } });
        lrs.store(&json!([english, french]));
        let got = lrs.get(&format!("/activities?activityId={}", enc(&id)));
        assert_eq!(got.status, 200);
        assert_eq!(
            got.json(),
            json!({
                "objectType": "Activity",
                "id": id,
                "definition": { "name": { "en-US": "Install", "fr-FR": "Installer" }, "type": "http://example.com/types/video" },
            })
        );
    }

    fn an_unknown_activity_is_just_its_id(backend) {
        let lrs = Lrs::start(backend);
        let id = "http://example.com/never/seen";
        assert_eq!(lrs.get(&format!("/activities?activityId={}", enc(id))).json(), json!({ "objectType": "Activity", "id": id }));
    }

    fn the_activities_resource_needs_a_valid_activity_id(backend) {
        let lrs = Lrs::start(backend);
        lrs.get("/activities").assert_error(400, "activityId");
        lrs.get("/activities?activityId=true").assert_error(400, "activityId");
    }

    fn canonical_format_uses_the_held_definition(backend) {
        let lrs = Lrs::start(backend);
        let id = format!("http://example.com/videos/{}", Uuid::new_v4().simple());
        let mut first = statement_with(agent(), "http://example.com/verbs/watched", &id);
        first["object"]["definition"] = json!({ "name": { "en-US": "Install" } });
        let first_id = lrs.store_one(&first);
        let mut second = statement_with(agent(), "http://example.com/verbs/watched", &id);
        second["object"]["definition"] = json!({ "name": { "en-US": "Installing the module" } });
        lrs.store_one(&second);
        let got = lrs.request("GET", &format!("/statements?statementId={first_id}&format=canonical")).header("Accept-Language", "en-US").send();
        assert_eq!(got.json()["object"]["definition"]["name"], json!({ "en-US": "Installing the module" }));
        let exact = lrs.get(&format!("/statements?statementId={first_id}")).json();
        assert_eq!(exact["object"]["definition"]["name"], json!({ "en-US": "Install" }), "exact keeps what was sent");
    }

    fn an_agent_is_a_person_with_its_identifier_and_known_names(backend) {
        let lrs = Lrs::start(backend);
        let learner = agent();
        lrs.store_one(&statement_with(learner.clone(), "http://example.com/verbs/a", "http://example.com/a"));
        let query = json!({ "mbox": learner["mbox"] });
        let person = lrs.get(&format!("/agents?agent={}", enc(&query.to_string()))).json();
        assert_eq!(person, json!({ "objectType": "Person", "name": ["Test Learner"], "mbox": [learner["mbox"]] }));
    }

    fn an_unseen_agent_is_still_a_person(backend) {
        let lrs = Lrs::start(backend);
        let query = json!({ "account": { "homePage": "http://example.com", "name": "nobody" } });
        let person = lrs.get(&format!("/agents?agent={}", enc(&query.to_string()))).json();
        assert_eq!(person, json!({ "objectType": "Person", "account": [query["account"]] }));
    }

    fn the_agents_resource_needs_an_identified_agent(backend) {
        let lrs = Lrs::start(backend);
        lrs.get("/agents").assert_error(400, "agent");
        lrs.get(&format!("/agents?agent={}", enc("{\"name\":\"no ifi\"}"))).assert_error(400, "agent");
    }

    fn head_works_on_activities_and_agents(backend) {
        let lrs = Lrs::start(backend);
        let head = lrs.request("HEAD", &format!("/activities?activityId={}", enc("http://example.com/a"))).send();
        assert_eq!((head.status, head.body.as_str()), (200, ""));
        let head = lrs.request("HEAD", &format!("/agents?agent={}", enc("{\"mbox\":\"mailto:a@example.com\"}"))).send();
        assert_eq!((head.status, head.body.as_str()), (200, ""));
    }
}
