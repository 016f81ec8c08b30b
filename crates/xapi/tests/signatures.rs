//! Signed statements (xAPI 1.0.3 Data §2.6): a JWS of the statement, attached with the
//! signature usageType, checked by `verify_signature`.
//!
//! The keys and certificates in `fixtures/signature/` are throwaway 1024-bit test keys
//! (small, so that signing stays fast in debug builds), made with
//! `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out signer-key.pem` and
//! `openssl req -new -x509 -key signer-key.pem -days 36500 -subj "/CN=Tally test signer" -out signer-cert.pem`
//! (and the same for `other`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::sha2::{Sha256, Sha384, Sha512};
use rsa::signature::{SignatureEncoding, Signer};
use serde_json::{Map, Value, json};
use xapi::{
    SIGNATURE_USAGE_TYPE, SignatureAttachment, Statement, ValidationError, Version, signature_attachments,
    verify_signature,
};

const OCTET_STREAM: &str = "application/octet-stream";

fn private_key(pem: &str) -> rsa::PrivateKey {
    rsa::PrivateKey::from_pkcs8_pem(pem).expect("a PKCS#8 test key")
}

fn signer_key() -> rsa::PrivateKey {
    private_key(include_str!("fixtures/signature/signer-key.pem"))
}

fn other_key() -> rsa::PrivateKey {
    private_key(include_str!("fixtures/signature/other-key.pem"))
}

/// A certificate's DER in standard base64, as x5c holds it: the PEM body on one line.
fn x5c_entry(pem: &str) -> String {
    pem.lines().filter(|line| !line.starts_with("-----")).collect()
}

fn signer_cert() -> String {
    x5c_entry(include_str!("fixtures/signature/signer-cert.pem"))
}

fn other_cert() -> String {
    x5c_entry(include_str!("fixtures/signature/other-cert.pem"))
}

/// The statement a client signs: everything but its attachments.
fn signed() -> Value {
    json!({
        "id": "d5d8e2a5-3e6b-4a52-9f7e-0b9a8e1f2c3d",
        "actor": {"objectType": "Agent", "name": "Ann", "mbox": "mailto:ann@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"en-US": "completed"}},
        "object": {"objectType": "Activity", "id": "http://example.com/course", "definition": {"name": {"en-US": "Course"}}},
        "result": {"completion": true, "duration": "P1DT12H36M0.12S"},
        "context": {"contextActivities": {"parent": {"id": "http://example.com/program"}}},
        "timestamp": "2024-03-12T09:41:00.000Z"
    })
}

/// The signature attachment's metadata (its sha2 is not checked here: the server matched
/// the part by it).
fn signature_metadata() -> Value {
    json!({
        "usageType": SIGNATURE_USAGE_TYPE,
        "display": {"en-US": "Signed by the test suite"},
        "contentType": OCTET_STREAM,
        "length": 1024,
        "sha2": "672fa5fa658017f1b72d65036f13379c6ab05d4ab3b6664908d8acf0b6a0c634"
    })
}

/// `statement` with `attachments` set, parsed as the LRS receives it.
fn received_with(statement: Value, attachments: Value) -> Map<String, Value> {
    let mut statement = statement;
    statement["attachments"] = attachments;
    Statement::parse(statement, Version::V1_0).expect("a valid statement").json().clone()
}

/// `signed()` with its signature attachment, as received.
fn received() -> Map<String, Value> {
    received_with(signed(), json!([signature_metadata()]))
}

/// A compact JWS of `payload` under `header`, signed with `key` when `alg` is RSA (any
/// other alg gets a made-up signature).
fn jws_of(header: &Value, payload: &[u8], key: &rsa::PrivateKey) -> String {
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(payload));
    let signature = match header["alg"].as_str() {
        Some("RS256") => SigningKey::<Sha256>::new(key.clone()).sign(input.as_bytes()).to_vec(),
        Some("RS384") => SigningKey::<Sha384>::new(key.clone()).sign(input.as_bytes()).to_vec(),
        Some("RS512") => SigningKey::<Sha512>::new(key.clone()).sign(input.as_bytes()).to_vec(),
        _ => b"not an RSA signature".to_vec(),
    };
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// A JWS of `signed()` with the signer's key.
fn jws(header: Value) -> String {
    jws_of(&header, signed().to_string().as_bytes(), &signer_key())
}

fn verify(statement: &Map<String, Value>, jws: &str) -> Result<(), ValidationError> {
    verify_signature(statement, 0, jws.as_bytes(), OCTET_STREAM)
}

fn rejected(result: Result<(), ValidationError>, path: &str, needle: &str) {
    match result {
        Ok(()) => panic!("expected the signature to be rejected at `{path}` ({needle})"),
        Err(e) => {
            assert_eq!(e.path, path, "{e}");
            assert!(e.message.contains(needle), "expected `{e}` to mention `{needle}`");
        }
    }
}

/// Replaces the signature segment of a compact JWS with another, valid-looking one.
fn with_tampered_signature(jws: &str) -> String {
    let (input, signature) = jws.rsplit_once('.').expect("a compact JWS");
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).expect("base64url");
    bytes[10] ^= 0x01;
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(bytes))
}

