//! Migration 7 turns the index's one row per (value, kind) into one row per value with
//! the kinds as bits: a store written under the old layout keeps every index entry, and
//! its queries answer as before.

mod common;

use serde_json::{Value, json};
use store::{
    DEFAULT_STORE, PgStore, SqliteStore, StatementBatch, StatementFilter, StatementQuery, StatementReader,
    StatementWriter,
};
use test_support::statements::{activity_id, agent, referring_to, statement_with};
use test_support::{Backend, TestDatabase};
use uuid::Uuid;
use xapi::{AgentKey, Statement, Version};

/// Index rows as (store, digest, seq, kinds), in key order.
type Rows = Vec<(i64, i64, i64, i64)>;

/// The migrations after 7 undone on PostgreSQL (they touch other tables, whose rollups are
/// empty here).
const POSTGRES_UNDO_LATER: &str = "
    DROP TABLE rollup_daily_actors;
    CREATE TABLE rollup_daily_actors (store_id bigint NOT NULL, day bigint NOT NULL, activity_id text NOT NULL,
        verb_id text NOT NULL, actor text NOT NULL, statements bigint NOT NULL,
        PRIMARY KEY (store_id, day, activity_id, verb_id, actor));
    ALTER TABLE rollup_activity_actors DROP COLUMN length_s;
    DROP TABLE ticket_coverage;
    DELETE FROM schema_migrations WHERE version > 7;";

/// The migrations after 7 undone on SQLite: the rollups back in the database file in their
/// old layout (migration 11 moves them out again).
fn sqlite_undo_later() -> String {
    format!(
        "{} {} DROP TABLE ticket_coverage; DELETE FROM schema_migrations WHERE version > 7;",
        common::SQLITE_UNDO_MIGRATION_15,
        common::SQLITE_ROLLUPS_OF_MIGRATIONS_5_TO_8
    )
}

/// The store as migrations 1–6 left it, once the later ones are undone: the row-per-kind
/// index rebuilt from the current rows, one row for each kind bit, under the old primary key.
const DOWNGRADE: &str = "
    CREATE TABLE statement_index_old (store_id bigint NOT NULL, kind smallint NOT NULL, key bigint NOT NULL,
        seq bigint NOT NULL, PRIMARY KEY (store_id, kind, key, seq));
    INSERT INTO statement_index_old
        WITH k(kind) AS (VALUES (1), (2), (3), (4), (5), (6), (7))
        SELECT store_id, k.kind, key, seq FROM statement_index JOIN k ON kinds & (1 << k.kind) <> 0;
    DROP TABLE statement_index;
    ALTER TABLE statement_index_old RENAME TO statement_index;
    DELETE FROM schema_migrations WHERE version = 7;";

const ROWS: &str = "SELECT store_id, key, seq, kinds FROM statement_index ORDER BY store_id, key, seq";

/// A store's statements whose values appear in several kinds: an actor who is also an
/// instructor elsewhere, an Activity that is both object and parent, a StatementRef.
fn statements() -> (Vec<Value>, Value, String) {
    let (learner, course) = (agent(), activity_id());
    let mut lesson = statement_with(agent(), "http://example.com/verbs/attended", &activity_id());
    lesson["context"] = json!({ "instructor": learner, "contextActivities": { "parent": { "id": course } } });
    let direct = statement_with(learner.clone(), "http://example.com/verbs/completed", &course);
    let id = Uuid::new_v4();
    let mut first = direct.clone();
    first["id"] = json!(id.to_string());
    let reference = referring_to(id, "http://example.com/verbs/reviewed");
    (vec![lesson, first, reference], learner, course)
}

fn batch(statements: &[Value]) -> StatementBatch {
    StatementBatch {
        store: DEFAULT_STORE,
        version: Version::V1_0,
        authority: json!({ "objectType": "Agent", "account": { "homePage": "https://tally.invalid", "name": "t" } }),
        statements: statements.iter().map(|s| Statement::parse(s.clone(), Version::V1_0).unwrap()).collect(),
        attachments: Vec::new(),
        define: true,
        keep_stored: false,
    }
}

