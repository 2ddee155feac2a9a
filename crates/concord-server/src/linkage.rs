//! Linkage inside the broker: every committed change is linked into
//! people by one linker, in queue order, with the same code as the
//! offline `concord link` (`concord-linkage`).
//!
//! Work is durable: each accepted extract and each retention purge queues
//! a job (`link_queue`) in its own transaction, and a job leaves the queue
//! in the transaction that saves its outcome (assignments, reassignments
//! after merges and splits, the review queue, the next person id). A
//! crash at any point leaves the job queued; nothing is linked twice.
//!
//! The linker's state lives in memory and is rebuilt from the store at
//! start (`Linker::from_assignments`), so person ids stay stable across
//! restarts. If a write fails, the state is rebuilt from the store before
//! the next run, so the store stays the truth.
//!
//! Several brokers on one PostgreSQL: one holds the linker's lease and
//! links; every save is conditional on `linkage_state.version`, so writes
//! never interleave; the others rebuild when the version moves (see
//! docs/decisions/0009-scale-out.md).

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use concord_core::{KeyName, Source, Token};
use concord_linkage::{
    FIELDS, Level, LinkConfig, LinkOutcome, LinkRecord, Linker, PossibleMatch, Probe,
    RecordOutcome, ReviewDecision, StoredRecord,
};
use concord_store::{
    FieldLevel, LinkQueueJob, LinkRow, LinkageUpdate, LinkerLease, NewReview, Resolution, Review,
    ReviewStatus, Store, StoreError,
};
use tokio::sync::{mpsc, watch};

/// How often a broker looks for linkage work it was not woken for (jobs
/// another broker queued, a lease to take over) and for linkage another
/// broker saved.
pub const DEFAULT_POLL: Duration = Duration::from_secs(1);

/// How long a replica that lost the linker's lease waits before asking for
/// it again (three beats: the other replicas ask every beat).
const LOST_LEASE_BACKOFF: Duration = Duration::from_secs(3);

/// Jobs read from the queue at a time.
const JOBS_PER_READ: i64 = 64;

/// Handle on the linker task.
pub struct Linkage {
    wake: mpsc::Sender<()>,
    linked: watch::Receiver<u64>,
    linker: Arc<Mutex<Linker>>,
    shared: Arc<Shared>,
    config: LinkConfig,
}

/// What the linker task and request handlers share.
struct Shared {
    /// The `linkage_state.version` the in-memory linker reflects.
    version: watch::Sender<i64>,
    /// The in-memory linker may be ahead of the store (a write failed):
    /// rebuild before the next run.
    stale: AtomicBool,
    /// Whether this broker holds the linker's lease now.
    leader: AtomicBool,
    /// Serialises this process's linkage writes (runs, reviews, rebuilds).
    writer: tokio::sync::Mutex<()>,
    /// This replica's name, carried by its lease.
    name: String,
}

impl Shared {
    /// Makes a linker rebuilt from the store (at stored version `.1`) the
    /// one lookups and runs use.
    fn install(&self, linker: &Mutex<Linker>, (rebuilt, version): (Linker, i64)) {
        *linker.lock().expect("linker lock") = rebuilt;
        self.version.send_replace(version);
        self.stale.store(false, Ordering::Release);
    }
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
    /// Rebuilds the linker from the store and starts the task that links
    /// every queued job (`link_queue`: each accepted extract and retention
    /// purge queues one in its own transaction).
    ///
    /// Several brokers may share one PostgreSQL database: the one holding
    /// the linker's lease (`Store::try_linker_lease`) links, in queue
    /// order; the others rebuild their in-memory linker whenever the stored
    /// version moves, so their lookups see the same people. Every save is
    /// made over the version it was computed from, so two linkers can
    /// never interleave writes (the later one refuses and rebuilds).
    ///
    /// Its replica name is [`default_replica_name`], with `#2`, `#3`, ...
    /// for the second and later linkages of one process (the tests' brokers).
    pub async fn start(store: Store, config: LinkConfig) -> Result<Arc<Linkage>, LinkageError> {
        static STARTED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let name = match STARTED.fetch_add(1, Ordering::Relaxed) {
            0 => default_replica_name(),
            n => format!("{} #{}", default_replica_name(), n + 1),
        };
        Self::start_named(store, config, name).await
    }

