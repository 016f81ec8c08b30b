//! Signed statements (xAPI 1.0.3 Data §2.6 "Signed Statements"; xAPI 2.0.0 keeps the rules,
//! and its ADL suite checks the same): a statement may carry a JSON Web Signature
//! (RFC 7515) of itself as an attachment whose `usageType` is [`SIGNATURE_USAGE_TYPE`], and
//! the LRS must reject a malformed one with 400. [`verify_signature`] lists the checks.
//!
//! Two choices the specification leaves open:
//! - The x5c certificate chain is not validated (trust anchors, validity dates, issuer
//!   signatures): only the first certificate's key is used. Data §2.6 says the check "is
//!   intended as a way to catch mistakes in the signature, not as a security measure", and
//!   its own example certificate expired in 2014. Every x5c entry must still be a DER
//!   certificate.
//! - JWS JSON Serialization is rejected: Data §2.6 says Compact Serialization SHOULD* be
//!   used and the JSON form "is unlikely to be interoperable with other systems".

use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::der::Decode;
use rsa::pkcs8::der::referenced::OwnedToRef;
use rsa::sha2::{Sha256, Sha384, Sha512};
use rsa::signature::Verifier;
use serde_json::{Map, Value};
use x509_cert::Certificate;

use crate::ValidationError;
use crate::equivalence::signed_payload_equivalent;

/// The usageType of a signature attachment.
pub const SIGNATURE_USAGE_TYPE: &str = "http://adlnet.gov/expapi/attachments/signature";

/// The only content type a signature attachment and its part may have (Data §2.6).
const OCTET_STREAM: &str = "application/octet-stream";

/// base64url as JWS writes it (RFC 7515 §2: no padding); padding is tolerated.
const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A signature attachment of a statement: which entry of `attachments` it is, and the hash
/// that names the multipart part holding its JWS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignatureAttachment<'a> {
    /// Its index in the statement's `attachments`.
    pub index: usize,
    /// Its `sha2`: the `X-Experience-API-Hash` of the part that must carry the JWS.
    pub sha2: &'a str,
}

/// The statement's signature attachments (usually none or one), in order.
pub fn signature_attachments(
    statement: &Map<String, Value>,
) -> impl Iterator<Item = SignatureAttachment<'_>> {
    let attachments = statement.get("attachments").and_then(Value::as_array);
    attachments.into_iter().flatten().enumerate().filter(|(_, attachment)| is_signature(attachment)).map(
        |(index, attachment)| SignatureAttachment {
            index,
            sha2: attachment.get("sha2").and_then(Value::as_str).unwrap_or_default(),
        },
    )
}

fn is_signature(attachment: &Value) -> bool {
    attachment.get("usageType").and_then(Value::as_str) == Some(SIGNATURE_USAGE_TYPE)
}

/// Checks a statement's JWS signature (xAPI 1.0.3 Data §2.6):
///
/// - the signature attachment's `contentType`, and the `Content-Type` of the part holding
///   the JWS, are `application/octet-stream` (parameters and case aside);
/// - the JWS is in Compact Serialization (`header.payload.signature`, each base64url), its
///   header a JSON object without `crit` (no extension is understood);
/// - the header's `alg` is RS256, RS384 or RS512;
/// - the payload is a JSON object logically equivalent to the statement: the statement
///   comparison of [`equivalent`](crate::equivalent), which also ignores `attachments`
///   (signed before the signature was attached) and compares `id` only when both have one;
/// - when the header has `x5c`, the signature verifies with the public key of its first
///   certificate (RSASSA-PKCS1-v1_5 with the SHA-2 hash `alg` names). Without `x5c` the
///   LRS knows no key, so the signature bytes are not checked.
///
/// - `statement`: the statement as received, after [`Statement::parse`](crate::Statement::parse)
///   ([`Statement::json`](crate::Statement::json)), before the LRS adds `stored`,
///   `authority` and the rest;
/// - `attachment`: the index in its `attachments` of the signature attachment
///   ([`signature_attachments`]);
/// - `jws`: the body of the multipart part whose `X-Experience-API-Hash` is that
///   attachment's `sha2`; surrounding whitespace is ignored;
/// - `part_content_type`: that part's `Content-Type` header.
///
/// The rules are the same under xAPI 1.0.3 and 2.0.0 (the statement comparison already
/// ignores Duration precision beyond hundredths, as 2.0.0 requires), so no version is
/// needed. Errors name `attachments[N]` (or its `contentType`).
pub fn verify_signature(
    statement: &Map<String, Value>,
    attachment: usize,
    jws: &[u8],
    part_content_type: &str,
) -> Result<(), ValidationError> {
    let path = format!("attachments[{attachment}]");
    let error = |message: String| ValidationError::new(path.clone(), message);
    let metadata = statement
        .get("attachments")
        .and_then(|list| list.get(attachment))
        .filter(|a| is_signature(a))
        .ok_or_else(|| error("is not a signature attachment".into()))?;

    let declared = metadata.get("contentType").and_then(Value::as_str).unwrap_or_default();
    if !is_octet_stream(declared) {
        return Err(ValidationError::new(
            format!("{path}.contentType"),
            format!("a signature attachment's contentType must be {OCTET_STREAM}, not {declared:?}"),
        ));
    }
    if !is_octet_stream(part_content_type) {
        return Err(error(format!(
            "the part holding the signature must have Content-Type {OCTET_STREAM}, not {part_content_type:?}"
        )));
    }

    let jws = CompactJws::parse(jws).map_err(|rule| error(format!("the JWS {rule}")))?;
    let hash = HashAlg::of_header(&jws.header).map_err(|rule| error(format!("the JWS header {rule}")))?;
    let payload = match serde_json::from_slice::<Value>(&jws.payload) {
        Ok(Value::Object(payload)) => payload,
        Ok(_) => return Err(error("the JWS payload must be a JSON object (the signed statement)".into())),
        Err(e) => return Err(error(format!("the JWS payload is not valid JSON: {e}"))),
    };
    if let Some(x5c) = jws.header.get("x5c") {
        verify_with_certificate(x5c, hash, &jws).map_err(error)?;
    }
    if !signed_payload_equivalent(&payload, statement) {
        return Err(error(
            "the JWS payload is not this statement: it must be the statement as signed, \
             differing only in attachments and the properties the LRS sets"
                .into(),
        ));
    }
    Ok(())
}

