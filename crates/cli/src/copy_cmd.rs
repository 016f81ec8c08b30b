//! `tally copy --from … --to …`: everything one Tally holds, into another backend, table by
//! table (see `store::copy`), the rollups rebuilt from the copied statements, then each
//! table compared on both sides by its row count and digest.

use anyhow::{Result, bail};
use insights::engine::{self, EngineStore};
use store::copy::{self, TABLES, Table, TableCopy, Target};
use store::{RollupReader, TenantReader};

use crate::progress::Progress;

/// Copies `from` into `to` and checks the copy; an error when they differ.
pub async fn copy<A, B>(from: &A, to: &B) -> Result<()>
where
    A: TableCopy + TenantReader + RollupReader,
    B: TableCopy + EngineStore,
{
    match copy::check_target(from, to).await? {
        Target::Empty => println!("copying into an empty target"),
        Target::Resuming => println!("resuming a copy from this source"),
    }
    for table in TABLES.iter().filter(|t| !t.derived) {
        let total = from.count(table).await?;
        let progress = Progress::towards(table.name.to_string(), "rows", total);
        let copied = copy::copy_table(from, to, table, |rows| progress.rows(rows)).await?;
        progress.finish();
        println!("copied {}: {copied} rows", table.name);
    }
    to.finish_copy().await?;
    let rebuilt = engine::catch_up(to).await?;
    println!("rollups rebuilt from {rebuilt} statements");
    verify(from, to).await
}

/// Compares every table on both sides; the rollups only when the source's are caught up
/// (its engine may still be behind its statements).
async fn verify<A, B>(from: &A, to: &B) -> Result<()>
where
    A: TableCopy + TenantReader + RollupReader,
    B: TableCopy,
{
    let behind = rollups_behind(from).await?;
    println!("{:<24} {:>12} {:>12}  digest", "table", "source rows", "target rows");
    let mut differ = Vec::new();
    for table in &TABLES {
        if table.derived && behind > 0 {
            println!("{:<24} not compared: the source's rollups are {behind} statements behind", table.name);
            continue;
        }
        let (ours, theirs) = (copy::digest(from, table).await?, copy::digest(to, table).await?);
        let verdict = if ours == theirs { "same" } else { "DIFFERENT" };
        println!("{:<24} {:>12} {:>12}  {} {verdict}", table.name, ours.rows, theirs.rows, &ours.hex()[..16]);
        if ours != theirs {
            differ.push(table);
        }
    }
    if !differ.is_empty() {
        let names: Vec<&str> = differ.iter().map(|t: &&Table| t.name).collect();
        bail!(
            "the copy differs from its source in {}: if the source was written to during the copy, run \
             the copy again (it resumes)",
            names.join(", ")
        );
    }
    println!("verified: both sides hold the same rows");
    Ok(())
}

/// Statements the source's rollups are behind its statements, over all its stores.
async fn rollups_behind<S: TenantReader + RollupReader>(store: &S) -> Result<i64> {
    let mut behind = 0;
    for info in store.stores().await? {
        behind += engine::lag(store, info.id).await?.statements_behind;
    }
    Ok(behind)
}
