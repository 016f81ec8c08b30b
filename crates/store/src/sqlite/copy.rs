//! `tally copy` on SQLite: tables read and written row for row (see `crate::copy`).

use rusqlite::types::{Value as Sql, ValueRef};
use rusqlite::{Connection, TransactionBehavior};

use super::SqliteStore;
use crate::StoreError;
use crate::copy::{Cell, Kind, Row, Table, TableCopy, insert_sql, page_sql};
use crate::sql::for_sqlite;

impl SqliteStore {
    /// Runs `f` on the file that holds `table` (the rollups have one of their own).
    async fn on_file_of<T, F>(&self, table: &Table, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        if table.derived { self.with_rollups(f).await } else { self.with_conn(f).await }
    }
}

impl TableCopy for SqliteStore {
    async fn page(
        &self,
        table: &'static Table,
        after: Option<Row>,
        limit: usize,
    ) -> Result<Vec<Row>, StoreError> {
        self.on_file_of(table, move |conn| {
            let sql = for_sqlite(&page_sql(table, after.is_some(), limit, |name, _| name.to_string()));
            let mut select = conn.prepare_cached(&sql)?;
            let params: Vec<Sql> = after.unwrap_or_default().into_iter().map(to_sql).collect();
            let rows = select.query_map(rusqlite::params_from_iter(params), |r| read_row(table, r))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn write(&self, table: &'static Table, rows: Vec<Row>) -> Result<u64, StoreError> {
        if table.derived {
            return Err(StoreError::invalid(table.name, "rollups are rebuilt, not copied"));
        }
        self.with_conn(move |conn| {
            let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
            let mut written = 0;
            {
                let mut insert =
                    tx.prepare_cached(&for_sqlite(&insert_sql(table, 1, |name, _| name.to_string())))?;
                for row in rows {
                    written +=
                        insert.execute(rusqlite::params_from_iter(row.into_iter().map(to_sql)))? as u64;
                }
            }
            tx.commit()?;
            Ok(written)
        })
        .await
    }

    async fn count(&self, table: &'static Table) -> Result<u64, StoreError> {
        self.on_file_of(table, move |conn| {
            let count: i64 =
                conn.query_row(&format!("SELECT COUNT(*) FROM {}", table.name), [], |r| r.get(0))?;
            Ok(count as u64)
        })
        .await
    }

    async fn last_key(&self, table: &'static Table) -> Result<Option<Row>, StoreError> {
        self.on_file_of(table, move |conn| {
            let key = &table.columns[..table.key];
            let order: Vec<String> = key.iter().map(|(name, _)| format!("{name} DESC")).collect();
            let sql = format!(
                "SELECT {} FROM {} ORDER BY {} LIMIT 1",
                table.key_names(),
                table.name,
                order.join(", ")
            );
            let mut select = conn.prepare(&sql)?;
            let mut rows = select.query([])?;
            match rows.next()? {
                Some(r) => Ok(Some(
                    key.iter()
                        .enumerate()
                        .map(|(i, (_, kind))| read_cell(r.get_ref(i)?, *kind))
                        .collect::<Result<_, _>>()?,
                )),
                None => Ok(None),
            }
        })
        .await
    }

    async fn finish_copy(&self) -> Result<(), StoreError> {
        // A new store takes the next rowid after the largest id: nothing to move.
        Ok(())
    }
}

fn read_row(table: &Table, r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    table.columns.iter().enumerate().map(|(i, (_, kind))| read_cell(r.get_ref(i)?, *kind)).collect()
}

pub(super) fn read_cell(value: ValueRef<'_>, kind: Kind) -> rusqlite::Result<Cell> {
    let wrong = || rusqlite::Error::InvalidColumnType(0, format!("{kind:?}"), value.data_type());
    Ok(match (value, kind) {
        (ValueRef::Null, _) => Cell::Null,
        (ValueRef::Integer(v), Kind::Int) => Cell::Int(v),
        (ValueRef::Integer(v), Kind::Bool) => Cell::Bool(v != 0),
        (ValueRef::Integer(v), Kind::Real) => Cell::Real(v as f64),
        (ValueRef::Real(v), Kind::Real) => Cell::Real(v),
        (ValueRef::Text(v), Kind::Text) => Cell::Text(String::from_utf8_lossy(v).into_owned()),
        (ValueRef::Blob(v), Kind::Bytes) => Cell::Bytes(v.to_vec()),
        (ValueRef::Text(v), Kind::Bytes) => Cell::Bytes(v.to_vec()),
        (ValueRef::Blob(v), Kind::Uuid) => Cell::Uuid(uuid::Uuid::from_slice(v).map_err(|_| wrong())?),
        _ => return Err(wrong()),
    })
}

pub(super) fn to_sql(cell: Cell) -> Sql {
    match cell {
        Cell::Null => Sql::Null,
        Cell::Int(v) => Sql::Integer(v),
        Cell::Real(v) => Sql::Real(v),
        Cell::Text(v) => Sql::Text(v),
        Cell::Bytes(v) => Sql::Blob(v),
        Cell::Bool(v) => Sql::Integer(i64::from(v)),
        Cell::Uuid(v) => Sql::Blob(v.as_bytes().to_vec()),
    }
}
