//! The embedded store keeps its rollups in a file of their own (`rollups.sqlite3`), so a
//! rollup step never waits for, nor holds, the write lock statement groups take; an older
//! data directory's rollups move there, and a lost rollups' file starts the rollups again.

mod common;

use std::time::Duration;

use store::insights::{ActivitySelection, DailyActorRow, RollupStep};
use store::{DEFAULT_STORE, RollupReader, RollupWriter, Seq, SqliteStore};
use test_support::{Backend, TestDatabase};

fn step(from_seq: i64, to_seq: i64) -> RollupStep {
    RollupStep {
        daily_actors: vec![DailyActorRow {
            day: 100,
            activity_id: "https://example.com/video".into(),
            actor: "mailto:ann@example.com".into(),
            statements: 2,
        }],
        from_seq: Seq::new(from_seq),
        to_seq: Seq::new(to_seq),
        ..RollupStep::default()
    }
}

fn video() -> ActivitySelection {
    ActivitySelection { ids: vec!["https://example.com/video".into()], prefix: None }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollup_step_commits_while_the_statements_file_is_write_locked() {
    let db = TestDatabase::new(Backend::Sqlite);
    let store = SqliteStore::open(db.data_dir()).unwrap();
    // Another connection holds the statements file's write lock, as a statement group does.
    let holder = rusqlite::Connection::open(db.data_dir().join("tally.sqlite3")).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE; UPDATE stores SET last_seq = last_seq").unwrap();
    // A connection waits up to about 5 s for a lock; the step must not wait at all.
    let applied =
        tokio::time::timeout(Duration::from_secs(2), store.apply_rollup(DEFAULT_STORE, step(0, 1))).await;
    assert!(matches!(applied, Ok(Ok(()))), "the step waited for the statements' lock: {applied:?}");
    holder.execute_batch("ROLLBACK").unwrap();
    assert_eq!(store.rollup_watermark(DEFAULT_STORE).await.unwrap().get(), 1);
    assert_eq!(store.daily_actors(DEFAULT_STORE, video(), 0, 1_000).await.unwrap(), step(0, 1).daily_actors);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rollups_of_an_older_data_directory_move_to_their_own_file() {
    let db = TestDatabase::new(Backend::Sqlite);
    drop(SqliteStore::open_for_admin(db.data_dir()).unwrap());
    // A data directory of migration 10: its rollups in the database file, no rollups' file.
    let conn = rusqlite::Connection::open(db.data_dir().join("tally.sqlite3")).unwrap();
    conn.execute_batch(common::SQLITE_UNDO_MIGRATION_15).unwrap();
    conn.execute_batch(common::SQLITE_ROLLUPS_OF_MIGRATIONS_5_TO_8).unwrap();
    conn.execute_batch(
        "DROP TABLE rollup_daily_actors;
         CREATE TABLE rollup_daily_actors (store_id INTEGER NOT NULL, day INTEGER NOT NULL,
             activity_id TEXT NOT NULL, actor TEXT NOT NULL, statements INTEGER NOT NULL,
             PRIMARY KEY (store_id, day, activity_id, actor));
         ALTER TABLE rollup_activity_actors ADD COLUMN length_s REAL;
         INSERT INTO rollup_daily_actors VALUES (1, 100, 'https://example.com/video', 'mailto:ann@example.com', 2);
         INSERT INTO rollup_watermarks VALUES (1, 7);
         DELETE FROM schema_migrations WHERE version > 10;",
    )
    .unwrap();
    drop(conn);
    common::remove_rollups_file(db.data_dir());

    let store = SqliteStore::open_for_admin(db.data_dir()).unwrap();
    assert_eq!(store.rollup_watermark(DEFAULT_STORE).await.unwrap().get(), 7);
    assert_eq!(store.daily_actors(DEFAULT_STORE, video(), 0, 1_000).await.unwrap(), step(0, 1).daily_actors);
    drop(store);
    let conn = rusqlite::Connection::open(db.data_dir().join("tally.sqlite3")).unwrap();
    let left: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master WHERE name LIKE 'rollup%'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0, "the database file still holds rollup tables");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_rollups_file_starts_the_rollups_again_from_the_first_statement() {
    let db = TestDatabase::new(Backend::Sqlite);
    let store = SqliteStore::open(db.data_dir()).unwrap();
    store.apply_rollup(DEFAULT_STORE, step(0, 5)).await.unwrap();
    drop(store);
    common::remove_rollups_file(db.data_dir());

    let store = SqliteStore::open(db.data_dir()).unwrap();
    assert_eq!(store.rollup_watermark(DEFAULT_STORE).await.unwrap().get(), 0);
    assert!(store.daily_actors(DEFAULT_STORE, video(), 0, 1_000).await.unwrap().is_empty());
    store.apply_rollup(DEFAULT_STORE, step(0, 5)).await.unwrap();
}
