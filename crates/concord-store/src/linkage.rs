//! Persistence of linkage: each record's person (ids stable across runs),
//! the review queue of possible matches, and the next person id.

use chrono::{DateTime, Utc};
use concord_core::{KeyName, Source, Token};
use sqlx::QueryBuilder;

use crate::{Backend, Store, StoreError, error, row::unpack_tokens};

/// Rows per multi-row statement (3 or 4 columns each).
const CHUNK: usize = 5_000;

/// A linkable record: its id, source, (re-keyed) tokens, and its person if
/// it has been linked.
#[derive(Debug, Clone)]
pub struct LinkRow {
    pub record_id: i64,
    pub source: Source,
    pub tokens: Vec<(KeyName, Token)>,
    pub person_id: Option<i64>,
}

/// What one linkage run changes, written in one transaction.
#[derive(Debug, Clone, Default)]
pub struct LinkageUpdate {
    /// (record, person, outcome): `linked`, `possible` or `unlinked`.
    pub assignments: Vec<(i64, i64, &'static str)>,
    /// Records whose rows go (they were deleted).
    pub forget: Vec<i64>,
    /// (record, candidate person, score) for the review queue.
    pub reviews: Vec<(i64, i64, f64)>,
    pub next_person: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewStatus {
    Pending,
    Accepted,
    Rejected,
}

impl ReviewStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::Pending => "pending",
            ReviewStatus::Accepted => "accepted",
            ReviewStatus::Rejected => "rejected",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "pending" => Ok(ReviewStatus::Pending),
            "accepted" => Ok(ReviewStatus::Accepted),
            "rejected" => Ok(ReviewStatus::Rejected),
            _ => Err(StoreError::Corrupt("link_reviews.status".into())),
        }
    }
}

/// A possible match held for review.
#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    pub id: i64,
    pub record_id: i64,
    pub candidate_person: i64,
    pub score: f64,
    pub status: ReviewStatus,
    pub created_at: DateTime<Utc>,
    pub resolved_by: Option<String>,
    /// For an accepted review, the oldest record of the person then.
    pub anchor: Option<i64>,
}

type LinkTuple = (i64, String, Vec<u8>, Option<i64>);
type ReviewTuple = (
    i64,
    i64,
    i64,
    f64,
    String,
    DateTime<Utc>,
    Option<String>,
    Option<i64>,
);

const LINK_ROWS: &str = "SELECT r.id, r.source, r.tokens, p.person_id FROM records r \
     LEFT JOIN record_person p ON p.record_id = r.id WHERE length(r.tokens) > 0";

const REVIEW_COLS: &str = "SELECT id, record_id, candidate_person, score, status, created_at, resolved_by, anchor FROM link_reviews";

fn link_row((record_id, source, tokens, person_id): LinkTuple) -> Result<LinkRow, StoreError> {
    Ok(LinkRow {
        record_id,
        source: source
            .parse()
            .map_err(|_| StoreError::Corrupt("records.source".into()))?,
        tokens: unpack_tokens(&tokens)
            .ok_or_else(|| StoreError::Corrupt("records.tokens".into()))?,
        person_id,
    })
}

