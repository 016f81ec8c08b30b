//! The `tally` binary: the only place that reads configuration.

mod config;
mod insights_cmds;
mod telemetry;

use std::net::TcpListener;

use anyhow::{Context, Result};
use clap::Parser;
use server::credentials::{self, ALL_SCOPES};
use store::{DEFAULT_STORE, PgStore, SqliteStore, Store};

use crate::config::{
    Cli, Command, CredentialsCommand, InsightsCommand, ServeArgs, StorageArgs, StoresCommand, TicketsCommand,
};

/// The store a command runs against, picked by the database URL's scheme.
enum Backend {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

/// Runs `$body` with `$store` bound to the concrete backend.
macro_rules! with_store {
    ($backend:expr, |$store:ident| $body:expr) => {
        match $backend {
            Backend::Sqlite($store) => $body,
            Backend::Postgres($store) => $body,
        }
    };
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    telemetry::init_tracing(cli.log_format);
    match cli.command {
        Command::Serve(args) => {
            let backend = open(&cli.storage, Purpose::Serve).await?;
            with_store!(backend, |store| serve(store, args).await)
        }
        Command::Migrate => {
            open(&cli.storage, Purpose::Administer).await?;
            println!("migrations are up to date");
            Ok(())
        }
        Command::Credentials { command } => {
            let backend = open(&cli.storage, Purpose::Administer).await?;
            with_store!(backend, |store| manage_credentials(&store, command).await)
        }
        Command::Stores { command } => {
            let backend = open(&cli.storage, Purpose::Administer).await?;
            with_store!(backend, |store| manage_stores(&store, command).await)
        }
        Command::Tickets { command: TicketsCommand::Import(args) } => {
            let backend = open(&cli.storage, Purpose::Administer).await?;
            with_store!(backend, |store| insights_cmds::import_tickets(&store, args).await)
        }
        Command::Export { command } => {
            let backend = open(&cli.storage, Purpose::Administer).await?;
            with_store!(backend, |store| insights_cmds::export(&store, command).await)
        }
        Command::Demo(args) => tokio::task::spawn_blocking(move || insights_cmds::demo(args)).await?,
        Command::Insights { command: InsightsCommand::Serve { bind } } => {
            let backend = open(&cli.storage, Purpose::Administer).await?;
            with_store!(backend, |store| serve_insights(store, &bind).await)
        }
    }
}

/// Whether a command serves the LRS or administers a store (possibly beside a server).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Serve,
    Administer,
}

/// Opens (and migrates) the configured store.
async fn open(storage: &StorageArgs, purpose: Purpose) -> Result<Backend> {
    match &storage.database_url {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let store = PgStore::connect(url).await.context("cannot open the PostgreSQL store")?;
            Ok(Backend::Postgres(store))
        }
        Some(url) => anyhow::bail!(
            "unsupported database URL {url:?}: use postgres://… (or no URL for the embedded store)"
        ),
        None => {
            let dir = &storage.data_dir;
            let store = match purpose {
                Purpose::Serve => SqliteStore::open(dir),
                Purpose::Administer => SqliteStore::open_for_admin(dir),
            }
            .with_context(|| format!("cannot open the embedded store in {}", storage.data_dir.display()))?;
            Ok(Backend::Sqlite(store))
        }
    }
}

async fn serve<S: Store>(store: S, args: ServeArgs) -> Result<()> {
    ensure_credential(&store, &args).await?;
    let listener =
        TcpListener::bind(&args.bind).with_context(|| format!("cannot listen on {}", args.bind))?;
    let address = listener.local_addr()?;
    let config = args.app_config()?;
    let metrics = telemetry::serve_metrics(&args.operations.metrics_bind, store.clone())?;
    let metrics_handle = metrics.as_ref().map(|server| server.handle());
    if let Some(server) = metrics {
        tokio::spawn(server);
    }
    tracing::info!(%address, "Tally is listening: xAPI at http://{address}/xapi");
    if args.no_insights {
        server::serve(store, config, listener)?.await?;
    } else {
        insights::engine::spawn(store.clone());
        let sessions = ui::Sessions::default();
        let routes = move |cfg: &mut actix_web::web::ServiceConfig| {
            insights::http::configure::<S>(cfg);
            ui::configure::<S>(cfg, &sessions);
        };
        server::serve_with(store, config, listener, routes)?.await?;
    }
    if let Some(handle) = metrics_handle {
        handle.stop(false).await;
    }
    Ok(())
}

