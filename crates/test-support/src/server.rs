//! A real Tally server on a real socket (`127.0.0.1:0`), on a fresh database.

use std::net::TcpListener;
use std::sync::mpsc;
use std::thread::JoinHandle;

use actix_web::dev::ServerHandle;
use server::AppConfig;
use store::{DEFAULT_STORE, PgStore, SqliteStore, Store};

use crate::{Backend, TestDatabase};

/// A running server. Dropping it stops the server and removes its database.
pub struct TestServer {
    /// The xAPI base URL, e.g. `http://127.0.0.1:41234/xapi`.
    pub base_url: String,
    /// A credential with every scope.
    pub key: String,
    pub secret: String,
    handle: ServerHandle,
    thread: Option<JoinHandle<()>>,
    database: Option<TestDatabase>,
}

impl TestServer {
    pub fn start(backend: Backend) -> TestServer {
        TestServer::start_with(TestDatabase::new(backend), AppConfig { workers: 2, ..AppConfig::default() })
    }

    /// Starts a server on an existing database (for restarts) with the given settings.
    pub fn start_with(database: TestDatabase, config: AppConfig) -> TestServer {
        let mut server = TestServer::start_beside(&database, config);
        server.database = Some(database);
        server
    }

    /// Starts a second server process on a PostgreSQL database another server uses
    /// (the database stays with its owner).
    pub fn start_beside(database: &TestDatabase, config: AppConfig) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind a test port");
        let base_url = format!("http://{}/xapi", listener.local_addr().expect("no local address"));
        let key = format!("test-{}", uuid::Uuid::new_v4().simple());
        let secret = uuid::Uuid::new_v4().simple().to_string();
        let (ready_tx, ready_rx) = mpsc::channel();
        let (data_dir, url) =
            (database.data_dir().to_path_buf(), database.database_url().map(str::to_string));
        let (thread_key, thread_secret) = (key.clone(), secret.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("cannot build a runtime");
            runtime.block_on(async move {
                let started = match url {
                    Some(url) => match PgStore::connect(&url).await {
                        Ok(store) => launch(store, &thread_key, &thread_secret, config, listener).await,
                        Err(e) => Err(e.to_string()),
                    },
                    None => match SqliteStore::open(&data_dir) {
                        Ok(store) => launch(store, &thread_key, &thread_secret, config, listener).await,
                        Err(e) => Err(e.to_string()),
                    },
                };
                match started {
                    Ok(server) => {
                        let _ = ready_tx.send(Ok(server.handle()));
                        let _ = server.await;
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            });
        });
        let handle = match ready_rx.recv() {
            Ok(Ok(handle)) => handle,
            Ok(Err(e)) => panic!("the test server did not start: {e}"),
            Err(_) => panic!("the test server thread died while starting"),
        };
        TestServer { base_url, key, secret, handle, thread: Some(thread), database: None }
    }

    /// The database this server owns (none for a server started beside another).
    pub fn database(&self) -> Option<&TestDatabase> {
        self.database.as_ref()
    }

    /// Stops the server and hands back its database, e.g. to start another server on it.
    pub fn stop(mut self) -> TestDatabase {
        self.shutdown();
        self.database.take().expect("the database is present until drop")
    }

    fn shutdown(&mut self) {
        let handle = self.handle.clone();
        // The handle's future only sends a message; any executor can drive it.
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        std::thread::scope(|s| {
            s.spawn(|| runtime.block_on(handle.stop(true)));
        });
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.shutdown();
        }
    }
}

async fn launch<S: Store>(
    store: S,
    key: &str,
    secret: &str,
    config: AppConfig,
    listener: TcpListener,
) -> Result<actix_web::dev::Server, String> {
    let scopes = server::scopes::Scope::ALL.iter().map(|s| s.to_string()).collect();
    let credential = server::credentials::with_secret(key, secret, "test", DEFAULT_STORE, scopes);
    store.put_credential(credential).await.map_err(|e| e.to_string())?;
    // As `tally serve` runs it: the LRS with insights, its rollup engine and the web pages.
    insights::engine::spawn(store.clone());
    let sessions = ui::Sessions::default();
    let sign_in = actix_web::web::Data::new(ui::SignInOptions::default());
    let routes = move |cfg: &mut actix_web::web::ServiceConfig| {
        server::insights_api::configure::<S>(cfg);
        ui::configure::<S>(cfg, &sessions, &sign_in);
    };
    server::serve_with(store, config, listener, routes).map_err(|e| e.to_string())
}
