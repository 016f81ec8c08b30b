//! How PostgreSQL errors reach clients: "not now" (retry) against "this is wrong".

use serde_json::{Value, json};
use store::{
    DEFAULT_STORE, PgStore, StatementBatch, StatementFilter, StatementQuery, StatementReader,
    StatementWriter, StoreError,
};
use test_support::statements::{activity_id, agent, statement, statement_with};
use test_support::{Backend, TestDatabase};
use uuid::Uuid;
use xapi::{Statement, Version};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_that_meets_a_serialization_failure_is_written_whole_by_the_next_attempt() {
    let db = TestDatabase::new(Backend::Postgres);
    let url = db.database_url().unwrap();
    let store = PgStore::connect(url).await.unwrap();
    // The first insert into `statements` fails as a lost serialization conflict would; a
    // sequence counts the attempts, since it is not rolled back with them.
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(
            "CREATE SEQUENCE insert_attempts;
             CREATE FUNCTION fail_the_first_insert() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 IF nextval('insert_attempts') = 1 THEN
                     RAISE EXCEPTION 'lost a conflict, for the test' USING ERRCODE = '40001';
                 END IF;
                 RETURN NULL;
             END $$;
             CREATE TRIGGER fail_the_first_insert BEFORE INSERT ON statements
                 FOR EACH STATEMENT EXECUTE FUNCTION fail_the_first_insert();",
        )
        .await
        .unwrap();

    // One statement the store gives an id, one with the client's.
    let activity = activity_id();
    let without_id = statement_with(agent(), "http://adlnet.gov/expapi/verbs/experienced", &activity);
    let client_id = Uuid::new_v4();
    let mut with_id = statement();
    with_id["id"] = json!(client_id);
    let batch = StatementBatch {
        store: DEFAULT_STORE,
        version: Version::V1_0,
        authority: json!({ "objectType": "Agent", "account": { "homePage": "https://tally.invalid", "name": "t" } }),
        statements: [without_id, with_id]
            .into_iter()
            .map(|s| Statement::parse(s, Version::V1_0).unwrap())
            .collect(),
        attachments: Vec::new(),
        define: true,
        keep_stored: false,
    };
    let ids = store.write_statements(batch).await.expect("written by the second attempt");

    let attempts: i64 = client.query_one("SELECT last_value FROM insert_attempts", &[]).await.unwrap().get(0);
    assert_eq!(attempts, 2, "the first attempt failed and the second wrote");
    assert_eq!(ids[1], client_id);
    for id in &ids {
        let stored = store.statement(DEFAULT_STORE, *id).await.unwrap().expect("stored");
        let body: Value = serde_json::from_str(&stored.body).unwrap();
        assert_eq!(body["id"], json!(id.to_string()), "the body of the attempt that committed");
    }
    // The index rows were written again too: the activity filter finds the statement.
    let query = StatementQuery {
        filter: StatementFilter { activity: Some(activity), ..StatementFilter::default() },
        ascending: false,
        limit: 10,
        cursor: None,
    };
    let page = store.query_statements(DEFAULT_STORE, query).await.unwrap();
    assert_eq!(page.statements.iter().map(|s| s.id).collect::<Vec<_>>(), vec![ids[0]]);
}