/// Whether a content type is `application/octet-stream` (parameters and case aside).
fn is_octet_stream(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case(OCTET_STREAM)
}

/// A JWS in Compact Serialization, decoded (RFC 7515 §7.1).
struct CompactJws<'a> {
    /// `BASE64URL(header) '.' BASE64URL(payload)`: what the signature signs.
    signing_input: &'a [u8],
    header: Map<String, Value>,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl<'a> CompactJws<'a> {
    fn parse(jws: &'a [u8]) -> Result<CompactJws<'a>, String> {
        let jws = jws.trim_ascii();
        if jws.starts_with(b"{") {
            return Err("is JWS JSON Serialization; only the Compact Serialization is accepted".into());
        }
        let segments: Vec<&[u8]> = jws.split(|&b| b == b'.').collect();
        let [header_b64, payload_b64, signature_b64] = segments[..] else {
            return Err(format!(
                "must be in Compact Serialization (header.payload.signature), \
                 not {} dot-separated part(s)",
                segments.len()
            ));
        };
        let decode = |segment: &[u8], name: &str| {
            BASE64URL.decode(segment).map_err(|e| format!("{name} is not valid base64url: {e}"))
        };
        let header_json = decode(header_b64, "header")?;
        let header = match serde_json::from_slice::<Value>(&header_json) {
            Ok(Value::Object(header)) => header,
            _ => return Err("header is not a JSON object".into()),
        };
        let payload = decode(payload_b64, "payload")?;
        let signature = decode(signature_b64, "signature")?;
        if signature.is_empty() {
            return Err("has an empty signature".into());
        }
        let signing_input = &jws[..header_b64.len() + 1 + payload_b64.len()];
        Ok(CompactJws { signing_input, header, payload, signature })
    }
}

/// The SHA-2 hash of an RSASSA-PKCS1-v1_5 JWS algorithm.
#[derive(Clone, Copy)]
enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    /// The hash of the header's `alg`, which Data §2.6 limits to RS256, RS384 and RS512.
    fn of_header(header: &Map<String, Value>) -> Result<HashAlg, String> {
        // RFC 7515 §4.1.11: a recipient that does not understand an extension listed in
        // `crit` must reject the JWS, and this one understands none (such as `b64`).
        if header.contains_key("crit") {
            return Err("lists critical extensions (crit), which are not supported".into());
        }
        match header.get("alg").and_then(Value::as_str) {
            Some("RS256") => Ok(HashAlg::Sha256),
            Some("RS384") => Ok(HashAlg::Sha384),
            Some("RS512") => Ok(HashAlg::Sha512),
            Some(other) => Err(format!("alg must be RS256, RS384 or RS512, not {other:?}")),
            None => Err("must have an alg of RS256, RS384 or RS512".into()),
        }
    }
}

/// Verifies the signature with the public key of the first x5c certificate (RFC 7515
/// §4.1.6: "The certificate containing the public key corresponding to the key used to
/// digitally sign the JWS MUST be the first certificate").
fn verify_with_certificate(x5c: &Value, hash: HashAlg, jws: &CompactJws) -> Result<(), String> {
    let chain = x5c.as_array().filter(|chain| !chain.is_empty()).ok_or_else(|| {
        "the JWS header's x5c must be a non-empty array of base64 DER certificates".to_string()
    })?;
    let mut certificates = Vec::with_capacity(chain.len());
    for (i, entry) in chain.iter().enumerate() {
        // x5c is standard base64, not base64url (RFC 7515 §4.1.6).
        let der = entry
            .as_str()
            .and_then(|text| STANDARD.decode(text).ok())
            .ok_or_else(|| format!("the JWS header's x5c[{i}] is not base64"))?;
        let certificate = Certificate::from_der(&der)
            .map_err(|e| format!("the JWS header's x5c[{i}] is not an X.509 certificate: {e}"))?;
        certificates.push(certificate);
    }
    let key_info = certificates[0].tbs_certificate().subject_public_key_info().owned_to_ref();
    let key = rsa::PublicKey::try_from(key_info)
        .map_err(|e| format!("the JWS header's x5c[0] does not hold a usable RSA public key: {e}"))?;
    let signature = Signature::try_from(jws.signature.as_slice())
        .map_err(|_| "the signature is not an RSA signature".to_string())?;
    let verified = match hash {
        HashAlg::Sha256 => VerifyingKey::<Sha256>::new(key).verify(jws.signing_input, &signature),
        HashAlg::Sha384 => VerifyingKey::<Sha384>::new(key).verify(jws.signing_input, &signature),
        HashAlg::Sha512 => VerifyingKey::<Sha512>::new(key).verify(jws.signing_input, &signature),
    };
    verified.map_err(|_| {
        "the signature does not verify with the key of the JWS header's first x5c certificate".to_string()
    })
}
