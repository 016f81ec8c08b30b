//! Stores (tenants) and credentials on SQLite.

use rusqlite::{OptionalExtension, params};
use xapi::Timestamp;

use super::SqliteStore;
use crate::model::{Credential, StoreId, StoreInfo};
use crate::{CredentialReader, CredentialWriter, StoreError, TenantReader, TenantWriter};

/// A credential counts as revoked when its store is.
const CREDENTIAL_SELECT: &str = "SELECT c.key, c.store_id, c.name, c.scopes, c.secret_sha256, c.created, \
                                 c.revoked OR s.revoked, c.acts_for FROM credentials c JOIN stores s ON s.id = c.store_id";

impl CredentialReader for SqliteStore {
    async fn credential(&self, key: &str) -> Result<Option<Credential>, StoreError> {
        let key = key.to_string();
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare_cached(&format!("{CREDENTIAL_SELECT} WHERE c.key = ?1"))?;
            Ok(stmt.query_row([key], credential_row).optional()?)
        })
        .await
    }

    async fn list_credentials(&self, store: Option<StoreId>) -> Result<Vec<Credential>, StoreError> {
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "{CREDENTIAL_SELECT} WHERE ?1 IS NULL OR c.store_id = ?1 ORDER BY c.created, c.key"
            ))?;
            Ok(stmt.query_map([store], credential_row)?.collect::<Result<_, _>>()?)
        })
        .await
    }
}

impl CredentialWriter for SqliteStore {
    async fn create_credential(&self, credential: Credential) -> Result<(), StoreError> {
        self.with_conn(move |conn| {
            let inserted = conn.execute(
                "INSERT OR IGNORE INTO credentials (key, store_id, name, scopes, secret_sha256, created, revoked, acts_for) \
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE EXISTS (SELECT 1 FROM stores WHERE id = ?2 AND NOT revoked)",
                credential_params(&credential),
            )?;
            if inserted == 0 {
                return Err(StoreError::invalid(
                    "key",
                    format!("a credential with key {} exists, or its store does not", credential.key),
                ));
            }
            Ok(())
        })
        .await
    }

    async fn put_credential(&self, credential: Credential) -> Result<(), StoreError> {
        self.with_conn(move |conn| {
            conn.execute(
                "INSERT INTO credentials (key, store_id, name, scopes, secret_sha256, created, revoked, acts_for) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (key) DO UPDATE SET store_id = excluded.store_id, \
                 name = excluded.name, scopes = excluded.scopes, secret_sha256 = excluded.secret_sha256, \
                 revoked = excluded.revoked, acts_for = excluded.acts_for",
                credential_params(&credential),
            )?;
            Ok(())
        })
        .await
    }

    async fn rename_credential(&self, key: &str, name: &str) -> Result<bool, StoreError> {
        let (key, name) = (key.to_string(), name.to_string());
        self.with_conn(move |conn| {
            Ok(conn.execute("UPDATE credentials SET name = ?2 WHERE key = ?1", [key, name])? > 0)
        })
        .await
    }

    async fn revoke_credential(&self, key: &str) -> Result<bool, StoreError> {
        let key = key.to_string();
        self.with_conn(move |conn| {
            Ok(conn.execute("UPDATE credentials SET revoked = 1 WHERE key = ?1", [key])? > 0)
        })
        .await
    }
}

fn credential_params(c: &Credential) -> impl rusqlite::Params + '_ {
    use rusqlite::types::Value as Sql;
    rusqlite::params_from_iter([
        Sql::Text(c.key.clone()),
        Sql::Integer(c.store),
        Sql::Text(c.name.clone()),
        Sql::Text(c.scopes.join(" ")),
        Sql::Blob(c.secret_sha256.to_vec()),
        Sql::Integer(c.created.as_micros()),
        Sql::Integer(i64::from(c.revoked)),
        c.acts_for.as_ref().map_or(Sql::Null, |a| Sql::Text(a.to_string())),
    ])
}

fn credential_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Credential> {
    let digest: Vec<u8> = r.get(4)?;
    let scopes: String = r.get(3)?;
    Ok(Credential {
        key: r.get(0)?,
        store: r.get(1)?,
        name: r.get(2)?,
        scopes: scopes.split_whitespace().map(str::to_string).collect(),
        secret_sha256: digest.try_into().unwrap_or([0; 32]),
        created: Timestamp::from_micros(r.get(5)?),
        revoked: r.get(6)?,
        acts_for: r.get::<_, Option<String>>(7)?.and_then(|a| serde_json::from_str(&a).ok()),
    })
}

const STORE_SELECT: &str = "SELECT id, name, created, revoked FROM stores";

fn store_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoreInfo> {
    Ok(StoreInfo {
        id: r.get(0)?,
        name: r.get(1)?,
        created: Timestamp::from_micros(r.get(2)?),
        revoked: r.get(3)?,
    })
}

impl TenantReader for SqliteStore {
    async fn stores(&self) -> Result<Vec<StoreInfo>, StoreError> {
        self.with_conn(|conn| {
            let mut stmt = conn.prepare_cached(&format!("{STORE_SELECT} ORDER BY id"))?;
            Ok(stmt.query_map([], store_row)?.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn store_info(&self, id: StoreId) -> Result<Option<StoreInfo>, StoreError> {
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare_cached(&format!("{STORE_SELECT} WHERE id = ?1"))?;
            Ok(stmt.query_row([id], store_row).optional()?)
        })
        .await
    }
}

impl TenantWriter for SqliteStore {
    async fn create_store(&self, name: &str) -> Result<StoreInfo, StoreError> {
        let name = name.to_string();
        self.with_conn(move |conn| {
            let created = Timestamp::now().as_micros();
            conn.execute("INSERT INTO stores (name, created) VALUES (?1, ?2)", params![name, created])?;
            let id = conn.last_insert_rowid();
            Ok(StoreInfo { id, name, created: Timestamp::from_micros(created), revoked: false })
        })
        .await
    }

    async fn rename_store(&self, id: StoreId, name: &str) -> Result<bool, StoreError> {
        let name = name.to_string();
        self.with_conn(move |conn| {
            Ok(conn.execute("UPDATE stores SET name = ?2 WHERE id = ?1", params![id, name])? > 0)
        })
        .await
    }

    async fn revoke_store(&self, id: StoreId) -> Result<bool, StoreError> {
        self.with_conn(move |conn| Ok(conn.execute("UPDATE stores SET revoked = 1 WHERE id = ?1", [id])? > 0))
            .await
    }
}
