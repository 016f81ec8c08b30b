//! Signing a person in through an OpenID provider: the authorization code flow with PKCE
//! (RFC 7636), `state` and `nonce` (OpenID Connect Core 1.0 §3.1), and the ID token's
//! checks (§3.1.3.7). Discovery and the signing keys are [`Issuer`]'s, shared with bearer
//! tokens, so a key rotation is followed the same way.
//!
//! The caller keeps `state`, `nonce` and the code verifier between the two legs (the web
//! pages keep them server-side, bound to the browser by a cookie).

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::issuer::{Issuer, IssuerUnavailable, Metadata, Request, VerifyError};
use super::jwt::TokenError;

/// One OpenID provider the pages sign people in with, as a registered client of it.
#[derive(Debug)]
pub struct RelyingParty {
    pub issuer: Arc<Issuer>,
    pub client_id: String,
    /// `None` for a public client, which proves itself by PKCE alone.
    pub client_secret: Option<String>,
    /// The scopes asked for (space-separated, `openid` among them).
    pub scopes: String,
    /// The claim that carries the person's groups: in the ID token, else in the userinfo
    /// answer. An array of names, or one name (Google's `hd`, say).
    pub groups_claim: String,
}

/// Where the browser is sent, and what finishing the sign-in needs.
#[derive(Debug)]
pub struct Authorization {
    /// The provider's authorization endpoint, the request in its query.
    pub url: String,
    pub state: String,
    pub nonce: String,
    /// The PKCE code verifier; its S256 challenge went with the request.
    pub verifier: String,
}

/// A person the provider vouched for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    pub subject: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub username: Option<String>,
    pub groups: Vec<String>,
}

/// Why a sign-in did not finish.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The ID token failed a check (401).
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The provider refused the code or answered what no provider should (401).
    #[error("{0}")]
    Refused(String),
    /// The provider could not be reached, or failed (503: trying again may work).
    #[error(transparent)]
    Unavailable(#[from] IssuerUnavailable),
}

impl From<VerifyError> for SignInError {
    fn from(error: VerifyError) -> SignInError {
        match error {
            VerifyError::Refused(reason) => SignInError::Token(reason),
            VerifyError::IssuerUnavailable(detail) => SignInError::Unavailable(detail),
        }
    }
}

impl RelyingParty {
    /// A new authorization request (fresh `state`, `nonce` and verifier) that comes back to
    /// `redirect_uri`.
    pub async fn authorization(&self, redirect_uri: &str) -> Result<Authorization, IssuerUnavailable> {
        let metadata = self.issuer.metadata().await?;
        let endpoint = self.endpoint(metadata.authorization_endpoint, "authorization_endpoint")?;
        let (state, nonce, verifier) = (random()?, random()?, random()?);
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &self.scopes)
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &challenge(&verifier))
            .append_pair("code_challenge_method", "S256")
            .finish();
        let separator = if endpoint.contains('?') { '&' } else { '?' };
        Ok(Authorization { url: format!("{endpoint}{separator}{query}"), state, nonce, verifier })
    }

    /// Redeems the code the provider sent back, checks the ID token (signature, issuer,
    /// audience, authorized party, expiry, the sign-in's nonce) and answers who signed in.
    pub async fn redeem(
        &self,
        code: &str,
        verifier: &str,
        nonce: &str,
        redirect_uri: &str,
    ) -> Result<Identity, SignInError> {
        let metadata = self.issuer.metadata().await?;
        let endpoint = self.endpoint(metadata.token_endpoint.clone(), "token_endpoint")?;
        let mut form = vec![
            ("grant_type".to_owned(), "authorization_code".to_owned()),
            ("code".to_owned(), code.to_owned()),
            ("redirect_uri".to_owned(), redirect_uri.to_owned()),
            ("code_verifier".to_owned(), verifier.to_owned()),
        ];
        let basic = self.client_authentication(&metadata, &mut form);
        let (status, answer) = self.issuer.call(Request::PostForm { url: endpoint, basic, form }).await?;
        if status >= 500 {
            return Err(IssuerUnavailable(format!("the token endpoint answered HTTP {status}")).into());
        }
        if status != 200 {
            return Err(SignInError::Refused(format!(
                "the token endpoint refused the code: {}",
                oauth_error(&answer, status)
            )));
        }
        let id_token = answer
            .get("id_token")
            .and_then(Value::as_str)
            .ok_or_else(|| SignInError::Refused("the token endpoint answered no ID token".into()))?;
        let claims = self.issuer.verify(id_token, &self.client_id).await?;
        check_id_token(&claims, &self.client_id, nonce)?;
        let mut identity = identity_of(&claims, &self.groups_claim).ok_or(TokenError::NoSubject)?;
        // Many providers keep claims beyond `sub` for the userinfo endpoint (OpenID Connect
        // Core 1.0 §5.4), groups among them.
        if !claims.contains_key(&self.groups_claim)
            && let (Some(url), Some(access_token)) =
                (metadata.userinfo_endpoint, answer.get("access_token").and_then(Value::as_str))
        {
            let request = Request::Get { url, bearer: Some(access_token.to_owned()) };
            let (status, info) = self.issuer.call(request).await?;
            let info = info.as_object().filter(|_| status == 200).ok_or_else(|| {
                SignInError::Refused(format!("the userinfo endpoint answered HTTP {status} and no claims"))
            })?;
            identity.merge_userinfo(info, &self.groups_claim)?;
        }
        Ok(identity)
    }

    fn endpoint(&self, endpoint: Option<String>, name: &str) -> Result<String, IssuerUnavailable> {
        endpoint.ok_or_else(|| {
            IssuerUnavailable(format!("the discovery document of {} has no {name}", self.issuer.url()))
        })
    }

    /// How this client proves itself at the token endpoint: HTTP Basic (RFC 6749 §2.3.1,
    /// the default), its secret in the form where the provider takes only that, or its id
    /// alone (a public client: PKCE is the proof).
    fn client_authentication(&self, metadata: &Metadata, form: &mut Vec<(String, String)>) -> Option<String> {
        let Some(secret) = &self.client_secret else {
            form.push(("client_id".to_owned(), self.client_id.clone()));
            return None;
        };
        let methods = &metadata.token_endpoint_auth_methods;
        let post_only = !methods.is_empty()
            && !methods.iter().any(|m| m == "client_secret_basic")
            && methods.iter().any(|m| m == "client_secret_post");
        if post_only {
            form.push(("client_id".to_owned(), self.client_id.clone()));
            form.push(("client_secret".to_owned(), secret.clone()));
            return None;
        }
        let encode = |text: &str| form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
        Some(STANDARD.encode(format!("{}:{}", encode(&self.client_id), encode(secret))))
    }
}

