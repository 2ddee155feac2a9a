//! Linkage inside the broker: every committed extract is linked into
//! people by one linker task, in commit order, with the same code as the
//! offline `concord link` (`concord-linkage`).
//!
//! The linker's state lives in memory and is rebuilt from the store at
//! start (`Linker::from_assignments`), so person ids stay stable across
//! restarts; records a crash left unlinked are linked then. Each run's
//! changes (assignments, reassignments after merges and splits, the review
//! queue, the next person id) are written in one transaction. If a write
//! fails, the state is rebuilt from the store before the next run, so the
//! store stays the truth.

use std::sync::{Arc, Mutex};

use concord_core::{KeyName, Source, Token};
use concord_linkage::{
    LinkConfig, LinkOutcome, LinkRecord, Linker, Probe, RecordOutcome, ReviewDecision, StoredRecord,
};
use concord_store::{LinkRow, LinkageUpdate, Resolution, Review, ReviewStatus, Store, StoreError};
use tokio::sync::{mpsc, watch};

/// One committed extract to link.
#[derive(Debug, Clone)]
pub struct LinkJob {
    pub source: Source,
    pub extract_id: String,
    pub removed_record_ids: Vec<i64>,
}

/// Handle on the linker task.
pub struct Linkage {
    jobs: mpsc::Sender<LinkJob>,
    linked: watch::Receiver<u64>,
    linker: Arc<Mutex<Linker>>,
}

#[derive(Debug, thiserror::Error)]
pub enum LinkageError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the stored linkage is inconsistent: {0}")]
    Inconsistent(String),
    #[error("the review cannot be applied: {0}")]
    Refused(String),
}

impl Linkage {
    /// Rebuilds the linker from the store, links anything left unlinked,
    /// and starts the task that links each committed extract.
    pub async fn start(store: Store, config: LinkConfig) -> Result<Arc<Linkage>, LinkageError> {
        let linker = Arc::new(Mutex::new(rebuild(&store, &config).await?));
        let (jobs, mut rx) = mpsc::channel::<LinkJob>(64);
        let (done, linked) = watch::channel(0u64);
        let task_linker = linker.clone();
        tokio::spawn(async move {
            let mut stale = false;
            while let Some(job) = rx.recv().await {
                if stale {
                    match rebuild(&store, &config).await {
                        Ok(l) => {
                            *task_linker.lock().expect("linker lock") = l;
                            stale = false;
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "linkage could not be rebuilt; it will be retried")
                        }
                    }
                }
                if !stale && let Err(e) = run(&store, &task_linker, &job).await {
                    tracing::error!(error = %e, source = %job.source, "linkage failed; the linker is rebuilt from the store next time");
                    stale = true;
                }
                done.send_modify(|n| *n += 1);
            }
        });
        Ok(Arc::new(Linkage {
            jobs,
            linked,
            linker,
        }))
    }

    /// Queues a committed extract for linking (waits while the queue is full).
    pub async fn enqueue(&self, job: LinkJob) {
        if self.jobs.send(job).await.is_err() {
            tracing::error!("the linker task has stopped; the extract is linked at the next start");
        }
    }

    /// Counts linkage runs finished since start (successful or not).
    pub fn watch_runs(&self) -> watch::Receiver<u64> {
        self.linked.clone()
    }

    /// Applies a reviewer's decision on a pending review: the linker links
    /// (or keeps apart) the record and the candidate person, and the
    /// decision is stored with the reassignments it causes, in one
    /// transaction.
    pub async fn resolve(
        &self,
        store: &Store,
        review: &Review,
        accept: bool,
        by: &str,
    ) -> Result<(), LinkageError> {
        let linker = self.linker.clone();
        let (record, person) = (review.record_id as u64, review.candidate_person as u64);
        let mut update = tokio::task::spawn_blocking(move || {
            let mut l = linker.lock().expect("linker lock");
            let outcome = l
                .resolve_possible(record, person, accept)
                .map_err(|e| LinkageError::Refused(e.to_string()))?;
            let mut u = update(&l, &[], &[]);
            u.assignments.extend(
                outcome
                    .reassigned
                    .iter()
                    .map(|&(r, p)| (r as i64, p as i64, "linked")),
            );
            Ok::<_, LinkageError>((u, outcome.decision.anchor))
        })
        .await
        .map_err(|_| LinkageError::Inconsistent("the review task panicked".into()))??;
        update.0.resolution = Some(Resolution {
            review_id: review.id,
            accept,
            anchor: accept.then_some(update.1 as i64),
            by: by.to_owned(),
        });
        store.save_linkage(&update.0).await?;
        Ok(())
    }

    /// The person whom a record carrying these (already re-keyed)
    /// pseudonyms would be linked to by the linkage rules: `Some` only when
    /// the rules would *link* it to exactly one person (a strong key, the
    /// deterministic cascade or the scored tier), never for a possible
    /// match. Read-only: nothing is stored or changed.
    ///
    /// Takes the linker's lock for the probe alone (microseconds); it waits
    /// while a linkage run holds the lock, so call it off the async runtime
    /// (`spawn_blocking`).
    pub fn find_person(&self, pseudonyms: &[(KeyName, Token)]) -> Option<u64> {
        let probe = self.linker.lock().expect("linker lock").probe(pseudonyms);
        match probe {
            Probe::Linked(person) => Some(person),
            Probe::Possible | Probe::NoMatch => None,
        }
    }

    /// [`find_person`](Self::find_person) without waiting: `None` when a
    /// linkage run holds the linker at this moment (then call
    /// `find_person` off the async runtime). Lets a lookup resolve on the
    /// runtime thread in the common case, with no thread hop.
    pub fn try_find_person(&self, pseudonyms: &[(KeyName, Token)]) -> Option<Option<u64>> {
        let linker = match self.linker.try_lock() {
            Ok(l) => l,
            Err(std::sync::TryLockError::WouldBlock) => return None,
            Err(std::sync::TryLockError::Poisoned(_)) => panic!("linker lock poisoned"),
        };
        Some(match linker.probe(pseudonyms) {
            Probe::Linked(person) => Some(person),
            Probe::Possible | Probe::NoMatch => None,
        })
    }

    /// The person a record belongs to, as the linker holds it now.
    pub fn person_of(&self, record_id: i64) -> Option<u64> {
        self.linker
            .lock()
            .expect("linker lock")
            .person_of(record_id as u64)
    }
}