fn review(
    (id, record_id, candidate_person, score, status, created_at, resolved_by, anchor): ReviewTuple,
) -> Result<Review, StoreError> {
    Ok(Review {
        id,
        record_id,
        candidate_person,
        score,
        status: ReviewStatus::parse(&status)?,
        created_at,
        resolved_by,
        anchor,
    })
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

/// Writes a [`LinkageUpdate`] inside transaction `$tx` of database `$db`.
macro_rules! write_update {
    ($tx:expr, $db:ty, $u:expr) => {
        async {
        for chunk in $u.forget.chunks(CHUNK) {
            for table in ["record_person", "link_reviews"] {
                let mut q: QueryBuilder<'_, $db> = QueryBuilder::new(format!("DELETE FROM {table} WHERE record_id IN ("));
                let mut sep = q.separated(", ");
                for id in chunk {
                    sep.push_bind(*id);
                }
                q.push(")");
                q.build().execute(&mut *$tx).await?;
            }
        }
        for chunk in $u.assignments.chunks(CHUNK) {
            let mut q: QueryBuilder<'_, $db> = QueryBuilder::new("INSERT INTO record_person (record_id, person_id, outcome) ");
            q.push_values(chunk, |mut b, (record, person, outcome)| {
                b.push_bind(*record).push_bind(*person).push_bind(*outcome);
            });
            q.push(" ON CONFLICT (record_id) DO UPDATE SET person_id = excluded.person_id, outcome = excluded.outcome");
            q.build().execute(&mut *$tx).await?;
        }
        let now = Utc::now();
        for chunk in $u.reviews.chunks(CHUNK) {
            let mut q: QueryBuilder<'_, $db> =
                QueryBuilder::new("INSERT INTO link_reviews (record_id, candidate_person, score, created_at) ");
            q.push_values(chunk, |mut b, (record, person, score)| {
                b.push_bind(*record).push_bind(*person).push_bind(*score).push_bind(now);
            });
            q.push(" ON CONFLICT (record_id, candidate_person) DO NOTHING");
            q.build().execute(&mut *$tx).await?;
        }
        sqlx::query("UPDATE linkage_state SET next_person = $1 WHERE id = 1").bind($u.next_person).execute(&mut *$tx).await?;
        Ok::<(), sqlx::Error>(())
        }
        .await
    };
}

impl Store {
    /// Every linkable record (one with tokens), with its person if linked.
    pub async fn link_rows(&self) -> Result<Vec<LinkRow>, StoreError> {
        let rows: Vec<LinkTuple> =
            on_backend!(self, |pool| sqlx::query_as(LINK_ROWS).fetch_all(pool).await)
                .map_err(error::classify)?;
        rows.into_iter().map(link_row).collect()
    }

    /// The linkable records an extract wrote (inserted or updated).
    pub async fn extract_link_rows(
        &self,
        source: Source,
        extract_id: &str,
    ) -> Result<Vec<LinkRow>, StoreError> {
        let sql = format!("{LINK_ROWS} AND r.source = $1 AND r.extract_id = $2 ORDER BY r.id");
        let rows: Vec<LinkTuple> = on_backend!(self, |pool| sqlx::query_as(&sql)
            .bind(source.as_str())
            .bind(extract_id)
            .fetch_all(pool)
            .await)
        .map_err(error::classify)?;
        rows.into_iter().map(link_row).collect()
    }

    /// The next person id to hand out.
    pub async fn next_person(&self) -> Result<i64, StoreError> {
        on_backend!(self, |pool| sqlx::query_scalar(
            "SELECT next_person FROM linkage_state WHERE id = 1"
        )
        .fetch_one(pool)
        .await)
        .map_err(error::classify)
    }

    /// Writes one linkage run in one transaction.
    pub async fn save_linkage(&self, u: &LinkageUpdate) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite { pool, writer } => {
                let _guard = writer.lock().await;
                let mut tx = crate::sqlite::begin_write(pool).await?;
                let conn = &mut *tx;
                write_update!(conn, sqlx::Sqlite, u).map_err(error::classify)?;
                tx.commit().await
            }
            Backend::Postgres(pool) => {
                let mut tx = pool.begin().await.map_err(error::classify)?;
                let conn = &mut *tx;
                write_update!(conn, sqlx::Postgres, u).map_err(error::classify)?;
                tx.commit().await
            }
        }
        .map_err(error::classify)
    }

    /// The review queue: pending reviews, or all of them.
    pub async fn reviews(&self, pending_only: bool) -> Result<Vec<Review>, StoreError> {
        let sql = if pending_only {
            format!("{REVIEW_COLS} WHERE status = 'pending' ORDER BY id")
        } else {
            format!("{REVIEW_COLS} ORDER BY id")
        };
        let rows: Vec<ReviewTuple> =
            on_backend!(self, |pool| sqlx::query_as(&sql).fetch_all(pool).await)
                .map_err(error::classify)?;
        rows.into_iter().map(review).collect()
    }

    /// Marks a pending review accepted or rejected; `None` if there is no
    /// pending review with that id.
    pub async fn resolve_review(
        &self,
        id: i64,
        accept: bool,
        anchor: Option<i64>,
        by: &str,
    ) -> Result<Option<Review>, StoreError> {
        let status = if accept {
            ReviewStatus::Accepted
        } else {
            ReviewStatus::Rejected
        };
        let sql = "UPDATE link_reviews SET status = $1, resolved_by = $2, resolved_at = $3, anchor = $4 \
                   WHERE id = $5 AND status = 'pending' \
                   RETURNING id, record_id, candidate_person, score, status, created_at, resolved_by, anchor";
        let row: Option<ReviewTuple> = on_backend!(self, |pool| sqlx::query_as(sql)
            .bind(status.as_str())
            .bind(by)
            .bind(Utc::now())
            .bind(anchor)
            .bind(id)
            .fetch_optional(pool)
            .await)
        .map_err(error::classify)?;
        row.map(review).transpose()
    }

    /// Each linked record's person, ordered by record id.
    pub async fn assignments(&self) -> Result<Vec<(i64, i64)>, StoreError> {
        on_backend!(self, |pool| sqlx::query_as(
            "SELECT record_id, person_id FROM record_person ORDER BY record_id"
        )
        .fetch_all(pool)
        .await)
        .map_err(error::classify)
    }
}
