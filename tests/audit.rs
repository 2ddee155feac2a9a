//! The audit log end to end, against SQLite and PostgreSQL: every push
//! decision and every audit read is an event; receipts prove inclusion;
//! checkpoints are signed; tampering with the database is found and the
//! first bad event named by the code `concord audit verify` runs; a failed
//! audit write fails the push with nothing stored; only the DPO reads the
//! events, while every partnership member reads signed checkpoints.

use std::collections::BTreeSet;

use concord_audit::{
    Action, AuditEvent, Decision, Hash, SignedCheckpoint, SubjectId, TamperKind, leaf_hash,
    parse_vkey, verify_consistency, verify_inclusion, verify_log,
};
use concord_client::{Extract, push_extract};
use concord_core::{KeyName, Source};
use concord_e2e::{Db, TestBroker, both_stores, bytes, police_crime, token};
use concord_pki::Identity;
use concord_proto::v1::{self, audit_client::AuditClient};
use sqlx::Connection;
use tonic::Code;

const POLICE: &str = "mps-cw-push";
const DPO: &str = "dpo-1";

/// A police crime record for person `i`.
fn record(tb: &TestBroker, i: u32) -> v1::Record {
    let date = format!("2026-10-{:02}", 1 + i % 28);
    police_crime(tb, i, &date, &[KeyName::Nhs, KeyName::SnDob, KeyName::Pnc])
}

/// A police snapshot for October holding people `people`.
fn extract(tb: &TestBroker, id: &str, people: std::ops::Range<u32>) -> Extract {
    let header = v1::ExtractHeader {
        extract_id: id.into(),
        source: v1::Source::Police as i32,
        period_start: "2026-10-01".into(),
        period_end: "2026-10-31".into(),
        mode: v1::ExtractMode::Snapshot as i32,
        schema_version: 1,
        linkage_key_id: tb.linkage_key_id.clone(),
        ..Default::default()
    };
    let records = people.map(|i| record(tb, i)).collect();
    Extract::new(header, records, vec![], 10)
}

async fn push(
    tb: &TestBroker,
    user: &str,
    ex: Extract,
) -> Result<v1::ExtractReceipt, tonic::Status> {
    push_extract(tb.channel(user).await, ex)
        .await
        .map(|r| r.into_inner())
}

async fn audit(tb: &TestBroker, user: &str) -> AuditClient<tonic::transport::Channel> {
    AuditClient::new(tb.channel(user).await)
}

/// The whole stored log as `concord audit verify` reads it.
async fn stored_log(tb: &TestBroker) -> concord_audit::export::Export {
    concord_server::audit::read_stored_log(&tb.store)
        .await
        .expect("the audit log reads")
}

/// Every stored event, decoded.
async fn events(tb: &TestBroker) -> Vec<AuditEvent> {
    stored_log(tb)
        .await
        .events
        .iter()
        .map(|e| AuditEvent::decode(e).expect("a stored event decodes"))
        .collect()
}

fn hash(bytes: &[u8]) -> Hash {
    Hash(bytes.try_into().expect("32 bytes"))
}

/// An event as a caller would append it.
fn test_event(user: &str, subjects: impl IntoIterator<Item = SubjectId>) -> AuditEvent {
    let who = Identity {
        org: "rbkc-childrens".into(),
        role: "mash_officer".into(),
        user: user.into(),
    };
    let mut e = concord_server::audit::refusal(&who, Action::Lookup, "", None);
    e.decision = Decision::Allow;
    e.purpose = Some("safeguarding_children".into());
    e.case_ref = Some("MASH-2026-0042".into());
    e.disclosed.insert(
        Source::Police,
        BTreeSet::from([concord_audit::FieldName::parse("category").unwrap()]),
    );
    e.subjects.extend(subjects);
    e
}

