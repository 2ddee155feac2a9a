//! Concord's tamper-evident audit log (DESIGN §6): the core, without I/O.
//!
//! * [`AuditEvent`]: who did what, for which purpose and case, under which
//!   lawful basis, what the policy decided (with its bundle digest) and what
//!   left the broker (sources, field names, pseudonymous subjects; never
//!   identifiers). [`AuditEvent::encode`] gives its one canonical encoding
//!   (JSON with a fixed key order, see [`event`]); each event also carries
//!   its sequence number and the leaf hash of the event before it.
//! * [`merkle`]: the RFC 6962 Merkle tree over those encodings (leaf hash
//!   `SHA-256(0x00 ‖ event)`), inclusion and consistency proofs and their
//!   verification, and [`MerkleLog`], the in-memory log that appends in
//!   amortised O(1) and proves at any earlier size.
//! * [`Checkpoint`] / [`SignedCheckpoint`]: tree heads signed with the
//!   broker's Ed25519 audit key ([`AuditSigner`], from a `kind:
//!   "audit_signing"` key file), in the C2SP signed-note form.
//! * [`verify_log`]: the offline check of a whole log against its
//!   checkpoints, which names the first event that does not fit and says
//!   whether it was edited, inserted, deleted or moved (see [`verify`] for
//!   what can and cannot be localised).
//!
//! The store persists the encoded events and checkpoints; the server appends
//! (`link`, `encode`, persist, then [`MerkleLog::append`]) and fails the
//! request if the audit write fails. Appends must be serialised (one
//! writer, or a lock in the database), since each event names the one
//! before it.

#![forbid(unsafe_code)]

mod checkpoint;
pub mod event;
pub mod export;
pub mod merkle;
pub mod verify;

pub use checkpoint::{AuditSigner, Checkpoint, ORIGIN_PREFIX, SignedCheckpoint, parse_vkey};
pub use event::{Action, AuditEvent, Decision, ENCODING_VERSION, FieldName, SubjectId};
pub use merkle::{
    Frontier, Hash, MerkleLog, empty_root, leaf_hash, node_hash, root, verify_consistency,
    verify_inclusion,
};
pub use verify::{TamperKind, Tampering, VerifyError, VerifyReport, verify_log};

/// Errors of this crate other than a failed [`verify_log`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    #[error("not an audit event: {0}")]
    Event(String),
    #[error("audit key {key_id} {reason}")]
    Key {
        key_id: String,
        reason: &'static str,
    },
    #[error("not a checkpoint: {0}")]
    MalformedCheckpoint(String),
    #[error("the checkpoint names key {checkpoint}, but the signer holds {signer}")]
    KeyMismatch { checkpoint: String, signer: String },
    #[error("the checkpoint is signed by {signer} with a different key than the one given")]
    WrongKey { signer: String },
    #[error("the checkpoint's signature does not verify: it was altered after signing")]
    BadSignature,
    #[error(
        "it contradicts a checkpoint that matches the log (or the empty tree): the key signed two different logs"
    )]
    ConflictingCheckpoint,
    #[error("leaf {index} is not in a tree of {size} leaves")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("tree size {size} is larger than {limit}")]
    SizeOutOfRange { size: u64, limit: u64 },
    #[error("the proof holds {got} hashes where {need} are needed")]
    ProofLength { got: usize, need: usize },
    #[error("the proof does not lead to the expected root")]
    RootMismatch,
}
