//! Broker key rotation: every stored pseudonym is re-keyed in one
//! transaction, without re-ingesting (see `concord_keys::BrokerKey`).

use concord_core::Token;
use sqlx::QueryBuilder;

use crate::{Backend, Store, StoreError, error, row};

/// Rows read and rewritten at a time.
const CHUNK: i64 = 5_000;

type Row = (i64, Vec<u8>, Vec<u8>);

/// Re-keys one row's source reference and tokens.
fn rekey_row(
    (id, source_ref, tokens): Row,
    rekey: &(impl Fn(&Token) -> Token + ?Sized),
) -> Result<(i64, Vec<u8>, Vec<u8>), StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("records.{what}"));
    let sr = Token::from_slice(&source_ref).ok_or_else(|| corrupt("source_ref"))?;
    let mut tokens = row::unpack_tokens(&tokens).ok_or_else(|| corrupt("tokens"))?;
    for (_, t) in &mut tokens {
        *t = rekey(t);
    }
    let mut packed = Vec::with_capacity(tokens.len() * 33);
    row::pack_tokens(&tokens, &mut packed);
    Ok((id, rekey(&sr).as_bytes().to_vec(), packed))
}

/// Reads and rewrites every row under `$from` in transaction `$tx`.
macro_rules! rotate_in {
    ($tx:expr, $db:ty, $from:expr, $to:expr, $rekey:expr) => {
        async {
            let mut last = 0i64;
            let mut n = 0u64;
            loop {
                let rows: Vec<Row> = sqlx::query_as(
                    "SELECT id, source_ref, tokens FROM records \
                     WHERE broker_key_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                )
                .bind($from)
                .bind(last)
                .bind(CHUNK)
                .fetch_all(&mut *$tx)
                .await
                .map_err(error::classify)?;
                let Some(&(end, _, _)) = rows.last() else { break };
                last = end;
                let rows = rows
                    .into_iter()
                    .map(|r| rekey_row(r, $rekey))
                    .collect::<Result<Vec<_>, _>>()?;
                n += rows.len() as u64;
                // Set the new values by id, from a VALUES list joined in.
                let mut q: QueryBuilder<'_, $db> = QueryBuilder::new(
                    "WITH v (id, source_ref, tokens) AS (",
                );
                q.push_values(&rows, |mut b, (id, sr, tk)| {
                    b.push_bind(*id).push_bind(sr.as_slice()).push_bind(tk.as_slice());
                });
                q.push(") UPDATE records SET source_ref = v.source_ref, tokens = v.tokens, broker_key_id = ");
                q.push_bind($to);
                q.push(" FROM v WHERE v.id = records.id");
                q.build().execute(&mut *$tx).await.map_err(error::classify)?;
            }
            Ok::<u64, StoreError>(n)
        }
        .await
    };
}

impl Store {
    /// Re-keys every record stored under broker key `from` with `rekey`
    /// and records `to` as its key, in one transaction. Returns the number
    /// of records re-keyed. Run it with the broker stopped.
    pub async fn rotate_broker_key(
        &self,
        from: &str,
        to: &str,
        rekey: &(dyn Fn(&Token) -> Token + Sync),
    ) -> Result<u64, StoreError> {
        match &self.backend {
            Backend::Sqlite { pool, writer, .. } => {
                let _guard = writer.lock().await;
                let mut tx = crate::sqlite::begin_write(pool).await?;
                let conn = &mut *tx;
                let n = rotate_in!(conn, sqlx::Sqlite, from, to, rekey)?;
                tx.commit().await.map_err(error::classify)?;
                Ok(n)
            }
            Backend::Postgres(pool) => {
                let mut tx = pool.begin().await.map_err(error::classify)?;
                let conn = &mut *tx;
                let n = rotate_in!(conn, sqlx::Postgres, from, to, rekey)?;
                tx.commit().await.map_err(error::classify)?;
                Ok(n)
            }
        }
    }

    /// The broker key ids the stored records are under, with their counts.
    pub async fn broker_key_ids(&self) -> Result<Vec<(String, i64)>, StoreError> {
        const SQL: &str = "SELECT broker_key_id, COUNT(*) FROM records GROUP BY broker_key_id ORDER BY broker_key_id";
        match &self.backend {
            Backend::Sqlite { pool, .. } => sqlx::query_as(SQL).fetch_all(pool).await,
            Backend::Postgres(pool) => sqlx::query_as(SQL).fetch_all(pool).await,
        }
        .map_err(error::classify)
    }
}
