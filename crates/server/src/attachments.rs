//! Attachments on the Statement resource (xAPI 1.0.3 Data §2.4.11, Communication §1.5.2):
//! matching received parts to the attachments statements declare, checking signatures,
//! and answering `attachments=true` with a streamed `multipart/mixed` body.

use std::collections::HashSet;

use actix_web::HttpResponse;
use actix_web::web::{Bytes, Data};
use futures_util::StreamExt;
use futures_util::stream::{self, Stream};
use serde_json::{Map, Value};
use store::{AttachmentInfo, AttachmentReader, AttachmentUpload, StoreId};
use xapi::Statement;

use crate::ApiError;
use crate::multipart::ReceivedPart;

/// The part boundary of multipart answers (`[A-Za-z0-9-]` only: some clients use it in a
/// regular expression).
const BOUNDARY: &str = "tally-attachment-boundary-7f3c9a";

/// An attachment declaration of a statement: where it is, and its `sha2`.
struct Declared<'a> {
    path: String,
    /// Which statement, and which entry of its `attachments`.
    statement: usize,
    entry: usize,
    sha2: &'a str,
    has_file_url: bool,
    is_signature: bool,
}

fn declared(statements: &[Statement]) -> Vec<Declared<'_>> {
    let mut found = Vec::new();
    for (i, statement) in statements.iter().enumerate() {
        let json = statement.json();
        let mut lists = vec![("attachments", json.get("attachments"))];
        // A SubStatement may carry attachments of its own.
        if let Some(Value::Object(object)) = json.get("object") {
            lists.push(("object.attachments", object.get("attachments")));
        }
        for (place, list) in lists {
            for (j, attachment) in list.and_then(Value::as_array).into_iter().flatten().enumerate() {
                let Some(sha2) = attachment.get("sha2").and_then(Value::as_str) else { continue };
                found.push(Declared {
                    path: format!("[{i}].{place}[{j}]"),
                    statement: i,
                    entry: j,
                    sha2,
                    has_file_url: attachment.get("fileUrl").is_some(),
                    is_signature: place == "attachments"
                        && attachment.get("usageType").and_then(Value::as_str)
                            == Some(xapi::SIGNATURE_USAGE_TYPE),
                });
            }
        }
    }
    found
}

/// Checks the received parts against what the statements declare and turns them into
/// uploads: every attachment declared without a `fileUrl` must arrive, every part must be
/// declared, and each part's `X-Experience-API-Hash` must be the SHA-256 of its content.
/// Signature attachments are verified against their statements. Any failure is a 400 and
/// nothing is stored.
pub fn match_parts(
    statements: &[Statement],
    parts: Vec<ReceivedPart>,
) -> Result<Vec<AttachmentUpload>, ApiError> {
    for part in &parts {
        let encoding = part.header("Content-Transfer-Encoding");
        if !encoding.is_some_and(|e| e.eq_ignore_ascii_case("binary")) {
            return Err(ApiError::bad_request(
                "Content-Transfer-Encoding",
                "every attachment part must be sent with Content-Transfer-Encoding: binary",
            ));
        }
        let hash = part.header("X-Experience-API-Hash").ok_or_else(|| {
            ApiError::bad_request(
                "X-Experience-API-Hash",
                "every attachment part needs an X-Experience-API-Hash header",
            )
        })?;
        if !hash.eq_ignore_ascii_case(&part.sha2) {
            return Err(ApiError::bad_request(
                "X-Experience-API-Hash",
                format!("{hash} is not the SHA-256 of the part's content ({})", part.sha2),
            ));
        }
    }
    let declared = declared(statements);
    let received: HashSet<&str> = parts.iter().map(|p| p.sha2.as_str()).collect();
    if let Some(missing) = declared.iter().find(|d| !d.has_file_url && !received.contains(d.sha2)) {
        return Err(ApiError::bad_request(
            format!("{}.sha2", missing.path),
            "this attachment has no fileUrl, so its content must arrive as a part of a multipart/mixed request",
        ));
    }
    if let Some(extra) = parts.iter().find(|p| !declared.iter().any(|d| d.sha2.eq_ignore_ascii_case(&p.sha2)))
    {
        return Err(ApiError::bad_request(
            "X-Experience-API-Hash",
            format!("the part with hash {} matches no attachment of the statements", extra.sha2),
        ));
    }
    for signature in declared.iter().filter(|d| d.is_signature) {
        // A signature is checked against its statement, so its content must be here.
        let Some(part) = parts.iter().find(|p| p.sha2.eq_ignore_ascii_case(signature.sha2)) else {
            return Err(ApiError::bad_request(
                format!("{}.sha2", signature.path),
                "a signature must arrive as a part of a multipart/mixed request, so it can be verified",
            ));
        };
        let jws = match &part.content {
            store::AttachmentContent::Memory(bytes) => bytes.to_vec(),
            store::AttachmentContent::File(path) => std::fs::read::<&std::path::Path>(path.as_ref())
                .map_err(|e| ApiError::Internal(format!("cannot read a spooled signature: {e}")))?,
        };
        let content_type = part.header("Content-Type").unwrap_or_default();
        xapi::verify_signature(statements[signature.statement].json(), signature.entry, &jws, content_type)
            .map_err(|e| e.within(&format!("[{}]", signature.statement)))?;
    }
    let mut seen = HashSet::new();
    Ok(parts
        .into_iter()
        .filter(|p| seen.insert(p.sha2.clone()))
        .map(|p| AttachmentUpload {
            content_type: p.header("Content-Type").unwrap_or("application/octet-stream").to_string(),
            sha2: p.sha2,
            length: p.length,
            content: p.content,
        })
        .collect())
}