/// `tally insights serve`: the insights API and the rollup engine, without the xAPI.
async fn serve_insights<S: Store>(store: S, bind: &str) -> Result<()> {
    let listener = TcpListener::bind(bind).with_context(|| format!("cannot listen on {bind}"))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, "Tally insights is listening: http://{address}/insights");
    insights::engine::spawn(store.clone());
    server::serve_only(store, server::AppConfig::default(), listener, insights::http::configure::<S>)?
        .await?;
    Ok(())
}

/// With `TALLY_ADMIN_KEY` and `TALLY_ADMIN_SECRET`, makes sure that credential exists; on
/// an empty store otherwise, creates one credential and prints it once.
async fn ensure_credential<S: Store>(store: &S, args: &ServeArgs) -> Result<()> {
    let scopes: Vec<String> = ALL_SCOPES.iter().map(|s| s.to_string()).collect();
    match (&args.admin_key, &args.admin_secret) {
        (Some(key), Some(secret)) => {
            let credential =
                credentials::with_secret(key, secret, "admin (from environment)", DEFAULT_STORE, scopes);
            store.put_credential(credential).await?;
        }
        (Some(_), None) | (None, Some(_)) => {
            anyhow::bail!("set both TALLY_ADMIN_KEY and TALLY_ADMIN_SECRET, or neither")
        }
        (None, None) => {
            if store.list_credentials(None).await?.is_empty() {
                let new = credentials::generate("first credential", DEFAULT_STORE, scopes)?;
                store.create_credential(new.credential.clone()).await?;
                println!("Created the first credential (shown only this once):");
                println!("  key:    {}", new.credential.key);
                println!("  secret: {}", new.secret);
            }
        }
    }
    Ok(())
}

async fn manage_credentials<S: Store>(store: &S, command: CredentialsCommand) -> Result<()> {
    match command {
        CredentialsCommand::Create { name, scopes, store: store_id, acts_for } => {
            if let Some(unknown) = scopes.iter().find(|s| !ALL_SCOPES.contains(&s.as_str())) {
                anyhow::bail!("unknown scope {unknown:?}; known scopes: {}", ALL_SCOPES.join(", "));
            }
            let mut new = credentials::generate(&name, store_id, scopes)?;
            if let Some(user) = acts_for {
                xapi::parse_agent_param(&user).map_err(|e| anyhow::anyhow!("--acts-for: {e}"))?;
                new.credential.acts_for = Some(serde_json::from_str(&user)?);
            }
            store.create_credential(new.credential.clone()).await?;
            println!("key:    {}", new.credential.key);
            println!("secret: {}", new.secret);
        }
        CredentialsCommand::List { store: store_id } => {
            for c in store.list_credentials(store_id).await? {
                let state = if c.revoked { "revoked" } else { "active" };
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    c.key,
                    c.store,
                    c.name,
                    c.scopes.join(","),
                    state,
                    c.created
                );
            }
        }
        CredentialsCommand::Rename { key, name } => {
            if !store.rename_credential(&key, &name).await? {
                anyhow::bail!("no credential with key {key}");
            }
            println!("renamed {key}");
        }
        CredentialsCommand::Revoke { key } => {
            if !store.revoke_credential(&key).await? {
                anyhow::bail!("no credential with key {key}");
            }
            println!("revoked {key}");
        }
    }
    Ok(())
}

async fn manage_stores<S: Store>(store: &S, command: StoresCommand) -> Result<()> {
    match command {
        StoresCommand::Create { name } => {
            let created = store.create_store(&name).await?;
            println!("id:   {}", created.id);
            println!("name: {}", created.name);
        }
        StoresCommand::List => {
            for s in store.stores().await? {
                let state = if s.revoked { "revoked" } else { "active" };
                println!("{}\t{}\t{}\t{}", s.id, s.name, state, s.created);
            }
        }
        StoresCommand::Rename { id, name } => {
            if !store.rename_store(id, &name).await? {
                anyhow::bail!("no store {id}");
            }
            println!("renamed store {id}");
        }
        StoresCommand::Revoke { id } => {
            if id == DEFAULT_STORE {
                anyhow::bail!(
                    "the default store holds the instance's admin credentials; it cannot be revoked"
                );
            }
            if !store.revoke_store(id).await? {
                anyhow::bail!("no store {id}");
            }
            println!("revoked store {id}");
        }
    }
    Ok(())
}
