//! Persistence of the audit log (`migrations/*/0003_audit.sql`): the
//! encoded events in log order, the subject index, and the signed
//! checkpoints, one per batch, written with its events. This module stores bytes; what they mean (the canonical
//! encoding, the Merkle tree, the signatures) is `concord-audit`'s, and the
//! one writer that appends is the server's `AuditLog`.

use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use crate::{
    Backend, Store, StoreError, error,
    own::{self, Kept, OwnConnection},
};

/// Events per multi-row INSERT on SQLite (6 bound values each; SQLite's
/// bound is 32,766). PostgreSQL binds arrays, one statement for any number.
const CHUNK: usize = 1_000;

/// One audit event as stored: its position, leaf hash, canonical encoding,
/// time, and whom it is about (`person:<id>`, `ps:<hex>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub seq: u64,
    pub leaf_hash: [u8; 32],
    pub event: Vec<u8>,
    pub time: DateTime<Utc>,
    pub subjects: Vec<String>,
}

/// A signed checkpoint as stored: the tree size and root it signs and the
/// signed note itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointRow {
    pub tree_size: u64,
    pub root: [u8; 32],
    pub note: String,
    pub time: DateTime<Utc>,
}

/// A stored event as read back (the subject index is not part of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// The `seq` column: the row's position in the log.
    pub seq: u64,
    pub leaf_hash: Vec<u8>,
    pub event: Vec<u8>,
}

/// A unique violation means another writer took the position.
fn conflict(e: sqlx::Error) -> StoreError {
    if error::is_unique_violation(&e) {
        StoreError::AuditConflict
    } else {
        error::classify(e)
    }
}

fn seq_of(v: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} is negative")))
}

fn as_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Runs the same statement text on either backend.
macro_rules! on_backend {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.backend {
            Backend::Sqlite { pool: $pool, .. } => $body,
            Backend::Postgres($pool) => $body,
        }
    };
}

/// Appends up to [`CHUNK`] rows, and the batch's signed head when `head`
/// is given, in one statement through SQLite's `audit_commit` view, whose
/// trigger writes `audit_events` and `audit_subjects` for an event row and
/// `audit_checkpoints` for the head's row (migrations/sqlite_audit.sql):
/// all or nothing, in one round trip to the connection's thread.
async fn append_sqlite<'e>(
    conn: impl sqlx::SqliteExecutor<'e>,
    rows: &[AuditRow],
    head: Option<&CheckpointRow>,
) -> Result<(), sqlx::Error> {
    // Each event's subjects (`person:<id>`, `ps:<hex>`) as a JSON array.
    let subjects: Vec<String> = rows
        .iter()
        .map(|r| serde_json::Value::from(r.subjects.as_slice()).to_string())
        .collect();
    let mut q: QueryBuilder<'_, sqlx::Sqlite> = QueryBuilder::new(
        "INSERT INTO audit_commit (seq, leaf_hash, event, time, subjects, note) ",
    );
    enum Row<'a> {
        Event(&'a AuditRow, &'a str),
        Head(&'a CheckpointRow),
    }
    let all = rows
        .iter()
        .zip(&subjects)
        .map(|(r, s)| Row::Event(r, s.as_str()))
        .chain(head.map(Row::Head));
    q.push_values(all, |mut b, row| match row {
        Row::Event(r, s) => {
            b.push_bind(as_i64(r.seq))
                .push_bind(r.leaf_hash.as_slice())
                .push_bind(r.event.as_slice())
                .push_bind(r.time)
                .push_bind(s)
                .push_bind(None::<&str>);
        }
        // The head's row: its tree size and root in the event's columns.
        Row::Head(c) => {
            b.push_bind(as_i64(c.tree_size))
                .push_bind(c.root.as_slice())
                .push_bind(None::<&[u8]>)
                .push_bind(c.time)
                .push_bind("[]")
                .push_bind(c.note.as_str());
        }
    });
    q.build().execute(conn).await.map(drop)
}

