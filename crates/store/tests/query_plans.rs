//! Every shape of statement query is answered from an index, in index order: no
//! sequential scan of a table and no sort of what a filter matches, on either backend,
//! and on PostgreSQL under both the custom plan a prepared statement starts with and the
//! generic plan it may switch to.

use serde_json::{Value, json};
use store::{
    DEFAULT_STORE, PgStore, SqliteStore, StatementBatch, StatementFilter, StatementQuery, StatementWriter,
};
use test_support::{Backend, TestDatabase};
use uuid::Uuid;
use xapi::{AgentKey, Statement, Timestamp, Version};

const STATEMENTS: usize = 4_000;

fn learner(n: usize) -> Value {
    json!({ "objectType": "Agent", "mbox": format!("mailto:learner{}@example.com", n % 200) })
}

fn verb(n: usize) -> String {
    format!("http://example.com/verbs/{}", n % 8)
}

fn video(n: usize) -> String {
    format!("http://example.com/videos/{}", n % 40)
}

fn course(n: usize) -> String {
    format!("http://example.com/courses/{}", n % 10)
}

fn registration(n: usize) -> String {
    Uuid::from_u128(n as u128 % 50 + 1).to_string()
}

/// Statement `n`: a learner of 200, a verb of 8, a video of 40 in a course of 10, a
/// registration of 50, and an instructor (another learner) on every third.
fn statement(n: usize) -> Value {
    let mut context = json!({
        "registration": registration(n),
        "contextActivities": { "parent": [{ "id": course(n) }] },
    });
    if n.is_multiple_of(3) {
        context["instructor"] = learner(n + 7);
    }
    json!({
        "actor": learner(n),
        "verb": { "id": verb(n) },
        "object": { "id": video(n) },
        "context": context,
    })
}

fn authority() -> Value {
    json!({ "objectType": "Agent", "account": { "homePage": "https://tally.invalid", "name": "lms" } })
}

async fn load<S: StatementWriter>(store: &S) {
    for chunk in (0..STATEMENTS).collect::<Vec<_>>().chunks(500) {
        let batch = StatementBatch {
            store: DEFAULT_STORE,
            version: Version::V1_0,
            authority: authority(),
            statements: chunk
                .iter()
                .map(|&n| Statement::parse(statement(n), Version::V1_0).unwrap())
                .collect(),
            attachments: Vec::new(),
            define: true,
            keep_stored: false,
        };
        store.write_statements(batch).await.unwrap();
    }
}

fn agent(value: &Value) -> Option<AgentKey> {
    AgentKey::of(value.as_object().unwrap())
}

/// Each query shape the statements resource can ask, by name.
fn shapes() -> Vec<(&'static str, StatementQuery)> {
    let all = StatementFilter::default;
    let (start, middle) = (Timestamp::from_micros(0), Timestamp::now());
    let filters = [
        ("no filter", all()),
        ("verb", StatementFilter { verb: Some(verb(3)), ..all() }),
        ("agent", StatementFilter { agent: agent(&learner(5)), ..all() }),
        ("related_agents", StatementFilter { agent: agent(&learner(5)), related_agents: true, ..all() }),
        ("activity", StatementFilter { activity: Some(video(5)), ..all() }),
        ("activity of a parent", StatementFilter { activity: Some(course(5)), ..all() }),
        (
            "related_activities",
            StatementFilter { activity: Some(course(5)), related_activities: true, ..all() },
        ),
        ("registration", StatementFilter { registration: Uuid::parse_str(&registration(5)).ok(), ..all() }),
        ("authority (statements/read/mine)", StatementFilter { authority: agent(&authority()), ..all() }),
        ("since", StatementFilter { since: Some(start), ..all() }),
        ("until", StatementFilter { until: Some(middle), ..all() }),
        ("since and until", StatementFilter { since: Some(start), until: Some(middle), ..all() }),
        ("agent and verb", StatementFilter { agent: agent(&learner(5)), verb: Some(verb(5)), ..all() }),
        (
            "registration, activity and verb",
            StatementFilter {
                registration: Uuid::parse_str(&registration(5)).ok(),
                activity: Some(video(5)),
                verb: Some(verb(5)),
                ..all()
            },
        ),
    ];
    let mut shapes = Vec::new();
    for (name, filter) in filters {
        shapes.push((
            name,
            StatementQuery { filter: filter.clone(), ascending: false, limit: 100, cursor: None },
        ));
        shapes.push((name, StatementQuery { filter, ascending: true, limit: 100, cursor: None }));
    }
    shapes
}

