//! The lookup's records reads, batched. Each lookup asks for its person's
//! records by primary key; whatever lookups are waiting when a reader
//! connection comes free are read together, in one query (one statement
//! per set of columns), and each gets back the rows of its own ids only.
//!
//! At most as many batches run at once as the store has reader
//! connections ([`crate::own::Readers`]). A lookup that finds one free
//! starts a batch at once, so under a light load every read is a batch of
//! one and waits for nothing; under a heavy one the queue grows while
//! every reader is busy, and the next batch takes it all: one round trip
//! and one execution on the server instead of one per lookup (the server's
//! fixed cost per query, not its per-row cost, dominated: BENCHMARKS.md).
//!
//! A batch runs in a task of its own, so a lookup cancelled half-way (its
//! caller gone) cancels nothing another lookup waits for. A failed batch
//! fails each of its lookups, with the same error.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use sqlx::Row;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use crate::{Store, StoreError, error, own::OwnConnection};

/// The most lookups one batch reads.
const MAX_BATCH: usize = 64;

/// One record as read: its id, its stored source, and the values of the
/// read's columns (in the order asked; `None` where the record holds
/// none).
pub(crate) type ReadRow = (i64, String, Vec<Option<String>>);

/// One lookup's read: these record ids, these columns.
struct Job {
    ids: Vec<i64>,
    columns: Vec<&'static str>,
    reply: oneshot::Sender<Result<Vec<ReadRow>, StoreError>>,
}

/// The queue of reads waiting for a batch, and the batches allowed to run
/// at once.
pub(crate) struct RecordReads {
    queue: Mutex<VecDeque<Job>>,
    batches: Arc<Semaphore>,
    /// Reads taken into batches, and the queries that read them.
    reads: AtomicU64,
    queries: AtomicU64,
}

impl RecordReads {
    pub(crate) fn new(readers: usize) -> RecordReads {
        RecordReads {
            queue: Mutex::new(VecDeque::new()),
            batches: Arc::new(Semaphore::new(readers.max(1))),
            reads: AtomicU64::new(0),
            queries: AtomicU64::new(0),
        }
    }

    fn push(&self, job: Job) {
        self.queue.lock().expect("record reads lock").push_back(job);
    }

    /// Up to [`MAX_BATCH`] waiting reads, oldest first.
    fn take(&self) -> Vec<Job> {
        let mut q = self.queue.lock().expect("record reads lock");
        let n = q.len().min(MAX_BATCH);
        q.drain(..n).collect()
    }

    fn is_empty(&self) -> bool {
        self.queue.lock().expect("record reads lock").is_empty()
    }
}

/// How the lookups' records reads were batched since the store opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordReadCounts {
    /// Lookups' reads taken into batches.
    pub reads: u64,
    /// The queries that read them (one per batch and column set).
    pub queries: u64,
}

impl Store {
    /// How the lookups' records reads were batched so far (for metrics).
    pub fn record_read_counts(&self) -> RecordReadCounts {
        RecordReadCounts {
            reads: self.record_reads.reads.load(Ordering::Relaxed),
            queries: self.record_reads.queries.load(Ordering::Relaxed),
        }
    }

    /// The records with these ids (some may be gone: they are left out),
    /// each with the values of `columns` read as text (`SELECT` expression
    /// `expr(c)` of each), in event date order, then by id. Batched with
    /// the reads of other lookups waiting at the same moment.
    pub(crate) async fn read_records(
        &self,
        ids: Vec<i64>,
        columns: Vec<&'static str>,
    ) -> Result<Vec<ReadRow>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.record_reads.push(Job {
            ids,
            columns,
            reply,
        });
        // Start a batch if fewer than the most are running; otherwise one
        // that is running takes this read when it finishes.
        if let Ok(permit) = self.record_reads.batches.clone().try_acquire_owned() {
            tokio::spawn(self.clone().run_batches(permit));
        }
        answer.await.unwrap_or_else(|_| {
            Err(StoreError::Unavailable(sqlx::Error::Protocol(
                "the records read was abandoned".into(),
            )))
        })
    }

    /// Runs batches while reads are waiting, then lets the permit go. The
    /// check after letting it go closes the race with a read queued just
    /// before: its caller found no permit free, so the batch that held one
    /// must see it.
    async fn run_batches(self, permit: OwnedSemaphorePermit) {
        let mut permit = Some(permit);
        loop {
            let jobs = self.record_reads.take();
            if jobs.is_empty() {
                drop(permit.take());
                if self.record_reads.is_empty() {
                    return;
                }
                match self.record_reads.batches.clone().try_acquire_owned() {
                    Ok(p) => {
                        permit = Some(p);
                        continue;
                    }
                    // Another batch holds a permit and will see the queue.
                    Err(_) => return,
                }
            }
            self.run_batch(jobs).await;
        }
    }

    /// One batch: a query per distinct set of columns, on one reader
    /// connection; each job answered with its own ids' rows.
    async fn run_batch(&self, jobs: Vec<Job>) {
        let counts = &self.record_reads;
        counts.reads.fetch_add(jobs.len() as u64, Ordering::Relaxed);
        let mut groups: Vec<(Vec<&'static str>, Vec<Job>)> = Vec::new();
        for job in jobs {
            match groups.iter_mut().find(|(c, _)| *c == job.columns) {
                Some((_, g)) => g.push(job),
                None => groups.push((job.columns.clone(), vec![job])),
            }
        }
        let mut lease = match self.readers.lease(&self.backend).await {
            Ok(lease) => lease,
            Err(e) => {
                for (_, g) in groups {
                    answer_all(g, &e);
                }
                return;
            }
        };
        for (columns, group) in groups {
            let mut ids: Vec<i64> = group.iter().flat_map(|j| j.ids.iter().copied()).collect();
            ids.sort_unstable();
            ids.dedup();
            counts.queries.fetch_add(1, Ordering::Relaxed);
            match query(lease.conn(), &columns, &ids).await {
                Ok(rows) => distribute(group, rows),
                Err(e) => {
                    // The connection is closed with the lease, never reused.
                    answer_all(group, &e);
                    return;
                }
            }
        }
        lease.done();
    }
}

