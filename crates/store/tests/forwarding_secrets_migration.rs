//! The migration that marks how forwarding rules' secrets are kept: a secret stored as
//! given before it becomes `plain:<secret>`; one already marked is left as it is, so the
//! migration may run again.

use store::forwarding::{ForwardingFilter, ForwardingStore, NewForwarding};
use store::{DEFAULT_STORE, PgStore, SqliteStore};
use test_support::{Backend, TestDatabase};

fn rule(secret: &str) -> NewForwarding {
    NewForwarding {
        store: DEFAULT_STORE,
        url: "https://lrs.example.com/xapi".into(),
        key: "k".into(),
        secret: secret.into(),
        filter: ForwardingFilter::default(),
        max_attempts: 10,
    }
}

/// Rules as the server writes them now, and one as it wrote them before the migration.
async fn rules_of_both_ages<S: ForwardingStore>(store: &S) {
    for secret in ["from-before", "plain:kept", "sealed:AAAA"] {
        store.create_forwarding(rule(secret)).await.unwrap();
    }
}

async fn secrets<S: ForwardingStore>(store: &S) -> Vec<String> {
    store.forwarding_rules(None).await.unwrap().into_iter().map(|rule| rule.secret).collect()
}

const MIGRATED: [&str; 3] = ["plain:from-before", "plain:kept", "sealed:AAAA"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_secrets_from_before_are_marked_plain_and_marked_ones_stay() {
    let db = TestDatabase::new(Backend::Sqlite);
    rules_of_both_ages(&SqliteStore::open_for_admin(db.data_dir()).unwrap()).await;
    let conn = rusqlite::Connection::open(db.data_dir().join("tally.sqlite3")).unwrap();
    conn.execute_batch("DELETE FROM schema_migrations WHERE version >= 17").unwrap();
    drop(conn);
    assert_eq!(secrets(&SqliteStore::open_for_admin(db.data_dir()).unwrap()).await, MIGRATED);
    let conn = rusqlite::Connection::open(db.data_dir().join("tally.sqlite3")).unwrap();
    conn.execute_batch("DELETE FROM schema_migrations WHERE version >= 17").unwrap();
    drop(conn);
    assert_eq!(secrets(&SqliteStore::open_for_admin(db.data_dir()).unwrap()).await, MIGRATED, "run again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_secrets_from_before_are_marked_plain_and_marked_ones_stay() {
    let db = TestDatabase::new(Backend::Postgres);
    let url = db.database_url().unwrap();
    rules_of_both_ages(&PgStore::connect(url).await.unwrap()).await;
    for _ in 0..2 {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        client.batch_execute("DELETE FROM schema_migrations WHERE version >= 16").await.unwrap();
        assert_eq!(secrets(&PgStore::connect(url).await.unwrap()).await, MIGRATED);
    }
}