#[test]
fn rs256_rs384_and_rs512_signatures_are_accepted() {
    for alg in ["RS256", "RS384", "RS512"] {
        verify(&received(), &jws(json!({"alg": alg}))).unwrap_or_else(|e| panic!("{alg}: {e}"));
    }
}

#[test]
fn other_algorithms_are_rejected() {
    for alg in ["HS256", "none", "PS256", "ES256", "rs256"] {
        rejected(
            verify(&received(), &jws(json!({"alg": alg}))),
            "attachments[0]",
            "alg must be RS256, RS384 or RS512",
        );
    }
}

#[test]
fn a_header_without_alg_is_rejected() {
    rejected(verify(&received(), &jws(json!({"typ": "JWT"}))), "attachments[0]", "must have an alg");
}

#[test]
fn a_header_with_critical_extensions_is_rejected() {
    let header = json!({"alg": "RS256", "b64": false, "crit": ["b64"]});
    rejected(verify(&received(), &jws(header)), "attachments[0]", "crit");
}

#[test]
fn a_payload_that_is_not_json_is_rejected() {
    // What the ADL suite sends: the serialization with its first `"` replaced by `'`.
    let broken = signed().to_string().replacen('"', "'", 1);
    let jws = jws_of(&json!({"alg": "RS256"}), broken.as_bytes(), &signer_key());
    rejected(verify(&received(), &jws), "attachments[0]", "payload is not valid JSON");
}

#[test]
fn a_payload_that_is_not_an_object_is_rejected() {
    let jws = jws_of(&json!({"alg": "RS256"}), b"[1, 2]", &signer_key());
    rejected(verify(&received(), &jws), "attachments[0]", "must be a JSON object");
}

#[test]
fn a_payload_of_another_statement_is_rejected() {
    let mut other = signed();
    other["verb"]["id"] = json!("http://adlnet.gov/expapi/verbs/failed");
    let jws = jws_of(&json!({"alg": "RS256"}), other.to_string().as_bytes(), &signer_key());
    rejected(verify(&received(), &jws), "attachments[0]", "payload is not this statement");
}

#[test]
fn a_statement_changed_after_signing_is_rejected() {
    let mut changed = signed();
    changed["result"]["completion"] = json!(false);
    let statement = received_with(changed, json!([signature_metadata()]));
    rejected(
        verify(&statement, &jws(json!({"alg": "RS256"}))),
        "attachments[0]",
        "payload is not this statement",
    );
}

#[test]
fn a_payload_with_another_statement_id_is_rejected() {
    let mut other = signed();
    other["id"] = json!("0b5b8a58-2b2e-4f0b-9c55-6ad3f0a3c8e1");
    let jws = jws_of(&json!({"alg": "RS256"}), other.to_string().as_bytes(), &signer_key());
    rejected(verify(&received(), &jws), "attachments[0]", "payload is not this statement");
}

