//! `concord keys rotate` end to end: the stored pseudonyms change, and a
//! re-push of the same tokens after the rotation lands on exactly the
//! rotated pseudonyms (so linkage and lookups keep working).

mod common;

use std::path::Path;

use common::{Broker, concord, push, repo, run};
use concord_core::Source;
use concord_store::{Store, StoreOptions};

async fn pseudonyms(dir: &Path) -> (Vec<(Vec<u8>, Vec<u8>)>, Vec<(String, i64)>) {
    let url = format!("sqlite:{}", dir.join("data/concord.sqlite").display());
    let store = Store::connect(&url, &StoreOptions::default())
        .await
        .unwrap();
    let p = store.stored_pseudonyms(Source::Police).await.unwrap();
    let ids = store.broker_key_ids().await.unwrap();
    store.close().await;
    (p, ids)
}

#[tokio::test]
async fn rotation_rekeys_what_is_stored_and_later_pushes_agree() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let broker = Broker::start(dir);
    let (out, stdout, stderr) = push(dir, broker.port, "mps-cw-push", "t1");
    assert!(out.status.success(), "{stdout}{stderr}");
    broker.stop();
    let (before, ids) = pseudonyms(dir).await;
    assert_eq!(before.len(), 5);
    let old_id = ids[0].0.clone();

    let (out, stdout, stderr) = run(concord(dir)
        .args(["keys", "rotate", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("data"))
        .arg("--policy-dir")
        .arg(repo().join("policies")));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("re-keyed 5 stored record(s)"), "{stdout}");
    let (rotated, ids) = pseudonyms(dir).await;
    assert_eq!(ids.len(), 1);
    assert_ne!(ids[0].0, old_id, "the records are under the new key id");
    assert_ne!(rotated, before, "every pseudonym changed");
    let key_file = std::fs::read_to_string(dir.join("data/pki/keys/broker.json")).unwrap();
    assert!(
        key_file.contains("\"previous\""),
        "the key file chains the layers"
    );
    assert!(!dir.join("data/pki/keys/broker.json.next").exists());

    // The same tokens pushed again land on exactly the rotated pseudonyms.
    let broker = Broker::start(dir);
    let (out, stdout, stderr) = push(dir, broker.port, "mps-cw-push", "t2");
    assert!(out.status.success(), "{stdout}{stderr}");
    broker.stop();
    let (after, _) = pseudonyms(dir).await;
    assert_eq!(after, rotated);
}
