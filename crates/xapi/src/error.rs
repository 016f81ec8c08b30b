use std::fmt;

/// Why a statement (or an agent, or a query parameter) is not valid xAPI.
///
/// `path` is the JSON path of the offending property in dotted form
/// (`"[2].context.contextActivities.parent[0].id"`), empty for the document itself;
/// `message` names the rule that was broken.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ValidationError {
    pub path: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ValidationError { path: path.into(), message: message.into() }
    }

    /// Prefixes the path with an outer segment (an array index or a property name).
    pub fn within(mut self, outer: &str) -> Self {
        self.path = join_path(outer, &self.path);
        self
    }
}

/// Joins two dotted path segments: `join_path("actor", "mbox")` is `actor.mbox`,
/// `join_path("[1]", "actor")` is `[1].actor`, `join_path("member", "[0]")` is `member[0]`.
pub(crate) fn join_path(outer: &str, inner: &str) -> String {
    if outer.is_empty() {
        inner.to_string()
    } else if inner.is_empty() {
        outer.to_string()
    } else if inner.starts_with('[') {
        format!("{outer}{inner}")
    } else {
        format!("{outer}.{inner}")
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}
