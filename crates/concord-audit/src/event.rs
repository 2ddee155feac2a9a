//! The audit event and its canonical encoding.
//!
//! # Encoding (version 1)
//!
//! An event is one line of JSON (UTF-8, no whitespace, no trailing newline)
//! with every key present, always in this order:
//!
//! ```text
//! {"v":1,"seq":17,"prev":"<64 hex>","time":"2026-11-22T10:00:00Z",
//!  "user":"u123","org":"rbkc-childrens","role":"mash_officer","action":"lookup",
//!  "purpose":"safeguarding_children"|null,"case_ref":"MASH-2026-0042"|null,
//!  "lawful_basis":"…"|null,"decision":"allow"|"deny","reason":null|"…",
//!  "policy_digest":"<hex>"|null,"agreement":"…"|null,"extract_id":"…"|null,
//!  "disclosed":[{"source":"police","fields":["category","event_date"]}],
//!  "subjects":["person:42","ps:<64 hex>"]}
//! ```
//!
//! * integers are JSON integers (no floats anywhere); `prev` is lowercase hex;
//! * `time` is RFC 3339 in UTC with a `Z`, with as many fractional digits as
//!   the value needs (none, 3, 6 or 9: chrono's `SecondsFormat::AutoSi`);
//! * `disclosed` is sorted by source code order (`concord_core::Source`),
//!   each source once, its field names sorted and distinct; `subjects` is
//!   sorted (`person:` ids by number, then `ps:` pseudonyms by bytes) and
//!   distinct;
//! * strings are escaped as `serde_json` escapes them (`"`, `\` and control
//!   characters only; everything else is literal UTF-8).
//!
//! JSON because a data protection officer, `jq` and SQL JSON functions can
//! read it; canonical because the bytes are hashed. [`AuditEvent::decode`]
//! re-encodes what it parsed and refuses anything that does not come back
//! byte for byte, so each event has exactly one encoding and a verifier in
//! any language only needs to hash the stored bytes.
//!
//! # The chain
//!
//! `prev` is the leaf hash (`SHA-256(0x00 ‖ bytes)`) of the event before,
//! all zeros for event 0, and `seq` is the event's position. The Merkle tree
//! alone can say only *that* a checkpoint no longer matches; the chain lets
//! [`crate::verify_log`] name *which* event was edited, inserted, deleted or
//! moved, as long as the tamperer did not also rewrite every later event.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use concord_core::{ExtractId, Source, TOKEN_LEN, Token};
use serde::{Deserialize, Serialize};

use crate::{AuditError, Hash, leaf_hash};

/// The encoding version written in `"v"`.
pub const ENCODING_VERSION: u32 = 1;

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// A duty holder's push agent uploaded an extract.
    Ingest,
    /// A practitioner looked up a person.
    Lookup,
    /// An analyst asked for aggregate figures.
    Aggregate,
    /// Someone read the audit log.
    AuditRead,
    /// A reviewer listed or resolved possible matches.
    LinkReview,
    /// A policy decision recorded on its own (e.g. a refusal before any work).
    PolicyDecision,
    /// A new policy bundle was loaded (or refused).
    PolicyReload,
    /// Records past their retention period were purged.
    RetentionPurge,
    /// A key was rotated (broker key re-keying, audit key change).
    KeyRotation,
}

impl Action {
    pub const ALL: [Action; 9] = [
        Action::Ingest,
        Action::Lookup,
        Action::Aggregate,
        Action::AuditRead,
        Action::LinkReview,
        Action::PolicyDecision,
        Action::PolicyReload,
        Action::RetentionPurge,
        Action::KeyRotation,
    ];

    /// The stable name (the policy action name where there is one).
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::Ingest => "ingest",
            Action::Lookup => "lookup",
            Action::Aggregate => "aggregate",
            Action::AuditRead => "audit_read",
            Action::LinkReview => "link_review",
            Action::PolicyDecision => "policy_decision",
            Action::PolicyReload => "policy_reload",
            Action::RetentionPurge => "retention_purge",
            Action::KeyRotation => "key_rotation",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = AuditError;
    fn from_str(s: &str) -> Result<Action, AuditError> {
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| AuditError::Event("unknown action".into()))
    }
}

/// The policy's answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Decision {
    Allow,
    Deny { reason: String },
}

impl Decision {
    pub fn is_allow(&self) -> bool {
        matches!(self, Decision::Allow)
    }
}

/// A record field name (`risk_level`, `event_date`, …): a name, never a value.
/// `[a-z][a-z0-9_]*`, at most 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldName(String);

