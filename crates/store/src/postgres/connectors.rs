//! Helpdesk connectors on PostgreSQL (their SQL is `crate::sql`'s).

use tokio_postgres::Row;
use xapi::Timestamp;

use super::PgStore;
use super::insights::upsert_ticket_rows;
use crate::connectors::{
    Connector, ConnectorPage, ConnectorReader, ConnectorRun, ConnectorWriter, NewConnector,
};
use crate::sql;
use crate::{StoreError, StoreId};

fn connector_row(r: &Row) -> Connector {
    Connector {
        id: r.get(0),
        store: r.get(1),
        kind: r.get(2),
        base_url: r.get(3),
        sealed_credentials: r.get(4),
        every_seconds: r.get(5),
        filter: r.get(6),
        created: Timestamp::from_micros(r.get(7)),
        cursor: r.get(8),
        last_run: r.get::<_, Option<i64>>(9).map(Timestamp::from_micros),
        next_run: Timestamp::from_micros(r.get(10)),
        last_error: r.get(11),
        tickets_fetched: r.get::<_, i64>(12) as u64,
        known_through: r.get(13),
    }
}

impl PgStore {
    async fn connector(&self, id: i64) -> Result<Option<Connector>, StoreError> {
        let client = self.pool.get().await?;
        Ok(client.query_opt(sql::CONNECTOR, &[&id]).await?.as_ref().map(connector_row))
    }
}

impl ConnectorReader for PgStore {
    async fn connectors(&self, store: Option<StoreId>) -> Result<Vec<Connector>, StoreError> {
        let client = self.pool.get().await?;
        Ok(client.query(sql::CONNECTORS, &[&store]).await?.iter().map(connector_row).collect())
    }
}

impl ConnectorWriter for PgStore {
    async fn create_connector(&self, new: NewConnector) -> Result<Connector, StoreError> {
        let client = self.pool.get().await?;
        let id: i64 = client
            .query_one(
                sql::CREATE_CONNECTOR,
                &[
                    &new.store,
                    &new.kind,
                    &new.base_url,
                    &new.sealed_credentials,
                    &new.every_seconds,
                    &new.filter,
                    &Timestamp::now().as_micros(),
                ],
            )
            .await?
            .get(0);
        drop(client);
        self.connector(id).await?.ok_or(StoreError::NotFound)
    }

    async fn delete_connector(&self, store: StoreId, id: i64) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        Ok(client.execute(sql::DELETE_CONNECTOR, &[&store, &id]).await? > 0)
    }

    async fn claim_connector(
        &self,
        id: i64,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
        only_when_due: bool,
    ) -> Result<Option<Connector>, StoreError> {
        let client = self.pool.get().await?;
        let claimed = client
            .execute(
                sql::CLAIM_CONNECTOR,
                &[&id, &owner, &now.as_micros(), &until.as_micros(), &only_when_due],
            )
            .await?;
        drop(client);
        if claimed == 0 { Ok(None) } else { self.connector(id).await }
    }

    async fn commit_connector_page(
        &self,
        id: i64,
        owner: &str,
        page: ConnectorPage,
    ) -> Result<bool, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        // The row lock taken here holds off another owner's claim until the commit.
        let held = tx
            .query_opt(
                "SELECT store_id FROM connectors WHERE id = $1 AND lease_owner = $2 FOR UPDATE",
                &[&id, &owner],
            )
            .await?;
        let Some(held) = held else { return Ok(false) };
        let fetched = page.tickets.len() as i64;
        upsert_ticket_rows(&tx, held.get(0), page.tickets).await?;
        tx.execute(
            sql::ADVANCE_CONNECTOR,
            &[&id, &owner, &page.cursor, &fetched, &page.lease_until.as_micros()],
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn finish_connector_run(
        &self,
        id: i64,
        owner: &str,
        run: ConnectorRun,
    ) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        let finished = client
            .execute(
                sql::FINISH_CONNECTOR,
                &[
                    &id,
                    &owner,
                    &run.at.as_micros(),
                    &run.next_run.as_micros(),
                    &run.error,
                    &run.known_through,
                ],
            )
            .await?;
        Ok(finished > 0)
    }
}
