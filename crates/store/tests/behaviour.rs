//! The store behaviour suite: one set of tests, run unchanged against SQLite and
//! PostgreSQL (DESIGN.md: "Both backends pass the same behaviour suite").

#[macro_use]
mod common;

use std::collections::HashSet;

use serde_json::{Value, json};
use store::{
    ActivityReader, Credential, CredentialReader, CredentialWriter, DEFAULT_STORE, StatementBatch,
    StatementFilter, StatementQuery, StatementReader, StatementWriter, Store, StoreError, StoreId,
    TenantReader, TenantWriter,
};
use test_support::statements::{
    activity_id, agent, referring_to, statement, statement_with, verb_id, voiding,
};
use uuid::Uuid;
use xapi::{Statement, Timestamp, Version};

fn authority() -> Value {
    json!({ "objectType": "Agent", "account": { "homePage": "https://tally.invalid", "name": "tester" } })
}

fn batch(statements: Vec<Value>) -> StatementBatch {
    StatementBatch {
        store: DEFAULT_STORE,
        version: Version::V1_0,
        authority: authority(),
        statements: statements
            .into_iter()
            .map(|s| Statement::parse(s, Version::V1_0).expect("valid statement"))
            .collect(),
        attachments: Vec::new(),
        define: true,
        keep_stored: false,
    }
}

async fn post<S: Store>(store: &S, statements: Vec<Value>) -> Result<Vec<Uuid>, StoreError> {
    store.write_statements(batch(statements)).await
}

async fn post_one<S: Store>(store: &S, statement: Value) -> Uuid {
    post(store, vec![statement]).await.expect("stored")[0]
}

/// A statement about `activity` that carries `definition`.
fn defining(activity: &str, definition: Value) -> Value {
    let mut statement = statement_with(agent(), "http://adlnet.gov/expapi/verbs/experienced", activity);
    statement["object"]["definition"] = definition;
    statement
}

fn with_id(mut statement: Value, id: Uuid) -> Value {
    statement["id"] = json!(id.to_string());
    statement
}

fn query(filter: StatementFilter) -> StatementQuery {
    StatementQuery { filter, ascending: false, limit: 100, cursor: None }
}

async fn ids<S: Store>(store: &S, q: StatementQuery) -> Vec<Uuid> {
    store.query_statements(DEFAULT_STORE, q).await.expect("query").statements.iter().map(|s| s.id).collect()
}

async fn json_of<S: Store>(store: &S, id: Uuid) -> Value {
    let stored = store.statement(DEFAULT_STORE, id).await.expect("read").expect("present");
    serde_json::from_str(&stored.body).expect("stored JSON")
}

fn verb_filter(verb: &str) -> StatementFilter {
    StatementFilter { verb: Some(verb.to_string()), ..StatementFilter::default() }
}