#[test]
fn the_payload_may_differ_in_what_the_lrs_sets_and_in_attachments() {
    // The statement was signed without id, timestamp, stored, authority or version (as
    // an LRS it passed through may have added them), and it carries attachments the
    // payload does not know about.
    let mut bare = signed();
    for key in ["id", "timestamp"] {
        bare.as_object_mut().unwrap().shift_remove(key);
    }
    bare["context"]["contextActivities"]["parent"] = json!([{"id": "http://example.com/program"}]);
    let jws = jws_of(&json!({"alg": "RS256"}), bare.to_string().as_bytes(), &signer_key());
    let mut statement = signed();
    statement["stored"] = json!("2024-03-12T09:41:01.000Z");
    statement["authority"] = json!({"objectType": "Agent", "mbox": "mailto:lrs@example.com"});
    statement["version"] = json!("1.0.0");
    let other_attachment = json!({
        "usageType": "http://example.com/attachment-usage/certificate",
        "display": {"en-US": "Certificate"},
        "contentType": "application/pdf",
        "length": 12345,
        "sha2": "495395e777cd98da653df9615d09c0fd6bb2f8d4788394cd53c56a3bfdcd848a"
    });
    let statement = received_with(statement, json!([signature_metadata(), other_attachment]));
    verify(&statement, &jws).expect("only LRS properties and attachments differ");
}

#[test]
fn durations_are_compared_to_the_hundredth_of_a_second() {
    // The xAPI 2.0 suite signs `0.12S` and sends the statement with `0.1237S`.
    let mut precise = signed();
    precise["result"]["duration"] = json!("P1DT12H36M0.1237S");
    let statement = received_with(precise, json!([signature_metadata()]));
    verify(&statement, &jws(json!({"alg": "RS256"}))).expect("same duration to the hundredth");
}

#[test]
fn a_certificate_in_x5c_verifies_the_signature() {
    for alg in ["RS256", "RS384", "RS512"] {
        let jws = jws(json!({"alg": alg, "x5c": [signer_cert(), other_cert()]}));
        verify(&received(), &jws).unwrap_or_else(|e| panic!("{alg}: {e}"));
    }
}

#[test]
fn a_tampered_signature_is_rejected_when_x5c_names_the_key() {
    let jws = with_tampered_signature(&jws(json!({"alg": "RS256", "x5c": [signer_cert()]})));
    rejected(verify(&received(), &jws), "attachments[0]", "does not verify");
}

#[test]
fn a_certificate_of_another_key_is_rejected() {
    // The other key's certificate comes first, as if the chain were in the wrong order.
    let jws = jws(json!({"alg": "RS512", "x5c": [other_cert(), signer_cert()]}));
    rejected(verify(&received(), &jws), "attachments[0]", "does not verify");
}

#[test]
fn a_signature_made_for_another_alg_is_rejected_when_x5c_names_the_key() {
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "RS384", "x5c": [signer_cert()]}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(signed().to_string());
    let input = format!("{header}.{payload}");
    let signature = SigningKey::<Sha256>::new(signer_key()).sign(input.as_bytes()).to_vec();
    let jws = format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature));
    rejected(verify(&received(), &jws), "attachments[0]", "does not verify");
}

#[test]
fn without_x5c_the_signature_bytes_cannot_be_checked() {
    // No key is known, so only the structure, alg and payload are checked (what the ADL
    // suite sends: a header of just `{"alg": ...}`).
    let jws = with_tampered_signature(&jws(json!({"alg": "RS256"})));
    verify(&received(), &jws).expect("nothing to check the signature bytes with");
    let by_another_key = jws_of(&json!({"alg": "RS256"}), signed().to_string().as_bytes(), &other_key());
    verify(&received(), &by_another_key).expect("nothing to check the signature bytes with");
}

#[test]
fn malformed_x5c_is_rejected() {
    let cases = [
        (json!("MIIB"), "must be a non-empty array"),
        (json!([]), "must be a non-empty array"),
        (json!([42]), "x5c[0] is not base64"),
        (json!(["not base64!"]), "x5c[0] is not base64"),
        (json!([signer_cert(), "bm90IGEgY2VydGlmaWNhdGU="]), "x5c[1] is not an X.509 certificate"),
    ];
    for (x5c, needle) in cases {
        rejected(verify(&received(), &jws(json!({"alg": "RS256", "x5c": x5c}))), "attachments[0]", needle);
    }
}

#[test]
fn a_part_that_is_not_octet_stream_is_rejected() {
    let jws = jws(json!({"alg": "RS256"}));
    for content_type in ["text/plain; charset=ascii", "application/json", ""] {
        let result = verify_signature(&received(), 0, jws.as_bytes(), content_type);
        rejected(result, "attachments[0]", "must have Content-Type application/octet-stream");
    }
    for content_type in ["Application/Octet-Stream", "application/octet-stream; charset=binary"] {
        verify_signature(&received(), 0, jws.as_bytes(), content_type).expect(content_type);
    }
}

