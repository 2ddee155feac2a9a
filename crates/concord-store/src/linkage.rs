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

/// A reviewer's decision on a pending review, written with the linkage
/// changes it causes.
#[derive(Debug, Clone)]
pub struct Resolution {
    pub review_id: i64,
    pub accept: bool,
    /// For an accepted review, the oldest record of the person then.
    pub anchor: Option<i64>,
    pub by: String,
}

/// What one linkage run changes, written in one transaction.
#[derive(Debug, Clone, Default)]
pub struct LinkageUpdate {
    /// (record, person, outcome): `linked`, `possible` or `unlinked`.
    pub assignments: Vec<(i64, i64, &'static str)>,
    /// Records whose rows go (they were deleted).
    pub forget: Vec<i64>,
    /// Possible matches for the review queue.
    pub reviews: Vec<NewReview>,
    pub next_person: i64,
    /// A review this update resolves.
    pub resolution: Option<Resolution>,
    /// The `linkage_state.version` the linker's state was read at: the
    /// update is refused ([`StoreError::LinkageMoved`]) if another linker
    /// saved since.
    pub version: i64,
    /// Queued jobs (`link_queue.seq`) this update completes; each must
    /// still be queued, or the update is refused.
    pub jobs_done: Vec<i64>,
}

/// A possible match to hold for review. A pair already queued (whatever
/// its status) keeps its row: a review is what the linker saw when it
/// first held the pair.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReview {
    pub record_id: i64,
    pub candidate_person: i64,
    /// Match weight in bits (log2 of the odds, the prior included).
    pub score: f64,
    /// The pair's observed level of each field compared.
    pub levels: Vec<FieldLevel>,
}

/// One field's observed comparison level in a review's pair, named as the
/// linker names them (`concord_linkage::FIELDS`, `Level::as_str`). Both
/// names are lowercase words (`[a-z0-9_]+`), which keeps the stored
/// encoding (`link_reviews.levels`) unambiguous.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldLevel {
    field: String,
    level: String,
}

impl FieldLevel {
    /// `None` unless both names are lowercase words.
    pub fn new(field: &str, level: &str) -> Option<FieldLevel> {
        (is_word(field) && is_word(level)).then(|| FieldLevel {
            field: field.to_owned(),
            level: level.to_owned(),
        })
    }

    /// The field: `forename`, `surname`, `date_of_birth` or `postcode`.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// The level: `exact`, `variant`, `one_edit`, `part`, `phonetic`,
    /// `initial`, `day_month_swapped`, `year_month` or `disagree`.
    pub fn level(&self) -> &str {
        &self.level
    }
}

fn is_word(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// `link_reviews.levels` (migrations `0006_review_levels.sql`): each
/// field compared as `field=level`, in the order given, joined by `;`
/// (`forename=initial;surname=exact;date_of_birth=exact`); empty when no
/// levels are recorded (reviews stored before they were).
fn encode_levels(levels: &[FieldLevel]) -> String {
    let mut out = String::new();
    for (i, l) in levels.iter().enumerate() {
        if i > 0 {
            out.push(';');
        }
        out.push_str(&l.field);
        out.push('=');
        out.push_str(&l.level);
    }
    out
}

/// The inverse of [`encode_levels`]; `None` for text it never writes.
fn decode_levels(s: &str) -> Option<Vec<FieldLevel>> {
    if s.is_empty() {
        return Some(Vec::new());
    }
    s.split(';')
        .map(|pair| {
            let (field, level) = pair.split_once('=')?;
            FieldLevel::new(field, level)
        })
        .collect()
}

/// A queued linkage job: an accepted extract to link, or records to
/// forget (an extract's replacements and deletions, a retention purge).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkQueueJob {
    pub seq: i64,
    pub source: Source,
    pub extract_id: String,
    pub removed_record_ids: Vec<i64>,
}

