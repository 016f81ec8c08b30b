//! Tickets, goals and rollups, on both backends.

#[macro_use]
mod common;

use serde_json::json;
use store::insights::{
    ActivityActorRow, ActivitySelection, ChangeRow, DailyActorRow, DailyRow, RevisionRow, RollupStep,
    TicketCoverage, TicketCursor, TicketFilter, TicketRow,
};
use store::{
    DEFAULT_STORE, GoalReader, GoalWriter, PersonEraser, RollupReader, RollupWriter, Seq, StatementBatch,
    StatementTail, StatementWriter, StoreError, StoreId, TicketReader, TicketWriter,
};
use test_support::statements::statement;
use xapi::{Statement, Version};

fn ticket(id: &str, created: i64, category: &str, tags: &[&str]) -> TicketRow {
    TicketRow {
        source: "zendesk".into(),
        external_id: id.into(),
        created,
        category: category.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        requester: "ann@example.com".into(),
        requester_keys: vec!["mbox:mailto:ann@example.com".into()],
        status: "open".into(),
        ..TicketRow::default()
    }
}

fn daily(day: i64, activity: &str, statements: i64) -> DailyRow {
    DailyRow {
        day,
        activity_id: activity.into(),
        verb_id: "http://example.com/verbs/played".into(),
        statements,
        completions: statements,
        ..DailyRow::default()
    }
}

fn actor_row(activity: &str, actor: &str, statements: i64) -> ActivityActorRow {
    ActivityActorRow {
        activity_id: activity.into(),
        actor: actor.into(),
        statements,
        completions: 0,
        first_seen: 10,
        last_seen: 20,
        best_progress: 0.4,
        segments: "0[.]12".into(),
        length: Some(30.0),
    }
}

fn revision(activity: &str, marker: &str, first_seen: i64) -> RevisionRow {
    RevisionRow { activity_id: activity.into(), marker: marker.into(), first_seen }
}

fn prefix(p: &str) -> ActivitySelection {
    ActivitySelection { ids: vec![], prefix: Some(p.into()) }
}

