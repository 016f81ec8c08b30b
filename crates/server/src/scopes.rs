//! Which credential scopes allow what: each set written once, for the HTTP resources and
//! the web pages alike. The first scope of a set is the one a 403 asks for.

/// Writes statements (`PUT`/`POST /xapi/statements`).
pub const STATEMENTS_WRITE: &[&str] = &["statements/write", "all"];
/// Read every statement of the store.
pub const STATEMENTS_READ_ALL: &[&str] = &["statements/read", "all/read", "all"];
/// Read statements at all: [`STATEMENTS_READ_ALL`], or `statements/read/mine` (only those
/// whose authority is the credential; see [`statement_access`]).
pub const STATEMENTS_READ: &[&str] = &["statements/read", "all/read", "all", "statements/read/mine"];
/// Read activity and agent definitions.
pub const DEFINITIONS_READ: &[&str] = &["all/read", "all", "statements/read", "define", "state", "profile"];
/// Read goals, reports, content, tickets and exports (`GET /insights/…`, `/exports/…`).
pub const INSIGHTS_READ: &[&str] = &["insights", "all", "all/read"];
/// Import tickets and edit goals and changes.
pub const INSIGHTS_WRITE: &[&str] = &["insights", "all"];
/// Manage stores and credentials.
pub const ADMIN: &[&str] = &["admin"];

/// Which statements a credential may read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatementAccess {
    /// Every statement of its store.
    All,
    /// Only those whose authority is the credential (`statements/read/mine`).
    OwnOnly,
}

/// What the scopes `held` let a credential read of the statements, if anything.
pub fn statement_access(held: &[String]) -> Option<StatementAccess> {
    if holds(held, STATEMENTS_READ_ALL) {
        Some(StatementAccess::All)
    } else if holds(held, STATEMENTS_READ) {
        Some(StatementAccess::OwnOnly)
    } else {
        None
    }
}

/// Whether `held` contains any of `wanted`.
pub fn holds(held: &[String], wanted: &[&str]) -> bool {
    wanted.iter().any(|scope| held.iter().any(|h| h == scope))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(scopes: &[&str]) -> Vec<String> {
        scopes.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn statement_access_is_all_with_a_read_scope_and_own_only_with_read_mine() {
        assert_eq!(statement_access(&held(&["all/read"])), Some(StatementAccess::All));
        assert_eq!(statement_access(&held(&["statements/read/mine", "all"])), Some(StatementAccess::All));
        assert_eq!(statement_access(&held(&["statements/read/mine"])), Some(StatementAccess::OwnOnly));
        assert_eq!(statement_access(&held(&["statements/write", "insights"])), None);
    }
}