#[test]
fn a_signature_attachment_that_is_not_octet_stream_is_rejected() {
    // What the ADL suite sends: attachment and part both `text/plain; charset=ascii`.
    let mut metadata = signature_metadata();
    metadata["contentType"] = json!("text/plain; charset=ascii");
    let statement = received_with(signed(), json!([metadata]));
    let jws = jws(json!({"alg": "RS256"}));
    let result = verify_signature(&statement, 0, jws.as_bytes(), "text/plain; charset=ascii");
    rejected(result, "attachments[0].contentType", "contentType must be application/octet-stream");
}

#[test]
fn malformed_compact_serializations_are_rejected() {
    let good = jws(json!({"alg": "RS256"}));
    let (header, rest) = good.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let cases = [
        (format!("{header}.{payload}"), "not 2 dot-separated part(s)"),
        (format!("{header}.{payload}.{signature}.{signature}"), "not 4 dot-separated part(s)"),
        (format!("{header}.{payload}."), "has an empty signature"),
        (format!("{header}.{payload}.{signature}*"), "signature is not valid base64url"),
        (format!("{header}.{payload}!.{signature}"), "payload is not valid base64url"),
        (format!("e30=x.{payload}.{signature}"), "header is not valid base64url"),
        (format!("{}.{payload}.{signature}", URL_SAFE_NO_PAD.encode("[1]")), "header is not a JSON object"),
        (format!("{}.{payload}.{signature}", URL_SAFE_NO_PAD.encode("alg")), "header is not a JSON object"),
        (String::new(), "not 1 dot-separated part(s)"),
        (json!({"payload": payload, "signatures": []}).to_string(), "JSON Serialization"),
    ];
    for (jws, needle) in cases {
        rejected(verify(&received(), &jws), "attachments[0]", needle);
    }
    rejected(
        verify_signature(&received(), 0, b"\xff\xfe.\x00.", OCTET_STREAM),
        "attachments[0]",
        "base64url",
    );
}

#[test]
fn whitespace_around_the_jws_is_ignored() {
    let jws = format!("\r\n{}\r\n", jws(json!({"alg": "RS256"})));
    verify(&received(), &jws).expect("surrounding whitespace is not part of the JWS");
}

#[test]
fn an_index_that_is_not_a_signature_attachment_is_rejected() {
    let other = json!({
        "usageType": "http://example.com/attachment-usage/certificate",
        "display": {"en-US": "Certificate"},
        "contentType": OCTET_STREAM,
        "length": 1,
        "sha2": "495395e777cd98da653df9615d09c0fd6bb2f8d4788394cd53c56a3bfdcd848a"
    });
    let statement = received_with(signed(), json!([other, signature_metadata()]));
    let jws = jws(json!({"alg": "RS256"}));
    rejected(
        verify_signature(&statement, 0, jws.as_bytes(), OCTET_STREAM),
        "attachments[0]",
        "not a signature",
    );
    rejected(
        verify_signature(&statement, 5, jws.as_bytes(), OCTET_STREAM),
        "attachments[5]",
        "not a signature",
    );
    verify_signature(&statement, 1, jws.as_bytes(), OCTET_STREAM).expect("the second is the signature");
}

#[test]
fn signature_attachments_lists_only_attachments_with_the_signature_usage_type() {
    let other = json!({
        "usageType": "http://example.com/attachment-usage/certificate",
        "display": {"en-US": "Certificate"},
        "contentType": OCTET_STREAM,
        "length": 1,
        "sha2": "495395e777cd98da653df9615d09c0fd6bb2f8d4788394cd53c56a3bfdcd848a"
    });
    let statement = received_with(signed(), json!([other, signature_metadata()]));
    let found: Vec<SignatureAttachment> = signature_attachments(&statement).collect();
    assert_eq!(
        found,
        [SignatureAttachment {
            index: 1,
            sha2: "672fa5fa658017f1b72d65036f13379c6ab05d4ab3b6664908d8acf0b6a0c634"
        }]
    );
    let unsigned = Statement::parse(signed(), Version::V1_0).unwrap().json().clone();
    assert_eq!(signature_attachments(&unsigned).count(), 0);
}
