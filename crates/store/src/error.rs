use thiserror::Error;

/// What can go wrong when the LRS reads or writes its data.
#[derive(Clone, Debug, Error)]
pub enum StoreError {
    /// The write contradicts what is stored: a statement id already holding a different
    /// statement, or a document replaced without a precondition (409 Conflict).
    #[error("{0}")]
    Conflict(String),
    /// An `If-Match` / `If-None-Match` precondition does not hold (412).
    #[error("{0}")]
    PreconditionFailed(String),
    /// The request is well-formed JSON but breaks a rule only the store can check
    /// (for example voiding a voiding statement).
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    /// The thing asked for does not exist (or belongs to another store).
    #[error("not found")]
    NotFound,
    /// The database cannot be reached or is shutting down; the client may retry.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// Anything else the database reported; logged in full, answered with a short 500.
    #[error("database error: {0}")]
    Backend(String),
}

impl StoreError {
    pub(crate) fn statement_conflict(id: uuid::Uuid) -> Self {
        StoreError::Conflict(format!("statement {id} already exists with different content"))
    }

    pub(crate) fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        StoreError::Invalid { path: path.into(), message: message.into() }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::SqliteFailure(f, _)
                if matches!(
                    f.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) =>
            {
                StoreError::Unavailable(e.to_string())
            }
            other => StoreError::Backend(other.to_string()),
        }
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        // Codes that mean "not now", not a bad query: connection exceptions (class 08),
        // shutdown and start-up (57P01–57P03), too many connections, and a transaction
        // that lost a conflict (40001: serialization failure, or a query on a hot standby
        // cancelled by replication replay; 40P01: deadlock) after its retries. The client
        // may retry them.
        let unavailable_code = e.code().is_some_and(|code| {
            let code = code.code();
            code.starts_with("08")
                || matches!(code, "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01")
        });
        if e.is_closed() || unavailable_code || e.as_db_error().is_none() && e.code().is_none() {
            StoreError::Unavailable(with_causes(&e))
        } else {
            StoreError::Backend(format!("{e}: {}", e.as_db_error().map(|d| d.message()).unwrap_or_default()))
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        StoreError::Unavailable(with_causes(&e))
    }
}

/// An error and the errors beneath it, each once: "error performing TLS handshake" says
/// little without the "invalid peer certificate: UnknownIssuer" under it.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut cause = e.source();
    while let Some(inner) = cause {
        let text = inner.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
        cause = inner.source();
    }
    message
}
