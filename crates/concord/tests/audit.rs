//! `concord audit` through the binary: a real `concord serve` audits the
//! pushes and signs a checkpoint when it stops; `audit verify` checks the
//! log offline, from the database or an export, with the key file or the
//! public verifier key alone, and names the first event that does not fit
//! after the database was tampered with.

mod common;

use std::path::Path;

use common::{Broker, concord, push, run};
use sqlx::Connection;

fn store(dir: &Path) -> String {
    format!("sqlite:{}", dir.join("data/concord.sqlite").display())
}

fn key(dir: &Path) -> String {
    dir.join("data/pki/keys/audit.json").display().to_string()
}

#[tokio::test]
async fn verify_checks_what_serve_wrote_and_names_a_deleted_event() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let broker = Broker::start(dir);
    assert!(broker.startup.contains("audit key:"), "{}", broker.startup);
    for id in ["t1", "t2", "t3", "t4"] {
        let (out, stdout, stderr) = push(dir, broker.port, "mps-cw-push", id);
        assert!(out.status.success(), "{stdout}{stderr}");
    }
    broker.stop();

    // Verified with the key file: every event is covered, since the broker
    // signed a checkpoint as it stopped.
    let (out, stdout, stderr) = run(concord(dir).args([
        "audit",
        "verify",
        "--store",
        &store(dir),
        "--key",
        &key(dir),
    ]));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("4 event(s)"), "{stdout}");
    assert!(
        stdout.contains("every event is covered by a signed checkpoint"),
        "{stdout}"
    );
    assert!(stdout.contains("last checkpoint: size 4"), "{stdout}");

    // With the public verifier key only, from an export.
    let (out, vkey, stderr) = run(concord(dir).args(["audit", "vkey", "--key", &key(dir)]));
    assert!(out.status.success(), "{stderr}");
    assert!(vkey.starts_with("concord-audit/ak-"), "{vkey}");
    let export = dir.join("audit.jsonl");
    let (out, _, stderr) = run(concord(dir)
        .args(["audit", "export", "--store", &store(dir), "--out"])
        .arg(&export));
    assert!(out.status.success(), "{stderr}");
    let (out, stdout, stderr) = run(concord(dir)
        .args(["audit", "verify", "--vkey", vkey.trim(), "--export"])
        .arg(&export));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("4 event(s)"), "{stdout}");

    // Someone with the database deletes event 1 (dropping the guard first).
    let mut c = concord_store::sqlite_connection(&store(dir)).await.unwrap();
    sqlx::raw_sql(
        "DROP TRIGGER audit_events_append_only_delete; DELETE FROM audit_events WHERE seq = 1",
    )
    .execute(&mut c)
    .await
    .unwrap();
    c.close().await.unwrap();
    let (out, stdout, stderr) = run(concord(dir).args([
        "audit",
        "verify",
        "--store",
        &store(dir),
        "--vkey",
        vkey.trim(),
    ]));
    assert!(!out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("first event that does not fit: 1"),
        "{stdout}"
    );
    assert!(stderr.contains("event 1 was deleted"), "{stderr}");

    // The exported copy still verifies: it is evidence of the original.
    let (out, stdout, stderr) = run(concord(dir)
        .args(["audit", "verify", "--vkey", vkey.trim(), "--export"])
        .arg(&export));
    assert!(out.status.success(), "{stdout}{stderr}");

    // And a broker refuses to start on the damaged log.
    let mut serve = concord(dir);
    serve
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("data"))
        .arg("--policy-dir")
        .arg(common::repo().join("policies"));
    let (out, stdout, stderr) = run(&mut serve);
    assert!(!out.status.success(), "{stdout}{stderr}");
    assert!(stderr.contains("concord audit verify"), "{stderr}");
}

// Issue 18, item 2, through the binary: with `serve` stopped, a row
// appended to `audit_events`, numbered and chained after the last event,
// is covered by no signed head (the broker signs every batch with its
// events). `audit verify` exits non-zero naming its position, and `serve`
// refuses to start over it, saying what to do.
#[tokio::test]
async fn a_forged_tail_fails_verify_and_serve_refuses_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let broker = Broker::start(dir);
    let (out, stdout, stderr) = push(dir, broker.port, "mps-cw-push", "t1");
    assert!(out.status.success(), "{stdout}{stderr}");
    broker.stop();

    let mut c = concord_store::sqlite_connection(&store(dir)).await.unwrap();
    let (seq, event): (i64, Vec<u8>) =
        sqlx::query_as("SELECT seq, event FROM audit_events ORDER BY seq DESC LIMIT 1")
            .fetch_one(&mut c)
            .await
            .unwrap();
    let mut forged = concord_audit::AuditEvent::decode(&event).unwrap();
    forged.seq = seq as u64 + 1;
    forged.prev = concord_audit::leaf_hash(&event);
    forged.user = "nobody-looked".into();
    let forged = forged.encode();
    sqlx::query("INSERT INTO audit_events (seq, leaf_hash, event, time) VALUES ($1, $2, $3, '2026-12-01T00:00:00Z')")
        .bind(seq + 1)
        .bind(concord_audit::leaf_hash(&forged).0.to_vec())
        .bind(forged)
        .execute(&mut c)
        .await
        .unwrap();
    c.close().await.unwrap();

    let n = seq + 1;
    let (out, stdout, stderr) = run(concord(dir).args([
        "audit",
        "verify",
        "--store",
        &store(dir),
        "--key",
        &key(dir),
    ]));
    assert!(!out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("first event that does not fit: {n}")),
        "{stdout}"
    );
    assert!(
        stderr.contains(&format!(
            "event {n}, the last, is covered by no signed checkpoint"
        )),
        "{stderr}"
    );

    let mut serve = concord(dir);
    serve
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("data"))
        .arg("--policy-dir")
        .arg(common::repo().join("policies"));
    let (out, stdout, stderr) = run(&mut serve);
    assert!(!out.status.success(), "{stdout}{stderr}");
    for part in [
        &format!("event {n}, the last, covered by no signed checkpoint"),
        "will not start and sign over them",
        "run `concord audit verify`",
    ] {
        assert!(stderr.contains(part), "{part:?} in {stderr}");
    }
}
