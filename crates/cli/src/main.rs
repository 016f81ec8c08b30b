//! The `tally` binary: the only place that reads configuration.

mod config;
mod copy_cmd;
mod forward_cmd;
mod insights_cmds;
mod otlp;
mod progress;
mod pull_cmd;
mod sign_in_config;
mod telemetry;

use std::net::TcpListener;

use anyhow::{Context, Result};
use clap::Parser;
use insights::engine::EngineStore;
use serde_json::json;
use server::audit::{self, CONSOLE};
use server::credentials;
use server::scopes::Scope;
use store::{
    AuditFilter, AuditReader, AuditWriter, CredentialReader, CredentialWriter, DEFAULT_STORE, Health,
    PgStore, SqliteStore, Store, TenantReader, TenantWriter,
};

use crate::config::{
    AuditArgs, Cli, Command, CopyArgs, CredentialsCommand, InsightsCommand, InsightsServeArgs, ServeArgs,
    StorageArgs, StoresCommand, TicketsCommand,
};

/// The store a command runs against, picked by the database URL's scheme.
enum Backend {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl Backend {
    /// Whether the store was opened read-only (a PostgreSQL hot standby, or forced).
    fn is_read_only(&self) -> bool {
        match self {
            Backend::Sqlite(_) => false,
            Backend::Postgres(store) => store.is_read_only(),
        }
    }

    /// Whether the store lives in this process (SQLite), sharing its cores with ingest.
    fn is_embedded(&self) -> bool {
        matches!(self, Backend::Sqlite(_))
    }
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
    let telemetry = telemetry::init_tracing(cli.log_format, cli.otlp_endpoint.as_deref())?;
    let outcome = run(cli).await;
    tokio::task::spawn_blocking(move || telemetry.shutdown()).await?;
    outcome
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let backend = open(&cli.storage, Purpose::Serve).await?;
            let embedded = backend.is_embedded();
            with_store!(backend, |store| serve(store, *args, embedded).await)
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
            let backend = open(&cli.storage, Purpose::Read { force_read_only: false }).await?;
            with_store!(backend, |store| insights_cmds::export(&store, command).await)
        }
        Command::Copy(args) => {
            let to_storage = args.to.as_deref().map(CopyArgs::storage).unwrap_or(cli.storage);
            let from_storage = CopyArgs::storage(&args.from);
            if from_storage == to_storage {
                anyhow::bail!("--from and --to name the same place");
            }
            let from = open(&from_storage, Purpose::Read { force_read_only: false }).await?;
            let to = open(&to_storage, Purpose::WriteStatements).await?;
            match (from, to) {
                (Backend::Sqlite(a), Backend::Sqlite(b)) => copy_cmd::copy(&a, &b).await,
                (Backend::Sqlite(a), Backend::Postgres(b)) => copy_cmd::copy(&a, &b).await,
                (Backend::Postgres(a), Backend::Sqlite(b)) => copy_cmd::copy(&a, &b).await,
                (Backend::Postgres(a), Backend::Postgres(b)) => copy_cmd::copy(&a, &b).await,
            }
        }
        Command::Forward { command } => {
            let backend = open(&cli.storage, Purpose::Administer).await?;
            with_store!(backend, |store| forward_cmd::forward(&store, command).await)
        }
        Command::Pull(args) => {
            let backend = open(&cli.storage, Purpose::WriteStatements).await?;
            with_store!(backend, |store| pull_cmd::pull(&store, args).await)
        }
        Command::Erase(args) => {
            let backend = open(&cli.storage, Purpose::Administer).await?;
            with_store!(backend, |store| erase(&store, args).await)
        }
        Command::Import { command } => {
            let backend = open(&cli.storage, Purpose::WriteStatements).await?;
            with_store!(backend, |store| insights_cmds::import_statements(&store, command).await)
        }
        Command::Audit(args) => {
            let backend = open(&cli.storage, Purpose::Read { force_read_only: false }).await?;
            with_store!(backend, |store| print_audit(&store, args).await)
        }
        Command::Demo(args) => tokio::task::spawn_blocking(move || insights_cmds::demo(args)).await?,
        Command::Insights { command: InsightsCommand::Serve(args) } => {
            let backend = open(&cli.storage, Purpose::Read { force_read_only: args.read_only }).await?;
            let (read_only, embedded) = (backend.is_read_only(), backend.is_embedded());
            with_store!(backend, |store| serve_insights(store, &args, read_only, embedded).await)
        }
    }
}

