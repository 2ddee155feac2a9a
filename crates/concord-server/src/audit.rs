//! The audit log inside the broker (DESIGN §6): one writer task per broker
//! process appends every event, in order, and signs a tree head for every
//! batch it commits.
//!
//! * **One writer.** Each event names the leaf hash of the one before it,
//!   so appends are serialised: [`AuditLog::append`] hands the event to the
//!   writer task over a bounded channel (backpressure, not buffering) and
//!   waits for its receipt.
//! * **Group commit, each batch signed.** The writer takes whatever is
//!   queued (up to [`AuditConfig::max_batch`]), numbers and links each
//!   event (`seq`, `prev`), signs the tree head after the batch (one
//!   Ed25519 signature, the root computed from the tree's [`Frontier`]) and
//!   writes the events and that signed head in one store transaction. Only
//!   then does it add them to its in-memory [`MerkleLog`] and answer each
//!   caller with its receipt (an inclusion proof against exactly the signed
//!   head). So every event the broker stores is covered by a signature
//!   written with it, and an event no signature covers is never
//!   legitimate. A failed write answers every caller in the batch with an
//!   error (the request fails and discloses nothing) and leaves the
//!   in-memory log as it was; before the next batch the writer re-reads the
//!   stored tail, in case the failure hid a commit.
//! * **Start.** The tree is rebuilt from the stored leaf hashes; the broker
//!   refuses to start if positions have gaps, the last event's bytes do not
//!   hash to its stored leaf hash, the tree does not match the latest signed
//!   checkpoint, or any event lies beyond it: an uncovered tail was not
//!   written by a broker, and the broker never signs over it (`concord audit
//!   verify` names it).
//!
//! The writer is per process. Brokers sharing one PostgreSQL append each
//! batch under the database's audit lock (`concord_audit_append`,
//! migration 0007), which refuses a batch numbered behind the log's end;
//! the writer then takes the lock in a transaction of its own, reads what
//! the others appended (checked against the head they signed), and writes
//! its batch after it, so no request is refused for it.

use std::sync::{Arc, RwLock};

use chrono::Utc;
use concord_audit::{
    Action, AuditEvent, AuditSigner, Checkpoint, Decision, Frontier, Hash, MerkleLog,
    SignedCheckpoint, SubjectId, leaf_hash,
};
use concord_pki::Identity;
use concord_proto::v1;
use concord_store::{AuditAppender, AuditRow, CheckpointRow, Store, StoreError};
use tokio::sync::{mpsc, oneshot};

use crate::error::ServerError;

/// How the writer batches.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// Appends waiting for the writer before callers wait to enqueue.
    pub queue: usize,
    /// Most events written (and covered by one signed head) in one
    /// transaction.
    pub max_batch: usize,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            queue: 4_096,
            max_batch: 512,
        }
    }
}

/// Proof that an event is in the log: its position and leaf hash, and an
/// RFC 6962 inclusion proof against the tree of `tree_size` leaves with
/// root `root` (the signed head of the batch it was committed in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReceipt {
    pub seq: u64,
    pub leaf_hash: Hash,
    pub tree_size: u64,
    pub root: Hash,
    pub proof: Vec<Hash>,
}

impl From<AuditReceipt> for v1::AuditReceipt {
    fn from(r: AuditReceipt) -> v1::AuditReceipt {
        v1::AuditReceipt {
            event_seq: r.seq,
            leaf_hash: r.leaf_hash.0.to_vec(),
            tree_size: r.tree_size,
            root_hash: r.root.0.to_vec(),
            inclusion_proof: r.proof.into_iter().map(|h| h.0.to_vec()).collect(),
        }
    }
}

/// Why the audit log could not do what was asked. Messages name what
/// failed, never event contents.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("the audit store failed")]
    Store(#[from] StoreError),
    #[error("the audit writer has stopped")]
    Stopped,
    #[error(
        "the stored audit log is inconsistent: {0}; run `concord audit verify` to find the first event that does not fit"
    )]
    Inconsistent(String),
    #[error(
        "the stored audit log holds {what} covered by no signed checkpoint, though the broker signs every batch in the same commit as its events: they were not written by a broker (or their checkpoint was deleted), and the broker will not start and sign over them; run `concord audit verify`, investigate who wrote them, and restore the audit log from a backup"
    )]
    Uncovered { what: String },
    #[error(transparent)]
    Log(#[from] concord_audit::AuditError),
}

