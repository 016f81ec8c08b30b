//! Documents and activity definitions, on both backends.

#[macro_use]
mod common;

use serde_json::{Value, json};
use store::{
    ActivityReader, DEFAULT_STORE, DocumentKind, DocumentReader, DocumentScope, DocumentWrite,
    DocumentWriteMode, DocumentWriter, Preconditions, StatementBatch, StatementWriter, StoreError,
};
use test_support::statements::{activity_id, agent, statement_with};
use uuid::Uuid;
use xapi::{Statement, Version};

fn state(registration: Option<Uuid>) -> DocumentScope {
    DocumentScope {
        store: DEFAULT_STORE,
        kind: DocumentKind::State,
        activity_id: "http://example.com/course".into(),
        agent: "mbox:mailto:learner@example.com".into(),
        registration,
    }
}

fn profile(kind: DocumentKind) -> DocumentScope {
    DocumentScope { kind, registration: None, ..state(None) }
}

fn put(scope: &DocumentScope, id: &str, content_type: &str, body: &str) -> DocumentWrite {
    DocumentWrite {
        scope: scope.clone(),
        id: id.into(),
        content_type: content_type.into(),
        body: body.as_bytes().to_vec(),
        mode: DocumentWriteMode::Replace,
        preconditions: Preconditions::default(),
        replace_needs_precondition: false,
    }
}

fn post(scope: &DocumentScope, id: &str, body: Value) -> DocumentWrite {
    DocumentWrite { mode: DocumentWriteMode::Merge, ..put(scope, id, "application/json", &body.to_string()) }
}

async fn json_of<S: DocumentReader>(store: &S, scope: &DocumentScope, id: &str) -> Value {
    let document = store.document(scope.clone(), id.into()).await.unwrap().expect("present");
    serde_json::from_slice(&document.body).unwrap()
}

