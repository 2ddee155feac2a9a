//! The audit log inside the broker (DESIGN §6): one writer task per broker
//! process appends every event, in order, and signs checkpoints.
//!
//! * **One writer.** Each event names the leaf hash of the one before it,
//!   so appends are serialised: [`AuditLog::append`] hands the event to the
//!   writer task over a bounded channel (backpressure, not buffering) and
//!   waits for its receipt.
//! * **Group commit.** The writer takes whatever is queued (up to
//!   [`AuditConfig::max_batch`]), numbers and links each event (`seq`,
//!   `prev`), writes them all in one store transaction, and only then adds
//!   them to its in-memory [`MerkleLog`] and answers each caller with its
//!   receipt (an inclusion proof against the tree after the batch). A
//!   failed write answers every caller in the batch with an error (the
//!   request fails and discloses nothing) and leaves the in-memory log as
//!   it was; before the next batch the writer re-reads the stored tail, in
//!   case the failure hid a commit.
//! * **Checkpoints.** [`AuditConfig::checkpoint_interval`] (4 s) after the
//!   log grows (so within 5 s of any commit), at start if the latest checkpoint does not cover the log,
//!   on [`AuditLog::checkpoint`] and when the writer stops, it signs the
//!   tree head with the broker's Ed25519 audit key and stores the note.
//! * **Start.** The tree is rebuilt from the stored leaf hashes; the broker
//!   refuses to start if positions have gaps, the last event's bytes do not
//!   hash to its stored leaf hash, the tree does not match the latest signed
//!   checkpoint, or an event after that checkpoint (about to be signed) does
//!   not hash, decode, claim its position and link to the one before
//!   (`concord audit verify` then names the first event that does not fit).
//!
//! The writer is per process: two brokers on one PostgreSQL would each
//! number events from their own view (see ARCHITECTURE.md, Audit).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::Utc;
use concord_audit::{
    Action, AuditEvent, AuditSigner, Decision, Hash, MerkleLog, SignedCheckpoint, SubjectId,
    leaf_hash,
};
use concord_pki::Identity;
use concord_proto::v1;
use concord_store::{AuditAppender, AuditRow, CheckpointRow, Store, StoreError};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::error::ServerError;

/// How the writer batches and checkpoints.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// Appends waiting for the writer before callers wait to enqueue.
    pub queue: usize,
    /// Most events written in one transaction.
    pub max_batch: usize,
    /// How long after the log grows the writer signs a checkpoint. A batch
    /// in flight and the checkpoint's own write come on top, so the
    /// default, 4 s, keeps every event within 5 s of a signature
    /// (measured by `concord-bench audit`).
    pub checkpoint_interval: Duration,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            queue: 4_096,
            max_batch: 512,
            checkpoint_interval: Duration::from_secs(4),
        }
    }
}

/// Proof that an event is in the log: its position and leaf hash, and an
/// RFC 6962 inclusion proof against the tree of `tree_size` leaves with
/// root `root`.
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
    #[error("the audit store failed: {0}")]
    Store(#[from] StoreError),
    #[error("the audit writer has stopped")]
    Stopped,
    #[error(
        "the stored audit log is inconsistent: {0}; run `concord audit verify` to find the first event that does not fit"
    )]
    Inconsistent(String),
    #[error(transparent)]
    Log(#[from] concord_audit::AuditError),
}

impl From<AuditError> for ServerError {
    fn from(e: AuditError) -> ServerError {
        ServerError::Audit(e.to_string())
    }
}

