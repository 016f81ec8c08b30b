//! What the store test files share.

/// Expands each body once per backend, with `$store` bound to a fresh store.
#[macro_export]
macro_rules! store_tests {
    ($(async fn $name:ident($store:ident) $body:block)*) => {
        $(
            mod $name {
                use super::*;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let db = ::test_support::TestDatabase::new(::test_support::Backend::Sqlite);
                    let $store = ::store::SqliteStore::open(db.data_dir()).expect("open SQLite store");
                    $body
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let db = ::test_support::TestDatabase::new(::test_support::Backend::Postgres);
                    let $store = ::store::PgStore::connect(db.database_url().unwrap()).await.expect("connect PostgreSQL store");
                    $body
                }
            }
        )*
    };
}

/// The embedded store's rollup tables as migrations 5–8 left them, in the database file
/// (migration 11 moved them into a file of their own). A migration test that takes a data
/// directory back to before migration 9 creates them again with this, and removes the
/// rollups' file with [`remove_rollups_file`], as such a directory had none.
#[allow(dead_code)] // Not every test file that shares this module goes back that far.
pub const SQLITE_ROLLUPS_OF_MIGRATIONS_5_TO_8: &str = "
    CREATE TABLE rollup_watermarks (store_id INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL);
    CREATE TABLE rollup_daily (store_id INTEGER NOT NULL, day INTEGER NOT NULL, activity_id TEXT NOT NULL,
        verb_id TEXT NOT NULL, statements INTEGER NOT NULL, completions INTEGER NOT NULL, passes INTEGER NOT NULL,
        failures INTEGER NOT NULL, scaled_sum REAL NOT NULL, scaled_count INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL, PRIMARY KEY (store_id, day, activity_id, verb_id));
    CREATE INDEX rollup_daily_by_activity ON rollup_daily (store_id, activity_id, day);
    CREATE TABLE rollup_daily_actors (store_id INTEGER NOT NULL, day INTEGER NOT NULL, activity_id TEXT NOT NULL,
        verb_id TEXT NOT NULL, actor TEXT NOT NULL, statements INTEGER NOT NULL,
        PRIMARY KEY (store_id, day, activity_id, verb_id, actor));
    CREATE TABLE rollup_activity_actors (store_id INTEGER NOT NULL, activity_id TEXT NOT NULL, actor TEXT NOT NULL,
        statements INTEGER NOT NULL, completions INTEGER NOT NULL, first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL, best_progress REAL NOT NULL, segments TEXT NOT NULL,
        PRIMARY KEY (store_id, activity_id, actor));
    CREATE TABLE rollup_revisions (store_id INTEGER NOT NULL, activity_id TEXT NOT NULL, marker TEXT NOT NULL,
        first_seen INTEGER NOT NULL, PRIMARY KEY (store_id, activity_id, marker));";

/// The columns SQLite migration 15 adds, dropped: a test that replays older migrations on
/// a newer data directory undoes it first (SQLite has no `ADD COLUMN IF NOT EXISTS`).
#[allow(dead_code)]
pub const SQLITE_UNDO_MIGRATION_15: &str = "
    ALTER TABLE stores DROP COLUMN rollup_epoch;
    ALTER TABLE stores DROP COLUMN retention_days;
    ALTER TABLE stores DROP COLUMN ticket_retention_days;";

/// Removes the embedded store's rollups' file (with its WAL) from a data directory.
#[allow(dead_code)]
pub fn remove_rollups_file(dir: &std::path::Path) {
    for name in ["rollups.sqlite3", "rollups.sqlite3-wal", "rollups.sqlite3-shm"] {
        match std::fs::remove_file(dir.join(name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => panic!("cannot remove {name}: {e}"),
            _ => {}
        }
    }
}
