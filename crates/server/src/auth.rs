//! Who is asking: HTTP Basic authentication against the credentials in the store.

use actix_web::HttpRequest;
use actix_web::http::header;
use serde_json::{Value, json};
use store::{CredentialStore, StoreId};

use crate::ApiError;
use crate::credentials::{parse_basic, verify};

/// An authenticated caller.
#[derive(Clone, Debug)]
pub struct Principal {
    pub store: StoreId,
    pub scopes: Vec<String>,
    /// The `authority` this caller's statements get (xAPI 1.0.3 Data §2.4.9).
    pub authority: Value,
}

/// Checks the request's Basic credentials; 401 when missing, unknown, revoked or wrong.
pub async fn authenticate<S: CredentialStore>(
    req: &HttpRequest,
    store: &S,
    authority_home_page: &str,
) -> Result<Principal, ApiError> {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(ApiError::Unauthorized)?;
    let (key, secret) = parse_basic(header).ok_or(ApiError::Unauthorized)?;
    let credential = store.credential(&key).await?.ok_or(ApiError::Unauthorized)?;
    if credential.revoked || !verify(&credential, &secret) {
        return Err(ApiError::Unauthorized);
    }
    let authority = json!({
        "objectType": "Agent",
        "name": credential.name,
        "account": { "homePage": authority_home_page, "name": credential.key },
    });
    Ok(Principal { store: credential.store, scopes: credential.scopes, authority })
}

impl Principal {
    /// 403 unless the credential holds one of `scopes` (the first names the one to ask for).
    pub fn require(&self, scopes: &[&str]) -> Result<(), ApiError> {
        if self.scopes.iter().any(|held| scopes.contains(&held.as_str())) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!("this credential needs the {} scope", scopes[0])))
        }
    }
}
