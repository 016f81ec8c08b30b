//! Command-line flags and their environment variables (flags override the environment).

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use server::AppConfig;
use store::StoreId;
use xapi::Version;

/// Tally: an xAPI Learning Record Store with a measure-and-update loop.
#[derive(Debug, Parser)]
#[command(name = "tally", version)]
pub struct Cli {
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Log format on stderr: text (for people) or json (one object per line).
    #[arg(long, env = "TALLY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// OpenTelemetry collector to export traces to over OTLP/HTTP, as a base URL
    /// (`http://collector:4318`; spans go to `/v1/traces`). Unset: no export.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", global = true)]
    pub otlp_endpoint: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the data lives.
#[derive(Debug, PartialEq, Eq, Args)]
pub struct StorageArgs {
    /// Directory of the embedded SQLite store (used when no database URL is given).
    #[arg(long, env = "TALLY_DATA_DIR", default_value = "./tally-data", global = true)]
    pub data_dir: PathBuf,
    /// PostgreSQL URL (postgres://user@host:port/db); selects the PostgreSQL store.
    #[arg(long, env = "TALLY_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the LRS.
    Serve(Box<ServeArgs>),
    /// Applies pending database migrations and exits.
    Migrate,
    /// Manages API credentials.
    Credentials {
        #[command(subcommand)]
        command: CredentialsCommand,
    },
    /// Manages stores (tenants).
    Stores {
        #[command(subcommand)]
        command: StoresCommand,
    },
    /// Imports support tickets.
    Tickets {
        #[command(subcommand)]
        command: TicketsCommand,
    },
    /// Writes an export (the same as /exports/…): CSV, or statements as NDJSON.
    Export {
        #[command(subcommand)]
        command: ExportCommand,
    },
    /// Copies everything a Tally holds to another backend (SQLite ⇄ PostgreSQL), resumably,
    /// and verifies the copy table by table.
    Copy(CopyArgs),
    /// Manages statement forwarding rules (every `tally serve` delivers them).
    Forward {
        #[command(subcommand)]
        command: ForwardCommand,
    },
    /// Pulls the statements of another xAPI LRS into a store here (resumable, idempotent).
    Pull(PullArgs),
    /// Erases a person from a store (the right to erasure): their statements, documents
    /// and lone attachments go, their appearances elsewhere become a pseudonym.
    Erase(EraseArgs),
    /// Imports statements (NDJSON, as `tally export statements --format ndjson` writes).
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Loads a demo data set (install videos, chatbot, survey, tickets, a goal) into a
    /// running Tally.
    Demo(DemoArgs),
    /// Runs the insights engine and API on their own.
    Insights {
        #[command(subcommand)]
        command: InsightsCommand,
    },
    /// Prints the audit log of administrative acts, newest first (as GET /admin/audit).
    Audit(AuditArgs),
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only this store's acts (every store's without it).
    #[arg(long)]
    pub store: Option<StoreId>,
    /// How many of the newest acts to print.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "TALLY_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Do not run the insights engine and API in this process (run `tally insights
    /// serve` elsewhere).
    #[arg(long, env = "TALLY_NO_INSIGHTS")]
    pub no_insights: bool,
    /// How long a process holds a forwarding rule without renewing it: how soon another
    /// process takes over the rules of one that died, in milliseconds.
    #[arg(long, env = "TALLY_FORWARD_LEASE_MS", default_value_t = 15_000)]
    pub forward_lease_ms: u64,
    /// Key of a credential with every scope to create or update at start-up.
    #[arg(long, env = "TALLY_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,
    /// Secret of that credential.
    #[arg(long, env = "TALLY_ADMIN_SECRET", hide_env_values = true)]
    pub admin_secret: Option<String>,
    /// The key helpdesk connectors' credentials are sealed with: 32 bytes in base64
    /// (`openssl rand -base64 32`). Without it no connector can be created, and none runs.
    #[arg(long, env = "TALLY_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// The xAPI version named in responses to requests that name none.
    #[arg(long, env = "TALLY_DEFAULT_XAPI_VERSION", default_value = "2.0.0")]
    pub default_xapi_version: String,
    /// Origins whose web pages may call the xAPI, comma separated
    /// (https://lms.example.com,http://localhost:3000); none given allows every origin.
    #[arg(long, env = "TALLY_CORS_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub cors_allowed_origins: Vec<String>,
    /// Let admin credentials erase a person (`DELETE /admin/agents`); dry runs are always
    /// allowed.
    #[arg(long, env = "TALLY_ALLOW_ERASURE")]
    pub allow_erasure: bool,
    /// How often the stores' retention policies are applied, in seconds (also once at
    /// start-up).
    #[arg(long, env = "TALLY_RETENTION_INTERVAL_S", default_value_t = 3_600)]
    pub retention_interval_s: u64,
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub sign_in: crate::sign_in_config::SignInArgs,
}

