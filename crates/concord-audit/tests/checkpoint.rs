//! Signed checkpoints and the audit signing key.

mod common;

use chrono::{TimeZone, Utc};
use concord_audit::{
    AuditError, AuditSigner, Checkpoint, Hash, MerkleLog, SignedCheckpoint, leaf_hash,
};
use concord_keys::KeyFile;

fn log(n: u8) -> MerkleLog {
    MerkleLog::from_leaves((0..n).map(|i| leaf_hash(&[i])))
}

#[test]
fn the_signed_text_is_a_tlog_checkpoint() {
    let c = Checkpoint {
        size: 20,
        root: Hash([0xff; 32]),
        time: Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap(),
        key_id: "ak-2026a".into(),
    };
    assert_eq!(
        c.body(),
        "concord-audit/ak-2026a\n20\n//////////////////////////////////////////8=\ntime 2026-11-22T10:00:00Z\n"
    );
    assert_eq!(Checkpoint::parse_body(&c.body()).unwrap(), c);
    for bad in [
        c.body().replace("\n20\n", "\n020\n"),
        c.body().replace("ak-2026a", "AK 2026"),
        c.body().replace("concord-audit/", "other/"),
        c.body().replace("time ", "when "),
        c.body().replace("8=\n", "8\n"),
        c.body().trim_end().to_owned(),
        format!("{}extra\n", c.body()),
    ] {
        assert!(
            matches!(
                Checkpoint::parse_body(&bad),
                Err(AuditError::MalformedCheckpoint(_))
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn a_checkpoint_verifies_with_its_key_and_survives_the_note_form() {
    let signer = common::signer("ak-2026a");
    let log = log(13);
    let signed = signer.checkpoint(&log, common::at(0));
    assert_eq!(signed.checkpoint.size, 13);
    assert_eq!(signed.checkpoint.root, log.root());
    signed.verify(&signer.public_key()).unwrap();

    let note = signed.to_note();
    assert!(note.starts_with(&signed.checkpoint.body()));
    assert!(
        note.contains("\n\n\u{2014} concord-audit/ak-2026a "),
        "{note}"
    );
    let parsed = SignedCheckpoint::from_note(&note).unwrap();
    assert_eq!(parsed, signed);
    parsed.verify(&signer.public_key()).unwrap();

    // A witness's cosignature alongside ours is skipped, not refused.
    let cosigned = format!("{note}\u{2014} witness.example AAAA\n");
    assert_eq!(SignedCheckpoint::from_note(&cosigned).unwrap(), signed);
    // Without our signature line the note is refused.
    let body_only = format!(
        "{}\n\u{2014} witness.example AAAA\n",
        signed.checkpoint.body()
    );
    assert!(SignedCheckpoint::from_note(&body_only).is_err());
}

#[test]
fn an_altered_checkpoint_or_another_key_is_refused() {
    let signer = common::signer("ak-2026a");
    let signed = signer.checkpoint(&log(13), common::at(0));
    let pk = signer.public_key();

    let mut bigger = signed.clone();
    bigger.checkpoint.size = 14;
    assert_eq!(bigger.verify(&pk), Err(AuditError::BadSignature));
    let mut other_root = signed.clone();
    other_root.checkpoint.root = log(12).root();
    assert_eq!(other_root.verify(&pk), Err(AuditError::BadSignature));
    let mut later = signed.clone();
    later.checkpoint.time = common::at(1);
    assert_eq!(later.verify(&pk), Err(AuditError::BadSignature));
    let mut bad_sig = signed.clone();
    bad_sig.signature[10] ^= 1;
    assert_eq!(bad_sig.verify(&pk), Err(AuditError::BadSignature));

    // Another key, even one claiming the same id.
    let impostor = common::signer("ak-2026a");
    let forged = impostor.checkpoint(&log(13), common::at(0));
    assert!(matches!(
        forged.verify(&pk),
        Err(AuditError::WrongKey { .. })
    ));
    let other = common::signer("ak-2026b");
    let theirs = other.checkpoint(&log(13), common::at(0));
    assert!(matches!(
        theirs.verify(&pk),
        Err(AuditError::WrongKey { .. })
    ));
    // Copying our key hash onto their signature does not help.
    let mut spliced = theirs.clone();
    spliced.checkpoint.key_id = "ak-2026a".into();
    spliced.key_hash = signed.key_hash;
    assert_eq!(spliced.verify(&pk), Err(AuditError::BadSignature));
    // A checkpoint cannot be signed by a key other than the one it names.
    let c = Checkpoint::of(&log(3), common::at(0), "ak-2026b");
    assert!(matches!(
        c.sign(&signer),
        Err(AuditError::KeyMismatch { .. })
    ));
}

#[test]
fn the_signer_loads_from_an_audit_key_file_and_never_prints_it() {
    let json = common::key_file_json("ak-2026a");
    let file = KeyFile::parse(&json, "keys/audit.json").unwrap();
    let signer = AuditSigner::from_key_file(&file).unwrap();
    assert_eq!(signer.key_id(), "ak-2026a");
    let shown = format!("{signer:?}");
    assert!(shown.contains("ak-2026a"));
    let pkcs8_hex = json.split('"').nth(11).unwrap();
    assert!(!shown.contains(&pkcs8_hex[..16]), "{shown}");

    // vkey: name+keyhash+base64(0x01 ‖ key), what note verifiers take.
    let vkey = signer.vkey();
    let parts: Vec<&str> = vkey.split('+').collect();
    assert_eq!(parts[0], "concord-audit/ak-2026a");
    let signed = signer.checkpoint(&log(2), common::at(0));
    assert_eq!(parts[1], hex::encode(signed.key_hash));

    // The wrong kind of key, or a secret that is not PKCS#8.
    let broker = KeyFile::parse(
        r#"{"kind":"broker","key_id":"bk-2026a","secret_hex":"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"}"#,
        "broker.json",
    )
    .unwrap();
    let err = AuditSigner::from_key_file(&broker).unwrap_err();
    assert_eq!(
        err.to_string(),
        "audit key bk-2026a is not an audit_signing key"
    );
    let junk = KeyFile::parse(
        r#"{"kind":"audit_signing","key_id":"ak-2026a","pkcs8_hex":"00010203"}"#,
        "audit.json",
    )
    .unwrap();
    let err = AuditSigner::from_key_file(&junk).unwrap_err();
    assert_eq!(
        err.to_string(),
        "audit key ak-2026a is not an Ed25519 PKCS#8 v2 document"
    );
}
