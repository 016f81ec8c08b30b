//! Bearer access tokens from a real OpenID provider (`oidc-provider` on 127.0.0.1, got by
//! client credentials) accepted by a real `tally serve` beside Basic auth: the scopes
//! claim grants Tally scopes, and a tampered, expired, misaddressed, foreign or unsigned
//! token is refused with the reason; after the provider rotates its signing key, tokens
//! signed with the new key are accepted.

mod oidc;
mod support;

use oidc::{Provider, decoded};
use serde_json::{Value, json};
use support::{Serving, tally_on as tally};
use test_support::{TestDatabase, backend_tests};

const ADMIN: (&str, &str) = ("ops", "bearer-secret");
const AUDIENCE: &str = "https://tally.test";

fn serving(db: &TestDatabase, provider: &Provider) -> Serving {
    serving_in(db, provider, "1")
}

/// A Tally whose token callers act in `store`.
fn serving_in(db: &TestDatabase, provider: &Provider, store: &str) -> Serving {
    let mut command = tally(db);
    command.env("TALLY_ADMIN_KEY", ADMIN.0).env("TALLY_ADMIN_SECRET", ADMIN.1);
    command.env("TALLY_OIDC_ISSUER", &provider.issuer).env("TALLY_OIDC_AUDIENCE", AUDIENCE);
    command.env("TALLY_OIDC_STORE", store);
    Serving::start(command)
}

/// Sends a request with `Authorization: Bearer <token>`; answers status, body and the
/// `WWW-Authenticate` challenge.
fn with_token(serving: &Serving, method: &str, path: &str, token: &str, body: &str) -> (u16, Value, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", serving.root()))
        .header("Authorization", format!("Bearer {token}"))
        .header("X-Experience-API-Version", "1.0.3")
        .header("Content-Type", "application/json")
        .body(body.as_bytes().to_vec())
        .expect("a request");
    let response = agent.run(request).expect("the server answers");
    let status = response.status().as_u16();
    let challenge =
        response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let text = response.into_body().read_to_string().unwrap_or_default();
    assert!(!text.contains(token), "the answer echoes the token: {text}");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null), challenge)
}

fn statement(name: &str) -> String {
    json!({
        "actor": { "mbox": format!("mailto:{name}@example.com") },
        "verb": { "id": "http://adlnet.gov/expapi/verbs/completed" },
        "object": { "id": format!("http://example.com/courses/{name}") },
    })
    .to_string()
}

/// Asserts that `token` is refused on the statements resource with `reason`.
fn refused(serving: &Serving, token: &str, reason: &str) {
    let (status, body, challenge) =
        with_token(serving, "POST", "/xapi/statements", token, &statement("refused"));
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["reason"], reason, "{body}");
    assert!(challenge.starts_with("Bearer ") && challenge.contains("invalid_token"), "{challenge}");
}