store_tests! {
    async fn a_stored_statement_gets_the_lrs_properties(store) {
        let id = post_one(&store, statement()).await;
        let json = json_of(&store, id).await;
        assert_eq!(json["id"], json!(id.to_string()));
        assert_eq!(json["authority"], authority());
        assert_eq!(json["version"], json!("1.0.0"));
        assert_eq!(json["timestamp"], json["stored"], "timestamp defaults to stored, string-equal");
        let stored = Timestamp::parse(json["stored"].as_str().unwrap()).unwrap();
        assert!(stored.has_offset);
        let column = store.statement(DEFAULT_STORE, id).await.unwrap().unwrap().stored;
        assert_eq!(stored.instant, column, "the body's stored is the stored the LRS orders and filters by");
    }

    async fn a_batch_answers_ids_in_order_generating_missing_ones(store) {
        let given = Uuid::new_v4();
        let ids = post(&store, vec![statement(), with_id(statement(), given), statement()]).await.unwrap();
        assert_eq!(ids.len(), 3);
        assert_eq!(ids[1], given);
        assert_ne!(ids[0], ids[2]);
        for id in ids {
            assert!(store.statement(DEFAULT_STORE, id).await.unwrap().is_some());
        }
    }

    async fn an_equivalent_resend_is_accepted_and_stored_once(store) {
        let id = Uuid::new_v4();
        let s = with_id(statement(), id);
        post(&store, vec![s.clone()]).await.unwrap();
        let first = json_of(&store, id).await;
        assert_eq!(post(&store, vec![s]).await.unwrap(), vec![id]);
        assert_eq!(json_of(&store, id).await, first, "unchanged, not re-stored");
        let verb = first["verb"]["id"].as_str().unwrap().to_string();
        let found = ids(&store, query(StatementFilter { agent: xapi::AgentKey::of(first["actor"].as_object().unwrap()), ..verb_filter(&verb) })).await;
        assert_eq!(found, vec![id]);
    }

    async fn a_page_whose_filters_rarely_meet_stops_after_its_walk_budget_and_resumes(store) {
        // One agent with a rare verb on its oldest statement and 5,000 newer ones without:
        // the agent drives the query, the verb is probed.
        let learner = agent();
        let (rare, common, activity) = (verb_id(), verb_id(), activity_id());
        let mut statements = vec![statement_with(learner.clone(), &rare, &activity)];
        statements.extend((0..5_000).map(|_| statement_with(learner.clone(), &common, &activity)));
        let written = post(&store, statements).await.unwrap();
        let filter =
            StatementFilter { agent: xapi::AgentKey::of(learner.as_object().unwrap()), ..verb_filter(&rare) };

        let first = store.query_statements(DEFAULT_STORE, query(filter.clone())).await.unwrap();
        assert!(first.statements.is_empty(), "5,000 index rows walked, none matched");
        let cursor = first.next.expect("a short page says where to resume");
        let second = StatementQuery { cursor: Some(cursor), ..query(filter) };
        let second = store.query_statements(DEFAULT_STORE, second).await.unwrap();
        assert_eq!(second.statements.iter().map(|s| s.id).collect::<Vec<_>>(), vec![written[0]]);
        assert!(second.next.is_none());
    }

    async fn a_filter_on_a_sparse_kind_walks_past_other_appearances_within_its_budget(store) {
        // An Activity that is the object of its oldest statement only, and the parent of
        // 5,000 newer ones: the `activity` filter reads the value's rows and skips those.
        let course = activity_id();
        let mut statements = vec![statement_with(agent(), "http://example.com/verbs/a", &course)];
        statements.extend((0..5_000).map(|_| {
            let mut s = statement();
            s["context"] = json!({ "contextActivities": { "parent": { "id": course } } });
            s
        }));
        let written = post(&store, statements).await.unwrap();
        let filter = StatementFilter { activity: Some(course.clone()), ..StatementFilter::default() };

        let first = store.query_statements(DEFAULT_STORE, query(filter.clone())).await.unwrap();
        assert!(first.statements.is_empty(), "5,000 rows of the course walked, none has it as the object");
        let cursor = first.next.expect("a short page says where to resume");
        let second = store.query_statements(DEFAULT_STORE, StatementQuery { cursor: Some(cursor), ..query(filter.clone()) });
        let second = second.await.unwrap();
        assert_eq!(second.statements.iter().map(|s| s.id).collect::<Vec<_>>(), vec![written[0]]);
        assert!(second.next.is_none());
        let related = StatementFilter { related_activities: true, ..filter };
        assert_eq!(store.query_statements(DEFAULT_STORE, query(related)).await.unwrap().statements.len(), 100);
    }

    async fn a_stored_statement_gains_the_kinds_its_late_target_holds_a_value_in(store) {
        // R names Y as its instructor and refers to T, which arrives later with Y as its
        // actor: once T is stored, the `agent` filter on Y returns R too.
        let instructor = agent();
        let key = xapi::AgentKey::of(instructor.as_object().unwrap());
        let target = Uuid::new_v4();
        let mut r = referring_to(target, "http://example.com/verbs/reviewed");
        r["context"] = json!({ "instructor": instructor });
        let r = post_one(&store, r).await;
        let direct = StatementFilter { agent: key, ..StatementFilter::default() };
        assert!(ids(&store, query(direct.clone())).await.is_empty(), "an instructor is not the agent");
        let related = StatementFilter { related_agents: true, ..direct.clone() };
        assert_eq!(ids(&store, query(related.clone())).await, vec![r]);

        post(&store, vec![with_id(statement_with(instructor, "http://example.com/verbs/a", &activity_id()), target)])
            .await
            .unwrap();
        assert_eq!(ids(&store, query(direct)).await, vec![target, r]);
        assert_eq!(ids(&store, query(related)).await, vec![target, r]);
    }

    async fn a_different_statement_under_an_existing_id_conflicts_and_changes_nothing(store) {
        let id = Uuid::new_v4();
        post(&store, vec![with_id(statement(), id)]).await.unwrap();
        let before = json_of(&store, id).await;
        let err = post(&store, vec![with_id(statement(), id)]).await.unwrap_err();
        assert!(matches!(&err, StoreError::Conflict(message) if message.contains(&id.to_string())), "{err:?}");
        assert_eq!(json_of(&store, id).await, before);
    }

    async fn a_batch_with_a_conflict_stores_none_of_its_statements(store) {
        let existing = Uuid::new_v4();
        post(&store, vec![with_id(statement(), existing)]).await.unwrap();
        let fresh = Uuid::new_v4();
        let err = post(&store, vec![with_id(statement(), fresh), with_id(statement(), existing)]).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)));
        assert!(store.statement(DEFAULT_STORE, fresh).await.unwrap().is_none(), "all or nothing");
    }

    async fn concurrent_writers_all_commit_and_one_conflict_fails_alone(store) {
        let existing = Uuid::new_v4();
        post(&store, vec![with_id(statement(), existing)]).await.unwrap();
        let verb = verb_id();
        let mut tasks = Vec::new();
        for i in 0..60 {
            let store = store.clone();
            let s = if i == 30 { with_id(statement(), existing) } else { statement_with(agent(), &verb, &activity_id()) };
            tasks.push(tokio::spawn(async move { post(&store, vec![s]).await }));
        }
        let mut ok = 0;
        let mut conflicts = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => ok += 1,
                Err(StoreError::Conflict(_)) => conflicts += 1,
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        assert_eq!((ok, conflicts), (59, 1));
        assert_eq!(ids(&store, query(verb_filter(&verb))).await.len(), 59);
    }

    async fn statements_merge_their_activity_definitions_in_the_order_they_arrive(store) {
        let activity = activity_id();
        let defining = |definition: Value| defining(&activity, definition);
        // One batch: the second statement's name replaces the first's, its description joins.
        post(
            &store,
            vec![
                defining(json!({ "name": { "en-US": "First" }, "type": "http://example.com/types/video" })),
                defining(json!({ "name": { "en-US": "Second" }, "description": { "en-US": "About it" } })),
            ],
        )
        .await
        .unwrap();
        // A later batch adds a language.
        post(&store, vec![defining(json!({ "name": { "fr-FR": "Deuxième" } }))]).await.unwrap();
        let held = store.activity_definitions(DEFAULT_STORE, vec![activity.clone()]).await.unwrap();
        assert_eq!(
            Value::Object(held[&activity].clone()),
            json!({
                "name": { "en-US": "Second", "fr-FR": "Deuxième" },
                "description": { "en-US": "About it" },
                "type": "http://example.com/types/video",
            })
        );
    }

    async fn statements_without_the_define_scope_leave_definitions_alone(store) {
        let (held, unheld) = (activity_id(), activity_id());
        let named = |activity: &str, name: &str| defining(activity, json!({ "name": { "en-US": name } }));
        post(&store, vec![named(&held, "Held")]).await.unwrap();
        let mut b = batch(vec![named(&held, "Changed"), named(&unheld, "New")]);
        b.define = false;
        let written = store.write_statements(b).await.unwrap();
        assert_eq!(written.len(), 2, "the statements are stored");
        let definitions = store.activity_definitions(DEFAULT_STORE, vec![held.clone(), unheld.clone()]).await.unwrap();
        assert_eq!(Value::Object(definitions[&held].clone()), json!({ "name": { "en-US": "Held" } }));
        assert!(!definitions.contains_key(&unheld), "{definitions:?}");
    }

    async fn a_refused_batch_changes_no_definition(store) {
        let existing = Uuid::new_v4();
        post(&store, vec![with_id(statement(), existing)]).await.unwrap();
        let activity = activity_id();
        let never_held = defining(&activity, json!({ "name": { "en-US": "Never held" } }));
        let err = post(&store, vec![never_held, with_id(statement(), existing)]).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)));
        let definitions = store.activity_definitions(DEFAULT_STORE, vec![activity]).await.unwrap();
        assert!(definitions.is_empty(), "{definitions:?}");
    }

    async fn writing_to_an_unknown_store_is_refused(store) {
        let mut b = batch(vec![statement()]);
        b.store = StoreId::new(999);
        assert!(matches!(store.write_statements(b).await, Err(StoreError::NotFound)));
    }

    async fn a_voided_statement_is_marked_and_left_out_of_queries(store) {
        let verb = verb_id();
        let target = post_one(&store, statement_with(agent(), &verb, &activity_id())).await;
        let voider = post_one(&store, voiding(target)).await;
        assert!(store.statement(DEFAULT_STORE, target).await.unwrap().unwrap().voided);
        assert!(!store.statement(DEFAULT_STORE, voider).await.unwrap().unwrap().voided);
        // The voiding statement targets a statement with the verb, so it matches the filter.
        assert_eq!(ids(&store, query(verb_filter(&verb))).await, vec![voider]);
    }

    async fn a_voiding_statement_cannot_be_voided(store) {
        let target = post_one(&store, statement()).await;
        let first = post_one(&store, voiding(target)).await;
        post_one(&store, voiding(first)).await;
        assert!(!store.statement(DEFAULT_STORE, first).await.unwrap().unwrap().voided);
        assert!(store.statement(DEFAULT_STORE, target).await.unwrap().unwrap().voided);
    }

    async fn a_statement_voided_before_it_arrived_is_voided_on_arrival(store) {
        let target = Uuid::new_v4();
        post_one(&store, voiding(target)).await;
        post(&store, vec![with_id(statement(), target)]).await.unwrap();
        assert!(store.statement(DEFAULT_STORE, target).await.unwrap().unwrap().voided);
    }

    async fn filters_return_statements_that_reference_a_match(store) {
        // The ADL scenario: V (verb X) voided, then R refers to V: verb=X gives [R, voiding].
        let verb = verb_id();
        let v = post_one(&store, statement_with(agent(), &verb, &activity_id())).await;
        let voider = post_one(&store, voiding(v)).await;
        let r = post_one(&store, referring_to(v, "http://adlnet.gov/expapi/verbs/attended")).await;
        assert_eq!(ids(&store, query(verb_filter(&verb))).await, vec![r, voider]);
        let mut limited = query(verb_filter(&verb));
        limited.limit = 1;
        assert_eq!(ids(&store, limited).await, vec![r]);
    }

    async fn references_are_followed_through_chains_and_late_targets(store) {
        let verb = verb_id();
        let target = Uuid::new_v4();
        // The chain is stored before its target arrives.
        let middle = post_one(&store, referring_to(target, "http://example.com/verbs/a")).await;
        let outer = post_one(&store, referring_to(middle, "http://example.com/verbs/b")).await;
        assert!(ids(&store, query(verb_filter(&verb))).await.is_empty());
        post(&store, vec![with_id(statement_with(agent(), &verb, &activity_id()), target)]).await.unwrap();
        assert_eq!(ids(&store, query(verb_filter(&verb))).await, vec![target, outer, middle]);
    }

    async fn agent_filters_match_actor_and_object_and_related_ones_match_more(store) {
        let learner = agent();
        let key = xapi::AgentKey::of(learner.as_object().unwrap());
        let as_actor = post_one(&store, statement_with(learner.clone(), "http://example.com/verbs/a", &activity_id())).await;
        let mut s = statement();
        s["object"] = learner.clone();
        let as_object = post_one(&store, s).await;
        let mut s = statement();
        s["context"] = json!({ "instructor": learner });
        let as_instructor = post_one(&store, s).await;
        let direct = StatementFilter { agent: key.clone(), ..StatementFilter::default() };
        assert_eq!(ids(&store, query(direct.clone())).await, vec![as_object, as_actor]);
        let related = StatementFilter { related_agents: true, ..direct };
        assert_eq!(ids(&store, query(related)).await, vec![as_instructor, as_object, as_actor]);
    }

    async fn the_authority_is_a_related_agent(store) {
        let id = post_one(&store, statement()).await;
        let key = xapi::AgentKey::of(authority().as_object().unwrap());
        let related = StatementFilter { agent: key, related_agents: true, ..StatementFilter::default() };
        assert!(ids(&store, query(related)).await.contains(&id));
    }

    async fn activity_filters_match_the_object_and_related_ones_match_context(store) {
        let course = activity_id();
        let direct = post_one(&store, statement_with(agent(), "http://example.com/verbs/a", &course)).await;
        let mut s = statement();
        s["context"] = json!({ "contextActivities": { "parent": { "id": course } } });
        let in_context = post_one(&store, s).await;
        let filter = StatementFilter { activity: Some(course.clone()), ..StatementFilter::default() };
        assert_eq!(ids(&store, query(filter.clone())).await, vec![direct]);
        let related = StatementFilter { related_activities: true, ..filter };
        assert_eq!(ids(&store, query(related)).await, vec![in_context, direct]);
    }

    async fn registration_and_combined_filters_intersect(store) {
        let registration = Uuid::new_v4();
        let verb = verb_id();
        let mut a = statement_with(agent(), &verb, &activity_id());
        a["context"] = json!({ "registration": registration.to_string() });
        let mut b = statement();
        b["context"] = json!({ "registration": registration.to_string() });
        let (a, b) = (post_one(&store, a).await, post_one(&store, b).await);
        let by_registration = StatementFilter { registration: Some(registration), ..StatementFilter::default() };
        assert_eq!(ids(&store, query(by_registration.clone())).await, vec![b, a]);
        let both = StatementFilter { verb: Some(verb), ..by_registration };
        assert_eq!(ids(&store, query(both)).await, vec![a]);
    }

    async fn since_is_exclusive_and_until_inclusive_on_stored(store) {
        let verb = verb_id();
        let first = post_one(&store, statement_with(agent(), &verb, &activity_id())).await;
        let stored_first = store.statement(DEFAULT_STORE, first).await.unwrap().unwrap().stored;
        // `stored` is the clock rounded up to the millisecond: once the clock has passed the
        // first one's, the next statement's is later.
        while Timestamp::now().as_micros() <= stored_first.as_micros() {
            tokio::task::yield_now().await;
        }
        let second = post_one(&store, statement_with(agent(), &verb, &activity_id())).await;
        let since = StatementFilter { since: Some(stored_first), ..verb_filter(&verb) };
        assert_eq!(ids(&store, query(since)).await, vec![second]);
        let until = StatementFilter { until: Some(stored_first), ..verb_filter(&verb) };
        assert_eq!(ids(&store, query(until)).await, vec![first]);
    }

    async fn ascending_reverses_the_order(store) {
        let verb = verb_id();
        let a = post_one(&store, statement_with(agent(), &verb, &activity_id())).await;
        let b = post_one(&store, statement_with(agent(), &verb, &activity_id())).await;
        let mut q = query(verb_filter(&verb));
        q.ascending = true;
        assert_eq!(ids(&store, q).await, vec![a, b]);
    }

    async fn pages_cover_a_stable_snapshot_whatever_is_written_meanwhile(store) {
        let verb = verb_id();
        let mut written = Vec::new();
        for _ in 0..5 {
            written.push(post_one(&store, statement_with(agent(), &verb, &activity_id())).await);
        }
        let mut q = query(verb_filter(&verb));
        q.limit = 2;
        let page = store.query_statements(DEFAULT_STORE, q.clone()).await.unwrap();
        let mut seen: Vec<Uuid> = page.statements.iter().map(|s| s.id).collect();
        // Written and voided after the first page: neither changes the result set.
        post_one(&store, statement_with(agent(), &verb, &activity_id())).await;
        post_one(&store, voiding(written[0])).await;
        let mut next = page.next;
        while let Some(cursor) = next {
            let page = store.query_statements(DEFAULT_STORE, StatementQuery { cursor: Some(cursor), ..q.clone() }).await.unwrap();
            seen.extend(page.statements.iter().map(|s| s.id));
            next = page.next;
        }
        written.reverse();
        assert_eq!(seen, written);
    }

    async fn stored_has_millisecond_precision_and_never_decreases(store) {
        let verb = verb_id();
        for _ in 0..5 {
            post(&store, vec![statement_with(agent(), &verb, &activity_id()), statement_with(agent(), &verb, &activity_id())]).await.unwrap();
        }
        let mut q = query(verb_filter(&verb));
        q.ascending = true;
        let page = store.query_statements(DEFAULT_STORE, q).await.unwrap();
        let stored: Vec<i64> = page.statements.iter().map(|s| s.stored.as_micros()).collect();
        assert!(stored.iter().all(|us| us % 1_000 == 0), "{stored:?}");
        assert!(stored.windows(2).all(|w| w[0] <= w[1]), "{stored:?}");
    }

    async fn consistent_through_follows_the_clock_when_idle_and_covers_every_earlier_write(store) {
        let id = post_one(&store, statement()).await;
        let stored = store.statement(DEFAULT_STORE, id).await.unwrap().unwrap().stored;
        test_support::clock_passes(stored).await;
        let before = Timestamp::now();
        let through = store.consistent_through(DEFAULT_STORE).await.unwrap();
        assert!(through >= stored);
        // "now" on the database's clock, which may differ slightly from ours.
        assert!((through.as_micros() - before.as_micros()).abs() < 2_000_000, "{through} vs {before}");
    }

    async fn a_page_holds_every_statement_its_consistent_through_vouches_for(store) {
        let writer = store.clone();
        let writing = tokio::spawn(async move {
            for _ in 0..60 {
                post_one(&writer, statement()).await;
            }
        });
        let everything = || StatementQuery { limit: 1_000, ..query(StatementFilter::default()) };
        let mut seen = Vec::new();
        while !writing.is_finished() {
            let (through, page) = store.consistent_page(DEFAULT_STORE, everything()).await.unwrap();
            seen.push((through, page.statements.iter().map(|s| s.id).collect::<HashSet<_>>()));
        }
        writing.await.unwrap();
        let stored = store.query_statements(DEFAULT_STORE, everything()).await.unwrap().statements;
        assert_eq!(stored.len(), 60);
        assert!(seen.len() > 1, "reads overlapped the writes");
        for (through, page) in &seen {
            for statement in stored.iter().filter(|s| s.stored <= *through) {
                assert!(page.contains(&statement.id), "stored {} ≤ Consistent-Through {through}, not in the page", statement.stored);
            }
        }
    }

    async fn stores_keep_their_statements_apart(store) {
        let other = store.create_store("Partner enablement").await.unwrap();
        assert_ne!(other.id, DEFAULT_STORE);
        let verb = verb_id();
        let mine = post_one(&store, statement_with(agent(), &verb, &activity_id())).await;
        let mut theirs = batch(vec![with_id(statement_with(agent(), &verb, &activity_id()), mine)]);
        theirs.store = other.id;
        // The same id in another store is another statement, not a conflict.
        assert_eq!(store.write_statements(theirs).await.unwrap(), vec![mine]);
        assert_eq!(ids(&store, query(verb_filter(&verb))).await, vec![mine]);
        let in_other = store.query_statements(other.id, query(verb_filter(&verb))).await.unwrap();
        assert_eq!(in_other.statements.len(), 1);
        assert_ne!(in_other.statements[0].body, json_of(&store, mine).await.to_string());
        assert!(store.statement(other.id, Uuid::new_v4()).await.unwrap().is_none());
    }

    async fn concurrent_writes_to_several_stores_each_land_in_their_own(store) {
        // Submitted together, they are written as one group holding both stores' locks.
        let other = store.create_store("Onboarding").await.unwrap();
        let verb = verb_id();
        let mut theirs = batch(vec![statement_with(agent(), &verb, &activity_id())]);
        theirs.store = other.id;
        let mine = batch(vec![statement_with(agent(), &verb, &activity_id())]);
        let (mine, theirs) = tokio::join!(store.write_statements(mine), store.write_statements(theirs));
        let (mine, theirs) = (mine.unwrap(), theirs.unwrap());
        assert_eq!(ids(&store, query(verb_filter(&verb))).await, mine);
        let in_other = store.query_statements(other.id, query(verb_filter(&verb))).await.unwrap();
        assert_eq!(in_other.statements.iter().map(|s| s.id).collect::<Vec<_>>(), theirs);
    }

    async fn stores_are_created_renamed_listed_and_revoked(store) {
        let created = store.create_store("Onboarding").await.unwrap();
        assert!(store.rename_store(created.id, "Employee onboarding").await.unwrap());
        let info = store.store_info(created.id).await.unwrap().unwrap();
        assert_eq!((info.name.as_str(), info.revoked), ("Employee onboarding", false));
        let credential = Credential {
            key: "onboarding-lms".into(),
            store: created.id,
            name: "LMS".into(),
            scopes: vec!["all".into()],
            secret_sha256: [1; 32],
            created: Timestamp::now(),
            revoked: false,
            acts_for: None,
        };
        store.create_credential(credential).await.unwrap();
        assert!(!store.credential("onboarding-lms").await.unwrap().unwrap().revoked);
        assert!(store.revoke_store(created.id).await.unwrap());
        assert!(store.credential("onboarding-lms").await.unwrap().unwrap().revoked, "a revoked store's credentials are");
        assert!(!store.rename_store(StoreId::new(9_999), "nothing").await.unwrap());
        assert_eq!(store.stores().await.unwrap().len(), 2);
    }

    async fn read_mine_filters_on_the_authority(store) {
        let verb = verb_id();
        let mut other = batch(vec![statement_with(agent(), &verb, &activity_id())]);
        other.authority = json!({ "objectType": "Agent", "account": { "homePage": "https://tally.invalid", "name": "someone-else" } });
        store.write_statements(other).await.unwrap();
        let mine = post_one(&store, statement_with(agent(), &verb, &activity_id())).await;
        let own = xapi::AgentKey::of(authority().as_object().unwrap());
        let filter = StatementFilter { authority: own, ..verb_filter(&verb) };
        assert_eq!(ids(&store, query(filter)).await, vec![mine]);
    }

    async fn credentials_are_created_found_updated_and_revoked(store) {
        let credential = Credential {
            key: "key-1".into(),
            store: DEFAULT_STORE,
            name: "LMS".into(),
            scopes: vec!["statements/write".into(), "statements/read".into()],
            secret_sha256: [7; 32],
            created: Timestamp::now(),
            revoked: false,
            acts_for: None,
        };
        store.create_credential(credential.clone()).await.unwrap();
        assert!(matches!(store.create_credential(credential.clone()).await, Err(StoreError::Invalid { .. })));
        let found = store.credential("key-1").await.unwrap().unwrap();
        assert_eq!((found.scopes.clone(), found.secret_sha256, found.revoked), (credential.scopes.clone(), [7; 32], false));
        store.put_credential(Credential { secret_sha256: [9; 32], ..credential }).await.unwrap();
        assert_eq!(store.credential("key-1").await.unwrap().unwrap().secret_sha256, [9; 32]);
        assert!(store.rename_credential("key-1", "LMS (prod)").await.unwrap());
        assert_eq!(store.credential("key-1").await.unwrap().unwrap().name, "LMS (prod)");
        assert!(store.revoke_credential("key-1").await.unwrap());
        assert!(store.credential("key-1").await.unwrap().unwrap().revoked);
        assert!(!store.revoke_credential("no-such-key").await.unwrap());
        assert_eq!(store.list_credentials(None).await.unwrap().len(), 1);
        assert_eq!(store.list_credentials(Some(StoreId::new(2))).await.unwrap().len(), 0);
        assert!(store.credential("no-such-key").await.unwrap().is_none());
    }
}