impl ServeArgs {
    pub fn app_config(&self) -> Result<AppConfig> {
        let default_version = Version::from_header(&self.default_xapi_version).ok_or_else(|| {
            anyhow::anyhow!("unsupported default xAPI version {:?}", self.default_xapi_version)
        })?;
        let cors_allowed_origins = self
            .cors_allowed_origins
            .iter()
            .filter(|origin| !origin.trim().is_empty())
            .map(|origin| {
                server::cors::normalize_origin(origin)
                    .map_err(|e| anyhow::anyhow!("--cors-allowed-origins: {e}"))
            })
            .collect::<Result<Vec<_>>>()?;
        let connector_key = self
            .secret_key
            .as_deref()
            .map(insights::connectors::SecretKey::from_base64)
            .transpose()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(AppConfig {
            default_version,
            cors_allowed_origins,
            allow_erasure: self.allow_erasure,
            connector_key,
            ..self.http.app_config_for(self.sign_in.oidc_client_id.is_some())?
        })
    }
}

/// The HTTP settings every serving command takes (`serve` and `insights serve`).
#[derive(Debug, Args)]
pub struct HttpArgs {
    /// account.homePage of the authority given to stored statements.
    #[arg(long, env = "TALLY_AUTHORITY_HOME_PAGE", default_value = "https://tally.invalid")]
    pub authority_home_page: String,
    /// Most statements per page of a query (and what limit=0 means).
    #[arg(long, env = "TALLY_MAX_PAGE_SIZE", default_value_t = 100)]
    pub max_page_size: usize,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "TALLY_MAX_BODY_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Largest attachment (and ticket upload on the web pages) accepted, in bytes.
    #[arg(long, env = "TALLY_MAX_ATTACHMENT_BYTES", default_value_t = 256 * 1024 * 1024)]
    pub max_attachment_bytes: u64,
    /// Failed authentications per client address and minute before that address gets
    /// 429 (Too Many Requests) for the rest of the minute.
    #[arg(long, env = "TALLY_AUTH_FAILURES_PER_MINUTE", default_value_t = 20)]
    pub auth_failures_per_minute: u32,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "TALLY_WORKERS")]
    pub workers: Option<usize>,
    #[command(flatten)]
    pub operations: OperationsArgs,
    #[command(flatten)]
    pub oidc: OidcArgs,
}

impl HttpArgs {
    pub fn app_config(&self) -> Result<AppConfig> {
        self.app_config_for(false)
    }

    /// The settings; `signs_in` when the issuer is also configured for the pages' sign-in,
    /// where it needs no audience.
    pub fn app_config_for(&self, signs_in: bool) -> Result<AppConfig> {
        let defaults = AppConfig::default();
        Ok(AppConfig {
            authority_home_page: self.authority_home_page.clone(),
            max_page_size: self.max_page_size.max(1),
            max_body_bytes: self.max_body_bytes,
            max_attachment_bytes: self.max_attachment_bytes,
            auth_failures_per_minute: self.auth_failures_per_minute,
            workers: self.workers.unwrap_or(defaults.workers),
            bearer_tokens: self.oidc.bearer_tokens(signs_in)?.map(std::sync::Arc::new),
            ..self.operations.apply(defaults)?
        })
    }
}