both_stores!(pushes_and_audit_reads_are_events, |db| async move {
    let tb = TestBroker::start(db).await;
    push(&tb, POLICE, extract(&tb, "oct-1", 0..5))
        .await
        .expect("the push is accepted");
    // An NHS trust's push agent may not push police data.
    let refused = push(&tb, "chelwest-nhs-push", extract(&tb, "oct-x", 0..2))
        .await
        .expect_err("the policy refuses");
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");

    let page = audit(&tb, DPO)
        .await
        .list_events(v1::ListEventsRequest::default())
        .await
        .expect("the DPO lists events")
        .into_inner();
    assert_eq!(page.tree_size, page.events.len() as u64);
    assert_eq!(page.tree_size, 3, "a push, a refusal and this read");
    let digest = tb.broker.policy.bundle_digest();
    let mut decoded = Vec::new();
    for (i, entry) in page.events.iter().enumerate() {
        assert_eq!(entry.seq, i as u64);
        assert_eq!(hash(&entry.leaf_hash), leaf_hash(&entry.event));
        let e = AuditEvent::decode(&entry.event).expect("canonical");
        assert_eq!(e.seq, i as u64);
        assert_eq!(e.policy_digest.as_deref(), Some(digest.as_str()));
        decoded.push(e);
    }

    let accepted = &decoded[0];
    assert_eq!(accepted.action, Action::Ingest);
    assert_eq!(accepted.user, POLICE);
    assert_eq!(accepted.role, "push_agent");
    assert_eq!(accepted.decision, Decision::Allow);
    assert_eq!(
        accepted.extract_id.as_ref().map(|x| x.as_str()),
        Some("oct-1")
    );
    assert_eq!(
        accepted.disclosed.keys().collect::<Vec<_>>(),
        [&Source::Police]
    );
    assert!(accepted.subjects.is_empty(), "an ingest event names no one");

    let denied = &decoded[1];
    assert_eq!(denied.action, Action::Ingest);
    assert_eq!(denied.user, "chelwest-nhs-push");
    assert!(matches!(&denied.decision, Decision::Deny { reason } if !reason.is_empty()));
    assert_eq!(
        denied.extract_id.as_ref().map(|x| x.as_str()),
        Some("oct-x")
    );

    let read = &decoded[2];
    assert_eq!(
        (read.action, read.user.as_str(), read.role.as_str()),
        (Action::AuditRead, DPO, "dpo")
    );
    assert_eq!(read.decision, Decision::Allow);

    // Reading a receipt is a decision too.
    v1::ingest_client::IngestClient::new(tb.channel(POLICE).await)
        .get_extract(v1::GetExtractRequest {
            source: v1::Source::Police as i32,
            extract_id: "oct-1".into(),
        })
        .await
        .expect("the receipt reads");
    let all = events(&tb).await;
    assert_eq!(all.len(), 4);
    assert_eq!(all[3].action, Action::PolicyDecision);
    assert_eq!(
        all[3].extract_id.as_ref().map(|x| x.as_str()),
        Some("oct-1")
    );

    // A page from the middle, and a limit.
    let page = audit(&tb, DPO)
        .await
        .list_events(v1::ListEventsRequest {
            from_seq: 1,
            limit: 2,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        page.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [1, 2]
    );
    tb.stop().await;
});

both_stores!(
    receipts_prove_inclusion_and_checkpoints_are_signed,
    |db| async move {
        let tb = TestBroker::start(db).await;
        let log = tb.broker.audit.clone();
        let first = log.append(test_event("u0", [])).await.expect("appended");
        assert_eq!((first.seq, first.tree_size), (0, 1));
        verify_inclusion(&first.leaf_hash, 0, 1, &first.proof, &first.root)
            .expect("proves inclusion");

        // Concurrent appends: group-committed, each with its own valid proof.
        let receipts = futures::future::join_all(
            (1..=40).map(|i| log.append(test_event(&format!("u{i}"), []))),
        )
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .expect("appended");
        let seqs: BTreeSet<u64> = receipts.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, (1..=40).collect());
        let stored = stored_log(&tb).await;
        for r in &receipts {
            assert_eq!(r.leaf_hash, leaf_hash(&stored.events[r.seq as usize]));
            verify_inclusion(&r.leaf_hash, r.seq, r.tree_size, &r.proof, &r.root)
                .expect("proves inclusion");
            assert_eq!(log.root_at(r.tree_size).unwrap(), r.root);
            let wire = v1::AuditReceipt::from(r.clone());
            assert_eq!(wire.event_seq, r.seq);
            assert_eq!(wire.inclusion_proof.len(), r.proof.len());
        }
        // A forged leaf does not prove.
        let r = &receipts[0];
        let other = leaf_hash(b"not an event");
        assert!(verify_inclusion(&other, r.seq, r.tree_size, &r.proof, &r.root).is_err());

        // The DPO's checkpoint covers everything, this read included, and
        // verifies with the key it names.
        let mut client = audit(&tb, DPO).await;
        let c1 = client
            .checkpoint(v1::CheckpointRequest { old_size: 0 })
            .await
            .expect("a checkpoint")
            .into_inner();
        assert_eq!(c1.tree_size, 42, "41 appends and this read");
        assert_eq!(c1.tree_size, log.size());
        let (key_id, public_key) = parse_vkey(&c1.verifier_key).expect("a vkey");
        assert_eq!(public_key, log.public_key());
        let note = SignedCheckpoint::from_note(&c1.note).expect("a signed note");
        note.verify(&public_key).expect("the signature verifies");
        assert_eq!(note.checkpoint.key_id, key_id);
        assert_eq!(note.checkpoint.size, c1.tree_size);
        assert_eq!(note.checkpoint.root, hash(&c1.root_hash));
        assert_eq!(note.checkpoint.root, log.root_at(42).unwrap());
        // An earlier receipt is covered by it through a consistency proof.
        let proof = log
            .consistency_proof(first.tree_size, c1.tree_size)
            .unwrap();
        verify_consistency(
            first.tree_size,
            c1.tree_size,
            &first.root,
            &note.checkpoint.root,
            &proof,
        )
        .expect("the receipt's tree is a prefix of the checkpoint's");

        // The next checkpoint proves it extends the last.
        log.append(test_event("u99", [])).await.unwrap();
        let c2 = client
            .checkpoint(v1::CheckpointRequest {
                old_size: c1.tree_size,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(c2.tree_size, 44);
        let proof: Vec<Hash> = c2.consistency_proof.iter().map(|h| hash(h)).collect();
        verify_consistency(
            c1.tree_size,
            c2.tree_size,
            &hash(&c1.root_hash),
            &hash(&c2.root_hash),
            &proof,
        )
        .expect("consistent");
        let err = client
            .checkpoint(v1::CheckpointRequest { old_size: 1_000 })
            .await
            .expect_err("larger than the log");
        assert_eq!(err.code(), Code::InvalidArgument);

        // Every stored checkpoint is signed and the whole log verifies.
        let stored = stored_log(&tb).await;
        let report =
            verify_log(&stored.events, &stored.checkpoints, &public_key).expect("verifies");
        assert_eq!(report.events, log.size());
        // One signed head per batch, none apart from its events: every
        // receipt's tree is one of them.
        let heads: BTreeSet<u64> = stored
            .checkpoints
            .iter()
            .map(|c| c.checkpoint.size)
            .collect();
        assert_eq!(heads.len(), stored.checkpoints.len(), "one head per size");
        assert!(heads.contains(&first.tree_size), "{heads:?}");
        for r in &receipts {
            assert!(heads.contains(&r.tree_size), "{} in {heads:?}", r.tree_size);
        }
        assert_eq!(
            report.anchored, 45,
            "the read that asked too much was audited and signed too"
        );

        // A restart rebuilds the same tree and keeps numbering.
        let size = log.size();
        let root = log.root_at(size).unwrap();
        let key = tb.broker_key.clone();
        let tb = tb.restart(key, |_| async {}).await;
        assert_eq!(tb.broker.audit.size(), size);
        assert_eq!(tb.broker.audit.root_at(size).unwrap(), root);
        let next = tb
            .broker
            .audit
            .append(test_event("u100", []))
            .await
            .unwrap();
        assert_eq!(next.seq, size);
        let stored = concord_server::audit::read_stored_log(&tb.store)
            .await
            .unwrap();
        verify_log(&stored.events, &stored.checkpoints, &public_key).expect("still verifies");
        tb.stop().await;
    }
);

/// Runs the same SQL on whichever database the broker uses.
async fn sql(tb: &TestBroker, statements: &[&str]) {
    match tb.db {
        Db::Sqlite => {
            let mut c = concord_store::sqlite_connection(tb.database_url())
                .await
                .unwrap();
            for s in statements {
                sqlx::raw_sql(s).execute(&mut c).await.unwrap();
            }
        }
        Db::Postgres => {
            let mut c = sqlx::PgConnection::connect(tb.database_url())
                .await
                .unwrap();
            for s in statements {
                sqlx::raw_sql(s).execute(&mut c).await.unwrap();
            }
        }
    }
}

/// Replaces the stored events with `rows` (seq, leaf hash, event bytes).
async fn put_rows(tb: &TestBroker, rows: &[(i64, Vec<u8>, Vec<u8>)]) {
    macro_rules! put {
        ($conn:expr) => {{
            let mut c = $conn.await.unwrap();
            let mut tx = c.begin().await.unwrap();
            sqlx::query("DELETE FROM audit_events")
                .execute(&mut *tx)
                .await
                .unwrap();
            for (seq, leaf, event) in rows {
                sqlx::query(
                    "INSERT INTO audit_events (seq, leaf_hash, event, time) VALUES ($1, $2, $3, $4)",
                )
                .bind(seq)
                .bind(leaf)
                .bind(event)
                .bind(chrono_now())
                .execute(&mut *tx)
                .await
                .unwrap();
            }
            tx.commit().await.unwrap();
        }};
    }
    match tb.db {
        Db::Sqlite => put!(concord_store::sqlite_connection(tb.database_url())),
        Db::Postgres => put!(sqlx::PgConnection::connect(tb.database_url())),
    }
}

fn chrono_now() -> sqlx::types::chrono::DateTime<sqlx::types::chrono::Utc> {
    sqlx::types::chrono::Utc::now()
}

/// What `concord audit verify` finds in the stored log.
async fn finding(tb: &TestBroker, public_key: &[u8]) -> Option<(TamperKind, u64)> {
    let log = stored_log(tb).await;
    match verify_log(&log.events, &log.checkpoints, public_key) {
        Ok(_) => None,
        Err(e) => {
            let t = e
                .tampering()
                .unwrap_or_else(|| panic!("not a tampering: {e}"));
            Some((t.kind, t.event))
        }
    }
}

both_stores!(
    tampering_in_the_database_is_found_and_named,
    |db| async move {
        let tb = TestBroker::start(db).await;
        let log = tb.broker.audit.clone();
        for i in 0..10 {
            log.append(test_event(&format!("u{i}"), [])).await.unwrap();
        }
        log.checkpoint().await.expect("signed");
        let key = log.public_key();
        assert_eq!(finding(&tb, &key).await, None, "the intact log verifies");

        // The append-only triggers refuse a careless edit...
        let err = match tb.db {
            Db::Sqlite => {
                let mut c = concord_store::sqlite_connection(tb.database_url())
                    .await
                    .unwrap();
                sqlx::raw_sql("DELETE FROM audit_events WHERE seq = 3")
                    .execute(&mut c)
                    .await
                    .expect_err("append-only")
                    .to_string()
            }
            Db::Postgres => {
                let mut c = sqlx::PgConnection::connect(tb.database_url())
                    .await
                    .unwrap();
                sqlx::raw_sql("DELETE FROM audit_events WHERE seq = 3")
                    .execute(&mut c)
                    .await
                    .expect_err("append-only")
                    .to_string()
            }
        };
        assert!(err.contains("append-only"), "{err}");
        // ...but the database's owner can drop them; the verifier still sees.
        match tb.db {
            Db::Sqlite => {
                sql(
                    &tb,
                    &[
                        "DROP TRIGGER audit_events_append_only_update",
                        "DROP TRIGGER audit_events_append_only_delete",
                    ],
                )
                .await
            }
            Db::Postgres => {
                sql(
                    &tb,
                    &["DROP TRIGGER audit_events_append_only ON audit_events"],
                )
                .await
            }
        }

        let original: Vec<(i64, Vec<u8>, Vec<u8>)> = stored_log(&tb)
            .await
            .events
            .into_iter()
            .enumerate()
            .map(|(i, e)| (i as i64, leaf_hash(&e).0.to_vec(), e))
            .collect();
        let k = 4usize;

        // Edit event k: another user's name, in canonical form.
        let mut rows = original.clone();
        let edited = String::from_utf8(rows[k].2.clone())
            .unwrap()
            .replace("\"user\":\"u4\"", "\"user\":\"u9\"");
        assert_ne!(edited.as_bytes(), rows[k].2.as_slice());
        rows[k].2 = edited.into_bytes();
        put_rows(&tb, &rows).await;
        assert_eq!(
            finding(&tb, &key).await,
            Some((TamperKind::Edited, k as u64))
        );

        // Delete event k.
        let mut rows = original.clone();
        rows.remove(k);
        put_rows(&tb, &rows).await;
        assert_eq!(
            finding(&tb, &key).await,
            Some((TamperKind::Deleted, k as u64))
        );

        // Insert a well-formed event at k that links to event k - 1, and
        // renumber the rest, as a careful forger would.
        let mut forged = AuditEvent::decode(&original[k].2).unwrap();
        forged.user = "someone-else".into();
        let forged = forged.encode();
        let mut rows = original.clone();
        rows.insert(k, (0, leaf_hash(&forged).0.to_vec(), forged));
        for (i, r) in rows.iter_mut().enumerate() {
            r.0 = i as i64;
        }
        put_rows(&tb, &rows).await;
        assert_eq!(
            finding(&tb, &key).await,
            Some((TamperKind::Inserted, k as u64))
        );

        // Swap events k and k + 1.
        let mut rows = original.clone();
        let (a, b) = (rows[k].clone(), rows[k + 1].clone());
        rows[k] = (k as i64, b.1, b.2);
        rows[k + 1] = ((k + 1) as i64, a.1, a.2);
        put_rows(&tb, &rows).await;
        assert_eq!(
            finding(&tb, &key).await,
            Some((TamperKind::Reordered, k as u64))
        );

        // Restored, it verifies again.
        put_rows(&tb, &original).await;
        assert_eq!(finding(&tb, &key).await, None);

        // A broker does not start on a log that no longer matches its
        // signed checkpoint...
        let signer = || {
            let file = concord_keys::KeyFile::parse(
                &std::fs::read_to_string(&tb.pki.audit_key).unwrap(),
                "audit key",
            )
            .unwrap();
            concord_audit::AuditSigner::from_key_file(&file).unwrap()
        };
        let start =
            |config| concord_server::audit::AuditLog::start(tb.store.clone(), signer(), config);
        let mut rows = original.clone();
        rows.remove(k);
        for (i, r) in rows.iter_mut().enumerate() {
            r.0 = i as i64;
        }
        put_rows(&tb, &rows).await;
        let err = start(concord_server::audit::AuditConfig::default())
            .await
            .expect_err("an inconsistent log refuses to start");
        assert!(err.to_string().contains("concord audit verify"), "{err}");

        // ...nor on an event edited after the last batch the tests signed
        // on request, even when the forger recomputed its stored leaf hash:
        // every batch is signed with its events.
        put_rows(&tb, &original).await;
        let writer = start(concord_server::audit::AuditConfig::default())
            .await
            .unwrap();
        for i in 10..13 {
            writer
                .append(test_event(&format!("u{i}"), []))
                .await
                .unwrap();
        }
        let mut rows: Vec<(i64, Vec<u8>, Vec<u8>)> = stored_log(&tb)
            .await
            .events
            .into_iter()
            .enumerate()
            .map(|(i, e)| (i as i64, leaf_hash(&e).0.to_vec(), e))
            .collect();
        assert_eq!(rows.len(), 13);
        let edited = String::from_utf8(rows[10].2.clone())
            .unwrap()
            .replace("\"user\":\"u10\"", "\"user\":\"u99\"")
            .into_bytes();
        rows[10] = (10, leaf_hash(&edited).0.to_vec(), edited);
        put_rows(&tb, &rows).await;
        let err = start(concord_server::audit::AuditConfig::default())
            .await
            .expect_err("an edit under the latest signed head refuses to start");
        assert!(
            err.to_string()
                .contains("do not match the latest signed checkpoint (size 13)"),
            "{err}"
        );
        assert_eq!(
            finding(&tb, &key).await,
            Some((TamperKind::Edited, 10)),
            "the verifier names it"
        );
        drop(writer);
        tb.stop().await;
    }
);

/// Makes every insert into audit_events fail, over a direct connection.
async fn break_audit(tb: &TestBroker) {
    match tb.db {
        Db::Sqlite => {
            sql(
                tb,
                &[
                    "CREATE TRIGGER audit.audit_down BEFORE INSERT ON audit_events \
                   BEGIN SELECT RAISE(ABORT, 'audit down'); END",
                ],
            )
            .await
        }
        Db::Postgres => {
            sql(
                tb,
                &[
                    "CREATE FUNCTION audit_down() RETURNS trigger LANGUAGE plpgsql AS \
                     $$ BEGIN RAISE EXCEPTION 'audit down'; END; $$",
                    "CREATE TRIGGER audit_down BEFORE INSERT ON audit_events \
                     FOR EACH ROW EXECUTE FUNCTION audit_down()",
                ],
            )
            .await
        }
    }
}

async fn mend_audit(tb: &TestBroker) {
    match tb.db {
        Db::Sqlite => sql(tb, &["DROP TRIGGER audit_down"]).await,
        Db::Postgres => sql(tb, &["DROP TRIGGER audit_down ON audit_events"]).await,
    }
}

both_stores!(
    a_failed_audit_write_fails_the_push_and_stores_nothing,
    |db| async move {
        let tb = TestBroker::start(db).await;
        break_audit(&tb).await;
        let err = push(&tb, POLICE, extract(&tb, "oct-1", 0..5))
            .await
            .expect_err("no audit, no push");
        assert_eq!(err.code(), Code::Unavailable, "{err:?}");
        assert!(err.message().contains("audit"), "{}", err.message());
        assert!(
            !err.message().contains("audit down"),
            "no database words: {}",
            err.message()
        );
        assert_eq!(tb.store.count_records(None).await.unwrap(), 0);
        assert!(
            tb.store
                .get_extract(Source::Police, "oct-1")
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(tb.broker.audit.size(), 0, "the log did not advance");
        // An audit read fails the same way, disclosing nothing.
        let err = audit(&tb, DPO)
            .await
            .list_events(v1::ListEventsRequest::default())
            .await
            .expect_err("no audit, no read");
        assert_eq!(err.code(), Code::Unavailable);

        // Once the audit log can be written again, the same push goes through.
        mend_audit(&tb).await;
        let receipt = push(&tb, POLICE, extract(&tb, "oct-1", 0..5))
            .await
            .expect("accepted");
        assert_eq!(receipt.records_stored, 5);
        let all = events(&tb).await;
        assert_eq!(all.len(), 1, "only the push that went through is logged");
        assert_eq!(all[0].seq, 0);
        tb.broker.audit.checkpoint().await.unwrap();
        let log = stored_log(&tb).await;
        verify_log(&log.events, &log.checkpoints, &tb.broker.audit.public_key()).expect("verifies");
        tb.stop().await;
    }
);

both_stores!(only_the_dpo_reads_the_events, |db| async move {
    let tb = TestBroker::start(db).await;
    for user in ["mash-officer-1", "analyst-1", "board-member-1", POLICE] {
        let mut client = audit(&tb, user).await;
        let err = client
            .list_events(v1::ListEventsRequest::default())
            .await
            .expect_err("refused");
        assert_eq!(err.code(), Code::PermissionDenied, "{user}: {err:?}");
        assert!(
            err.message().contains("may not read audit events"),
            "{err:?}"
        );
        let err = client
            .access_history(v1::AccessHistoryRequest {
                tokens: vec![token(&tb, KeyName::Nhs, 1)],
            })
            .await
            .expect_err("refused");
        assert_eq!(err.code(), Code::PermissionDenied, "{user}: {err:?}");
        // A signed checkpoint (no events) is for every partnership member.
        let c = client
            .checkpoint(v1::CheckpointRequest::default())
            .await
            .unwrap_or_else(|e| panic!("{user}: {e:?}"))
            .into_inner();
        SignedCheckpoint::from_note(&c.note)
            .expect("a signed note")
            .verify(&tb.broker.audit.public_key())
            .expect("signed by the broker");
    }
    // Each refusal and each checkpoint read is itself audited, and names
    // no one.
    let all = events(&tb).await;
    assert_eq!(all.len(), 12);
    for (i, e) in all.iter().enumerate() {
        assert_eq!(e.action, Action::AuditRead);
        let allowed = i % 3 == 2;
        assert_eq!(e.decision == Decision::Allow, allowed, "{e}");
        assert!(e.subjects.is_empty());
        assert_ne!(e.role, "dpo");
    }
    tb.stop().await;
});

both_stores!(
    a_mash_officer_checks_a_lookup_receipt_against_a_signed_checkpoint,
    |db| async move {
        let tb = TestBroker::start(db).await;
        push(&tb, POLICE, extract(&tb, "oct-1", 0..5))
            .await
            .unwrap();
        tb.wait_linked(1).await;
        let officer = "mash-officer-1";
        let found = v1::lookup_client::LookupClient::new(tb.channel(officer).await)
            .find_person(v1::FindPersonRequest {
                tokens: vec![token(&tb, KeyName::Nhs, 2)],
                purpose: "safeguarding_children".into(),
                case_ref: "MASH-2026-0078".into(),
                reason: String::new(),
            })
            .await
            .expect("the lookup is allowed")
            .into_inner();
        assert!(found.matched);
        let r = found.receipt.expect("an audit receipt");
        let proof: Vec<Hash> = r.inclusion_proof.iter().map(|h| hash(h)).collect();
        let leaf = hash(&r.leaf_hash);
        let root = hash(&r.root_hash);
        verify_inclusion(&leaf, r.event_seq, r.tree_size, &proof, &root)
            .expect("the receipt proves inclusion in its tree");

        // The officer asks for the signed checkpoint, with a consistency
        // proof from the receipt's tree, and checks the signature with the
        // broker's key (held out of band; here the test broker's).
        let mut client = audit(&tb, officer).await;
        let c = client
            .checkpoint(v1::CheckpointRequest {
                old_size: r.tree_size,
            })
            .await
            .expect("every partnership member reads a checkpoint")
            .into_inner();
        let public_key = tb.broker.audit.public_key();
        let note = SignedCheckpoint::from_note(&c.note).expect("a signed note");
        note.verify(&public_key).expect("the signature verifies");
        assert_eq!(parse_vkey(&c.verifier_key).unwrap().1, public_key);
        assert_eq!(note.checkpoint.size, c.tree_size);
        assert_eq!(note.checkpoint.root, hash(&c.root_hash));
        assert!(
            c.tree_size > r.tree_size,
            "the checkpoint read is logged too"
        );
        let consistency: Vec<Hash> = c.consistency_proof.iter().map(|h| hash(h)).collect();
        verify_consistency(
            r.tree_size,
            note.checkpoint.size,
            &root,
            &note.checkpoint.root,
            &consistency,
        )
        .expect("the receipt's tree is a prefix of the signed tree, so the lookup is in it");
        // A forged receipt root is not consistent with the signed one.
        assert!(
            verify_consistency(
                r.tree_size,
                note.checkpoint.size,
                &hash(&[7; 32]),
                &note.checkpoint.root,
                &consistency,
            )
            .is_err()
        );

        // The events stay with the DPO.
        let err = client
            .list_events(v1::ListEventsRequest::default())
            .await
            .expect_err("the events are the DPO's");
        assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
        let read = events(&tb).await;
        let (checkpoint_read, refused) = (&read[read.len() - 2], &read[read.len() - 1]);
        assert_eq!(
            (checkpoint_read.action, checkpoint_read.user.as_str()),
            (Action::AuditRead, officer)
        );
        assert_eq!(checkpoint_read.decision, Decision::Allow);
        assert_eq!(refused.action, Action::AuditRead);
        assert!(
            matches!(refused.decision, Decision::Deny { .. }),
            "{refused}"
        );
        tb.stop().await;
    }
);

both_stores!(
    access_history_lists_who_looked_at_a_person,
    |db| async move {
        let tb = TestBroker::start(db).await;
        push(&tb, POLICE, extract(&tb, "oct-1", 0..5))
            .await
            .unwrap();
        tb.wait_linked(1).await;
        // Person 2 as the linker holds them (the lookup service would audit a
        // lookup with this subject).
        let pseudonym = tb.broker_key.pseudonymise(
            &tb.linkage_key_id,
            &concord_core::Token::from_slice(&bytes("nhs", 2)).unwrap(),
        );
        let person = tb
            .broker
            .linkage
            .find_person(&[(KeyName::Nhs, pseudonym)])
            .expect("person 2 is linked");
        let other = tb
            .broker
            .linkage
            .find_person(&[(
                KeyName::Nhs,
                tb.broker_key.pseudonymise(
                    &tb.linkage_key_id,
                    &concord_core::Token::from_slice(&bytes("nhs", 3)).unwrap(),
                ),
            )])
            .unwrap();
        assert_ne!(person, other);
        let log = tb.broker.audit.clone();
        let looked = log
            .append(test_event("mash-officer-1", [SubjectId::Person(person)]))
            .await
            .unwrap();
        log.append(test_event("mash-officer-2", [SubjectId::Person(other)]))
            .await
            .unwrap();
        let again = log
            .append(test_event("mash-manager-1", [SubjectId::Person(person)]))
            .await
            .unwrap();
        // And a real lookup through Lookup.FindPerson.
        let found = v1::lookup_client::LookupClient::new(tb.channel("mash-officer-1").await)
            .find_person(v1::FindPersonRequest {
                tokens: vec![token(&tb, KeyName::Nhs, 2)],
                purpose: "safeguarding_children".into(),
                case_ref: "MASH-2026-0077".into(),
                reason: String::new(),
            })
            .await
            .expect("the lookup is allowed")
            .into_inner();
        assert!(found.matched);
        let lookup_seq = found.receipt.expect("an audit receipt").event_seq;

        let mut client = audit(&tb, DPO).await;
        let answer = client
            .access_history(v1::AccessHistoryRequest {
                tokens: vec![token(&tb, KeyName::Nhs, 2), token(&tb, KeyName::SnDob, 2)],
            })
            .await
            .expect("the DPO asks")
            .into_inner();
        assert!(answer.matched);
        let seqs: Vec<u64> = answer.accesses.iter().map(|a| a.event_seq).collect();
        // Newest first: the DPO's own question, then the three lookups
        // about this person (not the one about the other person).
        assert_eq!(seqs.len(), 4, "{seqs:?}");
        assert_eq!(&seqs[1..], [lookup_seq, again.seq, looked.seq]);
        let own = &answer.accesses[0];
        assert_eq!(
            (own.user.as_str(), own.action.as_str()),
            (DPO, "audit_read")
        );
        let real = &answer.accesses[1];
        assert_eq!(
            (
                real.user.as_str(),
                real.action.as_str(),
                real.case_ref.as_str()
            ),
            ("mash-officer-1", "lookup", "MASH-2026-0077")
        );
        assert_eq!(real.purpose, "safeguarding_children");
        assert!(
            real.sources.contains(&(v1::Source::Police as i32)),
            "{real:?}"
        );
        let a = &answer.accesses[3];
        assert_eq!(a.user, "mash-officer-1");
        assert_eq!(a.org, "rbkc-childrens");
        assert_eq!(a.role, "mash_officer");
        assert_eq!(a.action, "lookup");
        assert_eq!(a.purpose, "safeguarding_children");
        assert_eq!(a.case_ref, "MASH-2026-0042");
        assert_eq!(a.decision, "allow");
        assert_eq!(a.sources, [v1::Source::Police as i32]);

        // The question is audited with the person it was about.
        let asked = events(&tb).await.pop().unwrap();
        assert_eq!(asked.action, Action::AuditRead);
        assert_eq!(asked.subjects, BTreeSet::from([SubjectId::Person(person)]));

        // Tokens that match no one: matched is false and nothing is listed.
        let answer = client
            .access_history(v1::AccessHistoryRequest {
                tokens: vec![token(&tb, KeyName::Nhs, 999)],
            })
            .await
            .unwrap()
            .into_inner();
        assert!(!answer.matched);
        assert!(answer.accesses.is_empty());
        // Malformed tokens are refused by field.
        let err = client
            .access_history(v1::AccessHistoryRequest {
                tokens: vec![v1::MatchKeyToken {
                    key_name: "shoe_size".into(),
                    key_id: tb.linkage_key_id.clone(),
                    token: vec![1, 2, 3],
                }],
            })
            .await
            .expect_err("invalid");
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(
            err.message().contains("tokens[0].key_name"),
            "{}",
            err.message()
        );
        tb.stop().await;
    }
);

both_stores!(
    two_brokers_on_one_database_keep_one_chain,
    |db| async move {
        // A second writer over its own connection pool, as a second broker
        // process would have.
        let tb = TestBroker::start(db).await;
        let other_store = concord_store::Store::connect(
            tb.database_url(),
            &concord_store::StoreOptions::default(),
        )
        .await
        .unwrap();
        let key = concord_keys::KeyFile::parse(
            &std::fs::read_to_string(&tb.pki.audit_key).unwrap(),
            "audit key",
        )
        .unwrap();
        let other = concord_server::audit::AuditLog::start(
            other_store.clone(),
            concord_audit::AuditSigner::from_key_file(&key).unwrap(),
            concord_server::audit::AuditConfig::default(),
        )
        .await
        .unwrap();
        let one = tb.broker.audit.clone();
        let appends = (0..60).map(|i| {
            let log = if i % 2 == 0 {
                one.clone()
            } else {
                other.clone()
            };
            async move { log.append(test_event(&format!("u{i}"), [])).await }
        });
        let receipts = futures::future::join_all(appends)
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .expect("every append lands, the loser of a race renumbering after the winner");
        let seqs: BTreeSet<u64> = receipts.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, (0..60).collect(), "one position each, no gaps");
        for r in &receipts {
            verify_inclusion(&r.leaf_hash, r.seq, r.tree_size, &r.proof, &r.root).unwrap();
        }
        one.checkpoint().await.unwrap();
        other.checkpoint().await.unwrap();
        let log = stored_log(&tb).await;
        let report = verify_log(&log.events, &log.checkpoints, &one.public_key())
            .expect("one chain, and both writers' checkpoints agree with it");
        assert_eq!(report.events, 60);
        drop(other);
        other_store.close().await;
        tb.stop().await;
    }
);

/// Whether the main SQLite file (not the attached audit file) still holds
/// an audit table.
async fn main_file_has_audit_tables(url: &str) -> bool {
    let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM main.sqlite_master WHERE type = 'table' AND name LIKE 'audit_%'",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    c.close().await.unwrap();
    n > 0
}

/// Runs `sql` on the main SQLite file alone (no audit file attached).
async fn main_file_sql(url: &str, sql: &str) {
    let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
    sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
    c.close().await.unwrap();
}

/// Puts a copy of the log back into the main file, as a store kept it
/// before the audit file; with `drop_audit_file`, also removes the audit
/// file (a store from before it), else leaves it (a move cut off between
/// its copy and its drop).
async fn log_in_main_file(url: &str, drop_audit_file: bool) {
    let mut c = concord_store::sqlite_connection(url).await.unwrap();
    sqlx::raw_sql(include_str!("../migrations/sqlite/0003_audit.sql"))
        .execute(&mut c)
        .await
        .unwrap();
    sqlx::raw_sql(
        "INSERT INTO main.audit_events SELECT seq, leaf_hash, event, time FROM audit.audit_events; \
         INSERT INTO main.audit_subjects SELECT subject, seq FROM audit.audit_subjects; \
         INSERT INTO main.audit_checkpoints SELECT tree_size, root, note, time FROM audit.audit_checkpoints;",
    )
    .execute(&mut c)
    .await
    .unwrap();
    sqlx::raw_sql("DETACH DATABASE audit")
        .execute(&mut c)
        .await
        .unwrap();
    c.close().await.unwrap();
    if drop_audit_file {
        let file = concord_store::sqlite_audit_file(url).unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let mut name = file.clone().into_os_string();
            name.push(suffix);
            match std::fs::remove_file(&name) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => panic!("removing {name:?}: {e}"),
            }
        }
    }
}

