//! The SQLite backend: the embedded default.

use std::{path::PathBuf, str::FromStr};

use concord_core::{Record, Source, Token};
use sqlx::{
    Connection, QueryBuilder, Sqlite, SqlitePool, Transaction,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use crate::{
    StoreError, StoreOptions, error,
    row::{self, COLUMNS, ExtractCols, Val},
};

/// Rows per INSERT statement: 25 columns × 1000 stays under SQLite's
/// 32,766 bound parameters.
const ROWS_PER_INSERT: usize = 1000;

/// The file beside a SQLite store that holds its audit log: the store's
/// file name with `-audit` added (`concord.db` → `concord.db-audit`, with
/// its own `-wal` and `-shm`). Every connection of the store attaches it
/// as the schema `audit`; the audit tables live only there, so SQL names
/// them unqualified on both databases.
///
/// Why a file of its own: in WAL mode every commit to a database file
/// empties the page cache of every other connection to that file at its
/// next read, and the audit log commits with every lookup; the records'
/// pages stay cached while only the audit file changes. And its writes
/// take the audit file's write lock only, so a lookup's audit append does
/// not wait behind an extract being written.
pub fn sqlite_audit_file(url: &str) -> Result<PathBuf, StoreError> {
    Ok(audit_file_of(&parse(url)?))
}

fn parse(url: &str) -> Result<SqliteConnectOptions, StoreError> {
    SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::BadUrl(format!("not a SQLite URL ({e})")))
}

fn audit_file_of(options: &SqliteConnectOptions) -> PathBuf {
    let file = options.get_filename();
    if file.as_os_str() == ":memory:" {
        return file.to_path_buf();
    }
    let mut name = file.as_os_str().to_owned();
    name.push("-audit");
    PathBuf::from(name)
}

pub(crate) async fn connect(url: &str, opts: &StoreOptions) -> Result<SqlitePool, StoreError> {
    let options = parse(url)?;
    let attach = attach_audit_sql(&options)?;
    let options = options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // Every commit is on disk before its receipt goes out.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(std::time::Duration::from_secs(30))
        // An extract is one large transaction: a 64 MiB page cache keeps
        // SQLite from spilling dirty pages to the WAL over and over, and
        // statement journals stay in memory.
        .pragma("cache_size", "-65536")
        .pragma("temp_store", "memory");
    SqlitePoolOptions::new()
        .max_connections(
            opts.max_connections
                .unwrap_or(crate::SQLITE_MAX_CONNECTIONS),
        )
        .acquire_timeout(opts.acquire_timeout)
        // sqlx pings an idle connection before handing it out, by default:
        // for SQLite a round trip to the connection's thread (two thread
        // wake-ups) on every acquire, to learn what cannot happen to a file
        // (a peer hanging up).
        .test_before_acquire(false)
        .after_connect(move |conn, _| {
            let attach = attach.clone();
            Box::pin(async move {
                use sqlx::Executor;
                conn.execute(sqlx::raw_sql(&attach)).await.map(drop)
            })
        })
        .after_release(|conn, _| {
            Box::pin(async move {
                // SQLite may roll a transaction back by itself when a write
                // fails (SQLITE_FULL, SQLITE_IOERR): the ROLLBACK that
                // follows then fails and sqlx keeps counting an open
                // transaction, so that connection would refuse every later
                // `BEGIN IMMEDIATE`. Such a connection is closed, not pooled.
                // The ping runs after any rollback a dropped transaction
                // queued. A connection that counts no transaction has
                // none to roll back (the count only falls when the worker
                // runs a COMMIT or ROLLBACK): it goes back without this
                // hook's ping (sqlx pings every released connection after
                // this hook all the same, which is why the lookup's two
                // queries use connections of the store's own, `own.rs`).
                if !conn.is_in_transaction() {
                    return Ok(true);
                }
                conn.ping().await?;
                Ok(!conn.is_in_transaction())
            })
        })
        .connect_with(options)
        .await
        .map_err(error::classify)
}