store_tests! {
    async fn a_document_keeps_its_bytes_and_content_type(store) {
        let scope = state(None);
        let body = "\u{0}binary\u{ff} data";
        let written = store.write_document(put(&scope, "bookmark", "application/octet-stream", body)).await.unwrap();
        let read = store.document(scope, "bookmark".into()).await.unwrap().unwrap();
        assert_eq!(read.body, body.as_bytes());
        assert_eq!(read.content_type, "application/octet-stream");
        assert_eq!(read.etag.len(), 40, "SHA-1 hex");
        assert_eq!(read, written);
    }

    async fn a_missing_document_is_none(store) {
        assert!(store.document(state(None), "nothing".into()).await.unwrap().is_none());
    }

    async fn registration_kind_activity_and_agent_each_separate_documents(store) {
        let registration = Uuid::new_v4();
        store.write_document(put(&state(None), "d", "text/plain", "none")).await.unwrap();
        store.write_document(put(&state(Some(registration)), "d", "text/plain", "registered")).await.unwrap();
        store.write_document(put(&profile(DocumentKind::ActivityProfile), "d", "text/plain", "profile")).await.unwrap();
        let other_agent = DocumentScope { agent: "mbox:mailto:other@example.com".into(), ..state(None) };
        assert!(store.document(other_agent, "d".into()).await.unwrap().is_none());
        let body = |d: Option<store::Document>| String::from_utf8(d.unwrap().body).unwrap();
        assert_eq!(body(store.document(state(None), "d".into()).await.unwrap()), "none");
        assert_eq!(body(store.document(state(Some(registration)), "d".into()).await.unwrap()), "registered");
        assert_eq!(body(store.document(profile(DocumentKind::ActivityProfile), "d".into()).await.unwrap()), "profile");
    }

    async fn ids_are_listed_per_scope_and_since(store) {
        let registration = Uuid::new_v4();
        store.write_document(put(&state(None), "a", "text/plain", "1")).await.unwrap();
        let b = store.write_document(put(&state(Some(registration)), "b", "text/plain", "2")).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        store.write_document(put(&state(None), "c", "text/plain", "3")).await.unwrap();
        assert_eq!(store.document_ids(state(None), None).await.unwrap(), ["a", "b", "c"], "every registration");
        assert_eq!(store.document_ids(state(Some(registration)), None).await.unwrap(), ["b"]);
        assert_eq!(store.document_ids(state(None), Some(b.updated)).await.unwrap(), ["c"], "since is exclusive");
    }

    async fn post_merges_top_level_properties_newest_winning(store) {
        let scope = state(None);
        store.write_document(post(&scope, "prefs", json!({ "volume": 5, "speed": { "rate": 1 } }))).await.unwrap();
        store.write_document(post(&scope, "prefs", json!({ "speed": { "rate": 2 }, "captions": true }))).await.unwrap();
        assert_eq!(json_of(&store, &scope, "prefs").await, json!({ "volume": 5, "speed": { "rate": 2 }, "captions": true }));
    }

    async fn a_merge_with_a_non_json_side_changes_nothing(store) {
        let scope = state(None);
        store.write_document(post(&scope, "prefs", json!({ "volume": 5 }))).await.unwrap();
        let mut text = put(&scope, "prefs", "text/plain", "abc");
        text.mode = DocumentWriteMode::Merge;
        assert!(matches!(store.write_document(text).await, Err(StoreError::Invalid { .. })));
        assert_eq!(json_of(&store, &scope, "prefs").await, json!({ "volume": 5 }));
    }

    async fn a_failed_precondition_changes_nothing(store) {
        let scope = profile(DocumentKind::AgentProfile);
        let first = store.write_document(put(&scope, "p", "text/plain", "v1")).await.unwrap();
        let mut stale = put(&scope, "p", "text/plain", "v2");
        stale.preconditions.if_match = Some(vec!["1111111111111111111111111111111111111111".into()]);
        assert!(matches!(store.write_document(stale.clone()).await, Err(StoreError::PreconditionFailed(_))));
        let mut create_only = put(&scope, "p", "text/plain", "v2");
        create_only.preconditions.if_none_match = Some(vec!["*".into()]);
        assert!(matches!(store.write_document(create_only).await, Err(StoreError::PreconditionFailed(_))));
        assert!(matches!(
            store.delete_document(scope.clone(), "p".into(), stale.preconditions.clone()).await,
            Err(StoreError::PreconditionFailed(_))
        ));
        assert_eq!(store.document(scope.clone(), "p".into()).await.unwrap().unwrap(), first);
        stale.preconditions.if_match = Some(vec![first.etag]);
        assert_eq!(store.write_document(stale).await.unwrap().body, b"v2");
    }

    async fn replacing_a_profile_needs_a_precondition(store) {
        let scope = profile(DocumentKind::ActivityProfile);
        let mut first = put(&scope, "p", "text/plain", "v1");
        first.replace_needs_precondition = true;
        store.write_document(first.clone()).await.expect("creating needs none");
        assert!(matches!(store.write_document(first).await, Err(StoreError::Conflict(_))));
    }

    async fn every_change_moves_updated_forward(store) {
        let scope = state(None);
        let mut last = store.write_document(put(&scope, "d", "text/plain", "0")).await.unwrap().updated;
        for i in 1..5 {
            let now = store.write_document(put(&scope, "d", "text/plain", &i.to_string())).await.unwrap().updated;
            assert!(now > last);
            last = now;
        }
    }

    async fn deletes_remove_one_document_or_a_whole_scope(store) {
        let registration = Uuid::new_v4();
        for (scope, id) in [(state(None), "a"), (state(None), "b"), (state(Some(registration)), "c")] {
            store.write_document(put(&scope, id, "text/plain", "x")).await.unwrap();
        }
        store.delete_document(state(None), "a".into(), Preconditions::default()).await.unwrap();
        store.delete_document(state(None), "never-there".into(), Preconditions::default()).await.unwrap();
        assert_eq!(store.document_ids(state(None), None).await.unwrap(), ["b", "c"]);
        assert_eq!(store.delete_documents(state(Some(registration))).await.unwrap(), 1);
        assert_eq!(store.delete_documents(state(None)).await.unwrap(), 1, "every registration");
        assert!(store.document_ids(state(None), None).await.unwrap().is_empty());
    }

    async fn concurrent_merges_never_lose_a_key(store) {
        let scope = state(None);
        let mut tasks = Vec::new();
        for i in 0..40 {
            let (store, scope) = (store.clone(), scope.clone());
            tasks.push(tokio::spawn(async move {
                store.write_document(post(&scope, "shared", json!({ format!("key{i}"): i }))).await
            }));
        }
        for task in tasks {
            task.await.unwrap().expect("every merge succeeds");
        }
        let merged = json_of(&store, &scope, "shared").await;
        assert_eq!(merged.as_object().unwrap().len(), 40, "{merged}");
    }

    async fn activity_definitions_merge_across_statements(store) {
        let course = activity_id();
        let mut english = statement_with(agent(), "http://example.com/verbs/a", &course);
        english["object"]["definition"] = json!({ "name": { "en-US": "Install" }, "type": "http://example.com/types/video" });
        let mut french = statement_with(agent(), "http://example.com/verbs/a", &course);
        french["object"]["definition"] = json!({ "name": { "fr-FR": "Installer" } });
        for s in [english, french] {
            let batch = StatementBatch {
                store: DEFAULT_STORE,
                version: Version::V1_0,
                authority: json!({ "objectType": "Agent", "mbox": "mailto:lrs@example.com" }),
                statements: vec![Statement::parse(s, Version::V1_0).unwrap()],
                attachments: Vec::new(),
                define: true,
                keep_stored: false,
            };
            store.write_statements(batch).await.unwrap();
        }
        let held = store.activity_definitions(DEFAULT_STORE, vec![course.clone(), activity_id()]).await.unwrap();
        assert_eq!(held.len(), 1, "an unknown activity has no definition");
        assert_eq!(
            Value::Object(held[&course].clone()),
            json!({ "name": { "en-US": "Install", "fr-FR": "Installer" }, "type": "http://example.com/types/video" })
        );
    }
}