/// Bearer access tokens (JWT) from an OpenID issuer, accepted beside Basic auth.
#[derive(Debug, Args)]
pub struct OidcArgs {
    /// The issuer whose access tokens are accepted, exactly as its tokens' `iss` says
    /// (https://id.example.com/realms/tally); its keys are found through
    /// {issuer}/.well-known/openid-configuration.
    #[arg(long, env = "TALLY_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// The `aud` an access token must carry to be accepted (required with --oidc-issuer).
    #[arg(long, env = "TALLY_OIDC_AUDIENCE")]
    pub oidc_audience: Option<String>,
    /// The claim holding a token's scopes: a space-separated string or an array.
    #[arg(long, env = "TALLY_OIDC_SCOPES_CLAIM", default_value = "scope")]
    pub oidc_scopes_claim: String,
    /// A scope value `<prefix><scope>` grants that Tally scope (tally:statements/write,
    /// tally:all, tally:admin); an empty prefix turns this off (then only --oidc-scope maps).
    #[arg(long, env = "TALLY_OIDC_SCOPE_PREFIX", default_value = "tally:")]
    pub oidc_scope_prefix: String,
    /// VALUE=SCOPE[+SCOPE…]: a scope value spelled the identity provider's way grants these
    /// Tally scopes (lrs.write=statements/write+state); repeatable.
    #[arg(long = "oidc-scope", env = "TALLY_OIDC_SCOPES", value_delimiter = ',')]
    pub oidc_scopes: Vec<String>,
    /// The store a token's caller acts in.
    #[arg(long, env = "TALLY_OIDC_STORE", default_value_t = store::DEFAULT_STORE)]
    pub oidc_store: StoreId,
    /// Least seconds between two fetches of the issuer's keys for tokens naming a key not
    /// seen yet (rotation), so made-up key ids cannot flood the issuer.
    #[arg(long, env = "TALLY_OIDC_JWKS_REFETCH_FLOOR_S", default_value_t = 30)]
    pub oidc_jwks_refetch_floor_s: u64,
}

