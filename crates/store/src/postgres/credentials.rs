//! Stores (tenants) and credentials on PostgreSQL.

use tokio_postgres::Row;
use xapi::Timestamp;

use super::{NOW_MICROS, PgStore};
use crate::model::{Credential, StoreId, StoreInfo};
use crate::{CredentialReader, CredentialWriter, StoreError, TenantReader, TenantWriter};

/// A credential counts as revoked when its store is.
const CREDENTIAL_SELECT: &str = "SELECT c.key, c.store_id, c.name, c.scopes, c.secret_sha256, c.created, \
                                 c.revoked OR s.revoked, c.acts_for FROM credentials c JOIN stores s ON s.id = c.store_id";

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
        let stmt = client.prepare_cached(&format!("{CREDENTIAL_SELECT} WHERE c.key = $1")).await?;
        Ok(client.query_opt(&stmt, &[&key]).await?.as_ref().map(credential_row))
    }

    async fn list_credentials(&self, store: Option<StoreId>) -> Result<Vec<Credential>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                &format!("{CREDENTIAL_SELECT} WHERE $1::bigint IS NULL OR c.store_id = $1 ORDER BY c.created, c.key"),
                &[&store],
            )
            .await?;
        Ok(rows.iter().map(credential_row).collect())
    }
}

impl CredentialWriter for PgStore {
    async fn create_credential(&self, c: Credential) -> Result<(), StoreError> {
        let inserted = self
            .write_credential(
                "INSERT INTO credentials (key, store_id, name, scopes, secret_sha256, created, revoked, acts_for) \
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM stores WHERE id = $2 AND NOT revoked) \
                 ON CONFLICT (key) DO NOTHING",
                &c,
            )
            .await?;
        if inserted == 0 {
            return Err(StoreError::invalid(
                "key",
                format!("a credential with key {} exists, or its store does not", c.key),
            ));
        }
        Ok(())
    }

    async fn put_credential(&self, c: Credential) -> Result<(), StoreError> {
        self.write_credential(
            "INSERT INTO credentials (key, store_id, name, scopes, secret_sha256, created, revoked, acts_for) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (key) DO UPDATE SET store_id = excluded.store_id, \
             name = excluded.name, scopes = excluded.scopes, secret_sha256 = excluded.secret_sha256, \
             revoked = excluded.revoked, acts_for = excluded.acts_for",
            &c,
        )
        .await?;
        Ok(())
    }

    async fn rename_credential(&self, key: &str, name: &str) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        Ok(client.execute("UPDATE credentials SET name = $2 WHERE key = $1", &[&key, &name]).await? > 0)
    }

    async fn revoke_credential(&self, key: &str) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        Ok(client.execute("UPDATE credentials SET revoked = true WHERE key = $1", &[&key]).await? > 0)
    }
}

const STORE_SELECT: &str = "SELECT id, name, created, revoked FROM stores";

fn store_row(row: &Row) -> StoreInfo {
    StoreInfo {
        id: row.get(0),
        name: row.get(1),
        created: Timestamp::from_micros(row.get(2)),
        revoked: row.get(3),
    }
}

impl TenantReader for PgStore {
    async fn stores(&self) -> Result<Vec<StoreInfo>, StoreError> {
        let client = self.pool.get().await?;
        Ok(client.query(&format!("{STORE_SELECT} ORDER BY id"), &[]).await?.iter().map(store_row).collect())
    }

    async fn store_info(&self, id: StoreId) -> Result<Option<StoreInfo>, StoreError> {
        let client = self.pool.get().await?;
        Ok(client.query_opt(&format!("{STORE_SELECT} WHERE id = $1"), &[&id]).await?.as_ref().map(store_row))
    }
}

impl TenantWriter for PgStore {
    async fn create_store(&self, name: &str) -> Result<StoreInfo, StoreError> {
        let client = self.pool.get().await?;
        let row = client
            .query_one(
                &format!("INSERT INTO stores (name, created) VALUES ($1, {NOW_MICROS}) RETURNING id, name, created, revoked"),
                &[&name],
            )
            .await?;
        Ok(store_row(&row))
    }

    async fn rename_store(&self, id: StoreId, name: &str) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        Ok(client.execute("UPDATE stores SET name = $2 WHERE id = $1", &[&id, &name]).await? > 0)
    }

    async fn revoke_store(&self, id: StoreId) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        Ok(client.execute("UPDATE stores SET revoked = true WHERE id = $1", &[&id]).await? > 0)
    }
}
