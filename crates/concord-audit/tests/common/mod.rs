//! Shared fixtures: a signing key, sample events and a signed log.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeZone, Utc};
use concord_audit::{
    Action, AuditEvent, AuditSigner, Decision, FieldName, Hash, MerkleLog, SignedCheckpoint,
    SubjectId, leaf_hash,
};
use concord_core::{ExtractId, Source, Token};
use concord_keys::KeyFile;
use ring::rand::SystemRandom;
use ring::signature::Ed25519KeyPair;

/// The JSON key file `concord pki init` writes for the audit key.
pub fn key_file_json(key_id: &str) -> String {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    format!(
        r#"{{"kind": "audit_signing", "key_id": "{key_id}", "pkcs8_hex": "{}"}}"#,
        hex::encode(pkcs8.as_ref())
    )
}

pub fn signer(key_id: &str) -> AuditSigner {
    let file = KeyFile::parse(&key_file_json(key_id), "audit.json").unwrap();
    AuditSigner::from_key_file(&file).unwrap()
}

pub fn at(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap() + chrono::Duration::seconds(secs)
}

/// A lookup event with seq and prev left for `link` to fill.
pub fn lookup(i: u64) -> AuditEvent {
    let mut disclosed = BTreeMap::new();
    disclosed.insert(
        Source::Police,
        BTreeSet::from([
            FieldName::parse("category").unwrap(),
            FieldName::parse("event_date").unwrap(),
        ]),
    );
    disclosed.insert(
        Source::Health,
        BTreeSet::from([FieldName::parse("attendance_date").unwrap()]),
    );
    AuditEvent {
        seq: 0,
        prev: Hash::ZERO,
        time: at(i as i64),
        user: format!("u{}", 100 + i % 7),
        org: "rbkc-childrens".into(),
        role: "mash_officer".into(),
        action: Action::Lookup,
        purpose: Some("safeguarding_children".into()),
        case_ref: Some(format!("MASH-2026-{:04}", i % 50)),
        lawful_basis: Some("Children Act 2004 s.11".into()),
        decision: if i % 5 == 4 {
            Decision::Deny {
                reason: "no agreement permits health data for this purpose".into(),
            }
        } else {
            Decision::Allow
        },
        policy_digest: Some(
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
        ),
        agreement: Some("isa-mash-2026".into()),
        extract_id: None,
        disclosed,
        subjects: BTreeSet::from([
            SubjectId::Person(i * 3 + 1),
            SubjectId::Pseudonym(Token([i as u8; 32])),
        ]),
    }
}

pub fn ingest(i: u64) -> AuditEvent {
    AuditEvent {
        action: Action::Ingest,
        org: "met-police".into(),
        role: "push_agent".into(),
        purpose: None,
        case_ref: None,
        lawful_basis: Some("Police, Crime, Sentencing and Courts Act 2022 s.16".into()),
        extract_id: Some(ExtractId::parse(&format!("police-2026-11-{i:02}")).unwrap()),
        disclosed: BTreeMap::new(),
        subjects: BTreeSet::new(),
        agreement: None,
        decision: Decision::Allow,
        ..lookup(i)
    }
}

/// A chained log: the encoded events and the events themselves.
pub fn events(n: u64) -> (Vec<Vec<u8>>, Vec<AuditEvent>) {
    let mut log = MerkleLog::new();
    let mut bytes = Vec::new();
    let mut evs = Vec::new();
    for i in 0..n {
        let mut e = if i % 3 == 0 { ingest(i) } else { lookup(i) };
        e.link(&log);
        let b = e.encode();
        log.append(leaf_hash(&b));
        bytes.push(b);
        evs.push(e);
    }
    (bytes, evs)
}

/// Checkpoints of `events` at every `every`-th size and at the end.
pub fn checkpoints(signer: &AuditSigner, events: &[Vec<u8>], every: u64) -> Vec<SignedCheckpoint> {
    let mut log = MerkleLog::new();
    let mut out = Vec::new();
    for (i, e) in events.iter().enumerate() {
        log.append(leaf_hash(e));
        let size = i as u64 + 1;
        if size.is_multiple_of(every) || size == events.len() as u64 {
            out.push(signer.checkpoint(&log, at(size as i64)));
        }
    }
    out
}
