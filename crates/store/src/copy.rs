//! Copying a whole Tally between backends (`tally copy`): every table as stored, row for
//! row, and a digest per table to prove both sides hold the same.
//!
//! The tables and their columns are written once here with a backend-independent type per
//! column; each backend reads a table a page at a time in key order ([`TableCopy::page`])
//! and writes pages idempotently ([`TableCopy::write`]: a row whose key is held is left
//! as it is, except a store's row, which is replaced). So a copy resumes from the last
//! key each table holds in the target, and a re-run finishes what a killed one began. The
//! rollups are not copied: they are derived, and the engine rebuilds them on the target
//! from the copied statements; the digests then compare them too.
//!
//! This is the one API that bypasses the LRS's rules: it exists for the copy only.

use std::future::Future;

use sha2::{Digest, Sha256};

use crate::StoreError;

/// The type of a column, as both backends can hold it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Int,
    Real,
    Text,
    Bytes,
    Bool,
    Uuid,
}

/// One value of a row.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bytes(Vec<u8>),
    Bool(bool),
    Uuid(uuid::Uuid),
}

pub type Row = Vec<Cell>;

/// A table: its columns, key columns first.
#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [(&'static str, Kind)],
    /// How many of the first columns make its primary key.
    pub key: usize,
    /// Derived by the rollup engine: compared after the copy, never copied.
    pub derived: bool,
}

impl Table {
    pub fn column_names(&self) -> String {
        self.columns.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ")
    }

    pub fn key_names(&self) -> String {
        self.columns[..self.key].iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ")
    }

    /// The key of a row of this table.
    pub fn key_of(&self, row: &Row) -> Row {
        row[..self.key].to_vec()
    }

    /// Whether rows are replaced when their key is held (a store's row carries its
    /// ingest head, which moves as its statements arrive).
    pub fn replaces(&self) -> bool {
        self.name == "stores"
    }
}

use Kind::{Bool, Bytes, Int, Real, Text, Uuid};

const fn table(
    name: &'static str,
    key: usize,
    columns: &'static [(&'static str, Kind)],
    derived: bool,
) -> Table {
    Table { name, columns, key, derived }
}

