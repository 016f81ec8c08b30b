//! Which credential scopes allow what: the scopes as one type, and each set written once,
//! for the HTTP resources and the web pages alike. The first scope of a set is the one a
//! 403 asks for. Credentials keep their scopes as text; a principal holds them as [`Scope`].

use std::fmt;

/// A scope a credential can hold (xAPI 1.0.3 Communication §4.2, plus Tally's own).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    StatementsWrite,
    StatementsRead,
    /// Read only the statements whose authority is the credential.
    StatementsReadMine,
    State,
    Define,
    Profile,
    AllRead,
    All,
    /// Tally's: goals, reports, tickets and exports.
    Insights,
    /// Tally's: reading goals, reports, tickets and exports, changing none.
    InsightsRead,
    /// Tally's: stores and credentials.
    Admin,
}

impl Scope {
    /// Every scope, in the order the pages and errors list them.
    pub const ALL: [Scope; 11] = [
        Scope::StatementsWrite,
        Scope::StatementsRead,
        Scope::StatementsReadMine,
        Scope::State,
        Scope::Define,
        Scope::Profile,
        Scope::AllRead,
        Scope::All,
        Scope::Insights,
        Scope::InsightsRead,
        Scope::Admin,
    ];

    /// The scope as credentials and the specification spell it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::StatementsWrite => "statements/write",
            Scope::StatementsRead => "statements/read",
            Scope::StatementsReadMine => "statements/read/mine",
            Scope::State => "state",
            Scope::Define => "define",
            Scope::Profile => "profile",
            Scope::AllRead => "all/read",
            Scope::All => "all",
            Scope::Insights => "insights",
            Scope::InsightsRead => "insights/read",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == text)
    }

    /// The scopes a credential's text names; one this binary does not know grants nothing.
    pub fn parse_all(texts: &[String]) -> Vec<Scope> {
        texts.iter().filter_map(|text| Scope::parse(text)).collect()
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Writes statements (`PUT`/`POST /xapi/statements`).
pub const STATEMENTS_WRITE: &[Scope] = &[Scope::StatementsWrite, Scope::All];
/// Read every statement of the store.
pub const STATEMENTS_READ_ALL: &[Scope] = &[Scope::StatementsRead, Scope::AllRead, Scope::All];
/// Read statements at all: [`STATEMENTS_READ_ALL`], or `statements/read/mine` (only those
/// whose authority is the credential; see [`statement_access`]).
pub const STATEMENTS_READ: &[Scope] =
    &[Scope::StatementsRead, Scope::AllRead, Scope::All, Scope::StatementsReadMine];
/// Read activity and agent definitions.
pub const DEFINITIONS_READ: &[Scope] =
    &[Scope::AllRead, Scope::All, Scope::StatementsRead, Scope::Define, Scope::State, Scope::Profile];
/// Write and delete state documents.
pub const STATE_WRITE: &[Scope] = &[Scope::State, Scope::All];
/// Read state documents.
pub const STATE_READ: &[Scope] = &[Scope::State, Scope::All, Scope::AllRead];
/// Write and delete activity and agent profiles.
pub const PROFILE_WRITE: &[Scope] = &[Scope::Profile, Scope::All];
/// Read activity and agent profiles.
pub const PROFILE_READ: &[Scope] = &[Scope::Profile, Scope::All, Scope::AllRead];
/// Read goals, reports, content, tickets and exports (`GET /insights/…`, `/exports/…`).
pub const INSIGHTS_READ: &[Scope] = &[Scope::Insights, Scope::InsightsRead, Scope::All, Scope::AllRead];
/// Import tickets and edit goals and changes.
pub const INSIGHTS_WRITE: &[Scope] = &[Scope::Insights, Scope::All];
/// Manage stores and credentials.
pub const ADMIN: &[Scope] = &[Scope::Admin];

/// Which statements a credential may read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatementAccess {
    /// Every statement of its store.
    All,
    /// Only those whose authority is the credential (`statements/read/mine`).
    OwnOnly,
}

/// What the scopes `held` let a credential read of the statements, if anything.
pub fn statement_access(held: &[Scope]) -> Option<StatementAccess> {
    if holds(held, STATEMENTS_READ_ALL) {
        Some(StatementAccess::All)
    } else if holds(held, STATEMENTS_READ) {
        Some(StatementAccess::OwnOnly)
    } else {
        None
    }
}

/// The scopes' texts, joined by `separator` (for messages and pages).
pub fn join(scopes: &[Scope], separator: &str) -> String {
    scopes.iter().map(|scope| scope.as_str()).collect::<Vec<_>>().join(separator)
}

/// Whether `held` contains any of `wanted`.
pub fn holds(held: &[Scope], wanted: &[Scope]) -> bool {
    wanted.iter().any(|scope| held.contains(scope))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_access_is_all_with_a_read_scope_and_own_only_with_read_mine() {
        use Scope::*;
        assert_eq!(statement_access(&[AllRead]), Some(StatementAccess::All));
        assert_eq!(statement_access(&[StatementsReadMine, All]), Some(StatementAccess::All));
        assert_eq!(statement_access(&[StatementsReadMine]), Some(StatementAccess::OwnOnly));
        assert_eq!(statement_access(&[StatementsWrite, Insights]), None);
    }

    #[test]
    fn every_scope_reads_back_from_its_text_and_unknown_text_grants_nothing() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
        }
        assert_eq!(Scope::parse_all(&["all".into(), "statements/delete".into()]), vec![Scope::All]);
    }
}