/// The same refusal for every caller of a failed batch.
fn refused(e: &AuditError) -> impl Fn() -> ServerError + use<> {
    let message = e.to_string();
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
/// signed checkpoint. Locks are never held across an await.
struct Shared {
    tree: RwLock<MerkleLog>,
    latest: RwLock<Option<SignedCheckpoint>>,
}

/// Handle on the audit writer. Dropping the last handle stops the writer
/// after it signs a final checkpoint.
pub struct AuditLog {
    cmds: mpsc::Sender<Cmd>,
    shared: Arc<Shared>,
    checkpoints: watch::Receiver<u64>,
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
    /// checkpoint, signs a checkpoint if that one does not cover the log,
    /// and starts the writer task.
    pub async fn start(
        store: Store,
        signer: AuditSigner,
        config: AuditConfig,
    ) -> Result<Arc<AuditLog>, AuditError> {
        let tree = rebuild(&store).await?;
        let latest = match store.latest_audit_checkpoint().await? {
            Some(row) => Some(check_checkpoint(&row, &tree, &signer)?),
            None => None,
        };
        // What no signature vouches for yet is about to be signed: check
        // its chain first.
        check_tail(
            &store,
            &tree,
            latest.as_ref().map_or(0, |c| c.checkpoint.size),
        )
        .await?;
        let public_key = signer.public_key();
        let vkey = signer.vkey();
        let key_id = signer.key_id().to_owned();
        let shared = Arc::new(Shared {
            tree: RwLock::new(tree),
            latest: RwLock::new(latest),
        });
        let size = shared.tree.read().expect("audit tree lock").size();
        let covered = shared
            .latest
            .read()
            .expect("audit checkpoint lock")
            .as_ref()
            .map(|c| c.checkpoint.size);
        let (signed, checkpoints) = watch::channel(covered.unwrap_or(0));
        let mut writer = Writer {
            appender: store.audit_appender(),
            store,
            signer,
            shared: shared.clone(),
            signed,
            config: config.clone(),
            stale: false,
            due: None,
        };
        if covered != Some(size) {
            writer.sign().await?;
        }
        let (cmds, rx) = mpsc::channel(config.queue.max(1));
        tokio::spawn(writer.run(rx));
        Ok(Arc::new(AuditLog {
            cmds,
            shared,
            checkpoints,
            public_key,
            vkey,
            key_id,
        }))
    }

    /// Appends `event` (its seq and prev are set by the writer), waits until
    /// it is durably committed, and returns its receipt. Err => the caller
    /// must fail the request and disclose nothing.
    pub async fn append(&self, event: AuditEvent) -> Result<AuditReceipt, ServerError> {
        let (tx, rx) = oneshot::channel();
        self.cmds
            .send(Cmd::Append(Box::new(event), tx))
            .await
            .map_err(|_| AuditError::Stopped)?;
        rx.await.map_err(|_| AuditError::Stopped)?
    }

    /// A signed checkpoint covering every event committed so far: signed
    /// now if the log grew since the last one.
    pub async fn checkpoint(&self) -> Result<SignedCheckpoint, ServerError> {
        let (tx, rx) = oneshot::channel();
        self.cmds
            .send(Cmd::Checkpoint(tx))
            .await
            .map_err(|_| AuditError::Stopped)?;
        rx.await.map_err(|_| AuditError::Stopped)?
    }

    /// The newest signed checkpoint, as it is (it may lag the log by up to
    /// the checkpoint interval).
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

    /// Watches the size the newest signed checkpoint covers.
    pub fn watch_checkpoints(&self) -> watch::Receiver<u64> {
        self.checkpoints.clone()
    }
}

/// The tree of the stored leaf hashes; refuses gaps and a last event whose
/// bytes do not hash to its stored leaf hash (the next `prev` would be wrong).
async fn rebuild(store: &Store) -> Result<MerkleLog, AuditError> {
    let leaves = store.audit_leaf_hashes(0).await?;
    let mut tree = MerkleLog::new();
    for (seq, hash) in leaves {
        if seq != tree.size() {
            return Err(AuditError::Inconsistent(format!(
                "position {} holds sequence number {seq}",
                tree.size()
            )));
        }
        tree.append(Hash(hash));
    }
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
    Ok(tree)
}

/// Events `from ..` (those after the latest checkpoint) hash to their
/// stored leaf hashes, decode, and each claims its position and links to
/// the one before.
async fn check_tail(store: &Store, tree: &MerkleLog, from: u64) -> Result<(), AuditError> {
    let mut at = from;
    while at < tree.size() {
        let page = store.audit_events(at, READ_PAGE).await?;
        if page.is_empty() {
            break;
        }
        for stored in page {
            let p = stored.seq;
            let fits = AuditEvent::decode(&stored.event).is_ok_and(|e| {
                e.seq == p
                    && Some(leaf_hash(&stored.event)) == tree.leaf(p)
                    && e.prev
                        == p.checked_sub(1)
                            .map_or(Some(Hash::ZERO), |q| tree.leaf(q))
                            .unwrap_or(Hash::ZERO)
            });
            if !fits {
                return Err(AuditError::Inconsistent(format!(
                    "event {p}, after the latest signed checkpoint, does not fit the chain"
                )));
            }
            at = p + 1;
        }
    }
    Ok(())
}

/// The stored checkpoint, if it is well formed, signed by this key (when it
/// names this key) and matches the rebuilt tree.
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
    signed: watch::Sender<u64>,
    config: AuditConfig,
    /// A write failed: the store may hold events the tree does not.
    stale: bool,
    /// When the next checkpoint is due (the log grew since the last one).
    due: Option<Instant>,
}

type Waiter = oneshot::Sender<Result<AuditReceipt, ServerError>>;

