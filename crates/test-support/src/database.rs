//! A fresh, empty database per test: a temporary directory for SQLite, a new schema in
//! the test PostgreSQL for PostgreSQL. Both are removed when the fixture is dropped.

use std::path::{Path, PathBuf};

use tokio_postgres::NoTls;

/// The PostgreSQL tests use, unless `TALLY_TEST_DATABASE_URL` names another.
pub const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Which store a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database that exists for the life of one test.
#[derive(Debug)]
pub struct TestDatabase {
    backend: Backend,
    dir: tempfile::TempDir,
    postgres: Option<PostgresSchema>,
}

#[derive(Debug)]
struct PostgresSchema {
    admin_url: String,
    schema: String,
    url: String,
}

impl TestDatabase {
    /// Creates an empty database. A PostgreSQL that cannot be reached fails the test with
    /// instructions; it never skips silently.
    pub fn new(backend: Backend) -> TestDatabase {
        let dir = tempfile::Builder::new()
            .prefix("tally-test-")
            .tempdir()
            .expect("cannot create a temporary directory");
        let postgres = (backend == Backend::Postgres).then(create_schema);
        TestDatabase { backend, dir, postgres }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The SQLite data directory (also a scratch directory for PostgreSQL tests).
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The PostgreSQL URL whose search path is this test's own schema.
    pub fn database_url(&self) -> Option<&str> {
        self.postgres.as_ref().map(|p| p.url.as_str())
    }

    /// A path inside the scratch directory.
    pub fn scratch(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(pg) = &self.postgres {
            let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", pg.schema);
            // Best effort: a schema left behind is harmless and is named for its test run.
            let _ = run_sql(&pg.admin_url, &sql);
        }
    }
}

fn create_schema() -> PostgresSchema {
    let admin_url =
        std::env::var("TALLY_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_TEST_DATABASE_URL.into());
    let schema = format!("tally_test_{}", uuid::Uuid::new_v4().simple());
    if let Err(e) = run_sql(&admin_url, &format!("CREATE SCHEMA {schema}")) {
        panic!(
            "PostgreSQL is needed for this test and {admin_url} cannot be used: {e}\n\
             Start one with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` \
             (or any PostgreSQL with trust auth and a database named test), or point \
             TALLY_TEST_DATABASE_URL at one."
        );
    }
    let separator = if admin_url.contains('?') { '&' } else { '?' };
    let url = format!("{admin_url}{separator}options=-csearch_path%3D{schema}");
    PostgresSchema { admin_url, schema, url }
}

/// Runs one SQL statement on a thread of its own, so it works from sync and async tests.
fn run_sql(url: &str, sql: &str) -> Result<(), String> {
    let (url, sql) = (url.to_string(), sql.to_string());
    std::thread::spawn(move || {
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        runtime.block_on(async {
            let (client, connection) =
                tokio_postgres::connect(&url, NoTls).await.map_err(|e| e.to_string())?;
            let connection = tokio::spawn(connection);
            let result = client.batch_execute(&sql).await.map_err(|e| e.to_string());
            drop(client);
            let _ = connection.await;
            result
        })
    })
    .join()
    .map_err(|_| "the SQL thread panicked".to_string())?
}
