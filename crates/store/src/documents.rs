//! Document writes decided once for both backends: preconditions, conflicts and the
//! JSON merge of POST. Backends lock the document, read it, call [`decide`], and write
//! what it returns, all in one transaction, so concurrent writers never lose an update.

use serde_json::{Map, Value};
use sha1::{Digest, Sha1};

use crate::StoreError;
use crate::model::{Document, DocumentWrite, DocumentWriteMode, Preconditions};

/// The content a write leaves behind.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct NewContent {
    pub content_type: String,
    pub body: Vec<u8>,
    pub etag: String,
}

/// The entity tag of a body: its SHA-1, hex (what xAPI 1.0.3 clients expect).
pub(crate) fn etag(body: &[u8]) -> String {
    Sha1::digest(body).iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks `If-Match` / `If-None-Match` against the current document (RFC 9110 §13.1).
pub(crate) fn check_preconditions(
    existing: Option<&Document>,
    preconditions: &Preconditions,
) -> Result<(), StoreError> {
    let matches = |tags: &[String], document: &Document| tags.iter().any(|t| t == "*" || *t == document.etag);
    if let Some(tags) = &preconditions.if_match {
        match existing {
            Some(document) if matches(tags, document) => {}
            Some(_) => {
                return Err(StoreError::PreconditionFailed(
                    "If-Match does not match the document's current ETag".into(),
                ));
            }
            None => {
                return Err(StoreError::PreconditionFailed(
                    "If-Match was sent but there is no such document".into(),
                ));
            }
        }
    }
    if let (Some(tags), Some(document)) = (&preconditions.if_none_match, existing)
        && matches(tags, document)
    {
        return Err(StoreError::PreconditionFailed("If-None-Match: the document already exists".into()));
    }
    Ok(())
}

/// Decides what a write stores, or why it is refused; nothing is changed on refusal.
pub(crate) fn decide(existing: Option<&Document>, write: &DocumentWrite) -> Result<NewContent, StoreError> {
    check_preconditions(existing, &write.preconditions)?;
    if write.mode == DocumentWriteMode::Replace
        && existing.is_some()
        && write.replace_needs_precondition
        && write.preconditions.is_empty()
    {
        return Err(StoreError::Conflict(
            "the document exists: fetch it, then send If-Match with its ETag to replace it \
             (or If-None-Match: * to create it only when absent)"
                .into(),
        ));
    }
    let new_json = is_json(&write.content_type);
    let (content_type, body) = match (write.mode, existing) {
        (DocumentWriteMode::Replace, _) => (write.content_type.clone(), write.body.clone()),
        (DocumentWriteMode::Merge, None) => {
            if new_json {
                json_object(&write.body, "the posted document")?;
            }
            (write.content_type.clone(), write.body.clone())
        }
        (DocumentWriteMode::Merge, Some(current)) => {
            if !new_json || !is_json(&current.content_type) {
                return Err(StoreError::invalid(
                    "Content-Type",
                    "POST merges JSON objects: both the stored and the posted document must be application/json",
                ));
            }
            let mut merged = json_object(&current.body, "the stored document")?;
            for (key, value) in json_object(&write.body, "the posted document")? {
                merged.insert(key, value);
            }
            (current.content_type.clone(), Value::Object(merged).to_string().into_bytes())
        }
    };
    let etag = etag(&body);
    Ok(NewContent { content_type, body, etag })
}

/// Whether a content type is JSON (`application/json`, with or without parameters).
fn is_json(content_type: &str) -> bool {
    content_type.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json")
}

fn json_object(body: &[u8], what: &str) -> Result<Map<String, Value>, StoreError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(StoreError::invalid("", format!("{what} is not a JSON object, so it cannot be merged"))),
        Err(e) => Err(StoreError::invalid("", format!("{what} is not valid JSON: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DocumentKind, DocumentScope};
    use xapi::Timestamp;

    fn document(content_type: &str, body: &str) -> Document {
        Document {
            id: "d".into(),
            content_type: content_type.into(),
            body: body.as_bytes().to_vec(),
            etag: etag(body.as_bytes()),
            updated: Timestamp::from_micros(0),
        }
    }

    fn write(mode: DocumentWriteMode, content_type: &str, body: &str) -> DocumentWrite {
        DocumentWrite {
            scope: DocumentScope {
                store: crate::DEFAULT_STORE,
                kind: DocumentKind::State,
                activity_id: "http://a".into(),
                agent: "mbox:mailto:a@b.c".into(),
                registration: None,
            },
            id: "d".into(),
            content_type: content_type.into(),
            body: body.as_bytes().to_vec(),
            mode,
            preconditions: Preconditions::default(),
            replace_needs_precondition: false,
        }
    }

    #[test]
    fn the_etag_is_the_sha1_of_the_body() {
        assert_eq!(etag(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    }

    #[test]
    fn a_merge_keeps_old_keys_and_takes_new_values() {
        let current = document("application/json", r#"{"a":1,"b":{"x":1}}"#);
        let new = decide(
            Some(&current),
            &write(DocumentWriteMode::Merge, "application/json", r#"{"b":{"y":2},"c":3}"#),
        )
        .unwrap();
        let merged: Value = serde_json::from_slice(&new.body).unwrap();
        assert_eq!(merged, serde_json::json!({"a":1,"b":{"y":2},"c":3}));
        assert_eq!(new.etag, etag(&new.body));
    }

    #[test]
    fn merging_anything_but_two_json_objects_is_refused() {
        let json = document("application/json", r#"{"a":1}"#);
        let text = document("application/octet-stream", "bytes");
        for (current, content_type, body) in [
            (&json, "text/plain", "abc"),
            (&json, "application/json", "[1]"),
            (&json, "application/json", "{\"a\":"),
            (&text, "application/json", "{\"a\":1}"),
        ] {
            let err =
                decide(Some(current), &write(DocumentWriteMode::Merge, content_type, body)).unwrap_err();
            assert!(matches!(err, StoreError::Invalid { .. }), "{content_type} {body}: {err:?}");
        }
    }

    #[test]
    fn if_match_must_name_the_current_etag() {
        let current = document("text/plain", "v1");
        let mut w = write(DocumentWriteMode::Replace, "text/plain", "v2");
        w.preconditions.if_match = Some(vec!["0000".into()]);
        assert!(matches!(decide(Some(&current), &w), Err(StoreError::PreconditionFailed(_))));
        assert!(matches!(decide(None, &w), Err(StoreError::PreconditionFailed(_))));
        w.preconditions.if_match = Some(vec![current.etag.clone()]);
        assert!(decide(Some(&current), &w).is_ok());
        w.preconditions.if_match = Some(vec!["*".into()]);
        assert!(decide(Some(&current), &w).is_ok());
    }

    #[test]
    fn if_none_match_star_creates_only_when_absent() {
        let mut w = write(DocumentWriteMode::Replace, "text/plain", "v1");
        w.preconditions.if_none_match = Some(vec!["*".into()]);
        assert!(decide(None, &w).is_ok());
        assert!(matches!(
            decide(Some(&document("text/plain", "v0")), &w),
            Err(StoreError::PreconditionFailed(_))
        ));
    }

    #[test]
    fn replacing_a_profile_without_a_precondition_is_a_conflict_but_creating_one_is_not() {
        let mut w = write(DocumentWriteMode::Replace, "text/plain", "v1");
        w.replace_needs_precondition = true;
        assert!(decide(None, &w).is_ok());
        assert!(matches!(decide(Some(&document("text/plain", "v0")), &w), Err(StoreError::Conflict(_))));
    }
}
