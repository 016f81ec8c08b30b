//! JSON Web Tokens signed with JWS compact serialization (RFC 7515, RFC 7519): decoding,
//! the signature against one JSON Web Key (RFC 7517), and the registered claims.
//! Signatures are verified by `ring`, which the TLS stack already builds.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde_json::{Map, Value};

/// Why a token was refused. The messages name the reason and never the token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not a signed JWT")]
    Malformed,
    /// `none`, a MAC (a shared secret is no identity provider's key) or one not supported.
    #[error("the token's algorithm is not accepted (RS256, RS384, RS512, ES256, ES384 are)")]
    UnsupportedAlgorithm,
    #[error("the token is signed with a key its issuer does not publish")]
    UnknownKey,
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token is from another issuer")]
    WrongIssuer,
    #[error("the token is for another audience")]
    WrongAudience,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token names no subject")]
    NoSubject,
    /// An ID token whose `nonce` is not the one this sign-in sent: replayed or injected.
    #[error("the ID token was not issued for this sign-in (its nonce differs)")]
    WrongNonce,
    /// An ID token for several audiences whose authorized party is another client.
    #[error("the ID token was issued to another client (azp)")]
    WrongParty,
}

impl TokenError {
    /// A short code for the reason, stable for clients to match on.
    pub const fn code(&self) -> &'static str {
        match self {
            TokenError::Malformed => "malformed",
            TokenError::UnsupportedAlgorithm => "unsupported_algorithm",
            TokenError::UnknownKey => "unknown_key",
            TokenError::BadSignature => "bad_signature",
            TokenError::WrongIssuer => "wrong_issuer",
            TokenError::WrongAudience => "wrong_audience",
            TokenError::Expired => "expired",
            TokenError::NotYetValid => "not_yet_valid",
            TokenError::NoSubject => "no_subject",
            TokenError::WrongNonce => "wrong_nonce",
            TokenError::WrongParty => "wrong_party",
        }
    }
}

/// The asymmetric JWS algorithms accepted (RFC 7518 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    RS256,
    RS384,
    RS512,
    ES256,
    ES384,
}

impl Algorithm {
    fn parse(name: &str) -> Option<Algorithm> {
        Some(match name {
            "RS256" => Algorithm::RS256,
            "RS384" => Algorithm::RS384,
            "RS512" => Algorithm::RS512,
            "ES256" => Algorithm::ES256,
            "ES384" => Algorithm::ES384,
            _ => return None,
        })
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
        }
    }
}

/// One public signing key of an issuer's JWKS.
#[derive(Clone, Debug)]
pub struct Jwk {
    pub kid: Option<String>,
    /// The one algorithm the key is for, when the JWK names it (`alg`).
    alg: Option<String>,
    material: KeyMaterial,
}

#[derive(Clone, Debug)]
enum KeyMaterial {
    /// Big-endian modulus and exponent without leading zeros, as `ring` takes them.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// The uncompressed point `0x04 || x || y` on the named curve.
    Ec { curve: Curve, point: Vec<u8> },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
}

impl Jwk {
    /// The key a JWK describes, or `None` for one that is not for signatures or of a type
    /// this verifier does not know (a JWKS may hold those; they are skipped).
    pub fn parse(jwk: &Value) -> Option<Jwk> {
        let bytes = |name: &str| jwk.get(name)?.as_str().and_then(|text| URL_SAFE_NO_PAD.decode(text).ok());
        if jwk.get("use").is_some_and(|usage| usage != "sig") {
            return None;
        }
        let material = match jwk.get("kty")?.as_str()? {
            "RSA" => KeyMaterial::Rsa {
                n: without_leading_zeros(bytes("n")?),
                e: without_leading_zeros(bytes("e")?),
            },
            "EC" => {
                let (curve, width) = match jwk.get("crv")?.as_str()? {
                    "P-256" => (Curve::P256, 32),
                    "P-384" => (Curve::P384, 48),
                    _ => return None,
                };
                let (x, y) = (bytes("x")?, bytes("y")?);
                if x.len() != width || y.len() != width {
                    return None;
                }
                KeyMaterial::Ec { curve, point: [&[4u8][..], &x, &y].concat() }
            }
            _ => return None,
        };
        Some(Jwk {
            kid: jwk.get("kid").and_then(Value::as_str).map(str::to_owned),
            alg: jwk.get("alg").and_then(Value::as_str).map(str::to_owned),
            material,
        })
    }

    /// Whether a token signed with `alg` may be verified with this key: the key's type
    /// fits the algorithm, and the key names no other algorithm (RFC 7517 §4.4).
    pub fn allows(&self, alg: Algorithm) -> bool {
        let fits = matches!(
            (&self.material, alg),
            (KeyMaterial::Rsa { .. }, Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512)
                | (KeyMaterial::Ec { curve: Curve::P256, .. }, Algorithm::ES256)
                | (KeyMaterial::Ec { curve: Curve::P384, .. }, Algorithm::ES384)
        );
        fits && self.alg.as_deref().is_none_or(|named| named == alg.as_str())
    }

    fn verifies(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        match &self.material {
            KeyMaterial::Rsa { n, e } => {
                let parameters = match alg {
                    Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                    Algorithm::ES256 | Algorithm::ES384 => return false,
                };
                RsaPublicKeyComponents { n, e }.verify(parameters, message, signature).is_ok()
            }
            KeyMaterial::Ec { point, .. } => {
                // JWS carries ECDSA signatures as fixed-width R || S (RFC 7518 §3.4).
                let parameters = match alg {
                    Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
                    Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
                    Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => return false,
                };
                UnparsedPublicKey::new(parameters, point).verify(message, signature).is_ok()
            }
        }
    }
}

