//! OAuth 2.0 bearer access tokens (RFC 6750) from one configured OpenID issuer, beside
//! Basic auth: a JWT the issuer signed, for Tally's audience, whose scopes claim grants
//! Tally scopes in one store. A service can then authenticate with its identity
//! provider's client credentials instead of a Tally secret.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value, json};
use store::StoreId;
use xapi::AgentKey;

use crate::auth::Principal;
use crate::oidc::{Issuer, TokenError, VerifyError};
use crate::scopes::Scope;

/// Why a bearer token gave no principal.
pub type BearerError = VerifyError;

/// How bearer tokens are checked and what they grant.
#[derive(Debug)]
pub struct BearerTokens {
    /// Shared with the web pages' sign-in when that uses the same issuer.
    pub issuer: Arc<Issuer>,
    /// The `aud` a token must carry.
    pub audience: String,
    /// The claim holding the token's scopes: a space-separated string or an array.
    pub scopes_claim: String,
    pub scope_map: ScopeMap,
    /// The store a token's caller acts in.
    pub store: StoreId,
}

/// Which token scope values grant which Tally scopes.
#[derive(Clone, Debug)]
pub struct ScopeMap {
    /// `<prefix><scope>` grants that scope (`tally:statements/write`); empty: none do.
    pub prefix: String,
    /// Values the identity provider spells its own way (`lrs.write` → `statements/write`).
    pub named: HashMap<String, Vec<Scope>>,
}

impl ScopeMap {
    /// The Tally scopes `values` grant; values it does not know grant nothing.
    pub fn grants<'a>(&self, values: impl IntoIterator<Item = &'a str>) -> Vec<Scope> {
        let mut granted = Vec::new();
        for value in values {
            let by_prefix = (!self.prefix.is_empty())
                .then(|| value.strip_prefix(self.prefix.as_str()).and_then(Scope::parse))
                .flatten();
            let named = self.named.get(value).into_iter().flatten().copied();
            for scope in by_prefix.into_iter().chain(named) {
                if !granted.contains(&scope) {
                    granted.push(scope);
                }
            }
        }
        granted
    }
}

impl BearerTokens {
    /// The caller a token stands for, once it is verified: an account on the issuer,
    /// named by its `sub`, with the scopes its scopes claim grants.
    pub async fn principal(&self, token: &str) -> Result<Principal, BearerError> {
        let claims = self.issuer.verify(token, &self.audience).await?;
        self.principal_of(&claims).ok_or(BearerError::Refused(TokenError::NoSubject))
    }

    fn principal_of(&self, claims: &Map<String, Value>) -> Option<Principal> {
        let subject = claims.get("sub").and_then(Value::as_str).filter(|sub| !sub.is_empty())?;
        let values: Vec<&str> = match claims.get(&self.scopes_claim) {
            Some(Value::String(text)) => text.split_whitespace().collect(),
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        // The caller is an account on the issuer (xAPI 1.0.3 Data §2.4.2.4).
        let authority = json!({
            "objectType": "Agent",
            "account": { "homePage": self.issuer.url(), "name": subject },
        });
        Some(Principal {
            key: format!("oidc:{subject}"),
            store: self.store,
            scopes: self.scope_map.grants(values),
            agent: authority.as_object().and_then(AgentKey::of)?,
            authority,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixed_and_named_values_grant_scopes_and_others_nothing() {
        let map = ScopeMap {
            prefix: "tally:".into(),
            named: HashMap::from([("lrs.write".to_owned(), vec![Scope::StatementsWrite])]),
        };
        let granted =
            map.grants(["tally:statements/read", "lrs.write", "tally:nonsense", "statements/read", "openid"]);
        assert_eq!(granted, vec![Scope::StatementsRead, Scope::StatementsWrite]);
        let unprefixed = ScopeMap { prefix: String::new(), named: HashMap::new() };
        assert!(unprefixed.grants(["statements/read"]).is_empty());
    }
}
