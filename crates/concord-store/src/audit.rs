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

/// The advisory lock every PostgreSQL audit batch is appended under
/// (`migrations/postgres/0007_audit_serialised.sql`).
const AUDIT_LOCK: i64 = 7_165_066_905_285_649_524;

/// Appends any number of rows and the batch's signed head on PostgreSQL,
/// in one statement, `concord_audit_append` (migration 0007): it takes the
/// audit log's advisory lock, checks under it that the log ends where the
/// batch was numbered from (`prev` the last leaf), and writes the events
/// from four arrays, their subjects from two, and the head. All or nothing,
/// one round trip, and one text whatever the batch's size, so each
/// connection prepares and plans it once. `Ok(false)`: the log had moved
/// (another broker appended), nothing was written.
async fn append_postgres(
    conn: &mut sqlx::PgConnection,
    rows: &[AuditRow],
    prev: &[u8; 32],
    head: &CheckpointRow,
) -> Result<bool, sqlx::Error> {
    const SQL: &str = "SELECT concord_audit_append($1::bigint[], $2::bytea[], $3::bytea[], \
                       $4::timestamptz[], $5::text[], $6::bigint[], $7, $8, $9, $10, $11)";
    let (subjects, subject_seqs): (Vec<&str>, Vec<i64>) = rows
        .iter()
        .flat_map(|r| r.subjects.iter().map(move |s| (s.as_str(), as_i64(r.seq))))
        .unzip();
    sqlx::query_scalar::<_, bool>(SQL)
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
        .bind(prev.as_slice())
        .bind(as_i64(head.tree_size))
        .bind(head.root.as_slice())
        .bind(&head.note)
        .bind(head.time)
        .fetch_one(conn)
        .await
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
    /// caller (the one writer) numbers them after the log it knows, whose
    /// last leaf is `prev`. If another writer (another broker process)
    /// appended since, nothing is written and this answers
    /// [`StoreError::AuditConflict`]: on PostgreSQL the function that
    /// appends checks under the audit lock and refuses; on SQLite the
    /// primary key does. Then re-read the tail ([`AuditAppender::serialised`]
    /// on PostgreSQL) and number again.
    pub fn append<'a>(
        &'a mut self,
        rows: &'a [AuditRow],
        prev: &'a [u8; 32],
        head: &'a CheckpointRow,
    ) -> Boxed<'a, ()> {
        Box::pin(self.append_inner(rows, prev, head))
    }

    async fn append_inner(
        &mut self,
        rows: &[AuditRow],
        prev: &[u8; 32],
        head: &CheckpointRow,
    ) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut conn = self.connection().await?;
        let written = match (&self.store.backend, &mut conn) {
            (Backend::Sqlite { audit_writer, .. }, OwnConnection::Sqlite(c)) => {
                let _guard = audit_writer.lock().await;
                append_sqlite_all(c, rows, head).await.map_err(conflict)
            }
            (Backend::Postgres(_), OwnConnection::Postgres(c)) => {
                match append_postgres(c, rows, prev, head).await {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(StoreError::AuditConflict),
                    Err(e) => Err(conflict(e)),
                }
            }
            _ => unreachable!("the connection is opened for the store's own backend"),
        };
        // After a conflict (another writer took a position) the statement
        // was refused whole and the connection is as it was: kept for the
        // retry. After any other error it is closed.
        if matches!(written, Ok(()) | Err(StoreError::AuditConflict)) {
            self.conn = Some(Kept::new(conn));
        }
        written
    }

    /// The kept connection if it is ready, or a new one.
    async fn connection(&mut self) -> Result<OwnConnection, StoreError> {
        let timeout = self.store.readers.acquire_timeout();
        let kept = match self.conn.take() {
            Some(kept) => kept.ready(timeout).await,
            None => None,
        };
        match kept {
            Some(conn) => Ok(conn),
            None => own::connect(&self.store.backend, timeout).await,
        }
    }

    /// On PostgreSQL, a transaction holding the audit log's advisory lock:
    /// no other broker appends until it ends, so what
    /// [`AuditLock::tail`] reads is the log's end, and a batch numbered
    /// after it is written by [`AuditLock::append`] without refusal. What a
    /// writer does after [`StoreError::AuditConflict`]. `None` on SQLite,
    /// whose audit file has one writer per process (a second process on
    /// the same file is refused by the primary key, and retries).
    pub fn serialised(&mut self) -> Boxed<'_, Option<AuditLock<'_>>> {
        Box::pin(self.serialised_inner())
    }

    async fn serialised_inner(&mut self) -> Result<Option<AuditLock<'_>>, StoreError> {
        if !matches!(self.store.backend, Backend::Postgres(_)) {
            return Ok(None);
        }
        let OwnConnection::Postgres(mut conn) = self.connection().await? else {
            unreachable!("the connection is opened for the store's own backend")
        };
        sqlx::query("BEGIN")
            .execute(&mut conn)
            .await
            .map_err(error::classify)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(AUDIT_LOCK)
            .execute(&mut conn)
            .await
            .map_err(error::classify)?;
        Ok(Some(AuditLock {
            appender: self,
            conn,
        }))
    }
}