/// Every table, in the order a copy fills them (stores before what belongs to them).
pub static TABLES: [Table; 22] = [
    table(
        "stores",
        1,
        &[
            ("id", Int),
            ("name", Text),
            ("created", Int),
            ("revoked", Bool),
            ("last_seq", Int),
            ("last_stored", Int),
            ("rollup_epoch", Int),
            ("retention_days", Int),
            ("ticket_retention_days", Int),
        ],
        false,
    ),
    table(
        "credentials",
        1,
        &[
            ("key", Text),
            ("store_id", Int),
            ("name", Text),
            ("scopes", Text),
            ("secret_sha256", Bytes),
            ("created", Int),
            ("revoked", Bool),
            ("acts_for", Text),
        ],
        false,
    ),
    table(
        "statements",
        2,
        &[
            ("store_id", Int),
            ("seq", Int),
            ("id", Uuid),
            ("stored", Int),
            ("ref_id", Uuid),
            ("is_voiding", Bool),
            ("voided_by", Int),
            ("body", Text),
        ],
        false,
    ),
    table("statement_index", 3, &[("store_id", Int), ("key", Int), ("seq", Int), ("kinds", Int)], false),
    table("activities", 2, &[("store_id", Int), ("activity_id", Text), ("definition", Text)], false),
    table(
        "attachments",
        2,
        &[("store_id", Int), ("sha2", Text), ("content_type", Text), ("length", Int), ("chunks", Int)],
        false,
    ),
    table(
        "attachment_chunks",
        3,
        &[("store_id", Int), ("sha2", Text), ("chunk", Int), ("bytes", Bytes)],
        false,
    ),
    table(
        "documents",
        6,
        &[
            ("store_id", Int),
            ("kind", Int),
            ("activity_id", Text),
            ("agent", Text),
            ("registration", Text),
            ("doc_id", Text),
            ("content_type", Text),
            ("body", Bytes),
            ("etag", Text),
            ("updated", Int),
        ],
        false,
    ),
    table(
        "tickets",
        3,
        &[
            ("store_id", Int),
            ("source", Text),
            ("external_id", Text),
            ("created", Int),
            ("resolved", Int),
            ("status", Text),
            ("category", Text),
            ("tags", Text),
            ("product", Text),
            ("requester", Text),
            ("requester_keys", Text),
            ("priority", Text),
            ("channel", Text),
            ("subject", Text),
            ("imported", Int),
        ],
        false,
    ),
    table("ticket_coverage", 2, &[("store_id", Int), ("source", Text), ("through", Int)], false),
    table(
        "goals",
        2,
        &[("store_id", Int), ("goal_id", Text), ("definition", Text), ("created", Int), ("updated", Int)],
        false,
    ),
    table(
        "goal_changes",
        3,
        &[
            ("store_id", Int),
            ("goal_id", Text),
            ("change_id", Text),
            ("at", Int),
            ("kind", Text),
            ("note", Text),
        ],
        false,
    ),
    table(
        "pull_cursors",
        2,
        &[("store_id", Int), ("source", Text), ("since", Text), ("updated", Int)],
        false,
    ),
    table(
        "forwarding_rules",
        1,
        &[
            ("id", Int),
            ("store_id", Int),
            ("url", Text),
            ("key", Text),
            ("secret", Text),
            ("verbs", Text),
            ("activity_prefix", Text),
            ("enabled", Bool),
            ("max_attempts", Int),
            ("created", Int),
            ("delivered_seq", Int),
            ("failures", Int),
            ("last_error", Text),
            ("next_attempt", Int),
            ("lease_owner", Text),
            ("lease_until", Int),
        ],
        false,
    ),
    table(
        "forwarding_dead_letters",
        2,
        &[("rule_id", Int), ("seq", Int), ("statement_id", Text), ("error", Text), ("at", Int)],
        false,
    ),
    table(
        "audit_log",
        1,
        &[
            ("id", Int),
            ("at", Int),
            ("store_id", Int),
            ("actor", Text),
            ("action", Text),
            ("subject", Text),
            ("details", Text),
        ],
        false,
    ),
    table(
        "connectors",
        1,
        &[
            ("id", Int),
            ("store_id", Int),
            ("kind", Text),
            ("base_url", Text),
            ("credentials", Bytes),
            ("every_seconds", Int),
            ("filter", Text),
            ("created", Int),
            ("cursor", Text),
            ("last_run", Int),
            ("next_run", Int),
            ("last_error", Text),
            ("tickets_fetched", Int),
            ("known_through", Int),
            ("lease_owner", Text),
            ("lease_until", Int),
        ],
        false,
    ),
    table("rollup_watermarks", 1, &[("store_id", Int), ("last_seq", Int), ("epoch", Int)], true),
    table(
        "rollup_daily",
        4,
        &[
            ("store_id", Int),
            ("day", Int),
            ("activity_id", Text),
            ("verb_id", Text),
            ("statements", Int),
            ("completions", Int),
            ("passes", Int),
            ("failures", Int),
            ("scaled_sum", Real),
            ("scaled_count", Int),
            ("duration_ms", Int),
        ],
        true,
    ),
    table(
        "rollup_daily_actors",
        4,
        &[("store_id", Int), ("day", Int), ("activity_id", Text), ("actor", Text), ("statements", Int)],
        true,
    ),
    table(
        "rollup_activity_actors",
        3,
        &[
            ("store_id", Int),
            ("activity_id", Text),
            ("actor", Text),
            ("statements", Int),
            ("completions", Int),
            ("first_seen", Int),
            ("last_seen", Int),
            ("best_progress", Real),
            ("segments", Text),
            ("length_s", Real),
        ],
        true,
    ),
    table(
        "rollup_revisions",
        3,
        &[("store_id", Int), ("activity_id", Text), ("marker", Text), ("first_seen", Int)],
        true,
    ),
];