/// The right to run the linker over a database's queue. SQLite serves one
/// broker process, which always holds it; on PostgreSQL it is a session
/// advisory lock held on a connection of its own, released by the server
/// when that connection ends (the broker stopped, crashed or lost the
/// network), so another broker takes over.
pub enum LinkerLease {
    Sole,
    Postgres(sqlx::PgConnection),
}

impl LinkerLease {
    /// Whether the lease is still held: its connection answers within
    /// [`LEASE_CHECK_TIMEOUT`]. A holder cut off from the database stops
    /// counting itself the holder then, although the server may only see
    /// the connection end later.
    pub async fn held(&mut self) -> bool {
        match self {
            LinkerLease::Sole => true,
            LinkerLease::Postgres(conn) => matches!(
                tokio::time::timeout(LEASE_CHECK_TIMEOUT, sqlx::query("SELECT 1").execute(conn))
                    .await,
                Ok(Ok(_))
            ),
        }
    }
}

/// How long the lease's connection may take to answer its check.
pub const LEASE_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Who holds the linker's lease, as the database says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkerHolder {
    /// SQLite: the one broker process.
    Sole,
    /// The replica of this name (the `application_name` its lease
    /// connection carries, after [`LEASE_APPLICATION_PREFIX`]).
    Replica(String),
    /// Nobody holds it now (the holder just went; another takes it within
    /// a second or so).
    Nobody,
}

/// The lease connection's `application_name`: this, then the replica's
/// name. The pool's connections are `concord`.
pub const LEASE_APPLICATION_PREFIX: &str = "concord linker ";

/// `application_name` of a lease connection for replica `name`, within
/// PostgreSQL's 63 bytes.
fn lease_application_name(name: &str) -> String {
    let mut s = format!("{LEASE_APPLICATION_PREFIX}{name}");
    while s.len() > 63 {
        s.pop();
    }
    s
}

/// Second key of the linker's advisory lock (first: the store's namespace).
const LINKER_LOCK: i32 = 0x4C4B; // "LK"

pub(crate) const INSERT_JOB: &str =
    "INSERT INTO link_queue (source, extract_id, removed) VALUES ($1, $2, $3)";

/// Queues a linkage job inside the caller's transaction (either backend).
macro_rules! queue_job {
    ($conn:expr, $source:expr, $extract_id:expr, $removed:expr) => {
        sqlx::query($crate::linkage::INSERT_JOB)
            .bind($source.as_str())
            .bind($extract_id)
            .bind($removed)
            .execute($conn)
            .await
            .map(drop)
    };
}
pub(crate) use queue_job;

/// Record ids as i64 big-endian, for `link_queue.removed`.
pub(crate) fn pack_ids(ids: &[i64]) -> Vec<u8> {
    ids.iter().flat_map(|i| i.to_be_bytes()).collect()
}

fn unpack_ids(b: &[u8]) -> Option<Vec<i64>> {
    b.len().is_multiple_of(8).then(|| {
        b.chunks_exact(8)
            .map(|c| i64::from_be_bytes(c.try_into().expect("8 bytes")))
            .collect()
    })
}

/// A review as a reviewer sees it: the record's source, kind and date and
/// the candidate person's sources; nothing that identifies anyone.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewView {
    pub review: Review,
    pub record_source: String,
    pub record_kind: String,
    pub record_event_date: chrono::NaiveDate,
    pub candidate_sources: Vec<String>,
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
    /// Match weight in bits (log2 of the odds, the prior included).
    pub score: f64,
    /// The pair's observed level of each field compared, as the linker saw
    /// it when it held the pair; empty for a review stored before levels
    /// were recorded.
    pub levels: Vec<FieldLevel>,
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
    String,
    DateTime<Utc>,
    Option<String>,
    Option<i64>,
);

const LINK_ROWS: &str = "SELECT r.id, r.source, r.tokens, p.person_id FROM records r \
     LEFT JOIN record_person p ON p.record_id = r.id WHERE length(r.tokens) > 0";

