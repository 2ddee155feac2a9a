//! Concord's storage, over sqlx: SQLite is the embedded default (one file,
//! nothing to install), PostgreSQL the production store. Both run the same
//! migrations' meaning (`migrations/sqlite`, `migrations/postgres`) and
//! behave the same; the tests run against both.
//!
//! An extract is written inside one transaction ([`ExtractWriter`]) that is
//! either committed whole with its `extracts` row or rolled back: dropping a
//! writer (a killed stream, a crashed handler) rolls it back, and a killed
//! broker leaves an uncommitted transaction the database discards. Writers
//! of one source are serialised (a PostgreSQL transaction-scoped advisory
//! lock; on SQLite, one writer at a time), so the idempotency check and the
//! snapshot replacement see a stable state.

#![forbid(unsafe_code)]

mod audit;
mod error;
mod insights;
mod linkage;
mod lookup;
mod own;
mod postgres;
mod probe;
mod record_reads;
mod retention;
mod rotate;
mod row;
mod sqlite;

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, NaiveDate, Utc};
use concord_core::{DataSet, ExtractHeader, ExtractMode, Period, Receipt, Record, Source, Token};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

pub use audit::{AuditAppender, AuditLock, AuditRow, CheckpointRow, StoredEvent};
pub use error::StoreError;
pub use insights::RecordKeyer;
pub use linkage::{
    FieldLevel, LinkQueueJob, LinkRow, LinkageUpdate, LinkerHolder, LinkerLease, NewReview,
    Resolution, Review, ReviewStatus, ReviewView,
};
pub use lookup::{LOOKUP_FIELDS, PersonRecord, lookup_field};
pub use probe::Probe;
pub use record_reads::RecordReadCounts;
pub use row::{pack_tokens, unpack_tokens};
pub use sqlite::{sqlite_audit_file, sqlite_connection};

use row::{COLUMNS, ExtractCols};

const SELECT_EXTRACT: &str = "SELECT * FROM extracts WHERE source = $1 AND extract_id = $2";

const INSERT_EXTRACT: &str = "INSERT INTO extracts (source, extract_id, org, mode, period_start, \
     period_end, records_received, records_stored, records_deleted, records_replaced, checksum, \
     stored_digest, policy_digest, policy_revision, broker_key_id, linkage_key_id, committed_at, \
     data_set, records_held) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)";

/// A snapshot's scope: its source's records of its data set in its period.
const DELETE_PERIOD: &str = "DELETE FROM records WHERE source = $1 AND data_set = $2 \
     AND event_date >= $3 AND event_date <= $4 RETURNING id";

const COUNT_SOURCE: &str = "SELECT COUNT(*) FROM records WHERE source = $1";

/// Binds an [`ExtractRow`] to [`INSERT_EXTRACT`], for either database.
macro_rules! bind_extract {
    ($q:expr, $r:expr) => {
        $q.bind(&$r.source)
            .bind(&$r.extract_id)
            .bind(&$r.org)
            .bind(&$r.mode)
            .bind($r.period_start)
            .bind($r.period_end)
            .bind($r.records_received)
            .bind($r.records_stored)
            .bind($r.records_deleted)
            .bind($r.records_replaced)
            .bind(&$r.checksum)
            .bind(&$r.stored_digest)
            .bind(&$r.policy_digest)
            .bind(&$r.policy_revision)
            .bind(&$r.broker_key_id)
            .bind(&$r.linkage_key_id)
            .bind($r.committed_at)
            .bind(&$r.data_set)
            .bind($r.records_held)
    };
}
pub(crate) use bind_extract;

