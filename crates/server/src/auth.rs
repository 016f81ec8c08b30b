//! Who is asking: HTTP Basic authentication against the credentials in the store (or a
//! bearer token from the configured issuer, [`crate::bearer`]), the scopes a credential
//! holds, and a brake on guessing secrets.
//!
//! Credentials are read from the store for every request (one primary-key lookup, shared
//! by concurrent requests only when it started after they arrived: `lookups`), so a
//! revoked credential or store is refused on the very next request, on every server
//! process; only the secret's digest comparison happens here, in constant time.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use actix_web::http::header;
use actix_web::web::Data;
use serde_json::{Value, json};
use store::{Credential, CredentialReader, DEFAULT_STORE, StoreId, TenantReader};
use xapi::AgentKey;

use crate::bearer::BearerError;
use crate::credentials::{parse_basic, verify};
use crate::lookups::CredentialLookups;
use crate::scopes::{self, Scope, StatementAccess};
use crate::{ApiError, AppConfig};

/// An authenticated caller.
#[derive(Clone, Debug)]
pub struct Principal {
    /// The credential's key: who the audit log says acted.
    pub key: String,
    pub store: StoreId,
    pub scopes: Vec<Scope>,
    /// The `authority` this caller's statements get (xAPI 1.0.3 Data §2.4.9): the
    /// credential's own Agent, or a Group of it and the user it acts for.
    pub authority: Value,
    /// The credential's own Agent: what `statements/read/mine` matches.
    pub agent: AgentKey,
}

/// Checks the request's Basic credentials: 401 when missing, unknown, revoked or wrong;
/// 429 while the caller's address has failed too often. A bearer token instead is checked
/// against the configured issuer (401 naming why it was refused).
pub async fn authenticate<S: CredentialReader + TenantReader>(
    req: &HttpRequest,
    store: &S,
    config: &AppConfig,
) -> Result<Principal, ApiError> {
    let authorization = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if let Some(token) = authorization.and_then(bearer_token) {
        return authenticate_bearer(store, config, token).await;
    }
    authenticate_secret(req, store, config, authorization.and_then(parse_basic)).await
}

/// The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1).
fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// No brake here: a signed token cannot be guessed, and refusing one costs no lookup.
/// The token's store is read on every request, as a credential is, so revoking the store
/// (or configuring one that does not exist) refuses tokens at once.
async fn authenticate_bearer<S: TenantReader>(
    store: &S,
    config: &AppConfig,
    token: &str,
) -> Result<Principal, ApiError> {
    let Some(bearer_tokens) = &config.bearer_tokens else {
        return Err(ApiError::Unauthorized);
    };
    let principal = bearer_tokens.principal(token).await.map_err(|error| match error {
        BearerError::Refused(reason) => ApiError::BearerRefused(reason),
        BearerError::IssuerUnavailable(detail) => ApiError::IdentityProviderUnavailable(detail.to_string()),
    })?;
    match store.store_info(principal.store).await? {
        Some(info) if !info.revoked => Ok(principal),
        _ => Err(ApiError::Unauthorized),
    }
}

/// The same check for a key and secret that arrived another way than Basic auth (the web
/// pages' sign-in form), with the same brake on failed attempts.
pub async fn authenticate_secret<S: CredentialReader>(
    req: &HttpRequest,
    store: &S,
    config: &AppConfig,
    credential: Option<(String, String)>,
) -> Result<Principal, ApiError> {
    let brake = req.app_data::<Data<FailedLogins>>().filter(|brake| brake.limit > 0);
    // Behind a trusted proxy, the client is who the proxy says it is; otherwise the peer.
    let address = config.trusted_proxies.client_address(req.peer_addr().map(|a| a.ip()), req.headers());
    if let (Some(brake), Some(address)) = (brake, address) {
        brake.check(address)?;
    }
    let lookups = req.app_data::<Data<CredentialLookups>>();
    let result = match credential {
        Some((key, secret)) => verify_secret(store, lookups, config, &key, &secret).await,
        None => Err(ApiError::Unauthorized),
    };
    if let (Err(ApiError::Unauthorized), Some(brake), Some(address)) = (&result, brake, address) {
        brake.record(address);
    }
    result
}

