//! How PostgreSQL errors reach clients: "not now" (retry) against "this is wrong".

use store::StoreError;
use test_support::{Backend, TestDatabase};

/// The store error a statement raising `code` becomes.
async fn raised(code: &str) -> StoreError {
    let db = TestDatabase::new(Backend::Postgres);
    let (client, connection) =
        tokio_postgres::connect(db.database_url().unwrap(), tokio_postgres::NoTls).await.expect("connect");
    tokio::spawn(connection);
    let sql = format!("DO $$ BEGIN RAISE EXCEPTION 'raised for the test' USING ERRCODE = '{code}'; END $$");
    client.batch_execute(&sql).await.expect_err("the statement raises").into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_conflicts_and_cancelled_standby_queries_are_unavailable_not_internal() {
    // 40001: a serialization failure, also what a hot standby raises when replay cancels a
    // query; 40P01: a deadlock. Both are worth retrying: 503, not 500.
    for code in ["40001", "40P01", "57P01", "08006"] {
        assert!(matches!(raised(code).await, StoreError::Unavailable(_)), "{code}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_database_errors_stay_backend_errors() {
    for code in ["22P02", "42601", "23505"] {
        assert!(matches!(raised(code).await, StoreError::Backend(_)), "{code}");
    }
}