/// What a command does with the store, which decides how it is opened.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// Serves the LRS.
    Serve,
    /// Writes statements without serving (`tally import statements`): the embedded store
    /// takes its directory's one statement writer, so no server may run on it meanwhile.
    WriteStatements,
    /// Changes a store (possibly beside a server): migrations, credentials, stores, tickets.
    Administer,
    /// Serves insights or writes exports: works on a read replica, so a PostgreSQL hot
    /// standby (or, when forced, any PostgreSQL database) is opened read-only, without
    /// migrating; a writable one is opened as for `Administer`.
    Read { force_read_only: bool },
}

/// Opens the configured store, migrating it unless it is opened read-only.
async fn open(storage: &StorageArgs, purpose: Purpose) -> Result<Backend> {
    match &storage.database_url {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let store = match purpose {
                Purpose::Read { force_read_only: true } => PgStore::connect_read_only(url).await,
                _ => PgStore::connect_detecting_standby(url).await,
            }
            .context("cannot open the PostgreSQL store")?;
            if store.is_read_only() {
                match purpose {
                    Purpose::Read { .. } => {}
                    Purpose::Serve => anyhow::bail!(
                        "this database is a read-only standby; run `tally insights serve` here, or \
                         point serve at the primary"
                    ),
                    Purpose::Administer | Purpose::WriteStatements => anyhow::bail!(
                        "this database is a read-only standby: run this command against the primary"
                    ),
                }
            }
            Ok(Backend::Postgres(store))
        }
        Some(url) => anyhow::bail!(
            "unsupported database URL {url:?}: use postgres://… (or no URL for the embedded store)"
        ),
        None if purpose == (Purpose::Read { force_read_only: true }) => anyhow::bail!(
            "--read-only needs a PostgreSQL database (--database-url postgres://…): the embedded \
             store is never read-only"
        ),
        None => {
            let dir = &storage.data_dir;
            let store = match purpose {
                Purpose::Serve => SqliteStore::open(dir),
                Purpose::WriteStatements => SqliteStore::open(dir).map_err(|e| match e {
                    store::StoreError::Unavailable(why) => store::StoreError::Unavailable(format!(
                        "{why}: stop it first, or import through its POST /admin/stores/{{id}}/statements.ndjson"
                    )),
                    other => other,
                }),
                Purpose::Administer | Purpose::Read { .. } => SqliteStore::open_for_admin(dir),
            }
            .with_context(|| format!("cannot open the embedded store in {}", storage.data_dir.display()))?;
            Ok(Backend::Sqlite(store))
        }
    }
}

async fn serve<S: Store>(store: S, args: ServeArgs, embedded: bool) -> Result<()> {
    ensure_credential(&store, &args).await?;
    let listener =
        TcpListener::bind(&args.bind).with_context(|| format!("cannot listen on {}", args.bind))?;
    let address = listener.local_addr()?;
    let config = args.app_config()?;
    let metrics = Metrics::start(&args.http.operations.metrics_bind, &store)?;
    let lease = std::time::Duration::from_millis(args.forward_lease_ms);
    server::forwarding::spawn(
        store.clone(),
        server::forwarding::ForwarderOptions {
            lease,
            secret_key: config.connector_key.clone(),
            ..Default::default()
        },
    );
    server::retention::spawn(store.clone(), std::time::Duration::from_secs(args.retention_interval_s.max(1)));
    match &config.connector_key {
        Some(key) => {
            insights::connectors::spawn(store.clone(), key.clone(), Default::default());
        }
        None => tracing::info!("helpdesk connectors are off: set TALLY_SECRET_KEY to create and run them"),
    }
    if args.no_insights {
        tracing::info!(%address, "Tally is listening: xAPI at http://{address}/xapi");
        server::serve(store, config, listener)?.await?;
    } else {
        // What a newcomer needs next: the web pages, and one command that fills them.
        tracing::info!(
            %address,
            "Tally is listening: xAPI at http://{address}/xapi · web pages at http://{address}/ui · \
             demo data: tally demo --url http://{address} --key KEY --secret SECRET"
        );
        start_engine(&store, embedded)?;
        let sessions = ui::Sessions::default();
        let bearer_issuer = config.bearer_tokens.as_ref().map(|tokens| tokens.issuer.clone());
        let sign_in = actix_web::web::Data::new(args.sign_in.options(&args.http.oidc, bearer_issuer)?);
        let routes = move |cfg: &mut actix_web::web::ServiceConfig| {
            server::insights_api::configure::<S>(cfg);
            ui::configure::<S>(cfg, &sessions, &sign_in);
        };
        server::serve_with(store, config, listener, routes)?.await?;
    }
    metrics.stop().await;
    Ok(())
}