#[tokio::test]
async fn a_sqlite_log_kept_in_the_main_file_moves_to_the_audit_file_whole() {
    let tb = TestBroker::start(Db::Sqlite).await;
    let url = tb.database_url().to_owned();
    assert!(
        !main_file_has_audit_tables(&url).await,
        "a new store keeps its log in the audit file only"
    );
    for i in 0..6 {
        tb.broker
            .audit
            .append(test_event(&format!("u{i}"), [SubjectId::Person(i)]))
            .await
            .unwrap();
    }
    tb.broker.audit.checkpoint().await.unwrap();
    let before = stored_log(&tb).await;
    let public_key = tb.broker.audit.public_key();
    let size = tb.broker.audit.size();
    let mut tb = tb;
    for (drop_audit_file, case) in [
        (true, "a store from before the audit file"),
        (false, "a move cut off between its copy and its drop"),
    ] {
        let key = tb.broker_key.clone();
        let url = url.clone();
        tb = tb
            .restart(key, |store| async move {
                store.close().await;
                log_in_main_file(&url, drop_audit_file).await;
            })
            .await;
        assert!(
            !main_file_has_audit_tables(tb.database_url()).await,
            "{case}: the main file's copy is dropped"
        );
        let after = stored_log(&tb).await;
        assert_eq!(after.events, before.events, "{case}: every event, once");
        assert_eq!(
            after.checkpoints.len(),
            before.checkpoints.len(),
            "{case}: every checkpoint, once"
        );
        verify_log(&after.events, &after.checkpoints, &public_key)
            .unwrap_or_else(|e| panic!("{case}: the moved log verifies: {e}"));
        assert_eq!(tb.broker.audit.size(), size, "{case}");
        // Whom the events are about moved too (Audit.AccessHistory reads it).
        assert_eq!(
            tb.store
                .audit_events_about("person:3", 10)
                .await
                .unwrap()
                .len(),
            1,
            "{case}: the subject index moved"
        );
    }
    // A main file whose log differs from the audit file's (say, restored
    // from another backup) is refused, and nothing is dropped.
    let key = tb.broker_key.clone();
    let url2 = url.clone();
    let tb = tb
        .restart(key, |store| async move {
            store.close().await;
            log_in_main_file(&url2, false).await;
            main_file_sql(
                &url2,
                "DROP TRIGGER main.audit_events_append_only_update; \
                 UPDATE main.audit_events SET event = X'00' WHERE seq = 2;",
            )
            .await;
            let refused =
                concord_store::Store::connect(&url2, &concord_store::StoreOptions::default())
                    .await
                    .err()
                    .expect("two different logs are refused");
            assert!(
                refused.to_string().contains("both hold an audit log"),
                "{refused}"
            );
            assert!(
                main_file_has_audit_tables(&url2).await,
                "nothing was dropped"
            );
            // People compare and mend; here, the stray copy goes.
            main_file_sql(
                &url2,
                "DROP TABLE main.audit_events; DROP TABLE main.audit_subjects; \
                 DROP TABLE main.audit_checkpoints;",
            )
            .await;
        })
        .await;
    let next = tb.broker.audit.append(test_event("u9", [])).await.unwrap();
    assert_eq!(next.seq, size, "numbering goes on after the move");
    tb.stop().await;
}

