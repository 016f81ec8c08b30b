//! `tally copy` on PostgreSQL: tables read and written row for row (see `crate::copy`).
//! Every column and parameter is cast to one type per kind, so the smaller integer
//! columns read and write as `bigint`.

use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use super::PgStore;
use crate::StoreError;
use crate::copy::{Cell, Kind, Row, Table, TableCopy, insert_sql, page_sql};

/// `value` cast to the type a kind reads and writes as.
fn cast(value: &str, kind: Kind) -> String {
    let ty = match kind {
        Kind::Int => "bigint",
        Kind::Real => "float8",
        Kind::Text => "text",
        Kind::Bytes => "bytea",
        Kind::Bool => "boolean",
        Kind::Uuid => "uuid",
    };
    format!("{value}::{ty}")
}

impl TableCopy for PgStore {
    async fn page(
        &self,
        table: &'static Table,
        after: Option<Row>,
        limit: usize,
    ) -> Result<Vec<Row>, StoreError> {
        let client = self.pool.get().await?;
        let select = client.prepare_cached(&page_sql(table, after.is_some(), limit, cast)).await?;
        let params: Vec<Box<dyn ToSql + Sync + Send>> = match after {
            Some(key) => {
                key.into_iter().zip(table.columns).map(|(cell, (_, kind))| param(cell, *kind)).collect()
            }
            None => Vec::new(),
        };
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
        let rows = client.query(&select, &refs).await?;
        Ok(rows.iter().map(|r| read_row(table.columns, r)).collect())
    }

    async fn write(&self, table: &'static Table, rows: Vec<Row>) -> Result<u64, StoreError> {
        if table.derived {
            return Err(StoreError::invalid(table.name, "rollups are rebuilt, not copied"));
        }
        if rows.is_empty() {
            return Ok(0);
        }
        if table.replaces() {
            // A store's row: a few rows, replaced, through parameters.
            let sql = insert_sql(table, rows.len(), cast);
            let params: Vec<Box<dyn ToSql + Sync + Send>> = rows
                .into_iter()
                .flat_map(|row| {
                    row.into_iter().zip(table.columns).map(|(cell, (_, kind))| param(cell, *kind))
                })
                .collect();
            let refs: Vec<&(dyn ToSql + Sync)> =
                params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
            let client = self.pool.get().await?;
            return Ok(client.execute(&sql, &refs).await?);
        }
        // Everything else through binary COPY, many times faster than parameters: into a
        // temporary table, then on into the table leaving held keys alone, in one
        // transaction.
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let staging = format!("copy_{}", table.name);
        tx.batch_execute(&format!(
            "CREATE TEMPORARY TABLE IF NOT EXISTS {staging} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
            table.name
        ))
        .await?;
        let columns = table.column_names();
        let types: Vec<Type> = tx
            .prepare(&format!("SELECT {columns} FROM {} LIMIT 0", table.name))
            .await?
            .columns()
            .iter()
            .map(|c| c.type_().clone())
            .collect();
        let sink = tx.copy_in(&format!("COPY {staging} ({columns}) FROM STDIN (FORMAT binary)")).await?;
        let writer = BinaryCopyInWriter::new(sink, &types);
        let mut writer = std::pin::pin!(writer);
        for row in rows {
            let values: Vec<Box<dyn ToSql + Sync + Send>> =
                row.into_iter().zip(&types).map(|(cell, ty)| typed(cell, ty)).collect();
            let refs: Vec<&(dyn ToSql + Sync)> =
                values.iter().map(|v| v.as_ref() as &(dyn ToSql + Sync)).collect();
            writer.as_mut().write(&refs).await?;
        }
        writer.finish().await?;
        let written = tx
            .execute(
                &format!(
                    "INSERT INTO {} ({columns}) SELECT {columns} FROM {staging} ON CONFLICT DO NOTHING",
                    table.name
                ),
                &[],
            )
            .await?;
        tx.commit().await?;
        Ok(written)
    }

    async fn count(&self, table: &'static Table) -> Result<u64, StoreError> {
        let client = self.pool.get().await?;
        let count: i64 = client.query_one(&format!("SELECT COUNT(*) FROM {}", table.name), &[]).await?.get(0);
        Ok(count as u64)
    }