impl From<AuditError> for ServerError {
    fn from(e: AuditError) -> ServerError {
        ServerError::Audit(client_message(&e))
    }
}

/// What a caller is told: the store's own words ("the database is
/// unavailable", ...) and never the database's (the driver's message below
/// them may name tables, triggers or values).
fn client_message(e: &AuditError) -> String {
    match e {
        AuditError::Store(s) => format!("{e}: {s}"),
        other => crate::error::chain(other),
    }
}

/// The same refusal for every caller of a failed batch.
fn refused(e: &AuditError) -> impl Fn() -> ServerError + use<> {
    let message = client_message(e);
    move || ServerError::Audit(message.clone())
}

enum Cmd {
    Append(
        Box<AuditEvent>,
        oneshot::Sender<Result<AuditReceipt, ServerError>>,
    ),
    Checkpoint(oneshot::Sender<Result<SignedCheckpoint, ServerError>>),
}

/// State readers share with the writer: the committed tree and the newest
/// signed head (which covers it). Locks are never held across an await.
struct Shared {
    tree: RwLock<MerkleLog>,
    latest: RwLock<Option<SignedCheckpoint>>,
}

/// Handle on the audit writer. Dropping the last handle stops the writer.
pub struct AuditLog {
    cmds: mpsc::Sender<Cmd>,
    shared: Arc<Shared>,
    public_key: [u8; 32],
    vkey: String,
    key_id: String,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("size", &self.size())
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Rebuilds the log from the store, checks it against its latest signed
    /// checkpoint (which must cover every stored event), and starts the
    /// writer task.
    pub async fn start(
        store: Store,
        signer: AuditSigner,
        config: AuditConfig,
    ) -> Result<Arc<AuditLog>, AuditError> {
        let mut tree = MerkleLog::new();
        let latest = extend(&mut tree, read_tail(&store, 0).await?, &signer)?;
        check_last_event(&store, &tree).await?;
        let public_key = signer.public_key();
        let vkey = signer.vkey();
        let key_id = signer.key_id().to_owned();
        let shared = Arc::new(Shared {
            tree: RwLock::new(tree),
            latest: RwLock::new(latest),
        });
        let writer = Writer {
            appender: store.audit_appender(),
            store,
            signer,
            shared: shared.clone(),
            config: config.clone(),
            stale: false,
        };
        let (cmds, rx) = mpsc::channel(config.queue.max(1));
        tokio::spawn(writer.run(rx));
        Ok(Arc::new(AuditLog {
            cmds,
            shared,
            public_key,
            vkey,
            key_id,
        }))
    }

    /// Appends `event` (its seq and prev are set by the writer), waits until
    /// it is durably committed with the signed head that covers it, and
    /// returns its receipt. Err => the caller must fail the request and
    /// disclose nothing.
    pub async fn append(&self, event: AuditEvent) -> Result<AuditReceipt, ServerError> {
        let (tx, rx) = oneshot::channel();
        self.cmds
            .send(Cmd::Append(Box::new(event), tx))
            .await
            .map_err(|_| AuditError::Stopped)?;
        rx.await.map_err(|_| AuditError::Stopped)?
    }

    /// The signed head covering every event committed so far (each batch
    /// is signed as it is committed, so this is the newest one), once
    /// appends queued before it are written.
    pub async fn checkpoint(&self) -> Result<SignedCheckpoint, ServerError> {
        let (tx, rx) = oneshot::channel();
        self.cmds
            .send(Cmd::Checkpoint(tx))
            .await
            .map_err(|_| AuditError::Stopped)?;
        rx.await.map_err(|_| AuditError::Stopped)?
    }

    /// The newest signed head, as it is (it covers the whole committed log).
    pub fn latest_checkpoint(&self) -> Option<SignedCheckpoint> {
        self.shared
            .latest
            .read()
            .expect("audit checkpoint lock")
            .clone()
    }

    /// Events committed so far.
    pub fn size(&self) -> u64 {
        self.shared.tree.read().expect("audit tree lock").size()
    }

    /// The root of the first `size` events.
    pub fn root_at(&self, size: u64) -> Result<Hash, ServerError> {
        Ok(self
            .shared
            .tree
            .read()
            .expect("audit tree lock")
            .root_at(size)
            .map_err(AuditError::from)?)
    }