#[tokio::test]
async fn on_sqlite_an_audit_append_does_not_wait_for_a_writer_of_the_records() {
    let tb = TestBroker::start(Db::Sqlite).await;
    // Another connection holds the main file's write lock, as an extract
    // being written does for as long as it streams in.
    let mut writer = sqlx::SqliteConnection::connect(tb.database_url())
        .await
        .unwrap();
    sqlx::raw_sql("BEGIN IMMEDIATE; DELETE FROM records;")
        .execute(&mut writer)
        .await
        .unwrap();
    let receipt = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        tb.broker.audit.append(test_event("u1", [])),
    )
    .await
    .expect("the append took the audit file's lock only, not the records'")
    .expect("the append is stored");
    assert_eq!(receipt.seq + 1, tb.broker.audit.size());
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut writer)
        .await
        .unwrap();
    writer.close().await.unwrap();
    tb.stop().await;
}

/// A fresh store of `db`, with nothing in it but the schema.
async fn fresh_store(db: Db) -> (concord_store::Store, Box<dyn std::any::Any + Send>) {
    let opts = concord_store::StoreOptions::default();
    match db {
        Db::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite:{}", dir.path().join("fresh.sqlite").display());
            let store = concord_store::Store::connect(&url, &opts).await.unwrap();
            (store, Box::new(dir))
        }
        Db::Postgres => {
            let pg = concord_e2e::PgDatabase::create().await;
            let store = concord_store::Store::connect(&pg.url, &opts).await.unwrap();
            (store, Box::new(pg))
        }
    }
}