const REVIEW_COLS: &str = "SELECT id, record_id, candidate_person, score, levels, status, created_at, resolved_by, anchor FROM link_reviews";

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
    (id, record_id, candidate_person, score, levels, status, created_at, resolved_by, anchor): ReviewTuple,
) -> Result<Review, StoreError> {
    Ok(Review {
        id,
        record_id,
        candidate_person,
        score,
        levels: decode_levels(&levels)
            .ok_or_else(|| StoreError::Corrupt("link_reviews.levels".into()))?,
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

/// Writes a [`LinkageUpdate`] inside transaction `$tx` of database `$db`;
/// `Ok(false)` when the update is refused (the version moved, or a job it
/// completes is no longer queued) and the transaction must roll back.
macro_rules! write_update {
    ($tx:expr, $db:ty, $u:expr) => {
        async {
        // First, so concurrent linkers queue on this row and the later one
        // sees the version moved.
        let moved = sqlx::query(
            "UPDATE linkage_state SET next_person = $1, version = version + 1 WHERE id = 1 AND version = $2",
        )
        .bind($u.next_person)
        .bind($u.version)
        .execute(&mut *$tx)
        .await?
        .rows_affected()
            == 0;
        if moved {
            return Ok(false);
        }
        for chunk in $u.jobs_done.chunks(CHUNK) {
            let mut q: QueryBuilder<'_, $db> = QueryBuilder::new("DELETE FROM link_queue WHERE seq IN (");
            let mut sep = q.separated(", ");
            for seq in chunk {
                sep.push_bind(*seq);
            }
            q.push(")");
            if q.build().execute(&mut *$tx).await?.rows_affected() != chunk.len() as u64 {
                return Ok(false);
            }
        }
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
                QueryBuilder::new("INSERT INTO link_reviews (record_id, candidate_person, score, levels, created_at) ");
            q.push_values(chunk, |mut b, r| {
                b.push_bind(r.record_id)
                    .push_bind(r.candidate_person)
                    .push_bind(r.score)
                    .push_bind(encode_levels(&r.levels))
                    .push_bind(now);
            });
            q.push(" ON CONFLICT (record_id, candidate_person) DO NOTHING");
            q.build().execute(&mut *$tx).await?;
        }
        if let Some(r) = &$u.resolution {
            let status = if r.accept { ReviewStatus::Accepted } else { ReviewStatus::Rejected };
            sqlx::query(
                "UPDATE link_reviews SET status = $1, resolved_by = $2, resolved_at = $3, anchor = $4 \
                 WHERE id = $5 AND status = 'pending'",
            )
            .bind(status.as_str())
            .bind(&r.by)
            .bind(Utc::now())
            .bind(r.anchor)
            .bind(r.review_id)
            .execute(&mut *$tx)
            .await?;
        }
        Ok::<bool, sqlx::Error>(true)
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

    /// Writes one linkage run in one transaction, over `u.version`;
    /// returns the new version. [`StoreError::LinkageMoved`] (nothing
    /// written) if another linker saved since `u.version` was read.
    pub async fn save_linkage(&self, u: &LinkageUpdate) -> Result<i64, StoreError> {
        let saved = match &self.backend {
            Backend::Sqlite { pool, writer, .. } => {
                let _guard = writer.lock().await;
                let mut tx = crate::sqlite::begin_write(pool).await?;
                let conn = &mut *tx;
                let saved = write_update!(conn, sqlx::Sqlite, u).map_err(error::classify)?;
                if saved {
                    tx.commit().await.map_err(error::classify)?;
                }
                saved
            }
            Backend::Postgres(pool) => {
                let mut tx = pool.begin().await.map_err(error::classify)?;
                let conn = &mut *tx;
                let saved = write_update!(conn, sqlx::Postgres, u).map_err(error::classify)?;
                if saved {
                    tx.commit().await.map_err(error::classify)?;
                }
                saved
            }
        };
        if saved {
            Ok(u.version + 1)
        } else {
            Err(StoreError::LinkageMoved)
        }
    }

    /// The version of the stored linkage (moves on every saved change).
    pub async fn linkage_version(&self) -> Result<i64, StoreError> {
        on_backend!(self, |pool| sqlx::query_scalar(
            "SELECT version FROM linkage_state WHERE id = 1"
        )
        .fetch_one(pool)
        .await)
        .map_err(error::classify)
    }

    /// The oldest queued linkage jobs, in queue order.
    pub async fn link_jobs(&self, limit: i64) -> Result<Vec<LinkQueueJob>, StoreError> {
        let rows: Vec<(i64, String, String, Vec<u8>)> = on_backend!(self, |pool| sqlx::query_as(
            "SELECT seq, source, extract_id, removed FROM link_queue ORDER BY seq LIMIT $1"
        )
        .bind(limit)
        .fetch_all(pool)
        .await)
        .map_err(error::classify)?;
        rows.into_iter()
            .map(|(seq, source, extract_id, removed)| {
                Ok(LinkQueueJob {
                    seq,
                    source: source
                        .parse()
                        .map_err(|_| StoreError::Corrupt("link_queue.source".into()))?,
                    extract_id,
                    removed_record_ids: unpack_ids(&removed)
                        .ok_or_else(|| StoreError::Corrupt("link_queue.removed".into()))?,
                })
            })
            .collect()
    }

    /// Tries to take the linker's lease for the replica called `name`
    /// (what [`linker_holder`](Self::linker_holder) answers other
    /// replicas); `None` while another broker holds it.
    pub async fn try_linker_lease(&self, name: &str) -> Result<Option<LinkerLease>, StoreError> {
        match &self.backend {
            Backend::Sqlite { .. } => Ok(Some(LinkerLease::Sole)),
            Backend::Postgres(pool) => {
                let mut conn = pool.acquire().await.map_err(error::classify)?;
                let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
                    .bind(crate::postgres::LOCK_NAMESPACE)
                    .bind(LINKER_LOCK)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(error::classify)?;
                if !got {
                    return Ok(None);
                }
                // Held on a connection of its own, never handed back to the
                // pool; named, so that every replica can say who holds it.
                let mut conn = conn.detach();
                sqlx::query("SELECT set_config('application_name', $1, false)")
                    .bind(lease_application_name(name))
                    .execute(&mut conn)
                    .await
                    .map_err(error::classify)?;
                Ok(Some(LinkerLease::Postgres(conn)))
            }
        }
    }

    /// Who holds the linker's lease now (`pg_locks` and the holder's
    /// `application_name`).
    pub async fn linker_holder(&self) -> Result<LinkerHolder, StoreError> {
        match &self.backend {
            Backend::Sqlite { .. } => Ok(LinkerHolder::Sole),
            Backend::Postgres(pool) => {
                let name: Option<String> = sqlx::query_scalar(
                    "SELECT a.application_name FROM pg_locks l \
                     JOIN pg_stat_activity a ON a.pid = l.pid \
                     WHERE l.locktype = 'advisory' AND l.granted \
                     AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                     AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.objsubid = 2",
                )
                .bind(i64::from(crate::postgres::LOCK_NAMESPACE))
                .bind(i64::from(LINKER_LOCK))
                .fetch_optional(pool)
                .await
                .map_err(error::classify)?;
                Ok(match name {
                    None => LinkerHolder::Nobody,
                    Some(n) => LinkerHolder::Replica(
                        n.strip_prefix(LEASE_APPLICATION_PREFIX)
                            .unwrap_or(&n)
                            .to_owned(),
                    ),
                })
            }
        }
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

    /// One review by id.
    pub async fn review(&self, id: i64) -> Result<Option<Review>, StoreError> {
        let sql = format!("{REVIEW_COLS} WHERE id = $1");
        let row: Option<ReviewTuple> = on_backend!(self, |pool| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)
        .map_err(error::classify)?;
        row.map(review).transpose()
    }

    /// The review queue as a reviewer sees it.
    pub async fn review_views(&self, pending_only: bool) -> Result<Vec<ReviewView>, StoreError> {
        let filter = if pending_only {
            "WHERE l.status = 'pending'"
        } else {
            ""
        };
        let sql = format!(
            "SELECT l.id, l.record_id, l.candidate_person, l.score, l.levels, l.status, l.created_at, l.resolved_by, l.anchor, \
             r.source, r.kind, r.event_date FROM link_reviews l JOIN records r ON r.id = l.record_id {filter} ORDER BY l.id"
        );
        type Row = (
            i64,
            i64,
            i64,
            f64,
            String,
            String,
            DateTime<Utc>,
            Option<String>,
            Option<i64>,
            String,
            String,
            chrono::NaiveDate,
        );
        let rows: Vec<Row> = on_backend!(self, |pool| sqlx::query_as(&sql).fetch_all(pool).await)
            .map_err(error::classify)?;
        let sources_sql = "SELECT DISTINCT p.person_id, r.source FROM record_person p JOIN records r ON r.id = p.record_id \
             WHERE p.person_id IN (SELECT candidate_person FROM link_reviews) ORDER BY p.person_id, r.source";
        let sources: Vec<(i64, String)> = on_backend!(self, |pool| sqlx::query_as(sources_sql)
            .fetch_all(pool)
            .await)
        .map_err(error::classify)?;
        rows.into_iter()
            .map(
                |(
                    id,
                    record_id,
                    candidate,
                    score,
                    levels,
                    status,
                    created_at,
                    by,
                    anchor,
                    source,
                    kind,
                    date,
                )| {
                    Ok(ReviewView {
                        review: review((
                            id, record_id, candidate, score, levels, status, created_at, by, anchor,
                        ))?,
                        record_source: source,
                        record_kind: kind,
                        record_event_date: date,
                        candidate_sources: sources
                            .iter()
                            .filter(|(p, _)| *p == candidate)
                            .map(|(_, s)| s.clone())
                            .collect(),
                    })
                },
            )
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn fl(field: &str, level: &str) -> FieldLevel {
        FieldLevel::new(field, level).expect("lowercase words")
    }

    #[test]
    fn field_levels_encode_compactly_and_decode_back() {
        let levels = vec![
            fl("forename", "initial"),
            fl("surname", "one_edit"),
            fl("date_of_birth", "day_month_swapped"),
        ];
        let text = encode_levels(&levels);
        assert_eq!(
            text,
            "forename=initial;surname=one_edit;date_of_birth=day_month_swapped"
        );
        assert_eq!(decode_levels(&text), Some(levels));
        let one = vec![fl("postcode", "exact")];
        assert_eq!(decode_levels(&encode_levels(&one)), Some(one));
        // Nothing recorded (a review from before levels were kept).
        assert_eq!(encode_levels(&[]), "");
        assert_eq!(decode_levels(""), Some(vec![]));
    }

    #[test]
    fn field_levels_refuse_what_would_be_ambiguous() {
        assert!(FieldLevel::new("forename", "exact").is_some());
        for (field, level) in [
            ("", "exact"),
            ("forename", ""),
            ("fore=name", "exact"),
            ("forename", "ex;act"),
            ("Forename", "exact"),
            ("forename", "exact "),
        ] {
            assert_eq!(FieldLevel::new(field, level), None, "{field:?} {level:?}");
        }
        for text in [
            "forename",
            "forename=",
            "=exact",
            "forename=exact;",
            ";forename=exact",
            "forename=exact=exact",
            "forename=exact;;surname=exact",
        ] {
            assert_eq!(decode_levels(text), None, "{text:?}");
        }
    }
}