/// Starts the rollup engine. Beside the embedded store it runs below ingest's CPU priority:
/// it shares this machine's cores with the statement writer, and a step taking them would
/// delay statements (measured: benches/RESULTS.md). A PostgreSQL store's engine runs on this
/// runtime, whose connections it shares.
fn start_engine<S: EngineStore>(store: &S, embedded: bool) -> Result<()> {
    if embedded {
        insights::engine::spawn_below_ingest(store.clone()).context("cannot start the insights engine")?;
    } else {
        insights::engine::spawn(store.clone());
    }
    Ok(())
}

/// `tally insights serve`: the insights API and the rollup engine, without the xAPI. Read-only
/// (on a replica) it runs no engine, since the primary's `tally serve` writes the rollups that
/// replication brings here, and refuses ticket imports and goal edits.
async fn serve_insights<S: Store>(
    store: S,
    args: &InsightsServeArgs,
    read_only: bool,
    embedded: bool,
) -> Result<()> {
    let listener =
        TcpListener::bind(&args.bind).with_context(|| format!("cannot listen on {}", args.bind))?;
    let address = listener.local_addr()?;
    let config = args.http.app_config()?;
    let routes = if read_only {
        tracing::info!(
            "read-only database: no rollup engine here (the primary's runs it); ticket import and \
             goal edits are refused"
        );
        server::insights_api::configure_read_only::<S>
    } else {
        start_engine(&store, embedded)?;
        server::insights_api::configure::<S>
    };
    let metrics = Metrics::start(&args.http.operations.metrics_bind, &store)?;
    tracing::info!(%address, read_only, "Tally insights is listening: http://{address}/insights");
    server::serve_only(store, config, listener, routes)?.await?;
    metrics.stop().await;
    Ok(())
}

/// The Prometheus listener beside a server, when one is configured and can be bound.
struct Metrics(Option<actix_web::dev::ServerHandle>);

impl Metrics {
    fn start<S: Health + Clone + 'static>(bind: &str, store: &S) -> Result<Metrics> {
        let server = telemetry::serve_metrics(bind, store.clone())?;
        let handle = server.as_ref().map(|server| server.handle());
        if let Some(server) = server {
            tokio::spawn(server);
        }
        Ok(Metrics(handle))
    }

    async fn stop(self) {
        if let Some(handle) = self.0 {
            handle.stop(false).await;
        }
    }
}