/// Tries at numbering a batch when other broker processes keep taking the
/// positions first.
const MAX_ATTEMPTS: u32 = 8;

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Cmd>) {
        let mut appends: Vec<(Box<AuditEvent>, Waiter)> = Vec::new();
        let mut checkpoints = Vec::new();
        loop {
            let due = self.due;
            let first = tokio::select! {
                // A due checkpoint goes before more appends.
                biased;
                () = sleep_until(due), if due.is_some() => {
                    if let Err(e) = self.sign().await {
                        tracing::error!(error = %e, "audit checkpoint failed; it is retried");
                        self.due = Some(Instant::now() + Duration::from_secs(1));
                    }
                    continue;
                }
                cmd = rx.recv() => cmd,
            };
            let Some(first) = first else { break };
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
                let result = self.sign_if_grown().await;
                if let Err(e) = &result {
                    tracing::error!(error = %e, "audit checkpoint failed");
                }
                for w in checkpoints.drain(..) {
                    let _ = w.send(match &result {
                        Ok(c) => Ok(c.clone()),
                        Err(e) => Err(refused(e)()),
                    });
                }
            }
        }
        if self.due.is_some()
            && let Err(e) = self.sign().await
        {
            tracing::error!(error = %e, "the final audit checkpoint failed");
        }
    }

    /// Writes one batch in one transaction and answers every caller.
    async fn write(&mut self, batch: Vec<(Box<AuditEvent>, Waiter)>) {
        let mut attempts = 0;
        let rows = loop {
            attempts += 1;
            if self.stale {
                match self.resync().await {
                    Ok(()) => self.stale = false,
                    Err(e) => {
                        tracing::error!(error = %e, events = batch.len(), "audit log not written: the writer cannot re-read the stored log");
                        let refusal = refused(&e);
                        for (_, w) in batch {
                            let _ = w.send(Err(refusal()));
                        }
                        return;
                    }
                }
            }
            let rows = self.link(&batch);
            match self.appender.append(&rows).await {
                Ok(()) => break rows,
                // Another broker process took these positions: read what
                // it wrote and number the batch after it.
                Err(StoreError::AuditConflict) if attempts < MAX_ATTEMPTS => {
                    tracing::debug!(
                        attempts,
                        "audit positions taken by another writer; retrying"
                    );
                    self.stale = true;
                }
                Err(e) => {
                    tracing::error!(error = %e, events = rows.len(), "audit write failed; the requests are refused");
                    self.stale = true;
                    let refusal = refused(&AuditError::Store(e));
                    for (_, w) in batch {
                        let _ = w.send(Err(refusal()));
                    }
                    return;
                }
            }
        };
        let receipts: Vec<AuditReceipt> = {
            let mut tree = self.shared.tree.write().expect("audit tree lock");
            for r in &rows {
                tree.append(Hash(r.leaf_hash));
            }
            let tree_size = tree.size();
            let root = tree.root();
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
        for ((_, w), receipt) in batch.into_iter().zip(receipts) {
            let _ = w.send(Ok(receipt));
        }
        self.due
            .get_or_insert_with(|| Instant::now() + self.config.checkpoint_interval);
    }

    /// The batch's rows: each event numbered and linked after the tree's
    /// last leaf, encoded and hashed.
    fn link(&self, batch: &[(Box<AuditEvent>, Waiter)]) -> Vec<AuditRow> {
        let (mut size, mut prev) = {
            let tree = self.shared.tree.read().expect("audit tree lock");
            (tree.size(), tree.last_leaf().unwrap_or(Hash::ZERO))
        };
        let mut rows = Vec::with_capacity(batch.len());
        for (event, _) in batch {
            let mut event = event.clone();
            event.seq = size;
            event.prev = prev;
            let bytes = event.encode();
            let hash = leaf_hash(&bytes);
            rows.push(AuditRow {
                seq: size,
                leaf_hash: hash.0,
                event: bytes,
                time: event.time,
                subjects: event.subjects.iter().map(SubjectId::to_string).collect(),
            });
            size += 1;
            prev = hash;
        }
        rows
    }

    /// Adds to the tree whatever the store holds beyond it (a failed write
    /// may have committed after all).
    async fn resync(&mut self) -> Result<(), AuditError> {
        let from = self.shared.tree.read().expect("audit tree lock").size();
        let tail = self.store.audit_leaf_hashes(from).await?;
        let mut tree = self.shared.tree.write().expect("audit tree lock");
        for (seq, hash) in tail {
            if seq != tree.size() {
                return Err(AuditError::Inconsistent(format!(
                    "position {} holds sequence number {seq}",
                    tree.size()
                )));
            }
            tree.append(Hash(hash));
        }
        if tree.size() > from {
            self.due.get_or_insert_with(Instant::now);
        }
        Ok(())
    }

    /// Signs a checkpoint if the log grew since the newest one; returns the
    /// newest.
    async fn sign_if_grown(&mut self) -> Result<SignedCheckpoint, AuditError> {
        let size = self.shared.tree.read().expect("audit tree lock").size();
        let latest = self
            .shared
            .latest
            .read()
            .expect("audit checkpoint lock")
            .clone();
        match latest {
            Some(c) if c.checkpoint.size == size => Ok(c),
            _ => self.sign().await,
        }
    }

    /// Signs and stores the checkpoint of the tree as it is now.
    async fn sign(&mut self) -> Result<SignedCheckpoint, AuditError> {
        let signed = {
            let tree = self.shared.tree.read().expect("audit tree lock");
            self.signer.checkpoint(&tree, Utc::now())
        };
        let c = &signed.checkpoint;
        self.store
            .save_audit_checkpoint(&CheckpointRow {
                tree_size: c.size,
                root: c.root.0,
                note: signed.to_note(),
                time: c.time,
            })
            .await?;
        tracing::debug!(size = c.size, "audit checkpoint signed");
        *self.shared.latest.write().expect("audit checkpoint lock") = Some(signed.clone());
        self.signed.send_replace(c.size);
        self.due = None;
        Ok(signed)
    }
}

async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
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