fn audit_rows(seqs: std::ops::Range<u64>) -> Vec<concord_store::AuditRow> {
    seqs.map(|seq| concord_store::AuditRow {
        seq,
        leaf_hash: bytes("leaf", seq as u32).try_into().unwrap(),
        event: bytes("event", seq as u32),
        time: chrono::Utc::now(),
        subjects: vec![format!("person:{}", seq % 7), format!("ps:{seq:x}")],
    })
    .collect()
}

/// A stand-in head for `size` events (the store keeps bytes; what they
/// mean is the writer's).
fn head(size: u64) -> concord_store::CheckpointRow {
    concord_store::CheckpointRow {
        tree_size: size,
        root: bytes("root", size as u32).try_into().unwrap(),
        note: format!("head {size}\n"),
        time: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
    }
}

// The audit writer's own connection: a batch larger than one SQLite
// statement is written whole, a batch with one position already taken is
// refused whole (nothing of it stored), and the same appender goes on
// writing afterwards.
both_stores!(
    the_writers_own_connection_writes_whole_batches_or_nothing,
    |db| async move {
        let (store, _keep) = fresh_store(db).await;
        let mut appender = store.audit_appender();
        appender
            .append(&audit_rows(0..1_500), &[0; 32], &head(1_500))
            .await
            .unwrap();
        assert_eq!(store.audit_size().await.unwrap(), 1_500);
        // The head is written with the batch, the only checkpoint.
        assert_eq!(store.audit_checkpoints().await.unwrap(), vec![head(1_500)]);
        let leaves = store.audit_leaf_hashes(0, None).await.unwrap();
        assert_eq!(leaves.len(), 1_500);
        assert_eq!(
            leaves[1_234],
            (1_234, audit_rows(1_234..1_235)[0].leaf_hash)
        );
        let about: Vec<u64> = store
            .audit_events_about("person:3", 10_000)
            .await
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(about.len(), (0..1_500).filter(|s| s % 7 == 3).count());
        assert_eq!(about[0], 1_494);

        // Position 1,499 is taken: the whole batch is refused.
        let refused = appender
            .append(
                &audit_rows(1_499..1_600),
                &audit_rows(1_498..1_499)[0].leaf_hash,
                &head(1_600),
            )
            .await;
        assert!(
            matches!(refused, Err(concord_store::StoreError::AuditConflict)),
            "{refused:?}"
        );
        assert_eq!(store.audit_size().await.unwrap(), 1_500);
        assert!(
            store
                .audit_events_about("ps:5dc", 10)
                .await
                .unwrap()
                .is_empty()
        );

        assert_eq!(
            store.audit_checkpoints().await.unwrap().len(),
            1,
            "nor its head"
        );

        appender
            .append(
                &audit_rows(1_500..1_600),
                &audit_rows(1_499..1_500)[0].leaf_hash,
                &head(1_600),
            )
            .await
            .unwrap();
        assert_eq!(store.audit_size().await.unwrap(), 1_600);
        assert_eq!(
            store.latest_audit_checkpoint().await.unwrap(),
            Some(head(1_600))
        );
        assert_eq!(
            store.audit_events_about("ps:5dc", 10).await.unwrap()[0].seq,
            0x5dc
        );
    }
);

