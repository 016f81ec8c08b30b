//! The audit log, on both backends: what is recorded reads back as it was, newest first,
//! filtered, and paged so that every entry comes exactly once.

#[macro_use]
mod common;

use serde_json::json;
use store::{AuditFilter, AuditReader, AuditWriter, DEFAULT_STORE, NewAuditEntry, StoreId};
use xapi::Timestamp;

fn act(store: StoreId, actor: &str, action: &str, subject: &str) -> NewAuditEntry {
    NewAuditEntry {
        store,
        actor: actor.into(),
        action: action.into(),
        subject: subject.into(),
        details: json!({ "accepted": 3, "rejected": 1 }),
    }
}

/// Every entry the filter selects, read `limit` at a time; also answers how many pages.
async fn walk<S: AuditReader>(store: &S, filter: AuditFilter, limit: usize) -> (Vec<i64>, usize) {
    let (mut ids, mut pages, mut before) = (Vec::new(), 0, None);
    loop {
        let page = store.audit_page(filter.clone(), before, limit).await.expect("page");
        assert!(page.entries.len() <= limit);
        ids.extend(page.entries.iter().map(|e| e.id));
        pages += 1;
        match page.next {
            Some(next) => before = Some(next),
            None => return (ids, pages),
        }
    }
}

store_tests! {
    async fn an_act_reads_back_as_recorded_with_its_time_and_id(store) {
        let before = Timestamp::now();
        let recorded = store.record_audit(act(DEFAULT_STORE, "ops", "credential.create", "k1")).await.unwrap();
        // Kept to the millisecond, the precision the API shows.
        assert_eq!(recorded.at.as_micros() % 1000, 0);
        assert!(recorded.at.as_micros() > before.as_micros() - 1000 && recorded.at <= Timestamp::now());
        let page = store.audit_page(AuditFilter::default(), None, 10).await.unwrap();
        assert_eq!(page.entries, vec![recorded.clone()]);
        assert_eq!(page.next, None);
        assert_eq!(page.entries[0].details, json!({ "accepted": 3, "rejected": 1 }));
        assert_eq!((page.entries[0].actor.as_str(), page.entries[0].subject.as_str()), ("ops", "k1"));
    }

    async fn entries_come_newest_first_and_paging_walks_each_once(store) {
        let mut recorded = Vec::new();
        for i in 0..7 {
            recorded.push(store.record_audit(act(DEFAULT_STORE, "ops", "goal.put", &format!("g{i}"))).await.unwrap().id);
        }
        let newest_first: Vec<i64> = recorded.iter().rev().copied().collect();
        for limit in [1, 2, 3, 7, 8] {
            let (ids, pages) = walk(&store, AuditFilter::default(), limit).await;
            assert_eq!(ids, newest_first, "limit {limit}");
            assert_eq!(pages, 7usize.div_ceil(limit), "limit {limit}: no empty page at the end");
        }
        // An act recorded while paging is not in the later pages of the walk begun before it.
        let first = store.audit_page(AuditFilter::default(), None, 3).await.unwrap();
        store.record_audit(act(DEFAULT_STORE, "ops", "goal.delete", "late")).await.unwrap();
        let rest = store.audit_page(AuditFilter::default(), first.next, 10).await.unwrap();
        let walked: Vec<i64> = first.entries.iter().chain(&rest.entries).map(|e| e.id).collect();
        assert_eq!(walked, newest_first);
    }

    async fn filters_select_by_store_action_actor_and_time(store) {
        let other = StoreId::new(2);
        let a = store.record_audit(act(DEFAULT_STORE, "ops", "store.create", "2")).await.unwrap();
        let b = store.record_audit(act(other, "partner", "credential.create", "k2")).await.unwrap();
        let c = store.record_audit(act(other, "cli", "credential.revoke", "k2")).await.unwrap();
        let ids = |filter: AuditFilter| {
            let store = store.clone();
            async move { walk(&store, filter, 2).await.0 }
        };
        assert_eq!(ids(AuditFilter { store: Some(other), ..Default::default() }).await, vec![c.id, b.id]);
        assert_eq!(ids(AuditFilter { store: Some(DEFAULT_STORE), ..Default::default() }).await, vec![a.id]);
        assert_eq!(ids(AuditFilter { action: Some("credential.create".into()), ..Default::default() }).await, vec![b.id]);
        assert_eq!(ids(AuditFilter { actor: Some("cli".into()), ..Default::default() }).await, vec![c.id]);
        assert_eq!(ids(AuditFilter { actor: Some("nobody".into()), ..Default::default() }).await, Vec::<i64>::new());
        // since is exclusive, until inclusive, as for statements (two acts may share a
        // microsecond, so the expected ids come from the recorded times).
        let newest_first = [&c, &b, &a];
        let after_a: Vec<i64> = newest_first.iter().filter(|e| e.at > a.at).map(|e| e.id).collect();
        assert_eq!(ids(AuditFilter { since: Some(a.at), ..Default::default() }).await, after_a);
        let up_to_a: Vec<i64> = newest_first.iter().filter(|e| e.at <= a.at).map(|e| e.id).collect();
        assert_eq!(ids(AuditFilter { until: Some(a.at), ..Default::default() }).await, up_to_a);
        let both = AuditFilter { store: Some(other), actor: Some("partner".into()), until: Some(c.at), ..Default::default() };
        assert_eq!(ids(both).await, vec![b.id]);
    }
}