    /// [`start`](Self::start) for the replica called `name` (say
    /// `host:port`): the name other replicas give when asked who runs the
    /// linker (`Store::linker_holder`).
    pub async fn start_named(
        store: Store,
        config: LinkConfig,
        name: String,
    ) -> Result<Arc<Linkage>, LinkageError> {
        let mut lease = store.try_linker_lease(&name).await?;
        if lease.is_some() {
            tracing::info!(replica = %name, "this broker now runs the linker (it took the linker's lease)");
        }
        let (linker, version) = rebuild(&store, &config, lease.is_some()).await?;
        let linker = Arc::new(Mutex::new(linker));
        let shared = Arc::new(Shared {
            version: watch::Sender::new(version),
            stale: AtomicBool::new(false),
            leader: AtomicBool::new(lease.is_some()),
            writer: tokio::sync::Mutex::new(()),
            name,
        });
        let (wake, mut woken) = mpsc::channel::<()>(1);
        let (done, linked) = watch::channel(0u64);
        let task = Task {
            store,
            config: config.clone(),
            linker: linker.clone(),
            shared: shared.clone(),
            done,
            wake: wake.downgrade(),
        };
        // Work queued before this start (a crash after a commit) is linked now.
        let _ = wake.try_send(());
        tokio::spawn(async move {
            let mut lost_at = None;
            loop {
                tokio::select! {
                    w = woken.recv() => if w.is_none() { break },
                    _ = tokio::time::sleep(DEFAULT_POLL) => {},
                }
                task.tick(&mut lease, &mut lost_at).await;
            }
        });
        Ok(Arc::new(Linkage {
            wake,
            linked,
            linker,
            shared,
            config,
        }))
    }

    /// Tells the linker that work was queued (an extract was committed, a
    /// purge ran). Never waits: wakes already pending are merged.
    pub fn wake(&self) {
        let _ = self.wake.try_send(());
    }

    /// Counts linkage jobs this broker has run since start (successful or
    /// not).
    pub fn watch_runs(&self) -> watch::Receiver<u64> {
        self.linked.clone()
    }

    /// The stored linkage version the in-memory linker reflects.
    pub fn version(&self) -> i64 {
        *self.shared.version.borrow()
    }

    /// Watches [`version`](Self::version): it moves when this broker saves
    /// linkage or catches up with what another broker saved.
    pub fn watch_version(&self) -> watch::Receiver<i64> {
        self.shared.version.subscribe()
    }

    /// Whether this broker runs the linker now (holds the lease).
    pub fn is_leader(&self) -> bool {
        self.shared.leader.load(Ordering::Acquire)
    }

    /// This replica's name, as its lease names it to the others.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Applies a reviewer's decision on a pending review: the linker links
    /// (or keeps apart) the record and the candidate person, and the
    /// decision is stored with the reassignments it causes, in one
    /// transaction, over the stored version the linker reflects.
    pub async fn resolve(
        &self,
        store: &Store,
        review: &Review,
        accept: bool,
        by: &str,
    ) -> Result<(), LinkageError> {
        let _writer = self.shared.writer.lock().await;
        if self.shared.stale.load(Ordering::Acquire)
            || store.linkage_version().await? != self.version()
        {
            // Another broker saved since: apply the decision to what it saved.
            let rebuilt = rebuild(store, &self.config, false).await?;
            self.shared.install(&self.linker, rebuilt);
        }
        let linker = self.linker.clone();
        let version = self.version();
        let (record, person) = (review.record_id as u64, review.candidate_person as u64);
        let mut update = tokio::task::spawn_blocking(move || {
            let mut l = linker.lock().expect("linker lock");
            let outcome = l
                .resolve_possible(record, person, accept)
                .map_err(|e| LinkageError::Refused(e.to_string()))?;
            let mut u = update(&l, &[], &[], version);
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
        match store.save_linkage(&update.0).await {
            Ok(v) => {
                self.shared.version.send_replace(v);
                Ok(())
            }
            Err(e) => {
                // The linker holds the decision, the store does not.
                self.shared.stale.store(true, Ordering::Release);
                self.wake();
                Err(e.into())
            }
        }
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
        linked(&self.linker.lock().expect("linker lock"), pseudonyms)
    }

    /// [`find_person`](Self::find_person) with the records the linker
    /// holds for the person, read under the same lock: what a lookup
    /// discloses from is the person it resolved, as one state of the
    /// linker.
    pub fn find_person_records(&self, pseudonyms: &[(KeyName, Token)]) -> Option<FoundPerson> {
        found(&self.linker.lock().expect("linker lock"), pseudonyms)
    }

    /// [`find_person_records`](Self::find_person_records) without waiting:
    /// `None` when a linkage run holds the linker at this moment (then call
    /// `find_person_records` off the async runtime). Lets a lookup resolve
    /// on the runtime thread in the common case, with no thread hop.
    pub fn try_find_person_records(
        &self,
        pseudonyms: &[(KeyName, Token)],
    ) -> Option<Option<FoundPerson>> {
        match self.linker.try_lock() {
            Ok(l) => Some(found(&l, pseudonyms)),
            Err(std::sync::TryLockError::WouldBlock) => None,
            Err(std::sync::TryLockError::Poisoned(_)) => panic!("linker lock poisoned"),
        }
    }

    /// The person a record belongs to, as the linker holds it now.
    pub fn person_of(&self, record_id: i64) -> Option<u64> {
        self.linker
            .lock()
            .expect("linker lock")
            .person_of(record_id as u64)
    }
}

/// A replica's name when none is given: the host's name (a pod's, in
/// Kubernetes) and the process id.
pub fn default_replica_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{host} pid {}", std::process::id())
}

/// A person a lookup resolved, and their records as the linker holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundPerson {
    pub person: u64,
    /// (record id, source), by ascending id.
    pub records: Vec<(u64, Source)>,
}

