//! What removing a statement takes, shared by the erasure and the retention purge: its
//! index rows and row, and afterwards the attachments no statement names any more.

use serde_json::Value;

use crate::StoreError;
use crate::copy::{Cell, Kind};
use crate::model::StoreId;
use crate::tx::Transaction;

/// Deletes a statement and its own index rows. (Rows it inherited through a StatementRef
/// from its target's keys stay behind with no statement to join: no query answers them.)
pub(crate) async fn delete_statement<T: Transaction>(
    tx: &mut T,
    store: StoreId,
    seq: i64,
    body: &str,
) -> Result<(), StoreError> {
    for (key, _) in crate::plan::stored_keys(body) {
        tx.execute(
            "DELETE FROM statement_index WHERE store_id = $1 AND key = $2 AND seq = $3",
            vec![Cell::Int(store.get()), Cell::Int(key), Cell::Int(seq)],
        )
        .await?;
    }
    tx.execute(
        "DELETE FROM statements WHERE store_id = $1 AND seq = $2",
        vec![Cell::Int(store.get()), Cell::Int(seq)],
    )
    .await?;
    Ok(())
}

/// Whether no statement after `named_after` names the attachment `sha2` any more; if so,
/// and not for a dry run, the attachment is deleted.
pub(crate) async fn drop_unnamed_attachment<T: Transaction>(
    tx: &mut T,
    store: StoreId,
    sha2: &str,
    named_after: i64,
    dry_run: bool,
) -> Result<bool, StoreError> {
    let named = tx
        .query(
            "SELECT seq FROM statements WHERE store_id = $1 AND seq > $2 AND body LIKE $3 LIMIT 1",
            vec![Cell::Int(store.get()), Cell::Int(named_after), Cell::Text(format!("%{sha2}%"))],
            &[Kind::Int],
        )
        .await?;
    if !named.is_empty() {
        return Ok(false);
    }
    if !dry_run {
        let params = || vec![Cell::Int(store.get()), Cell::Text(sha2.to_string())];
        tx.execute("DELETE FROM attachment_chunks WHERE store_id = $1 AND sha2 = $2", params()).await?;
        tx.execute("DELETE FROM attachments WHERE store_id = $1 AND sha2 = $2", params()).await?;
    }
    Ok(true)
}

/// The attachment hashes a statement's body names.
pub(crate) fn attachment_hashes(body: &str) -> Vec<String> {
    let Ok(value) = serde_json::from_str::<Value>(body) else { return Vec::new() };
    value
        .get("attachments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| a.get("sha2").and_then(Value::as_str).map(str::to_string))
        .collect()
}
