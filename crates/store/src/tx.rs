//! A backend's open transaction seen through SQL written once (`$n` placeholders, see
//! `crate::sql`) over backend-independent values ([`Cell`]): what the erasure and the
//! retention purge run on, so each is one algorithm for both backends.

use std::future::Future;

use crate::StoreError;
use crate::copy::{Cell, Kind, Row};

/// Its futures need not be `Send`: a SQLite connection is driven on the thread that holds
/// it ([`crate::sqlite`]), and PostgreSQL's are (the backend's own futures show it).
pub(crate) trait Transaction {
    /// The rows a query answers, each column read as the kind `columns` gives.
    fn query(
        &mut self,
        sql: &str,
        params: Vec<Cell>,
        columns: &'static [Kind],
    ) -> impl Future<Output = Result<Vec<Row>, StoreError>>;

    /// Runs a statement; answers the rows it changed.
    fn execute(&mut self, sql: &str, params: Vec<Cell>) -> impl Future<Output = Result<u64, StoreError>>;
}

/// A cell as text ('' for anything else).
pub(crate) fn text(cell: &Cell) -> &str {
    if let Cell::Text(v) = cell { v } else { "" }
}

/// A cell as an integer (0 for anything else).
pub(crate) fn int(cell: &Cell) -> i64 {
    if let Cell::Int(v) = cell { *v } else { 0 }
}