/// Appends any number of rows and the batch's signed head in one
/// PostgreSQL statement: the events from four arrays and the head in
/// data-modifying `WITH`s, the subjects from two arrays. One statement is
/// all or nothing, one round trip instead of four, and one text whatever
/// the batch's size, so each connection prepares and plans it once (a
/// `VALUES` list would be a new statement for each size).
async fn append_postgres<'e>(
    conn: impl sqlx::PgExecutor<'e>,
    rows: &[AuditRow],
    head: &CheckpointRow,
) -> Result<(), sqlx::Error> {
    const SQL: &str = "WITH events AS (INSERT INTO audit_events (seq, leaf_hash, event, time) \
                       SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[], $4::timestamptz[]) \
                       RETURNING seq), \
                       head AS (INSERT INTO audit_checkpoints (tree_size, root, note, time) \
                       VALUES ($7, $8, $9, $10)) \
                       INSERT INTO audit_subjects (subject, seq) \
                       SELECT subject, seq FROM unnest($5::text[], $6::bigint[]) AS s(subject, seq)";
    let (subjects, subject_seqs): (Vec<&str>, Vec<i64>) = rows
        .iter()
        .flat_map(|r| r.subjects.iter().map(move |s| (s.as_str(), as_i64(r.seq))))
        .unzip();
    sqlx::query(SQL)
        .bind(rows.iter().map(|r| as_i64(r.seq)).collect::<Vec<i64>>())
        .bind(
            rows.iter()
                .map(|r| r.leaf_hash.as_slice())
                .collect::<Vec<&[u8]>>(),
        )
        .bind(
            rows.iter()
                .map(|r| r.event.as_slice())
                .collect::<Vec<&[u8]>>(),
        )
        .bind(rows.iter().map(|r| r.time).collect::<Vec<DateTime<Utc>>>())
        .bind(subjects)
        .bind(subject_seqs)
        .bind(as_i64(head.tree_size))
        .bind(head.root.as_slice())
        .bind(&head.note)
        .bind(head.time)
        .execute(conn)
        .await
        .map(drop)
}

/// Appends rows and their head on one SQLite connection (the caller holds
/// the audit file's writer lock): one autocommit statement, or one per
/// [`CHUNK`] in a transaction, the head with the last.
async fn append_sqlite_all(
    conn: &mut sqlx::SqliteConnection,
    rows: &[AuditRow],
    head: &CheckpointRow,
) -> Result<(), sqlx::Error> {
    use sqlx::Connection;
    if rows.len() <= CHUNK {
        return append_sqlite(&mut *conn, rows, Some(head)).await;
    }
    let mut tx = conn.begin().await?;
    let chunks = rows.chunks(CHUNK);
    let last = chunks.len() - 1;
    for (i, chunk) in chunks.enumerate() {
        append_sqlite(&mut *tx, chunk, (i == last).then_some(head)).await?;
    }
    tx.commit().await
}

/// The audit writer's own database connection, kept from one batch to the
/// next ([`Store::audit_appender`]; `own.rs` says why, and the rules it is
/// kept under). Outside the pool,
/// so readers keep every pooled connection; after any failed write it is
/// closed and the next batch opens another, so a connection that broke,
/// or a transaction SQLite rolled back by itself, never carries over.
pub struct AuditAppender {
    store: Store,
    conn: Option<Kept>,
}

impl AuditAppender {
    /// Appends audit events and the signed tree head that covers them, in
    /// one transaction: all of it, or (on any error) none, so no event is
    /// ever stored without the signature its writer made for it. The
    /// caller (the one writer) numbers them; if another writer (another
    /// broker process) already stored one of those positions, the primary
    /// key refuses the batch and this answers
    /// [`StoreError::AuditConflict`]: re-read the tail and number again.
    pub async fn append(
        &mut self,
        rows: &[AuditRow],
        head: &CheckpointRow,
    ) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let timeout = self.store.readers.acquire_timeout();
        let kept = match self.conn.take() {
            Some(kept) => kept.ready(timeout).await,
            None => None,
        };
        let mut conn = match kept {
            Some(conn) => conn,
            None => own::connect(&self.store.backend, timeout).await?,
        };
        let written = match (&self.store.backend, &mut conn) {
            (Backend::Sqlite { audit_writer, .. }, OwnConnection::Sqlite(c)) => {
                let _guard = audit_writer.lock().await;
                append_sqlite_all(c, rows, head).await
            }
            (Backend::Postgres(_), OwnConnection::Postgres(c)) => {
                append_postgres(c, rows, head).await
            }
            _ => unreachable!("the connection is opened for the store's own backend"),
        };
        let written = written.map_err(conflict);
        // After a conflict (another writer took a position) the statement
        // was refused whole and the connection is as it was: kept for the
        // retry. After any other error it is closed.
        if matches!(written, Ok(()) | Err(StoreError::AuditConflict)) {
            self.conn = Some(Kept::new(conn));
        }
        written
    }
}

impl Store {
    /// A connection of the audit writer's own, for appends batch after
    /// batch without the pool's round trips ([`AuditAppender`]). Opened at
    /// the first append.
    pub fn audit_appender(&self) -> AuditAppender {
        AuditAppender {
            store: self.clone(),
            conn: None,
        }
    }