store_tests! {
    async fn tickets_are_upserted_one_per_source_and_id(store) {
        let first = vec![ticket("1", 100, "install", &["install", "windows"]), ticket("2", 200, "billing", &[])];
        assert_eq!(store.upsert_tickets(DEFAULT_STORE, first).await.unwrap(), (2, 0));
        let again = vec![ticket("1", 100, "install", &["install"]), ticket("3", 300, "install", &[])];
        assert_eq!(store.upsert_tickets(DEFAULT_STORE, again).await.unwrap(), (1, 1));
        let all = store.tickets(DEFAULT_STORE, TicketFilter::default()).await.unwrap();
        assert_eq!(all.iter().map(|t| t.external_id.as_str()).collect::<Vec<_>>(), ["1", "2", "3"]);
        assert_eq!(all[0].tags, ["install"], "updated in place");
        assert_eq!(all[0].requester_keys, ["mbox:mailto:ann@example.com"]);
        let filtered = TicketFilter { from: Some(150), categories: vec!["install".into()], ..TicketFilter::default() };
        let found = store.tickets(DEFAULT_STORE, filtered).await.unwrap();
        assert_eq!(found.iter().map(|t| t.external_id.as_str()).collect::<Vec<_>>(), ["3"]);
        assert!(store.tickets(StoreId::new(2), TicketFilter::default()).await.unwrap().is_empty(), "stores are apart");
    }

    async fn a_ticket_repeated_in_one_import_keeps_its_last_version(store) {
        let first = vec![ticket("1", 100, "install", &["old"]), ticket("1", 150, "install", &["new"])];
        assert_eq!(store.upsert_tickets(DEFAULT_STORE, first).await.unwrap(), (1, 1), "one insert, then an update");
        let again = vec![ticket("1", 160, "install", &["newer"]), ticket("1", 170, "install", &["newest"])];
        assert_eq!(store.upsert_tickets(DEFAULT_STORE, again).await.unwrap(), (0, 2));
        let all = store.tickets(DEFAULT_STORE, TicketFilter::default()).await.unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!((all[0].created, all[0].tags.clone()), (170, vec!["newest".to_string()]));
    }

    async fn tickets_page_in_order(store) {
        let tickets: Vec<TicketRow> = (0..5).map(|i| ticket(&i.to_string(), 1_000 - i, "c", &[])).collect();
        store.upsert_tickets(DEFAULT_STORE, tickets).await.unwrap();
        let first = store.ticket_page(DEFAULT_STORE, None, 2).await.unwrap();
        assert_eq!(first.iter().map(|t| t.created).collect::<Vec<_>>(), [996, 997]);
        let last = &first[1];
        let cursor = TicketCursor { created: last.created, source: last.source.clone(), external_id: last.external_id.clone() };
        let rest = store.ticket_page(DEFAULT_STORE, Some(cursor), 10).await.unwrap();
        assert_eq!(rest.iter().map(|t| t.created).collect::<Vec<_>>(), [998, 999, 1_000]);
    }

    async fn ticket_coverage_keeps_the_later_end_per_source(store) {
        let coverage = |source: &str, through| TicketCoverage { source: source.into(), through };
        store.record_coverage(DEFAULT_STORE, vec![coverage("zendesk", 500), coverage("jira", 300)]).await.unwrap();
        // An older export imported again does not make newer tickets unknown.
        store.record_coverage(DEFAULT_STORE, vec![coverage("zendesk", 200)]).await.unwrap();
        store.record_coverage(DEFAULT_STORE, vec![coverage("jira", 900)]).await.unwrap();
        let kept = store.coverage(DEFAULT_STORE).await.unwrap();
        assert_eq!(kept, [coverage("jira", 900), coverage("zendesk", 500)]);
        assert!(store.coverage(StoreId::new(2)).await.unwrap().is_empty(), "stores are apart");
    }

    async fn the_people_a_store_knows_are_its_requesters_and_actors(store) {
        let mut tickets = vec![ticket("1", 100, "c", &[]), ticket("2", 150, "c", &[]), ticket("3", 900, "c", &[])];
        tickets[1].requester_keys = vec!["mbox:mailto:bo@example.com".into(), "mbox_sha1sum:ab".into()];
        tickets[2].requester_keys = vec!["mbox:mailto:late@example.com".into()];
        let mut nobody = ticket("4", 120, "c", &[]);
        nobody.requester_keys.clear();
        tickets.push(nobody);
        store.upsert_tickets(DEFAULT_STORE, tickets).await.unwrap();
        let requesters = store.ticket_requesters(DEFAULT_STORE, 500).await.unwrap();
        assert_eq!(
            requesters,
            [vec!["mbox:mailto:ann@example.com".to_string()], vec!["mbox:mailto:bo@example.com".into(), "mbox_sha1sum:ab".into()]],
            "each requester once, none created after the bound, none without keys"
        );
        let mut early = actor_row("https://a.example/x", "mbox:mailto:cy@example.com", 1);
        early.first_seen = 10;
        let mut twice = actor_row("https://a.example/y", "mbox:mailto:cy@example.com", 1);
        twice.first_seen = 20;
        let mut late = actor_row("https://a.example/x", "mbox:mailto:dee@example.com", 1);
        late.first_seen = 700;
        let step = RollupStep { activity_actors: vec![early, twice, late], from_seq: Seq::new(0), to_seq: Seq::new(0), ..RollupStep::default() };
        store.apply_rollup(DEFAULT_STORE, step).await.unwrap();
        assert_eq!(store.known_actors(DEFAULT_STORE, 500).await.unwrap(), ["mbox:mailto:cy@example.com"]);
    }

    async fn goals_and_their_changes_are_kept(store) {
        assert!(store.put_goal(DEFAULT_STORE, "install", r#"{"name":"Fewer install tickets"}"#).await.unwrap());
        assert!(!store.put_goal(DEFAULT_STORE, "install", r#"{"name":"Fewer install tickets (v2)"}"#).await.unwrap());
        let goal = store.goal(DEFAULT_STORE, "install").await.unwrap().unwrap();
        assert!(goal.definition.contains("v2"));
        assert_eq!(store.goals(DEFAULT_STORE).await.unwrap().len(), 1);
        let change = ChangeRow { id: "c1".into(), at: 5, kind: "placement".into(), note: "link in the installer".into() };
        store.add_change(DEFAULT_STORE, "install", change.clone()).await.unwrap();
        assert!(matches!(store.add_change(DEFAULT_STORE, "nothing", change.clone()).await, Err(StoreError::NotFound)));
        assert_eq!(store.changes(DEFAULT_STORE, "install").await.unwrap(), vec![change]);
        assert!(store.delete_change(DEFAULT_STORE, "install", "c1").await.unwrap());
        assert!(store.delete_goal(DEFAULT_STORE, "install").await.unwrap());
        assert!(store.goal(DEFAULT_STORE, "install").await.unwrap().is_none());
        assert!(!store.delete_goal(DEFAULT_STORE, "install").await.unwrap());
    }

    async fn rollup_steps_add_up_and_move_the_watermark(store) {
        let a = "https://academy.example.com/install/video-1";
        let step = RollupStep {
            daily: vec![daily(100, a, 3)],
            daily_actors: vec![DailyActorRow { day: 100, activity_id: a.into(), actor: "ann".into(), statements: 3 }],
            activity_actors: vec![actor_row(a, "ann", 3)],
            revisions: vec![revision(a, "revision:2", 50)],
            from_seq: Seq::new(0),
            to_seq: Seq::new(10),
            epoch: 0,
        };
        store.apply_rollup(DEFAULT_STORE, step.clone()).await.unwrap();
        assert_eq!(store.rollup_watermark(DEFAULT_STORE).await.unwrap(), Seq::new(10));
        assert!(matches!(store.apply_rollup(DEFAULT_STORE, step).await, Err(StoreError::Conflict(_))), "applied once");
        // A marker seen again keeps its earliest sighting, whichever step brings it.
        let more = RollupStep {
            daily: vec![daily(100, a, 2)],
            revisions: vec![revision(a, "revision:2", 40), revision(a, "revision:3", 90), revision("http://b", "revision:1", 1)],
            from_seq: Seq::new(10),
            to_seq: Seq::new(12),
            ..RollupStep::default()
        };
        store.apply_rollup(DEFAULT_STORE, more).await.unwrap();
        let revisions = store.revisions(DEFAULT_STORE, prefix("https://academy.example.com/")).await.unwrap();
        assert_eq!(revisions, vec![revision(a, "revision:2", 40), revision(a, "revision:3", 90)]);
        let rows = store.daily(DEFAULT_STORE, prefix("https://academy.example.com/install/"), 0, 1_000).await.unwrap();
        assert_eq!((rows.len(), rows[0].statements, rows[0].completions), (1, 5, 5));
        let ids = ActivitySelection { ids: vec![a.into()], prefix: None };
        assert_eq!(store.activity_actors(DEFAULT_STORE, ids).await.unwrap(), vec![actor_row(a, "ann", 3)]);
        assert_eq!(store.daily_actors(DEFAULT_STORE, prefix("https://"), 0, 1_000).await.unwrap().len(), 1);
        assert!(store.daily(DEFAULT_STORE, prefix("https://other/"), 0, 1_000).await.unwrap().is_empty());
        assert_eq!(store.daily_page(DEFAULT_STORE, None, 10).await.unwrap().len(), 1);
        // Taking everything back out removes the rows.
        let back = RollupStep {
            daily: vec![daily(100, a, -5)],
            daily_actors: vec![DailyActorRow { day: 100, activity_id: a.into(), actor: "ann".into(), statements: -3 }],
            activity_actors: vec![actor_row(a, "ann", 0)],
            revisions: vec![],
            from_seq: Seq::new(12),
            to_seq: Seq::new(13),
            epoch: 0,
        };
        store.apply_rollup(DEFAULT_STORE, back).await.unwrap();
        assert!(store.daily(DEFAULT_STORE, prefix("https://"), 0, 1_000).await.unwrap().is_empty());
        assert!(store.daily_actors(DEFAULT_STORE, prefix("https://"), 0, 1_000).await.unwrap().is_empty());
        assert!(store.activity_actors(DEFAULT_STORE, prefix("https://")).await.unwrap().is_empty());
    }

    async fn an_erasure_makes_earlier_rollups_count_as_nothing_until_a_step_of_the_new_epoch_clears_them(store) {
        let a = "https://academy.example.com/install/video-1";
        let built = RollupStep { activity_actors: vec![actor_row(a, "ann", 3)], to_seq: Seq::new(10), ..RollupStep::default() };
        store.apply_rollup(DEFAULT_STORE, built).await.unwrap();
        let nobody = store::erasure::Person::parse(r#"{"mbox":"mailto:nobody@example.com"}"#).unwrap();
        store.erase_person(DEFAULT_STORE, nobody, false).await.unwrap();
        assert_eq!(store.rollup_epoch(DEFAULT_STORE).await.unwrap(), 1);
        assert_eq!(store.rollup_watermark(DEFAULT_STORE).await.unwrap(), Seq::new(0), "nothing built at the new epoch");
        let stale = |from: i64| RollupStep { from_seq: Seq::new(from), to_seq: Seq::new(11), ..RollupStep::default() };
        assert!(matches!(store.apply_rollup(DEFAULT_STORE, stale(10)).await, Err(StoreError::Conflict(_))), "read before the erasure");
        let rebuilt = RollupStep { activity_actors: vec![actor_row(a, "bob", 1)], to_seq: Seq::new(10), epoch: 1, ..RollupStep::default() };
        store.apply_rollup(DEFAULT_STORE, rebuilt).await.unwrap();
        assert_eq!(store.activity_actors(DEFAULT_STORE, prefix("https://")).await.unwrap(), vec![actor_row(a, "bob", 1)], "cleared first");
        assert_eq!(store.rollup_watermark(DEFAULT_STORE).await.unwrap(), Seq::new(10));
        assert!(matches!(store.apply_rollup(DEFAULT_STORE, stale(0)).await, Err(StoreError::Conflict(_))), "an older epoch's step, even from nothing");
    }

    async fn a_prefix_selection_treats_like_wildcards_literally(store) {
        let step = RollupStep {
            activity_actors: vec![actor_row("http://a/x_1", "ann", 1), actor_row("http://a/xy1", "bob", 1)],
            to_seq: Seq::new(1),
            ..RollupStep::default()
        };
        store.apply_rollup(DEFAULT_STORE, step).await.unwrap();
        let rows = store.activity_actors(DEFAULT_STORE, prefix("http://a/x_")).await.unwrap();
        assert_eq!(rows.iter().map(|r| r.actor.as_str()).collect::<Vec<_>>(), ["ann"]);
    }

    async fn statements_are_followed_in_ingest_order(store) {
        let batch = StatementBatch {
            store: DEFAULT_STORE,
            version: Version::V1_0,
            authority: json!({ "objectType": "Agent", "mbox": "mailto:lrs@example.com" }),
            define: true,
            keep_stored: false,
            statements: (0..3).map(|_| Statement::parse(statement(), Version::V1_0).unwrap()).collect(),
            attachments: vec![],
        };
        let ids = store.write_statements(batch).await.unwrap();
        let tail = store.statements_after(DEFAULT_STORE, Seq::default(), 2).await.unwrap();
        assert_eq!(tail.iter().map(|t| t.id).collect::<Vec<_>>(), ids[..2]);
        let rest = store.statements_after(DEFAULT_STORE, tail[1].seq, 10).await.unwrap();
        assert_eq!(rest.iter().map(|t| t.id).collect::<Vec<_>>(), ids[2..]);
        let pairs = vec![("http://a/1".to_string(), "nobody".to_string())];
        assert!(store.activity_actor_rows(DEFAULT_STORE, pairs).await.unwrap().is_empty());
    }
}