impl Identity {
    /// Fills what this identity lacks from the userinfo endpoint's answer, which must be
    /// about the same person (OpenID Connect Core 1.0 §5.3.2).
    fn merge_userinfo(&mut self, info: &Map<String, Value>, groups_claim: &str) -> Result<(), SignInError> {
        match identity_of(info, groups_claim) {
            Some(other) if other.subject == self.subject => {
                self.merge(other);
                Ok(())
            }
            _ => Err(SignInError::Refused("the userinfo endpoint answered for another person".into())),
        }
    }

    fn merge(&mut self, other: Identity) {
        self.name = self.name.take().or(other.name);
        self.email = self.email.take().or(other.email);
        self.username = self.username.take().or(other.username);
        if self.groups.is_empty() {
            self.groups = other.groups;
        }
    }
}

/// The ID token checks beyond a JWT's (OpenID Connect Core 1.0 §3.1.3.7): with several
/// audiences `azp` must name this client, and when present it must; the `nonce` must be
/// the one this sign-in sent.
fn check_id_token(claims: &Map<String, Value>, client_id: &str, nonce: &str) -> Result<(), TokenError> {
    let several_audiences = claims.get("aud").and_then(Value::as_array).is_some_and(|aud| aud.len() > 1);
    match claims.get("azp").and_then(Value::as_str) {
        Some(party) if party != client_id => return Err(TokenError::WrongParty),
        None if several_audiences => return Err(TokenError::WrongParty),
        _ => {}
    }
    if claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
        return Err(TokenError::WrongNonce);
    }
    Ok(())
}

/// Who a set of claims names, or `None` without a `sub`.
fn identity_of(claims: &Map<String, Value>, groups_claim: &str) -> Option<Identity> {
    let text =
        |name: &str| claims.get(name).and_then(Value::as_str).filter(|t| !t.is_empty()).map(str::to_owned);
    let groups = match claims.get(groups_claim) {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        Some(Value::String(one)) if !one.is_empty() => vec![one.clone()],
        _ => Vec::new(),
    };
    Some(Identity {
        subject: text("sub")?,
        name: text("name"),
        email: text("email"),
        username: text("preferred_username"),
        groups,
    })
}

/// What an OAuth error answer says (RFC 6749 §5.2), for the person who signs in.
fn oauth_error(answer: &Value, status: u16) -> String {
    match (
        answer.get("error").and_then(Value::as_str),
        answer.get("error_description").and_then(Value::as_str),
    ) {
        (Some(error), Some(description)) => format!("{error} ({description})"),
        (Some(error), None) => error.to_owned(),
        _ => format!("HTTP {status}"),
    }
}

