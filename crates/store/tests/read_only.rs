//! The PostgreSQL store opened read-only (for insights on a read replica): no migrations,
//! no writer, read-only sessions, and a schema that must hold every migration already.
//! (A real hot standby is exercised by the `tally` binary's tests.)

use store::{DEFAULT_STORE, GoalReader, GoalWriter, Health, PgStore, StoreError};
use test_support::{Backend, TestDatabase};

async fn execute(url: &str, sql: &str) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("connect");
    tokio::spawn(connection);
    client.batch_execute(sql).await.expect("SQL runs");
}

fn message(result: Result<PgStore, StoreError>) -> String {
    result.expect_err("opening read-only is refused").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_store_reads_and_refuses_every_write() {
    let db = TestDatabase::new(Backend::Postgres);
    let url = db.database_url().unwrap();
    let writable = PgStore::connect(url).await.unwrap();
    assert!(!writable.is_read_only());
    writable.put_goal(DEFAULT_STORE, "install", r#"{"name":"Fewer install tickets"}"#).await.unwrap();

    let read_only = PgStore::connect_read_only(url).await.unwrap();
    assert!(read_only.is_read_only());
    assert!(read_only.readiness().await.unwrap().migrations_current());
    let goal = read_only.goal(DEFAULT_STORE, "install").await.unwrap().expect("the goal");
    assert_eq!(goal.definition, r#"{"name":"Fewer install tickets"}"#);
    // Even on a writable database, its sessions refuse writes.
    let refused = read_only.put_goal(DEFAULT_STORE, "install", r#"{"name":"changed"}"#).await.unwrap_err();
    assert!(refused.to_string().contains("read-only transaction"), "{refused}");
    assert!(read_only.delete_goal(DEFAULT_STORE, "install").await.is_err());
    assert_eq!(writable.goals(DEFAULT_STORE).await.unwrap().len(), 1, "nothing changed");

    // On a primary, detecting the standby comes to the writable store.
    let detected = PgStore::connect_detecting_standby(url).await.unwrap();
    assert!(!detected.is_read_only());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_store_needs_every_migration_and_never_migrates() {
    let db = TestDatabase::new(Backend::Postgres);
    let url = db.database_url().unwrap();
    let empty = message(PgStore::connect_read_only(url).await);
    assert!(empty.contains("holds schema migrations up to 0"), "{empty}");

    let newest = PgStore::connect(url).await.unwrap().readiness().await.unwrap().expected_version;
    execute(url, &format!("DELETE FROM schema_migrations WHERE version = {newest}")).await;
    let behind = message(PgStore::connect_read_only(url).await);
    let expected = format!("holds schema migrations up to {}, but this binary needs {newest}", newest - 1);
    assert!(behind.contains(&expected) && behind.contains("migrate the primary"), "{behind}");
    assert!(message(PgStore::connect_read_only(url).await).contains(&expected), "it did not migrate");

    // A newer schema than this binary knows is read (migrations only go forward).
    execute(
        url,
        &format!(
            "INSERT INTO schema_migrations (version, applied) VALUES ({newest}, 0), ({}, 0)",
            newest + 1
        ),
    )
    .await;
    let ahead = PgStore::connect_read_only(url).await.unwrap();
    assert_eq!(ahead.readiness().await.unwrap().schema_version, newest + 1);
}