fn linked(linker: &Linker, pseudonyms: &[(KeyName, Token)]) -> Option<u64> {
    match linker.probe(pseudonyms) {
        Probe::Linked(person) => Some(person),
        Probe::Possible | Probe::NoMatch => None,
    }
}

fn found(linker: &Linker, pseudonyms: &[(KeyName, Token)]) -> Option<FoundPerson> {
    let person = linked(linker, pseudonyms)?;
    Some(FoundPerson {
        person,
        // A linked person has a record: the probe links to one.
        records: linker.record_sources(person).unwrap_or_default(),
    })
}

fn link_record(r: LinkRow) -> LinkRecord {
    LinkRecord {
        id: r.record_id as u64,
        source: r.source,
        tokens: r.tokens,
    }
}

/// The linker task's state.
struct Task {
    store: Store,
    config: LinkConfig,
    linker: Arc<Mutex<Linker>>,
    shared: Arc<Shared>,
    done: watch::Sender<u64>,
    wake: mpsc::WeakSender<()>,
}

impl Task {
    /// One round: keep or take the lease, catch up with what another
    /// broker saved, then (holding the lease) run the queued jobs.
    async fn tick(&self, lease: &mut Option<LinkerLease>, lost_at: &mut Option<Instant>) {
        match lease {
            Some(l) => {
                if !l.held().await {
                    tracing::warn!(replica = %self.shared.name, "lost the linker lease; another broker may take it");
                    *lease = None;
                    *lost_at = Some(Instant::now());
                    // Not the holder from now on, whatever the rest of this round meets.
                    self.shared.leader.store(false, Ordering::Release);
                }
            }
            // A replica whose lease connection was cut yields for a few
            // beats, so that a healthy replica (asking every beat) takes the
            // lease rather than the one whose connection just failed.
            None if lost_at.is_some_and(|t| t.elapsed() < LOST_LEASE_BACKOFF) => {}
            None => match self.store.try_linker_lease(&self.shared.name).await {
                Ok(Some(l)) => {
                    tracing::info!(replica = %self.shared.name, "this broker now runs the linker (it took the linker's lease)");
                    *lease = Some(l);
                }
                Ok(None) => {}
                Err(e) => tracing::debug!(error = %e, "the linker lease could not be asked for"),
            },
        }
        let leader = lease.is_some();
        self.shared.leader.store(leader, Ordering::Release);
        let stored = match self.store.linkage_version().await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "linkage could not read the store; retried");
                return;
            }
        };
        if self.shared.stale.load(Ordering::Acquire) || stored != *self.shared.version.borrow() {
            let _writer = self.shared.writer.lock().await;
            match rebuild(&self.store, &self.config, leader).await {
                Ok(rebuilt) => {
                    let v = rebuilt.1;
                    self.shared.install(&self.linker, rebuilt);
                    tracing::info!(version = v, "linker rebuilt from the store");
                }
                Err(e) => {
                    tracing::error!(error = %e, "linkage could not be rebuilt; retried");
                    return;
                }
            }
        }
        if !leader {
            return;
        }
        let jobs = match self.store.link_jobs(JOBS_PER_READ).await {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::warn!(error = %e, "the linkage queue could not be read; retried");
                return;
            }
        };
        let full = jobs.len() as i64 == JOBS_PER_READ;
        for job in &jobs {
            let result = {
                let _writer = self.shared.writer.lock().await;
                run(&self.store, &self.linker, &self.shared, job).await
            };
            self.done.send_modify(|n| *n += 1);
            if let Err(e) = result {
                tracing::error!(error = %e, source = %job.source, "linkage failed; the linker is rebuilt from the store and the job retried");
                self.shared.stale.store(true, Ordering::Release);
                return;
            }
        }
        if full && let Some(wake) = self.wake.upgrade() {
            let _ = wake.try_send(());
        }
    }
}