async fn verify_secret<S: CredentialReader>(
    store: &S,
    lookups: Option<&Data<CredentialLookups>>,
    config: &AppConfig,
    key: &str,
    secret: &str,
) -> Result<Principal, ApiError> {
    let credential = match lookups {
        Some(lookups) => lookups.credential(key, || store.credential(key)).await,
        None => store.credential(key).await,
    };
    let credential = credential?.ok_or(ApiError::Unauthorized)?;
    if credential.revoked || !verify(&credential, secret) {
        return Err(ApiError::Unauthorized);
    }
    principal_of(credential, config).ok_or(ApiError::Unauthorized)
}

/// Who a credential acts as, once its secret is verified (or a session vouches for it):
/// its store, scopes and authority.
pub fn principal_of(credential: Credential, config: &AppConfig) -> Option<Principal> {
    let own = json!({
        "objectType": "Agent",
        "name": credential.name,
        "account": { "homePage": config.authority_home_page, "name": credential.key },
    });
    let agent = own.as_object().and_then(AgentKey::of)?;
    let authority = match credential.acts_for {
        Some(user) => json!({ "objectType": "Group", "member": [own, user] }),
        None => own,
    };
    Some(Principal {
        key: credential.key,
        store: credential.store,
        scopes: Scope::parse_all(&credential.scopes),
        authority,
        agent,
    })
}

impl Principal {
    /// Whether the credential holds `scope`.
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// Which statements the credential may read, if any.
    pub fn statement_access(&self) -> Option<StatementAccess> {
        scopes::statement_access(&self.scopes)
    }

    /// 403 unless the credential holds one of `scopes` (the first names the one to ask for).
    pub fn require(&self, scopes: &[Scope]) -> Result<(), ApiError> {
        if scopes::holds(&self.scopes, scopes) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!("this credential needs the {} scope", scopes[0])))
        }
    }

    /// Administers every store: the `admin` scope on a credential of the default store
    /// (such as the one made from `TALLY_ADMIN_KEY`). An `admin` credential of another
    /// store administers that store only.
    pub fn is_instance_admin(&self) -> bool {
        self.has(Scope::Admin) && self.store == DEFAULT_STORE
    }
}

/// Failed authentications per client address, so secrets cannot be guessed online: past
/// the limit within a minute, that address gets 429 until the minute is over. Kept per
/// process; the limit is `--auth-failures-per-minute` (0: no brake). The address is the
/// TCP peer's, or the forwarded client's behind `--trusted-proxies`.
#[derive(Debug)]
pub struct FailedLogins {
    limit: u32,
    window: Duration,
    by_address: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl FailedLogins {
    pub fn new(limit_per_minute: u32) -> FailedLogins {
        FailedLogins {
            limit: limit_per_minute,
            window: Duration::from_secs(60),
            by_address: Mutex::default(),
        }
    }

    fn check(&self, address: IpAddr) -> Result<(), ApiError> {
        if self.limit == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let Ok(map) = self.by_address.lock() else { return Ok(()) };
        match map.get(&address) {
            Some(&(since, failures)) if failures >= self.limit && now < since + self.window => {
                Err(ApiError::TooManyRequests((since + self.window - now).as_secs().max(1)))
            }
            _ => Ok(()),
        }
    }

    fn record(&self, address: IpAddr) {
        if self.limit == 0 {
            return;
        }
        let now = Instant::now();
        let Ok(mut map) = self.by_address.lock() else { return };
        // Forget addresses whose window is over, so the map stays small.
        if map.len() > 10_000 {
            map.retain(|_, (since, _)| now < *since + self.window);
        }
        let entry = map.entry(address).or_insert((now, 0));
        if now >= entry.0 + self.window {
            *entry = (now, 0);
        }
        entry.1 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_slowed_after_the_limit_and_others_are_not() {
        let brake = FailedLogins::new(3);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..3 {
            assert!(brake.check(a).is_ok());
            brake.record(a);
        }
        assert!(matches!(brake.check(a), Err(ApiError::TooManyRequests(seconds)) if seconds <= 60));
        assert!(brake.check(b).is_ok());
    }

    #[test]
    fn a_limit_of_zero_turns_the_brake_off() {
        let brake = FailedLogins::new(0);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..100 {
            brake.record(a);
        }
        assert!(brake.check(a).is_ok());
    }
}
