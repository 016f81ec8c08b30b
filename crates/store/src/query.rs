//! Statement queries as SQL, shared by both backends (they differ only in placeholders).

use crate::keys::{IndexKey, IndexKind, key};
use crate::model::{Cursor, StatementFilter, StatementPage, StatementQuery, StoredStatement};

/// The index keys a filter must match, most selective kind first (the first one drives
/// the query: its index range is walked in sequence order).
pub(crate) fn filter_keys(filter: &StatementFilter) -> Vec<IndexKey> {
    let mut keys = Vec::new();
    if let Some(registration) = &filter.registration {
        keys.push(key(IndexKind::Registration, &registration.to_string()));
    }
    if let Some(agent) = &filter.agent {
        let kind = if filter.related_agents { IndexKind::RelatedAgent } else { IndexKind::Agent };
        keys.push(key(kind, agent.as_str()));
    }
    if let Some(activity) = &filter.activity {
        let kind = if filter.related_activities { IndexKind::RelatedActivity } else { IndexKind::Activity };
        keys.push(key(kind, activity));
    }
    if let Some(authority) = &filter.authority {
        keys.push(key(IndexKind::Authority, authority.as_str()));
    }
    if let Some(verb) = &filter.verb {
        keys.push(key(IndexKind::Verb, verb));
    }
    keys
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
            lo = lo.max(cursor.after);
        } else {
            hi = hi.min(cursor.after - 1);
        }
    }
    (lo, hi)
}

/// Index rows of the driving filter that one page may walk when other filters are
/// probed: a page that finds fewer matches than it wants within them ends there, short,
/// with a `more` cursor (xAPI lets a page hold fewer statements than `limit`). Without
/// it a query whose filters rarely meet walks every row of the driving key: 1M rows and
/// 7.5 s for `related_activities` of a course combined with a verb no statement has.
pub(crate) const WALK_BUDGET: i64 = 5_000;

/// SQL for one page. Parameters, in order: store, lo, hi, bound, limit, then each
/// key's kind and value. `placeholder(n)` renders the n-th (1-based) parameter.
pub(crate) fn page_sql(key_count: usize, ascending: bool, placeholder: impl Fn(usize) -> String) -> String {
    let p = placeholder;
    let order = if ascending { "ASC" } else { "DESC" };
    let mut sql = String::with_capacity(512);
    let key_param = |i: usize| (p(6 + 2 * i), p(7 + 2 * i));
    let columns = "SELECT s.seq, s.id, s.stored, s.body, s.voided_by";
    match key_count {
        0 => {
            sql.push_str(&format!("{columns} FROM statements s WHERE s.store_id = {}", p(1)));
            sql.push_str(&format!(" AND s.seq > {} AND s.seq <= {}", p(2), p(3)));
        }
        1 => {
            let (kind, value) = key_param(0);
            sql.push_str(&format!(
                "{columns} FROM statement_index i0 JOIN statements s ON s.store_id = i0.store_id AND s.seq = i0.seq \
                 WHERE i0.store_id = {} AND i0.kind = {kind} AND i0.key = {value} AND i0.seq > {} AND i0.seq <= {}",
                p(1),
                p(2),
                p(3)
            ));
        }
        _ => {
            let (kind, value) = key_param(0);
            sql.push_str(&format!(
                "{columns} FROM (SELECT seq FROM statement_index WHERE store_id = {} AND kind = {kind} AND key = {value} \
                 AND seq > {} AND seq <= {} ORDER BY seq {order} LIMIT {WALK_BUDGET}) i0 \
                 JOIN statements s ON s.store_id = {} AND s.seq = i0.seq WHERE TRUE",
                p(1),
                p(2),
                p(3),
                p(1)
            ));
        }
    }
    // Probing on the driving row's sequence (not the statement's) lets the database test
    // the other filters on the index alone, before it reads a statement row.
    for i in 1..key_count {
        let (kind, value) = key_param(i);
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM statement_index i{i} WHERE i{i}.store_id = {} AND i{i}.kind = {kind} \
             AND i{i}.key = {value} AND i{i}.seq = i0.seq)",
            p(1)
        ));
    }
    // A statement voided after the snapshot was taken still belongs to the snapshot.
    sql.push_str(&format!(" AND (s.voided_by IS NULL OR s.voided_by > {})", p(4)));
    let order_column = if key_count == 0 { "s.seq" } else { "i0.seq" };
    sql.push_str(&format!(" ORDER BY {order_column} {order} LIMIT {}", p(5)));
    sql
}

/// SQL for the last index row a page with several filters may walk (see [`WALK_BUDGET`]),
/// when there is one. Parameters: store, lo, hi, the driving key's kind and value.
pub(crate) fn walk_end_sql(ascending: bool, placeholder: impl Fn(usize) -> String) -> String {
    let p = placeholder;
    let order = if ascending { "ASC" } else { "DESC" };
    format!(
        "SELECT seq FROM statement_index WHERE store_id = {} AND kind = {} AND key = {} AND seq > {} AND seq <= {} \
         ORDER BY seq {order} LIMIT 1 OFFSET {}",
        p(1),
        p(4),
        p(5),
        p(2),
        p(3),
        WALK_BUDGET - 1
    )
}

/// Whether a page must look for the end of its walk: it came back short, and it had
/// other filters to probe (a single filter's every row is a match, so a short page is
/// the last one).
pub(crate) fn may_end_walk(key_count: usize, found: usize, limit: usize) -> bool {
    key_count > 1 && found <= limit
}

/// Trims a page to `limit` statements and says where the next one starts: after the
/// last statement of a full page, or after the last index row a short page walked.
pub(crate) fn finish_page(
    mut statements: Vec<StoredStatement>,
    limit: usize,
    bound: i64,
    walk_end: Option<i64>,
) -> StatementPage {
    let next = if statements.len() > limit {
        statements.truncate(limit);
        statements.last().map(|last| Cursor { bound, after: last.seq })
    } else {
        walk_end.map(|after| Cursor { bound, after })
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
        let q = query(false, Some(Cursor { bound: 100, after: 40 }));
        assert_eq!(page_range(&q, 100, None, None), (0, 39));
    }

    #[test]
    fn an_ascending_page_resumes_above_the_last_returned_statement() {
        let q = query(true, Some(Cursor { bound: 100, after: 40 }));
        assert_eq!(page_range(&q, 100, Some(10), None), (40, 100));
    }

    #[test]
    fn until_never_reaches_past_the_snapshot() {
        assert_eq!(page_range(&query(false, None), 50, None, Some(80)), (0, 50));
        assert_eq!(page_range(&query(false, None), 50, None, Some(20)), (0, 20));
    }

    #[test]
    fn the_first_filter_drives_the_query_and_the_rest_are_probes() {
        let sql = page_sql(2, false, |n| format!("${n}"));
        assert!(sql.contains(&format!("ORDER BY seq DESC LIMIT {WALK_BUDGET}) i0")));
        assert!(sql.contains("EXISTS (SELECT 1 FROM statement_index i1"));
        assert!(sql.contains("i1.kind = $8 AND i1.key = $9 AND i1.seq = i0.seq"));
        assert!(sql.ends_with("ORDER BY i0.seq DESC LIMIT $5"));
    }
}
