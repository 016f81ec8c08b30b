//! Attachment content on SQLite.

use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::model::{AttachmentInfo, StoreId};
use crate::sql::{self, for_sqlite};
use crate::{AttachmentReader, StoreError};

impl AttachmentReader for SqliteStore {
    async fn attachments(
        &self,
        store: StoreId,
        sha2: Vec<String>,
    ) -> Result<Vec<AttachmentInfo>, StoreError> {
        self.with_conn(move |conn| {
            let mut select = conn.prepare_cached(
                "SELECT sha2, content_type, length, chunks FROM attachments WHERE store_id = ?1 AND sha2 = ?2",
            )?;
            let mut found = Vec::new();
            for hash in sha2 {
                let info = select
                    .query_row(params![store, hash], |r| {
                        Ok(AttachmentInfo {
                            sha2: r.get(0)?,
                            content_type: r.get(1)?,
                            length: r.get::<_, i64>(2)? as u64,
                            chunks: r.get(3)?,
                        })
                    })
                    .optional()?;
                found.extend(info);
            }
            Ok(found)
        })
        .await
    }

    async fn attachment_chunk(
        &self,
        store: StoreId,
        sha2: String,
        index: i32,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.with_conn(move |conn| {
            let mut select = conn.prepare_cached(&for_sqlite(sql::ATTACHMENT_CHUNK))?;
            Ok(select.query_row(params![store, sha2, index], |r| r.get(0)).optional()?)
        })
        .await
    }
}
