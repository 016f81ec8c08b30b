//! Stores (tenants) and credentials on SQLite (their SQL is `crate::sql`'s).

use crate::RetentionPolicy;
use rusqlite::{OptionalExtension, params};
use xapi::Timestamp;

use super::SqliteStore;
use crate::model::{Credential, StoreId, StoreInfo};
use crate::sql::{self, for_sqlite};
use crate::{CredentialReader, CredentialWriter, StoreError, TenantReader, TenantWriter};

impl CredentialReader for SqliteStore {
    async fn credential(&self, key: &str) -> Result<Option<Credential>, StoreError> {
        let key = key.to_string();
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare_cached(&for_sqlite(sql::CREDENTIAL))?;
            Ok(stmt.query_row([key], credential_row).optional()?)
        })
        .await
    }

    async fn list_credentials(&self, store: Option<StoreId>) -> Result<Vec<Credential>, StoreError> {
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare_cached(&for_sqlite(sql::CREDENTIALS))?;
            Ok(stmt.query_map([store], credential_row)?.collect::<Result<_, _>>()?)
        })
        .await
    }
}

impl CredentialWriter for SqliteStore {
    async fn create_credential(&self, credential: Credential) -> Result<(), StoreError> {
        self.with_conn(move |conn| {
            let inserted =
                conn.execute(&for_sqlite(sql::CREATE_CREDENTIAL), credential_params(&credential))?;
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
            conn.execute(&for_sqlite(sql::PUT_CREDENTIAL), credential_params(&credential))?;
            Ok(())
        })
        .await
    }

    async fn rename_credential(&self, key: &str, name: &str) -> Result<bool, StoreError> {
        let (key, name) = (key.to_string(), name.to_string());
        self.with_conn(move |conn| Ok(conn.execute(&for_sqlite(sql::RENAME_CREDENTIAL), [key, name])? > 0))
            .await
    }

    async fn revoke_credential(&self, key: &str) -> Result<bool, StoreError> {
        let key = key.to_string();
        self.with_conn(move |conn| Ok(conn.execute(&for_sqlite(sql::REVOKE_CREDENTIAL), [key])? > 0)).await
    }
}

fn credential_params(c: &Credential) -> impl rusqlite::Params + '_ {
    use rusqlite::types::Value as Sql;
    rusqlite::params_from_iter([
        Sql::Text(c.key.clone()),
        Sql::Integer(c.store.get()),
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

fn store_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoreInfo> {
    Ok(StoreInfo {
        id: r.get(0)?,
        name: r.get(1)?,
        created: Timestamp::from_micros(r.get(2)?),
        revoked: r.get(3)?,
        retention: RetentionPolicy { statements_days: r.get(4)?, tickets_days: r.get(5)? },
    })
}

impl TenantReader for SqliteStore {
    async fn stores(&self) -> Result<Vec<StoreInfo>, StoreError> {
        self.with_conn(|conn| {
            let mut stmt = conn.prepare_cached(&for_sqlite(sql::STORES))?;
            Ok(stmt.query_map([], store_row)?.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn store_info(&self, id: StoreId) -> Result<Option<StoreInfo>, StoreError> {
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare_cached(&for_sqlite(sql::STORE))?;
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
            let id = StoreId::new(conn.last_insert_rowid());
            Ok(StoreInfo {
                id,
                name,
                created: Timestamp::from_micros(created),
                revoked: false,
                retention: RetentionPolicy::default(),
            })
        })
        .await
    }

    async fn rename_store(&self, id: StoreId, name: &str) -> Result<bool, StoreError> {
        let name = name.to_string();
        self.with_conn(move |conn| Ok(conn.execute(&for_sqlite(sql::RENAME_STORE), params![id, name])? > 0))
            .await
    }

    async fn set_retention(&self, id: StoreId, policy: RetentionPolicy) -> Result<bool, StoreError> {
        self.with_conn(move |conn| {
            let params = params![id, policy.statements_days, policy.tickets_days];
            Ok(conn.execute(&for_sqlite(sql::SET_RETENTION), params)? > 0)
        })
        .await
    }

    async fn revoke_store(&self, id: StoreId) -> Result<bool, StoreError> {
        self.with_conn(move |conn| Ok(conn.execute(&for_sqlite(sql::REVOKE_STORE), [id])? > 0)).await
    }
}

impl crate::PullCursors for SqliteStore {
    async fn pull_cursor(&self, store: StoreId, source: &str) -> Result<Option<String>, StoreError> {
        let source = source.to_string();
        self.with_conn(move |conn| {
            Ok(conn
                .query_row(&for_sqlite(sql::PULL_CURSOR), params![store, source], |r| r.get(0))
                .optional()?)
        })
        .await
    }

    async fn set_pull_cursor(&self, store: StoreId, source: &str, since: &str) -> Result<(), StoreError> {
        let (source, since) = (source.to_string(), since.to_string());
        self.with_conn(move |conn| {
            let now = Timestamp::now().as_micros();
            conn.execute(&for_sqlite(sql::SET_PULL_CURSOR), params![store, source, since, now])?;
            Ok(())
        })
        .await
    }
}