/// One connection to a SQLite store outside its pool, with the audit file
/// attached as the broker's connections have it: for maintenance tools and
/// for tests that edit the files behind the broker's back.
pub async fn sqlite_connection(url: &str) -> Result<sqlx::SqliteConnection, StoreError> {
    use sqlx::Executor;
    let attach = attach_audit_sql(&parse(url)?)?;
    let mut conn = sqlx::SqliteConnection::connect(url)
        .await
        .map_err(error::classify)?;
    conn.execute(sqlx::raw_sql(&attach))
        .await
        .map_err(error::classify)?;
    Ok(conn)
}

/// A connection outside the pool, opened with the pool's options and the
/// audit file attached as every pooled connection has it: the audit
/// writer's own ([`crate::AuditAppender`]).
pub(crate) async fn own_connection(
    pool: &SqlitePool,
) -> Result<sqlx::SqliteConnection, StoreError> {
    use sqlx::{ConnectOptions, Executor};
    let options = pool.connect_options();
    let attach = attach_audit_sql(&options)?;
    let mut conn = options.connect().await.map_err(error::classify)?;
    conn.execute(sqlx::raw_sql(&attach))
        .await
        .map_err(error::classify)?;
    Ok(conn)
}

/// The SQL that attaches the store's audit file as `audit`, with the main
/// file's durability: WAL, and every commit on disk before its receipt
/// goes out.
fn attach_audit_sql(options: &SqliteConnectOptions) -> Result<String, StoreError> {
    let file = audit_file_of(options);
    let file = file
        .to_str()
        .ok_or_else(|| StoreError::BadUrl("the SQLite file's path is not UTF-8".into()))?;
    Ok(format!(
        "ATTACH DATABASE '{}' AS audit; \
         PRAGMA audit.journal_mode = WAL; PRAGMA audit.synchronous = FULL; \
         PRAGMA audit.cache_size = -8192;",
        file.replace('\'', "''")
    ))
}

/// The audit tables in the `audit` schema (the file of their own), and
/// any log a store made before it had that file moved there: copied in
/// one transaction of the audit file, then dropped from the main file in
/// another. A transaction over two WAL files is atomic in each file, not
/// across them, so the steps are ordered to lose nothing: a crash between
/// them leaves the log in both, and the next start finds the copy whole
/// (it committed as one) and only drops the old tables. Two logs that
/// differ are refused, with nothing dropped.
pub(crate) async fn adopt_audit(pool: &SqlitePool) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await.map_err(error::classify)?;
    let old_log = sqlx::query_scalar::<_, i64>(
        "SELECT count(*) FROM main.sqlite_master WHERE type = 'table' AND name = 'audit_events'",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(error::classify)?
        > 0;
    let mut tx = conn.begin().await.map_err(error::classify)?;
    sqlx::raw_sql(AUDIT_SCHEMA)
        .execute(&mut *tx)
        .await
        .map_err(error::classify)?;
    if old_log {
        let copied: i64 = sqlx::query_scalar("SELECT count(*) FROM audit.audit_events")
            .fetch_one(&mut *tx)
            .await
            .map_err(error::classify)?;
        if copied == 0 {
            sqlx::raw_sql(
                "INSERT INTO audit.audit_events (seq, leaf_hash, event, time) \
                     SELECT seq, leaf_hash, event, time FROM main.audit_events; \
                 INSERT INTO audit.audit_subjects (subject, seq) \
                     SELECT subject, seq FROM main.audit_subjects; \
                 INSERT INTO audit.audit_checkpoints (tree_size, root, note, time) \
                     SELECT tree_size, root, note, time FROM main.audit_checkpoints;",
            )
            .execute(&mut *tx)
            .await
            .map_err(error::classify)?;
        } else {
            // Both files hold a log: drop the main file's only if every
            // event and checkpoint of it is in the audit file as it is
            // (a move cut off before its drop); anything else (say, a
            // main file restored from another backup) is for people.
            let missing: i64 = sqlx::query_scalar(
                "SELECT (SELECT count(*) FROM main.audit_events m WHERE NOT EXISTS \
                     (SELECT 1 FROM audit.audit_events a \
                      WHERE a.seq = m.seq AND a.leaf_hash = m.leaf_hash AND a.event = m.event)) \
                 + (SELECT count(*) FROM main.audit_checkpoints m WHERE NOT EXISTS \
                     (SELECT 1 FROM audit.audit_checkpoints a \
                      WHERE a.tree_size = m.tree_size AND a.root = m.root))",
            )
            .fetch_one(&mut *tx)
            .await
            .map_err(error::classify)?;
            if missing > 0 {
                return Err(StoreError::Corrupt(format!(
                    "the main SQLite file and its audit file both hold an audit log, and {missing} \
                     event(s) or checkpoint(s) of the main file's are not in the audit file; \
                     nothing was dropped: compare them with `concord audit verify` and restore \
                     the pair from one backup"
                )));
            }
        }
    }
    tx.commit().await.map_err(error::classify)?;
    if old_log {
        sqlx::raw_sql(
            "BEGIN IMMEDIATE; \
             DROP TABLE main.audit_events; DROP TABLE main.audit_subjects; \
             DROP TABLE main.audit_checkpoints; COMMIT;",
        )
        .execute(&mut *conn)
        .await
        .map_err(error::classify)?;
    }
    Ok(())
}

