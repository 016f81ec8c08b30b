//! Statement queries as SQL, shared by both backends (`$n` placeholders, as in `crate::sql`).

use crate::keys::{IndexKind, digest};
use crate::model::{Cursor, Seq, StatementFilter, StatementPage, StatementQuery, StoreId, StoredStatement};

/// What one filter matches: index rows of a value's digest that hold one kind's bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FilterKey {
    pub kind: IndexKind,
    pub digest: i64,
}

impl FilterKey {
    fn of(kind: IndexKind, value: &str) -> FilterKey {
        FilterKey { kind, digest: digest(value) }
    }

    /// The bit an index row must hold, as the query parameter that tests it.
    pub(crate) fn bit(&self) -> i16 {
        self.kind.bit()
    }
}

/// The keys a filter must match, most selective kind first (the first one drives
/// the query: its index range is walked in sequence order).
pub(crate) fn filter_keys(filter: &StatementFilter) -> Vec<FilterKey> {
    let mut keys = Vec::new();
    if let Some(registration) = &filter.registration {
        keys.push(FilterKey::of(IndexKind::Registration, &registration.to_string()));
    }
    if let Some(agent) = &filter.agent {
        let kind = if filter.related_agents { IndexKind::RelatedAgent } else { IndexKind::Agent };
        keys.push(FilterKey::of(kind, agent.as_str()));
    }
    if let Some(activity) = &filter.activity {
        let kind = if filter.related_activities { IndexKind::RelatedActivity } else { IndexKind::Activity };
        keys.push(FilterKey::of(kind, activity));
    }
    if let Some(authority) = &filter.authority {
        keys.push(FilterKey::of(IndexKind::Authority, authority.as_str()));
    }
    if let Some(verb) = &filter.verb {
        keys.push(FilterKey::of(IndexKind::Verb, verb));
    }
    keys
}

/// Whether a page walks at most [`WALK_BUDGET`] rows of its driving value: when other
/// filters are probed, or when the driving kind is sparse among its value's rows. A
/// page of a single filter on a dense kind matches nearly every row it reads.
pub(crate) fn walks(keys: &[FilterKey]) -> bool {
    keys.len() > 1 || keys.first().is_some_and(|k| k.kind.is_sparse())
}

/// The sequence range `(lo, hi]` a page reads, given the snapshot bound and the sequence
/// numbers that `since` and `until` resolve to.
pub(crate) fn page_range(
    query: &StatementQuery,
    bound: i64,
    since_seq: Option<i64>,
    until_seq: Option<i64>,
) -> (i64, i64) {
    let mut lo = since_seq.unwrap_or(0);
    let mut hi = until_seq.map_or(bound, |u| u.min(bound));
    if let Some(cursor) = query.cursor {
        if query.ascending {
            lo = lo.max(cursor.after.get());
        } else {
            hi = hi.min(cursor.after.before().get());
        }
    }
    (lo, hi)
}

/// Index rows of the driving value that one page may walk when not every row is a
/// match (see [`walks`]): a page that finds fewer matches than it wants within them ends
/// there, short, with a `more` cursor (xAPI lets a page hold fewer statements than
/// `limit`). Without it a query whose filters rarely meet walks every row of the driving
/// value: 1M rows and 7.5 s for `related_activities` of a course combined with a verb no
/// statement has.
pub(crate) const WALK_BUDGET: i64 = 5_000;

/// SQL for one page. Parameters, in order: store, lo, hi, bound, limit, then each
/// key's kind bit and digest, as `$n` (see `crate::sql`).
pub(crate) fn page_sql(keys: &[FilterKey], ascending: bool) -> String {
    let p = |n: usize| format!("${n}");
    let order = if ascending { "ASC" } else { "DESC" };
    let mut sql = String::with_capacity(512);
    let key_param = |i: usize| (p(6 + 2 * i), p(7 + 2 * i));
    let columns = "SELECT s.seq, s.id, s.stored, s.body, s.voided_by";
    if keys.is_empty() {
        sql.push_str(&format!("{columns} FROM statements s WHERE s.store_id = {}", p(1)));
        sql.push_str(&format!(" AND s.seq > {} AND s.seq <= {}", p(2), p(3)));
    } else if !walks(keys) {
        let (bit, digest) = key_param(0);
        sql.push_str(&format!(
            "{columns} FROM statement_index i0 JOIN statements s ON s.store_id = i0.store_id AND s.seq = i0.seq \
             WHERE i0.store_id = {} AND i0.key = {digest} AND i0.seq > {} AND i0.seq <= {} AND i0.kinds & {bit} <> 0",
            p(1),
            p(2),
            p(3)
        ));
    } else {
        // The kind is tested outside the budgeted subquery, so the budget counts rows read.
        let (bit, digest) = key_param(0);
        sql.push_str(&format!(
            "{columns} FROM (SELECT seq, kinds FROM statement_index WHERE store_id = {} AND key = {digest} \
             AND seq > {} AND seq <= {} ORDER BY seq {order} LIMIT {WALK_BUDGET}) i0 \
             JOIN statements s ON s.store_id = {} AND s.seq = i0.seq WHERE i0.kinds & {bit} <> 0",
            p(1),
            p(2),
            p(3),
            p(1)
        ));
    }
    // Probing on the driving row's sequence (not the statement's) lets the database test
    // the other filters on the index alone, before it reads a statement row.
    for i in 1..keys.len() {
        let (bit, digest) = key_param(i);
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM statement_index i{i} WHERE i{i}.store_id = {} AND i{i}.key = {digest} \
             AND i{i}.seq = i0.seq AND i{i}.kinds & {bit} <> 0)",
            p(1)
        ));
    }
    // A statement voided after the snapshot was taken still belongs to the snapshot.
    sql.push_str(&format!(" AND (s.voided_by IS NULL OR s.voided_by > {})", p(4)));
    let order_column = if keys.is_empty() { "s.seq" } else { "i0.seq" };
    sql.push_str(&format!(" ORDER BY {order_column} {order} LIMIT {}", p(5)));
    sql
}

