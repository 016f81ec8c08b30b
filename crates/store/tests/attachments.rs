//! Attachment content, on both backends.

#[macro_use]
mod common;

use std::io::Write;
use std::sync::Arc;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use store::{
    ATTACHMENT_CHUNK_BYTES, AttachmentContent, AttachmentReader, AttachmentUpload, DEFAULT_STORE,
    StatementBatch, StatementWriter, StoreError,
};
use test_support::statements::statement;
use uuid::Uuid;
use xapi::{Statement, Version};

fn sha2(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A statement declaring one attachment, and that attachment's content.
fn with_attachment(content: AttachmentContent, bytes: &[u8]) -> StatementBatch {
    let hash = sha2(bytes);
    let mut s = statement();
    s["attachments"] = json!([{
        "usageType": "http://example.com/attachments/slides",
        "display": { "en-US": "slides" },
        "contentType": "application/pdf",
        "length": bytes.len(),
        "sha2": hash,
    }]);
    StatementBatch {
        store: DEFAULT_STORE,
        version: Version::V1_0,
        authority: json!({ "objectType": "Agent", "mbox": "mailto:lrs@example.com" }),
        define: true,
        keep_stored: false,
        statements: vec![Statement::parse(s, Version::V1_0).unwrap()],
        attachments: vec![AttachmentUpload {
            sha2: hash,
            content_type: "application/pdf".into(),
            length: bytes.len() as u64,
            content,
        }],
    }
}

fn in_memory(bytes: &[u8]) -> AttachmentContent {
    AttachmentContent::Memory(Arc::from(bytes))
}

async fn stored_content<S: AttachmentReader>(store: &S, hash: &str) -> Vec<u8> {
    let info = store.attachments(DEFAULT_STORE, vec![hash.to_string()]).await.unwrap().remove(0);
    let mut bytes = Vec::new();
    for index in 0..info.chunks {
        bytes.extend(store.attachment_chunk(DEFAULT_STORE, hash.to_string(), index).await.unwrap().unwrap());
    }
    assert_eq!(bytes.len() as u64, info.length);
    bytes
}

store_tests! {
    async fn attachment_content_is_stored_with_its_statement(store) {
        let bytes = b"%PDF-1.7 slides".to_vec();
        store.write_statements(with_attachment(in_memory(&bytes), &bytes)).await.unwrap();
        let info = store.attachments(DEFAULT_STORE, vec![sha2(&bytes), "0".repeat(64)]).await.unwrap();
        assert_eq!(info.len(), 1, "only what is stored is found");
        assert_eq!((info[0].content_type.as_str(), info[0].chunks), ("application/pdf", 1));
        assert_eq!(stored_content(&store, &sha2(&bytes)).await, bytes);
    }

    async fn large_content_is_stored_in_pieces_from_a_spooled_file(store) {
        let bytes: Vec<u8> = (0..(ATTACHMENT_CHUNK_BYTES * 2 + 123)).map(|i| (i % 251) as u8).collect();
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&bytes).unwrap();
        let content = AttachmentContent::File(Arc::new(file.into_temp_path()));
        store.write_statements(with_attachment(content, &bytes)).await.unwrap();
        let info = store.attachments(DEFAULT_STORE, vec![sha2(&bytes)]).await.unwrap();
        assert_eq!(info[0].chunks, 3);
        assert_eq!(stored_content(&store, &sha2(&bytes)).await, bytes);
    }

    async fn the_same_content_is_stored_once(store) {
        let bytes = b"shared".to_vec();
        store.write_statements(with_attachment(in_memory(&bytes), &bytes)).await.unwrap();
        store.write_statements(with_attachment(in_memory(&bytes), &bytes)).await.unwrap();
        assert_eq!(store.attachments(DEFAULT_STORE, vec![sha2(&bytes)]).await.unwrap().len(), 1);
        assert_eq!(stored_content(&store, &sha2(&bytes)).await, bytes);
    }

    async fn a_refused_batch_leaves_no_attachment_behind(store) {
        let id = Uuid::new_v4();
        let mut first = statement();
        first["id"] = json!(id.to_string());
        let mut batch = with_attachment(in_memory(b"x"), b"x");
        batch.statements = vec![Statement::parse(first, Version::V1_0).unwrap()];
        batch.attachments.clear();
        store.write_statements(batch).await.unwrap();
        let bytes = b"orphan".to_vec();
        let mut conflicting = with_attachment(in_memory(&bytes), &bytes);
        let mut json: Value = Value::Object(conflicting.statements[0].json().clone());
        json["id"] = json!(id.to_string());
        conflicting.statements = vec![Statement::parse(json, Version::V1_0).unwrap()];
        assert!(matches!(store.write_statements(conflicting).await, Err(StoreError::Conflict(_))));
        assert!(store.attachments(DEFAULT_STORE, vec![sha2(&bytes)]).await.unwrap().is_empty());
    }
}