/// The audit tables of `migrations/sqlite/0003_audit.sql`, in the `audit`
/// schema (see [`sqlite_audit_file`]).
const AUDIT_SCHEMA: &str = include_str!("../../../migrations/sqlite_audit.sql");

crate::shared_queries!(Sqlite);

/// Begins a write transaction. `BEGIN IMMEDIATE` takes SQLite's write
/// lock up front: a deferred transaction that read first could not upgrade
/// its snapshot after another writer committed (`SQLITE_BUSY_SNAPSHOT`,
/// which the busy timeout does not retry).
pub(crate) async fn begin_write(
    pool: &SqlitePool,
) -> Result<Transaction<'static, Sqlite>, StoreError> {
    pool.begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(error::classify)
}

pub(crate) async fn insert(
    tx: &mut Transaction<'static, Sqlite>,
    cols: &ExtractCols,
    records: &[Record],
    upsert: bool,
    digest: &mut ring::digest::Context,
) -> Result<(), sqlx::Error> {
    let mut packed: Vec<Vec<u8>> = Vec::with_capacity(ROWS_PER_INSERT);
    for chunk in records.chunks(ROWS_PER_INSERT) {
        packed.clear();
        packed.extend(chunk.iter().map(|r| {
            let mut buf = Vec::with_capacity(r.tokens.len() * 33);
            row::pack_tokens(&r.tokens, &mut buf);
            buf
        }));
        let mut tuple = Vec::with_capacity(1024);
        let mut q: QueryBuilder<'_, Sqlite> = QueryBuilder::new("INSERT INTO records (");
        q.push(COLUMNS.join(", ")).push(") ");
        q.push_values(chunk.iter().zip(&packed), |mut b, (r, tokens)| {
            let vals = row::values(r, cols, tokens);
            tuple.clear();
            row::encode_tuple(&vals, &mut tuple);
            digest.update(&tuple);
            for v in vals {
                match v {
                    Val::Null => b.push_bind(None::<i64>),
                    Val::Text(s) => b.push_bind(s),
                    Val::Bytes(x) => b.push_bind(x),
                    Val::Int(i) => b.push_bind(i),
                    Val::Bool(x) => b.push_bind(x),
                    Val::Date(d) => b.push_bind(d),
                };
            }
        });
        if upsert {
            q.push(crate::upsert_clause());
        }
        q.build().persistent(true).execute(&mut **tx).await?;
    }
    Ok(())
}

pub(crate) async fn delete_refs(
    tx: &mut Transaction<'static, Sqlite>,
    source: Source,
    refs: &[Token],
) -> Result<Vec<i64>, sqlx::Error> {
    let mut ids = Vec::new();
    for chunk in refs.chunks(ROWS_PER_INSERT) {
        let mut q: QueryBuilder<'_, Sqlite> =
            QueryBuilder::new("DELETE FROM records WHERE source = ");
        q.push_bind(source.as_str()).push(" AND source_ref IN (");
        let mut sep = q.separated(", ");
        for r in chunk {
            sep.push_bind(r.as_bytes().as_slice());
        }
        q.push(") RETURNING id");
        ids.extend(q.build_query_scalar::<i64>().fetch_all(&mut **tx).await?);
    }
    Ok(ids)
}