/// The linker as the store holds it, and the version it was read at.
/// With `link_unlinked` (the lease holder), records that are neither
/// linked nor waiting in the queue (left by a broker from before the
/// queue) are linked and saved.
async fn rebuild(
    store: &Store,
    config: &LinkConfig,
    link_unlinked: bool,
) -> Result<(Linker, i64), LinkageError> {
    // The version first: rows read after it are at least as new, so a save
    // over a version that has moved is refused rather than lost.
    let version = store.linkage_version().await?;
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
    let link_unlinked = link_unlinked && store.link_jobs(1).await?.is_empty();
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
        let outcome = (link_unlinked && !unlinked.is_empty())
            .then(|| linker.add(unlinked.into_iter().map(link_record)));
        Ok::<_, LinkageError>((linker, outcome))
    })
    .await
    .map_err(|_| LinkageError::Inconsistent("the rebuild task panicked".into()))??;
    let Some(outcome) = outcome else {
        return Ok((linker, version));
    };
    tracing::info!(
        records = outcome.records.len(),
        "linked records left unlinked by an earlier run"
    );
    let version = store
        .save_linkage(&update(&linker, &[], &[outcome], version))
        .await?;
    Ok((linker, version))
}

/// Runs one queued job (links the extract's records, forgets the removed
/// ones) and saves what changed, with the job's removal from the queue.
async fn run(
    store: &Store,
    linker: &Arc<Mutex<Linker>>,
    shared: &Shared,
    job: &LinkQueueJob,
) -> Result<(), LinkageError> {
    let rows = store.extract_link_rows(job.source, &job.extract_id).await?;
    let linker = linker.clone();
    let removed = job.removed_record_ids.clone();
    let version = *shared.version.borrow();
    let seq = job.seq;
    let update = tokio::task::spawn_blocking(move || {
        let mut l = linker.lock().expect("linker lock");
        let ids: Vec<u64> = removed.iter().map(|&i| i as u64).collect();
        let gone = l.remove(&ids);
        let added = l.add(rows.into_iter().map(link_record));
        let mut u = update(&l, &removed, &[gone, added], version);
        u.jobs_done.push(seq);
        u
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
    let version = store.save_linkage(&update).await?;
    shared.version.send_replace(version);
    Ok(())
}

/// What to write for a run's outcomes.
fn update(l: &Linker, forget: &[i64], outcomes: &[LinkOutcome], version: i64) -> LinkageUpdate {
    let mut u = LinkageUpdate {
        forget: forget.to_vec(),
        next_person: l.next_person() as i64,
        version,
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
        u.reviews.extend(o.possible.iter().map(new_review));
    }
    u
}

/// A possible match as the review queue stores it.
fn new_review(p: &PossibleMatch) -> NewReview {
    NewReview {
        record_id: p.record as i64,
        candidate_person: p.person as i64,
        score: p.score,
        levels: field_levels(&p.levels),
    }
}

/// Each field compared, in [`FIELDS`] order, with its observed level.
fn field_levels(levels: &[Option<Level>; 4]) -> Vec<FieldLevel> {
    FIELDS
        .iter()
        .zip(levels)
        .filter_map(|(field, level)| {
            let level = (*level)?;
            Some(
                FieldLevel::new(field, level.as_str())
                    .expect("the linker's field and level names are lowercase words"),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_and_level_of_the_linker_can_be_stored() {
        for (f, levels) in concord_linkage::LEVELS.iter().enumerate() {
            for level in *levels {
                let mut all = [None; 4];
                all[f] = Some(*level);
                let stored = field_levels(&all);
                assert_eq!(stored.len(), 1);
                assert_eq!(
                    (stored[0].field(), stored[0].level()),
                    (FIELDS[f], level.as_str())
                );
            }
        }
        assert!(field_levels(&[None; 4]).is_empty());
    }
}
