//! Command-line flags and their environment variables (flags override the environment).

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use server::AppConfig;
use xapi::Version;

/// Tally: an xAPI Learning Record Store with a measure-and-update loop.
#[derive(Debug, Parser)]
#[command(name = "tally", version)]
pub struct Cli {
    #[command(flatten)]
    pub storage: StorageArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the data lives.
#[derive(Debug, Args)]
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
    Serve(ServeArgs),
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
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "TALLY_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Key of a credential with every scope to create or update at start-up.
    #[arg(long, env = "TALLY_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,
    /// Secret of that credential.
    #[arg(long, env = "TALLY_ADMIN_SECRET", hide_env_values = true)]
    pub admin_secret: Option<String>,
    /// account.homePage of the authority given to stored statements.
    #[arg(long, env = "TALLY_AUTHORITY_HOME_PAGE", default_value = "https://tally.invalid")]
    pub authority_home_page: String,
    /// Most statements per page of a query (and what limit=0 means).
    #[arg(long, env = "TALLY_MAX_PAGE_SIZE", default_value_t = 100)]
    pub max_page_size: usize,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "TALLY_MAX_BODY_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Largest attachment accepted, in bytes.
    #[arg(long, env = "TALLY_MAX_ATTACHMENT_BYTES", default_value_t = 256 * 1024 * 1024)]
    pub max_attachment_bytes: u64,
    /// Failed authentications per client address and minute before that address gets
    /// 429 (Too Many Requests) for the rest of the minute.
    #[arg(long, env = "TALLY_AUTH_FAILURES_PER_MINUTE", default_value_t = 20)]
    pub auth_failures_per_minute: u32,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "TALLY_WORKERS")]
    pub workers: Option<usize>,
    /// The xAPI version named in responses to requests that name none.
    #[arg(long, env = "TALLY_DEFAULT_XAPI_VERSION", default_value = "2.0.0")]
    pub default_xapi_version: String,
    /// Origins whose web pages may call the xAPI, comma separated
    /// (https://lms.example.com,http://localhost:3000); none given allows every origin.
    #[arg(long, env = "TALLY_CORS_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub cors_allowed_origins: Vec<String>,
}

impl ServeArgs {
    pub fn app_config(&self) -> Result<AppConfig> {
        let defaults = AppConfig::default();
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
        Ok(AppConfig {
            authority_home_page: self.authority_home_page.clone(),
            max_page_size: self.max_page_size.max(1),
            max_body_bytes: self.max_body_bytes,
            max_attachment_bytes: self.max_attachment_bytes,
            auth_failures_per_minute: self.auth_failures_per_minute,
            workers: self.workers.unwrap_or(defaults.workers),
            default_version,
            cors_allowed_origins,
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
        store: i64,
        /// The user (an Agent as JSON) the client acts for: its statements' authority is
        /// then a Group of the credential and that user.
        #[arg(long)]
        acts_for: Option<String>,
    },
    /// Lists credentials (never their secrets).
    List {
        /// Only this store's.
        #[arg(long)]
        store: Option<i64>,
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
    Rename { id: i64, name: String },
    /// Revokes a store: its data stays, its credentials stop working.
    Revoke { id: i64 },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve_args(args: &[&str]) -> ServeArgs {
        let cli = Cli::try_parse_from(["tally", "serve"].iter().chain(args)).expect("valid flags");
        match cli.command {
            Command::Serve(args) => args,
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
    fn no_cors_origins_allow_every_origin_and_bad_ones_are_refused() {
        let config = serve_args(&["--cors-allowed-origins", ""]).app_config().unwrap();
        assert!(config.cors_allowed_origins.is_empty());
        let error = serve_args(&["--cors-allowed-origins", "https://lms.example.com/login"])
            .app_config()
            .unwrap_err();
        assert!(error.to_string().contains("--cors-allowed-origins"), "{error}");
    }
}