fn link_record(r: LinkRow) -> LinkRecord {
    LinkRecord {
        id: r.record_id as u64,
        source: r.source,
        tokens: r.tokens,
    }
}

/// The linker as the store holds it; unlinked records are linked and saved.
async fn rebuild(store: &Store, config: &LinkConfig) -> Result<Linker, LinkageError> {
    let rows = store.link_rows().await?;
    let decisions: Vec<ReviewDecision> = store
        .reviews(false)
        .await?
        .into_iter()
        .filter(|r| r.status != ReviewStatus::Pending)
        .map(|r| ReviewDecision {
            record: r.record_id as u64,
            person: r.candidate_person as u64,
            anchor: r.anchor.unwrap_or(0) as u64,
            accept: r.status == ReviewStatus::Accepted,
        })
        .collect();
    let next = store.next_person().await? as u64;
    let config = config.clone();
    let (linker, outcome) = tokio::task::spawn_blocking(move || {
        let (linked, unlinked): (Vec<_>, Vec<_>) =
            rows.into_iter().partition(|r| r.person_id.is_some());
        let stored = linked.into_iter().map(|r| StoredRecord {
            id: r.record_id as u64,
            source: r.source,
            person: r.person_id.unwrap_or_default() as u64,
            tokens: r.tokens,
        });
        let mut linker = Linker::from_assignments(config, stored, decisions, next)
            .map_err(|e| LinkageError::Inconsistent(e.to_string()))?;
        let outcome =
            (!unlinked.is_empty()).then(|| linker.add(unlinked.into_iter().map(link_record)));
        Ok::<_, LinkageError>((linker, outcome))
    })
    .await
    .map_err(|_| LinkageError::Inconsistent("the rebuild task panicked".into()))??;
    if let Some(outcome) = outcome {
        tracing::info!(
            records = outcome.records.len(),
            "linked records left unlinked by an earlier run"
        );
        store
            .save_linkage(&update(&linker, &[], &[outcome]))
            .await?;
    }
    Ok(linker)
}

/// Links one committed extract and saves what changed.
async fn run(
    store: &Store,
    linker: &Arc<Mutex<Linker>>,
    job: &LinkJob,
) -> Result<(), LinkageError> {
    let rows = store.extract_link_rows(job.source, &job.extract_id).await?;
    let linker = linker.clone();
    let removed = job.removed_record_ids.clone();
    let update = tokio::task::spawn_blocking(move || {
        let mut l = linker.lock().expect("linker lock");
        let ids: Vec<u64> = removed.iter().map(|&i| i as u64).collect();
        let gone = l.remove(&ids);
        let added = l.add(rows.into_iter().map(link_record));
        update(&l, &removed, &[gone, added])
    })
    .await
    .map_err(|_| LinkageError::Inconsistent("the linkage task panicked".into()))?;
    tracing::info!(
        source = %job.source,
        assigned = update.assignments.len(),
        review = update.reviews.len(),
        forgotten = update.forget.len(),
        "extract linked"
    );
    store.save_linkage(&update).await?;
    Ok(())
}

/// What to write for a run's outcomes.
fn update(l: &Linker, forget: &[i64], outcomes: &[LinkOutcome]) -> LinkageUpdate {
    let mut u = LinkageUpdate {
        forget: forget.to_vec(),
        next_person: l.next_person() as i64,
        ..Default::default()
    };
    let label = |person: u64| {
        if l.records_of(person).is_some_and(|r| r.len() > 1) {
            "linked"
        } else {
            "unlinked"
        }
    };
    for o in outcomes {
        for (record, outcome) in &o.records {
            let row = match outcome {
                RecordOutcome::Linked { person } => (*record as i64, *person as i64, "linked"),
                RecordOutcome::Possible { person, .. } => {
                    (*record as i64, *person as i64, "possible")
                }
                RecordOutcome::Unlinked { person } => (*record as i64, *person as i64, "unlinked"),
                RecordOutcome::NoTokens => continue,
            };
            u.assignments.push(row);
        }
        for (record, person) in &o.reassigned {
            u.assignments
                .push((*record as i64, *person as i64, label(*person)));
        }
        u.reviews.extend(
            o.possible
                .iter()
                .map(|p| (p.record as i64, p.person as i64, p.score)),
        );
    }
    u
}