/// The queries that read the same on both databases, for backend `$db`.
macro_rules! shared_queries {
    ($db:ty) => {
        pub(crate) async fn get_extract<'e>(
            e: impl sqlx::Executor<'e, Database = $db>,
            source: concord_core::Source,
            extract_id: &str,
        ) -> Result<Option<crate::ExtractRow>, sqlx::Error> {
            sqlx::query_as(crate::SELECT_EXTRACT)
                .bind(source.as_str())
                .bind(extract_id)
                .fetch_optional(e)
                .await
        }

        pub(crate) async fn insert_extract(
            tx: &mut sqlx::Transaction<'static, $db>,
            row: &crate::ExtractRow,
        ) -> Result<(), sqlx::Error> {
            crate::bind_extract!(sqlx::query(crate::INSERT_EXTRACT), row)
                .execute(&mut **tx)
                .await
                .map(drop)
        }

        /// How many records the source holds, over every data set.
        pub(crate) async fn count_source(
            tx: &mut sqlx::Transaction<'static, $db>,
            source: concord_core::Source,
        ) -> Result<i64, sqlx::Error> {
            sqlx::query_scalar(crate::COUNT_SOURCE)
                .bind(source.as_str())
                .fetch_one(&mut **tx)
                .await
        }

        /// Deletes the source's records of `data_set` whose event date
        /// lies in the period; returns their ids.
        pub(crate) async fn delete_period(
            tx: &mut sqlx::Transaction<'static, $db>,
            source: concord_core::Source,
            data_set: concord_core::DataSet,
            period: &concord_core::Period,
        ) -> Result<Vec<i64>, sqlx::Error> {
            sqlx::query_scalar(crate::DELETE_PERIOD)
                .bind(source.as_str())
                .bind(data_set.as_str())
                .bind(period.start)
                .bind(period.end)
                .fetch_all(&mut **tx)
                .await
        }
    };
}
pub(crate) use shared_queries;

/// ` ON CONFLICT (source, source_ref) DO UPDATE SET …` over every column.
fn upsert_clause() -> String {
    let sets: Vec<String> = COLUMNS[2..]
        .iter()
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        " ON CONFLICT (source, source_ref) DO UPDATE SET {}",
        sets.join(", ")
    )
}

/// Connection settings.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// The pool's most connections; `None`: the backend's default
    /// ([`SQLITE_MAX_CONNECTIONS`], [`POSTGRES_MAX_CONNECTIONS`]).
    pub max_connections: Option<u32>,
    pub acquire_timeout: Duration,
}

/// SQLite's default pool size. Each connection is a thread of sqlx's
/// running its queries; on the 2-core machine more threads than that
/// contend for the cores: at 1,000 lookups/s (1,000,000 records, 64
/// callers) four connections gave p99 7.5-10.3 ms against 9-40 ms for
/// eight, and more lookups/s closed loop (BENCHMARKS.md, stop 10). Four
/// still leave reads a connection while an extract, the linker's writes
/// and an audit append each hold one.
pub const SQLITE_MAX_CONNECTIONS: u32 = 4;

/// PostgreSQL's default pool size (connections are server processes; the
/// broker's side is async).
pub const POSTGRES_MAX_CONNECTIONS: u32 = 8;

/// Connections of the store's own (outside the pool) that serve the
/// lookup's records query, at most this many at once (`own.rs`, one per
/// running batch of `record_reads.rs`). On
/// SQLite each is a thread: two keep the threads that run at once during
/// lookups to three (two readers and the audit writer's own), fewer than
/// the pool's four did.
pub const SQLITE_READERS: usize = 2;

/// The same for PostgreSQL: two, or the pool's size if it is smaller
/// (`StoreOptions::max_connections`). Reads are batched
/// (`record_reads.rs`): those waiting while both are busy are read
/// together by the next, so two carry any lookup rate one query per lookup
/// would need many connections for, and each batch costs the server one
/// execution's fixed cost instead of one per lookup (20-30% less reader
/// CPU than eight at 2,000 lookups/s, BENCHMARKS.md). Without batching,
/// four had queued the 64 callers behind a slow query. A broker process
/// holds the pool's connections, these and the audit writer's one: 11 by
/// default.
pub const POSTGRES_READERS: usize = 2;

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: None,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

/// A handle on the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    /// Own connections for the lookup's records query (`own.rs`).
    readers: Arc<own::Readers>,
    /// The lookups' records reads, batched onto `readers`
    /// (`record_reads.rs`).
    record_reads: Arc<record_reads::RecordReads>,
}