/// With `TALLY_ADMIN_KEY` and `TALLY_ADMIN_SECRET`, makes sure that credential exists; on
/// an empty store otherwise, creates one credential and prints it once.
async fn ensure_credential<S: CredentialReader + CredentialWriter>(
    store: &S,
    args: &ServeArgs,
) -> Result<()> {
    let scopes: Vec<String> = Scope::ALL.iter().map(|s| s.to_string()).collect();
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

async fn manage_credentials<S: CredentialReader + CredentialWriter + AuditWriter>(
    store: &S,
    command: CredentialsCommand,
) -> Result<()> {
    match command {
        CredentialsCommand::Create { name, scopes, store: store_id, acts_for } => {
            credentials::check_scopes(&scopes).map_err(|rule| anyhow::anyhow!("--scopes: {rule}"))?;
            let mut new = credentials::generate(&name, store_id, scopes)?;
            if let Some(user) = acts_for {
                xapi::parse_agent_param(&user).map_err(|e| anyhow::anyhow!("--acts-for: {e}"))?;
                new.credential.acts_for = Some(serde_json::from_str(&user)?);
            }
            store.create_credential(new.credential.clone()).await?;
            let (credential, details) = (&new.credential, audit::credential_details(&new.credential));
            audit::record_by(store, CONSOLE, "credential.create", credential.store, &credential.key, details)
                .await;
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
            audit_credential(store, "credential.rename", &key).await?;
            println!("renamed {key}");
        }
        CredentialsCommand::Revoke { key } => {
            if !store.revoke_credential(&key).await? {
                anyhow::bail!("no credential with key {key}");
            }
            audit_credential(store, "credential.revoke", &key).await?;
            println!("revoked {key}");
        }
    }
    Ok(())
}

/// Records an act on the credential `key` as it now is.
async fn audit_credential<S: CredentialReader + AuditWriter>(
    store: &S,
    action: &str,
    key: &str,
) -> Result<()> {
    if let Some(credential) = store.credential(key).await? {
        let details = audit::credential_details(&credential);
        audit::record_by(store, CONSOLE, action, credential.store, key, details).await;
    }
    Ok(())
}

/// `tally audit`: one line per act, newest first: id, time, store, actor, action, subject,
/// details.
async fn print_audit<S: AuditReader>(store: &S, args: AuditArgs) -> Result<()> {
    let filter = AuditFilter { store: args.store, ..AuditFilter::default() };
    for e in store.audit_page(filter, None, args.limit.max(1)).await?.entries {
        let at = e.at.to_rfc3339();
        println!("{}\t{at}\t{}\t{}\t{}\t{}\t{}", e.id, e.store, e.actor, e.action, e.subject, e.details);
    }
    Ok(())
}

async fn manage_stores<S: TenantReader + TenantWriter + AuditWriter>(
    store: &S,
    command: StoresCommand,
) -> Result<()> {
    match command {
        StoresCommand::Create { name } => {
            let created = store.create_store(&name).await?;
            let details = json!({ "name": created.name });
            audit::record_by(store, CONSOLE, "store.create", created.id, created.id.to_string(), details)
                .await;
            println!("id:   {}", created.id);
            println!("name: {}", created.name);
        }
        StoresCommand::Retention { id, statements_days, tickets_days } => {
            let policy = store::RetentionPolicy { statements_days, tickets_days };
            if statements_days == Some(0) || tickets_days == Some(0) {
                anyhow::bail!("a retention is at least 1 day; leave the flag out to keep for ever");
            }
            if !store.set_retention(id, policy).await? {
                anyhow::bail!("no store {id}");
            }
            let details = serde_json::to_value(policy)?;
            audit::record_by(store, CONSOLE, "store.retention", id, id.to_string(), details).await;
            let days = |d: Option<u32>| d.map_or("for ever".to_string(), |d| format!("{d} days"));
            println!(
                "store {id} keeps statements {} and tickets {}",
                days(statements_days),
                days(tickets_days)
            );
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
            audit::record_by(store, CONSOLE, "store.rename", id, id.to_string(), json!({ "name": name }))
                .await;
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
            audit::record_by(store, CONSOLE, "store.revoke", id, id.to_string(), json!({})).await;
            println!("revoked store {id}");
        }
    }
    Ok(())
}

/// `tally erase`: prints what was (or would be) removed and replaced, as JSON.
async fn erase<S: store::PersonEraser + store::TenantReader + store::AuditWriter>(
    store: &S,
    args: config::EraseArgs,
) -> Result<()> {
    if store.store_info(args.store).await?.is_none() {
        anyhow::bail!("there is no store {}", args.store);
    }
    let person = store::erasure::Person::parse(&args.agent).map_err(|e| anyhow::anyhow!("--{e}"))?;
    let report = store.erase_person(args.store, person, args.dry_run).await?;
    if !args.dry_run {
        let details = server::audit::erasure_details(&report);
        server::audit::record_by(
            store,
            server::audit::CONSOLE,
            server::audit::ERASE,
            args.store,
            "",
            details,
        )
        .await;
    }
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
