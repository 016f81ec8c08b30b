//! Migration 10 drops the verb from `rollup_daily_actors`: a store rolled up under the old
//! layout keeps one row per day × activity × actor, with the statements of every verb summed.

mod common;

use store::insights::{ActivitySelection, DailyActorRow};
use store::{DEFAULT_STORE, PgStore, RollupReader, SqliteStore};
use test_support::{Backend, TestDatabase};

/// Rows of the layout of migrations 5–9: one person's played and paused rows for a video on
/// one day and another person's played row.
const OLD_ROWS: &str = "
    INSERT INTO rollup_daily_actors VALUES
        (1, 100, 'https://example.com/video', 'http://adlnet.gov/expapi/verbs/played', 'mailto:ann@example.com', 3),
        (1, 100, 'https://example.com/video', 'http://adlnet.gov/expapi/verbs/paused', 'mailto:ann@example.com', 2),
        (1, 100, 'https://example.com/video', 'http://adlnet.gov/expapi/verbs/played', 'mailto:bob@example.com', 1),
        (1, 101, 'https://example.com/video', 'http://adlnet.gov/expapi/verbs/played', 'mailto:ann@example.com', 1);";

/// The table in the layout of migrations 5–9, on PostgreSQL.
const POSTGRES_DOWNGRADE: &str = "
    DROP TABLE rollup_daily_actors;
    CREATE TABLE rollup_daily_actors (store_id bigint NOT NULL, day bigint NOT NULL, activity_id text NOT NULL,
        verb_id text NOT NULL, actor text NOT NULL, statements bigint NOT NULL,
        PRIMARY KEY (store_id, day, activity_id, verb_id, actor));
    DELETE FROM schema_migrations WHERE version >= 10;";

fn expected() -> Vec<DailyActorRow> {
    let row = |day, actor: &str, statements| DailyActorRow {
        day,
        activity_id: "https://example.com/video".into(),
        actor: actor.into(),
        statements,
    };
    vec![
        row(100, "mailto:ann@example.com", 5),
        row(100, "mailto:bob@example.com", 1),
        row(101, "mailto:ann@example.com", 1),
    ]
}

fn video() -> ActivitySelection {
    ActivitySelection { ids: vec!["https://example.com/video".into()], prefix: None }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rows_of_each_verb_become_one_row_per_day_activity_and_actor() {
    let db = TestDatabase::new(Backend::Postgres);
    let url = db.database_url().unwrap();
    drop(PgStore::connect(url).await.unwrap());
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client.batch_execute(POSTGRES_DOWNGRADE).await.unwrap();
    client.batch_execute(OLD_ROWS).await.unwrap();
    let store = PgStore::connect(url).await.unwrap();
    assert_eq!(store.daily_actors(DEFAULT_STORE, video(), 0, 1_000).await.unwrap(), expected());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_rows_of_each_verb_become_one_row_per_day_activity_and_actor() {
    let db = TestDatabase::new(Backend::Sqlite);
    drop(SqliteStore::open_for_admin(db.data_dir()).unwrap());
    // A data directory of migration 8: the rollups in the database file, no rollups' file.
    let conn = rusqlite::Connection::open(db.data_dir().join("tally.sqlite3")).unwrap();
    conn.execute_batch(common::SQLITE_UNDO_MIGRATION_15).unwrap();
    conn.execute_batch(common::SQLITE_ROLLUPS_OF_MIGRATIONS_5_TO_8).unwrap();
    conn.execute_batch(OLD_ROWS).unwrap();
    conn.execute_batch("DELETE FROM schema_migrations WHERE version > 8").unwrap();
    drop(conn);
    common::remove_rollups_file(db.data_dir());
    let store = SqliteStore::open_for_admin(db.data_dir()).unwrap();
    assert_eq!(store.daily_actors(DEFAULT_STORE, video(), 0, 1_000).await.unwrap(), expected());
}
