//! The PostgreSQL backend: the production store. Records go in with binary
//! COPY; delta extracts are staged in a temporary table and upserted.

use std::str::FromStr;

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
