//! How people sign in to the web pages of `tally serve`: one OpenID provider from the
//! `--oidc-*` options, more from a JSON file (`--oidc-providers`), and whether the
//! key-and-secret form stays.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use serde::Deserialize;
use server::oidc::{Issuer, RelyingParty};
use ui::sso::{Provider, RoleGrant, SignInOptions};

use crate::config::OidcArgs;

/// What `openid` sign-ins ask for unless told otherwise.
const DEFAULT_SCOPES: &str = "openid profile email";
const DEFAULT_GROUPS_CLAIM: &str = "groups";

/// Signing in to the web pages through OpenID providers.
#[derive(Debug, Args)]
pub struct SignInArgs {
    /// The client id Tally is registered with at --oidc-issuer: turns on signing in to the
    /// web pages with that provider. Register {public URL}/ui/sign-in/oidc/callback as its
    /// redirect URI.
    #[arg(long, env = "TALLY_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,
    /// The client's secret (none: a public client, which PKCE alone proves).
    #[arg(long, env = "TALLY_OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub oidc_client_secret: Option<String>,
    /// What the sign-in button calls the provider ("Sign in with …").
    #[arg(long, env = "TALLY_OIDC_LABEL", default_value = "single sign-on")]
    pub oidc_label: String,
    /// The scopes a sign-in asks for (space-separated).
    #[arg(long, env = "TALLY_OIDC_SIGN_IN_SCOPES", default_value = DEFAULT_SCOPES)]
    pub oidc_sign_in_scopes: String,
    /// The claim that carries a person's groups (in the ID token, else from userinfo): an
    /// array of names, or one name.
    #[arg(long, env = "TALLY_OIDC_GROUPS_CLAIM", default_value = DEFAULT_GROUPS_CLAIM)]
    pub oidc_groups_claim: String,
    /// GROUP=STORE:ROLE: members of GROUP get ROLE (viewer, editor or admin) in the store
    /// with id STORE; repeatable. A person in no mapped group cannot sign in.
    #[arg(long = "oidc-role", env = "TALLY_OIDC_ROLES", value_delimiter = ',')]
    pub oidc_roles: Vec<String>,
    /// A JSON file naming several providers: {"providers": [{"id", "label", "issuer",
    /// "client_id", "client_secret" or "client_secret_env", "scopes", "groups_claim",
    /// "roles": ["GROUP=STORE:ROLE", …]}, …]}.
    #[arg(long, env = "TALLY_OIDC_PROVIDERS")]
    pub oidc_providers: Option<PathBuf>,
    /// The address browsers reach Tally at (https://lrs.example.com): the providers send
    /// people back under it. Without it, each request's own scheme and host.
    #[arg(long, env = "TALLY_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Offer only the providers on the sign-in page: no key-and-secret sign-in.
    #[arg(long, env = "TALLY_DISABLE_KEY_SIGN_IN")]
    pub disable_key_sign_in: bool,
}

/// One provider of the `--oidc-providers` file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderEntry {
    id: String,
    label: Option<String>,
    issuer: String,
    client_id: String,
    client_secret: Option<String>,
    /// The environment variable holding the secret, so the file need hold none.
    client_secret_env: Option<String>,
    scopes: Option<String>,
    groups_claim: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProvidersFile {
    providers: Vec<ProviderEntry>,
}

impl SignInArgs {
    /// The sign-in options; `bearer_issuer` is the bearer tokens' issuer, shared when the
    /// sign-in provider is the same one (one discovery, one key cache).
    pub fn options(&self, oidc: &OidcArgs, bearer_issuer: Option<Arc<Issuer>>) -> Result<SignInOptions> {
        let floor = Duration::from_secs(oidc.oidc_jwks_refetch_floor_s);
        let issuer_at = |url: &str| match &bearer_issuer {
            Some(issuer) if issuer.url() == url => issuer.clone(),
            _ => Arc::new(Issuer::new(url, floor)),
        };
        let mut providers = Vec::new();
        match (&oidc.oidc_issuer, &self.oidc_client_id) {
            (Some(issuer), Some(client_id)) => providers.push(Provider {
                id: "oidc".to_owned(),
                label: self.oidc_label.clone(),
                party: RelyingParty {
                    issuer: issuer_at(issuer),
                    client_id: client_id.clone(),
                    client_secret: self.oidc_client_secret.clone(),
                    scopes: self.oidc_sign_in_scopes.clone(),
                    groups_claim: self.oidc_groups_claim.clone(),
                },
                roles: role_grants(&self.oidc_roles, "--oidc-role")?,
            }),
            (None, Some(_)) => bail!("--oidc-client-id needs --oidc-issuer"),
            _ if !self.oidc_roles.is_empty() => bail!("--oidc-role needs --oidc-issuer and --oidc-client-id"),
            _ => {}
        }
        if let Some(path) = &self.oidc_providers {
            providers.extend(read_providers(path, &issuer_at)?);
        }
        for (at, provider) in providers.iter().enumerate() {
            if providers[..at].iter().any(|earlier| earlier.id == provider.id) {
                bail!("two sign-in providers have the id {:?}", provider.id);
            }
        }
        if self.disable_key_sign_in && providers.is_empty() {
            bail!("--disable-key-sign-in leaves no way to sign in: configure a provider");
        }
        Ok(SignInOptions::new(providers, !self.disable_key_sign_in, self.public_url.clone()))
    }
}

fn read_providers(path: &Path, issuer_at: &dyn Fn(&str) -> Arc<Issuer>) -> Result<Vec<Provider>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file: ProvidersFile =
        serde_json::from_str(&text).with_context(|| format!("{} is not a providers file", path.display()))?;
    file.providers
        .into_iter()
        .map(|entry| {
            let place = format!("{}: provider {:?}", path.display(), entry.id);
            let id_ok = !entry.id.is_empty()
                && entry.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !id_ok {
                bail!("{place}: an id is letters, digits, '-' and '_'");
            }
            let client_secret = match (entry.client_secret, entry.client_secret_env) {
                (Some(_), Some(_)) => bail!("{place}: give client_secret or client_secret_env, not both"),
                (Some(secret), None) => Some(secret),
                (None, Some(variable)) => {
                    Some(std::env::var(&variable).map_err(|_| anyhow!("{place}: {variable} is not set"))?)
                }
                (None, None) => None,
            };
            Ok(Provider {
                label: entry.label.unwrap_or_else(|| entry.id.clone()),
                party: RelyingParty {
                    issuer: issuer_at(&entry.issuer),
                    client_id: entry.client_id,
                    client_secret,
                    scopes: entry.scopes.unwrap_or_else(|| DEFAULT_SCOPES.to_owned()),
                    groups_claim: entry.groups_claim.unwrap_or_else(|| DEFAULT_GROUPS_CLAIM.to_owned()),
                },
                roles: role_grants(&entry.roles, &place)?,
                id: entry.id,
            })
        })
        .collect()
}

fn role_grants(texts: &[String], place: &str) -> Result<Vec<RoleGrant>> {
    texts
        .iter()
        .filter(|text| !text.trim().is_empty())
        .map(|text| RoleGrant::parse(text).map_err(|e| anyhow!("{place} {e}")))
        .collect()
}