impl OidcArgs {
    /// The bearer-token settings, or `None` when no issuer (or, for an issuer the pages
    /// sign in with, no audience) is configured.
    fn bearer_tokens(&self, signs_in: bool) -> Result<Option<server::bearer::BearerTokens>> {
        let Some(issuer) = &self.oidc_issuer else { return Ok(None) };
        let audience = match (&self.oidc_audience, signs_in) {
            (Some(audience), _) => audience.clone(),
            (None, true) => return Ok(None),
            (None, false) => {
                anyhow::bail!("--oidc-issuer needs --oidc-audience (the `aud` tokens must carry)")
            }
        };
        let mut named = std::collections::HashMap::new();
        for mapping in self.oidc_scopes.iter().filter(|m| !m.trim().is_empty()) {
            let (value, scopes) = mapping
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("--oidc-scope {mapping:?}: expected VALUE=SCOPE"))?;
            let scopes = scopes
                .split('+')
                .map(|scope| {
                    server::scopes::Scope::parse(scope.trim()).ok_or_else(|| {
                        anyhow::anyhow!("--oidc-scope {mapping:?}: unknown Tally scope {scope:?}")
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            named.insert(value.trim().to_owned(), scopes);
        }
        Ok(Some(server::bearer::BearerTokens {
            issuer: std::sync::Arc::new(server::oidc::Issuer::new(
                issuer.clone(),
                std::time::Duration::from_secs(self.oidc_jwks_refetch_floor_s),
            )),
            audience,
            scopes_claim: self.oidc_scopes_claim.clone(),
            scope_map: server::bearer::ScopeMap { prefix: self.oidc_scope_prefix.clone(), named },
            store: self.oidc_store,
        }))
    }
}

/// How logs are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Limits against hostile or broken clients, proxies, metrics and shutdown.
#[derive(Debug, Args)]
pub struct OperationsArgs {
    /// Most statements one statement request may carry (413 above).
    #[arg(long, env = "TALLY_MAX_BATCH_STATEMENTS", default_value_t = 1_000)]
    pub max_batch_statements: usize,
    /// Deepest nesting of arrays and objects in statement JSON (400 above).
    #[arg(long, env = "TALLY_MAX_JSON_DEPTH", default_value_t = 64)]
    pub max_json_depth: usize,
    /// Most bytes a request's headers may take together (431 above; the HTTP layer
    /// refuses more than 128 KiB or 96 headers whatever this says).
    #[arg(long, env = "TALLY_MAX_HEADER_BYTES", default_value_t = 32 * 1024)]
    pub max_header_bytes: usize,
    /// Seconds a client may take to send the request line and headers (408 after).
    #[arg(long, env = "TALLY_HEADER_TIMEOUT_SECS", default_value_t = 5.0)]
    pub header_timeout_secs: f64,
    /// Seconds a request body may stall without a byte arriving (408 after).
    #[arg(long, env = "TALLY_BODY_IDLE_TIMEOUT_SECS", default_value_t = 30.0)]
    pub body_idle_timeout_secs: f64,
    /// Seconds requests in flight get to finish after SIGTERM or SIGINT.
    #[arg(long, env = "TALLY_SHUTDOWN_TIMEOUT_SECS", default_value_t = 30)]
    pub shutdown_timeout_secs: u64,
    /// Proxies (addresses or CIDR networks, comma separated) whose Forwarded /
    /// X-Forwarded-For headers name the client address.
    #[arg(long, env = "TALLY_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,
    /// Address of the Prometheus metrics listener (GET /metrics), or "off".
    #[arg(long, env = "TALLY_METRICS_BIND", default_value = "127.0.0.1:9464")]
    pub metrics_bind: String,
}

impl OperationsArgs {
    /// These settings over `base`.
    fn apply(&self, base: AppConfig) -> Result<AppConfig> {
        let seconds = |value: f64, flag: &str| {
            std::time::Duration::try_from_secs_f64(value)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| anyhow::anyhow!("{flag}: must be a positive number of seconds"))
        };
        Ok(AppConfig {
            max_batch_statements: self.max_batch_statements.max(1),
            max_json_depth: self.max_json_depth.max(2),
            max_header_bytes: self.max_header_bytes,
            header_timeout: seconds(self.header_timeout_secs, "--header-timeout-secs")?,
            body_idle_timeout: seconds(self.body_idle_timeout_secs, "--body-idle-timeout-secs")?,
            shutdown_timeout: std::time::Duration::from_secs(self.shutdown_timeout_secs),
            trusted_proxies: server::client_addr::TrustedProxies::parse(&self.trusted_proxies)
                .map_err(|e| anyhow::anyhow!("--trusted-proxies: {e}"))?,
            ..base
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// Creates a credential and prints its key and secret (the secret only this once).
    Create {
        /// A label for people.
        #[arg(long, default_value = "credential")]
        name: String,
        /// Scopes, comma separated.
        #[arg(long, value_delimiter = ',', default_value = "all")]
        scopes: Vec<String>,
        /// The store (tenant) the credential belongs to.
        #[arg(long, default_value_t = store::DEFAULT_STORE)]
        store: StoreId,
        /// The user (an Agent as JSON) the client acts for: its statements' authority is
        /// then a Group of the credential and that user.
        #[arg(long)]
        acts_for: Option<String>,
    },
    /// Lists credentials (never their secrets).
    List {
        /// Only this store's.
        #[arg(long)]
        store: Option<StoreId>,
    },
    /// Renames a credential.
    Rename { key: String, name: String },
    /// Revokes a credential.
    Revoke { key: String },
}

#[derive(Debug, Subcommand)]
pub enum StoresCommand {
    /// Creates a store and prints its id.
    Create { name: String },
    /// Lists stores.
    List,
    /// Renames a store.
    Rename { id: StoreId, name: String },
    /// Revokes a store: its data stays, its credentials stop working.
    Revoke { id: StoreId },
    /// Sets how long a store keeps statements and tickets (a flag left out: for ever);
    /// every `tally serve` purges what is older.
    Retention {
        id: StoreId,
        /// Days a statement is kept after it was stored.
        #[arg(long)]
        statements_days: Option<u32>,
        /// Days a ticket is kept after it was created.
        #[arg(long)]
        tickets_days: Option<u32>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve_args(args: &[&str]) -> ServeArgs {
        let cli = Cli::try_parse_from(["tally", "serve"].iter().chain(args)).expect("valid flags");
        match cli.command {
            Command::Serve(args) => *args,
            other => panic!("not serve: {other:?}"),
        }
    }

    #[test]
    fn cors_origins_are_a_comma_separated_list_of_origins() {
        let config =
            serve_args(&["--cors-allowed-origins", "https://LMS.example.com/,http://localhost:3000"])
                .app_config()
                .unwrap();
        assert_eq!(config.cors_allowed_origins, ["https://lms.example.com", "http://localhost:3000"]);
    }

    #[test]
    fn limits_and_proxies_come_from_flags() {
        let config = serve_args(&[
            "--max-batch-statements",
            "50",
            "--max-json-depth",
            "16",
            "--body-idle-timeout-secs",
            "0.5",
            "--trusted-proxies",
            "10.0.0.0/8,192.0.2.7",
            "--auth-failures-per-minute",
            "0",
        ])
        .app_config()
        .unwrap();
        assert_eq!((config.max_batch_statements, config.max_json_depth), (50, 16));
        assert_eq!(config.body_idle_timeout, std::time::Duration::from_millis(500));
        assert!(config.trusted_proxies.trusts("10.1.2.3".parse().unwrap()));
        assert_eq!(config.auth_failures_per_minute, 0);
        let error = serve_args(&["--trusted-proxies", "proxy.internal"]).app_config().unwrap_err();
        assert!(error.to_string().contains("--trusted-proxies"), "{error}");
        assert!(serve_args(&["--header-timeout-secs", "0"]).app_config().is_err());
    }

    #[test]
    fn no_cors_origins_allow_every_origin_and_bad_ones_are_refused() {
        let config = serve_args(&["--cors-allowed-origins", ""]).app_config().unwrap();
        assert!(config.cors_allowed_origins.is_empty());
        let error = serve_args(&["--cors-allowed-origins", "https://lms.example.com/login"])
            .app_config()
            .unwrap_err();
        assert!(error.to_string().contains("--cors-allowed-origins"), "{error}");
    }
}

#[derive(Debug, Subcommand)]
pub enum TicketsCommand {
    /// Imports a helpdesk export (CSV, JSON array or NDJSON).
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The export file.
    pub file: std::path::PathBuf,
    /// The column layout: zendesk, servicenow, jira or generic.
    #[arg(long, default_value = "generic")]
    pub preset: String,
    /// The tickets' source (default: the preset's name).
    #[arg(long)]
    pub source: Option<String>,
    /// Reads a field from another column: field=Column (repeatable).
    #[arg(long = "map")]
    pub map: Vec<String>,
    /// Time zone of dates written without an offset (IANA name).
    #[arg(long, default_value = "UTC")]
    pub timezone: String,
    /// Requesters that are not email addresses are accounts on this home page.
    #[arg(long)]
    pub account_home_page: Option<String>,
    /// Stores nothing if any row is refused.
    #[arg(long)]
    pub strict: bool,
    /// What the export covers: every ticket created through this date (the whole day,
    /// UTC) or RFC 3339 instant. Default: through its latest ticket.
    #[arg(long)]
    pub through: Option<String>,
    /// csv, json or ndjson (default: from the file name).
    #[arg(long)]
    pub format: Option<String>,
    /// The store the tickets belong to.
    #[arg(long, default_value_t = store::DEFAULT_STORE)]
    pub store: StoreId,
}

#[derive(Debug, Subcommand)]
pub enum ForwardCommand {
    /// Adds a rule: the store's statements (those the filter passes) go to another LRS.
    Add {
        /// The target's xAPI base URL.
        #[arg(long)]
        url: String,
        #[arg(long)]
        key: String,
        #[arg(long, env = "TALLY_FORWARD_SECRET", hide_env_values = true)]
        secret: String,
        /// The key the secret is sealed with at rest (as `tally serve` has it); without it,
        /// the secret is stored as given.
        #[arg(long, env = "TALLY_SECRET_KEY", hide_env_values = true)]
        secret_key: Option<String>,
        #[arg(long, default_value_t = store::DEFAULT_STORE)]
        store: StoreId,
        /// Only statements with this verb (repeatable).
        #[arg(long = "verb")]
        verbs: Vec<String>,
        /// Only statements about activities whose id starts so.
        #[arg(long)]
        activity_prefix: Option<String>,
        /// Failed attempts before a batch is given up on (dead-lettered).
        #[arg(long, default_value_t = 10)]
        max_attempts: u32,
    },
    /// Lists the rules with their delivery state.
    List {
        #[arg(long)]
        store: Option<StoreId>,
    },
    /// Removes a rule and its dead letters.
    Remove { store: StoreId, rule: i64 },
    /// Turns a rule on.
    Enable { store: StoreId, rule: i64 },
    /// Turns a rule off (its place is kept; it resumes from there).
    Disable { store: StoreId, rule: i64 },
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// The other LRS's xAPI base URL (its statement resource is `URL/statements`).
    #[arg(long)]
    pub from: String,
    /// A key of the other LRS that reads its statements.
    #[arg(long)]
    pub key: String,
    /// That key's secret.
    #[arg(long, env = "TALLY_PULL_SECRET")]
    pub secret: String,
    /// The store here that the statements go to.
    #[arg(long, default_value_t = store::DEFAULT_STORE)]
    pub into_store: StoreId,
    /// Only statements the other LRS stored after this instant (RFC 3339); without it, a
    /// pull resumes where the last pull from that LRS into that store stopped.
    #[arg(long)]
    pub since: Option<String>,
    /// Keep each statement's `stored` time from the other LRS instead of giving it this
    /// LRS's time (a migration). Only into a store that holds nothing stored later than
    /// what is pulled, and that no client reads with `since` while the pull runs: the
    /// pulled statements appear at times in the past.
    #[arg(long)]
    pub keep_stored: bool,
}

#[derive(Debug, Args)]
pub struct EraseArgs {
    /// The person: an xAPI Agent (`{"mbox":"mailto:ann@example.com"}`), or a Person object
    /// naming several of their identifiers (`{"objectType":"Person","mbox":[…],"account":[…]}`).
    #[arg(long)]
    pub agent: String,
    /// The store to erase them from.
    #[arg(long, default_value_t = store::DEFAULT_STORE)]
    pub store: StoreId,
    /// Answer what would be removed and replaced, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The Tally to copy: a data directory, or a postgres:// URL. Stop the servers writing
    /// to it first (or copy a replica): what arrives during the copy fails the check.
    #[arg(long)]
    pub from: String,
    /// Where to copy it: a data directory or a postgres:// URL holding no other data
    /// (default: this command's --data-dir or --database-url). A copy killed midway
    /// resumes when run again with the same --from and --to.
    #[arg(long)]
    pub to: Option<String>,
}

impl CopyArgs {
    /// The storage a `--from` or `--to` names.
    pub fn storage(place: &str) -> StorageArgs {
        if place.starts_with("postgres://") || place.starts_with("postgresql://") {
            StorageArgs { data_dir: PathBuf::from("./tally-data"), database_url: Some(place.to_string()) }
        } else {
            StorageArgs { data_dir: PathBuf::from(place), database_url: None }
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Stores the statements of an NDJSON file (one per line) in atomic batches, and lists
    /// the lines it refused. Idempotent by statement id: a re-run stores nothing twice.
    Statements {
        file: PathBuf,
        /// The store the statements go to.
        #[arg(long, default_value_t = store::DEFAULT_STORE)]
        store: StoreId,
    },
}

/// How `tally export statements` writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum StatementFormat {
    /// One flat row per statement.
    #[default]
    Csv,
    /// Each statement as stored, one per line, oldest first (what `tally import statements`
    /// reads).
    Ndjson,
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// One flat row per statement (CSV), or each statement whole (NDJSON).
    Statements {
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        #[arg(long, value_enum, default_value_t = StatementFormat::Csv)]
        format: StatementFormat,
        #[arg(long, default_value_t = store::DEFAULT_STORE)]
        store: StoreId,
        /// Only this verb.
        #[arg(long)]
        verb: Option<String>,
        /// Only this activity.
        #[arg(long)]
        activity: Option<String>,
        /// Only statements stored after this time.
        #[arg(long)]
        since: Option<String>,
        /// Only statements stored up to this time.
        #[arg(long)]
        until: Option<String>,
    },
    /// One row per ticket.
    Tickets {
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        #[arg(long, default_value_t = store::DEFAULT_STORE)]
        store: StoreId,
    },
    /// One row per day, activity and verb.
    ActivityDaily {
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        #[arg(long, default_value_t = store::DEFAULT_STORE)]
        store: StoreId,
    },
    /// A goal's report.
    Goal {
        goal: String,
        #[arg(long)]
        as_of: Option<String>,
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        #[arg(long, default_value_t = store::DEFAULT_STORE)]
        store: StoreId,
    },
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The running Tally (its xAPI base URL or its root).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// A credential with statements/write and insights (or all).
    #[arg(long, env = "TALLY_DEMO_KEY")]
    pub key: String,
    #[arg(long, env = "TALLY_DEMO_SECRET", hide_env_values = true)]
    pub secret: String,
    /// Which story the data tells: working, low-reach, drop-off (viewers leave at 40%)
    /// or no-effect.
    #[arg(long, default_value = "working")]
    pub scenario: String,
}

#[derive(Debug, Subcommand)]
pub enum InsightsCommand {
    /// Serves /insights and /exports and runs the rollup engine, without the xAPI. On a
    /// PostgreSQL hot standby it runs read-only: no engine, no migrations, writes refused.
    Serve(InsightsServeArgs),
}

#[derive(Debug, Args)]
pub struct InsightsServeArgs {
    /// Address to listen on.
    #[arg(long, env = "TALLY_INSIGHTS_BIND", default_value = "127.0.0.1:8081")]
    pub bind: String,
    /// Runs read-only even when the database is writable (a hot standby always is):
    /// no engine, no migrations, ticket import and goal edits refused.
    #[arg(long, env = "TALLY_INSIGHTS_READ_ONLY")]
    pub read_only: bool,
    #[command(flatten)]
    pub http: HttpArgs,
}
