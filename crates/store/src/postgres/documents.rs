//! Documents and activity definitions on PostgreSQL.

use std::collections::HashMap;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio_postgres::Row;
use xapi::Timestamp;

use super::{NOW_MICROS, PgStore};
use crate::documents::{check_preconditions, decide};
use crate::model::{Document, DocumentScope, DocumentWrite, Preconditions, StoreId};
use crate::sql;
use crate::{ActivityReader, DocumentReader, DocumentWriter, StoreError};

type Param<'a> = &'a (dyn tokio_postgres::types::ToSql + Sync);

/// The key of one document, in `crate::sql`'s parameter order (`registration` is ''
/// when there is none).
struct Key<'a> {
    scope: &'a DocumentScope,
    kind: i16,
    registration: String,
    id: &'a str,
}

impl<'a> Key<'a> {
    fn new(scope: &'a DocumentScope, id: &'a str) -> Self {
        Key { scope, kind: scope.kind as i16, registration: registration_text(scope), id }
    }

    fn params(&self) -> Vec<Param<'_>> {
        vec![
            &self.scope.store,
            &self.kind,
            &self.scope.activity_id,
            &self.scope.agent,
            &self.registration,
            &self.id,
        ]
    }
}

/// The parameters of a document scope (see `crate::sql`).
struct ScopeParams<'a> {
    scope: &'a DocumentScope,
    kind: i16,
    registration: Option<String>,
}

impl<'a> ScopeParams<'a> {
    fn new(scope: &'a DocumentScope) -> Self {
        ScopeParams {
            scope,
            kind: scope.kind as i16,
            registration: scope.registration.map(|r| r.to_string()),
        }
    }

    fn params(&self) -> Vec<Param<'_>> {
        vec![&self.scope.store, &self.kind, &self.scope.activity_id, &self.scope.agent, &self.registration]
    }
}

fn registration_text(scope: &DocumentScope) -> String {
    scope.registration.map(|r| r.to_string()).unwrap_or_default()
}

fn document_row(row: &Row) -> Document {
    Document {
        id: row.get(0),
        content_type: row.get(1),
        body: row.get(2),
        etag: row.get(3),
        updated: Timestamp::from_micros(row.get(4)),
    }
}

impl PgStore {
    /// The advisory lock that serialises writers of one document (one 64-bit key, a key
    /// space apart from the statement writers' two-key locks).
    fn document_lock(&self, scope: &DocumentScope, id: &str) -> i64 {
        let key = format!(
            "document\0{}\0{}\0{}\0{}\0{}\0{}\0{id}",
            self.lock_namespace,
            scope.store,
            scope.kind as i16,
            scope.activity_id,
            scope.agent,
            registration_text(scope)
        );
        let digest = Sha256::digest(key.as_bytes());
        i64::from_be_bytes(digest[..8].try_into().unwrap_or([0; 8]))
    }

    /// Runs `body` in a transaction holding the document's lock, with the document as it
    /// is then.
    async fn with_locked_document<T>(
        &self,
        scope: &DocumentScope,
        id: &str,
        body: impl AsyncFnOnce(
            &deadpool_postgres::Transaction<'_>,
            Option<Document>,
            i64,
        ) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let now: i64 = tx
            .query_one(
                &format!("SELECT {NOW_MICROS} FROM (SELECT pg_advisory_xact_lock($1)) AS locked"),
                &[&self.document_lock(scope, id)],
            )
            .await?
            .get(0);
        let existing =
            tx.query_opt(sql::DOCUMENT, &Key::new(scope, id).params()).await?.as_ref().map(document_row);
        let result = body(&tx, existing, now).await?;
        tx.commit().await?;
        Ok(result)
    }
}

impl DocumentReader for PgStore {
    async fn document(&self, scope: DocumentScope, id: String) -> Result<Option<Document>, StoreError> {
        let client = self.pool.get().await?;
        let select = client.prepare_cached(sql::DOCUMENT).await?;
        let row = client.query_opt(&select, &Key::new(&scope, &id).params()).await?;
        Ok(row.as_ref().map(document_row))
    }

    async fn document_ids(
        &self,
        scope: DocumentScope,
        since: Option<Timestamp>,
    ) -> Result<Vec<String>, StoreError> {
        let client = self.pool.get().await?;
        let select = client.prepare_cached(sql::DOCUMENT_IDS).await?;
        let since = since.map_or(i64::MIN, Timestamp::as_micros);
        let scope_params = ScopeParams::new(&scope);
        let mut params = scope_params.params();
        params.push(&since);
        let rows = client.query(&select, &params).await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }
}

impl DocumentWriter for PgStore {
    async fn write_document(&self, write: DocumentWrite) -> Result<Document, StoreError> {
        let scope = write.scope.clone();
        let id = write.id.clone();
        self.with_locked_document(&scope, &id, async |tx, existing, now| {
            let content = decide(existing.as_ref(), &write)?;
            // Last-Modified moves forward on every change, whatever the clock does.
            let updated = existing.map_or(now, |d| now.max(d.updated.as_micros() + 1));
            let key = Key::new(&scope, &id);
            let mut params = key.params();
            params.extend::<[Param<'_>; 4]>([&content.content_type, &content.body, &content.etag, &updated]);
            tx.execute(sql::PUT_DOCUMENT, &params).await?;
            Ok(Document {
                id: id.clone(),
                content_type: content.content_type,
                body: content.body,
                etag: content.etag,
                updated: Timestamp::from_micros(updated),
            })
        })
        .await
    }

    async fn delete_document(
        &self,
        scope: DocumentScope,
        id: String,
        preconditions: Preconditions,
    ) -> Result<(), StoreError> {
        self.with_locked_document(&scope, &id, async |tx, existing, _now| {
            check_preconditions(existing.as_ref(), &preconditions)?;
            tx.execute(sql::DELETE_DOCUMENT, &Key::new(&scope, &id).params()).await?;
            Ok(())
        })
        .await
    }

    async fn delete_documents(&self, scope: DocumentScope) -> Result<u64, StoreError> {
        let client = self.pool.get().await?;
        let scope_params = ScopeParams::new(&scope);
        Ok(client.execute(sql::DELETE_DOCUMENTS, &scope_params.params()).await?)
    }
}

impl ActivityReader for PgStore {
    async fn activity_definitions(
        &self,
        store: StoreId,
        ids: Vec<String>,
    ) -> Result<HashMap<String, Map<String, Value>>, StoreError> {
        let client = self.pool.get().await?;
        let select = client
            .prepare_cached("SELECT activity_id, definition FROM activities WHERE store_id = $1 AND activity_id = ANY($2)")
            .await?;
        let mut found = HashMap::new();
        for row in client.query(&select, &[&store, &ids]).await? {
            if let Ok(Value::Object(definition)) = serde_json::from_str::<Value>(row.get(1)) {
                found.insert(row.get(0), definition);
            }
        }
        Ok(found)
    }
}