#[derive(Clone)]
enum Backend {
    Sqlite {
        pool: SqlitePool,
        /// Held by whoever writes the main file (one writer at a time).
        writer: Arc<Mutex<()>>,
        /// Held by the audit log's writes, which touch only the audit file
        /// ([`sqlite_audit_file`]).
        audit_writer: Arc<Mutex<()>>,
    },
    Postgres(PgPool),
}

/// What `begin_extract` found.
pub enum Begin {
    /// A new extract: write it, then commit.
    New(ExtractWriter),
    /// This source already has an extract with this id.
    Existing(Receipt),
}

/// What the receipt needs beyond what the writer counted.
#[derive(Debug, Clone)]
pub struct CommitInfo {
    pub org: String,
    pub records_received: u64,
    pub checksum: [u8; 32],
    pub policy_digest: String,
    pub policy_revision: String,
    pub committed_at: DateTime<Utc>,
}

impl Store {
    /// Connects to `sqlite:PATH` or `postgres://…` and runs the migrations.
    pub async fn connect(url: &str, opts: &StoreOptions) -> Result<Store, StoreError> {
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite {
                pool: sqlite::connect(url, opts).await?,
                writer: Arc::new(Mutex::new(())),
                audit_writer: Arc::new(Mutex::new(())),
            }
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres(postgres::connect(url, opts).await?)
        } else {
            return Err(StoreError::BadUrl(
                "it must start with sqlite: or postgres://".into(),
            ));
        };
        let readers = match backend {
            Backend::Sqlite { .. } => SQLITE_READERS,
            Backend::Postgres(_) => opts
                .max_connections
                .map_or(POSTGRES_READERS, |n| POSTGRES_READERS.min(n as usize)),
        };
        let store = Store {
            backend,
            readers: Arc::new(own::Readers::new(readers, opts.acquire_timeout)),
            record_reads: Arc::new(record_reads::RecordReads::new(readers)),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite { pool, .. } => {
                sqlx::migrate!("../../migrations/sqlite")
                    .run(pool)
                    .await
                    .map_err(StoreError::Migrate)?;
                sqlite::adopt_audit(pool).await
            }
            Backend::Postgres(pool) => sqlx::migrate!("../../migrations/postgres")
                .run(pool)
                .await
                .map_err(StoreError::Migrate),
        }
    }

    /// Answers whether the database is reachable (readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite { pool, .. } => sqlx::query("SELECT 1").execute(pool).await.map(drop),
            Backend::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
        }
        .map_err(error::classify)
    }

    pub async fn close(&self) {
        self.readers.close();
        match &self.backend {
            Backend::Sqlite { pool, .. } => pool.close().await,
            Backend::Postgres(pool) => pool.close().await,
        }
    }

    /// The receipt of an accepted extract.
    pub async fn get_extract(
        &self,
        source: Source,
        extract_id: &str,
    ) -> Result<Option<Receipt>, StoreError> {
        let row = match &self.backend {
            Backend::Sqlite { pool, .. } => sqlite::get_extract(pool, source, extract_id).await,
            Backend::Postgres(pool) => postgres::get_extract(pool, source, extract_id).await,
        }
        .map_err(error::classify)?;
        row.map(ExtractRow::into_receipt).transpose()
    }

    /// Opens the transaction an extract is written in. Waits for any other
    /// writer of the same source; then reports an already-accepted extract
    /// of that id, or, for a new one, counts what the source holds and
    /// clears a snapshot's scope: the source's records of the header's data
    /// set in the period (never another data set's).
    pub async fn begin_extract(
        &self,
        header: &ExtractHeader,
        broker_key_id: &str,
    ) -> Result<Begin, StoreError> {
        let cols = ExtractCols {
            source: header.source,
            extract_id: header.extract_id.to_string(),
            broker_key_id: broker_key_id.to_owned(),
            linkage_key_id: header.linkage_key_id.clone(),
            data_set: header.data_set,
        };
        let (tx, guard, existing) = match &self.backend {
            Backend::Sqlite { pool, writer, .. } => {
                let guard = writer.clone().lock_owned().await;
                let mut tx = sqlite::begin_write(pool).await?;
                let existing = sqlite::get_extract(&mut *tx, header.source, &cols.extract_id).await;
                (Tx::Sqlite(tx), Some(guard), existing)
            }
            Backend::Postgres(pool) => {
                let mut tx = pool.begin().await.map_err(error::classify)?;
                postgres::lock_source(&mut tx, header.source)
                    .await
                    .map_err(error::classify)?;
                let existing =
                    postgres::get_extract(&mut *tx, header.source, &cols.extract_id).await;
                (Tx::Postgres(tx), None, existing)
            }
        };
        if let Some(row) = existing.map_err(error::classify)? {
            tx.rollback().await?;
            return Ok(Begin::Existing(row.into_receipt()?));
        }
        let mut writer = ExtractWriter {
            tx,
            _guard: guard,
            cols,
            mode: header.mode,
            period: header.period,
            digest: ring::digest::Context::new(&ring::digest::SHA256),
            stored: 0,
            deleted: 0,
            replaced: 0,
            held: 0,
            removed: Vec::new(),
            staging: false,
        };
        let held = match &mut writer.tx {
            Tx::Sqlite(tx) => sqlite::count_source(tx, header.source).await,
            Tx::Postgres(tx) => postgres::count_source(tx, header.source).await,
        }
        .map_err(error::classify)?;
        writer.held = held as u64;
        if header.mode == ExtractMode::Snapshot {
            let (source, set, period) = (header.source, header.data_set, &header.period);
            let removed = match &mut writer.tx {
                Tx::Sqlite(tx) => sqlite::delete_period(tx, source, set, period).await,
                Tx::Postgres(tx) => postgres::delete_period(tx, source, set, period).await,
            }
            .map_err(error::classify)?;
            writer.replaced = removed.len() as u64;
            writer.removed = removed;
        }
        Ok(Begin::New(writer))
    }

    /// How many records are stored, for one source or all.
    pub async fn count_records(&self, source: Option<Source>) -> Result<u64, StoreError> {
        let src = source.map(Source::as_str);
        let n: i64 = match &self.backend {
            Backend::Sqlite { pool, .. } => {
                sqlx::query_scalar("SELECT COUNT(*) FROM records WHERE $1 IS NULL OR source = $1")
                    .bind(src)
                    .fetch_one(pool)
                    .await
            }
            Backend::Postgres(pool) => {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM records WHERE $1::text IS NULL OR source = $1",
                )
                .bind(src)
                .fetch_one(pool)
                .await
            }
        }
        .map_err(error::classify)?;
        Ok(n as u64)
    }

    /// Every stored (source_ref, packed tokens) of a source, ordered by
    /// source_ref: what the broker holds in place of identifiers.
    pub async fn stored_pseudonyms(
        &self,
        source: Source,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        const SQL: &str =
            "SELECT source_ref, tokens FROM records WHERE source = $1 ORDER BY source_ref";
        match &self.backend {
            Backend::Sqlite { pool, .. } => {
                sqlx::query_as(SQL)
                    .bind(source.as_str())
                    .fetch_all(pool)
                    .await
            }
            Backend::Postgres(pool) => {
                sqlx::query_as(SQL)
                    .bind(source.as_str())
                    .fetch_all(pool)
                    .await
            }
        }
        .map_err(error::classify)
    }

    /// The event dates stored for a source, in order (for tests and checks).
    pub async fn stored_event_dates(&self, source: Source) -> Result<Vec<NaiveDate>, StoreError> {
        const SQL: &str =
            "SELECT event_date FROM records WHERE source = $1 ORDER BY event_date, source_ref";
        match &self.backend {
            Backend::Sqlite { pool, .. } => {
                sqlx::query_scalar(SQL)
                    .bind(source.as_str())
                    .fetch_all(pool)
                    .await
            }
            Backend::Postgres(pool) => {
                sqlx::query_scalar(SQL)
                    .bind(source.as_str())
                    .fetch_all(pool)
                    .await
            }
        }
        .map_err(error::classify)
    }
}

enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    async fn rollback(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx) => tx.rollback().await,
            Tx::Postgres(tx) => tx.rollback().await,
        }
        .map_err(error::classify)
    }
}

/// An extract being written. Dropping it without [`commit`](Self::commit)
/// rolls everything back.
pub struct ExtractWriter {
    tx: Tx,
    _guard: Option<OwnedMutexGuard<()>>,
    cols: ExtractCols,
    mode: ExtractMode,
    period: Period,
    digest: ring::digest::Context,
    stored: u64,
    deleted: u64,
    replaced: u64,
    /// The source's records before this extract, every data set.
    held: u64,
    /// Ids of the records this extract removed (snapshot or deletions).
    removed: Vec<i64>,
    staging: bool,
}

/// A committed extract: its receipt, and the ids of the records it
/// removed (linkage must forget them).
#[derive(Debug, Clone)]
pub struct Committed {
    pub receipt: Receipt,
    pub removed_record_ids: Vec<i64>,
}

impl ExtractWriter {
    /// Writes records whose `source_ref` and tokens are already re-keyed.
    /// Snapshot mode inserts (a source reference stored outside the period
    /// is refused); delta mode upserts by source reference.
    pub async fn insert(&mut self, records: &[Record]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let upsert = self.mode == ExtractMode::Delta;
        let result = match &mut self.tx {
            Tx::Sqlite(tx) => {
                sqlite::insert(tx, &self.cols, records, upsert, &mut self.digest).await
            }
            Tx::Postgres(tx) => {
                postgres::insert(
                    tx,
                    &self.cols,
                    records,
                    upsert,
                    &mut self.staging,
                    &mut self.digest,
                )
                .await
            }
        };
        match result {
            Ok(()) => {
                self.stored += records.len() as u64;
                Ok(())
            }
            Err(e) if error::is_unique_violation(&e) => Err(StoreError::SourceRefElsewhere {
                of: self.cols.source,
            }),
            Err(e) => Err(error::classify(e)),
        }
    }