    async fn last_key(&self, table: &'static Table) -> Result<Option<Row>, StoreError> {
        let key = &table.columns[..table.key];
        let columns: Vec<String> = key.iter().map(|(name, kind)| cast(name, *kind)).collect();
        let order: Vec<String> = key.iter().map(|(name, _)| format!("{name} DESC")).collect();
        let sql = format!(
            "SELECT {} FROM {} ORDER BY {} LIMIT 1",
            columns.join(", "),
            table.name,
            order.join(", ")
        );
        let client = self.pool.get().await?;
        Ok(client.query_opt(&sql, &[]).await?.map(|r| read_row(key, &r)))
    }

    async fn finish_copy(&self) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        // The next id after the largest copied one (or the first, in an empty table).
        for table in ["stores", "forwarding_rules", "audit_log", "connectors"] {
            let sql = format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
            );
            client.execute(&sql, &[]).await?;
        }
        Ok(())
    }
}

pub(super) fn read_row(columns: &[(&str, Kind)], r: &tokio_postgres::Row) -> Row {
    columns
        .iter()
        .enumerate()
        .map(|(i, (_, kind))| {
            let cell = match kind {
                Kind::Int => r.get::<_, Option<i64>>(i).map(Cell::Int),
                Kind::Real => r.get::<_, Option<f64>>(i).map(Cell::Real),
                Kind::Text => r.get::<_, Option<String>>(i).map(Cell::Text),
                Kind::Bytes => r.get::<_, Option<Vec<u8>>>(i).map(Cell::Bytes),
                Kind::Bool => r.get::<_, Option<bool>>(i).map(Cell::Bool),
                Kind::Uuid => r.get::<_, Option<uuid::Uuid>>(i).map(Cell::Uuid),
            };
            cell.unwrap_or(Cell::Null)
        })
        .collect()
}

/// A cell as a value of the column's own type (binary COPY takes exactly that type: a
/// `smallint` column a 2-byte integer).
pub(super) fn typed(cell: Cell, ty: &Type) -> Box<dyn ToSql + Sync + Send> {
    match (cell, ty) {
        (Cell::Int(v), &Type::INT2) => Box::new(v as i16),
        (Cell::Int(v), &Type::INT4) => Box::new(v as i32),
        (Cell::Null, &Type::INT2) => Box::new(None::<i16>),
        (Cell::Null, &Type::INT4) => Box::new(None::<i32>),
        (Cell::Null, &Type::INT8) => Box::new(None::<i64>),
        (Cell::Null, &Type::FLOAT8) => Box::new(None::<f64>),
        (Cell::Null, &Type::BYTEA) => Box::new(None::<Vec<u8>>),
        (Cell::Null, &Type::BOOL) => Box::new(None::<bool>),
        (Cell::Null, &Type::UUID) => Box::new(None::<uuid::Uuid>),
        (Cell::Null, _) => Box::new(None::<String>),
        (cell, _) => {
            let kind = match cell {
                Cell::Real(_) => Kind::Real,
                Cell::Text(_) => Kind::Text,
                Cell::Bytes(_) => Kind::Bytes,
                Cell::Bool(_) => Kind::Bool,
                Cell::Uuid(_) => Kind::Uuid,
                _ => Kind::Int,
            };
            param(cell, kind)
        }
    }
}

/// A cell as a parameter of its column's kind (a null typed as the column is).
fn param(cell: Cell, kind: Kind) -> Box<dyn ToSql + Sync + Send> {
    match (cell, kind) {
        (Cell::Int(v), _) => Box::new(v),
        (Cell::Real(v), _) => Box::new(v),
        (Cell::Text(v), _) => Box::new(v),
        (Cell::Bytes(v), _) => Box::new(v),
        (Cell::Bool(v), _) => Box::new(v),
        (Cell::Uuid(v), _) => Box::new(v),
        (Cell::Null, Kind::Int) => Box::new(None::<i64>),
        (Cell::Null, Kind::Real) => Box::new(None::<f64>),
        (Cell::Null, Kind::Text) => Box::new(None::<String>),
        (Cell::Null, Kind::Bytes) => Box::new(None::<Vec<u8>>),
        (Cell::Null, Kind::Bool) => Box::new(None::<bool>),
        (Cell::Null, Kind::Uuid) => Box::new(None::<uuid::Uuid>),
    }
}