    /// RFC 6962 consistency proof from `old_size` to `new_size`.
    pub fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<Vec<Hash>, ServerError> {
        Ok(self
            .shared
            .tree
            .read()
            .expect("audit tree lock")
            .consistency_proof(old_size, new_size)
            .map_err(AuditError::from)?)
    }

    /// RFC 6962 inclusion proof of event `seq` in the tree of `size` events.
    pub fn inclusion_proof(&self, seq: u64, size: u64) -> Result<Vec<Hash>, ServerError> {
        Ok(self
            .shared
            .tree
            .read()
            .expect("audit tree lock")
            .inclusion_proof(seq, size)
            .map_err(AuditError::from)?)
    }

    /// The Ed25519 public key checkpoints are signed with.
    pub fn public_key(&self) -> [u8; 32] {
        self.public_key
    }

    /// The verifier key in C2SP `vkey` form.
    pub fn verifier_key(&self) -> &str {
        &self.vkey
    }
}

/// What the store holds beyond position `from`: its leaf hashes and the
/// latest signed checkpoint. The leaves are read before the checkpoint: a
/// broker commits each batch with its head, so every event the first read
/// sees is covered by a head the second sees, even while another broker
/// appends; what that head covers beyond the leaves read is then read up
/// to its size.
async fn read_tail(
    store: &Store,
    from: u64,
) -> Result<(Vec<(u64, [u8; 32])>, Option<CheckpointRow>), AuditError> {
    let mut leaves = store.audit_leaf_hashes(from, None).await?;
    let latest = store.latest_audit_checkpoint().await?;
    let read = from + leaves.len() as u64;
    if let Some(row) = &latest
        && row.tree_size > read
    {
        leaves.extend(store.audit_leaf_hashes(read, Some(row.tree_size)).await?);
    }
    Ok((leaves, latest))
}

/// Adds `leaves` (what [`read_tail`] read beyond the tree) to `tree` and
/// returns the latest signed checkpoint, which must cover exactly the
/// result. Refuses gaps, a head that does not match the tree, and events
/// beyond the latest head.
fn extend(
    tree: &mut MerkleLog,
    (leaves, latest): (Vec<(u64, [u8; 32])>, Option<CheckpointRow>),
    signer: &AuditSigner,
) -> Result<Option<SignedCheckpoint>, AuditError> {
    for (seq, hash) in leaves {
        if seq != tree.size() {
            return Err(AuditError::Inconsistent(format!(
                "position {} holds sequence number {seq}",
                tree.size()
            )));
        }
        tree.append(Hash(hash));
    }
    let covered = latest.as_ref().map_or(0, |row| row.tree_size);
    let n = tree.size();
    if covered < n {
        let last = n - 1;
        return Err(AuditError::Uncovered {
            what: if covered == last {
                format!("event {last}, the last,")
            } else {
                format!("events {covered} to {last}, the last {},", n - covered)
            },
        });
    }
    latest
        .map(|row| check_checkpoint(&row, tree, signer))
        .transpose()
}

/// The last event's bytes hash to its stored leaf hash (the next `prev`
/// would be wrong otherwise).
async fn check_last_event(store: &Store, tree: &MerkleLog) -> Result<(), AuditError> {
    if let Some(last) = tree.size().checked_sub(1) {
        let event = store.audit_events(last, 1).await?;
        let ok = event
            .first()
            .is_some_and(|e| Some(leaf_hash(&e.event)) == tree.leaf(last));
        if !ok {
            return Err(AuditError::Inconsistent(format!(
                "event {last}, the last, does not hash to its stored leaf hash"
            )));
        }
    }
    Ok(())
}

/// The stored checkpoint, if it is well formed, signed by this key (when it
/// names this key) and matches the tree.
fn check_checkpoint(
    row: &CheckpointRow,
    tree: &MerkleLog,
    signer: &AuditSigner,
) -> Result<SignedCheckpoint, AuditError> {
    let signed = SignedCheckpoint::from_note(&row.note)?;
    let c = &signed.checkpoint;
    if c.key_id == signer.key_id() {
        signed.verify(&signer.public_key())?;
    }
    if c.size != row.tree_size || c.root.0 != row.root {
        return Err(AuditError::Inconsistent(format!(
            "checkpoint row {} does not hold the note signed for it",
            row.tree_size
        )));
    }
    if tree.root_at(c.size).ok() != Some(c.root) {
        return Err(AuditError::Inconsistent(format!(
            "the {} stored events do not match the latest signed checkpoint (size {})",
            tree.size(),
            c.size
        )));
    }
    Ok(signed)
}

