//! Helpdesk connectors on SQLite (their SQL is `crate::sql`'s).

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use xapi::Timestamp;

use super::SqliteStore;
use super::insights::upsert_ticket_rows;
use crate::connectors::{
    Connector, ConnectorPage, ConnectorReader, ConnectorRun, ConnectorWriter, NewConnector,
};
use crate::sql::{self, for_sqlite};
use crate::{StoreError, StoreId};

fn connector_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Connector> {
    Ok(Connector {
        id: r.get(0)?,
        store: r.get(1)?,
        kind: r.get(2)?,
        base_url: r.get(3)?,
        sealed_credentials: r.get(4)?,
        every_seconds: r.get(5)?,
        filter: r.get(6)?,
        created: Timestamp::from_micros(r.get(7)?),
        cursor: r.get(8)?,
        last_run: r.get::<_, Option<i64>>(9)?.map(Timestamp::from_micros),
        next_run: Timestamp::from_micros(r.get(10)?),
        last_error: r.get(11)?,
        tickets_fetched: r.get::<_, i64>(12)? as u64,
        known_through: r.get(13)?,
    })
}

fn connector_by_id(conn: &rusqlite::Connection, id: i64) -> Result<Option<Connector>, StoreError> {
    Ok(conn.query_row(&for_sqlite(sql::CONNECTOR), [id], connector_row).optional()?)
}

impl ConnectorReader for SqliteStore {
    async fn connectors(&self, store: Option<StoreId>) -> Result<Vec<Connector>, StoreError> {
        self.with_conn(move |conn| {
            let mut select = conn.prepare_cached(&for_sqlite(sql::CONNECTORS))?;
            Ok(select.query_map([store], connector_row)?.collect::<Result<_, _>>()?)
        })
        .await
    }
}

impl ConnectorWriter for SqliteStore {
    async fn create_connector(&self, new: NewConnector) -> Result<Connector, StoreError> {
        self.with_conn(move |conn| {
            let id: i64 = conn.query_row(
                &for_sqlite(sql::CREATE_CONNECTOR),
                params![
                    new.store,
                    new.kind,
                    new.base_url,
                    new.sealed_credentials,
                    new.every_seconds,
                    new.filter,
                    Timestamp::now().as_micros()
                ],
                |r| r.get(0),
            )?;
            connector_by_id(conn, id)?.ok_or(StoreError::NotFound)
        })
        .await
    }

    async fn delete_connector(&self, store: StoreId, id: i64) -> Result<bool, StoreError> {
        self.with_conn(move |conn| {
            Ok(conn.execute(&for_sqlite(sql::DELETE_CONNECTOR), params![store, id])? > 0)
        })
        .await
    }

    async fn claim_connector(
        &self,
        id: i64,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
        only_when_due: bool,
    ) -> Result<Option<Connector>, StoreError> {
        let owner = owner.to_string();
        self.with_conn(move |conn| {
            let claimed = conn.execute(
                &for_sqlite(sql::CLAIM_CONNECTOR),
                params![id, owner, now.as_micros(), until.as_micros(), only_when_due],
            )?;
            if claimed == 0 { Ok(None) } else { connector_by_id(conn, id) }
        })
        .await
    }

    async fn commit_connector_page(
        &self,
        id: i64,
        owner: &str,
        page: ConnectorPage,
    ) -> Result<bool, StoreError> {
        let owner = owner.to_string();
        self.with_conn(move |conn| {
            let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
            let store: Option<StoreId> = tx
                .query_row(
                    "SELECT store_id FROM connectors WHERE id = ?1 AND lease_owner = ?2",
                    params![id, owner],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(store) = store else { return Ok(false) };
            upsert_ticket_rows(&tx, store, &page.tickets)?;
            tx.execute(
                &for_sqlite(sql::ADVANCE_CONNECTOR),
                params![id, owner, page.cursor, page.tickets.len() as i64, page.lease_until.as_micros()],
            )?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn finish_connector_run(
        &self,
        id: i64,
        owner: &str,
        run: ConnectorRun,
    ) -> Result<bool, StoreError> {
        let owner = owner.to_string();
        self.with_conn(move |conn| {
            let finished = conn.execute(
                &for_sqlite(sql::FINISH_CONNECTOR),
                params![
                    id,
                    owner,
                    run.at.as_micros(),
                    run.next_run.as_micros(),
                    run.error,
                    run.known_through
                ],
            )?;
            Ok(finished > 0)
        })
        .await
    }
}
