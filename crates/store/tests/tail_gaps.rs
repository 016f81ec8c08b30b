//! The rollup engine's read of the statements after its watermark goes on across a gap in
//! the sequence numbers (statements removed), on both backends.

use serde_json::json;
use store::{DEFAULT_STORE, PgStore, Seq, SqliteStore, StatementBatch, StatementTail, StatementWriter};
use test_support::statements::statement;
use test_support::{Backend, TestDatabase};
use xapi::{Statement, Version};

/// Removes the statements of sequence numbers 3 to 8 of ten.
const GAP: &str = "DELETE FROM statement_index WHERE seq BETWEEN 3 AND 8; \
    DELETE FROM statements WHERE seq BETWEEN 3 AND 8";

async fn ten<S: StatementWriter>(store: &S) {
    let batch = StatementBatch {
        store: DEFAULT_STORE,
        version: Version::V1_0,
        authority: json!({ "objectType": "Agent", "account": { "homePage": "https://tally.invalid", "name": "t" } }),
        statements: (0..10).map(|_| Statement::parse(statement(), Version::V1_0).unwrap()).collect(),
        attachments: Vec::new(),
        define: true,
        keep_stored: false,
    };
    store.write_statements(batch).await.unwrap();
}

async fn reads_on_across_the_gap<S: StatementTail>(store: &S) {
    let seqs = async |after: i64| -> Vec<i64> {
        store
            .statements_after(DEFAULT_STORE, Seq::new(after), 3)
            .await
            .unwrap()
            .iter()
            .map(|s| s.seq.get())
            .collect()
    };
    assert_eq!(seqs(0).await, vec![1, 2], "a range the gap cuts short");
    assert_eq!(seqs(2).await, vec![9, 10], "a range wholly in the gap reads on after it");
    assert!(seqs(10).await.is_empty(), "nothing after the head");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reads_on_across_a_gap() {
    let db = TestDatabase::new(Backend::Postgres);
    let url = db.database_url().unwrap();
    let store = PgStore::connect(url).await.unwrap();
    ten(&store).await;
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client.batch_execute(GAP).await.unwrap();
    reads_on_across_the_gap(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_reads_on_across_a_gap() {
    let db = TestDatabase::new(Backend::Sqlite);
    let store = SqliteStore::open(db.data_dir()).unwrap();
    ten(&store).await;
    let conn = rusqlite::Connection::open(db.data_dir().join("tally.sqlite3")).unwrap();
    conn.execute_batch(GAP).unwrap();
    drop(conn);
    reads_on_across_the_gap(&store).await;
}
