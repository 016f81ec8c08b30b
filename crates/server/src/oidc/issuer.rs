//! An OpenID issuer: its discovery document (OpenID Connect Discovery 1.0 §4), read once
//! and kept, and its signing keys, fetched from its `jwks_uri`, kept in memory, and fetched
//! again when a token names a key not seen yet (the issuer rotated its keys), at most once
//! per `refetch_floor`, so tokens with made-up key ids cannot make Tally hammer the issuer.
//! Also the few HTTP calls a relying party makes to it (the token and userinfo endpoints).

use std::time::{Duration, Instant};

use serde_json::Value;

use serde_json::Map;

use super::jwt::{Algorithm, ClaimChecks, Jwk, TokenError, UnverifiedToken};

/// Seconds of clock difference with the issuer forgiven on `exp` and `nbf`.
const LEEWAY_SECONDS: i64 = 30;

/// How long one discovery or JWKS request may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// The issuer's discovery document or keys could not be had (503: the token may be fine).
#[derive(Clone, Debug, thiserror::Error)]
#[error("{0}")]
pub struct IssuerUnavailable(pub(crate) String);

/// Why a token the issuer supposedly signed gave no claims.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Refused(#[from] TokenError),
    #[error(transparent)]
    IssuerUnavailable(#[from] IssuerUnavailable),
}

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

/// What the discovery document says of the issuer's endpoints.
#[derive(Clone, Debug)]
pub struct Metadata {
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: String,
    /// How clients may authenticate at the token endpoint (empty: the default, Basic).
    pub token_endpoint_auth_methods: Vec<String>,
}

#[derive(Debug, Default)]
struct KeyCache {
    metadata: Option<Metadata>,
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

    /// The claims of a JWT this issuer signed for `audience`, valid now: its signature
    /// against the published keys, `iss`, `aud`, `exp` and `nbf` checked.
    pub async fn verify(&self, token: &str, audience: &str) -> Result<Map<String, Value>, VerifyError> {
        let token = UnverifiedToken::decode(token)?;
        // Another issuer's token is refused before its key is looked up: a token cannot
        // make Tally fetch keys for nothing.
        if token.claimed_issuer() != Some(self.url.as_str()) {
            return Err(TokenError::WrongIssuer.into());
        }
        let key = self.key(token.kid.as_deref(), token.alg).await?.ok_or(TokenError::UnknownKey)?;
        let checks =
            ClaimChecks { issuer: self.url.clone(), audience: audience.to_owned(), leeway: LEEWAY_SECONDS };
        Ok(token.verify(&key, &checks, unix_now())?)
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

    /// The issuer's endpoints, from its discovery document (read once, then kept). After a
    /// failure the issuer is not asked again before the floor has passed: a sign-in page
    /// reloaded during an outage cannot make Tally hammer the issuer either.
    pub async fn metadata(&self) -> Result<Metadata, IssuerUnavailable> {
        let mut cache = self.keys.lock().await;
        if cache.metadata.is_none()
            && let (Some(failure), Some(at)) = (&cache.last_failure, cache.last_refetch)
            && at.elapsed() < self.refetch_floor
        {
            return Err(failure.clone());
        }
        let discovered = self.discovered(&mut cache).await;
        if let Err(failure) = &discovered {
            cache.last_failure = Some(failure.clone());
            cache.last_refetch = Some(Instant::now());
        }
        discovered
    }

    async fn discovered(&self, cache: &mut KeyCache) -> Result<Metadata, IssuerUnavailable> {
        if let Some(metadata) = &cache.metadata {
            return Ok(metadata.clone());
        }
        let metadata = self.discover().await?;
        cache.metadata = Some(metadata.clone());
        Ok(metadata)
    }

    async fn fetch(&self, cache: &mut KeyCache) -> Result<Vec<Jwk>, IssuerUnavailable> {
        let jwks_uri = self.discovered(cache).await?.jwks_uri;
        let jwks = self.get_json(jwks_uri).await?;
        let keys = jwks
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| IssuerUnavailable(format!("the JWKS of {} has no \"keys\" array", self.url)))?;
        Ok(keys.iter().filter_map(Jwk::parse).collect())
    }

