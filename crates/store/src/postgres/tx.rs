//! [`Transaction`] on PostgreSQL: each parameter bound as the type the server infers for
//! it (a `smallint` column takes a 2-byte integer).

use std::collections::HashMap;

use super::copy::{read_row, typed};
use crate::StoreError;
use crate::copy::{Cell, Kind, Row};
use crate::tx::Transaction;

pub(crate) struct PgTx<'a, 't> {
    tx: &'a tokio_postgres::Transaction<'t>,
    /// Each SQL text is prepared once per transaction (loops run the same few).
    prepared: HashMap<String, tokio_postgres::Statement>,
}

impl<'a, 't> PgTx<'a, 't> {
    pub(crate) fn new(tx: &'a tokio_postgres::Transaction<'t>) -> Self {
        PgTx { tx, prepared: HashMap::new() }
    }

    async fn bound(
        &mut self,
        sql: &str,
        params: Vec<Cell>,
    ) -> Result<
        (tokio_postgres::Statement, Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>>),
        StoreError,
    > {
        let statement = match self.prepared.get(sql) {
            Some(statement) => statement.clone(),
            None => {
                let statement = self.tx.prepare(sql).await?;
                self.prepared.insert(sql.to_string(), statement.clone());
                statement
            }
        };
        let values = params.into_iter().zip(statement.params()).map(|(cell, ty)| typed(cell, ty)).collect();
        Ok((statement, values))
    }
}

impl Transaction for PgTx<'_, '_> {
    async fn query(
        &mut self,
        sql: &str,
        params: Vec<Cell>,
        columns: &'static [Kind],
    ) -> Result<Vec<Row>, StoreError> {
        let (statement, values) = self.bound(sql, params).await?;
        let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            values.iter().map(|v| v.as_ref() as _).collect();
        let rows = self.tx.query(&statement, &refs).await?;
        let named: Vec<(&str, Kind)> = columns.iter().map(|kind| ("", *kind)).collect();
        Ok(rows.iter().map(|r| read_row(&named, r)).collect())
    }

    async fn execute(&mut self, sql: &str, params: Vec<Cell>) -> Result<u64, StoreError> {
        let (statement, values) = self.bound(sql, params).await?;
        let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            values.iter().map(|v| v.as_ref() as _).collect();
        Ok(self.tx.execute(&statement, &refs).await?)
    }
}
