//! Attachment content on PostgreSQL.

use super::PgStore;
use crate::model::{AttachmentInfo, StoreId};
use crate::sql;
use crate::{AttachmentReader, StoreError};

impl AttachmentReader for PgStore {
    async fn attachments(
        &self,
        store: StoreId,
        sha2: Vec<String>,
    ) -> Result<Vec<AttachmentInfo>, StoreError> {
        let client = self.pool.get().await?;
        let select = client
            .prepare_cached(
                "SELECT sha2, content_type, length, chunks FROM attachments WHERE store_id = $1 AND sha2 = ANY($2)",
            )
            .await?;
        let rows = client.query(&select, &[&store, &sha2]).await?;
        Ok(rows
            .iter()
            .map(|r| AttachmentInfo {
                sha2: r.get(0),
                content_type: r.get(1),
                length: r.get::<_, i64>(2) as u64,
                chunks: r.get(3),
            })
            .collect())
    }

    async fn attachment_chunk(
        &self,
        store: StoreId,
        sha2: String,
        index: i32,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let client = self.pool.get().await?;
        let select = client.prepare_cached(sql::ATTACHMENT_CHUNK).await?;
        Ok(client.query_opt(&select, &[&store, &sha2, &index]).await?.map(|r| r.get(0)))
    }
}
