//! [`Transaction`] on SQLite: the connection answers at once, so each future is ready when
//! first polled, and [`run_ready`] drives an algorithm written against the trait on the
//! blocking thread that holds the connection.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use rusqlite::Connection;

use super::copy::{read_cell, to_sql};
use crate::StoreError;
use crate::copy::{Cell, Kind, Row};
use crate::sql::for_sqlite;
use crate::tx::Transaction;

pub(crate) struct SqliteTx<'c>(pub &'c Connection);

impl Transaction for SqliteTx<'_> {
    async fn query(
        &mut self,
        sql: &str,
        params: Vec<Cell>,
        columns: &'static [Kind],
    ) -> Result<Vec<Row>, StoreError> {
        let mut select = self.0.prepare_cached(&for_sqlite(sql))?;
        let rows = select.query_map(rusqlite::params_from_iter(params.into_iter().map(to_sql)), |r| {
            columns
                .iter()
                .enumerate()
                .map(|(i, kind)| read_cell(r.get_ref(i)?, *kind))
                .collect::<Result<Row, _>>()
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    async fn execute(&mut self, sql: &str, params: Vec<Cell>) -> Result<u64, StoreError> {
        let mut statement = self.0.prepare_cached(&for_sqlite(sql))?;
        Ok(statement.execute(rusqlite::params_from_iter(params.into_iter().map(to_sql)))? as u64)
    }
}

/// The output of a future that awaits nothing but a [`SqliteTx`].
pub(crate) fn run_ready<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("a SQLite transaction's futures are ready at once"),
    }
}