/// Fails every job with `e`'s kind and message.
fn answer_all(jobs: Vec<Job>, e: &StoreError) {
    for j in jobs {
        let _ = j.reply.send(Err(e.same()));
    }
}

/// Answers each job with the rows of its own ids, in the rows' order.
fn distribute(jobs: Vec<Job>, rows: Vec<ReadRow>) {
    let mut wanted: HashMap<i64, Vec<usize>> = HashMap::new();
    for (j, job) in jobs.iter().enumerate() {
        for &id in &job.ids {
            let v = wanted.entry(id).or_default();
            // An id twice in one job is read once for it.
            if v.last() != Some(&j) {
                v.push(j);
            }
        }
    }
    let mut out: Vec<Vec<ReadRow>> = vec![Vec::new(); jobs.len()];
    for row in rows {
        // Copied for all but the last job that wants it, moved to that one.
        if let Some((&last, others)) = wanted.get(&row.0).and_then(|js| js.split_last()) {
            for &j in others {
                out[j].push(row.clone());
            }
            out[last].push(row);
        }
    }
    for (job, rows) in jobs.into_iter().zip(out) {
        let _ = job.reply.send(Ok(rows));
    }
}

/// The rows of `ids`, by primary key only, the ids bound as one value so
/// that each connection prepares one statement per set of columns whatever
/// their number: no source in the SQL, so no planner can prefer the
/// `(source, event_date)` index (without statistics, on a fresh load,
/// PostgreSQL would otherwise hash-join every record of the allowed
/// sources and SQLite scan them). PostgreSQL: an array; SQLite: a JSON
/// array, read by `json_each`.
async fn query(
    conn: &mut OwnConnection,
    columns: &[&'static str],
    ids: &[i64],
) -> Result<Vec<ReadRow>, StoreError> {
    let select = {
        let mut s = String::from("SELECT r.id, r.source");
        for c in columns {
            s.push_str(", ");
            s.push_str(&crate::lookup::expr(c));
        }
        s.push_str(" FROM records r WHERE r.id ");
        s
    };
    macro_rules! run {
        ($conn:expr, $sql:expr, $ids:expr) => {{
            let rows = sqlx::query(&$sql)
                .bind($ids)
                .fetch_all($conn)
                .await
                .map_err(error::classify)?;
            rows.iter()
                .map(|row| {
                    let id: i64 = row.try_get(0).map_err(error::classify)?;
                    let source: String = row.try_get(1).map_err(error::classify)?;
                    let values: Vec<Option<String>> = (0..columns.len())
                        .map(|i| row.try_get(i + 2))
                        .collect::<Result<_, _>>()
                        .map_err(error::classify)?;
                    Ok((id, source, values))
                })
                .collect::<Result<Vec<_>, StoreError>>()
        }};
    }
    match conn {
        OwnConnection::Sqlite(conn) => run!(
            &mut *conn,
            format!("{select}IN (SELECT value FROM json_each(?1)) ORDER BY r.event_date, r.id"),
            json_ids(ids)
        ),
        OwnConnection::Postgres(conn) => run!(
            &mut *conn,
            format!("{select}= ANY($1) ORDER BY r.event_date, r.id"),
            ids
        ),
    }
}

/// Record ids as a JSON array, for SQLite's `json_each`.
fn json_ids(ids: &[i64]) -> String {
    let mut s = String::with_capacity(ids.len() * 8 + 2);
    s.push('[');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&id.to_string());
    }
    s.push(']');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(ids: &[i64]) -> (Job, oneshot::Receiver<Result<Vec<ReadRow>, StoreError>>) {
        let (reply, rx) = oneshot::channel();
        (
            Job {
                ids: ids.to_vec(),
                columns: vec!["kind"],
                reply,
            },
            rx,
        )
    }

    fn row(id: i64) -> ReadRow {
        (id, "police".into(), vec![Some(format!("kind-{id}"))])
    }

    #[test]
    fn each_read_gets_the_rows_of_its_own_ids_only() {
        let (a, mut ra) = job(&[3, 1]);
        let (b, mut rb) = job(&[2, 3, 3]);
        let (c, mut rc) = job(&[9]);
        // In the query's order (event date, then id), not the ids' order.
        let rows = vec![row(3), row(2), row(1), row(7)];
        distribute(vec![a, b, c], rows);
        type Answer = oneshot::Receiver<Result<Vec<ReadRow>, StoreError>>;
        let got = |rx: &mut Answer| -> Vec<i64> {
            rx.try_recv()
                .expect("answered")
                .expect("rows")
                .iter()
                .map(|r| r.0)
                .collect()
        };
        assert_eq!(got(&mut ra), [3, 1]);
        assert_eq!(got(&mut rb), [3, 2]);
        assert!(got(&mut rc).is_empty(), "a gone record is left out");
    }

    #[test]
    fn ids_reach_sqlite_as_a_json_array() {
        assert_eq!(json_ids(&[]), "[]");
        assert_eq!(
            json_ids(&[7, 12, 9_007_199_254_740_993]),
            "[7,12,9007199254740993]"
        );
    }
}