/// A PostgreSQL transaction holding the audit log's advisory lock
/// ([`AuditAppender::serialised`]). Dropped without
/// [`AuditLock::append`], its connection is closed, which rolls the
/// transaction back and releases the lock.
pub struct AuditLock<'a> {
    appender: &'a mut AuditAppender,
    conn: sqlx::PgConnection,
}

impl<'a> AuditLock<'a> {
    /// The leaf hashes from position `from` on and the latest signed head,
    /// as they are under the lock: nothing can be appended after them
    /// until [`AuditLock::append`].
    pub fn tail(&mut self, from: u64) -> Boxed<'_, StoredTail> {
        Box::pin(self.tail_inner(from))
    }

    async fn tail_inner(&mut self, from: u64) -> Result<StoredTail, StoreError> {
        let leaves: Vec<(i64, Vec<u8>)> = sqlx::query_as(LEAVES_SQL)
            .bind(as_i64(from))
            .bind(i64::MAX)
            .fetch_all(&mut self.conn)
            .await
            .map_err(error::classify)?;
        let heads: Vec<(i64, Vec<u8>, String, DateTime<Utc>)> =
            sqlx::query_as(&checkpoints_sql(LATEST))
                .fetch_all(&mut self.conn)
                .await
                .map_err(error::classify)?;
        Ok((
            leaves.into_iter().map(leaf).collect::<Result<_, _>>()?,
            heads.into_iter().map(checkpoint).next().transpose()?,
        ))
    }

    /// Appends the batch and its head, numbered after what
    /// [`AuditLock::tail`] read (`prev` its last leaf), and commits,
    /// which releases the lock.
    pub fn append<'b>(
        self,
        rows: &'b [AuditRow],
        prev: &'b [u8; 32],
        head: &'b CheckpointRow,
    ) -> Boxed<'b, ()>
    where
        'a: 'b,
    {
        Box::pin(self.append_inner(rows, prev, head))
    }

    async fn append_inner(
        mut self,
        rows: &[AuditRow],
        prev: &[u8; 32],
        head: &CheckpointRow,
    ) -> Result<(), StoreError> {
        let written = append_postgres(&mut self.conn, rows, prev, head)
            .await
            .map_err(conflict)?;
        if !written {
            return Err(StoreError::Corrupt(
                "the audit log moved while its lock was held: another writer appends without it"
                    .into(),
            ));
        }
        sqlx::query("COMMIT")
            .execute(&mut self.conn)
            .await
            .map_err(error::classify)?;
        self.appender.conn = Some(Kept::new(OwnConnection::Postgres(self.conn)));
        Ok(())
    }
}

/// A boxed store future: `Send` is then proven here, for these lifetimes,
/// and not left to the caller's `tokio::spawn` (where rustc cannot prove
/// it for sqlx's executors in general).
pub type Boxed<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// The leaf hashes beyond a position and the latest signed head.
pub type StoredTail = (Vec<(u64, [u8; 32])>, Option<CheckpointRow>);

/// Leaf hashes in `[$1, $2)`, in order.
const LEAVES_SQL: &str =
    "SELECT seq, leaf_hash FROM audit_events WHERE seq >= $1 AND seq < $2 ORDER BY seq";

/// The filter of the checkpoint with the largest tree size.
const LATEST: &str = "WHERE tree_size = (SELECT MAX(tree_size) FROM audit_checkpoints)";

fn checkpoints_sql(filter: &str) -> String {
    format!("SELECT tree_size, root, note, time FROM audit_checkpoints {filter} ORDER BY tree_size")
}

fn leaf((seq, hash): (i64, Vec<u8>)) -> Result<(u64, [u8; 32]), StoreError> {
    Ok((
        seq_of(seq, "audit_events.seq")?,
        hash.try_into()
            .map_err(|_| StoreError::Corrupt("audit_events.leaf_hash".into()))?,
    ))
}

fn checkpoint(
    (size, root, note, time): (i64, Vec<u8>, String, DateTime<Utc>),
) -> Result<CheckpointRow, StoreError> {
    Ok(CheckpointRow {
        tree_size: seq_of(size, "audit_checkpoints.tree_size")?,
        root: root
            .try_into()
            .map_err(|_| StoreError::Corrupt("audit_checkpoints.root".into()))?,
        note,
        time,
    })
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
        let until = until.map_or(i64::MAX, as_i64);
        let rows: Vec<(i64, Vec<u8>)> = on_backend!(self, |pool| sqlx::query_as(LEAVES_SQL)
            .bind(as_i64(from))
            .bind(until)
            .fetch_all(pool)
            .await)
        .map_err(error::classify)?;
        rows.into_iter().map(leaf).collect()
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
        Ok(self.checkpoints_where(LATEST).await?.pop())
    }

    async fn checkpoints_where(&self, filter: &str) -> Result<Vec<CheckpointRow>, StoreError> {
        let sql = checkpoints_sql(filter);
        let rows: Vec<(i64, Vec<u8>, String, DateTime<Utc>)> =
            on_backend!(self, |pool| sqlx::query_as(&sql).fetch_all(pool).await)
                .map_err(error::classify)?;
        rows.into_iter().map(checkpoint).collect()
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