    /// The issuer's discovery document, whose `issuer` must be the configured URL exactly
    /// (OpenID Connect Discovery 1.0 §4.3).
    async fn discover(&self) -> Result<Metadata, IssuerUnavailable> {
        let url = format!("{}/.well-known/openid-configuration", self.url.trim_end_matches('/'));
        let document = self.get_json(url).await?;
        if document.get("issuer").and_then(Value::as_str) != Some(self.url.as_str()) {
            return Err(IssuerUnavailable(format!(
                "the discovery document of {} names another issuer ({})",
                self.url,
                document.get("issuer").unwrap_or(&Value::Null)
            )));
        }
        let text = |name: &str| document.get(name).and_then(Value::as_str).map(str::to_owned);
        let jwks_uri = text("jwks_uri").ok_or_else(|| {
            IssuerUnavailable(format!("the discovery document of {} has no jwks_uri", self.url))
        })?;
        let methods = document.get("token_endpoint_auth_methods_supported").and_then(Value::as_array);
        Ok(Metadata {
            authorization_endpoint: text("authorization_endpoint"),
            token_endpoint: text("token_endpoint"),
            userinfo_endpoint: text("userinfo_endpoint"),
            jwks_uri,
            token_endpoint_auth_methods: methods
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        })
    }

    async fn get_json(&self, url: String) -> Result<Value, IssuerUnavailable> {
        let (status, body) = self.call(Request::Get { url: url.clone(), bearer: None }).await?;
        if status != 200 {
            return Err(IssuerUnavailable(format!("GET {url}: HTTP {status}")));
        }
        Ok(body)
    }

    /// Sends one request to the issuer and answers its status and JSON body (`null` when the
    /// body is not JSON). Only a request that got no answer at all is an error.
    pub async fn call(&self, request: Request) -> Result<(u16, Value), IssuerUnavailable> {
        let agent = self.agent.clone();
        let answered = tokio::task::spawn_blocking(move || -> Result<(u16, Value), String> {
            let (label, response) = match request {
                Request::Get { url, bearer } => {
                    let mut get = agent.get(&url).header("Accept", "application/json");
                    if let Some(token) = bearer {
                        get = get.header("Authorization", format!("Bearer {token}"));
                    }
                    (format!("GET {url}"), get.call())
                }
                Request::PostForm { url, basic, form } => {
                    let mut post = agent.post(&url).header("Accept", "application/json");
                    if let Some(basic) = basic {
                        post = post.header("Authorization", format!("Basic {basic}"));
                    }
                    let pairs = form.iter().map(|(name, value)| (name.as_str(), value.as_str()));
                    (format!("POST {url}"), post.send_form(pairs))
                }
            };
            let mut response = response.map_err(|e| format!("{label}: {e}"))?;
            let status = response.status().as_u16();
            Ok((status, response.body_mut().read_json::<Value>().unwrap_or(Value::Null)))
        })
        .await
        .map_err(|e| IssuerUnavailable(e.to_string()))?;
        answered.map_err(IssuerUnavailable)
    }
}

/// A request to one of the issuer's endpoints.
#[derive(Debug)]
pub enum Request {
    /// With an access token, for the userinfo endpoint.
    Get { url: String, bearer: Option<String> },
    /// A form, with client authentication (`base64(id:secret)`) when it has one.
    PostForm { url: String, basic: Option<String>, form: Vec<(String, String)> },
}

/// The key for `kid` (any key that fits `alg` when the token names none).
fn find<'a>(keys: &'a [Jwk], kid: Option<&str>, alg: Algorithm) -> Option<&'a Jwk> {
    keys.iter().find(|key| key.allows(alg) && (kid.is_none() || key.kid.as_deref() == kid))
}

pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failed_discovery_is_not_tried_again_before_the_floor() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = accepted.clone();
        // Answers every connection with something that is not HTTP, and counts them.
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                drop(stream);
            }
        });
        let issuer = Issuer::new(url, Duration::from_secs(3600));
        assert!(issuer.metadata().await.is_err());
        assert!(issuer.metadata().await.is_err());
        assert!(issuer.key(None, Algorithm::RS256).await.is_err());
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1, "one attempt within the floor");
    }
}