fn keyed(query: &StatementQuery) -> bool {
    let f = &query.filter;
    f.verb.is_some()
        || f.agent.is_some()
        || f.activity.is_some()
        || f.registration.is_some()
        || f.authority.is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_answers_every_query_shape_from_an_index_in_its_order() {
    let db = TestDatabase::new(Backend::Postgres);
    let url = db.database_url().unwrap();
    let store = PgStore::connect(url).await.unwrap();
    load(&store).await;
    // As autovacuum would: the planner sees the tables' real sizes and spreads.
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client.batch_execute("ANALYZE").await.unwrap();

    for (name, query) in shapes() {
        for generic in [false, true] {
            let plans = store.explain_page(DEFAULT_STORE, query.clone(), generic).await.unwrap();
            let context = format!(
                "{name} (ascending: {}, generic plan: {generic}):\n{}",
                query.ascending,
                plans.join("\n")
            );
            for node in ["Seq Scan", "Sort", "Bitmap", "Materialize", "Hash"] {
                assert!(!plans[0].contains(node), "{node} in the page of {context}");
            }
            let index = if keyed(&query) { "statement_index_pkey" } else { "statements_pkey" };
            assert!(plans[0].contains(index), "{index} not used in {context}");
            // The end of a walk reads the driving value's rows only; whether in order or
            // sorted after is the planner's choice by how many there are.
            assert!(
                plans[1..]
                    .iter()
                    .all(|plan| plan.contains("statement_index_pkey") && !plan.contains("Seq Scan")),
                "{context}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_answers_every_query_shape_from_an_index_in_its_order() {
    let db = TestDatabase::new(Backend::Sqlite);
    let store = SqliteStore::open(db.data_dir()).unwrap();
    load(&store).await;

    for (name, query) in shapes() {
        let plans = store.explain_page(DEFAULT_STORE, query.clone()).await.unwrap();
        let context = format!("{name} (ascending: {}):\n{}", query.ascending, plans.join("\n"));
        for line in plans.iter().flat_map(|plan| plan.lines()) {
            // Scanning the driving rows of a walk (a subquery) is fine; scanning a table is not.
            let scans_a_table = line.starts_with("SCAN") && !line.starts_with("SCAN i0");
            assert!(!scans_a_table, "{line:?} in {context}");
            assert!(!line.contains("TEMP B-TREE"), "{line:?} in {context}");
        }
        let index = if keyed(&query) {
            "USING PRIMARY KEY (store_id=? AND key=? AND seq>? AND seq<?)"
        } else {
            "SEARCH s USING INDEX sqlite_autoindex_statements_1 (store_id=? AND seq>? AND seq<?)"
        };
        assert!(plans[0].contains(index), "{index} not used in {context}");
    }
}

/// Rows each node of an `EXPLAIN ANALYZE` returned or filtered out, at most (the actual
/// counts, not the planner's estimates).
fn most_rows_read(plan: &str) -> u64 {
    let number = |rest: &str| rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok();
    let returned = plan.split("(actual ").skip(1).filter_map(|rest| number(rest.split_once("rows=")?.1));
    let filtered = plan.split("Removed by Filter: ").skip(1).filter_map(number);
    returned.chain(filtered).max().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_the_engine_reads_one_page_after_its_watermark_whatever_plan_the_statistics_lead_to() {
    let db = TestDatabase::new(Backend::Postgres);
    let url = db.database_url().unwrap();
    load(&PgStore::connect(url).await.unwrap()).await;
    // With statistics older than a bulk load, PostgreSQL chose a bitmap scan of every
    // statement after the watermark and sorted them; sessions without index scans plan so.
    let without_index_scans = format!("{url}%20-cenable_indexscan%3Doff");
    assert!(url.contains("options="), "{url}");
    for store in [PgStore::connect(url).await.unwrap(), PgStore::connect(&without_index_scans).await.unwrap()]
    {
        for generic in [false, true] {
            let plan = store.explain_tail(DEFAULT_STORE, 1_000, 100, generic).await.unwrap();
            assert!(most_rows_read(&plan) <= 100, "generic plan: {generic}, read more than a page:\n{plan}");
        }
    }
}