/// Inserts one row into `audit_events` over a direct connection, as
/// someone with the database and not the broker would.
async fn forge_row(db: Db, url: &str, seq: u64, event: &[u8]) {
    const SQL: &str =
        "INSERT INTO audit_events (seq, leaf_hash, event, time) VALUES ($1, $2, $3, $4)";
    let leaf = leaf_hash(event).0.to_vec();
    macro_rules! insert {
        ($conn:expr) => {{
            let mut c = $conn.await.unwrap();
            sqlx::query(SQL)
                .bind(seq as i64)
                .bind(leaf)
                .bind(event)
                .bind(chrono_now())
                .execute(&mut c)
                .await
                .unwrap();
        }};
    }
    match db {
        Db::Sqlite => insert!(concord_store::sqlite_connection(url)),
        Db::Postgres => insert!(sqlx::PgConnection::connect(url)),
    }
}

/// Deletes the forged row again (dropping the append-only guard first), as
/// restoring the log from a backup would.
async fn remove_row(db: Db, url: &str, seq: u64) {
    let delete = format!("DELETE FROM audit_events WHERE seq = {seq}");
    match db {
        Db::Sqlite => {
            let mut c = concord_store::sqlite_connection(url).await.unwrap();
            sqlx::raw_sql(&format!(
                "DROP TRIGGER audit_events_append_only_delete; {delete}"
            ))
            .execute(&mut c)
            .await
            .unwrap();
        }
        Db::Postgres => {
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::raw_sql(&format!(
                "DROP TRIGGER audit_events_append_only ON audit_events; {delete}"
            ))
            .execute(&mut c)
            .await
            .unwrap();
        }
    }
}

