//! The embedded store copies its write-ahead log back into the database file on a thread
//! of its own, so no statement commit waits for a checkpoint.

use std::time::{Duration, Instant};

use serde_json::json;
use store::{DEFAULT_STORE, SqliteStore, StatementBatch, StatementWriter};
use test_support::statements::statement;
use test_support::{Backend, TestDatabase};
use xapi::{Statement, Version};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_is_checkpointed_beside_the_writer() {
    let db = TestDatabase::new(Backend::Sqlite);
    let store = SqliteStore::open(db.data_dir()).unwrap();
    let database = db.data_dir().join("tally.sqlite3");
    let before = std::fs::metadata(&database).unwrap().len();
    let batch = StatementBatch {
        store: DEFAULT_STORE,
        version: Version::V1_0,
        authority: json!({ "objectType": "Agent", "account": { "homePage": "https://tally.invalid", "name": "t" } }),
        statements: (0..500).map(|_| Statement::parse(statement(), Version::V1_0).unwrap()).collect(),
        attachments: Vec::new(),
        define: true,
        keep_stored: false,
    };
    store.write_statements(batch).await.unwrap();
    // Far below the writer's own threshold (65,536 pages): only the checkpoint thread
    // moves these pages into the database file.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::metadata(&database).unwrap().len() <= before {
        assert!(Instant::now() < deadline, "the database file stayed at {before} bytes");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