/// The values of [`page_sql`]'s parameters, in its order (every one is an integer).
pub(crate) fn page_values(
    store: StoreId,
    range: (i64, i64),
    bound: i64,
    limit: usize,
    keys: &[FilterKey],
) -> Vec<i64> {
    let mut values = vec![store.get(), range.0, range.1, bound, limit as i64 + 1];
    for key in keys {
        values.extend([i64::from(key.bit()), key.digest]);
    }
    values
}

/// SQL for the last index row a walking page may read (see [`WALK_BUDGET`]), when there
/// is one. Parameters: store, lo, hi, the driving key's digest.
pub(crate) fn walk_end_sql(ascending: bool) -> String {
    let p = |n: usize| format!("${n}");
    let order = if ascending { "ASC" } else { "DESC" };
    format!(
        "SELECT seq FROM statement_index WHERE store_id = {} AND key = {} AND seq > {} AND seq <= {} \
         ORDER BY seq {order} LIMIT 1 OFFSET {}",
        p(1),
        p(4),
        p(2),
        p(3),
        WALK_BUDGET - 1
    )
}

/// The values of [`walk_end_sql`]'s parameters, in its order: the walk of `keys[0]`.
pub(crate) fn walk_end_values(store: StoreId, range: (i64, i64), keys: &[FilterKey]) -> [i64; 4] {
    [store.get(), range.0, range.1, keys[0].digest]
}

/// Whether a page must look for the end of its walk: it came back short, and it walked
/// (a page that reads every row of its value and comes back short is the last one).
pub(crate) fn may_end_walk(keys: &[FilterKey], found: usize, limit: usize) -> bool {
    walks(keys) && found <= limit
}

/// Trims a page to `limit` statements and says where the next one starts: after the
/// last statement of a full page, or after the last index row a short page walked.
pub(crate) fn finish_page(
    mut statements: Vec<StoredStatement>,
    limit: usize,
    bound: i64,
    walk_end: Option<i64>,
) -> StatementPage {
    let bound = Seq::new(bound);
    let next = if statements.len() > limit {
        statements.truncate(limit);
        statements.last().map(|last| Cursor { bound, after: last.seq })
    } else {
        walk_end.map(|after| Cursor { bound, after: Seq::new(after) })
    };
    StatementPage { statements, next }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(ascending: bool, cursor: Option<Cursor>) -> StatementQuery {
        StatementQuery { filter: StatementFilter::default(), ascending, limit: 10, cursor }
    }

    #[test]
    fn a_descending_page_resumes_below_the_last_returned_statement() {
        let q = query(false, Some(Cursor { bound: Seq::new(100), after: Seq::new(40) }));
        assert_eq!(page_range(&q, 100, None, None), (0, 39));
    }

    #[test]
    fn an_ascending_page_resumes_above_the_last_returned_statement() {
        let q = query(true, Some(Cursor { bound: Seq::new(100), after: Seq::new(40) }));
        assert_eq!(page_range(&q, 100, Some(10), None), (40, 100));
    }

    #[test]
    fn until_never_reaches_past_the_snapshot() {
        assert_eq!(page_range(&query(false, None), 50, None, Some(80)), (0, 50));
        assert_eq!(page_range(&query(false, None), 50, None, Some(20)), (0, 20));
    }

    #[test]
    fn the_first_filter_drives_the_query_and_the_rest_are_probes() {
        let keys = [FilterKey::of(IndexKind::Verb, "v"), FilterKey::of(IndexKind::Registration, "r")];
        let sql = page_sql(&keys, false);
        assert!(sql.contains(&format!("ORDER BY seq DESC LIMIT {WALK_BUDGET}) i0")));
        assert!(sql.contains("EXISTS (SELECT 1 FROM statement_index i1"));
        assert!(sql.contains("i1.key = $9 AND i1.seq = i0.seq AND i1.kinds & $8 <> 0"));
        assert!(sql.ends_with("ORDER BY i0.seq DESC LIMIT $5"));
    }

    #[test]
    fn a_sparse_kind_walks_within_the_budget_and_tests_its_bit_after_it() {
        let agent = [FilterKey::of(IndexKind::Agent, "mbox:mailto:a@example.com")];
        assert!(walks(&agent));
        let sql = page_sql(&agent, true);
        assert!(sql.contains(&format!("ORDER BY seq ASC LIMIT {WALK_BUDGET}) i0")));
        assert!(sql.contains(
            ") i0 JOIN statements s ON s.store_id = $1 AND s.seq = i0.seq WHERE i0.kinds & $6 <> 0"
        ));
        let related = [FilterKey::of(IndexKind::RelatedAgent, "mbox:mailto:a@example.com")];
        assert!(!walks(&related));
        assert!(!page_sql(&related, true).contains("LIMIT 5000"));
    }
}