/// The token with one byte of its signature changed.
fn tampered(token: &str) -> String {
    let signature_at = token.rfind('.').unwrap() + 1;
    let mut bytes = token.as_bytes().to_vec();
    // A character in the middle of the signature: every one of its bits is signature.
    let middle = signature_at + (bytes.len() - signature_at) / 2;
    bytes[middle] = if bytes[middle] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

/// `claims` under `header`, with `token`'s signature.
fn reassembled(header_of: &str, claims_of: &str, signature_of: &str) -> String {
    let part = |token: &str, index: usize| token.split('.').nth(index).unwrap().to_owned();
    format!("{}.{}.{}", part(header_of, 0), part(claims_of, 1), part(signature_of, 2))
}

backend_tests! {
    fn the_scopes_claim_grants_tally_scopes_and_basic_auth_still_works(backend) {
        let db = TestDatabase::new(backend);
        let provider = Provider::start(AUDIENCE);
        let serving = serving(&db, &provider);

        let writer = provider.token("service", "tally:statements/write", None);
        let (status, body, _) = with_token(&serving, "POST", "/xapi/statements", &writer, &statement("written"));
        assert_eq!(status, 200, "{body}");
        let id = body[0].as_str().expect("the statement's id").to_owned();

        let reader = provider.token("service", "tally:statements/read", None);
        let (status, body, _) = with_token(&serving, "POST", "/xapi/statements", &reader, &statement("not-written"));
        assert_eq!(status, 403, "{body}");
        let (status, body, _) = with_token(&serving, "GET", &format!("/xapi/statements?statementId={id}"), &reader, "");
        assert_eq!(status, 200, "{body}");
        // The authority is the token's subject, an account on the issuer.
        assert_eq!(body["authority"]["account"], json!({ "homePage": provider.issuer, "name": "service" }), "{body}");

        let elliptic = provider.token("elliptic", "tally:statements/write", None);
        assert_eq!(decoded(&elliptic, 0)["alg"], "ES256");
        let (status, body, _) = with_token(&serving, "POST", "/xapi/statements", &elliptic, &statement("elliptic"));
        assert_eq!(status, 200, "{body}");

        // The insights and admin APIs take tokens too; an admin act is audited as the subject.
        let everything = provider.token("service", "tally:all tally:admin", None);
        let (status, body, _) = with_token(&serving, "GET", "/insights/status", &everything, "");
        assert_eq!(status, 200, "{body}");
        let (status, body, _) = with_token(&serving, "GET", "/insights/status", &writer, "");
        assert_eq!(status, 403, "{body}");
        let (status, body, _) = with_token(&serving, "POST", "/admin/stores", &everything, r#"{"name": "by token"}"#);
        assert_eq!(status, 201, "{body}");
        let (status, audit) = serving.call("GET", "/admin/audit?actor=oidc:service", ADMIN, "");
        assert_eq!(status, 200, "{audit}");
        assert!(audit.contains("oidc:service"), "{audit}");

        let (status, body) = serving.request("POST", ADMIN.0, ADMIN.1, &statement("basic"));
        assert_eq!(status, 200, "{body}");
        assert_eq!(serving.status_with(ADMIN.0, "wrong"), 401);
        let log = serving.log.value.lock().unwrap().clone();
        assert!(!log.contains(&writer) && !log.contains(&reader), "the log holds a token");
    }

    fn tokens_act_in_the_configured_store_while_it_exists_and_is_not_revoked(backend) {
        let db = TestDatabase::new(backend);
        let provider = Provider::start(AUDIENCE);
        let serving = serving_in(&db, &provider, "2");
        let token = provider.token("service", "tally:statements/write tally:statements/read", None);
        let (status, body, _) = with_token(&serving, "POST", "/xapi/statements", &token, &statement("early"));
        assert_eq!(status, 401, "no store 2 yet: {body}");

        let (status, body) = serving.call("POST", "/admin/stores", ADMIN, r#"{"name": "tokens"}"#);
        assert_eq!(status, 201, "{body}");
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["id"], 2, "{body}");
        let (status, body, _) = with_token(&serving, "POST", "/xapi/statements", &token, &statement("in-two"));
        assert_eq!(status, 200, "{body}");
        let path = format!("/xapi/statements?statementId={}", body[0].as_str().unwrap());
        let (status, body, _) = with_token(&serving, "GET", &path, &token, "");
        assert_eq!(status, 200, "{body}");
        let (status, body) = serving.call("GET", &path, ADMIN, "");
        assert_eq!(status, 404, "the default store does not hold it: {body}");

        let (status, body) = serving.call("DELETE", "/admin/stores/2", ADMIN, "");
        assert!(status < 300, "{status} {body}");
        let (status, body, _) = with_token(&serving, "GET", &path, &token, "");
        assert_eq!(status, 401, "the store is revoked: {body}");
    }

    fn refused_tokens_get_401_naming_the_reason(backend) {
        let db = TestDatabase::new(backend);
        let provider = Provider::start(AUDIENCE);
        let another_issuer = Provider::start(AUDIENCE);
        let serving = serving(&db, &provider);
        let good = provider.token("service", "tally:statements/write", None);
        let (status, body, _) = with_token(&serving, "POST", "/xapi/statements", &good, &statement("good"));
        assert_eq!(status, 200, "{body}");

        refused(&serving, &tampered(&good), "bad_signature");
        refused(&serving, &provider.token("expired", "tally:statements/write", None), "expired");
        refused(&serving, &provider.token("service", "tally:statements/write", Some("https://other.test")), "wrong_audience");
        let foreign = another_issuer.token("service", "tally:statements/write", None);
        refused(&serving, &foreign, "wrong_issuer");
        // Our issuer's claims under a key it does not publish (the other provider's).
        refused(&serving, &reassembled(&foreign, &good, &foreign), "unknown_key");
        // Claims signed by no one.
        let unsigned = format!("{}.{}.", base64_url(r#"{"alg":"none"}"#), good.split('.').nth(1).unwrap());
        refused(&serving, &unsigned, "unsupported_algorithm");
        refused(&serving, "not-a-jwt", "malformed");

        let log = serving.log.value.lock().unwrap().clone();
        assert!(!log.contains(&good) && !log.contains(&foreign), "the log holds a token");
    }

    fn a_token_signed_with_the_key_the_provider_rotated_to_is_accepted(backend) {
        let db = TestDatabase::new(backend);
        let mut provider = Provider::start(AUDIENCE);
        let serving = serving(&db, &provider);
        let before = provider.token("service", "tally:statements/write", None);
        let (status, body, _) = with_token(&serving, "POST", "/xapi/statements", &before, &statement("before"));
        assert_eq!(status, 200, "{body}");

        let new_key = provider.rotate();
        let after = provider.token("service", "tally:statements/write", None);
        assert_eq!(decoded(&after, 0)["kid"], new_key.as_str(), "the provider signs with its new key");
        assert_ne!(decoded(&before, 0)["kid"], decoded(&after, 0)["kid"]);
        let (status, body, _) = with_token(&serving, "POST", "/xapi/statements", &after, &statement("after"));
        assert_eq!(status, 200, "the keys were fetched again: {body}");
        // The old key is still published, so tokens signed before the rotation still work.
        let (status, body, _) = with_token(&serving, "POST", "/xapi/statements", &before, &statement("before-again"));
        assert_eq!(status, 200, "{body}");
        assert_eq!(provider.key_fetches(), 2, "once at the first token, once for the new key");

        // Made-up key ids do not make Tally fetch the keys again within the floor.
        for kid in ["made-up", "made-up-too"] {
            let header = base64_url(&json!({ "alg": "RS256", "kid": kid }).to_string());
            refused(&serving, &format!("{header}.{}", after.split_once('.').unwrap().1), "unknown_key");
        }
        assert_eq!(provider.key_fetches(), 2);
    }
}

fn base64_url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}