fn without_leading_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|&&byte| byte == 0).count();
    bytes.drain(..zeros.min(bytes.len().saturating_sub(1)));
    bytes
}

/// A token split into its parts, its claims readable but not yet to be trusted.
#[derive(Debug)]
pub struct UnverifiedToken {
    pub alg: Algorithm,
    pub kid: Option<String>,
    claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

impl UnverifiedToken {
    /// Splits a compact JWS whose payload is a JSON object of claims.
    pub fn decode(token: &str) -> Result<UnverifiedToken, TokenError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let json = |part: &str| -> Result<Map<String, Value>, TokenError> {
            let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| TokenError::Malformed)?;
            serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
        };
        let header = json(header)?;
        let alg = header.get("alg").and_then(Value::as_str).ok_or(TokenError::Malformed)?;
        let alg = Algorithm::parse(alg).ok_or(TokenError::UnsupportedAlgorithm)?;
        // A `crit` header names extensions the verifier must understand; none are (RFC 7515 §4.1.11).
        if header.contains_key("crit") {
            return Err(TokenError::Malformed);
        }
        Ok(UnverifiedToken {
            alg,
            kid: header.get("kid").and_then(Value::as_str).map(str::to_owned),
            claims: json(payload)?,
            signing_input: token[..header_and_payload_len(token)].to_owned(),
            signature: URL_SAFE_NO_PAD.decode(signature).map_err(|_| TokenError::Malformed)?,
        })
    }

    /// The `iss` claim, before the signature is checked (to refuse another issuer's token
    /// without fetching keys for it).
    pub fn claimed_issuer(&self) -> Option<&str> {
        self.claims.get("iss").and_then(Value::as_str)
    }

    /// The claims, once `key` verifies the signature and they pass `checks` at `now`
    /// (seconds since the Unix epoch).
    pub fn verify(self, key: &Jwk, checks: &ClaimChecks, now: i64) -> Result<Map<String, Value>, TokenError> {
        if !key.allows(self.alg) {
            return Err(TokenError::UnknownKey);
        }
        if !key.verifies(self.alg, self.signing_input.as_bytes(), &self.signature) {
            return Err(TokenError::BadSignature);
        }
        checks.check(&self.claims, now)?;
        Ok(self.claims)
    }
}

fn header_and_payload_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(token.len())
}

/// What the registered claims must say (RFC 7519 §4.1).
#[derive(Clone, Debug)]
pub struct ClaimChecks {
    pub issuer: String,
    pub audience: String,
    /// Seconds of clock difference forgiven on `exp` and `nbf`.
    pub leeway: i64,
}

impl ClaimChecks {
    fn check(&self, claims: &Map<String, Value>, now: i64) -> Result<(), TokenError> {
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err(TokenError::WrongIssuer);
        }
        let audience_matches = match claims.get("aud") {
            Some(Value::String(one)) => *one == self.audience,
            Some(Value::Array(many)) => many.iter().any(|aud| aud.as_str() == Some(self.audience.as_str())),
            _ => false,
        };
        if !audience_matches {
            return Err(TokenError::WrongAudience);
        }
        // An access token without an expiry would be good forever: refused as expired.
        let expires = claims.get("exp").and_then(Value::as_i64).ok_or(TokenError::Expired)?;
        if now > expires + self.leeway {
            return Err(TokenError::Expired);
        }
        if claims.get("nbf").and_then(Value::as_i64).is_some_and(|not_before| now + self.leeway < not_before)
        {
            return Err(TokenError::NotYetValid);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn checks() -> ClaimChecks {
        ClaimChecks {
            issuer: "https://id.example".into(),
            audience: "https://tally.example".into(),
            leeway: 30,
        }
    }

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn claims_are_checked_with_leeway() {
        let good =
            claims(json!({"iss": "https://id.example", "aud": ["x", "https://tally.example"], "exp": 1000}));
        assert_eq!(checks().check(&good, 1029), Ok(()));
        assert_eq!(checks().check(&good, 1031), Err(TokenError::Expired));
        let early = claims(
            json!({"iss": "https://id.example", "aud": "https://tally.example", "exp": 9000, "nbf": 1100}),
        );
        assert_eq!(checks().check(&early, 1000), Err(TokenError::NotYetValid));
        let forever = claims(json!({"iss": "https://id.example", "aud": "https://tally.example"}));
        assert_eq!(checks().check(&forever, 1000), Err(TokenError::Expired));
        let other =
            claims(json!({"iss": "https://id.example/", "aud": "https://tally.example", "exp": 9000}));
        assert_eq!(checks().check(&other, 1000), Err(TokenError::WrongIssuer));
    }

    #[test]
    fn unsigned_and_shared_secret_tokens_are_refused_before_any_key_is_looked_up() {
        for alg in ["none", "HS256"] {
            let header = URL_SAFE_NO_PAD.encode(json!({"alg": alg}).to_string());
            let payload = URL_SAFE_NO_PAD.encode(json!({"iss": "https://id.example"}).to_string());
            let token = format!("{header}.{payload}.");
            assert_eq!(UnverifiedToken::decode(&token).err(), Some(TokenError::UnsupportedAlgorithm));
        }
    }

    #[test]
    fn a_key_naming_one_algorithm_is_not_used_for_another() {
        let key = json!({"kty": "RSA", "alg": "RS256", "n": "AQAB", "e": "AQAB"});
        let key = Jwk::parse(&key).unwrap();
        assert!(key.allows(Algorithm::RS256));
        assert!(!key.allows(Algorithm::RS512));
        assert!(!key.allows(Algorithm::ES256));
        assert!(Jwk::parse(&json!({"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"})).is_none());
    }
}