impl FieldName {
    pub fn parse(s: &str) -> Result<FieldName, AuditError> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.as_bytes()[0].is_ascii_lowercase()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(FieldName(s.to_owned()))
        } else {
            Err(AuditError::Event(
                "a field name must be [a-z][a-z0-9_]*, at most 64 characters".into(),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FieldName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whom an event is about: only pseudonymous forms can be written, so an
/// identifier (a name, an NHS number, a postcode) cannot end up in a leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SubjectId {
    /// The broker's internal person id (`person:42`).
    Person(u64),
    /// A stored pseudonym or a per-recipient pseudonym (`ps:<64 hex>`).
    Pseudonym(Token),
}

impl fmt::Display for SubjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubjectId::Person(id) => write!(f, "person:{id}"),
            SubjectId::Pseudonym(t) => write!(f, "ps:{}", hex::encode(t.as_bytes())),
        }
    }
}

impl FromStr for SubjectId {
    type Err = AuditError;
    fn from_str(s: &str) -> Result<SubjectId, AuditError> {
        let bad = || AuditError::Event("a subject must be person:<id> or ps:<64 hex>".into());
        if let Some(id) = s.strip_prefix("person:") {
            // u64's parser accepts a leading '+'; the canonical check refuses
            // it, and leading zeros, by re-encoding.
            return id.parse().map(SubjectId::Person).map_err(|_| bad());
        }
        if let Some(h) = s.strip_prefix("ps:") {
            let mut out = [0u8; TOKEN_LEN];
            hex::decode_to_slice(h, &mut out).map_err(|_| bad())?;
            return Ok(SubjectId::Pseudonym(Token(out)));
        }
        Err(bad())
    }
}

/// One audit event: who did what, why, what the policy said and what left
/// the broker. Holds pseudonyms and hashes, never identifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Position in the log, from 0.
    pub seq: u64,
    /// Leaf hash of event `seq - 1`; [`Hash::ZERO`] for event 0. Set both
    /// with [`AuditEvent::link`].
    pub prev: Hash,
    pub time: DateTime<Utc>,
    /// Who: user (or agent), organisation and role, from the certificate.
    pub user: String,
    pub org: String,
    pub role: String,
    pub action: Action,
    pub purpose: Option<String>,
    pub case_ref: Option<String>,
    pub lawful_basis: Option<String>,
    pub decision: Decision,
    /// Digest of the policy bundle that decided.
    pub policy_digest: Option<String>,
    /// The information-sharing agreement that permitted it.
    pub agreement: Option<String>,
    pub extract_id: Option<ExtractId>,
    /// What was disclosed: the sources and, per source, the field names.
    pub disclosed: BTreeMap<Source, BTreeSet<FieldName>>,
    /// Whom it was about.
    pub subjects: BTreeSet<SubjectId>,
}

#[derive(Serialize)]
struct WireOut<'a> {
    v: u32,
    seq: u64,
    prev: String,
    time: String,
    user: &'a str,
    org: &'a str,
    role: &'a str,
    action: &'static str,
    purpose: Option<&'a str>,
    case_ref: Option<&'a str>,
    lawful_basis: Option<&'a str>,
    decision: &'static str,
    reason: Option<&'a str>,
    policy_digest: Option<&'a str>,
    agreement: Option<&'a str>,
    extract_id: Option<&'a str>,
    disclosed: Vec<DisclosedOut<'a>>,
    subjects: Vec<String>,
}

#[derive(Serialize)]
struct DisclosedOut<'a> {
    source: &'static str,
    fields: Vec<&'a str>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireIn {
    v: u32,
    seq: u64,
    prev: String,
    time: String,
    user: String,
    org: String,
    role: String,
    action: String,
    purpose: Option<String>,
    case_ref: Option<String>,
    lawful_basis: Option<String>,
    decision: String,
    reason: Option<String>,
    policy_digest: Option<String>,
    agreement: Option<String>,
    extract_id: Option<String>,
    disclosed: Vec<DisclosedIn>,
    subjects: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DisclosedIn {
    source: String,
    fields: Vec<String>,
}

fn bad(reason: &str) -> AuditError {
    AuditError::Event(reason.to_owned())
}

impl AuditEvent {
    /// Sets `seq` and `prev` so this event is the next one of `log`.
    pub fn link(&mut self, log: &crate::MerkleLog) {
        self.seq = log.size();
        self.prev = log.last_leaf().unwrap_or(Hash::ZERO);
    }

