//! Attachments and signed statements: xAPI 1.0.3 Data §2.4.11 and §2.6, Communication
//! §1.5.2 and §2.1.3 (`attachments=true`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use conformance::statements::statement;
use conformance::{Lrs, attachment_for, backend_tests, multipart, sha256_hex};
use serde_json::{Value, json};
use uuid::Uuid;

const SLIDES: &str = "http://example.com/attachment-usage/slides";
const SIGNATURE: &str = "http://adlnet.gov/expapi/attachments/signature";

/// A statement carrying one attachment of `content`.
fn with_attachment(content: &[u8]) -> Value {
    let mut s = statement();
    s["id"] = json!(Uuid::new_v4().to_string());
    s["attachments"] = json!([attachment_for(content, "text/plain", SLIDES)]);
    s
}

/// The parts of a `multipart/mixed` answer: `(headers, content)`.
fn parts(reply: &conformance::Reply) -> Vec<(String, Vec<u8>)> {
    let content_type = reply.header("Content-Type").expect("a content type");
    let boundary = content_type.split_once("; boundary=").expect("a boundary").1;
    assert!(boundary.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'), "{boundary}");
    let delimiter = format!("--{boundary}");
    let text = &reply.bytes;
    let mut found = Vec::new();
    let positions: Vec<usize> = text
        .windows(delimiter.len())
        .enumerate()
        .filter(|(_, w)| *w == delimiter.as_bytes())
        .map(|(i, _)| i)
        .collect();
    for pair in positions.windows(2) {
        let part = &text[pair[0] + delimiter.len() + 2..pair[1] - 2];
        let split = part.windows(4).position(|w| w == b"\r\n\r\n").expect("headers end");
        found.push((String::from_utf8_lossy(&part[..split]).into_owned(), part[split + 4..].to_vec()));
    }
    found
}

/// A compact JWS of `payload`: header `{"alg": alg}`, signature bytes that only a
/// certificate could check (none is given, so the LRS checks structure and payload).
fn jws(alg: &str, payload: &Value) -> String {
    let encode = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let header = json!({ "alg": alg }).to_string();
    format!("{}.{}.{}", encode(header.as_bytes()), encode(payload.to_string().as_bytes()), encode(&[7u8; 64]))
}

/// A signed statement and its signature part.
fn signed(alg: &str, tamper: bool) -> (Value, Vec<u8>) {
    let mut s = statement();
    s["id"] = json!(Uuid::new_v4().to_string());
    let mut payload = s.clone();
    if tamper {
        payload["verb"]["id"] = json!("http://example.com/verbs/something-else");
    }
    let signature = jws(alg, &payload).into_bytes();
    s["attachments"] = json!([attachment_for(&signature, "application/octet-stream", SIGNATURE)]);
    (s, signature)
}

backend_tests! {
    fn an_attachment_part_is_stored_and_served_with_its_statement(backend) {
        let lrs = Lrs::start(backend);
        let content = b"Slide 1: install the module\r\nSlide 2: configure it";
        let s = with_attachment(content);
        let reply = lrs.request("POST", "/statements").multipart(&multipart(&s, &[("text/plain", content)]));
        assert_eq!(reply.status, 200, "{}", reply.body);
        let id = s["id"].as_str().unwrap();
        let got = lrs.get(&format!("/statements?statementId={id}&attachments=true"));
        assert_eq!(got.status, 200, "{}", got.body);
        assert!(got.header("Content-Type").unwrap().starts_with("multipart/mixed; boundary="));
        let parts = parts(&got);
        assert_eq!(parts.len(), 2);
        assert!(parts[0].0.contains("application/json"));
        let statement: Value = serde_json::from_slice(&parts[0].1).unwrap();
        assert_eq!(statement["id"], json!(id));
        assert!(parts[1].0.contains(&format!("X-Experience-API-Hash: {}", sha256_hex(content))));
        assert_eq!(parts[1].1, content);
        // The hash appears once in the statement and once in the part header.
        assert_eq!(got.body.matches(&sha256_hex(content)).count(), 2);
    }

    fn without_attachments_true_the_answer_is_plain_json(backend) {
        let lrs = Lrs::start(backend);
        let content = b"notes";
        let s = with_attachment(content);
        lrs.request("POST", "/statements").multipart(&multipart(&s, &[("text/plain", content)]));
        let got = lrs.get(&format!("/statements?statementId={}&attachments=false", s["id"].as_str().unwrap()));
        assert!(got.header("Content-Type").unwrap().starts_with("application/json"));
        assert_eq!(got.json()["id"], s["id"]);
    }

    fn a_query_serves_each_attachment_once(backend) {
        let lrs = Lrs::start(backend);
        let content = b"shared handout";
        let verb = conformance::statements::verb_id();
        let (mut a, mut b) = (with_attachment(content), with_attachment(content));
        a["verb"]["id"] = json!(verb);
        b["verb"]["id"] = json!(verb);
        let reply = lrs.request("POST", "/statements").multipart(&multipart(&json!([a, b]), &[("text/plain", content)]));
        assert_eq!(reply.status, 200, "{}", reply.body);
        let got = lrs.get(&format!("/statements?verb={}&attachments=true", conformance::encode(&verb)));
        let parts = parts(&got);
        assert_eq!(parts.len(), 2, "the result, then the one attachment");
        let result: Value = serde_json::from_slice(&parts[0].1).unwrap();
        assert_eq!(result["statements"].as_array().unwrap().len(), 2);
        assert_eq!(parts[1].1, content);
    }

    fn attachments_with_a_file_url_need_no_part(backend) {
        let lrs = Lrs::start(backend);
        let mut s = statement();
        let mut attachment = attachment_for(b"remote", "text/plain", SLIDES);
        attachment["fileUrl"] = json!("http://example.com/files/remote.txt");
        s["attachments"] = json!([attachment]);
        assert_eq!(lrs.post_json("/statements", &s).status, 200);
    }

    fn an_attachment_without_a_file_url_must_arrive(backend) {
        let lrs = Lrs::start(backend);
        let s = with_attachment(b"never sent");
        lrs.post_json("/statements", &s).assert_error(400, "[0].attachments[0].sha2");
        let reply = lrs.request("POST", "/statements").multipart(&multipart(&s, &[]));
        reply.assert_error(400, "[0].attachments[0].sha2");
        assert_eq!(lrs.get(&format!("/statements?statementId={}", s["id"].as_str().unwrap())).status, 404);
    }

    fn a_part_no_statement_declares_is_rejected(backend) {
        let lrs = Lrs::start(backend);
        let s = with_attachment(b"declared");
        let body = multipart(&s, &[("text/plain", b"declared"), ("text/plain", b"stowaway")]);
        lrs.request("POST", "/statements").multipart(&body).assert_error(400, "X-Experience-API-Hash");
        assert_eq!(lrs.get(&format!("/statements?statementId={}", s["id"].as_str().unwrap())).status, 404);
    }

    fn a_part_whose_hash_header_is_wrong_is_rejected(backend) {
        let lrs = Lrs::start(backend);
        let s = with_attachment(b"original");
        let body = String::from_utf8(multipart(&s, &[("text/plain", b"original")])).unwrap().replace(
            &format!("X-Experience-API-Hash: {}", sha256_hex(b"original")),
            &format!("X-Experience-API-Hash: {}", sha256_hex(b"other")),
        );
        lrs.request("POST", "/statements").multipart(body.as_bytes()).assert_error(400, "X-Experience-API-Hash");
    }

    fn parts_must_be_sent_as_binary(backend) {
        let lrs = Lrs::start(backend);
        let s = with_attachment(b"abc");
        let body = String::from_utf8(multipart(&s, &[("text/plain", b"abc")]))
            .unwrap()
            .replace("Content-Transfer-Encoding: binary", "Content-Transfer-Encoding: base64");
        lrs.request("POST", "/statements").multipart(body.as_bytes()).assert_error(400, "Content-Transfer-Encoding");
    }

    fn only_json_and_multipart_mixed_bodies_are_accepted(backend) {
        let lrs = Lrs::start(backend);
        let s = with_attachment(b"abc");
        let body = multipart(&s, &[("text/plain", b"abc")]);
        let form = lrs.request("POST", "/statements").header("Content-Type", "multipart/form-data; boundary=x").body(&body);
        form.assert_error(400, "Content-Type");
        let no_boundary = lrs.request("POST", "/statements").header("Content-Type", "multipart/mixed;").body(&body);
        no_boundary.assert_error(400, "Content-Type");
        let text_first = String::from_utf8(body.clone()).unwrap().replacen("Content-Type: application/json", "Content-Type: text/plain", 1);
        lrs.request("POST", "/statements").multipart(text_first.as_bytes()).assert_error(400, "Content-Type");
        let truncated = &body[..body.len() - 20];
        assert_eq!(lrs.request("POST", "/statements").multipart(truncated).status, 400);
    }

    fn put_accepts_a_multipart_statement(backend) {
        let lrs = Lrs::start(backend);
        let content = b"put content";
        let s = with_attachment(content);
        let id = s["id"].as_str().unwrap().to_string();
        let reply = lrs.request("PUT", &format!("/statements?statementId={id}")).multipart(&multipart(&s, &[("text/plain", content)]));
        assert_eq!(reply.status, 204, "{}", reply.body);
        assert_eq!(parts(&lrs.get(&format!("/statements?statementId={id}&attachments=true")))[1].1, content);
    }

    fn a_signed_statement_is_accepted_and_its_signature_kept(backend) {
        let lrs = Lrs::start(backend);
        for alg in ["RS256", "RS384", "RS512"] {
            let (s, signature) = signed(alg, false);
            let reply = lrs.request("POST", "/statements").multipart(&multipart(&s, &[("application/octet-stream", &signature)]));
            assert_eq!(reply.status, 200, "{alg}: {}", reply.body);
            let got = lrs.get(&format!("/statements?statementId={}&attachments=true", s["id"].as_str().unwrap()));
            assert_eq!(parts(&got)[1].1, signature);
        }
    }

    fn a_signature_with_another_algorithm_is_rejected(backend) {
        let lrs = Lrs::start(backend);
        let (s, signature) = signed("HS256", false);
        let reply = lrs.request("POST", "/statements").multipart(&multipart(&s, &[("application/octet-stream", &signature)]));
        reply.assert_error(400, "");
        assert!(reply.json()["error"]["path"].as_str().unwrap().starts_with("[0].attachments[0]"), "{}", reply.body);
    }

    fn a_signature_over_a_different_statement_is_rejected(backend) {
        let lrs = Lrs::start(backend);
        let (s, signature) = signed("RS256", true);
        let reply = lrs.request("POST", "/statements").multipart(&multipart(&s, &[("application/octet-stream", &signature)]));
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert_eq!(lrs.get(&format!("/statements?statementId={}", s["id"].as_str().unwrap())).status, 404);
    }

    fn a_signature_part_must_be_octet_stream(backend) {
        let lrs = Lrs::start(backend);
        let (s, signature) = signed("RS256", false);
        let reply = lrs.request("POST", "/statements").multipart(&multipart(&s, &[("text/plain; charset=ascii", &signature)]));
        assert_eq!(reply.status, 400, "{}", reply.body);
    }
}

mod limits {
    use super::*;
    use test_support::{Backend, TestDatabase, TestServer};

    #[test]
    fn an_attachment_over_the_limit_is_413_and_nothing_is_stored() {
        if std::env::var("TALLY_CONFORMANCE_URL").is_ok() {
            return; // Needs a server started with a small limit.
        }
        let config = server::AppConfig { max_attachment_bytes: 1_000, workers: 1, ..Default::default() };
        let lrs = Lrs::for_server(TestServer::start_with(TestDatabase::new(Backend::Sqlite), config));
        let content = vec![b'x'; 2_000];
        let s = with_attachment(&content);
        let reply = lrs.request("POST", "/statements").multipart(&multipart(&s, &[("text/plain", &content)]));
        reply.assert_error(413, "");
        assert_eq!(lrs.get(&format!("/statements?statementId={}", s["id"].as_str().unwrap())).status, 404);
    }

    #[test]
    fn a_large_attachment_round_trips() {
        let lrs = Lrs::start(Backend::Postgres);
        let content: Vec<u8> = (0..3 * 1024 * 1024 + 17).map(|i| (i % 253) as u8).collect();
        let mut s = with_attachment(&content);
        s["attachments"][0]["contentType"] = json!("application/octet-stream");
        let reply = lrs
            .request("POST", "/statements")
            .multipart(&multipart(&s, &[("application/octet-stream", &content)]));
        assert_eq!(reply.status, 200, "{}", reply.body);
        let got = lrs.get(&format!("/statements?statementId={}&attachments=true", s["id"].as_str().unwrap()));
        assert_eq!(parts(&got)[1].1, content);
    }
}
