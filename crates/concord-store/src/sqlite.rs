//! The SQLite backend: the embedded default.

use std::str::FromStr;

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

pub(crate) async fn connect(url: &str, opts: &StoreOptions) -> Result<SqlitePool, StoreError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::BadUrl(format!("not a SQLite URL ({e})")))?
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
        .max_connections(opts.max_connections)
        .acquire_timeout(opts.acquire_timeout)
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
                // runs a COMMIT or ROLLBACK): it goes back as it is,
                // without the round trip to its worker thread.
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
