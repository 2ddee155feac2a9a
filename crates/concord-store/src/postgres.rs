//! The PostgreSQL backend: the production store. Records go in with binary
//! COPY; delta extracts are staged in a temporary table and upserted.

use std::{
    str::FromStr,
    sync::{
        OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use concord_core::{Record, Source, Token};
use sqlx::{
    Executor, PgPool, Postgres, Transaction,
    postgres::{PgConnectOptions, PgPoolOptions},
};

use crate::{
    StoreError, StoreOptions, error,
    row::{self, COLUMNS, ExtractCols},
};

/// First key of the advisory lock that serialises writers of one source.
pub(crate) const LOCK_NAMESPACE: i32 = 0x434F; // "CO"

/// How long a pooled connection may sit idle before it is pinged when
/// handed out.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// How long, after a query found the database unavailable, every
/// connection is pinged before it is handed out.
const PING_AFTER_UNAVAILABLE: Duration = Duration::from_secs(10);

/// When a query last found the database unavailable: milliseconds since
/// [`EPOCH`], plus one (0: never). Per process, not per pool: a pool
/// pinging when another pool's server went away costs a round trip per
/// query for a few seconds, nothing more.
static UNAVAILABLE_AT: AtomicU64 = AtomicU64::new(0);
static EPOCH: OnceLock<Instant> = OnceLock::new();

fn millis_since_epoch() -> u64 {
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Called when a query or connection found the database unavailable
/// ([`crate::error::classify`]).
pub(crate) fn note_unavailable() {
    UNAVAILABLE_AT.store(millis_since_epoch().saturating_add(1), Ordering::Relaxed);
}

/// Whether a connection idle for `idle` is pinged before it takes a
/// query: the rule for the pool's connections and the store's own
/// (`own.rs`).
pub(crate) fn ping_before_use(idle: Duration) -> bool {
    idle >= PING_AFTER_IDLE || unavailable_lately()
}

fn unavailable_lately() -> bool {
    let at = UNAVAILABLE_AT.load(Ordering::Relaxed);
    let window = u64::try_from(PING_AFTER_UNAVAILABLE.as_millis()).unwrap_or(u64::MAX);
    at != 0 && millis_since_epoch() < at.saturating_add(window)
}

pub(crate) async fn connect(url: &str, opts: &StoreOptions) -> Result<PgPool, StoreError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::BadUrl(format!("not a PostgreSQL URL ({e})")))?
        .application_name("concord");
    PgPoolOptions::new()
        .max_connections(
            opts.max_connections
                .unwrap_or(crate::POSTGRES_MAX_CONNECTIONS),
        )
        .acquire_timeout(opts.acquire_timeout)
        // sqlx pings every idle connection before handing it out, by
        // default: a round trip to the server per query, and the server's
        // time with it. A connection used within the last second is handed
        // out as it is; one idle for longer (the server may have restarted
        // since) is pinged first. One that broke in between fails its
        // query, which the caller sees as the database being unavailable,
        // and sqlx closes it when it comes back (it pings on release).
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if ping_before_use(meta.idle_for) {
                    use sqlx::Connection;
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_with(options)
        .await
        .map_err(error::classify)
}

pub(crate) async fn lock_source(
    tx: &mut Transaction<'static, Postgres>,
    source: Source,
) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
        .bind(LOCK_NAMESPACE)
        .bind(source.code())
        .execute(&mut **tx)
        .await
        .map(drop)
}

crate::shared_queries!(Postgres);

pub(crate) async fn insert(
    tx: &mut Transaction<'static, Postgres>,
    cols: &ExtractCols,
    records: &[Record],
    upsert: bool,
    staging: &mut bool,
    digest: &mut ring::digest::Context,
) -> Result<(), sqlx::Error> {
    let table = if upsert { "concord_staging" } else { "records" };
    if upsert && !*staging {
        let sql = format!(
            "CREATE TEMP TABLE concord_staging ON COMMIT DROP AS SELECT {} FROM records WITH NO DATA",
            COLUMNS.join(", ")
        );
        tx.execute(sql.as_str()).await?;
        *staging = true;
    }
    let payload = encode_copy(cols, records, digest);
    let sql = format!(
        "COPY {table} ({}) FROM STDIN (FORMAT binary)",
        COLUMNS.join(", ")
    );
    let mut copy = tx.copy_in_raw(&sql).await?;
    if let Err(e) = copy.send(payload).await {
        let _ = copy.abort("send failed").await;
        return Err(e);
    }
    copy.finish().await?;
    if upsert {
        let cols = COLUMNS.join(", ");
        let sql = format!(
            "INSERT INTO records ({cols}) SELECT {cols} FROM concord_staging{}",
            crate::upsert_clause()
        );
        tx.execute(sql.as_str()).await?;
        tx.execute("TRUNCATE concord_staging").await?;
    }
    Ok(())
}

pub(crate) async fn delete_refs(
    tx: &mut Transaction<'static, Postgres>,
    source: Source,
    refs: &[Token],
) -> Result<Vec<i64>, sqlx::Error> {
    let refs: Vec<&[u8]> = refs.iter().map(|r| r.as_bytes().as_slice()).collect();
    sqlx::query_scalar(
        "DELETE FROM records WHERE source = $1 AND source_ref = ANY($2) RETURNING id",
    )
    .bind(source.as_str())
    .bind(refs)
    .fetch_all(&mut **tx)
    .await
}

/// PostgreSQL's binary COPY format: a signature and header, a tuple per
/// record, and a trailer. Each tuple also feeds the stored digest.
fn encode_copy(
    cols: &ExtractCols,
    records: &[Record],
    digest: &mut ring::digest::Context,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(19 + records.len() * 512);
    out.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    out.extend_from_slice(&0i32.to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    let mut tokens = Vec::new();
    for r in records {
        row::pack_tokens(&r.tokens, &mut tokens);
        let start = out.len();
        row::encode_tuple(&row::values(r, cols, &tokens), &mut out);
        digest.update(&out[start..]);
    }
    out.extend_from_slice(&(-1i16).to_be_bytes());
    out
}
