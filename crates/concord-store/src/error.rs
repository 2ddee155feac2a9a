use concord_core::Source;

/// What can go wrong in the store. Database error codes are mapped here and
/// nowhere else; messages name the problem and never quote row data.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database URL is not usable: {0}")]
    BadUrl(String),
    #[error("the database is unavailable")]
    Unavailable(#[source] sqlx::Error),
    #[error("the database refused the write: it is read-only or out of space")]
    NotWritable(#[source] sqlx::Error),
    #[error(
        "a record's source reference is already stored for source {of} outside this snapshot's period or data set; correct it with a delta extract"
    )]
    SourceRefElsewhere { of: Source },
    #[error("extract {extract_id} from {of} was committed concurrently")]
    ExtractRace { of: Source, extract_id: String },
    #[error("another writer appended to the audit log at the same position")]
    AuditConflict,
    #[error("another linker saved linkage since this one read it")]
    LinkageMoved,
    #[error("stored data is malformed: {0}")]
    Corrupt(String),
    #[error("database migration failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("database error")]
    Database(#[source] sqlx::Error),
}

impl StoreError {
    /// Whether retrying later may succeed (the database was unreachable).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }

    /// An error of the same kind and message, for each further caller
    /// that one failure failed (the lookups of one batched read: the error
    /// itself cannot be shared).
    pub(crate) fn same(&self) -> StoreError {
        let detail = |e: &sqlx::Error| sqlx::Error::Protocol(e.to_string());
        match self {
            StoreError::BadUrl(s) => StoreError::BadUrl(s.clone()),
            StoreError::Unavailable(e) => StoreError::Unavailable(detail(e)),
            StoreError::NotWritable(e) => StoreError::NotWritable(detail(e)),
            StoreError::SourceRefElsewhere { of } => StoreError::SourceRefElsewhere { of: *of },
            StoreError::ExtractRace { of, extract_id } => StoreError::ExtractRace {
                of: *of,
                extract_id: extract_id.clone(),
            },
            StoreError::AuditConflict => StoreError::AuditConflict,
            StoreError::LinkageMoved => StoreError::LinkageMoved,
            StoreError::Corrupt(s) => StoreError::Corrupt(s.clone()),
            StoreError::Migrate(e) => StoreError::Database(sqlx::Error::Protocol(e.to_string())),
            StoreError::Database(e) => StoreError::Database(detail(e)),
        }
    }
}

/// Maps a sqlx error to what it means for the caller.
pub(crate) fn classify(e: sqlx::Error) -> StoreError {
    // A pool (or the readers) timing out or closed says nothing of the
    // connections; pinging all of them then would only add a round trip
    // to every query when the database is busiest.
    let waited = matches!(e, sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed);
    let classified = classify_only(e);
    if !waited && matches!(classified, StoreError::Unavailable(_)) {
        crate::postgres::note_unavailable();
    }
    classified
}

fn classify_only(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_) => StoreError::Unavailable(e),
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            match code_class(&code) {
                CodeClass::Unavailable => StoreError::Unavailable(e),
                CodeClass::NotWritable => StoreError::NotWritable(e),
                CodeClass::Other => StoreError::Database(e),
            }
        }
        _ => StoreError::Database(e),
    }
}

/// What a database error code (a PostgreSQL SQLSTATE or a SQLite result
/// code) means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CodeClass {
    /// The database cannot serve connections now; retrying later may work.
    Unavailable,
    /// The database refuses writes (read-only or out of space).
    NotWritable,
    Other,
}

/// The decision of [`classify`] for a database error code, on its own.
fn code_class(code: &str) -> CodeClass {
    match code {
        // PostgreSQL class 08, connection exception (08000, 08001, 08003,
        // 08004, 08006, 08007, 08P01, ...).
        c if c.starts_with("08") => CodeClass::Unavailable,
        // PostgreSQL: object not in prerequisite state (what connecting to
        // a database with ALLOW_CONNECTIONS false raises), admin shutdown,
        // crash shutdown, cannot connect now, too many connections.
        "55000" | "57P01" | "57P02" | "57P03" | "53300" => CodeClass::Unavailable,
        // PostgreSQL disk full; SQLite SQLITE_READONLY (8), SQLITE_FULL (13),
        // and their extended codes.
        "53100" | "8" | "13" | "264" | "520" | "776" | "1032" | "1288" | "1544" => {
            CodeClass::NotWritable
        }
        _ => CodeClass::Other,
    }
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::UniqueViolation)
}

#[cfg(test)]
mod tests {
    use super::{CodeClass, code_class};

    #[test]
    fn connection_conditions_are_unavailable() {
        for code in [
            "08000", "08001", "08003", "08004", "08006", "08007", "08P01", "55000", "57P01",
            "57P02", "57P03", "53300",
        ] {
            assert_eq!(code_class(code), CodeClass::Unavailable, "{code}");
        }
    }

    #[test]
    fn other_conditions_are_not_unavailable() {
        // Unique violation, serialization failure, invalid text representation.
        for code in ["23505", "40001", "22P02", ""] {
            assert_eq!(code_class(code), CodeClass::Other, "{code}");
        }
        for code in ["53100", "8", "13", "1544"] {
            assert_eq!(code_class(code), CodeClass::NotWritable, "{code}");
        }
    }
}