/// What `tally copy` needs of a backend, on either side.
pub trait TableCopy: Send + Sync {
    /// Up to `limit` rows of `table` after the key `after` (from the first without one),
    /// in key order.
    fn page(
        &self,
        table: &'static Table,
        after: Option<Row>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Row>, StoreError>> + Send;

    /// Writes rows of `table` in one transaction: rows whose key is held are left as they
    /// are (a store's row is replaced). Answers how many rows it wrote.
    fn write(
        &self,
        table: &'static Table,
        rows: Vec<Row>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// How many rows `table` holds.
    fn count(&self, table: &'static Table) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The largest key `table` holds, if any: where a resumed copy continues.
    fn last_key(&self, table: &'static Table)
    -> impl Future<Output = Result<Option<Row>, StoreError>> + Send;

    /// Makes the backend's own counters agree with copied rows (a store created after the
    /// copy gets a new id).
    fn finish_copy(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// How many rows a table holds and a digest of them that does not depend on their order
/// (each backend orders text keys by its own collation): the wrapping sum of the rows'
/// SHA-256, so the same rows give the same digest, and any row added, lost or changed
/// changes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableDigest {
    pub rows: u64,
    sum: [u64; 4],
}

impl TableDigest {
    pub fn add(&mut self, row: &Row) {
        let mut hash = Sha256::new();
        for cell in row {
            match cell {
                Cell::Null => hash.update([0]),
                Cell::Int(v) => {
                    hash.update([1]);
                    hash.update(v.to_be_bytes());
                }
                // Rollup sums may differ in their last bits by the order they were added
                // in (the engine's steps differ between installations): nine significant
                // digits are compared.
                Cell::Real(v) => {
                    hash.update([2]);
                    hash.update(format!("{v:.8e}").as_bytes());
                }
                Cell::Text(v) => {
                    hash.update([3]);
                    hash.update((v.len() as u64).to_be_bytes());
                    hash.update(v.as_bytes());
                }
                Cell::Bytes(v) => {
                    hash.update([4]);
                    hash.update((v.len() as u64).to_be_bytes());
                    hash.update(v);
                }
                Cell::Bool(v) => hash.update([5, u8::from(*v)]),
                Cell::Uuid(v) => {
                    hash.update([6]);
                    hash.update(v.as_bytes());
                }
            }
        }
        let digest = hash.finalize();
        for (lane, bytes) in self.sum.iter_mut().zip(digest.chunks(8)) {
            *lane = lane.wrapping_add(u64::from_be_bytes(bytes.try_into().unwrap_or([0; 8])));
        }
        self.rows += 1;
    }

    /// The digest as hex (the first 16 digits are plenty to read; all 64 are compared).
    pub fn hex(&self) -> String {
        self.sum.iter().map(|lane| format!("{lane:016x}")).collect()
    }
}

/// Reads a whole table, a page at a time, into its digest.
pub async fn digest<S: TableCopy>(store: &S, table: &'static Table) -> Result<TableDigest, StoreError> {
    let mut digest = TableDigest::default();
    for_each_page(store, table, |rows| rows.iter().for_each(|row| digest.add(row))).await?;
    Ok(digest)
}

/// Hands every page of a table, in key order, to `f`.
async fn for_each_page<S: TableCopy>(
    store: &S,
    table: &'static Table,
    mut f: impl FnMut(Vec<Row>),
) -> Result<(), StoreError> {
    let mut after = None;
    loop {
        let rows = store.page(table, after.take(), PAGE_ROWS).await?;
        let full = rows.len() == PAGE_ROWS;
        after = rows.last().map(|last| table.key_of(last));
        f(rows);
        if !full {
            return Ok(());
        }
    }
}

/// Rows a copy reads and writes at a time.
pub const PAGE_ROWS: usize = 5_000;

/// Copies what `table` holds in `from` after what `to` already holds (all of it into an
/// empty `to`), a page per transaction; `progress` is told the rows copied so far. Answers
/// how many rows it copied.
pub async fn copy_table<A: TableCopy, B: TableCopy>(
    from: &A,
    to: &B,
    table: &'static Table,
    progress: impl Fn(u64),
) -> Result<u64, StoreError> {
    // A store's row is rewritten whole every time (it is small, and its head moves).
    let after = if table.replaces() { None } else { to.last_key(table).await? };
    let mut rows = from.page(table, after, PAGE_ROWS).await?;
    let mut copied = 0;
    loop {
        let next = rows.last().filter(|_| rows.len() == PAGE_ROWS).map(|last| table.key_of(last));
        copied += rows.len() as u64;
        // The next page is read while this one is written.
        let read_next = async {
            match next {
                Some(key) => from.page(table, Some(key), PAGE_ROWS).await.map(Some),
                None => Ok(None),
            }
        };
        let (written, read) = tokio::join!(to.write(table, rows), read_next);
        written?;
        progress(copied);
        match read? {
            Some(page) => rows = page,
            None => return Ok(copied),
        }
    }
}

/// Whether `to` may receive a copy of `from`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Nothing but the default store a fresh installation starts with.
    Empty,
    /// Its stores are `from`'s (same ids, names and creation times): an earlier copy of
    /// `from`, killed or finished, which this one resumes.
    Resuming,
}

/// Decides whether `to` may take a copy of `from`; an error names what is in the way.
pub async fn check_target<A: TableCopy, B: TableCopy>(from: &A, to: &B) -> Result<Target, StoreError> {
    let stores = &TABLES[0];
    let identity = |row: &Row| row[..3].to_vec();
    let theirs: Vec<Row> = all_rows(to, stores).await?.iter().map(identity).collect();
    let ours: Vec<Row> = all_rows(from, stores).await?.iter().map(identity).collect();
    if !theirs.is_empty() && theirs.iter().all(|row| ours.contains(row)) {
        return Ok(Target::Resuming);
    }
    let only_the_default_store = theirs.iter().all(|row| row.first() == Some(&Cell::Int(1)));
    let mut holding = Vec::new();
    for table in TABLES.iter().skip(1).filter(|t| !t.derived) {
        if !to.page(table, None, 1).await?.is_empty() {
            holding.push(table.name);
        }
    }
    if only_the_default_store && holding.is_empty() {
        Ok(Target::Empty)
    } else {
        let what = if holding.is_empty() { "stores of its own".to_string() } else { holding.join(", ") };
        Err(StoreError::Conflict(format!(
            "the target holds data that is not from this source ({what}): copy into an empty Tally, \
             or into one an earlier copy from this source began"
        )))
    }
}

async fn all_rows<S: TableCopy>(store: &S, table: &'static Table) -> Result<Vec<Row>, StoreError> {
    let mut all = Vec::new();
    for_each_page(store, table, |rows| all.extend(rows)).await?;
    Ok(all)
}

/// The SQL of a page: the table's columns after a key (`$1`… as the key's columns) in key
/// order, with `cast` applied to each selected column and key parameter.
pub(crate) fn page_sql(
    table: &Table,
    after: bool,
    limit: usize,
    cast: impl Fn(&str, Kind) -> String,
) -> String {
    let columns: Vec<String> = table.columns.iter().map(|(name, kind)| cast(name, *kind)).collect();
    let mut sql = format!("SELECT {} FROM {}", columns.join(", "), table.name);
    if after {
        let params: Vec<String> = table.columns[..table.key]
            .iter()
            .enumerate()
            .map(|(i, (_, kind))| cast(&format!("${}", i + 1), *kind))
            .collect();
        sql.push_str(&format!(" WHERE ({}) > ({})", table.key_names(), params.join(", ")));
    }
    sql.push_str(&format!(" ORDER BY {} LIMIT {limit}", table.key_names()));
    sql
}

/// The SQL that writes `rows` rows (`$1`… as their columns, row after row, each through
/// `cast`): held keys are left alone, or replaced for a table that [`Table::replaces`].
pub(crate) fn insert_sql(table: &Table, rows: usize, cast: impl Fn(&str, Kind) -> String) -> String {
    let width = table.columns.len();
    let groups: Vec<String> = (0..rows)
        .map(|row| {
            let params: Vec<String> = table
                .columns
                .iter()
                .enumerate()
                .map(|(i, (_, kind))| cast(&format!("${}", row * width + i + 1), *kind))
                .collect();
            format!("({})", params.join(", "))
        })
        .collect();
    let on_conflict = if table.replaces() {
        let set: Vec<String> =
            table.columns[table.key..].iter().map(|(name, _)| format!("{name} = excluded.{name}")).collect();
        format!("ON CONFLICT ({}) DO UPDATE SET {}", table.key_names(), set.join(", "))
    } else {
        "ON CONFLICT DO NOTHING".to_string()
    };
    format!(
        "INSERT INTO {} ({}) VALUES {} {on_conflict}",
        table.name,
        table.column_names(),
        groups.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_does_not_depend_on_row_order_and_sees_any_change() {
        let rows = [vec![Cell::Int(1), Cell::Text("a".into())], vec![Cell::Int(2), Cell::Text("b".into())]];
        let (mut forward, mut backward) = (TableDigest::default(), TableDigest::default());
        rows.iter().for_each(|r| forward.add(r));
        rows.iter().rev().for_each(|r| backward.add(r));
        assert_eq!(forward, backward);
        let mut changed = TableDigest::default();
        changed.add(&rows[0]);
        changed.add(&vec![Cell::Int(2), Cell::Text("c".into())]);
        assert_ne!(forward.hex(), changed.hex());
        let mut null = TableDigest::default();
        null.add(&vec![Cell::Null]);
        let mut empty = TableDigest::default();
        empty.add(&vec![Cell::Text(String::new())]);
        assert_ne!(null, empty, "a null is not an empty text");
    }

    #[test]
    fn a_page_reads_after_a_key_in_key_order_and_a_write_leaves_held_keys_alone() {
        let statements = TABLES.iter().find(|t| t.name == "statements").unwrap();
        let plain = |name: &str, _| name.to_string();
        assert_eq!(
            page_sql(statements, true, 10, plain),
            "SELECT store_id, seq, id, stored, ref_id, is_voiding, voided_by, body FROM statements \
             WHERE (store_id, seq) > ($1, $2) ORDER BY store_id, seq LIMIT 10"
        );
        assert!(
            insert_sql(statements, 1, plain)
                .ends_with("VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING")
        );
        assert!(insert_sql(statements, 2, plain).contains("($1, $2, $3, $4, $5, $6, $7, $8), ($9, $10,"));
        assert!(
            insert_sql(&TABLES[0], 1, plain).contains("ON CONFLICT (id) DO UPDATE SET name = excluded.name")
        );
    }
}
