//! An OpenID issuer's signing keys: found through discovery (OpenID Connect Discovery 1.0
//! §4), fetched from its `jwks_uri`, kept in memory, and fetched again when a token names
//! a key not seen yet (the issuer rotated its keys), at most once per `refetch_floor`, so
//! tokens with made-up key ids cannot make Tally hammer the issuer.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::jwt::{Algorithm, Jwk};

/// How long one discovery or JWKS request may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// The issuer's discovery document or keys could not be had (503: the token may be fine).
#[derive(Clone, Debug, thiserror::Error)]
#[error("{0}")]
pub struct IssuerUnavailable(String);

/// One configured issuer and the keys it publishes.
#[derive(Debug)]
pub struct Issuer {
    /// Exactly as configured and as its tokens' `iss` and its discovery document say.
    url: String,
    refetch_floor: Duration,
    agent: ureq::Agent,
    /// Held across a fetch, so concurrent requests needing keys share one fetch.
    keys: tokio::sync::Mutex<KeyCache>,
}

#[derive(Debug, Default)]
struct KeyCache {
    jwks_uri: Option<String>,
    /// `None` until a fetch succeeds.
    keys: Option<Vec<Jwk>>,
    /// When keys were last fetched (or tried) because a token named an unknown key, or
    /// because the first fetch failed: what the floor counts from.
    last_refetch: Option<Instant>,
    last_failure: Option<IssuerUnavailable>,
}

impl Issuer {
    pub fn new(url: impl Into<String>, refetch_floor: Duration) -> Issuer {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(FETCH_TIMEOUT))
            .build()
            .into();
        Issuer { url: url.into(), refetch_floor, agent, keys: Default::default() }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The published key that verifies a token with this `kid` and `alg`, or `None` when
    /// the issuer publishes none, even after looking again (if the floor allows).
    pub async fn key(&self, kid: Option<&str>, alg: Algorithm) -> Result<Option<Jwk>, IssuerUnavailable> {
        let mut cache = self.keys.lock().await;
        if let Some(keys) = &cache.keys
            && let Some(key) = find(keys, kid, alg)
        {
            return Ok(Some(key.clone()));
        }
        let floor_passed = cache.last_refetch.is_none_or(|at| at.elapsed() >= self.refetch_floor);
        if cache.keys.is_some() || cache.last_failure.is_some() {
            if !floor_passed {
                return match &cache.last_failure {
                    Some(failure) if cache.keys.is_none() => Err(failure.clone()),
                    _ => Ok(None),
                };
            }
            cache.last_refetch = Some(Instant::now());
        }
        match self.fetch(&mut cache).await {
            Ok(keys) => {
                let key = find(&keys, kid, alg).cloned();
                cache.keys = Some(keys);
                cache.last_failure = None;
                Ok(key)
            }
            Err(failure) => {
                tracing::warn!(issuer = %self.url, error = %failure, "cannot fetch the issuer's keys");
                cache.last_failure = Some(failure.clone());
                cache.last_refetch = Some(Instant::now());
                match &cache.keys {
                    // Keys fetched before still stand; this token's key is just not among them.
                    Some(_) => Ok(None),
                    None => Err(failure),
                }
            }
        }
    }

    async fn fetch(&self, cache: &mut KeyCache) -> Result<Vec<Jwk>, IssuerUnavailable> {
        let jwks_uri = match &cache.jwks_uri {
            Some(uri) => uri.clone(),
            None => {
                let uri = self.discover().await?;
                cache.jwks_uri = Some(uri.clone());
                uri
            }
        };
        let jwks = self.get_json(jwks_uri).await?;
        let keys = jwks
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| IssuerUnavailable(format!("the JWKS of {} has no \"keys\" array", self.url)))?;
        Ok(keys.iter().filter_map(Jwk::parse).collect())
    }

    /// The `jwks_uri` of the issuer's discovery document, whose `issuer` must be the
    /// configured URL exactly (OpenID Connect Discovery 1.0 §4.3).
    async fn discover(&self) -> Result<String, IssuerUnavailable> {
        let url = format!("{}/.well-known/openid-configuration", self.url.trim_end_matches('/'));
        let document = self.get_json(url).await?;
        if document.get("issuer").and_then(Value::as_str) != Some(self.url.as_str()) {
            return Err(IssuerUnavailable(format!(
                "the discovery document of {} names another issuer ({})",
                self.url,
                document.get("issuer").unwrap_or(&Value::Null)
            )));
        }
        document.get("jwks_uri").and_then(Value::as_str).map(str::to_owned).ok_or_else(|| {
            IssuerUnavailable(format!("the discovery document of {} has no jwks_uri", self.url))
        })
    }

    async fn get_json(&self, url: String) -> Result<Value, IssuerUnavailable> {
        let agent = self.agent.clone();
        let fetched = tokio::task::spawn_blocking(move || -> Result<Value, String> {
            let mut response = agent.get(&url).call().map_err(|e| format!("GET {url}: {e}"))?;
            if response.status() != 200 {
                return Err(format!("GET {url}: HTTP {}", response.status()));
            }
            response.body_mut().read_json::<Value>().map_err(|e| format!("GET {url}: {e}"))
        })
        .await
        .map_err(|e| IssuerUnavailable(e.to_string()))?;
        fetched.map_err(IssuerUnavailable)
    }
}

/// The key for `kid` (any key that fits `alg` when the token names none).
fn find<'a>(keys: &'a [Jwk], kid: Option<&str>, alg: Algorithm) -> Option<&'a Jwk> {
    keys.iter().find(|key| key.allows(alg) && (kid.is_none() || key.kid.as_deref() == kid))
}