    /// The canonical bytes (see the module documentation): what the store
    /// keeps and what the Merkle leaf hashes.
    pub fn encode(&self) -> Vec<u8> {
        let (decision, reason) = match &self.decision {
            Decision::Allow => ("allow", None),
            Decision::Deny { reason } => ("deny", Some(reason.as_str())),
        };
        let wire = WireOut {
            v: ENCODING_VERSION,
            seq: self.seq,
            prev: self.prev.to_hex(),
            time: self.time.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            user: &self.user,
            org: &self.org,
            role: &self.role,
            action: self.action.as_str(),
            purpose: self.purpose.as_deref(),
            case_ref: self.case_ref.as_deref(),
            lawful_basis: self.lawful_basis.as_deref(),
            decision,
            reason,
            policy_digest: self.policy_digest.as_deref(),
            agreement: self.agreement.as_deref(),
            extract_id: self.extract_id.as_ref().map(ExtractId::as_str),
            disclosed: self
                .disclosed
                .iter()
                .map(|(source, fields)| DisclosedOut {
                    source: source.as_str(),
                    fields: fields.iter().map(FieldName::as_str).collect(),
                })
                .collect(),
            subjects: self.subjects.iter().map(SubjectId::to_string).collect(),
        };
        serde_json::to_vec(&wire).expect("an audit event always serialises")
    }

    /// The Merkle leaf hash of this event's encoding.
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(&self.encode())
    }

    /// Parses canonical bytes; anything [`AuditEvent::encode`] would not
    /// have written byte for byte is refused.
    pub fn decode(bytes: &[u8]) -> Result<AuditEvent, AuditError> {
        // serde_json's messages can quote the input; keep the position only.
        let wire: WireIn = serde_json::from_slice(bytes).map_err(|e| {
            let what = match e.classify() {
                serde_json::error::Category::Data => "the wrong shape",
                serde_json::error::Category::Eof => "truncated",
                _ => "not JSON",
            };
            AuditError::Event(format!("{what} at column {}", e.column()))
        })?;
        if wire.v != ENCODING_VERSION {
            return Err(bad("unknown encoding version"));
        }
        let prev = Hash::from_hex(&wire.prev).ok_or_else(|| bad("prev is not 64 hex digits"))?;
        let time = DateTime::parse_from_rfc3339(&wire.time)
            .map_err(|_| bad("time is not RFC 3339"))?
            .with_timezone(&Utc);
        let decision = match (wire.decision.as_str(), wire.reason) {
            ("allow", None) => Decision::Allow,
            ("allow", Some(_)) => return Err(bad("an allow decision carries no reason")),
            ("deny", Some(reason)) => Decision::Deny { reason },
            ("deny", None) => return Err(bad("a deny decision needs a reason")),
            _ => return Err(bad("decision must be allow or deny")),
        };
        let extract_id = wire
            .extract_id
            .map(|s| ExtractId::parse(&s).map_err(|_| bad("extract_id is not an extract id")))
            .transpose()?;
        let mut disclosed = BTreeMap::new();
        for d in wire.disclosed {
            let source: Source = d.source.parse().map_err(|_| bad("unknown source"))?;
            let fields = d
                .fields
                .iter()
                .map(|f| FieldName::parse(f))
                .collect::<Result<BTreeSet<_>, _>>()?;
            disclosed
                .entry(source)
                .or_insert_with(BTreeSet::new)
                .extend(fields);
        }
        let subjects = wire
            .subjects
            .iter()
            .map(|s| s.parse())
            .collect::<Result<BTreeSet<SubjectId>, _>>()?;
        let event = AuditEvent {
            seq: wire.seq,
            prev,
            time,
            user: wire.user,
            org: wire.org,
            role: wire.role,
            action: wire.action.parse()?,
            purpose: wire.purpose,
            case_ref: wire.case_ref,
            lawful_basis: wire.lawful_basis,
            decision,
            policy_digest: wire.policy_digest,
            agreement: wire.agreement,
            extract_id,
            disclosed,
            subjects,
        };
        if event.encode() != bytes {
            return Err(bad(
                "not in canonical form (key order, spacing, escapes, time format, or unsorted or repeated sources, fields or subjects)",
            ));
        }
        Ok(event)
    }
}

impl fmt::Display for AuditEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "#{} {} {} ({}/{}) {}",
            self.seq,
            self.time.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            self.user,
            self.org,
            self.role,
            self.action
        )?;
        match &self.decision {
            Decision::Allow => f.write_str(" allowed")?,
            Decision::Deny { reason } => write!(f, " denied ({reason})")?,
        }
        if let Some(p) = &self.purpose {
            write!(f, " purpose={p}")?;
        }
        if let Some(c) = &self.case_ref {
            write!(f, " case={c}")?;
        }
        if !self.disclosed.is_empty() {
            let sources: Vec<&str> = self.disclosed.keys().map(|s| s.as_str()).collect();
            write!(f, " disclosed={}", sources.join(","))?;
        }
        if !self.subjects.is_empty() {
            write!(f, " subjects={}", self.subjects.len())?;
        }
        Ok(())
    }
}