/// The `sha2` of every attachment of these statements (as stored JSON).
pub fn hashes(statements: &[Map<String, Value>]) -> Vec<String> {
    let mut hashes: Vec<String> = statements
        .iter()
        .flat_map(|s| {
            let sub = s.get("object").and_then(|o| o.get("attachments"));
            s.get("attachments").into_iter().chain(sub).filter_map(Value::as_array).flatten()
        })
        .filter_map(|a| a.get("sha2").and_then(Value::as_str).map(str::to_string))
        .collect();
    hashes.sort_unstable();
    hashes.dedup();
    hashes
}

/// A `multipart/mixed` answer: the statement result first, then each attachment once, its
/// content read from the store a piece at a time while the answer is sent.
pub fn multipart_response<S: AttachmentReader + Clone + 'static>(
    mut response: actix_web::HttpResponseBuilder,
    json: String,
    store: Data<S>,
    store_id: StoreId,
    attachments: Vec<AttachmentInfo>,
) -> HttpResponse {
    let head = format!("--{BOUNDARY}\r\nContent-Type: application/json\r\n\r\n{json}\r\n");
    response.content_type(format!("multipart/mixed; boundary={BOUNDARY}")).streaming(parts(
        head,
        store,
        store_id,
        attachments,
    ))
}

/// What is left to send.
enum Next {
    PartHead(usize),
    Chunk(usize, i32),
    Done,
}

fn parts<S: AttachmentReader + Clone + 'static>(
    head: String,
    store: Data<S>,
    store_id: StoreId,
    attachments: Vec<AttachmentInfo>,
) -> impl Stream<Item = Result<Bytes, actix_web::Error>> {
    let first = Bytes::from(head);
    let rest = stream::unfold(Next::PartHead(0), move |next| {
        let (store, attachments) = (store.clone(), attachments.clone());
        async move {
            match next {
                Next::PartHead(i) if i < attachments.len() => {
                    let a = &attachments[i];
                    let head = format!(
                        "--{BOUNDARY}\r\nContent-Type: {}\r\nContent-Transfer-Encoding: binary\r\nX-Experience-API-Hash: {}\r\n\r\n",
                        a.content_type, a.sha2
                    );
                    Some((Ok(Bytes::from(head)), Next::Chunk(i, 0)))
                }
                Next::PartHead(_) => Some((Ok(Bytes::from(format!("--{BOUNDARY}--\r\n"))), Next::Done)),
                Next::Chunk(i, index) if index < attachments[i].chunks => {
                    match store.attachment_chunk(store_id, attachments[i].sha2.clone(), index).await {
                        Ok(Some(bytes)) => Some((Ok(Bytes::from(bytes)), Next::Chunk(i, index + 1))),
                        Ok(None) => Some((Err(missing_chunk(&attachments[i].sha2)), Next::Done)),
                        Err(e) => Some((Err(ApiError::from(e).into()), Next::Done)),
                    }
                }
                Next::Chunk(i, _) => Some((Ok(Bytes::from_static(b"\r\n")), Next::PartHead(i + 1))),
                Next::Done => None,
            }
        }
    });
    stream::once(async move { Ok(first) }).chain(rest)
}

fn missing_chunk(sha2: &str) -> actix_web::Error {
    ApiError::Internal(format!("attachment {sha2} is missing a piece")).into()
}