// Issue 18, item 2: with the broker stopped, someone appends an event to
// `audit_events`, correctly numbered and chained after the last one. Every
// batch the broker commits carries its signed head, so this one is covered
// by none: the verifier names its position, and the broker refuses to
// start (and so to sign over it), naming it and saying what to do.
both_stores!(
    a_forged_tail_is_named_and_the_broker_will_not_start_over_it,
    |db| async move {
        let tb = TestBroker::start(db).await;
        let receipt = push(&tb, POLICE, extract(&tb, "oct-1", 0..5))
            .await
            .expect("accepted");
        assert_eq!(receipt.records_stored, 5);
        audit(&tb, DPO)
            .await
            .list_events(v1::ListEventsRequest::default())
            .await
            .expect("the DPO reads the log");
        let key = tb.broker.audit.public_key();
        let before = stored_log(&tb).await;
        let n = before.events.len() as u64;
        assert_eq!(n, 2, "the push and the read");
        verify_log(&before.events, &before.checkpoints, &key).expect("the broker's log verifies");

        let (url, audit_key) = (tb.database_url().to_owned(), tb.pki.audit_key.clone());
        let broker_key = tb.broker_key.clone();
        let tb = tb
            .restart(broker_key, |store| async move {
                // The forgery: the next position, linked to the last event.
                let last = before.events.last().unwrap();
                let mut forged = AuditEvent::decode(last).unwrap();
                forged.seq = n;
                forged.prev = leaf_hash(last);
                forged.user = "nobody-looked".into();
                forge_row(db, &url, n, &forged.encode()).await;

                let log = concord_server::audit::read_stored_log(&store)
                    .await
                    .unwrap();
                let err = verify_log(&log.events, &log.checkpoints, &key)
                    .expect_err("an uncovered event does not verify");
                let t = err.tampering().expect("a tampering");
                assert_eq!(
                    (t.kind, t.event, t.last_possible),
                    (TamperKind::Uncovered, n, n)
                );
                assert!(
                    t.message.starts_with(&format!(
                        "event {n}, the last, is covered by no signed checkpoint"
                    )),
                    "{t}"
                );

                let signer = concord_audit::AuditSigner::from_key_file(
                    &concord_keys::KeyFile::parse(
                        &std::fs::read_to_string(&audit_key).unwrap(),
                        "audit key",
                    )
                    .unwrap(),
                )
                .unwrap();
                let err = concord_server::audit::AuditLog::start(
                    store.clone(),
                    signer,
                    concord_server::audit::AuditConfig::default(),
                )
                .await
                .expect_err("the broker does not start over an uncovered event");
                let message = err.to_string();
                for part in [
                    &format!("event {n}, the last, covered by no signed checkpoint"),
                    "will not start and sign over them",
                    "run `concord audit verify`",
                ] {
                    assert!(message.contains(part), "{part:?} in {message}");
                }
                // Nothing was signed over it.
                assert_eq!(
                    store.audit_checkpoints().await.unwrap().len(),
                    before.checkpoints.len()
                );

                // Once the log is restored, the broker starts again.
                remove_row(db, &url, n).await;
            })
            .await;
        assert_eq!(tb.broker.audit.size(), n);
        push(&tb, POLICE, extract(&tb, "oct-2", 5..8))
            .await
            .expect("accepted");
        let log = stored_log(&tb).await;
        let report = verify_log(&log.events, &log.checkpoints, &key).expect("verifies");
        assert_eq!((report.events, report.anchored), (n + 1, n + 1));
        tb.stop().await;
    }
);

