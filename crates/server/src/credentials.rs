//! API credentials: generation and verification of HTTP Basic key/secret pairs.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use store::{Credential, StoreId};
use subtle::ConstantTimeEq;
use xapi::Timestamp;

use crate::scopes::{self, Scope};

/// A name for a store or a credential: trimmed, 1 to 200 characters.
pub fn checked_name(name: &str) -> Result<String, &'static str> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        Err("must be 1 to 200 characters")
    } else {
        Ok(name.to_string())
    }
}

/// The scopes of a new credential: at least one, each known.
pub fn check_scopes(scopes: &[String]) -> Result<(), String> {
    if scopes.is_empty() {
        return Err("name at least one scope".into());
    }
    match scopes.iter().find(|s| Scope::parse(s).is_none()) {
        Some(unknown) => Err(format!("unknown scope {unknown:?}; known: {}", known_scopes())),
        None => Ok(()),
    }
}

/// Every scope's text, for messages.
pub fn known_scopes() -> String {
    scopes::join(&Scope::ALL, ", ")
}

/// A new credential and its secret, which exists only here: the store keeps its digest.
pub struct NewCredential {
    pub credential: Credential,
    pub secret: String,
}

impl std::fmt::Debug for NewCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewCredential")
            .field("credential", &self.credential)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Generates a credential with a random key and a random 256-bit secret.
pub fn generate(name: &str, store: StoreId, scopes: Vec<String>) -> Result<NewCredential, getrandom::Error> {
    let mut key = [0u8; 12];
    let mut secret = [0u8; 32];
    getrandom::fill(&mut key)?;
    getrandom::fill(&mut secret)?;
    let key: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let secret = URL_SAFE_NO_PAD.encode(secret);
    Ok(NewCredential { credential: with_secret(&key, &secret, name, store, scopes), secret })
}

/// A credential with a given key and secret (for the one configured through the environment).
pub fn with_secret(key: &str, secret: &str, name: &str, store: StoreId, scopes: Vec<String>) -> Credential {
    Credential {
        key: key.to_string(),
        store,
        name: name.to_string(),
        scopes,
        secret_sha256: digest(secret),
        created: Timestamp::now(),
        revoked: false,
        acts_for: None,
    }
}

pub fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Whether `secret` is the credential's secret, compared in constant time.
pub fn verify(credential: &Credential, secret: &str) -> bool {
    bool::from(digest(secret).ct_eq(&credential.secret_sha256))
}

/// Splits an `Authorization: Basic ...` header value into key and secret.
pub fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (key, secret) = decoded.split_once(':')?;
    Some((key.to_string(), secret.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_secret_verifies_and_a_wrong_one_does_not() {
        let new = generate("test", store::DEFAULT_STORE, vec!["all".into()]).unwrap();
        assert!(verify(&new.credential, &new.secret));
        assert!(!verify(&new.credential, "wrong"));
        assert!(new.secret.len() >= 43, "256 bits of entropy");
    }

    #[test]
    fn the_secret_never_appears_in_debug_output() {
        let new = generate("test", store::DEFAULT_STORE, vec![]).unwrap();
        assert!(!format!("{new:?}").contains(&new.secret));
    }

    #[test]
    fn basic_headers_are_parsed() {
        let header = format!("Basic {}", STANDARD.encode("key:se:cret"));
        assert_eq!(parse_basic(&header), Some(("key".into(), "se:cret".into())));
        assert_eq!(parse_basic("Bearer abc"), None);
        assert_eq!(parse_basic("Basic !!!"), None);
    }
}
