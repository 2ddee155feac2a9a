//! Retention: deleting a source's records whose event date is older than
//! the agreement's retention period.

use chrono::NaiveDate;
use concord_core::Source;

use crate::{Backend, Store, StoreError, error, linkage};

const DELETE_BEFORE: &str =
    "DELETE FROM records WHERE source = $1 AND event_date < $2 RETURNING id";

/// Deletes inside transaction `$tx`, queues the linkage job that forgets
/// the deleted records (no extract has its id), commits, and returns the
/// ids. The same statements on either backend.
macro_rules! purge {
    ($tx:ident, $source:expr, $cutoff:expr) => {{
        let ids: Vec<i64> = sqlx::query_scalar(DELETE_BEFORE)
            .bind($source.as_str())
            .bind($cutoff)
            .fetch_all(&mut *$tx)
            .await
            .map_err(error::classify)?;
        if !ids.is_empty() {
            let job = format!("retention:{}", $cutoff);
            linkage::queue_job!(&mut *$tx, $source, &job, &linkage::pack_ids(&ids))
                .map_err(error::classify)?;
        }
        $tx.commit().await.map_err(error::classify)?;
        Ok(ids)
    }};
}

impl Store {
    /// Deletes every record of `source` whose event date is before
    /// `cutoff`, in one transaction taken as a writer of that source (so it
    /// never interleaves with an extract of the same source), and returns
    /// the deleted records' ids. The linkage job that forgets them is queued
    /// in the same transaction.
    pub async fn delete_records_before(
        &self,
        source: Source,
        cutoff: NaiveDate,
    ) -> Result<Vec<i64>, StoreError> {
        match &self.backend {
            Backend::Sqlite { pool, writer, .. } => {
                let _guard = writer.lock().await;
                let mut tx = crate::sqlite::begin_write(pool).await?;
                purge!(tx, source, cutoff)
            }
            Backend::Postgres(pool) => {
                let mut tx = pool.begin().await.map_err(error::classify)?;
                crate::postgres::lock_source(&mut tx, source)
                    .await
                    .map_err(error::classify)?;
                purge!(tx, source, cutoff)
            }
        }
    }
}