/// 256 random bits, base64url: a `state`, `nonce` or code verifier (RFC 7636 §4.1 asks 43
/// to 128 unreserved characters; this is 43).
fn random() -> Result<String, IssuerUnavailable> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| IssuerUnavailable(format!("no randomness for a sign-in: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The S256 code challenge of a verifier (RFC 7636 §4.2).
fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn the_code_challenge_is_rfc_7636s() {
        // RFC 7636 Appendix B.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(random().unwrap().len(), 43);
    }

    #[test]
    fn an_id_token_must_carry_this_sign_ins_nonce_and_name_this_client_as_its_party() {
        let good = claims(json!({"aud": "tally", "nonce": "n1"}));
        assert_eq!(check_id_token(&good, "tally", "n1"), Ok(()));
        assert_eq!(check_id_token(&good, "tally", "n2"), Err(TokenError::WrongNonce));
        let no_nonce = claims(json!({"aud": "tally"}));
        assert_eq!(check_id_token(&no_nonce, "tally", "n1"), Err(TokenError::WrongNonce));
        let shared = claims(json!({"aud": ["tally", "other"], "nonce": "n1"}));
        assert_eq!(check_id_token(&shared, "tally", "n1"), Err(TokenError::WrongParty));
        let shared_for_us = claims(json!({"aud": ["tally", "other"], "azp": "tally", "nonce": "n1"}));
        assert_eq!(check_id_token(&shared_for_us, "tally", "n1"), Ok(()));
        let for_other = claims(json!({"aud": "tally", "azp": "other", "nonce": "n1"}));
        assert_eq!(check_id_token(&for_other, "tally", "n1"), Err(TokenError::WrongParty));
    }

    #[test]
    fn groups_are_an_array_or_one_name_and_userinfo_fills_what_the_id_token_lacks() {
        let token = claims(json!({"sub": "u1", "email": "ada@example.com"}));
        let mut identity = identity_of(&token, "groups").unwrap();
        assert!(identity.groups.is_empty());
        let info = claims(
            json!({"sub": "u1", "name": "Ada", "email": "other@example.com", "groups": ["a", 7, "b"]}),
        );
        identity.merge_userinfo(&info, "groups").unwrap();
        assert_eq!(identity.name.as_deref(), Some("Ada"));
        assert_eq!(identity.email.as_deref(), Some("ada@example.com"), "the ID token's own claims stand");
        assert_eq!(identity.groups, ["a", "b"]);
        for someone_else in [json!({"sub": "u9", "groups": ["admins"]}), json!({"groups": ["admins"]})] {
            let mut identity = identity_of(&token, "groups").unwrap();
            let refused = identity.merge_userinfo(&claims(someone_else), "groups");
            assert!(matches!(refused, Err(SignInError::Refused(_))), "{refused:?}");
            assert!(identity.groups.is_empty(), "nothing of another person's answer is taken");
        }
        let google = claims(json!({"sub": "u2", "hd": "example.com"}));
        assert_eq!(identity_of(&google, "hd").unwrap().groups, ["example.com"]);
        assert_eq!(identity_of(&claims(json!({"sub": ""})), "groups"), None);
    }

    #[test]
    fn a_client_secret_goes_in_basic_auth_unless_the_provider_takes_it_only_in_the_form() {
        let party = |secret: Option<&str>| RelyingParty {
            issuer: Arc::new(Issuer::new("https://id.example", std::time::Duration::ZERO)),
            client_id: "tally app".into(),
            client_secret: secret.map(str::to_owned),
            scopes: "openid".into(),
            groups_claim: "groups".into(),
        };
        let metadata = |methods: &[&str]| Metadata {
            authorization_endpoint: None,
            token_endpoint: None,
            userinfo_endpoint: None,
            jwks_uri: String::new(),
            token_endpoint_auth_methods: methods.iter().map(|m| m.to_string()).collect(),
        };
        let mut form = Vec::new();
        let basic = party(Some("s:1")).client_authentication(&metadata(&[]), &mut form);
        assert_eq!(basic, Some(STANDARD.encode("tally+app:s%3A1")));
        assert!(form.is_empty());
        let basic = party(Some("s")).client_authentication(&metadata(&["client_secret_post"]), &mut form);
        assert_eq!(basic, None);
        assert_eq!(form, [("client_id".into(), "tally app".into()), ("client_secret".into(), "s".into())]);
        form.clear();
        assert_eq!(party(None).client_authentication(&metadata(&[]), &mut form), None);
        assert_eq!(form, [("client_id".to_owned(), "tally app".to_owned())]);
    }
}