    /// The stored leaf hashes from position `from` on (up to, not
    /// including, `until` when given), in order, with their `seq`: what the
    /// writer rebuilds its Merkle tree from.
    pub async fn audit_leaf_hashes(
        &self,
        from: u64,
        until: Option<u64>,
    ) -> Result<Vec<(u64, [u8; 32])>, StoreError> {
        const SQL: &str = "SELECT seq, leaf_hash FROM audit_events WHERE seq >= $1 AND seq < $2 \
                           ORDER BY seq";
        let until = until.map_or(i64::MAX, as_i64);
        let rows: Vec<(i64, Vec<u8>)> = on_backend!(self, |pool| sqlx::query_as(SQL)
            .bind(as_i64(from))
            .bind(until)
            .fetch_all(pool)
            .await)
        .map_err(error::classify)?;
        rows.into_iter()
            .map(|(seq, hash)| {
                Ok((
                    seq_of(seq, "audit_events.seq")?,
                    hash.try_into()
                        .map_err(|_| StoreError::Corrupt("audit_events.leaf_hash".into()))?,
                ))
            })
            .collect()
    }

    /// Up to `limit` events from `seq` on, in log order.
    pub async fn audit_events(
        &self,
        from: u64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        const SQL: &str = "SELECT seq, leaf_hash, event FROM audit_events WHERE seq >= $1 \
                           ORDER BY seq LIMIT $2";
        let rows: Vec<(i64, Vec<u8>, Vec<u8>)> = on_backend!(self, |pool| sqlx::query_as(SQL)
            .bind(as_i64(from))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await)
        .map_err(error::classify)?;
        rows.into_iter()
            .map(|(seq, leaf_hash, event)| {
                Ok(StoredEvent {
                    seq: seq_of(seq, "audit_events.seq")?,
                    leaf_hash,
                    event,
                })
            })
            .collect()
    }

    /// Up to `limit` events about `subject` (`person:<id>`), newest first.
    pub async fn audit_events_about(
        &self,
        subject: &str,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        const SQL: &str = "SELECT e.seq, e.leaf_hash, e.event FROM audit_subjects s \
                           JOIN audit_events e ON e.seq = s.seq WHERE s.subject = $1 \
                           ORDER BY s.seq DESC LIMIT $2";
        let rows: Vec<(i64, Vec<u8>, Vec<u8>)> = on_backend!(self, |pool| sqlx::query_as(SQL)
            .bind(subject)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await)
        .map_err(error::classify)?;
        rows.into_iter()
            .map(|(seq, leaf_hash, event)| {
                Ok(StoredEvent {
                    seq: seq_of(seq, "audit_events.seq")?,
                    leaf_hash,
                    event,
                })
            })
            .collect()
    }

    /// Every signed checkpoint, by tree size.
    pub async fn audit_checkpoints(&self) -> Result<Vec<CheckpointRow>, StoreError> {
        self.checkpoints_where("").await
    }

    /// The checkpoint with the largest tree size, if any.
    pub async fn latest_audit_checkpoint(&self) -> Result<Option<CheckpointRow>, StoreError> {
        Ok(self
            .checkpoints_where("WHERE tree_size = (SELECT MAX(tree_size) FROM audit_checkpoints)")
            .await?
            .pop())
    }

    async fn checkpoints_where(&self, filter: &str) -> Result<Vec<CheckpointRow>, StoreError> {
        let sql = format!(
            "SELECT tree_size, root, note, time FROM audit_checkpoints {filter} ORDER BY tree_size"
        );
        let rows: Vec<(i64, Vec<u8>, String, DateTime<Utc>)> =
            on_backend!(self, |pool| sqlx::query_as(&sql).fetch_all(pool).await)
                .map_err(error::classify)?;
        rows.into_iter()
            .map(|(size, root, note, time)| {
                Ok(CheckpointRow {
                    tree_size: seq_of(size, "audit_checkpoints.tree_size")?,
                    root: root
                        .try_into()
                        .map_err(|_| StoreError::Corrupt("audit_checkpoints.root".into()))?,
                    note,
                    time,
                })
            })
            .collect()
    }

    /// How many events the log holds (the `seq` after the last).
    pub async fn audit_size(&self) -> Result<u64, StoreError> {
        let n: Option<i64> = on_backend!(self, |pool| sqlx::query_scalar(
            "SELECT MAX(seq) + 1 FROM audit_events"
        )
        .fetch_one(pool)
        .await)
        .map_err(error::classify)?;
        n.map_or(Ok(0), |n| seq_of(n, "audit_events.seq"))
    }
}