/// What each filter on the learner and the course returns, by statement id.
async fn answers<S: StatementReader>(store: &S, learner: &Value, course: &str) -> Vec<Vec<Uuid>> {
    let agent = AgentKey::of(learner.as_object().unwrap());
    let filters = [
        StatementFilter { agent: agent.clone(), ..StatementFilter::default() },
        StatementFilter { agent, related_agents: true, ..StatementFilter::default() },
        StatementFilter { activity: Some(course.to_string()), ..StatementFilter::default() },
        StatementFilter {
            activity: Some(course.to_string()),
            related_activities: true,
            ..StatementFilter::default()
        },
    ];
    let mut answers = Vec::new();
    for filter in filters {
        let query = StatementQuery { filter, ascending: false, limit: 100, cursor: None };
        let page = store.query_statements(DEFAULT_STORE, query).await.unwrap();
        answers.push(page.statements.iter().map(|s| s.id).collect());
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_index_rows_per_kind_become_one_row_per_value_with_the_same_kinds() {
    let db = TestDatabase::new(Backend::Postgres);
    let url = db.database_url().unwrap();
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let rows = async || -> Rows {
        let rows = client.query(ROWS, &[]).await.unwrap();
        rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), i64::from(r.get::<_, i16>(3)))).collect()
    };

    let (statements, learner, course) = statements();
    let store = PgStore::connect(url).await.unwrap();
    store.write_statements(batch(&statements)).await.unwrap();
    let (before, answered) = (rows().await, answers(&store, &learner, &course).await);
    assert!(before.iter().any(|r| r.3.count_ones() > 1), "some value is held in several kinds");
    drop(store);

    client.batch_execute(POSTGRES_UNDO_LATER).await.unwrap();
    client.batch_execute(DOWNGRADE).await.unwrap();
    client
        .batch_execute("ALTER INDEX statement_index_old_pkey RENAME TO statement_index_pkey")
        .await
        .unwrap();
    let old: i64 = client.query_one("SELECT count(*) FROM statement_index", &[]).await.unwrap().get(0);
    assert!(old > before.len() as i64, "the old layout has a row per kind");
    let store = PgStore::connect(url).await.unwrap();
    assert_eq!(rows().await, before);
    assert_eq!(answers(&store, &learner, &course).await, answered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_index_rows_per_kind_become_one_row_per_value_with_the_same_kinds() {
    let db = TestDatabase::new(Backend::Sqlite);
    let rows = || -> Rows {
        let conn = rusqlite::Connection::open(db.data_dir().join("tally.sqlite3")).unwrap();
        let mut query = conn.prepare(ROWS).unwrap();
        query
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };

    let (statements, learner, course) = statements();
    let store = SqliteStore::open(db.data_dir()).unwrap();
    store.write_statements(batch(&statements)).await.unwrap();
    let (before, answered) = (rows(), answers(&store, &learner, &course).await);
    assert!(before.iter().any(|r| r.3.count_ones() > 1), "some value is held in several kinds");

    let conn = rusqlite::Connection::open(db.data_dir().join("tally.sqlite3")).unwrap();
    conn.execute_batch(&sqlite_undo_later()).unwrap();
    conn.execute_batch(DOWNGRADE).unwrap();
    let old: i64 = conn.query_row("SELECT count(*) FROM statement_index", [], |r| r.get(0)).unwrap();
    assert!(old > before.len() as i64, "the old layout has a row per kind");
    drop(conn);
    // The serving store still holds the directory: open it for administration, which migrates.
    let migrated = SqliteStore::open_for_admin(db.data_dir()).unwrap();
    assert_eq!(rows(), before);
    assert_eq!(answers(&migrated, &learner, &course).await, answered);
    drop(store);
}
