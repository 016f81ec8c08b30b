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