/// The signer of `tb`'s audit key, as `concord serve` loads it.
fn audit_signer(tb: &TestBroker) -> concord_audit::AuditSigner {
    let file = concord_keys::KeyFile::parse(
        &std::fs::read_to_string(&tb.pki.audit_key).unwrap(),
        "audit key",
    )
    .unwrap();
    concord_audit::AuditSigner::from_key_file(&file).unwrap()
}

// Issue 23, item 1: a writer whose view of the log is behind (another
// broker appended since) is not refused: on PostgreSQL it numbers its
// batch again under the database's audit lock, after what the other wrote
// and signed; on SQLite (one writer per file) the primary key refuses the
// stale batch and the writer re-reads and retries. Either way one chain,
// every batch signed, receipts against the signed heads.
both_stores!(a_writer_behind_the_log_appends_after_it, |db| async move {
    let tb = TestBroker::start(db).await;
    let other = concord_server::audit::AuditLog::start(
        tb.store.clone(),
        audit_signer(&tb),
        concord_server::audit::AuditConfig::default(),
    )
    .await
    .unwrap();
    for i in 0..3 {
        tb.broker
            .audit
            .append(test_event(&format!("u{i}"), []))
            .await
            .unwrap();
    }
    assert_eq!(other.size(), 0, "the other writer has not seen them");
    let late = other
        .append(test_event("late", []))
        .await
        .expect("a writer behind the log is not refused");
    assert_eq!((late.seq, late.tree_size), (3, 4));
    verify_inclusion(&late.leaf_hash, 3, 4, &late.proof, &late.root).unwrap();
    // And the first writer, now behind in its turn.
    let next = tb
        .broker
        .audit
        .append(test_event("next", []))
        .await
        .unwrap();
    assert_eq!((next.seq, next.tree_size), (4, 5));
    verify_inclusion(&next.leaf_hash, 4, 5, &next.proof, &next.root).unwrap();

    let log = stored_log(&tb).await;
    let report = verify_log(&log.events, &log.checkpoints, &tb.broker.audit.public_key())
        .expect("one chain, every batch signed");
    assert_eq!((report.events, report.anchored), (5, 5));
    let heads: BTreeSet<u64> = log.checkpoints.iter().map(|c| c.checkpoint.size).collect();
    assert_eq!(heads, BTreeSet::from([1, 2, 3, 4, 5]));
    let users: Vec<String> = events(&tb).await.into_iter().map(|e| e.user).collect();
    assert_eq!(users, ["u0", "u1", "u2", "late", "next"]);
    drop(other);
    tb.stop().await;
});

/// A lookup for person `p` (known or not: each is audited).
fn lookup_request(tb: &TestBroker, p: u32) -> v1::FindPersonRequest {
    v1::FindPersonRequest {
        tokens: vec![token(tb, KeyName::SnDob, p), token(tb, KeyName::FnDob, p)],
        purpose: "safeguarding_children".into(),
        case_ref: "MASH-2026-0042".into(),
        reason: String::new(),
    }
}

// Issue 23, item 1, end to end: two brokers on one PostgreSQL serve 1,000
// lookups each at the same time, with 0 refusals, and the log both wrote
// is one chain, every event covered by a head one of them signed.
pub mod two_brokers_serve_lookups_at_once_without_audit_refusals {
    use super::*;

    const PER_BROKER: u32 = 1_000;
    /// Lookups in flight at once through each broker.
    const STREAMS: u32 = 8;

    /// [`PER_BROKER`] lookups through `tb`, [`STREAMS`] at a time; the
    /// refusals.
    async fn serve_lookups(tb: &TestBroker) -> Vec<String> {
        let channel = tb.channel("mash-officer-1").await;
        let streams = (0..STREAMS).map(|s| {
            let mut client = v1::lookup_client::LookupClient::new(channel.clone());
            async move {
                let mut refused = Vec::new();
                for i in 0..PER_BROKER / STREAMS {
                    let p = (s * 131 + i) % 100;
                    if let Err(e) = client.find_person(lookup_request(tb, p)).await {
                        refused.push(format!("{:?}: {}", e.code(), e.message()));
                    }
                }
                refused
            }
        });
        futures::future::join_all(streams)
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        // The per-organisation limits (200/s) would refuse one MASH team's
        // 2,000 lookups on a fast machine: this is about the audit log's
        // refusals, so they are lifted (tests/limits.rs tests them).
        let limits = concord_server::Limits {
            org_requests_per_second: 1e9,
            org_burst: u32::MAX,
            org_max_concurrent: u32::MAX,
            ..concord_server::Limits::default()
        };
        let a = TestBroker::start_with(Db::Postgres, limits).await;
        let b = a.sibling().await;
        push(&a, POLICE, extract(&a, "oct-1", 0..50))
            .await
            .expect("accepted");
        let before = a.store.audit_size().await.unwrap();

        let (ra, rb) = tokio::join!(serve_lookups(&a), serve_lookups(&b));
        assert!(
            ra.is_empty(),
            "{} refused through the first: {:?}",
            ra.len(),
            &ra[..ra.len().min(3)]
        );
        assert!(
            rb.is_empty(),
            "{} refused through the second: {:?}",
            rb.len(),
            &rb[..rb.len().min(3)]
        );

        let log = stored_log(&a).await;
        let report = verify_log(&log.events, &log.checkpoints, &a.broker.audit.public_key())
            .expect("the shared log verifies");
        assert_eq!(report.events, before + 2 * u64::from(PER_BROKER));
        assert_eq!(report.anchored, report.events, "every event is signed for");
        let lookups = events(&a)
            .await
            .into_iter()
            .filter(|e| e.action == Action::Lookup)
            .count();
        assert_eq!(lookups, 2 * PER_BROKER as usize);
        b.stop().await;
        a.stop().await;
    }
}
