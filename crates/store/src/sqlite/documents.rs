//! Documents and activity definitions on SQLite.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde_json::{Map, Value};
use xapi::Timestamp;

use super::SqliteStore;
use crate::documents::{check_preconditions, decide};
use crate::model::{Document, DocumentScope, DocumentWrite, Preconditions, StoreId};
use crate::sql::{self, for_sqlite};
use crate::{ActivityReader, DocumentReader, DocumentWriter, StoreError};

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

    fn params(&self) -> [&dyn rusqlite::ToSql; 6] {
        [
            &self.scope.store,
            &self.kind,
            &self.scope.activity_id,
            &self.scope.agent,
            &self.registration,
            &self.id,
        ]
    }
}

fn registration_text(scope: &DocumentScope) -> String {
    scope.registration.map(|r| r.to_string()).unwrap_or_default()
}

fn select_document(
    conn: &Connection,
    scope: &DocumentScope,
    id: &str,
) -> Result<Option<Document>, StoreError> {
    let mut select = conn.prepare_cached(&for_sqlite(sql::DOCUMENT))?;
    Ok(select
        .query_row(Key::new(scope, id).params(), |r| {
            Ok(Document {
                id: r.get(0)?,
                content_type: r.get(1)?,
                body: r.get(2)?,
                etag: r.get(3)?,
                updated: Timestamp::from_micros(r.get(4)?),
            })
        })
        .optional()?)
}

impl DocumentReader for SqliteStore {
    async fn document(&self, scope: DocumentScope, id: String) -> Result<Option<Document>, StoreError> {
        self.with_conn(move |conn| select_document(conn, &scope, &id)).await
    }

    async fn document_ids(
        &self,
        scope: DocumentScope,
        since: Option<Timestamp>,
    ) -> Result<Vec<String>, StoreError> {
        self.with_conn(move |conn| {
            let mut select = conn.prepare_cached(&for_sqlite(sql::DOCUMENT_IDS))?;
            let registration = scope.registration.map(|r| r.to_string());
            let since = since.map_or(i64::MIN, Timestamp::as_micros);
            let ids = select
                .query_map(
                    params![
                        scope.store,
                        scope.kind as i16,
                        scope.activity_id,
                        scope.agent,
                        registration,
                        since
                    ],
                    |r| r.get(0),
                )?
                .collect::<Result<_, _>>()?;
            Ok(ids)
        })
        .await
    }
}

impl DocumentWriter for SqliteStore {
    async fn write_document(&self, write: DocumentWrite) -> Result<Document, StoreError> {
        self.with_conn(move |conn| {
            // IMMEDIATE takes SQLite's write lock first, so the read and the write below
            // see no other writer in between.
            let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
            let existing = select_document(&tx, &write.scope, &write.id)?;
            let content = decide(existing.as_ref(), &write)?;
            // Last-Modified moves forward on every change, whatever the clock does.
            let now = Timestamp::now().as_micros();
            let updated = existing.map_or(now, |d| now.max(d.updated.as_micros() + 1));
            let key = Key::new(&write.scope, &write.id);
            let [store, kind, activity, agent, registration, id] = key.params();
            tx.execute(
                &for_sqlite(sql::PUT_DOCUMENT),
                params![
                    store,
                    kind,
                    activity,
                    agent,
                    registration,
                    id,
                    content.content_type,
                    content.body,
                    content.etag,
                    updated
                ],
            )?;
            tx.commit()?;
            Ok(Document {
                id: write.id,
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
        self.with_conn(move |conn| {
            let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
            let existing = select_document(&tx, &scope, &id)?;
            check_preconditions(existing.as_ref(), &preconditions)?;
            tx.execute(&for_sqlite(sql::DELETE_DOCUMENT), Key::new(&scope, &id).params())?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn delete_documents(&self, scope: DocumentScope) -> Result<u64, StoreError> {
        self.with_conn(move |conn| {
            let registration = scope.registration.map(|r| r.to_string());
            let deleted = conn.execute(
                &for_sqlite(sql::DELETE_DOCUMENTS),
                params![scope.store, scope.kind as i16, scope.activity_id, scope.agent, registration],
            )?;
            Ok(deleted as u64)
        })
        .await
    }
}

impl ActivityReader for SqliteStore {
    async fn activity_definitions(
        &self,
        store: StoreId,
        ids: Vec<String>,
    ) -> Result<HashMap<String, Map<String, Value>>, StoreError> {
        self.with_conn(move |conn| {
            let mut select = conn.prepare_cached(
                "SELECT definition FROM activities WHERE store_id = ?1 AND activity_id = ?2",
            )?;
            let mut found = HashMap::new();
            for id in ids {
                let definition: Option<String> =
                    select.query_row(params![store, id], |r| r.get(0)).optional()?;
                if let Some(Ok(Value::Object(definition))) = definition.map(|d| serde_json::from_str(&d)) {
                    found.insert(id, definition);
                }
            }
            Ok(found)
        })
        .await
    }
}