struct Writer {
    store: Store,
    /// Appends go through a connection of the writer's own.
    appender: AuditAppender,
    signer: AuditSigner,
    shared: Arc<Shared>,
    config: AuditConfig,
    /// A write failed: the store may hold events the tree does not.
    stale: bool,
}

type Waiter = oneshot::Sender<Result<AuditReceipt, ServerError>>;

/// Tries at numbering a batch when other broker processes keep taking the
/// positions first.
const MAX_ATTEMPTS: u32 = 8;

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Cmd>) {
        let mut appends: Vec<(Box<AuditEvent>, Waiter)> = Vec::new();
        let mut checkpoints = Vec::new();
        while let Some(first) = rx.recv().await {
            let mut next = Some(first);
            while let Some(cmd) = next {
                match cmd {
                    Cmd::Append(e, w) => appends.push((e, w)),
                    Cmd::Checkpoint(w) => checkpoints.push(w),
                }
                next = if appends.len() < self.config.max_batch {
                    rx.try_recv().ok()
                } else {
                    None
                };
            }
            if !appends.is_empty() {
                self.write(std::mem::take(&mut appends)).await;
            }
            if !checkpoints.is_empty() {
                let result = self.head().await;
                if let Err(e) = &result {
                    tracing::error!(error = %e, "the audit log's signed head could not be read");
                }
                for w in checkpoints.drain(..) {
                    let _ = w.send(match &result {
                        Ok(c) => Ok(c.clone()),
                        Err(e) => Err(refused(e)()),
                    });
                }
            }
        }
    }

    /// Writes one batch and its signed head in one transaction and answers
    /// every caller.
    async fn write(&mut self, batch: Vec<(Box<AuditEvent>, Waiter)>) {
        let (rows, head) = match self.commit(&batch).await {
            Ok(written) => written,
            Err(e) => {
                tracing::error!(error = %e, events = batch.len(), "audit write failed; the requests are refused");
                self.stale = true;
                let refusal = refused(&e);
                for (_, w) in batch {
                    let _ = w.send(Err(refusal()));
                }
                return;
            }
        };
        let receipts: Vec<AuditReceipt> = {
            let mut tree = self.shared.tree.write().expect("audit tree lock");
            for r in &rows {
                tree.append(Hash(r.leaf_hash));
            }
            let tree_size = tree.size();
            debug_assert_eq!(tree_size, head.checkpoint.size);
            debug_assert_eq!(tree.root(), head.checkpoint.root);
            let root = head.checkpoint.root;
            rows.iter()
                .map(|r| AuditReceipt {
                    seq: r.seq,
                    leaf_hash: Hash(r.leaf_hash),
                    tree_size,
                    root,
                    proof: tree
                        .inclusion_proof(r.seq, tree_size)
                        .expect("the event was just appended"),
                })
                .collect()
        };
        *self.shared.latest.write().expect("audit checkpoint lock") = Some(head);
        for ((_, w), receipt) in batch.into_iter().zip(receipts) {
            let _ = w.send(Ok(receipt));
        }
    }

    /// Numbers, signs and stores the batch after the log as the writer
    /// knows it. If another broker appended since (PostgreSQL), it is
    /// numbered again under the database's audit lock, after what that
    /// broker wrote (and signed), which cannot be refused; on SQLite,
    /// whose file has one writer per process, a second process's append is
    /// refused by the primary key and retried up to [`MAX_ATTEMPTS`] times.
    async fn commit(
        &mut self,
        batch: &[(Box<AuditEvent>, Waiter)],
    ) -> Result<(Vec<AuditRow>, SignedCheckpoint), AuditError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            if self.stale {
                self.resync().await?;
                self.stale = false;
            }
            let (rows, prev, head) = link(&self.shared, &self.signer, batch);
            match self.appender.append(&rows, &prev.0, &row_of(&head)).await {
                Ok(()) => return Ok((rows, head)),
                Err(StoreError::AuditConflict) => {
                    tracing::debug!(attempts, "another broker appended to the audit log first");
                    let Some(mut lock) = self.appender.serialised().await? else {
                        if attempts >= MAX_ATTEMPTS {
                            return Err(StoreError::AuditConflict.into());
                        }
                        self.stale = true;
                        continue;
                    };
                    // Under the lock: what the other brokers appended, with
                    // the head they signed for it, then this batch after it.
                    let from = self.shared.tree.read().expect("audit tree lock").size();
                    let tail = lock.tail(from).await?;
                    let latest = {
                        let mut tree = self.shared.tree.write().expect("audit tree lock");
                        extend(&mut tree, tail, &self.signer)?
                    };
                    *self.shared.latest.write().expect("audit checkpoint lock") = latest;
                    let (rows, prev, head) = link(&self.shared, &self.signer, batch);
                    lock.append(&rows, &prev.0, &row_of(&head)).await?;
                    return Ok((rows, head));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Adds to the tree whatever the store holds beyond it (a failed write
    /// may have committed after all, or another broker appended), with the
    /// signed head that covers it.
    async fn resync(&mut self) -> Result<(), AuditError> {
        let from = self.shared.tree.read().expect("audit tree lock").size();
        let tail = read_tail(&self.store, from).await?;
        let latest = {
            let mut tree = self.shared.tree.write().expect("audit tree lock");
            extend(&mut tree, tail, &self.signer)?
        };
        *self.shared.latest.write().expect("audit checkpoint lock") = latest;
        Ok(())
    }

    /// The newest signed head, after re-reading the stored log if a write
    /// failed. An empty log has none stored: its head is signed now.
    async fn head(&mut self) -> Result<SignedCheckpoint, AuditError> {
        if self.stale {
            self.resync().await?;
            self.stale = false;
        }
        let latest = self
            .shared
            .latest
            .read()
            .expect("audit checkpoint lock")
            .clone();
        Ok(latest.unwrap_or_else(|| sign(&self.signer, &Frontier::new())))
    }
}

/// The batch's rows (each event numbered and linked after the tree's last
/// leaf, encoded and hashed), that last leaf (`prev` of the first), and
/// the signed head of the tree after them.
fn link(
    shared: &Shared,
    signer: &AuditSigner,
    batch: &[(Box<AuditEvent>, Waiter)],
) -> (Vec<AuditRow>, Hash, SignedCheckpoint) {
    let mut frontier = shared.tree.read().expect("audit tree lock").frontier();
    let prev = frontier.last_leaf().unwrap_or(Hash::ZERO);
    let mut rows = Vec::with_capacity(batch.len());
    for (event, _) in batch {
        let mut event = event.clone();
        event.seq = frontier.size();
        event.prev = frontier.last_leaf().unwrap_or(Hash::ZERO);
        let bytes = event.encode();
        let hash = leaf_hash(&bytes);
        rows.push(AuditRow {
            seq: event.seq,
            leaf_hash: hash.0,
            event: bytes,
            time: event.time,
            subjects: event.subjects.iter().map(SubjectId::to_string).collect(),
        });
        frontier.append(hash);
    }
    (rows, prev, sign(signer, &frontier))
}

/// The signed head of the log `frontier` is the right edge of, now.
fn sign(signer: &AuditSigner, frontier: &Frontier) -> SignedCheckpoint {
    Checkpoint {
        size: frontier.size(),
        root: frontier.root(),
        time: Utc::now(),
        key_id: signer.key_id().to_owned(),
    }
    .sign(signer)
    .expect("the checkpoint names this signer's key")
}

/// A signed head as the store keeps it.
fn row_of(head: &SignedCheckpoint) -> CheckpointRow {
    CheckpointRow {
        tree_size: head.checkpoint.size,
        root: head.checkpoint.root.0,
        note: head.to_note(),
        time: head.checkpoint.time,
    }
}

/// The audit log's name for a policy action.
pub fn action_of(action: concord_policy::Action) -> Action {
    match action {
        concord_policy::Action::Ingest => Action::Ingest,
        concord_policy::Action::Lookup => Action::Lookup,
        concord_policy::Action::Aggregate => Action::Aggregate,
        concord_policy::Action::AuditRead => Action::AuditRead,
        concord_policy::Action::LinkReview => Action::LinkReview,
    }
}

/// An audit event for `who` taking `action` as `decision` decided: who,
/// the decision (with the refusal's reason), the policy bundle digest, and
/// the agreement and lawful basis when the decision names them. The caller
/// adds purpose, case reference, extract id, what was disclosed and whom it
/// was about (`seq` and `prev` are set by the writer).
pub fn event(who: &Identity, action: Action, decision: &concord_policy::Decision) -> AuditEvent {
    let text = |key: &str| {
        decision
            .body
            .get(key)
            .and_then(concord_policy::Part::as_str)
            .map(str::to_owned)
    };
    let mut e = refusal(who, action, "", Some(decision.bundle_digest.clone()));
    e.decision = if decision.allow {
        Decision::Allow
    } else {
        Decision::Deny {
            reason: decision
                .reason
                .clone()
                .unwrap_or_else(|| "no rule allows it".to_owned()),
        }
    };
    e.agreement = text("agreement");
    e.lawful_basis = text("lawful_basis");
    e
}

/// An audit event for a refusal that has no policy decision behind it (the
/// policy could not be evaluated): `reason` names the rule or failure,
/// never data.
pub fn refusal(
    who: &Identity,
    action: Action,
    reason: &str,
    policy_digest: Option<String>,
) -> AuditEvent {
    AuditEvent {
        seq: 0,
        prev: Hash::ZERO,
        time: Utc::now(),
        user: who.user.clone(),
        org: who.org.clone(),
        role: who.role.clone(),
        action,
        purpose: None,
        case_ref: None,
        lawful_basis: None,
        decision: Decision::Deny {
            reason: reason.to_owned(),
        },
        policy_digest,
        agreement: None,
        extract_id: None,
        disclosed: Default::default(),
        subjects: Default::default(),
    }
}

/// The policy input for `who` taking `action` over `sources`, now, with
/// no purpose or case (ingest, audit reads).
pub(crate) fn policy_input(
    who: &Identity,
    action: concord_policy::Action,
    sources: &[&str],
) -> concord_policy::PolicyInput {
    concord_policy::PolicyInput {
        action,
        subject: concord_policy::Subject {
            org: who.org.clone(),
            role: who.role.clone(),
            user: who.user.clone(),
        },
        purpose: None,
        case_ref: None,
        reason: None,
        resource: concord_policy::Resource {
            sources: sources.iter().map(|s| (*s).to_owned()).collect(),
            record_kinds: vec![],
            fields: vec![],
        },
        time: Utc::now(),
    }
}

impl crate::Broker {
    /// Asks the policy about `input`. An allow is returned, for the caller
    /// to audit together with what it then does. A refusal, or a policy
    /// that cannot be evaluated, is appended to the audit log first (the
    /// event from [`event`] or [`refusal`], completed by `complete`) and
    /// then returned as the error; if that append fails the request is
    /// still refused.
    pub(crate) async fn decide_audited(
        &self,
        who: &Identity,
        input: concord_policy::PolicyInput,
        complete: impl FnOnce(&mut AuditEvent),
    ) -> Result<concord_policy::Decision, ServerError> {
        let action = input.action;
        let (mut denied, error) = match self.policy.decide(&input) {
            Ok(d) if d.allow => return Ok(d),
            Ok(d) => {
                let error = ServerError::PermissionDenied(format!(
                    "{action} refused by policy: {}",
                    d.reason.as_deref().unwrap_or("no rule allows it")
                ));
                (event(who, action_of(action), &d), error)
            }
            Err(e) => (
                refusal(
                    who,
                    action_of(action),
                    "policy evaluation failed",
                    Some(self.policy.bundle_digest()),
                ),
                ServerError::Policy(e),
            ),
        };
        complete(&mut denied);
        if let Err(e) = self.audit.append(denied).await {
            tracing::warn!(error = %e, %action, "a refusal could not be audited; it is refused all the same");
        }
        Err(error)
    }
}

/// Events read per query when the whole log is read.
const READ_PAGE: u32 = 10_000;

/// The whole stored log, read straight from the database: every event's
/// bytes in `seq` order (the rows as they are, whatever they hold) and
/// every checkpoint. What `concord audit verify` and `export` read.
pub async fn read_stored_log(store: &Store) -> Result<concord_audit::export::Export, AuditError> {
    let mut events = Vec::new();
    let mut from = 0;
    loop {
        let page = store.audit_events(from, READ_PAGE).await?;
        let Some(last) = page.last().map(|e| e.seq) else {
            break;
        };
        events.extend(page.into_iter().map(|e| e.event));
        from = last + 1;
    }
    let checkpoints = store
        .audit_checkpoints()
        .await?
        .iter()
        .map(|row| SignedCheckpoint::from_note(&row.note))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(concord_audit::export::Export {
        events,
        checkpoints,
    })
}
