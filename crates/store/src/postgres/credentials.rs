//! Credentials on PostgreSQL.

use tokio_postgres::Row;
use xapi::Timestamp;

use super::PgStore;
use crate::model::Credential;
use crate::{CredentialStore, StoreError};

const CREDENTIAL_COLUMNS: &str = "key, store_id, name, scopes, secret_sha256, created, revoked";

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
    }
}

impl PgStore {
    async fn upsert_credential(&self, c: &Credential, on_conflict: &str) -> Result<u64, StoreError> {
        let client = self.pool.get().await?;
        let sql = format!(
            "INSERT INTO credentials ({CREDENTIAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (key) {on_conflict}"
        );
        Ok(client
            .execute(
                &sql,
                &[
                    &c.key,
                    &c.store,
                    &c.name,
                    &c.scopes.join(" "),
                    &c.secret_sha256.to_vec(),
                    &c.created.as_micros(),
                    &c.revoked,
                ],
            )
            .await?)
    }
}

impl CredentialStore for PgStore {
    async fn credential(&self, key: &str) -> Result<Option<Credential>, StoreError> {
        let client = self.pool.get().await?;
        let stmt = client
            .prepare_cached(&format!("SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE key = $1"))
            .await?;
        Ok(client.query_opt(&stmt, &[&key]).await?.as_ref().map(credential_row))
    }

    async fn create_credential(&self, credential: Credential) -> Result<(), StoreError> {
        if self.upsert_credential(&credential, "DO NOTHING").await? == 0 {
            return Err(StoreError::invalid(
                "key",
                format!("a credential with key {} exists", credential.key),
            ));
        }
        Ok(())
    }

    async fn put_credential(&self, credential: Credential) -> Result<(), StoreError> {
        self.upsert_credential(
            &credential,
            "DO UPDATE SET store_id = excluded.store_id, name = excluded.name, scopes = excluded.scopes, \
             secret_sha256 = excluded.secret_sha256, revoked = excluded.revoked",
        )
        .await?;
        Ok(())
    }

    async fn list_credentials(&self) -> Result<Vec<Credential>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(&format!("SELECT {CREDENTIAL_COLUMNS} FROM credentials ORDER BY created, key"), &[])
            .await?;
        Ok(rows.iter().map(credential_row).collect())
    }

    async fn revoke_credential(&self, key: &str) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        Ok(client.execute("UPDATE credentials SET revoked = true WHERE key = $1", &[&key]).await? > 0)
    }
}
