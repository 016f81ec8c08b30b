//! Credentials on SQLite.

use rusqlite::OptionalExtension;
use xapi::Timestamp;

use super::SqliteStore;
use crate::model::Credential;
use crate::{CredentialStore, StoreError};

impl CredentialStore for SqliteStore {
    async fn credential(&self, key: &str) -> Result<Option<Credential>, StoreError> {
        let key = key.to_string();
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT key, store_id, name, scopes, secret_sha256, created, revoked FROM credentials WHERE key = ?1",
            )?;
            Ok(stmt.query_row([key], credential_row).optional()?)
        })
        .await
    }

    async fn create_credential(&self, credential: Credential) -> Result<(), StoreError> {
        self.with_conn(move |conn| {
            let inserted = conn.execute(
                "INSERT OR IGNORE INTO credentials (key, store_id, name, scopes, secret_sha256, created, revoked) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                credential_params(&credential),
            )?;
            if inserted == 0 {
                return Err(StoreError::invalid("key", format!("a credential with key {} exists", credential.key)));
            }
            Ok(())
        })
        .await
    }

    async fn put_credential(&self, credential: Credential) -> Result<(), StoreError> {
        self.with_conn(move |conn| {
            conn.execute(
                "INSERT INTO credentials (key, store_id, name, scopes, secret_sha256, created, revoked) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (key) DO UPDATE SET store_id = excluded.store_id, \
                 name = excluded.name, scopes = excluded.scopes, secret_sha256 = excluded.secret_sha256, \
                 revoked = excluded.revoked",
                credential_params(&credential),
            )?;
            Ok(())
        })
        .await
    }

    async fn list_credentials(&self) -> Result<Vec<Credential>, StoreError> {
        self.with_conn(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT key, store_id, name, scopes, secret_sha256, created, revoked FROM credentials ORDER BY created, key",
            )?;
            Ok(stmt.query_map([], credential_row)?.collect::<Result<_, _>>()?)
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
    })
}
