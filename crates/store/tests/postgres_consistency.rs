//! Consistent-Through on PostgreSQL while a statement writer (of any server process) holds
//! a store's lock: every `stored` time it may assign is at or after the last committed one,
//! so the header must stay below that until the writer is done.

use serde_json::json;
use store::{DEFAULT_STORE, PgStore, StatementBatch, StatementReader, StatementWriter};
use test_support::statements::statement;
use test_support::{Backend, TestDatabase};
use xapi::{Statement, Version};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consistent_through_stays_below_the_last_stored_time_while_a_writer_holds_the_lock() {
    let db = TestDatabase::new(Backend::Postgres);
    let url = db.database_url().unwrap();
    let store = PgStore::connect(url).await.unwrap();
    let batch = StatementBatch {
        store: DEFAULT_STORE,
        version: Version::V1_0,
        authority: json!({ "objectType": "Agent", "account": { "homePage": "https://tally.invalid", "name": "t" } }),
        statements: vec![Statement::parse(statement(), Version::V1_0).unwrap()],
        attachments: Vec::new(),
        define: true,
        keep_stored: false,
    };
    let id = store.write_statements(batch).await.unwrap()[0];
    let stored = store.statement(DEFAULT_STORE, id).await.unwrap().unwrap().stored;
    test_support::clock_passes(stored).await;
    assert!(store.consistent_through(DEFAULT_STORE).await.unwrap() >= stored);

    // Another process's writer: the same advisory lock, held in an open transaction.
    let (mut writer, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let namespace: i64 = writer
        .query_one("SELECT value::bigint FROM tally_meta WHERE key = 'lock_namespace'", &[])
        .await
        .unwrap()
        .get(0);
    let tx = writer.transaction().await.unwrap();
    tx.execute(
        "SELECT pg_advisory_xact_lock($1::int, $2::int)",
        &[&(namespace as i32), &(DEFAULT_STORE.get() as i32)],
    )
    .await
    .unwrap();
    assert!(store.consistent_through(DEFAULT_STORE).await.unwrap() < stored);

    tx.rollback().await.unwrap();
    assert!(store.consistent_through(DEFAULT_STORE).await.unwrap() >= stored);
}