    /// Deletes records by (re-keyed) source reference; delta mode only.
    pub async fn delete(&mut self, refs: &[Token]) -> Result<(), StoreError> {
        for r in refs {
            row::digest_delete(&mut self.digest, r.as_bytes());
        }
        let removed = match &mut self.tx {
            Tx::Sqlite(tx) => sqlite::delete_refs(tx, self.cols.source, refs).await,
            Tx::Postgres(tx) => postgres::delete_refs(tx, self.cols.source, refs).await,
        }
        .map_err(error::classify)?;
        self.deleted += removed.len() as u64;
        self.removed.extend(removed);
        Ok(())
    }

    /// Records the extract and commits; returns its receipt and the ids of
    /// the records it removed.
    pub async fn commit(mut self, info: CommitInfo) -> Result<Committed, StoreError> {
        let receipt = Receipt {
            extract_id: self.cols.extract_id.clone(),
            source: self.cols.source,
            org: info.org,
            mode: self.mode,
            period: self.period,
            data_set: self.cols.data_set,
            records_received: info.records_received,
            records_stored: self.stored,
            records_deleted: self.deleted,
            records_replaced: self.replaced,
            records_held: self.held,
            checksum: info.checksum,
            stored_digest: self
                .digest
                .clone()
                .finish()
                .as_ref()
                .try_into()
                .expect("SHA-256 is 32 bytes"),
            policy_digest: info.policy_digest,
            policy_revision: info.policy_revision,
            broker_key_id: self.cols.broker_key_id.clone(),
            linkage_key_id: self.cols.linkage_key_id.clone(),
            // Stored at microsecond precision by both databases.
            committed_at: DateTime::from_timestamp_micros(info.committed_at.timestamp_micros())
                .unwrap_or(info.committed_at),
        };
        let row = ExtractRow::from_receipt(&receipt);
        let job = linkage::pack_ids(&self.removed);
        let result = match &mut self.tx {
            Tx::Sqlite(tx) => match sqlite::insert_extract(tx, &row).await {
                Ok(()) => {
                    crate::linkage::queue_job!(&mut **tx, receipt.source, &receipt.extract_id, &job)
                }
                Err(e) => Err(e),
            },
            Tx::Postgres(tx) => match postgres::insert_extract(tx, &row).await {
                Ok(()) => {
                    crate::linkage::queue_job!(&mut **tx, receipt.source, &receipt.extract_id, &job)
                }
                Err(e) => Err(e),
            },
        };
        match result {
            Ok(()) => {}
            Err(e) if error::is_unique_violation(&e) => {
                return Err(StoreError::ExtractRace {
                    of: receipt.source,
                    extract_id: receipt.extract_id,
                });
            }
            Err(e) => return Err(error::classify(e)),
        }
        match self.tx {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
        .map_err(error::classify)?;
        Ok(Committed {
            receipt,
            removed_record_ids: self.removed,
        })
    }

    /// Rolls back explicitly (dropping the writer does the same, later).
    pub async fn abort(self) -> Result<(), StoreError> {
        self.tx.rollback().await
    }
}

/// An `extracts` row, as both databases decode it.
#[derive(Debug, sqlx::FromRow)]
struct ExtractRow {
    source: String,
    extract_id: String,
    org: String,
    mode: String,
    period_start: NaiveDate,
    period_end: NaiveDate,
    records_received: i64,
    records_stored: i64,
    records_deleted: i64,
    records_replaced: i64,
    checksum: Vec<u8>,
    stored_digest: Vec<u8>,
    policy_digest: String,
    policy_revision: String,
    broker_key_id: String,
    linkage_key_id: String,
    committed_at: DateTime<Utc>,
    data_set: String,
    records_held: i64,
}

impl ExtractRow {
    fn from_receipt(r: &Receipt) -> ExtractRow {
        ExtractRow {
            source: r.source.as_str().to_owned(),
            extract_id: r.extract_id.clone(),
            org: r.org.clone(),
            mode: r.mode.as_str().to_owned(),
            period_start: r.period.start,
            period_end: r.period.end,
            records_received: r.records_received as i64,
            records_stored: r.records_stored as i64,
            records_deleted: r.records_deleted as i64,
            records_replaced: r.records_replaced as i64,
            checksum: r.checksum.to_vec(),
            stored_digest: r.stored_digest.to_vec(),
            policy_digest: r.policy_digest.clone(),
            policy_revision: r.policy_revision.clone(),
            broker_key_id: r.broker_key_id.clone(),
            linkage_key_id: r.linkage_key_id.clone(),
            committed_at: r.committed_at,
            data_set: r.data_set.as_str().to_owned(),
            records_held: r.records_held as i64,
        }
    }

    fn into_receipt(self) -> Result<Receipt, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("extracts.{what}"));
        Ok(Receipt {
            source: self.source.parse().map_err(|_| corrupt("source"))?,
            mode: ExtractMode::parse(&self.mode).ok_or_else(|| corrupt("mode"))?,
            data_set: DataSet::parse(&self.data_set).ok_or_else(|| corrupt("data_set"))?,
            records_held: self.records_held as u64,
            period: Period::new(self.period_start, self.period_end)
                .map_err(|_| corrupt("period"))?,
            checksum: self.checksum.try_into().map_err(|_| corrupt("checksum"))?,
            stored_digest: self
                .stored_digest
                .try_into()
                .map_err(|_| corrupt("stored_digest"))?,
            extract_id: self.extract_id,
            org: self.org,
            records_received: self.records_received as u64,
            records_stored: self.records_stored as u64,
            records_deleted: self.records_deleted as u64,
            records_replaced: self.records_replaced as u64,
            policy_digest: self.policy_digest,
            policy_revision: self.policy_revision,
            broker_key_id: self.broker_key_id,
            linkage_key_id: self.linkage_key_id,
            committed_at: self.committed_at,
        })
    }
}
