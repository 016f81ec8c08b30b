//! Stores (tenants) and credentials on PostgreSQL (their SQL is `crate::sql`'s).

use crate::RetentionPolicy;
use tokio_postgres::Row;
use xapi::Timestamp;

use super::{NOW_MICROS, PgStore};
use crate::model::{Credential, StoreId, StoreInfo};
use crate::sql;
use crate::{CredentialReader, CredentialWriter, StoreError, TenantReader, TenantWriter};

fn credential_row(row: &Row) -> Credential {
    let digest: Vec<u8> = row.get(4);
    let scopes: String = row.get(3);
    Credential {
        key: row.get(0),
        store: row.get(1),
        name: row.get(2),
        scopes: scopes.split_whitespace().map(str::to_string).collect(),
        secret_sha256: digest.try_into().unwrap_or([0; 32]),
        created: Timestamp::from_micros(row.get(5)),
        revoked: row.get(6),
        acts_for: row.get::<_, Option<String>>(7).and_then(|a| serde_json::from_str(&a).ok()),
    }
}

impl PgStore {
    /// Runs `sql` with a credential's columns as $1…$8 (key, store, name, scopes, secret
    /// digest, created, revoked, acts_for); returns the rows it wrote.
    async fn write_credential(&self, sql: &str, c: &Credential) -> Result<u64, StoreError> {
        let client = self.pool.get().await?;
        let (scopes, secret, acts_for) =
            (c.scopes.join(" "), c.secret_sha256.to_vec(), c.acts_for.as_ref().map(|a| a.to_string()));
        let created = c.created.as_micros();
        Ok(client
            .execute(sql, &[&c.key, &c.store, &c.name, &scopes, &secret, &created, &c.revoked, &acts_for])
            .await?)
    }
}

impl CredentialReader for PgStore {
    async fn credential(&self, key: &str) -> Result<Option<Credential>, StoreError> {
        let client = self.pool.get().await?;
        let stmt = client.prepare_cached(sql::CREDENTIAL).await?;
        Ok(client.query_opt(&stmt, &[&key]).await?.as_ref().map(credential_row))
    }

    async fn list_credentials(&self, store: Option<StoreId>) -> Result<Vec<Credential>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client.query(sql::CREDENTIALS, &[&store]).await?;
        Ok(rows.iter().map(credential_row).collect())
    }
}

impl CredentialWriter for PgStore {
    async fn create_credential(&self, c: Credential) -> Result<(), StoreError> {
        let inserted = self.write_credential(sql::CREATE_CREDENTIAL, &c).await?;
        if inserted == 0 {
            return Err(StoreError::invalid(
                "key",
                format!("a credential with key {} exists, or its store does not", c.key),
            ));
        }
        Ok(())
    }

    async fn put_credential(&self, c: Credential) -> Result<(), StoreError> {
        self.write_credential(sql::PUT_CREDENTIAL, &c).await?;
        Ok(())
    }

    async fn rename_credential(&self, key: &str, name: &str) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        Ok(client.execute(sql::RENAME_CREDENTIAL, &[&key, &name]).await? > 0)
    }

    async fn revoke_credential(&self, key: &str) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        Ok(client.execute(sql::REVOKE_CREDENTIAL, &[&key]).await? > 0)
    }
}

fn store_row(row: &Row) -> StoreInfo {
    StoreInfo {
        id: row.get(0),
        name: row.get(1),
        created: Timestamp::from_micros(row.get(2)),
        revoked: row.get(3),
        retention: RetentionPolicy {
            statements_days: row.get::<_, Option<i32>>(4).map(|d| d as u32),
            tickets_days: row.get::<_, Option<i32>>(5).map(|d| d as u32),
        },
    }
}

impl TenantReader for PgStore {
    async fn stores(&self) -> Result<Vec<StoreInfo>, StoreError> {
        let client = self.pool.get().await?;
        Ok(client.query(sql::STORES, &[]).await?.iter().map(store_row).collect())
    }

    async fn store_info(&self, id: StoreId) -> Result<Option<StoreInfo>, StoreError> {
        let client = self.pool.get().await?;
        Ok(client.query_opt(sql::STORE, &[&id]).await?.as_ref().map(store_row))
    }
}

impl TenantWriter for PgStore {
    async fn create_store(&self, name: &str) -> Result<StoreInfo, StoreError> {
        let client = self.pool.get().await?;
        let row = client
            .query_one(
                &format!(
                    "INSERT INTO stores (name, created) VALUES ($1, {NOW_MICROS}) RETURNING {}",
                    sql::STORE_COLUMNS
                ),
                &[&name],
            )
            .await?;
        Ok(store_row(&row))
    }

    async fn set_retention(&self, id: StoreId, policy: RetentionPolicy) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        let days = |d: Option<u32>| d.map(|d| d as i32);
        Ok(client
            .execute(sql::SET_RETENTION, &[&id, &days(policy.statements_days), &days(policy.tickets_days)])
            .await?
            > 0)
    }

    async fn rename_store(&self, id: StoreId, name: &str) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        Ok(client.execute(sql::RENAME_STORE, &[&id, &name]).await? > 0)
    }

    async fn revoke_store(&self, id: StoreId) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        Ok(client.execute(sql::REVOKE_STORE, &[&id]).await? > 0)
    }
}

impl crate::PullCursors for PgStore {
    async fn pull_cursor(&self, store: StoreId, source: &str) -> Result<Option<String>, StoreError> {
        let client = self.pool.get().await?;
        Ok(client.query_opt(sql::PULL_CURSOR, &[&store, &source]).await?.map(|r| r.get(0)))
    }

    async fn set_pull_cursor(&self, store: StoreId, source: &str, since: &str) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        let now = Timestamp::now().as_micros();
        client.execute(sql::SET_PULL_CURSOR, &[&store, &source, &since, &now]).await?;
        Ok(())
    }
}
